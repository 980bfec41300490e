/**
 * The `preferred-leader-election` step: write /admin/preferred_replica_election in ZooKeeper (watched by the
 * controller of every ZooKeeper-mode Kafka, 1.0.2 through 3.9) for the partitions whose leader is not their
 * first replica while that replica is registered and in the ISR, then wait until the controller has deleted
 * the znode and the leaders moved. Idempotent: it re-reads the state and elects only what is still needed.
 * Partitions whose preferred replica is out of sync are not elected (the controller would refuse; forcing it
 * would lose messages) and make the step fail, naming them.
 */
import type { ZkSession } from '../../zookeeper/session.js';
import { tp } from '../drain-broker.js';
import { idempotent, type StepHandler, type StepOutcome } from '../steps.js';
import { pause, secs, type RepairEnv } from './env.js';
import {
  createAdminNode,
  ELECTION_ZNODE,
  readAssignment,
  readPartitionState,
  registeredBrokers,
} from './zk.js';

/** How long the handler waits for another election to finish, then for ours. */
export const ELECTION_TIMEOUT_MS = 60_000;

interface Standing {
  topic: string;
  partition: number;
  preferred: number | undefined;
  leader: number | null;
  isr: number[];
}

async function standings(
  zk: ZkSession,
  partitions: readonly { topic: string; partition: number }[],
): Promise<Standing[]> {
  const out: Standing[] = [];
  const assignments = new Map<string, Awaited<ReturnType<typeof readAssignment>>>();
  for (const p of partitions) {
    if (!assignments.has(p.topic)) assignments.set(p.topic, await readAssignment(zk, p.topic));
    const a = assignments.get(p.topic);
    const replicas = a?.partitions.get(p.partition);
    if (!a || !replicas) throw new Error(`${tp(p)} does not exist (not in /brokers/topics/${p.topic})`);
    const st = await readPartitionState(zk, p.topic, p.partition);
    out.push({ ...p, preferred: replicas[0], leader: st?.leader ?? null, isr: st?.isr ?? [] });
  }
  return out;
}

export function electHandler(
  env: RepairEnv,
  timeoutMs = ELECTION_TIMEOUT_MS,
): StepHandler<'preferred-leader-election'> {
  return idempotent<'preferred-leader-election'>(async (step, ctx) =>
    env.withZk(async (zk): Promise<StepOutcome> => {
      const t0 = performance.now();
      const live = await registeredBrokers(zk);
      const now = await standings(zk, step.partitions);
      const needed = now.filter((s) => s.preferred !== undefined && s.leader !== s.preferred);
      const ready = needed.filter((s) => live.has(s.preferred!) && s.isr.includes(s.preferred!));
      const blocked = needed.filter((s) => !ready.includes(s));
      const blockedText = blocked
        .slice(0, 5)
        .map(
          (s) =>
            `${tp(s)} (preferred ${s.preferred} ${live.has(s.preferred!) ? `not in the ISR [${s.isr.join(',')}]` : 'not registered'})`,
        )
        .join(', ');
      if (ready.length === 0) {
        return needed.length === 0
          ? {
              ok: true,
              detail: `all ${step.partitions.length} partition(s) already led by their preferred replica`,
              data: { elected: 0 },
            }
          : { ok: false, detail: `not elected: ${blockedText}`, data: { blocked: blocked.length } };
      }
      // One election at a time: wait for someone else's to finish.
      for (;;) {
        ctx.signal.throwIfAborted();
        const created = await createAdminNode(
          zk,
          ELECTION_ZNODE,
          ready.map((s) => ({ topic: s.topic, partition: s.partition })),
        );
        if (created) break;
        if (performance.now() - t0 > timeoutMs) {
          return {
            ok: false,
            detail: `${ELECTION_ZNODE} exists: another preferred leader election has been running for ${secs(timeoutMs)}; not written`,
          };
        }
        await pause(env.pollMs, ctx.signal);
      }
      let after: Standing[] = [];
      for (;;) {
        ctx.signal.throwIfAborted();
        const gone = !(await zk.exists(ELECTION_ZNODE));
        after = await standings(zk, ready);
        const moved = after.every((s) => s.leader === s.preferred);
        if (gone && moved) break;
        if (performance.now() - t0 > timeoutMs) {
          const stuck = after.filter((s) => s.leader !== s.preferred);
          return {
            ok: false,
            detail:
              `the election did not complete within ${secs(timeoutMs)}` +
              (gone ? '' : ` (${ELECTION_ZNODE} still exists: is there an active controller?)`) +
              (stuck.length > 0
                ? `: ${stuck
                    .slice(0, 5)
                    .map((s) => `${tp(s)} led by ${s.leader}`)
                    .join(', ')}`
                : ''),
          };
        }
        await pause(Math.min(env.pollMs, 500), ctx.signal);
      }
      const ms = Math.round(performance.now() - t0);
      const moved = ready.map((s) => `${tp(s)} ${s.leader} -> ${s.preferred}`);
      return {
        ok: blocked.length === 0,
        detail:
          `elected the preferred leader of ${ready.length} partition(s) through ${ELECTION_ZNODE} in ${secs(ms)}: ` +
          `${moved.slice(0, 5).join(', ')}${moved.length > 5 ? ` and ${moved.length - 5} more` : ''}` +
          (blocked.length > 0 ? `; not elected: ${blockedText}` : ''),
        data: { elected: ready.length, blocked: blocked.length, ms },
      };
    }),
  );
}
