/**
 * pad-channel: when Kafka lost the end of a channel's partition (seed 000), produce CONNECT messages until the
 * partition reaches the offset the orderers resume at, then (optionally) restart them instead of waiting for
 * their next retry (up to 5 minutes in the long retry window).
 *
 * CONNECT (`1a 00`, key "0", partition 0) is the only safe filler: every orderer ignores it ("It's a connect
 * message - ignoring"); bytes that do not parse are skipped with a CRITICAL log line, and bytes that happen to
 * parse as TIME_TO_CUT stop the channel for good. Padding fixes only the offset arithmetic: the orderers must
 * agree, or the ones behind would skip messages they never saw.
 */
import type {
  ClusterSnapshot,
  OrdererChannelPosition,
  Precondition,
  RepairPlan,
  RepairStep,
} from '../model/index.js';
import { offsetsProblem } from '../checks/sources.js';
import { encodeConnectMessage, toHex } from '../fabric/protos.js';
import { channelProblem, refuseArguments } from './args.js';

export const CONNECT_HEX = toHex(encodeConnectMessage());

export interface PadChannelOptions {
  /** Refuse when more messages than this would be needed (inventory repairs.padMaxMessages). */
  padMaxMessages: number;
  /** Orderer name -> container running it, for the optional restart steps. */
  ordererContainers?: Record<string, string>;
}

function names(list: readonly string[]): string {
  if (list.length <= 1) return list.join('');
  return `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

interface PartitionView {
  leader: number | null;
  isr: number[];
  replicas: number[];
  leaderAlive: boolean | null;
  from: string;
}

/** Leader and ISR of <channel>/0: ZooKeeper's state (with /brokers/ids for liveness), else the brokers' metadata. */
function partitionView(snapshot: ClusterSnapshot, topic: string): PartitionView | null {
  const zk = snapshot.zookeeper;
  const st = zk?.partitions.find((p) => p.topic === topic && p.partition === 0);
  if (zk && st) {
    const leader = st.leader === null || st.leader < 0 ? null : st.leader;
    const registered = new Set(zk.brokers.map((b) => b.id));
    return {
      leader,
      isr: st.isr,
      replicas: st.replicas,
      leaderAlive: leader === null ? false : registered.has(leader),
      from: 'ZooKeeper',
    };
  }
  for (const v of snapshot.kafka?.views ?? []) {
    if (!v.ok) continue;
    const mp = v.partitions?.find((p) => p.topic === topic && p.partition === 0);
    if (!mp) continue;
    const leader = mp.leader < 0 || mp.errorCode === 5 ? null : mp.leader;
    return {
      leader,
      isr: mp.isr,
      replicas: mp.replicas,
      leaderAlive: leader === null ? false : mp.errorCode === 0,
      from: `broker ${v.brokerId ?? v.address}'s metadata`,
    };
  }
  return null;
}

/** min.insync.replicas of the topic: topic config, ZooKeeper override, leader's broker config, any broker, Kafka's default 1. */
function minIsrOf(
  snapshot: ClusterSnapshot,
  topic: string,
  leader: number | null,
): { value: number; from: string } {
  const kafka = snapshot.kafka;
  const zk = snapshot.zookeeper;
  const key = 'min.insync.replicas';
  const t = num(kafka?.topicConfigs[topic]?.[key]);
  if (t !== undefined) return { value: t, from: `topic ${topic}` };
  const z = num(zk?.topicConfigs[topic]?.[key]);
  if (z !== undefined) return { value: z, from: `topic ${topic} (ZooKeeper override)` };
  if (leader !== null) {
    const b =
      num(kafka?.brokerConfigs[String(leader)]?.[key]) ??
      num(zk?.brokerConfigOverrides[String(leader)]?.[key]);
    if (b !== undefined) return { value: b, from: `broker ${leader}` };
  }
  for (const [id, cfg] of Object.entries(kafka?.brokerConfigs ?? {}).sort(
    ([a], [b]) => Number(a) - Number(b),
  )) {
    const b = num(cfg[key]);
    if (b !== undefined) return { value: b, from: `broker ${id}` };
  }
  const d = num(zk?.brokerConfigOverrides['<default>']?.[key]);
  if (d !== undefined) return { value: d, from: 'cluster default (ZooKeeper)' };
  return { value: 1, from: "Kafka's default (no config read)" };
}

export function planPadChannel(
  snapshot: ClusterSnapshot,
  clusterName: string,
  channel: string,
  opts: PadChannelOptions,
): RepairPlan {
  const badArgs = refuseArguments('pad-channel', clusterName, { channel }, [channelProblem(channel)]);
  if (badArgs) return badArgs;
  const preconditions: Precondition[] = [];
  const check = (name: string, ok: boolean, detail: string): boolean => {
    preconditions.push({ check: name, ok, detail });
    return ok;
  };

  // ---- the orderers agree on the offset
  const positions: OrdererChannelPosition[] = (snapshot.orderers?.positions ?? []).filter(
    (p) => p.channel === channel,
  );
  const unknown = positions.filter((p) => p.source === null);
  const known = positions.filter((p) => p.source !== null);
  const distinct = [...new Set(known.map((p) => p.expectedStartOffset))];
  let expected: number | null = null;
  if (positions.length === 0) {
    check(
      'orderers agree',
      false,
      `no orderer position known for ${channel} (orderers not read, or none serves it)`,
    );
  } else if (unknown.length > 0) {
    check(
      'orderers agree',
      false,
      `${names(unknown.map((p) => p.orderer))} could not be read: cannot confirm every orderer expects the same offset`,
    );
  } else if (distinct.length > 1) {
    const detail = known
      .map(
        (p) =>
          `${p.orderer} expects ${p.expectedStartOffset === null ? 'the oldest offset' : p.expectedStartOffset}`,
      )
      .join(', ');
    check('orderers agree', false, `orderers disagree: ${detail}`);
  } else if (distinct[0] === null || distinct[0] === undefined) {
    check(
      'orderers agree',
      false,
      `no orderer has persisted a Kafka offset for ${channel}: nothing to pad to`,
    );
  } else {
    expected = distinct[0];
    const heights = [...new Set(known.map((p) => p.blockHeight).filter((h) => h !== undefined))];
    check(
      'orderers agree',
      true,
      `${known.length === 1 ? '1 orderer expects' : `${known.length} orderers expect`} offset ${expected}` +
        (heights.length === 1 ? ` (height ${heights[0]})` : ''),
    );
  }

  // ---- the partition has a live leader; ISR >= min.insync.replicas
  const pv = partitionView(snapshot, channel);
  if (!pv) {
    check(
      'partition has a live leader',
      false,
      `${channel}/0 not found in ZooKeeper or any broker's metadata`,
    );
    check('ISR >= min.insync.replicas', false, `${channel}/0 unknown`);
  } else {
    check(
      'partition has a live leader',
      pv.leader !== null && pv.leaderAlive === true,
      pv.leader === null
        ? `${channel}/0 has no leader (${pv.from})`
        : pv.leaderAlive
          ? `${channel}/0 leader is broker ${pv.leader} (${pv.from})`
          : `${channel}/0 leader broker ${pv.leader} is not registered in /brokers/ids`,
    );
    const minIsr = minIsrOf(snapshot, channel, pv.leader);
    check(
      'ISR >= min.insync.replicas',
      pv.isr.length >= minIsr.value,
      `ISR [${pv.isr.join(',')}] has ${pv.isr.length} of ${pv.replicas.length} replicas, ` +
        `min.insync.replicas = ${minIsr.value} (${minIsr.from})`,
    );
  }

  // ---- the gap
  const offsets = snapshot.kafka?.offsets.find((o) => o.topic === channel && o.partition === 0);
  const hw = offsets?.highWatermark;
  const impossible = offsets ? offsetsProblem(offsets) : undefined;
  let gap: number | null = null;
  if (impossible !== undefined) {
    // Padding to a count computed from offsets that cannot be true could write thousands of messages too many.
    check('gap > 0', false, `Kafka's offsets of ${channel}/0 cannot be true: ${impossible.why}`);
  } else if (hw === undefined) {
    check(
      'gap > 0',
      false,
      `high watermark of ${channel}/0 unknown${offsets?.error ? `: ${offsets.error}` : ''}`,
    );
  } else if (expected === null) {
    check('gap > 0', false, `high watermark is ${hw}; no agreed expected offset to compare with`);
  } else if (!Number.isSafeInteger(expected) || expected < 0) {
    check(
      'gap > 0',
      false,
      `the orderers' expected offset ${expected} is not an offset (a whole number, 0 or more)`,
    );
  } else {
    gap = expected - hw;
    check(
      'gap > 0',
      gap > 0,
      gap > 0
        ? `high watermark ${hw}, orderers expect ${expected}: ${gap} missing`
        : `high watermark ${hw} is already at or past the expected offset ${expected}: nothing to pad`,
    );
  }
  if (gap !== null && gap > 0) {
    check(
      'gap <= padMaxMessages',
      gap <= opts.padMaxMessages,
      `${gap} messages to produce; the limit (repairs.padMaxMessages) is ${opts.padMaxMessages}`,
    );
  } else {
    check('gap <= padMaxMessages', false, 'no positive gap to compare');
  }

  const failed = preconditions.filter((p) => !p.ok);
  const refusal =
    failed.length > 0 ? `refused: ${failed.map((p) => `${p.check} - ${p.detail}`).join('; ')}` : null;

  const steps: RepairStep[] = [];
  if (refusal === null && gap !== null && expected !== null) {
    steps.push({ action: 'produce', topic: channel, partition: 0, count: gap, value: CONNECT_HEX, key: '0' });
    const stuck = positions.filter(
      (p) => p.expectedStartOffset !== null && hw !== undefined && p.expectedStartOffset > hw,
    );
    for (const p of [...stuck].sort((a, b) => a.orderer.localeCompare(b.orderer))) {
      const container = opts.ordererContainers?.[p.orderer];
      if (container !== undefined) steps.push({ action: 'restart-container', container, optional: true });
    }
  }

  return {
    kind: 'pad-channel',
    cluster: clusterName,
    args: { channel },
    preconditions,
    steps,
    expected: expected !== null ? { highWatermark: expected } : {},
    rollback:
      `cannot be undone: Kafka cannot remove messages from the end of a partition, so the CONNECT messages stay ` +
      `in ${channel}/0 for good (harmless: every orderer ignores CONNECT messages).`,
    refusal,
  };
}
