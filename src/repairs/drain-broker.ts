/**
 * drain-broker <id>: move every replica off a broker before maintenance (seed 002: a broker was stopped while it
 * held the only replica of a topic). The replication factor and the rack spread are kept; the assignment is
 * deterministic (same snapshot, same plan), so the executor's re-plan right before running compares equal.
 *
 * Placement, for each partition on the broker (in topic/partition order): the broker is removed from the
 * replica list (the order of the others is kept, so the preferred leader becomes the next replica, which is
 * already in sync) and one replacement is appended last: a live broker that is not already a replica, on a rack
 * the partition's other replicas do not use (when racks are known), with the fewest replicas (counting the
 * moves planned so far), then the lowest id.
 *
 * Steps: `reassign-partitions` (throttled with repairs.reassignThrottleBytes), `wait` for it to complete (new
 * replicas in the ISR, the drained broker no longer leads; the throttle is removed then), and an optional
 * `preferred-leader-election` for the moved partitions. The reassignment goes through the Admin API
 * (AlterPartitionReassignments) on Kafka 2.4+, else /admin/reassign_partitions in ZooKeeper (Kafka 1.0.2, which
 * Fabric ships): see actions/reassign.ts.
 *
 * The placement and precondition helpers here are shared with raise-replication.
 */
import { whatIfStopBroker } from '../checks/whatif.js';
import type {
  ClusterSnapshot,
  Precondition,
  RepairPlan,
  RepairStep,
  ZkPartitionState,
} from '../model/index.js';
import { brokerIdProblem, refuseArguments } from './args.js';

/** AlterPartitionReassignments: Kafka 2.4+ (KIP-455). */
export const API_ALTER_PARTITION_REASSIGNMENTS = 45;
/** How long the `wait` step after a reassignment waits by default (large partitions under a throttle are slow). */
export const REASSIGN_WAIT_MS = 30 * 60_000;

export interface Move {
  topic: string;
  partition: number;
  /** Replicas before, in assignment order. */
  from: number[];
  /** Replicas after, in assignment order (the first is the preferred leader). */
  replicas: number[];
}

// ------------------------------------------------------------------------------------------ cluster view

export interface PlacementView {
  /** Every partition ZooKeeper knows (whatever the snapshot's scope), sorted by topic then partition. */
  partitions: ZkPartitionState[];
  /** Registered in /brokers/ids. */
  live: ReadonlySet<number>;
  /** Registered, but opsbot could reach none of their advertised endpoints (seed 001): not given new replicas. */
  unreachable: ReadonlySet<number>;
  /** Rack of each live broker, when every live broker has one; null otherwise (racks ignored). */
  racks: ReadonlyMap<number, string> | null;
  /** Replicas per broker (every live broker present, 0 when none). */
  replicaCount: Map<number, number>;
}

export function tp(p: { topic: string; partition: number }): string {
  return `${p.topic}/${p.partition}`;
}

export function idList(ids: readonly number[]): string {
  return `[${ids.join(',')}]`;
}

/** "a/0, b/1, c/2 and 4 more". */
export function partitionSample(ps: readonly { topic: string; partition: number }[], max = 5): string {
  const shown = ps.slice(0, max).map(tp);
  return ps.length > max ? `${shown.join(', ')} and ${ps.length - max} more` : shown.join(', ');
}

function sortPartitions<T extends { topic: string; partition: number }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) =>
    a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
  );
}

/** The view placement needs; null when ZooKeeper could not be read. */
export function placementView(snapshot: ClusterSnapshot): PlacementView | null {
  const zk = snapshot.zookeeper;
  if (!zk) return null;
  const live = new Set(zk.brokers.map((b) => b.id));
  const unreachable = new Set<number>();
  for (const id of live) {
    const probes = snapshot.reachability.filter((r) => r.brokerId === id && r.from === 'opsbot');
    if (probes.length > 0 && probes.every((r) => !r.ok)) unreachable.add(id);
  }
  let racks: Map<number, string> | null = new Map();
  for (const b of zk.brokers) {
    if (b.rack === undefined || b.rack === '') {
      racks = null;
      break;
    }
    racks.set(b.id, b.rack);
  }
  if (racks !== null && racks.size === 0) racks = null;
  const replicaCount = new Map<number, number>();
  for (const id of live) replicaCount.set(id, 0);
  const partitions = sortPartitions(zk.partitions);
  for (const p of partitions) {
    for (const r of p.replicas) replicaCount.set(r, (replicaCount.get(r) ?? 0) + 1);
  }
  return { partitions, live, unreachable, racks, replicaCount };
}

/**
 * Pick `count` new replicas for a partition that keeps `keep`: live, reachable, not in `keep` nor in `exclude`;
 * a rack not used yet by the partition first (when racks are known), then the fewest replicas, then the lowest
 * id. Updates `view.replicaCount` so that the next partition sees this choice. Returns the brokers, or why not.
 */
export function chooseNewReplicas(
  view: PlacementView,
  keep: readonly number[],
  count: number,
  exclude: ReadonlySet<number>,
): number[] | string {
  const chosen: number[] = [];
  for (let i = 0; i < count; i++) {
    const taken = new Set([...keep, ...chosen]);
    const candidates = [...view.live]
      .filter((id) => !taken.has(id) && !exclude.has(id) && !view.unreachable.has(id))
      .sort((a, b) => a - b);
    if (candidates.length === 0) {
      const why: string[] = [];
      if (exclude.size > 0) why.push(`not ${[...exclude].join(', ')}`);
      if (view.unreachable.size > 0) why.push(`unreachable: ${[...view.unreachable].join(', ')}`);
      return (
        `no live broker left to hold another replica (live: ${[...view.live].sort((a, b) => a - b).join(', ') || 'none'}; ` +
        `already replicas: ${[...taken].join(', ')}${why.length > 0 ? `; ${why.join('; ')}` : ''})`
      );
    }
    let pool = candidates;
    if (view.racks !== null) {
      const usedRacks = new Set([...taken].map((id) => view.racks!.get(id)).filter((r) => r !== undefined));
      const fresh = candidates.filter((id) => !usedRacks.has(view.racks!.get(id)!));
      if (fresh.length > 0) pool = fresh;
    }
    const best = pool.reduce((a, b) =>
      (view.replicaCount.get(b) ?? 0) < (view.replicaCount.get(a) ?? 0) ? b : a,
    );
    chosen.push(best);
    view.replicaCount.set(best, (view.replicaCount.get(best) ?? 0) + 1);
  }
  return chosen;
}

// ------------------------------------------------------------------------------------------ shared checks

export interface CheckList {
  preconditions: Precondition[];
  check(name: string, ok: boolean, detail: string): boolean;
  refusal(): string | null;
}

/**
 * The two checks every topic repair starts with: ZooKeeper could be read (else `unknown` says what is unknown)
 * and the topic exists. Returns the view and the topic's partitions; null when a check failed (the refusal is
 * in `c`).
 */
export function checkedTopic(
  snapshot: ClusterSnapshot,
  c: CheckList,
  topic: string,
  unknown: string,
): { view: PlacementView; parts: PlacementView['partitions'] } | null {
  const view = placementView(snapshot);
  if (view === null) {
    c.check(
      'ZooKeeper read',
      false,
      `${unknown}: ${snapshot.sources.zookeeper?.error ?? 'ZooKeeper could not be read'}`,
    );
    return null;
  }
  const parts = view.partitions.filter((p) => p.topic === topic);
  const exists = c.check(
    'topic exists',
    parts.length > 0,
    parts.length > 0
      ? `${topic} has ${parts.length} partition(s)`
      : `no topic ${topic} in ZooKeeper (/brokers/topics/${topic})`,
  );
  return exists ? { view, parts } : null;
}

export function checkList(): CheckList {
  const preconditions: Precondition[] = [];
  return {
    preconditions,
    check(name, ok, detail) {
      preconditions.push({ check: name, ok, detail });
      return ok;
    },
    refusal() {
      const failed = preconditions.filter((p) => !p.ok);
      return failed.length > 0
        ? `refused: ${failed.map((p) => `${p.check} - ${p.detail}`).join('; ')}`
        : null;
    },
  };
}

/** How a reassignment will be executed, from the ApiVersions the brokers answered in the snapshot. */
export function reassignPath(snapshot: ClusterSnapshot): { api: boolean | null; detail: string } {
  const answers = Object.values(snapshot.kafka?.apiVersions ?? {});
  if (answers.length === 0) {
    return {
      api: null,
      detail:
        'broker API versions not read: decided at execution (Admin API if every broker has ' +
        'AlterPartitionReassignments, else ZooKeeper /admin/reassign_partitions)',
    };
  }
  const api = answers.every((v) => v[API_ALTER_PARTITION_REASSIGNMENTS] !== undefined);
  return api
    ? {
        api,
        detail: `Admin API AlterPartitionReassignments (API ${API_ALTER_PARTITION_REASSIGNMENTS}, Kafka 2.4+) on every broker that answered`,
      }
    : {
        api,
        detail:
          'ZooKeeper /admin/reassign_partitions (the brokers lack AlterPartitionReassignments: Kafka before 2.4)',
      };
}

/** "No reassignment running" as the snapshot shows it (the Admin API's are checked again at execution). */
export function checkNoReassignment(c: CheckList, snapshot: ClusterSnapshot): boolean {
  const running = snapshot.zookeeper?.reassignment ?? null;
  return c.check(
    'no reassignment running',
    running === null,
    running === null
      ? '/admin/reassign_partitions is absent (Admin API reassignments are checked again before execution)'
      : `/admin/reassign_partitions lists ${running.length} partition(s) (${partitionSample(running)}): ` +
          'Kafka runs one reassignment at a time; wait for it to finish',
  );
}

/**
 * The partitions to move must have a live leader (the new replicas copy from it) and every replica that stays
 * must be live (a reassignment completes only when every target replica is in the ISR).
 */
export function checkMovable(
  c: CheckList,
  view: PlacementView,
  parts: readonly ZkPartitionState[],
  staying: (p: ZkPartitionState) => number[],
): void {
  const offline = parts.filter((p) => p.leader === null || p.leader < 0 || !view.live.has(p.leader));
  c.check(
    'partitions to move have a live leader',
    offline.length === 0,
    offline.length === 0
      ? `${parts.length} partition(s), each with a live leader`
      : `${offline.length} offline (no live leader: nothing to copy from): ` +
          partitionSample(offline) +
          '; bring their replicas back first',
  );
  const deadStaying = parts
    .map((p) => ({ p, dead: staying(p).filter((id) => !view.live.has(id)) }))
    .filter((x) => x.dead.length > 0);
  c.check(
    'replicas that stay are live',
    deadStaying.length === 0,
    deadStaying.length === 0
      ? 'every replica kept in the new assignments is registered'
      : deadStaying
          .slice(0, 5)
          .map((x) => `${tp(x.p)} keeps broker ${x.dead.join(', ')}, which is not registered`)
          .join('; ') + ': the reassignment could never complete',
  );
}

export function reassignSteps(
  moves: readonly Move[],
  throttleBytes: number,
  opts: { electPreferred?: boolean; waitMs?: number } = {},
): RepairStep[] {
  if (moves.length === 0) return [];
  const steps: RepairStep[] = [
    {
      action: 'reassign-partitions',
      partitions: moves.map((m) => ({ topic: m.topic, partition: m.partition, replicas: [...m.replicas] })),
      throttleBytes,
    },
    {
      action: 'wait',
      for:
        `the reassignment of ${moves.length} partition${moves.length === 1 ? '' : 's'} to complete ` +
        '(new replicas in the ISR), then the replication throttle is removed',
      timeoutMs: opts.waitMs ?? REASSIGN_WAIT_MS,
    },
  ];
  if (opts.electPreferred) {
    steps.push({
      action: 'preferred-leader-election',
      partitions: moves.map((m) => ({ topic: m.topic, partition: m.partition })),
      optional: true,
    });
  }
  return steps;
}

export function assignmentMap(moves: readonly Move[]): Record<string, number[]> {
  return Object.fromEntries(moves.map((m) => [tp(m), [...m.replicas]]));
}

/** The replicas before the move, by partition (kept in the plan for a rollback). */
export function previousMap(moves: readonly Move[]): Record<string, number[]> {
  return Object.fromEntries(moves.map((m) => [tp(m), [...m.from]]));
}

export function rollbackText(moves: readonly Move[], what: string): string {
  const shown = moves.slice(0, 10).map((m) => `${tp(m)} ${idList(m.from)}`);
  const more =
    moves.length > 10 ? ` and ${moves.length - 10} more (all in the plan's expected.previous)` : '';
  return (
    `${what} To undo, reassign the partitions back to their previous replicas: ${shown.join(', ')}${more}. ` +
    'If the reassignment is stuck, it cannot be cancelled on Kafka before 2.4 (/admin/reassign_partitions ' +
    'stays until the new replicas catch up); the replication throttle it set (leader/follower.replication.' +
    'throttled.rate on the brokers, *.replication.throttled.replicas on the topics) is removed when it ' +
    'completes, or by hand.'
  );
}

// ------------------------------------------------------------------------------------------ drain-broker

export interface DrainOptions {
  /** Replication throttle in bytes/s (inventory repairs.reassignThrottleBytes). */
  throttleBytes: number;
  waitMs?: number;
}

export function planDrainBroker(
  snapshot: ClusterSnapshot,
  clusterName: string,
  broker: number,
  opts: DrainOptions,
): RepairPlan {
  const badArgs = refuseArguments('drain-broker', clusterName, { broker }, [brokerIdProblem(broker)]);
  if (badArgs) return badArgs;
  const c = checkList();
  const base = {
    kind: 'drain-broker',
    cluster: clusterName,
    args: { broker },
  };
  const view = placementView(snapshot);
  if (view === null) {
    c.check(
      'ZooKeeper read',
      false,
      `partition assignments unknown: ${snapshot.sources.zookeeper?.error ?? 'ZooKeeper could not be read'}`,
    );
    return { ...base, preconditions: c.preconditions, steps: [], expected: {}, refusal: c.refusal() };
  }

  const known = new Set<number>([...snapshot.expected.brokerIds, ...view.live]);
  for (const p of view.partitions) for (const r of p.replicas) known.add(r);
  if (
    !c.check(
      'broker known',
      known.has(broker),
      known.has(broker)
        ? `broker ${broker} is ${view.live.has(broker) ? 'registered in /brokers/ids' : 'not registered (down), known from the inventory or assignments'}`
        : `broker ${broker} is not in the inventory, not registered and holds no replica (known: ${[...known].sort((a, b) => a - b).join(', ') || 'none'})`,
    )
  ) {
    return { ...base, preconditions: c.preconditions, steps: [], expected: {}, refusal: c.refusal() };
  }

  const parts = view.partitions.filter((p) => p.replicas.includes(broker));
  c.check(
    'broker holds replicas',
    parts.length > 0,
    parts.length > 0
      ? `broker ${broker} holds ${parts.length} replica(s) in ${new Set(parts.map((p) => p.topic)).size} topic(s)`
      : `broker ${broker} holds no replica: nothing to drain`,
  );
  checkNoReassignment(c, snapshot);
  const maxRf = Math.max(0, ...parts.map((p) => p.replicas.length));
  const others = [...view.live]
    .filter((id) => id !== broker && !view.unreachable.has(id))
    .sort((a, b) => a - b);
  c.check(
    'enough live brokers',
    others.length >= maxRf,
    `${others.length} live broker(s) besides ${broker} (${others.join(', ') || 'none'})` +
      (view.unreachable.size > 0 ? `, not counting unreachable ${[...view.unreachable].join(', ')}` : '') +
      `; the largest replication factor to keep is ${maxRf}`,
  );
  checkMovable(c, view, parts, (p) => p.replicas.filter((id) => id !== broker));

  const moves: Move[] = [];
  const unplaced: string[] = [];
  if (c.refusal() === null) {
    for (const p of parts) {
      const keep = p.replicas.filter((id) => id !== broker);
      const got = chooseNewReplicas(view, keep, 1, new Set([broker]));
      if (typeof got === 'string') unplaced.push(`${tp(p)}: ${got}`);
      else
        moves.push({
          topic: p.topic,
          partition: p.partition,
          from: [...p.replicas],
          replicas: [...keep, ...got],
        });
    }
    if (unplaced.length > 0)
      c.check('replacement found for every replica', false, unplaced.slice(0, 3).join('; '));
  }
  c.check(
    'racks',
    true,
    view.racks === null
      ? 'no rack information (broker.rack unset): replacements by replica count only'
      : `racks known (${[...new Set(view.racks.values())].sort().join(', ')}): replacements keep partitions on distinct racks where possible`,
  );
  c.check('reassignment path', true, reassignPath(snapshot).detail);

  const refusal = c.refusal();
  const steps =
    refusal === null
      ? reassignSteps(moves, opts.throttleBytes, {
          electPreferred: true,
          ...(opts.waitMs ? { waitMs: opts.waitMs } : {}),
        })
      : [];
  return {
    ...base,
    preconditions: c.preconditions,
    steps,
    expected:
      refusal === null
        ? {
            broker,
            replicasOnBroker: 0,
            stopBrokerSafe: true,
            assignment: assignmentMap(moves),
            previous: previousMap(moves),
          }
        : {},
    rollback: rollbackText(
      moves,
      `Moving replicas changes no data: broker ${broker}'s copies are deleted once the new replicas are in sync.`,
    ),
    refusal,
  };
}

export interface Verification {
  ok: boolean;
  detail: string;
}

/** After the repair, on a fresh snapshot: the broker holds no replica and stopping it is safe. */
export function verifyDrainBroker(snapshot: ClusterSnapshot, plan: RepairPlan): Verification {
  const broker = Number(plan.args.broker);
  const view = placementView(snapshot);
  if (view === null) return { ok: false, detail: 'ZooKeeper could not be read: assignments unknown' };
  const holding = view.partitions.filter((p) => p.replicas.includes(broker));
  const problems: string[] = [];
  if (holding.length > 0) {
    problems.push(`broker ${broker} still holds ${holding.length} replica(s): ${partitionSample(holding)}`);
  }
  let safeText = `stopping broker ${broker} is safe`;
  try {
    const w = whatIfStopBroker(snapshot, broker);
    if (!w.safe) problems.push(w.reasons[0] ?? `stopping broker ${broker} is not safe`);
    else safeText = w.reasons[0] ?? safeText;
  } catch {
    // The broker is known nowhere any more: stopping it changes nothing.
  }
  const expected = (plan.expected.assignment ?? {}) as Record<string, number[]>;
  const byKey = new Map(view.partitions.map((p) => [tp(p), p]));
  const differ = Object.entries(expected).filter(([key, replicas]) => {
    const p = byKey.get(key);
    return p !== undefined && p.replicas.join(',') !== replicas.join(',');
  });
  const note =
    differ.length > 0 ? ` (${differ.length} partition(s) ended on other replicas than planned)` : '';
  return problems.length > 0
    ? { ok: false, detail: problems.join('; ') }
    : { ok: true, detail: `broker ${broker} holds no replica; ${safeText}${note}` };
}
