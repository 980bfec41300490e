/**
 * preferred-leader-election <topic> [partition]: move leadership back to each partition's preferred replica (the
 * first of its assignment), e.g. after a broker came back and the leaders it had stayed elsewhere.
 *
 * Executed by writing /admin/preferred_replica_election in ZooKeeper, which every ZooKeeper-mode Kafka from 0.8
 * through 3.9 watches (Kafka 2.4+ also has the ElectLeaders API, key 43, which kafkajs lacks; the ZooKeeper path
 * is the one both Fabric's 1.0.2 and 3.9 understand): see actions/elect.ts.
 *
 * Refused when a partition's preferred replica is not live or not in the ISR (the controller would not elect
 * it: electing an out-of-sync replica would lose messages), and when every leader already is the preferred one.
 */
import type { ClusterSnapshot, RepairPlan } from '../model/index.js';
import { checkList, placementView, tp, type Verification } from './drain-broker.js';
import { partitionProblem, refuseArguments, topicProblem } from './args.js';

export const ELECTION_ZNODE = '/admin/preferred_replica_election';

export function planPreferredLeaderElection(
  snapshot: ClusterSnapshot,
  clusterName: string,
  topic: string,
  partition: number | undefined,
): RepairPlan {
  const badArgs = refuseArguments(
    'preferred-leader-election',
    clusterName,
    partition === undefined ? { topic } : { topic, partition },
    [topicProblem(topic), partition === undefined ? undefined : partitionProblem(partition)],
  );
  if (badArgs) return badArgs;
  const c = checkList();
  const args: Record<string, string | number> = partition === undefined ? { topic } : { topic, partition };
  const base = { kind: 'preferred-leader-election', cluster: clusterName, args };
  const view = placementView(snapshot);
  if (view === null) {
    c.check(
      'ZooKeeper read',
      false,
      `partition state unknown: ${snapshot.sources.zookeeper?.error ?? 'ZooKeeper could not be read'}`,
    );
    return { ...base, preconditions: c.preconditions, steps: [], expected: {}, refusal: c.refusal() };
  }
  const parts = view.partitions.filter(
    (p) => p.topic === topic && (partition === undefined || p.partition === partition),
  );
  const what = partition === undefined ? `topic ${topic}` : `${topic}/${partition}`;
  if (
    !c.check(
      'partition exists',
      parts.length > 0,
      parts.length > 0
        ? `${what}: ${parts.length} partition(s) in ZooKeeper`
        : `${what} not found in ZooKeeper (/brokers/topics/${topic})`,
    )
  ) {
    return { ...base, preconditions: c.preconditions, steps: [], expected: {}, refusal: c.refusal() };
  }
  const needing = parts.filter((p) => p.replicas[0] !== undefined && p.leader !== p.replicas[0]);
  c.check(
    'leader is not the preferred replica',
    needing.length > 0,
    needing.length > 0
      ? `${needing.length} of ${parts.length} partition(s) led by another replica: ` +
          needing
            .slice(0, 5)
            .map(
              (p) =>
                `${tp(p)} leader ${p.leader === null || p.leader < 0 ? 'none' : p.leader}, preferred ${p.replicas[0]}`,
            )
            .join(', ') +
          (needing.length > 5 ? ` and ${needing.length - 5} more` : '')
      : `every partition of ${what} is already led by its preferred replica: nothing to do`,
  );
  const notReady = needing.filter((p) => {
    const pref = p.replicas[0]!;
    return !view.live.has(pref) || !p.isr.includes(pref);
  });
  c.check(
    'preferred replica in ISR',
    notReady.length === 0,
    notReady.length === 0
      ? needing.length > 0
        ? 'every preferred replica to elect is registered and in the ISR'
        : 'no election needed'
      : notReady
          .slice(0, 5)
          .map((p) => {
            const pref = p.replicas[0]!;
            return `${tp(p)}: preferred broker ${pref} is ${view.live.has(pref) ? `not in the ISR [${p.isr.join(',')}]` : 'not registered'}`;
          })
          .join('; ') + ': electing it could lose messages; wait until it has caught up',
  );
  c.check(
    'election path',
    true,
    `ZooKeeper ${ELECTION_ZNODE} (understood by Kafka 1.0.2 and ZooKeeper-mode 3.x; checked for another election before writing)`,
  );
  const refusal = c.refusal();
  return {
    ...base,
    preconditions: c.preconditions,
    steps:
      refusal === null
        ? [
            {
              action: 'preferred-leader-election',
              partitions: needing.map((p) => ({ topic: p.topic, partition: p.partition })),
            },
          ]
        : [],
    expected:
      refusal === null ? { leaders: Object.fromEntries(needing.map((p) => [tp(p), p.replicas[0]!])) } : {},
    rollback:
      'Nothing to undo: only leadership moves (clients reconnect to the new leader after a short pause)' +
      (needing.length > 0
        ? `; before, ${needing
            .slice(0, 5)
            .map((p) => `${tp(p)} was led by ${p.leader === null || p.leader < 0 ? 'no broker' : p.leader}`)
            .join(', ')}${needing.length > 5 ? ` and ${needing.length - 5} more` : ''}.`
        : '.'),
    refusal,
  };
}

/** On a fresh snapshot: every partition the plan elected is led by its first replica. */
export function verifyPreferredLeader(snapshot: ClusterSnapshot, plan: RepairPlan): Verification {
  const view = placementView(snapshot);
  if (view === null) return { ok: false, detail: 'ZooKeeper could not be read: leaders unknown' };
  const leaders = (plan.expected.leaders ?? {}) as Record<string, number>;
  const bad: string[] = [];
  const byKey = new Map(view.partitions.map((p) => [tp(p), p]));
  for (const key of Object.keys(leaders)) {
    const p = byKey.get(key);
    if (!p) bad.push(`${key} no longer exists`);
    else if (p.leader !== p.replicas[0])
      bad.push(`${key} is led by ${p.leader}, not its preferred replica ${p.replicas[0]}`);
  }
  return bad.length > 0
    ? { ok: false, detail: bad.slice(0, 5).join('; ') }
    : { ok: true, detail: `${Object.keys(leaders).length} partition(s) led by their preferred replica` };
}
