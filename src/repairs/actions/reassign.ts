/**
 * The `reassign-partitions` step and the wait for it (drain-broker, raise-replication).
 *
 * 1. Re-read the assignments from ZooKeeper; partitions already at their target need nothing (idempotent: a
 *    resumed attempt does only what is missing).
 * 2. Refuse while another reassignment runs: /admin/reassign_partitions (every ZooKeeper-mode version) or, on
 *    Kafka 2.4+, ListPartitionReassignments listing partitions that are not ours with our targets.
 * 3. Throttle, the way kafka-reassign-partitions.sh does: `leader.replication.throttled.rate` and
 *    `follower.replication.throttled.rate` on every broker involved, `leader.replication.throttled.replicas`
 *    (the current replicas of the moving partitions) and `follower.replication.throttled.replicas` (the new
 *    ones) on their topics. Written in ZooKeeper (/config/brokers/<id>, /config/topics/<t> + a change
 *    notification) on every version: Kafka 1.0 cannot set broker configs through AlterConfigs, and the
 *    non-incremental AlterConfigs of later versions would drop a broker's other dynamic configs.
 * 4. Submit: Admin API AlterPartitionReassignments when every bootstrap broker has API 45 (Kafka 2.4+), else
 *    create /admin/reassign_partitions (Kafka 1.0.2). The node must not exist: creating it is the lock.
 *
 * The `wait` step after it (waitForReassignment) polls until none of our partitions is listed as reassigning
 * (znode and Admin API), each has exactly its target replicas, all of them in the ISR and one of them leading;
 * then it removes the throttle entries of our partitions (and broker rates equal to the step's throttle).
 */
import type {
  OngoingPartitionReassignment as OngoingPartition,
  OngoingTopicReassignment as OngoingTopic,
} from 'kafkajs';
import type { ZkSession } from '../../zookeeper/session.js';
import { API_ALTER_PARTITION_REASSIGNMENTS, tp } from '../drain-broker.js';
import { idempotent, type StepContext, type StepHandler, type StepOf, type StepOutcome } from '../steps.js';
import { allSupport, pause, secs, type RepairEnv } from './env.js';
import {
  alterEntityConfig,
  createAdminNode,
  readAdminNode,
  readAssignment,
  readPartitionState,
  REASSIGN_ZNODE,
  type AdminPartition,
  type TopicAssignment,
} from './zk.js';

export const LEADER_RATE = 'leader.replication.throttled.rate';
export const FOLLOWER_RATE = 'follower.replication.throttled.rate';
export const LEADER_REPLICAS = 'leader.replication.throttled.replicas';
export const FOLLOWER_REPLICAS = 'follower.replication.throttled.replicas';

type Target = StepOf<'reassign-partitions'>['partitions'][number];

interface Current {
  /** Replicas as assigned now (during a 2.4+ reassignment: target plus those being removed). */
  replicas: number[];
  adding: number[];
  removing: number[];
}

const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function byTopic<T extends { topic: string }>(list: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of list) {
    const l = m.get(x.topic);
    if (l) l.push(x);
    else m.set(x.topic, [x]);
  }
  return m;
}

/** The assignment of each target partition; throws (naming the znode) when a topic or partition is gone. */
async function readCurrent(zk: ZkSession, targets: readonly Target[]): Promise<Map<string, Current>> {
  const out = new Map<string, Current>();
  for (const [topic, list] of byTopic(targets)) {
    const a: TopicAssignment | null = await readAssignment(zk, topic);
    if (a === null)
      throw new Error(`topic ${topic} does not exist (no /brokers/topics/${topic} in ZooKeeper)`);
    for (const t of list) {
      const replicas = a.partitions.get(t.partition);
      if (replicas === undefined) {
        throw new Error(`${tp(t)} does not exist (not in /brokers/topics/${topic})`);
      }
      out.set(tp(t), {
        replicas,
        adding: a.adding.get(t.partition) ?? [],
        removing: a.removing.get(t.partition) ?? [],
      });
    }
  }
  return out;
}

/** Replicas before the reassignment: the assignment without those being added. */
function origin(c: Current): number[] {
  return c.replicas.filter((id) => !c.adding.includes(id));
}

interface InProgress {
  topic: string;
  partition: number;
  /** The reassignment's target, when known. */
  replicas?: number[];
  source: string;
}

async function reassignmentsInProgress(
  env: RepairEnv,
  zk: ZkSession,
  useApi: boolean,
): Promise<InProgress[]> {
  const out: InProgress[] = [];
  for (const p of (await readAdminNode(zk, REASSIGN_ZNODE)) ?? []) {
    out.push({ ...p, source: REASSIGN_ZNODE });
  }
  if (useApi) {
    const admin = env.kafka().admin();
    await admin.connect();
    try {
      const res = await admin.listPartitionReassignments({});
      // kafkajs 2.2.4 decodes `name` and `partition`, whatever its typings say (`topic`, `partitionIndex`).
      for (const t of res.topics as (OngoingTopic & { name?: string })[]) {
        for (const p of t.partitions as (OngoingPartition & { partition?: number })[]) {
          const adding = p.addingReplicas ?? [];
          const removing = p.removingReplicas ?? [];
          if (adding.length === 0 && removing.length === 0) continue;
          out.push({
            topic: t.name ?? t.topic,
            partition: p.partition ?? p.partitionIndex,
            replicas: p.replicas.filter((id) => !removing.includes(id)),
            source: 'ListPartitionReassignments',
          });
        }
      }
    } finally {
      await admin.disconnect();
    }
  }
  return out;
}

function mergeList(existing: string | undefined, add: readonly string[]): string {
  const cur = (existing ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (cur.includes('*')) return '*';
  for (const e of add) if (!cur.includes(e)) cur.push(e);
  return cur.join(',');
}

/** Set the throttle for the partitions about to move. Returns what was set, for the step's audit data. */
export async function applyThrottle(
  zk: ZkSession,
  moving: readonly Target[],
  current: ReadonlyMap<string, Current>,
  bytes: number,
): Promise<{ brokers: number[]; topics: string[] }> {
  const brokers = new Set<number>();
  for (const [topic, list] of byTopic(moving)) {
    const leader: string[] = [];
    const follower: string[] = [];
    for (const t of list) {
      const before = origin(current.get(tp(t))!);
      for (const id of before) leader.push(`${t.partition}:${id}`);
      for (const id of t.replicas) if (!before.includes(id)) follower.push(`${t.partition}:${id}`);
      for (const id of [...before, ...t.replicas]) brokers.add(id);
    }
    await alterEntityConfig(zk, 'topics', topic, (cfg) => ({
      ...cfg,
      [LEADER_REPLICAS]: mergeList(cfg[LEADER_REPLICAS], leader),
      [FOLLOWER_REPLICAS]: mergeList(cfg[FOLLOWER_REPLICAS], follower),
    }));
  }
  const ids = [...brokers].sort((a, b) => a - b);
  for (const id of ids) {
    await alterEntityConfig(zk, 'brokers', String(id), (cfg) => ({
      ...cfg,
      [LEADER_RATE]: String(bytes),
      [FOLLOWER_RATE]: String(bytes),
    }));
  }
  return { brokers: ids, topics: [...byTopic(moving).keys()] };
}

/**
 * Remove the throttle of a finished reassignment: our partitions' entries from the topics' throttled-replica
 * lists (a key left empty is deleted), and the broker rates that equal our throttle.
 */
export async function removeThrottle(
  zk: ZkSession,
  targets: readonly Target[],
  bytes: number,
): Promise<{ topics: string[]; brokers: number[] }> {
  const topics: string[] = [];
  for (const [topic, list] of byTopic(targets)) {
    const ours = new Set(list.map((t) => String(t.partition)));
    const r = await alterEntityConfig(zk, 'topics', topic, (cfg) => {
      const next = { ...cfg };
      for (const key of [LEADER_REPLICAS, FOLLOWER_REPLICAS]) {
        if (next[key] === undefined) continue;
        const kept = next[key]
          .split(',')
          .map((s) => s.trim())
          .filter((e) => e !== '' && e !== '*' && !ours.has(e.split(':')[0]!));
        if (kept.length > 0) next[key] = kept.join(',');
        else if (next[key].trim() !== '*') delete next[key];
      }
      return next;
    });
    if (r.changed) topics.push(topic);
  }
  const brokers: number[] = [];
  const ids = ((await zk.getChildren('/config/brokers')) ?? []).filter((s) => /^\d+$/.test(s));
  for (const id of ids.sort((a, b) => Number(a) - Number(b))) {
    const r = await alterEntityConfig(zk, 'brokers', id, (cfg) => {
      const next = { ...cfg };
      for (const key of [LEADER_RATE, FOLLOWER_RATE]) if (next[key] === String(bytes)) delete next[key];
      return next;
    });
    if (r.changed) brokers.push(Number(id));
  }
  return { topics, brokers };
}

/** The `reassign-partitions` handler. Idempotent: it checks what is already in place or in progress. */
export function reassignHandler(env: RepairEnv): StepHandler<'reassign-partitions'> {
  return idempotent<'reassign-partitions'>(async (step, ctx) => {
    const apis = await env.apiVersions();
    const useApi = allSupport(apis, API_ALTER_PARTITION_REASSIGNMENTS);
    const path = useApi
      ? `Admin API AlterPartitionReassignments (API ${API_ALTER_PARTITION_REASSIGNMENTS})`
      : `ZooKeeper ${REASSIGN_ZNODE}`;
    return env.withZk(async (zk): Promise<StepOutcome> => {
      const current = await readCurrent(zk, step.partitions);
      const targets = new Map(step.partitions.map((t) => [tp(t), t]));
      const running = await reassignmentsInProgress(env, zk, useApi);
      const foreign = running.filter((r) => {
        const t = targets.get(tp(r));
        return t === undefined || (r.replicas !== undefined && !same(r.replicas, t.replicas));
      });
      if (foreign.length > 0) {
        const shown = foreign
          .slice(0, 5)
          .map((r) => `${tp(r)}${r.replicas ? ` -> [${r.replicas.join(',')}]` : ''} (${r.source})`)
          .join(', ');
        return {
          ok: false,
          detail: `refused: another reassignment is running: ${shown}${foreign.length > 5 ? ` and ${foreign.length - 5} more` : ''}; Kafka runs one at a time`,
          data: { foreign: foreign.length },
        };
      }
      const ours = new Set(running.map((r) => tp(r)));
      const pending = step.partitions.filter((t) => {
        const c = current.get(tp(t))!;
        return !same(c.replicas, t.replicas) || c.adding.length > 0 || c.removing.length > 0;
      });
      if (pending.length === 0) {
        return {
          ok: true,
          detail: `all ${step.partitions.length} partition(s) already have their target replicas: nothing submitted`,
          data: { submitted: 0, path },
        };
      }
      ctx.signal.throwIfAborted();
      let throttled: { brokers: number[]; topics: string[] } | undefined;
      if (step.throttleBytes !== undefined) {
        throttled = await applyThrottle(zk, pending, current, step.throttleBytes);
      }
      const toSubmit = pending.filter((t) => !ours.has(tp(t)));
      ctx.signal.throwIfAborted();
      if (toSubmit.length > 0) {
        if (useApi) {
          const admin = env.kafka().admin();
          await admin.connect();
          try {
            await admin.alterPartitionReassignments({
              topics: [...byTopic(toSubmit)].map(([topic, list]) => ({
                topic,
                partitionAssignment: list.map((t) => ({ partition: t.partition, replicas: [...t.replicas] })),
              })),
            });
          } catch (err) {
            throw new Error(
              `AlterPartitionReassignments for ${toSubmit.map(tp).slice(0, 5).join(', ')}: ${(err as Error).message}`,
              { cause: err },
            );
          } finally {
            await admin.disconnect();
          }
        } else if (ours.size > 0) {
          return {
            ok: false,
            detail:
              `${REASSIGN_ZNODE} lists ${ours.size} of these partitions, but ${toSubmit.map(tp).slice(0, 5).join(', ')} ` +
              'are neither at their target nor listed: run the repair again once the znode is gone',
          };
        } else {
          const partitions: AdminPartition[] = toSubmit.map((t) => ({
            topic: t.topic,
            partition: t.partition,
            replicas: [...t.replicas],
          }));
          if (!(await createAdminNode(zk, REASSIGN_ZNODE, partitions))) {
            return {
              ok: false,
              detail: `refused: ${REASSIGN_ZNODE} appeared while submitting (another reassignment started): not written`,
            };
          }
        }
      }
      const throttleText = throttled
        ? `, throttled at ${step.throttleBytes} B/s on brokers ${throttled.brokers.join(', ')}`
        : '';
      return {
        ok: true,
        detail:
          `submitted ${toSubmit.length} partition reassignment(s) through ${path}` +
          (pending.length > toSubmit.length
            ? ` (${pending.length - toSubmit.length} already in progress)`
            : '') +
          (step.partitions.length > pending.length
            ? `; ${step.partitions.length - pending.length} already in place`
            : '') +
          throttleText,
        data: {
          path,
          submitted: toSubmit.map(tp),
          alreadyInPlace: step.partitions.length - pending.length,
          ...(throttled ? { throttleBytes: step.throttleBytes, throttledBrokers: throttled.brokers } : {}),
        },
      };
    });
  });
}

/** Where each partition stands: null when done, else what it waits for. */
async function progress(
  env: RepairEnv,
  zk: ZkSession,
  step: StepOf<'reassign-partitions'>,
  useApi: boolean,
): Promise<string[]> {
  const waiting: string[] = [];
  const running = await reassignmentsInProgress(env, zk, useApi);
  const listed = new Set(running.map((r) => tp(r)));
  const current = await readCurrent(zk, step.partitions);
  for (const t of step.partitions) {
    const c = current.get(tp(t))!;
    if (listed.has(tp(t)) || c.adding.length > 0 || c.removing.length > 0) {
      waiting.push(`${tp(t)} reassigning ([${c.replicas.join(',')}] -> [${t.replicas.join(',')}])`);
      continue;
    }
    if (!same(c.replicas, t.replicas)) {
      waiting.push(
        `${tp(t)} has replicas [${c.replicas.join(',')}], not [${t.replicas.join(',')}] (the reassignment is not running)`,
      );
      continue;
    }
    const st = await readPartitionState(zk, t.topic, t.partition);
    const missing = t.replicas.filter((id) => !st?.isr.includes(id));
    if (!st || missing.length > 0) {
      waiting.push(`${tp(t)}: broker ${missing.join(', ')} not in the ISR [${st?.isr.join(',') ?? ''}] yet`);
    } else if (!t.replicas.includes(st.leader)) {
      waiting.push(`${tp(t)}: leader ${st.leader} is not one of [${t.replicas.join(',')}] yet`);
    }
  }
  return waiting;
}

/** The `wait` after a `reassign-partitions` step. */
export async function waitForReassignment(
  env: RepairEnv,
  step: StepOf<'reassign-partitions'>,
  timeoutMs: number,
  ctx: StepContext,
): Promise<StepOutcome> {
  const apis = await env.apiVersions();
  const useApi = allSupport(apis, API_ALTER_PARTITION_REASSIGNMENTS);
  const t0 = performance.now();
  let waiting: string[] = [];
  let lastError: string | undefined;
  for (;;) {
    ctx.signal.throwIfAborted();
    try {
      waiting = await env.withZk((zk) => progress(env, zk, step, useApi));
      lastError = undefined;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (lastError === undefined && waiting.length === 0) break;
    const spent = performance.now() - t0;
    if (spent >= timeoutMs) {
      return {
        ok: false,
        detail:
          `the reassignment did not complete within ${secs(timeoutMs)}: ` +
          (lastError ??
            `${waiting.slice(0, 5).join('; ')}${waiting.length > 5 ? ` and ${waiting.length - 5} more` : ''}`) +
          (step.throttleBytes !== undefined ? ' (the replication throttle stays until it completes)' : ''),
        data: { waiting: waiting.length },
      };
    }
    await pause(Math.min(env.pollMs, timeoutMs - spent), ctx.signal);
  }
  const ms = Math.round(performance.now() - t0);
  let removed = '';
  if (step.throttleBytes !== undefined) {
    const r = await env.withZk((zk) => removeThrottle(zk, step.partitions, step.throttleBytes!));
    removed = `; throttle removed (topics ${r.topics.join(', ') || 'none left'}, brokers ${r.brokers.join(', ') || 'none left'})`;
  }
  return {
    ok: true,
    detail: `${step.partitions.length} partition(s) on their target replicas, all in sync, after ${secs(ms)}${removed}`,
    data: { ms, partitions: step.partitions.length },
  };
}
