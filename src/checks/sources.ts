/**
 * SOURCE_UNAVAILABLE: what could not be read, and what could not be checked because of it. Other checks never
 * report a problem from missing data; this is the one place that says what is missing.
 */
import type { ClusterSnapshot, Finding, PartitionOffsets, SourceName, SourceStatus } from '../model/index.js';
import { indexSnapshot, partKey, type CheckContext } from './context.js';
import { collapse, pendingOf } from './partitions.js';
import { andList, plural, printable, tp } from './words.js';
import { zookeeperMembers } from './zookeeper.js';

const SOURCE_ORDER: readonly SourceName[] = ['zookeeper', 'kafka', 'docker', 'orderers'];

export const SOURCE_LABEL: Record<SourceName, string> = {
  zookeeper: 'ZooKeeper',
  kafka: 'Kafka',
  docker: 'Docker',
  orderers: 'the orderers',
};

const SKIPPED: Record<SourceName, string> = {
  zookeeper:
    'Partition state (leaders, ISR, offline partitions), broker registrations, the controller and the quorum ' +
    'were not checked, and nothing is reported from their absence.',
  kafka:
    "The brokers' metadata (and so any divergence from ZooKeeper), partition offsets and the broker and topic " +
    'configs were not checked.',
  docker:
    'Container states (stopped or restarting Kafka, ZooKeeper and orderer containers) were not checked.',
  orderers: "The orderers' expected offsets were not compared with the partitions' offsets.",
};

const FIX: Record<SourceName, string> = {
  zookeeper:
    'Check that the connect string in the inventory is right and that this host can reach the ensemble; ' +
    'if every member refuses, the ensemble itself is down and the brokers will lose their registrations.',
  kafka:
    'Check the bootstrap addresses, TLS/SASL settings and that this host can reach the brokers; if ZooKeeper ' +
    'answered, its findings below still hold.',
  docker: 'Check the Docker endpoint (socket path or host) in the inventory and its permissions.',
  orderers: "Check the orderers' operationsUrl, ledgerDir or logFile in the inventory.",
};

interface Availability {
  status: SourceStatus;
  down: boolean;
}

function availability(snapshot: ClusterSnapshot, name: SourceName): Availability | undefined {
  const status = snapshot.sources[name];
  const data =
    name === 'zookeeper'
      ? snapshot.zookeeper
      : name === 'kafka'
        ? snapshot.kafka
        : name === 'docker'
          ? snapshot.containers
          : snapshot.orderers;
  if (status === undefined) {
    // ZooKeeper and Kafka are always gathered; Docker and orderers only when configured.
    if ((name === 'zookeeper' || name === 'kafka') && data === null) {
      return { status: { ok: false, error: 'no data was gathered' }, down: true };
    }
    return undefined;
  }
  if (!status.ok) return { status, down: true };
  if ((name === 'zookeeper' || name === 'kafka') && data === null) {
    return { status: { ...status, ok: false, error: status.error ?? 'no data was gathered' }, down: true };
  }
  return { status, down: false };
}

export function sourceChecks(snapshot: ClusterSnapshot, ctx: CheckContext = {}): Finding[] {
  const ix = indexSnapshot(snapshot, ctx);
  const findings: Finding[] = [];
  const avail = new Map<SourceName, Availability>();
  for (const name of SOURCE_ORDER) {
    const a = availability(snapshot, name);
    if (a) avail.set(name, a);
  }
  const listed = [...avail.values()];
  const nothingRead = listed.length > 0 && listed.every((a) => a.down);
  const zkDown = avail.get('zookeeper')?.down ?? true;
  const kafkaDown = avail.get('kafka')?.down ?? true;
  const critical = nothingRead || (zkDown && kafkaDown);

  const derived = derivedNotChecked(snapshot, ix);

  for (const [name, a] of avail) {
    const label = SOURCE_LABEL[name];
    const notChecked = [...(a.status.notChecked ?? []), ...(derived.get(name) ?? [])];
    if (a.down) {
      const why = a.status.error ?? 'no reason given';
      const where =
        name === 'zookeeper' && snapshot.expected.zookeeper.length > 0
          ? ` (${snapshot.expected.zookeeper.join(',')})`
          : name === 'kafka' && snapshot.expected.bootstrap.length > 0
            ? ` (${snapshot.expected.bootstrap.join(',')})`
            : '';
      const alsoDown =
        critical && name === 'zookeeper' && !nothingRead
          ? ' Kafka could not be read either: the cluster cannot be checked.'
          : nothingRead
            ? ' No source could be read: nothing about this cluster could be checked.'
            : '';
      findings.push({
        code: 'SOURCE_UNAVAILABLE',
        severity: critical ? 'critical' : 'warning',
        subject: { source: name },
        summary: `${cap(label)}${where} could not be read: ${why}`,
        explanation: `${SKIPPED[name]}${alsoDown} ${FIX[name]}`,
        evidence: {
          source: name,
          ok: false,
          error: why,
          ...(a.status.ms !== undefined ? { ms: a.status.ms } : {}),
          ...(notChecked.length > 0 ? { notChecked } : {}),
        },
        repairs: [],
      });
    } else if (notChecked.length > 0) {
      findings.push({
        code: 'SOURCE_UNAVAILABLE',
        severity: 'info',
        subject: { source: name },
        summary: `${cap(label)} answered, but not checked: ${notChecked.join('; ')}`,
        explanation: 'These parts could not be read, so no finding about them is reported.',
        evidence: { source: name, ok: true, notChecked },
        repairs: [],
      });
    }
  }

  findings.push(...impossibleOffsets(snapshot, ix));

  const malformed = snapshot.zookeeper?.malformed ?? [];
  if (malformed.length > 0) {
    const shown = malformed.slice(0, 3).map((m) => `${m.path} (${m.error})`);
    findings.push({
      code: 'SOURCE_UNAVAILABLE',
      severity: 'warning',
      subject: { source: 'zookeeper' },
      summary:
        `ZooKeeper: ${plural(malformed.length, 'node')} did not parse: ${shown.join(', ')}` +
        (malformed.length > shown.length ? `, and ${malformed.length - shown.length} more` : ''),
      explanation:
        'What these nodes describe (a topic, a partition state, a broker registration) was not checked. A node ' +
        'written by a different Kafka version or by hand can cause this; compare it with `zkCli.sh get <path>`.',
      evidence: { malformed },
      repairs: [],
    });
  }
  return findings;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Things the checks could not look at although the source answered, by source. */
function derivedNotChecked(
  snapshot: ClusterSnapshot,
  ix: ReturnType<typeof indexSnapshot>,
): Map<SourceName, string[]> {
  const out = new Map<SourceName, string[]>();
  const add = (name: SourceName, item: string): void => {
    const list = out.get(name);
    if (list) list.push(item);
    else out.set(name, [item]);
  };
  const zk = snapshot.zookeeper;
  const kafka = snapshot.kafka;

  if (zk) {
    const unknownMode = zookeeperMembers(snapshot).filter(
      (m) => m.ok && (m.mode === undefined || m.mode === 'unknown'),
    );
    if (unknownMode.length > 0) {
      add(
        'zookeeper',
        `leader/follower mode of ${andList(unknownMode.map((m) => m.address))} ` +
          '(the srvr four-letter word may not be in 4lw.commands.whitelist)',
      );
    }
    for (const channel of ix.channels) {
      if (!ix.topics.has(channel)) add('zookeeper', `channel ${channel}: no topic ${channel} in ZooKeeper`);
    }
  }
  if (kafka) {
    if (Object.keys(kafka.brokerConfigs).length === 0) {
      add('kafka', 'broker configs (no DescribeConfigs answer), so the CONFIG_* checks were skipped');
    }
    // Offsets that could not be read for partitions that have a live leader (an offline one has none to ask).
    const failed: string[] = [];
    for (const o of kafka.offsets) {
      if (o.error === undefined || !ix.inScope(o.topic)) continue;
      const p = ix.partitionByKey.get(partKey(o.topic, o.partition));
      if (p && (p.leader === null || p.leader < 0 || !ix.isLive(p.leader))) continue;
      failed.push(`${o.topic}/${o.partition} (${o.error})`);
    }
    if (failed.length > 0) {
      add(
        'kafka',
        `offsets of ${plural(failed.length, 'partition')}: ${failed.slice(0, 3).join(', ')}` +
          (failed.length > 3 ? `, and ${failed.length - 3} more` : ''),
      );
    }
  }
  return out;
}

/**
 * Why Kafka's offsets of a partition cannot be true, or undefined when they can. `unusable`: no offset of the
 * partition can be relied on (one is negative or not whole: Kafka's -1 for "unknown" that slipped through);
 * otherwise each offset may be right and only their order is impossible (log start above the high watermark).
 */
export function offsetsProblem(
  o: Pick<PartitionOffsets, 'highWatermark' | 'logStartOffset'>,
): { why: string; unusable: boolean } | undefined {
  const hw = o.highWatermark;
  const lso = o.logStartOffset;
  const bad = (n: number | undefined) => n !== undefined && (!Number.isSafeInteger(n) || n < 0);
  const problems: string[] = [];
  if (bad(hw)) problems.push(`high watermark ${hw}`);
  if (bad(lso)) problems.push(`log start offset ${lso}`);
  if (problems.length > 0) {
    return { why: `${problems.join(' and ')} (an offset is a whole number, 0 or more)`, unusable: true };
  }
  if (hw !== undefined && lso !== undefined && lso > hw) {
    return { why: `log start offset ${lso} is above the high watermark ${hw}`, unusable: false };
  }
  return undefined;
}

/**
 * Offsets no healthy broker reports: negative, not whole, or a log start offset above the high watermark. They
 * are reported; unusable ones show as unknown in the report, and nothing may be decided from them.
 */
function impossibleOffsets(snapshot: ClusterSnapshot, ix: ReturnType<typeof indexSnapshot>): Finding[] {
  const found: Finding[] = [];
  for (const o of snapshot.kafka?.offsets ?? []) {
    if (!ix.inScope(o.topic)) continue;
    const problem = offsetsProblem(o);
    if (problem === undefined) continue;
    found.push({
      code: 'SOURCE_UNAVAILABLE',
      severity: 'warning',
      subject: { source: 'kafka', topic: o.topic, partition: o.partition },
      summary:
        `Kafka reported impossible offsets for ${tp(printable(o.topic), o.partition)}` +
        `${o.broker !== undefined ? ` (broker ${o.broker})` : ''}: ${problem.why}` +
        (problem.unusable ? '; they were not used' : ''),
      explanation:
        'A broker answered ListOffsets with offsets that cannot be: a partition whose leader is changing or ' +
        'whose log is damaged can do this. ' +
        (problem.unusable
          ? 'Offsets of this partition are shown as unknown, and nothing (padding a channel, comparing ' +
            "orderers' offsets) may be decided from them. "
          : 'Kafka keeps the log start offset at or below the high watermark; decisions that depend on these ' +
            'offsets (padding a channel) must wait until they agree. ') +
        "Check the leader's server.log, then look again.",
      evidence: {
        highWatermark: o.highWatermark ?? null,
        logStartOffset: o.logStartOffset ?? null,
        ...(o.broker !== undefined ? { broker: o.broker } : {}),
      },
      repairs: [],
    });
  }
  return collapse(found.map(pendingOf), ix.channels);
}
