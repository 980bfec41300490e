/**
 * Container steps (restart-container, start-container, stop-container) through src/docker/actions.ts, and the
 * wait that follows them: what the container runs must be back, not only the container.
 *
 * - broker: /brokers/ids/<id> exists, created after the container started (a registration left over from
 *   before a kill is not enough), and the broker is in the ISR of every partition it holds a replica of;
 * - orderer: "[channel: X] Start phase completed successfully" logged since the container started, for each of
 *   its channels; when the log cannot be read, /healthz answering 200 instead;
 * - ZooKeeper member: `srvr` answers with a mode (leader, follower, standalone).
 *
 * The container's Docker endpoint is the one its inventory entry names (else the first endpoint). A restart is
 * not idempotent (a second restart is another outage); start and stop are (they check the state first).
 */
import type { ContainerRef, OrdererConfig } from '../../config/index.js';
import {
  restartContainer,
  startContainer,
  stopContainer,
  waitForLogLine,
  waitForRunning,
  waitUntil,
  type ActionResult,
} from '../../docker/actions.js';
import type { DockerClient } from '../../docker/client.js';
import { resolveContainer } from '../../docker/gather.js';
import { fourLetterWord, parseSrvr } from '../../zookeeper/fourletter.js';
import { inventoryContainers, type InventoryContainer } from '../containers.js';
import { idempotent, type StepContext, type StepHandler, type StepOf, type StepOutcome } from '../steps.js';
import { secs, type RepairEnv } from './env.js';
import { readAssignment, readPartitionState } from './zk.js';

export const GRACE_SECONDS = 30;
/** A registration this much older than the container's start is a leftover of the previous run. */
const REGISTRATION_SKEW_MS = 30_000;

type ContainerStep = StepOf<'restart-container'> | StepOf<'start-container'> | StepOf<'stop-container'>;

function endpointOf(env: RepairEnv, ref: ContainerRef | undefined): string | undefined {
  return ref?.endpoint ?? Object.keys(env.config.docker?.endpoints ?? {})[0];
}

/** The Docker client that serves a container, and what the inventory says it runs (if it names it). */
export async function locateContainer(
  env: RepairEnv,
  name: string,
): Promise<{ client: DockerClient; target?: InventoryContainer }> {
  const clients = env.docker();
  if (clients.size === 0) {
    throw new Error(`container ${name}: cluster ${env.clusterName} has no docker.endpoints in the inventory`);
  }
  const client = (endpoint: string | undefined) => {
    const c = endpoint !== undefined ? clients.get(endpoint) : undefined;
    if (!c) throw new Error(`container ${name}: Docker endpoint "${endpoint}" is not in docker.endpoints`);
    return c;
  };
  const targets = inventoryContainers(env.config);
  const byName = targets.find((t) => t.ref.name === name);
  if (byName) return { client: client(endpointOf(env, byName.ref)), target: byName };
  for (const t of targets.filter((x) => x.ref.name === undefined)) {
    const c = client(endpointOf(env, t.ref));
    const r = await resolveContainer(c, t.ref);
    if ('name' in r && r.name === name) return { client: c, target: t };
  }
  if (clients.size === 1) return { client: [...clients.values()][0]! };
  throw new Error(
    `container ${name} is not in the inventory and there are ${clients.size} Docker endpoints: cannot tell which one runs it`,
  );
}

function outcome(r: ActionResult): StepOutcome {
  return {
    ok: r.ok,
    detail: r.detail,
    data: {
      endpoint: r.endpoint,
      changed: r.changed,
      ms: r.ms,
      ...(r.before?.startedAt ? { startedBefore: r.before.startedAt } : {}),
      ...(r.after?.startedAt ? { startedAfter: r.after.startedAt } : {}),
      ...(r.error ? { error: r.error } : {}),
    },
  };
}

export function restartHandler(
  env: RepairEnv,
  graceSeconds = GRACE_SECONDS,
): StepHandler<'restart-container'> {
  return async (step) => {
    const { client } = await locateContainer(env, step.container);
    return outcome(await restartContainer(client, step.container, { graceSeconds }));
  };
}

export function startHandler(env: RepairEnv): StepHandler<'start-container'> {
  return idempotent<'start-container'>(async (step) => {
    const { client } = await locateContainer(env, step.container);
    return outcome(await startContainer(client, step.container));
  });
}

export function stopHandler(env: RepairEnv, graceSeconds = GRACE_SECONDS): StepHandler<'stop-container'> {
  return idempotent<'stop-container'>(async (step) => {
    const { client } = await locateContainer(env, step.container);
    return outcome(await stopContainer(client, step.container, { graceSeconds }));
  });
}

/** Broker `id` registered (after `sinceMs`) and in the ISR of all its partitions; else what is missing. */
export async function brokerBack(
  env: RepairEnv,
  id: number,
  sinceMs: number | undefined,
): Promise<string | null> {
  return env.withZk(async (zk) => {
    const reg = await zk.getData(`/brokers/ids/${id}`);
    if (reg === null) return `broker ${id} not registered in /brokers/ids`;
    if (sinceMs !== undefined && reg.stat.ctime > 0 && reg.stat.ctime + REGISTRATION_SKEW_MS < sinceMs) {
      return `broker ${id}'s registration dates from before the container started`;
    }
    const topics = (await zk.getChildren('/brokers/topics')) ?? [];
    const assignments = await Promise.all(topics.map((t) => readAssignment(zk, t)));
    const mine: { topic: string; partition: number }[] = [];
    topics.forEach((topic, i) => {
      for (const [partition, replicas] of assignments[i]?.partitions ?? []) {
        if (replicas.includes(id)) mine.push({ topic, partition });
      }
    });
    const states = await Promise.all(mine.map((p) => readPartitionState(zk, p.topic, p.partition)));
    const out = mine.filter((_, i) => !states[i]?.isr.includes(id));
    return out.length === 0
      ? null
      : `broker ${id} not in the ISR of ${out.length} partition(s) yet: ${out
          .slice(0, 5)
          .map((p) => `${p.topic}/${p.partition}`)
          .join(', ')}`;
  });
}

/** The orderer's /healthz answers 200; over TLS (a private CA, a client certificate) when it is configured. */
export async function ordererHealthy(
  env: Pick<RepairEnv, 'fetch'>,
  orderer: OrdererConfig,
): Promise<boolean> {
  const url = orderer.operationsUrl!;
  if (orderer.operationsTls) {
    const { fetchOrdererHealth } = await import('../../orderers/metrics.js');
    const h = await fetchOrdererHealth(url, { timeoutMs: 3000, tls: orderer.operationsTls });
    return h.status === 200;
  }
  const res = await env.fetch(`${url.replace(/\/+$/, '')}/healthz`, { signal: AbortSignal.timeout(3000) });
  return res.status === 200;
}

/** The `wait` after a container step: the container, then what it runs. */
export async function waitForContainer(
  env: RepairEnv,
  step: ContainerStep,
  timeoutMs: number,
  ctx: StepContext,
): Promise<StepOutcome> {
  const t0 = performance.now();
  const left = () => Math.max(0, timeoutMs - (performance.now() - t0));
  const { client, target } = await locateContainer(env, step.container);
  const wantRunning = step.action !== 'stop-container';
  const state = await waitForRunning(client, step.container, left(), wantRunning);
  if (!state.ok) return { ok: false, detail: state.detail };
  if (!wantRunning || target === undefined) {
    return {
      ok: true,
      detail: `${state.detail}${target === undefined ? ' (not in the inventory: nothing more to wait for)' : ''}`,
    };
  }
  const startedAt = state.value?.startedAt;
  const sinceMs = startedAt !== undefined ? Date.parse(startedAt) : undefined;
  const what = target.label;
  switch (target.role) {
    case 'broker': {
      const id = Number(target.runs);
      let last = '';
      const r = await waitUntil(
        async () => {
          const missing = await brokerBack(env, id, sinceMs);
          last = missing ?? '';
          return missing === null;
        },
        {
          timeoutMs: left(),
          intervalMs: env.pollMs,
          what: `${what} registered and in sync`,
          signal: ctx.signal,
        },
      );
      return r.ok
        ? {
            ok: true,
            detail: `${what} registered again and in the ISR of all its partitions after ${secs(performance.now() - t0)}`,
          }
        : { ok: false, detail: `${r.detail}${last ? `: ${last}` : ''}` };
    }
    case 'orderer': {
      const orderer = env.config.orderers.find((o) => o.name === target.runs);
      const channels = target.channels ?? [];
      const seen: string[] = [];
      let logError: string | undefined;
      for (const ch of channels) {
        const re = new RegExp(
          `\\[channel: ${ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\] Start phase completed successfully`,
        );
        const r = await waitForLogLine(client, step.container, re, sinceMs ?? t0, left());
        if (r.ok) {
          seen.push(ch);
          continue;
        }
        if (r.lastError !== undefined) logError = r.lastError;
        if (logError === undefined || !orderer?.operationsUrl) {
          return { ok: false, detail: `${what}: ${r.detail}` };
        }
        break;
      }
      if (seen.length === channels.length) {
        return {
          ok: true,
          detail: `${what} logged "Start phase completed successfully" for ${channels.join(', ') || 'no channel'} after ${secs(performance.now() - t0)}`,
        };
      }
      // The log could not be read: the operations endpoint instead.
      const h = await waitUntil(() => ordererHealthy(env, orderer!), {
        timeoutMs: left(),
        intervalMs: env.pollMs,
        what: `${what} /healthz 200`,
        signal: ctx.signal,
      });
      return h.ok
        ? { ok: true, detail: `${what}: its log could not be read (${logError}); ${h.detail}` }
        : { ok: false, detail: `${what}: log unreadable (${logError}) and ${h.detail}` };
    }
    case 'zookeeper': {
      const address = String(target.runs);
      const r = await waitUntil(
        async () => {
          const s = parseSrvr(address, await fourLetterWord(address, 'srvr', 2000));
          return s.ok && s.mode !== undefined && s.mode !== 'unknown' ? s.mode : null;
        },
        { timeoutMs: left(), intervalMs: env.pollMs, what: `${what} serving`, signal: ctx.signal },
      );
      return r.ok ? { ok: true, detail: `${r.detail} (${r.value})` } : { ok: false, detail: r.detail };
    }
  }
}
