/**
 * `whatif stop-broker <id>`: what stopping one broker would do, by Kafka's election rule. The new leader of a
 * partition the broker leads is the first replica, in assignment order, that is alive and in the ISR (controlled
 * shutdown picks the same way). With unclean election off and no such replica, the partition goes offline.
 */
import { NotFoundError } from '../errors/index.js';
import type { ClusterSnapshot, RepairSuggestion } from '../model/index.js';
import { indexSnapshot, type SnapshotIndex } from './context.js';
import { drainBroker, raiseReplication } from './repairs.js';
import { brokers, idList, plural, tp, uniqSorted } from './words.js';

export interface WhatIfOffline {
  topic: string;
  partition: number;
  replicas: number[];
  isr: number[];
  /** Why no replica can take over, in words. */
  reason: string;
}

export interface WhatIfMinIsr {
  topic: string;
  partition: number;
  /** Live in-sync replicas now, and after the broker stops. */
  isrBefore: number[];
  isrAfter: number[];
  minIsr: number;
}

export interface WhatIfLeaderMove {
  topic: string;
  partition: number;
  newLeader: number;
  /** The new leader is out of sync: only because unclean.leader.election.enable=true (messages are lost). */
  unclean: boolean;
}

export interface WhatIfStopBroker {
  cluster: string;
  broker: number;
  /** Nothing goes offline or under min ISR, no unclean election, and the answer is complete. */
  safe: boolean;
  /** False when partition state or some min.insync.replicas could not be read: `safe` is then false. */
  complete: boolean;
  /** Registered in ZooKeeper now; null when ZooKeeper could not be read. */
  registered: boolean | null;
  controller: boolean;
  /** Partitions (in scope) with a replica on the broker. */
  replicaCount: number;
  goOffline: WhatIfOffline[];
  fallUnderMinIsr: WhatIfMinIsr[];
  /** Left exactly at min.insync.replicas: still writable, one more loss blocks writes. */
  reachMinIsr: WhatIfMinIsr[];
  loseLeader: WhatIfLeaderMove[];
  /** Partitions on the broker that are already offline: stopping it changes nothing for them. */
  alreadyOffline: { topic: string; partition: number }[];
  /** One line each, the verdict first. */
  reasons: string[];
  repairs: RepairSuggestion[];
}

function uncleanOn(ix: SnapshotIndex, topic: string, broker: number | undefined): boolean {
  return ix.topicConfig(topic, 'unclean.leader.election.enable', broker)?.value === 'true';
}

/** @throws NotFoundError when no source knows the broker id. */
export function whatIfStopBroker(snapshot: ClusterSnapshot, brokerId: number): WhatIfStopBroker {
  const ix = indexSnapshot(snapshot);
  const known = new Set(ix.knownBrokerIds);
  for (const p of ix.partitions) for (const r of p.replicas) known.add(r);
  if (!known.has(brokerId)) {
    const list = uniqSorted(known);
    throw new NotFoundError(
      `broker ${brokerId} is unknown to cluster ${snapshot.cluster}: not in the inventory, not registered in ` +
        `ZooKeeper and in no broker's metadata (known: ${list.length > 0 ? list.join(', ') : 'none'})`,
    );
  }
  const b = brokerId;
  const result: WhatIfStopBroker = {
    cluster: snapshot.cluster,
    broker: b,
    safe: false,
    complete: ix.registered !== null,
    registered: ix.registered === null ? null : ix.registered.has(b),
    controller: ix.controllerId === b,
    replicaCount: 0,
    goOffline: [],
    fallUnderMinIsr: [],
    reachMinIsr: [],
    loseLeader: [],
    alreadyOffline: [],
    reasons: [],
    repairs: [],
  };
  if (ix.registered === null) {
    result.reasons.push(
      `Cannot tell what stopping broker ${b} would do: ZooKeeper could not be read, so partition state is unknown`,
    );
    return result;
  }

  let unknownMinIsr = 0;
  const singleTopics = new Set<string>();
  for (const p of ix.partitions) {
    const involved = p.replicas.includes(b) || p.isr.includes(b) || p.leader === b;
    if (!involved) continue;
    if (p.replicas.includes(b)) result.replicaCount++;
    const assigned = new Set(p.replicas);
    const liveIsr = [...new Set(p.isr)].filter(
      (id) => ix.isLive(id) && (assigned.size === 0 || assigned.has(id)),
    );
    const leaderLive = p.leader !== null && p.leader >= 0 && ix.isLive(p.leader);
    if (!leaderLive) {
      result.alreadyOffline.push({ topic: p.topic, partition: p.partition });
      continue;
    }
    const after = liveIsr.filter((id) => id !== b);
    if (p.leader === b) {
      const next = p.replicas.find((id) => id !== b && after.includes(id));
      if (next !== undefined) {
        result.loseLeader.push({ topic: p.topic, partition: p.partition, newLeader: next, unclean: false });
      } else {
        const liveOthers = p.replicas.filter((id) => id !== b && ix.isLive(id));
        if (uncleanOn(ix, p.topic, b) && liveOthers[0] !== undefined) {
          result.loseLeader.push({
            topic: p.topic,
            partition: p.partition,
            newLeader: liveOthers[0],
            unclean: true,
          });
        } else {
          const reason =
            p.replicas.length === 1
              ? `broker ${b} is its only replica (replication factor 1)`
              : liveOthers.length === 0
                ? `no other replica of ${idList(p.replicas)} is up`
                : `no other replica is in sync (ISR ${idList(p.isr)}; ${brokers(liveOthers)} out of sync)`;
          result.goOffline.push({
            topic: p.topic,
            partition: p.partition,
            replicas: p.replicas,
            isr: p.isr,
            reason,
          });
          if (p.replicas.length === 1) singleTopics.add(p.topic);
          continue;
        }
      }
    }
    if (!liveIsr.includes(b)) continue; // the ISR does not shrink
    const minIsr = ix.minIsr(p);
    if (minIsr === null) {
      unknownMinIsr++;
      continue;
    }
    const entry = { topic: p.topic, partition: p.partition, isrBefore: liveIsr, isrAfter: after, minIsr };
    if (after.length < minIsr && liveIsr.length >= minIsr) result.fallUnderMinIsr.push(entry);
    else if (after.length === minIsr) result.reachMinIsr.push(entry);
  }

  if (unknownMinIsr > 0) result.complete = false;
  const unclean = result.loseLeader.filter((m) => m.unclean);
  result.safe =
    result.complete &&
    result.goOffline.length === 0 &&
    result.fallUnderMinIsr.length === 0 &&
    unclean.length === 0;
  result.reasons = reasons(result, unknownMinIsr);
  if (!result.safe && result.complete) {
    result.repairs.push(drainBroker(b));
    for (const t of [...singleTopics].sort().slice(0, 5)) result.repairs.push(raiseReplication(t));
  }
  return result;
}

function sample<T extends { topic: string; partition: number }>(
  items: readonly T[],
  extra?: (t: T) => string,
): string {
  const shown = items.slice(0, 5).map((i) => `${tp(i.topic, i.partition)}${extra ? ` (${extra(i)})` : ''}`);
  return shown.join(', ') + (items.length > shown.length ? `, and ${items.length - shown.length} more` : '');
}

function reasons(r: WhatIfStopBroker, unknownMinIsr: number): string[] {
  const out: string[] = [];
  const b = r.broker;
  const unclean = r.loseLeader.filter((m) => m.unclean);
  if (r.registered === false) {
    out.push(
      `Broker ${b} is not registered now (already stopped or disconnected): stopping it changes no partition`,
    );
  } else if (r.safe) {
    out.push(`Stopping broker ${b} is safe: no partition goes offline or under min.insync.replicas`);
  } else if (
    !r.complete &&
    r.goOffline.length === 0 &&
    r.fallUnderMinIsr.length === 0 &&
    unclean.length === 0
  ) {
    out.push(`Stopping broker ${b} cannot be confirmed safe: see below`);
  } else {
    out.push(`Stopping broker ${b} is NOT safe`);
  }
  if (r.goOffline.length > 0) {
    out.push(
      `${plural(r.goOffline.length, 'partition')} would go offline: ${sample(r.goOffline, (o) => o.reason)}. ` +
        'Move them first (drain-broker) or bring their other replicas in sync.',
    );
  }
  if (r.fallUnderMinIsr.length > 0) {
    out.push(
      `${plural(r.fallUnderMinIsr.length, 'partition')} would fall under min.insync.replicas and reject acks=all ` +
        `writes (the orderers'): ${sample(r.fallUnderMinIsr, (m) => `ISR ${idList(m.isrAfter)}, min ${m.minIsr}`)}`,
    );
  }
  if (unclean.length > 0) {
    out.push(
      `${plural(unclean.length, 'partition')} would elect an out-of-sync leader because unclean leader election ` +
        `is on, losing messages: ${sample(unclean, (m) => `new leader ${m.newLeader}`)}`,
    );
  }
  if (unknownMinIsr > 0) {
    out.push(
      `min.insync.replicas is unknown for ${plural(unknownMinIsr, 'partition')} whose ISR would shrink ` +
        '(broker configs not read): cannot tell whether writes would be rejected',
    );
  }
  if (r.reachMinIsr.length > 0) {
    out.push(
      `${plural(r.reachMinIsr.length, 'partition')} would be left at min.insync.replicas (one more loss blocks ` +
        `writes): ${sample(r.reachMinIsr, (m) => `ISR ${idList(m.isrAfter)}`)}`,
    );
  }
  const clean = r.loseLeader.filter((m) => !m.unclean);
  if (clean.length > 0) {
    const to = uniqSorted(clean.map((m) => m.newLeader));
    out.push(
      `${plural(clean.length, 'partition')} would move ${clean.length === 1 ? 'its' : 'their'} leader to ` +
        `${brokers(to)}: clients reconnect after a ` +
        `short pause (${sample(clean, (m) => `-> ${m.newLeader}`)})`,
    );
  }
  if (r.controller)
    out.push(`Broker ${b} is the controller: another broker takes over (a short pause in leader changes)`);
  if (r.alreadyOffline.length > 0) {
    out.push(
      `${plural(r.alreadyOffline.length, 'partition')} on broker ${b} already offline: ${sample(r.alreadyOffline)}`,
    );
  }
  if (r.replicaCount === 0 && r.registered !== false)
    out.push(`Broker ${b} holds no replica${r.controller ? '' : ' in scope'}`);
  return out.map((s) => s.replace(/ {2,}/g, ' '));
}

/**
 * Exit code of `whatif stop-broker`: 0 safe (nothing moves), 1 leaders move or partitions are left at min ISR,
 * 2 partitions go offline, under min ISR or to an unclean leader, 3 could not tell.
 */
export function whatIfExitCode(w: WhatIfStopBroker): 0 | 1 | 2 | 3 {
  if (w.goOffline.length > 0 || w.fallUnderMinIsr.length > 0 || w.loseLeader.some((m) => m.unclean)) return 2;
  if (!w.complete) return 3;
  if (w.loseLeader.length > 0 || w.reachMinIsr.length > 0) return 1;
  return 0;
}
