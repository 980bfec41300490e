/**
 * Partition state from ZooKeeper: PARTITION_OFFLINE, UNDER_MIN_ISR, AT_MIN_ISR, UNDER_REPLICATED (the worst one
 * per partition) and SINGLE_REPLICA (per topic). Needs ZooKeeper: without it nothing is reported here.
 *
 * Liveness is registration in /brokers/ids. An ISR member that is not registered is counted out of sync (its
 * leader will drop it within replica.lag.time.max.ms); the raw ISR stays in the evidence.
 */
import type {
  ClusterSnapshot,
  Finding,
  FindingCode,
  RepairSuggestion,
  ZkPartitionState,
} from '../model/index.js';
import { indexSnapshot, type CheckContext, type SnapshotIndex } from './context.js';
import { preferredLeaderElection, raiseReplication, restartBroker, setTopicConfig } from './repairs.js';
import { andList, brokers, idList, orList, plural, tp, uniqSorted } from './words.js';

/** More partitions than this with the same code in one topic are reported as one finding for the topic. */
export const COLLAPSE_AT = 10;

const WRITE_REJECTED = '"Messages are rejected since there are fewer in-sync replicas than required"';

export interface PartitionFacts {
  p: ZkPartitionState;
  rf: number;
  leaderLive: boolean;
  /** ISR members that are registered (and assigned), without duplicates, in ISR order. */
  liveIsr: number[];
  deadReplicas: number[];
  /** Replica or ISR ids no source knows of (not in the inventory, not registered, not in any metadata). */
  unknownIds: number[];
  minIsr: number | null;
  channel: boolean;
}

export function partitionFacts(ix: SnapshotIndex, p: ZkPartitionState): PartitionFacts {
  const leaderLive = p.leader !== null && p.leader >= 0 && ix.isLive(p.leader);
  // In-sync replicas that are up. An ISR id outside the assignment is ZooKeeper inconsistency (reported as
  // METADATA_DIVERGENCE) and does not count as a replica here.
  const assigned = new Set(p.replicas);
  const liveIsr = [...new Set(p.isr)].filter(
    (id) => ix.isLive(id) && (assigned.size === 0 || assigned.has(id)),
  );
  const deadReplicas = p.replicas.filter((id) => !ix.isLive(id));
  const known = (id: number): boolean => ix.knownBrokerIds.has(id);
  const unknownIds =
    p.replicas.every(known) && p.isr.every(known)
      ? []
      : uniqSorted([...p.replicas, ...p.isr].filter((id) => !known(id)));
  return {
    p,
    rf: p.replicas.length,
    leaderLive,
    liveIsr,
    deadReplicas,
    unknownIds,
    minIsr: ix.minIsr(p),
    channel: ix.channels.has(p.topic),
  };
}

function baseEvidence(f: PartitionFacts): Record<string, unknown> {
  return {
    leader: f.p.leader,
    replicas: f.p.replicas,
    isr: f.p.isr,
    minIsr: f.minIsr,
    ...(f.deadReplicas.length > 0 ? { downReplicas: f.deadReplicas } : {}),
    ...(f.unknownIds.length > 0 ? { unknownBrokers: f.unknownIds } : {}),
  };
}

function unknownNote(f: PartitionFacts): string {
  return f.unknownIds.length === 0
    ? ''
    : ` ${f.unknownIds.length === 1 ? 'Broker' : 'Brokers'} ${andList(f.unknownIds)} ` +
        `${f.unknownIds.length === 1 ? 'is' : 'are'} not in the inventory nor registered: a reassignment to a ` +
        'wrong id? Reassign those replicas to existing brokers.';
}

/** Repairs for an offline partition (also used for collapsed groups, without building the finding). */
function offlineRepairs(ix: SnapshotIndex, f: PartitionFacts): RepairSuggestion[] {
  const { p } = f;
  if (p.leader === null) return f.deadReplicas.map((id) => restartBroker(ix, id));
  if (f.rf === 1) return [restartBroker(ix, p.replicas[0]!), raiseReplication(p.topic)];
  if (p.replicas.some((id) => f.liveIsr.includes(id))) return [preferredLeaderElection(p.topic, p.partition)];
  if (p.isr.length === 0) return f.deadReplicas.map((id) => restartBroker(ix, id));
  return p.isr.filter((id) => !ix.isLive(id)).map((id) => restartBroker(ix, id));
}

function outOfSyncRepairs(ix: SnapshotIndex, f: PartitionFacts): RepairSuggestion[] {
  return outOfSync(ix, f).down.map((id) => restartBroker(ix, id));
}

function offline(ix: SnapshotIndex, f: PartitionFacts): Finding {
  const { p } = f;
  const name = tp(p.topic, p.partition);
  const repairs = offlineRepairs(ix, f);
  const deadIsr = p.isr.filter((id) => !ix.isLive(id));
  let summary: string;
  let explanation: string;
  const who = f.channel
    ? `Orderers cannot write to or read channel ${p.topic}`
    : 'Nothing can be produced to it';

  if (p.leader === null) {
    summary = `${name} has no partition state in ZooKeeper: no leader was ever elected`;
    explanation =
      `/brokers/topics/${p.topic}/partitions/${p.partition}/state is missing: the controller never finished ` +
      `creating the partition (no controller, or it cannot reach the replicas ${idList(p.replicas)}). ${who}.`;
  } else if (f.rf === 1) {
    const only = p.replicas[0]!;
    summary =
      `${name} is offline: its only replica, broker ${only}, is ${ix.isLive(only) ? 'not leading' : 'down'} ` +
      '(replication factor 1)';
    explanation =
      `With one replica there is no failover: ${name} stays offline until broker ${only} returns with its ` +
      `data. ${who}. Start broker ${only}; afterwards raise the replication factor to 3. Moving a broker's ` +
      'partitions off it (drain-broker) before stopping it avoids this (seed 002).';
  } else {
    const candidates = p.replicas.filter((id) => f.liveIsr.includes(id));
    const leaderText =
      p.leader < 0 ? 'no leader (-1)' : `leader ${p.leader}${ix.isLive(p.leader) ? '' : ', which is down'}`;
    if (candidates.length > 0) {
      // A live in-sync replica exists but none leads: the controller did not run the election.
      summary =
        `${name} has ${leaderText} although in-sync ${brokers(candidates)} ` +
        `${candidates.length === 1 ? 'is' : 'are'} up: no leader was elected`;
      explanation =
        `Kafka would elect broker ${candidates[0]} (first live in-sync replica in assignment order). That it ` +
        'did not means the controller is missing, stuck or cannot reach the brokers (seed 001). ' +
        `${who}. Check the controller (its controller.log), then trigger an election.`;
    } else if (p.isr.length === 0) {
      summary = `${name} has ${leaderText} and an empty ISR: no replica is known to hold every committed message`;
      explanation =
        `${who}. With unclean.leader.election.enable=false (as Fabric requires) no replica can be elected. Bring ` +
        `back the replicas ${idList(p.replicas)}; choosing one by hand risks rewriting the chain.`;
    } else if (deadIsr.length === 0) {
      summary = `${name} has ${leaderText} and its ISR ${idList(p.isr)} holds none of its replicas ${idList(p.replicas)}`;
      explanation =
        `${who}. ZooKeeper's partition state is inconsistent (see METADATA_DIVERGENCE): no assigned replica ` +
        'is known to be in sync, so none can be elected cleanly.';
    } else {
      const liveOut = p.replicas.filter((id) => ix.isLive(id));
      summary =
        `${name} is offline: ${leaderText}; its in-sync ${brokers(deadIsr)} ` +
        `${deadIsr.length === 1 ? 'is' : 'are'} down`;
      explanation =
        `Only an in-sync replica may become leader, and the last ISR ${idList(p.isr)} is down` +
        (liveOut.length > 0
          ? `; live ${brokers(liveOut)} ${liveOut.length === 1 ? 'is' : 'are'} out of sync`
          : '') +
        `. ${who} until ${brokers(deadIsr)} ` +
        `${deadIsr.length === 1 ? 'returns' : 'return (any one)'}. Unclean ` +
        'election would bring it back with lost messages and must stay off for Fabric.';
    }
  }
  return {
    code: 'PARTITION_OFFLINE',
    severity: 'critical',
    subject: { topic: p.topic, partition: p.partition },
    summary,
    explanation: explanation + unknownNote(f),
    evidence: baseEvidence(f),
    repairs,
  };
}

/** Out-of-sync replicas, down ones first: the brokers that must come back. */
function outOfSync(ix: SnapshotIndex, f: PartitionFacts): { down: number[]; lagging: number[] } {
  const out = f.p.replicas.filter((id) => !f.liveIsr.includes(id));
  return { down: out.filter((id) => !ix.isLive(id)), lagging: out.filter((id) => ix.isLive(id)) };
}

function outText(o: { down: number[]; lagging: number[] }): string {
  const parts: string[] = [];
  if (o.down.length > 0) parts.push(`${brokers(o.down)} down`);
  if (o.lagging.length > 0) parts.push(`${brokers(o.lagging)} lagging`);
  return parts.join(', ');
}

/** min.insync.replicas above what the partition can ever have in sync: a config error, not a failure. */
function unreachableMinIsr(f: PartitionFacts, minIsr: number): boolean {
  return f.rf < minIsr;
}

function underMinRepairs(ix: SnapshotIndex, f: PartitionFacts, minIsr: number): RepairSuggestion[] {
  if (!unreachableMinIsr(f, minIsr)) return outOfSyncRepairs(ix, f);
  const fixes = [raiseReplication(f.p.topic)];
  if (f.rf >= 3) fixes.push(setTopicConfig(f.p.topic, 'min.insync.replicas', String(f.rf - 1)));
  return [...outOfSyncRepairs(ix, f), ...fixes];
}

function underMinIsr(ix: SnapshotIndex, f: PartitionFacts, minIsr: number): Finding {
  const { p } = f;
  const name = tp(p.topic, p.partition);
  const o = outOfSync(ix, f);
  const missing = minIsr - f.liveIsr.length;
  const producers = f.channel
    ? 'Every Fabric orderer produces with acks=all, so orderers get'
    : 'Producers with acks=all get';
  const rejected =
    `${producers} ${WRITE_REJECTED} (NOT_ENOUGH_REPLICAS)` +
    (f.channel ? `: channel ${p.topic} cannot order transactions; reads still work` : '') +
    '. ';
  let advice: string;
  if (unreachableMinIsr(f, minIsr)) {
    advice =
      `min.insync.replicas (${minIsr}) is above the replication factor (${f.rf}): even with every replica ` +
      'in sync, acks=all writes can never succeed here. Raise the replication factor' +
      (f.rf >= 3 ? `, or set min.insync.replicas=${f.rf - 1} on the topic` : '') +
      ' (Fabric: 1 < min.insync.replicas < replication factor).';
  } else {
    const starts =
      o.down.length === 0
        ? ''
        : missing < o.down.length
          ? `start ${missing === 1 ? 'one' : missing} of ${brokers(o.down)}`
          : `start ${brokers(o.down)}`;
    const catchUp =
      o.lagging.length === 0
        ? ''
        : `let ${brokers(o.lagging)} catch up (check replica fetcher errors in its log)`;
    advice =
      `${missing === 1 ? 'One more replica' : `${missing} more replicas`} must be back in sync: ` +
      [starts, catchUp].filter((x) => x !== '').join(', or ') +
      '. Do not lower min.insync.replicas to get writes through.';
  }
  return {
    code: 'UNDER_MIN_ISR',
    severity: 'critical',
    subject: { topic: p.topic, partition: p.partition },
    summary:
      `${name} has ${plural(f.liveIsr.length, 'in-sync replica')}` +
      (f.liveIsr.length > 0 ? ` (${brokers(f.liveIsr)})` : '') +
      ` but min.insync.replicas is ${minIsr}: acks=all writes are rejected` +
      (o.down.length + o.lagging.length > 0
        ? ` (${outText(o)})`
        : unreachableMinIsr(f, minIsr)
          ? ` (replication factor ${f.rf})`
          : ''),
    explanation: rejected + advice + unknownNote(f),
    evidence: { ...baseEvidence(f), inSync: f.liveIsr, replicationFactor: f.rf },
    repairs: underMinRepairs(ix, f, minIsr),
  };
}

function atMinIsr(ix: SnapshotIndex, f: PartitionFacts, minIsr: number): Finding {
  const { p } = f;
  const name = tp(p.topic, p.partition);
  const o = outOfSync(ix, f);
  return {
    code: 'AT_MIN_ISR',
    severity: 'warning',
    subject: { topic: p.topic, partition: p.partition },
    summary:
      `${name} is at its minimum: ${f.liveIsr.length} of ${f.rf} replicas in sync (${brokers(f.liveIsr)}), ` +
      `min.insync.replicas ${minIsr}; losing ${f.liveIsr.length === 1 ? `broker ${f.liveIsr[0]}` : `broker ${orList(f.liveIsr)}`} blocks writes`,
    explanation:
      `Out of sync: ${outText(o)}. Writes still succeed, but one more loss makes acks=all producers` +
      (f.channel ? ' (the orderers)' : '') +
      ` fail with ${WRITE_REJECTED}. Bring the out-of-sync replicas back before any maintenance on ` +
      `${brokers(f.liveIsr)}.` +
      unknownNote(f),
    evidence: { ...baseEvidence(f), inSync: f.liveIsr },
    repairs: outOfSyncRepairs(ix, f),
  };
}

function underReplicated(ix: SnapshotIndex, f: PartitionFacts): Finding {
  const { p } = f;
  const name = tp(p.topic, p.partition);
  const o = outOfSync(ix, f);
  const outIds = [...o.down, ...o.lagging].sort((a, b) => a - b);
  return {
    code: 'UNDER_REPLICATED',
    severity: 'warning',
    subject: { topic: p.topic, partition: p.partition },
    summary:
      `${name} has ${f.liveIsr.length} of ${f.rf} replicas in sync ` +
      `(${outIds.length === 1 ? 'broker' : 'brokers'} ${andList(outIds)} out${o.down.length > 0 ? `; ${brokers(o.down)} down` : ''})`,
    explanation:
      'Writes still succeed' +
      (f.minIsr !== null ? ` (min.insync.replicas ${f.minIsr})` : '') +
      ', but the partition has less margin. A replica that is up but stays out of sync is lagging: check its ' +
      'log for replica fetcher errors, its disk and the network to the leader.' +
      unknownNote(f),
    evidence: { ...baseEvidence(f), inSync: f.liveIsr },
    repairs: outOfSyncRepairs(ix, f),
  };
}

type Kind = 'offline' | 'underMin' | 'atMin' | 'under';

const KIND_CODE: Record<Kind, FindingCode> = {
  offline: 'PARTITION_OFFLINE',
  underMin: 'UNDER_MIN_ISR',
  atMin: 'AT_MIN_ISR',
  under: 'UNDER_REPLICATED',
};

/** The worst state of a partition, or null when it is fine. */
function classify(f: PartitionFacts): Kind | null {
  if (!f.leaderLive) return 'offline';
  if (f.minIsr !== null && f.liveIsr.length < f.minIsr) return 'underMin';
  if (f.minIsr !== null && f.liveIsr.length === f.minIsr && f.liveIsr.length < f.rf) return 'atMin';
  if (f.liveIsr.length < f.rf) return 'under';
  return null;
}

function build(ix: SnapshotIndex, f: PartitionFacts, kind: Kind): Finding {
  switch (kind) {
    case 'offline':
      return offline(ix, f);
    case 'underMin':
      return underMinIsr(ix, f, f.minIsr!);
    case 'atMin':
      return atMinIsr(ix, f, f.minIsr!);
    case 'under':
      return underReplicated(ix, f);
  }
}

export function partitionStateChecks(snapshot: ClusterSnapshot, ctx: CheckContext = {}): Finding[] {
  const ix = indexSnapshot(snapshot, ctx);
  if (ix.registered === null) return [];
  const pending: Pending[] = [];
  const singleByTopic = new Map<string, { facts: PartitionFacts[]; offline: number }>();

  for (const p of ix.partitions) {
    const f = partitionFacts(ix, p);
    const kind = classify(f);
    if (kind !== null) {
      pending.push({
        code: KIND_CODE[kind],
        topic: p.topic,
        partition: p.partition,
        build: () => build(ix, f, kind),
        repairs: () =>
          kind === 'offline'
            ? offlineRepairs(ix, f)
            : kind === 'underMin'
              ? underMinRepairs(ix, f, f.minIsr!)
              : outOfSyncRepairs(ix, f),
      });
    }
    if (f.rf === 1) {
      let s = singleByTopic.get(p.topic);
      if (!s) singleByTopic.set(p.topic, (s = { facts: [], offline: 0 }));
      s.facts.push(f);
      if (!f.leaderLive) s.offline++;
    }
  }

  const findings = collapse(pending, ix.channels);
  for (const [topic, s] of singleByTopic) {
    // Every RF=1 partition of the topic is already reported offline, with the same advice: no repeat.
    if (s.offline === s.facts.length) continue;
    const total = ix.topics.get(topic)?.length ?? s.facts.length;
    const placement = s.facts
      .slice(0, 5)
      .map((f) => `${f.p.partition} on broker ${f.p.replicas[0] ?? '?'}`)
      .join(', ');
    const channel = ix.channels.has(topic);
    findings.push({
      code: 'SINGLE_REPLICA',
      severity: 'warning',
      subject: { topic },
      summary:
        `${topic} has replication factor 1` +
        (s.facts.length < total ? ` on ${s.facts.length} of ${total} partitions` : '') +
        ` (partition ${placement}${s.facts.length > 5 ? ', ...' : ''}): no failover possible`,
      explanation:
        'If that broker stops or its disk fails, the partition goes offline and stays offline until the broker ' +
        'returns (seed 002)' +
        (channel ? `, and channel ${topic} stops` : '') +
        '. Raise the replication factor to 3; until then, move the partition off a broker (drain-broker) ' +
        'before stopping it.',
      evidence: {
        partitions: s.facts.map((f) => ({ partition: f.p.partition, replicas: f.p.replicas })),
        replicationFactor: 1,
      },
      repairs: [raiseReplication(topic)],
    });
  }
  return findings;
}

/**
 * A partition finding not built yet: with thousands of partitions in one state, only the few shown as
 * examples are built (the rest are counted, and their repairs merged).
 */
export interface Pending {
  code: FindingCode;
  topic: string;
  partition: number;
  build(): Finding;
  /** The repairs build() would attach, without building the rest. */
  repairs(): RepairSuggestion[];
}

/** A finding already built, as a Pending. */
export function pendingOf(f: Finding): Pending {
  return {
    code: f.code,
    topic: f.subject.topic ?? '',
    partition: f.subject.partition ?? -1,
    build: () => f,
    repairs: () => f.repairs,
  };
}

/** More topics than this (not channels) with the same code are reported as one finding for the cluster. */
export const COLLAPSE_TOPICS_AT = 20;

function mergedRepairs(lists: Iterable<readonly RepairSuggestion[]>): RepairSuggestion[] {
  const repairs = new Map<string, RepairSuggestion>();
  for (const list of lists) for (const r of list) repairs.set(`${r.kind}:${JSON.stringify(r.args)}`, r);
  return [...repairs.values()].slice(0, 10);
}

/** The first partition-level summary behind a (possibly collapsed) finding. */
function exampleOf(f: Finding): string {
  const examples = f.evidence['examples'];
  if (Array.isArray(examples)) {
    const first: unknown = examples[0];
    if (
      typeof first === 'object' &&
      first !== null &&
      'summary' in first &&
      typeof first.summary === 'string'
    ) {
      return first.summary;
    }
  }
  return f.summary;
}

function partitionsIn(f: Finding): number {
  const n = f.evidence['count'];
  return typeof n === 'number' ? n : 1;
}

/**
 * Keep thousands of partitions readable: more than COLLAPSE_AT partitions of one topic with the same code become
 * one finding for the topic; then more than COLLAPSE_TOPICS_AT such topics (channels excepted: each channel
 * stays on its own) become one finding for the cluster.
 */
export function collapse(pending: readonly Pending[], channels: ReadonlySet<string>): Finding[] {
  const groups = new Map<string, Pending[]>();
  for (const f of pending) {
    const key = `${f.code}\u0000${f.topic}`;
    const list = groups.get(key);
    if (list) list.push(f);
    else groups.set(key, [f]);
  }
  const byTopic: Finding[] = [];
  for (const list of groups.values()) {
    if (list.length <= COLLAPSE_AT) {
      for (const f of list) byTopic.push(f.build());
      continue;
    }
    const examples = list.slice(0, 3).map((f) => f.build());
    const first = examples[0]!;
    const topic = list[0]!.topic;
    byTopic.push({
      code: first.code,
      severity: first.severity,
      subject: { topic },
      summary: `${topic}: ${plural(list.length, 'partition')} ${VERB[first.code] ?? first.code} (e.g. ${first.summary})`,
      explanation: first.explanation,
      evidence: {
        count: list.length,
        partitions: list.map((f) => f.partition),
        examples: examples.map((f) => ({ summary: f.summary, ...f.evidence })),
      },
      repairs: mergedRepairs(list.map((f) => f.repairs())),
    });
  }

  const perCode = new Map<string, Finding[]>();
  const out: Finding[] = [];
  for (const f of byTopic) {
    const t = f.subject.topic;
    if (t === undefined || channels.has(t)) {
      out.push(f);
      continue;
    }
    const list = perCode.get(f.code);
    if (list) list.push(f);
    else perCode.set(f.code, [f]);
  }
  for (const list of perCode.values()) {
    if (list.length <= COLLAPSE_TOPICS_AT) {
      for (const f of list) out.push(f);
      continue;
    }
    const first = list[0]!;
    const total = list.reduce((n, f) => n + partitionsIn(f), 0);
    out.push({
      code: first.code,
      severity: first.severity,
      subject: {},
      summary:
        `${plural(total, 'partition')} in ${list.length} topics ${VERB[first.code] ?? first.code} ` +
        `(e.g. ${exampleOf(first)})`,
      explanation: first.explanation,
      evidence: {
        count: total,
        topics: Object.fromEntries(list.map((f) => [f.subject.topic!, partitionsIn(f)])),
        examples: list.slice(0, 3).map((f) => ({ summary: f.summary, ...f.evidence })),
      },
      repairs: mergedRepairs(list.map((f) => f.repairs)),
    });
  }
  return out;
}

const VERB: Partial<Record<string, string>> = {
  PARTITION_OFFLINE: 'offline',
  UNDER_MIN_ISR: 'under min.insync.replicas',
  AT_MIN_ISR: 'at min.insync.replicas',
  UNDER_REPLICATED: 'under-replicated',
  METADATA_DIVERGENCE: 'differ between ZooKeeper and the brokers',
  SOURCE_UNAVAILABLE: 'with impossible offsets from Kafka',
};
