/**
 * raise-replication <topic> [rf=3]: give a topic's partitions more replicas (seed 002: a replication factor 1
 * topic has no failover). The existing replicas stay, in their order (the leader does not move); the new ones
 * are appended, chosen like drain-broker's replacements (live, other racks first, fewest replicas, lowest id).
 * Executed as a throttled reassignment (actions/reassign.ts): Admin API on Kafka 2.4+, ZooKeeper on older
 * brokers. Lowering the replication factor is not offered.
 */
import type { ClusterSnapshot, RepairPlan } from '../model/index.js';
import {
  assignmentMap,
  checkList,
  checkMovable,
  checkNoReassignment,
  chooseNewReplicas,
  partitionSample,
  placementView,
  previousMap,
  reassignPath,
  reassignSteps,
  rollbackText,
  checkedTopic,
  tp,
  type Move,
  type Verification,
} from './drain-broker.js';
import { MAX_RF, refuseArguments, rfProblem, topicProblem } from './args.js';

export const DEFAULT_TARGET_RF = 3;
export { MAX_RF };

export interface RaiseReplicationOptions {
  throttleBytes: number;
  waitMs?: number;
}

export function planRaiseReplication(
  snapshot: ClusterSnapshot,
  clusterName: string,
  topic: string,
  rf: number,
  opts: RaiseReplicationOptions,
): RepairPlan {
  const badArgs = refuseArguments('raise-replication', clusterName, { topic, rf }, [
    topicProblem(topic),
    rfProblem(rf),
  ]);
  if (badArgs) return badArgs;
  const c = checkList();
  const base = { kind: 'raise-replication', cluster: clusterName, args: { topic, rf } };
  const checked = checkedTopic(snapshot, c, topic, 'partition assignments unknown');
  if (checked === null) {
    return { ...base, preconditions: c.preconditions, steps: [], expected: {}, refusal: c.refusal() };
  }
  const { view, parts } = checked;
  const rfs = [...new Set(parts.map((p) => p.replicas.length))].sort((a, b) => a - b);
  const below = parts.filter((p) => p.replicas.length < rf);
  const above = parts.filter((p) => p.replicas.length > rf);
  c.check(
    'replication factor below the target',
    below.length > 0 && above.length === 0,
    above.length > 0
      ? `${above.length} partition(s) already have more than ${rf} replicas (${partitionSample(above)}): lowering is not offered`
      : below.length === 0
        ? `every partition of ${topic} already has ${rf} replicas: nothing to do`
        : `${below.length} of ${parts.length} partition(s) have ${rfs.join('/')} replica(s); target ${rf}`,
  );
  const usable = [...view.live].filter((id) => !view.unreachable.has(id)).sort((a, b) => a - b);
  c.check(
    'enough live brokers',
    usable.length >= rf,
    `${usable.length} live broker(s) (${usable.join(', ') || 'none'})` +
      (view.unreachable.size > 0 ? `, not counting unreachable ${[...view.unreachable].join(', ')}` : '') +
      ` for ${rf} replicas`,
  );
  checkNoReassignment(c, snapshot);
  checkMovable(c, view, below, (p) => p.replicas);

  const moves: Move[] = [];
  if (c.refusal() === null) {
    const unplaced: string[] = [];
    for (const p of below) {
      const got = chooseNewReplicas(view, p.replicas, rf - p.replicas.length, new Set());
      if (typeof got === 'string') unplaced.push(`${tp(p)}: ${got}`);
      else
        moves.push({
          topic,
          partition: p.partition,
          from: [...p.replicas],
          replicas: [...p.replicas, ...got],
        });
    }
    if (unplaced.length > 0) c.check('replicas placed', false, unplaced.slice(0, 3).join('; '));
  }
  c.check(
    'racks',
    true,
    view.racks === null
      ? 'no rack information (broker.rack unset): new replicas by replica count only'
      : `racks known (${[...new Set(view.racks.values())].sort().join(', ')}): new replicas on racks the partition does not use yet where possible`,
  );
  c.check('reassignment path', true, reassignPath(snapshot).detail);
  const refusal = c.refusal();
  return {
    ...base,
    preconditions: c.preconditions,
    steps:
      refusal === null
        ? reassignSteps(moves, opts.throttleBytes, opts.waitMs ? { waitMs: opts.waitMs } : {})
        : [],
    expected:
      refusal === null
        ? { topic, replicationFactor: rf, assignment: assignmentMap(moves), previous: previousMap(moves) }
        : {},
    rollback: rollbackText(moves, 'Adding replicas changes no data; undoing it deletes the extra copies.'),
    refusal,
  };
}

/** On a fresh snapshot: every partition of the topic has the target replicas, all of them in sync. */
export function verifyRaiseReplication(snapshot: ClusterSnapshot, plan: RepairPlan): Verification {
  const topic = String(plan.args.topic);
  const rf = Number(plan.args.rf);
  const view = placementView(snapshot);
  if (view === null) return { ok: false, detail: 'ZooKeeper could not be read: assignments unknown' };
  const parts = view.partitions.filter((p) => p.topic === topic);
  if (parts.length === 0) return { ok: false, detail: `topic ${topic} not found in ZooKeeper` };
  const bad: string[] = [];
  for (const p of parts) {
    if (p.replicas.length < rf)
      bad.push(`${tp(p)} has ${p.replicas.length} replicas [${p.replicas.join(',')}]`);
    else {
      const missing = p.replicas.filter((id) => !p.isr.includes(id));
      if (missing.length > 0)
        bad.push(`${tp(p)}: broker ${missing.join(', ')} not in the ISR [${p.isr.join(',')}]`);
    }
  }
  return bad.length > 0
    ? { ok: false, detail: bad.slice(0, 5).join('; ') }
    : { ok: true, detail: `every partition of ${topic} (${parts.length}) has ${rf}+ replicas, all in sync` };
}
