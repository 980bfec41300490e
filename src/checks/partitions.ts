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
  RepairSuggestion,
  Severity,
  ZkPartitionState,
} from '../model/index.js';
import { indexSnapshot, type CheckContext, type SnapshotIndex } from './context.js';
import { preferredLeaderElection, raiseReplication, restartBroker } from './repairs.js';
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
  const unknownIds = uniqSorted([...p.replicas, ...p.isr].filter((id) => !ix.knownBrokerIds.has(id)));
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

function offline(ix: SnapshotIndex, f: PartitionFacts): Finding {
  const { p } = f;
  const name = tp(p.topic, p.partition);
  const repairs: RepairSuggestion[] = [];
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
    for (const id of f.deadReplicas) repairs.push(restartBroker(ix, id));
  } else if (f.rf === 1) {
    const only = p.replicas[0]!;
    summary =
      `${name} is offline: its only replica, broker ${only}, is ${ix.isLive(only) ? 'not leading' : 'down'} ` +
      '(replication factor 1)';
    explanation =
      `With one replica there is no failover: ${name} stays offline until broker ${only} returns with its ` +
      `data. ${who}. Start broker ${only}; afterwards raise the replication factor to 3. Moving a broker's ` +
      'partitions off it (drain-broker) before stopping it avoids this (seed 002).';
    repairs.push(restartBroker(ix, only), raiseReplication(p.topic));
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
      repairs.push(preferredLeaderElection(p.topic, p.partition));
    } else if (p.isr.length === 0) {
      summary = `${name} has ${leaderText} and an empty ISR: no replica is known to hold every committed message`;
      explanation =
        `${who}. With unclean.leader.election.enable=false (as Fabric requires) no replica can be elected. Bring ` +
        `back the replicas ${idList(p.replicas)}; choosing one by hand risks rewriting the chain.`;
      for (const id of f.deadReplicas) repairs.push(restartBroker(ix, id));
    } else {
      const liveOut = p.replicas.filter((id) => ix.isLive(id));
      summary =
        `${name} is offline: ${leaderText}; its in-sync ${brokers(deadIsr.length > 0 ? deadIsr : p.isr)} ` +
        `${(deadIsr.length > 0 ? deadIsr : p.isr).length === 1 ? 'is' : 'are'} down`;
      explanation =
        `Only an in-sync replica may become leader, and the last ISR ${idList(p.isr)} is down` +
        (liveOut.length > 0
          ? `; live ${brokers(liveOut)} ${liveOut.length === 1 ? 'is' : 'are'} out of sync`
          : '') +
        `. ${who} until ${brokers(deadIsr.length > 0 ? deadIsr : p.isr)} ` +
        `${(deadIsr.length > 0 ? deadIsr : p.isr).length === 1 ? 'returns' : 'return (any one)'}. Unclean ` +
        'election would bring it back with lost messages and must stay off for Fabric.';
      for (const id of deadIsr) repairs.push(restartBroker(ix, id));
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

function underMinIsr(ix: SnapshotIndex, f: PartitionFacts, minIsr: number): Finding {
  const { p } = f;
  const name = tp(p.topic, p.partition);
  const o = outOfSync(ix, f);
  const missing = minIsr - f.liveIsr.length;
  const producers = f.channel
    ? 'Every Fabric orderer produces with acks=all, so orderers get'
    : 'Producers with acks=all get';
  return {
    code: 'UNDER_MIN_ISR',
    severity: 'critical',
    subject: { topic: p.topic, partition: p.partition },
    summary:
      `${name} has ${plural(f.liveIsr.length, 'in-sync replica')}` +
      (f.liveIsr.length > 0 ? ` (${brokers(f.liveIsr)})` : '') +
      ` but min.insync.replicas is ${minIsr}: acks=all writes are rejected` +
      (o.down.length + o.lagging.length > 0 ? ` (${outText(o)})` : ''),
    explanation:
      `${producers} ${WRITE_REJECTED} (NOT_ENOUGH_REPLICAS)` +
      (f.channel ? `: channel ${p.topic} cannot order transactions; reads still work` : '') +
      `. ${missing === 1 ? 'One more replica' : `${missing} more replicas`} must be back in sync: ` +
      (o.down.length > 0
        ? missing < o.down.length
          ? `start ${missing === 1 ? 'one' : missing} of ${brokers(o.down)}`
          : `start ${brokers(o.down)}`
        : '') +
      (o.down.length > 0 && o.lagging.length > 0 ? ', or let ' : o.lagging.length > 0 ? 'let ' : '') +
      (o.lagging.length > 0
        ? `${brokers(o.lagging)} catch up (check replica fetcher errors in its log)`
        : '') +
      '. Do not lower min.insync.replicas to get writes through.' +
      unknownNote(f),
    evidence: { ...baseEvidence(f), inSync: f.liveIsr },
    repairs: o.down.map((id) => restartBroker(ix, id)),
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
    repairs: o.down.map((id) => restartBroker(ix, id)),
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
    repairs: o.down.map((id) => restartBroker(ix, id)),
  };
}

export function partitionStateChecks(snapshot: ClusterSnapshot, _ctx: CheckContext = {}): Finding[] {
  const ix = indexSnapshot(snapshot);
  if (ix.registered === null) return [];
  const perPartition: Finding[] = [];
  const singleByTopic = new Map<string, { facts: PartitionFacts[]; offline: number }>();

  for (const p of ix.partitions) {
    const f = partitionFacts(ix, p);
    let finding: Finding | undefined;
    if (!f.leaderLive) finding = offline(ix, f);
    else if (f.minIsr !== null && f.liveIsr.length < f.minIsr) finding = underMinIsr(ix, f, f.minIsr);
    else if (f.minIsr !== null && f.liveIsr.length === f.minIsr && f.liveIsr.length < f.rf)
      finding = atMinIsr(ix, f, f.minIsr);
    else if (f.liveIsr.length < f.rf) finding = underReplicated(ix, f);
    if (finding) perPartition.push(finding);

    if (f.rf === 1) {
      let s = singleByTopic.get(p.topic);
      if (!s) singleByTopic.set(p.topic, (s = { facts: [], offline: 0 }));
      s.facts.push(f);
      if (!f.leaderLive) s.offline++;
    }
  }

  const findings = collapse(perPartition);
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

/** Group per (code, topic): more than COLLAPSE_AT partitions become one finding about the topic. */
export function collapse(findings: Finding[]): Finding[] {
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const key = `${f.code}\u0000${f.subject.topic ?? ''}`;
    const list = groups.get(key);
    if (list) list.push(f);
    else groups.set(key, [f]);
  }
  const out: Finding[] = [];
  for (const list of groups.values()) {
    const first = list[0]!;
    if (list.length <= COLLAPSE_AT || first.subject.topic === undefined) {
      out.push(...list);
      continue;
    }
    const topic = first.subject.topic;
    const severity: Severity = first.severity;
    const parts = list.map((f) => f.subject.partition).filter((n): n is number => n !== undefined);
    const repairs = new Map<string, RepairSuggestion>();
    for (const f of list) for (const r of f.repairs) repairs.set(`${r.kind}:${JSON.stringify(r.args)}`, r);
    out.push({
      code: first.code,
      severity,
      subject: { topic },
      summary: `${topic}: ${plural(list.length, 'partition')} ${VERB[first.code] ?? first.code} (e.g. ${first.summary})`,
      explanation: first.explanation,
      evidence: {
        count: list.length,
        partitions: parts,
        examples: list.slice(0, 3).map((f) => ({ summary: f.summary, ...f.evidence })),
      },
      repairs: [...repairs.values()].slice(0, 10),
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
};
