/**
 * Fault injection on a running lab. Every function takes the lab's options (only `workDir` matters: the rest
 * comes from `<workDir>/lab.json`), holds the lab lock while it changes processes, and returns once the fault
 * is in place (bounded waits). `healLab` puts everything back.
 *
 * Nothing here sends traffic anywhere but 127.0.0.1: the "unreachable advertised listener" is a loopback port
 * nothing listens on.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { brokerPaths } from './configs.js';
import { applyTruncation, capBrokerCheckpoints, planTruncation, type TruncationPlan } from './kafka-log.js';
import { createTopicOnLab, labKafka, labUp, loadLabState, type CreateTopicSpec } from './lab.js';
import { ports, resolveWorkDir, type LabOptions } from './options.js';
import { pidAlive, signal } from './proc.js';
import {
  broker,
  brokerRegistration,
  brokerRunning,
  labZk,
  partitionState,
  portOpen,
  RETRIABLE_KAFKA_ERRORS,
  topicAssignment,
  waitBrokersRegistered,
  waitBrokersServing,
  waitPartitionsServed,
  waitTopicsHealthy,
  waitZkQuorum,
  zkNode,
  zkRunning,
} from './runtime.js';
import { withLabLock, writeState, type LabState } from './state.js';
// Nodes as containers (labs started with `containers: true`): these forward to runtime.ts otherwise.
import {
  killBrokerContainer,
  refreshContainerPids,
  startBrokerProc,
  startZkNode,
  stopBrokerProc,
  stopZkNode,
} from './containers.js';
import { waitFor } from './wait.js';
import { listOffset } from './wire.js';
import { zkMode, type ZkBrokerRegistration, type ZkPartitionState } from './zk.js';

export type LabRef = Pick<LabOptions, 'workDir'>;

function withState<T>(lab: LabRef, fn: (state: LabState) => Promise<T>): Promise<T> {
  return withLabLock(resolveWorkDir(lab), async () => {
    const state = loadLabState(lab);
    // In containers the engine may have restarted a node under a new pid: take the pids from the engine.
    if (state.options.containers) await refreshContainerPids(state);
    return fn(state);
  });
}

const DEFAULT_TIMEOUT = 60_000;

// ------------------------------------------------------------------------------------------ brokers

export interface KillBrokerOptions {
  /**
   * Also wait until ZooKeeper has dropped the broker's registration (its session expired:
   * zkSessionTimeoutMs, 6 s by default) and, if it was the controller, a new controller is elected.
   */
  waitUnregistered?: boolean;
  timeoutMs?: number;
}

/**
 * SIGKILL broker `id` (a crash: no controlled shutdown, unflushed data stays unflushed). Returns its old pid.
 * In a lab in containers the engine restarts the broker's container (restart policy unless-stopped).
 */
export function killBroker(lab: LabRef, id: number, opts: KillBrokerOptions = {}): Promise<number | null> {
  return withState(lab, async (state) => {
    if (state.options.containers) {
      // kill -9 of the container's process: the engine restarts it (RestartCount + 1), as in production.
      const killed = await killBrokerContainer(state, id, opts.timeoutMs);
      if (opts.waitUnregistered) await waitUnregistered(state, id, opts.timeoutMs);
      return killed;
    }
    const b = broker(state, id);
    const pid = brokerRunning(state, id) ? b.pid : null;
    await stopBrokerProc(state, id, 0);
    if (opts.waitUnregistered) await waitUnregistered(state, id, opts.timeoutMs);
    return pid;
  });
}

/** Stops broker `id` cleanly (SIGTERM: controlled shutdown moves its leaderships first). */
export function stopBroker(lab: LabRef, id: number, opts: { timeoutMs?: number } = {}): Promise<void> {
  return withState(lab, async (state) => {
    await stopBrokerProc(state, id, opts.timeoutMs ?? 30_000);
    await waitUnregistered(state, id, opts.timeoutMs);
  });
}

async function waitUnregistered(state: LabState, id: number, timeoutMs?: number): Promise<void> {
  await labZk(state, (zk) =>
    waitFor(
      async () => {
        if ((await brokerRegistration(zk, id)) !== null) return false;
        const c = await zk.getJson<{ brokerid: number }>('/controller');
        return c !== null && c.brokerid !== id;
      },
      {
        timeoutMs: timeoutMs ?? state.options.zkSessionTimeoutMs + 20_000,
        intervalMs: 200,
        what: `broker ${id} to leave /brokers/ids (and /controller)`,
      },
    ),
  );
}

/**
 * Starts broker `id` (no-op if it runs) and waits until it is registered; unless it advertises an unreachable
 * endpoint, also until it serves metadata that lists every running broker.
 */
export function startBroker(lab: LabRef, id: number, opts: { timeoutMs?: number } = {}): Promise<void> {
  return withState(lab, async (state) => {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT;
    await startBrokerProc(state, id);
    await waitBrokersRegistered(state, [id], timeoutMs);
    if (broker(state, id).advertisedOverride === null) {
      const serving = state.brokers
        .filter((b) => b.advertisedOverride === null && brokerRunning(state, b.id))
        .map((b) => b.id);
      await waitBrokersServing(state, serving, timeoutMs);
    }
  });
}

function isLoopbackListener(listener: string): boolean {
  const m = /^[A-Z_]+:\/\/([^:/]+|\[[^\]]+\]):(\d+)$/.exec(listener);
  if (!m) return false;
  const host = m[1] as string;
  return /^127\.\d+\.\d+\.\d+$/.test(host) || host === 'localhost' || host === '[::1]';
}

/**
 * Seed 001: restart broker `id` so that it listens on its real port but advertises `listener` (default
 * `PLAINTEXT://127.0.0.1:<port+1000>`, where nothing listens). The controller and clients then fail to connect
 * to it; ZooKeeper's /brokers/ids/<id> shows the bad endpoint. Only loopback listeners are accepted. Returns
 * the advertised listener. Undo with restoreAdvertisedListener (or healLab).
 */
export function restartBrokerWithAdvertisedListener(
  lab: LabRef,
  id: number,
  listener?: string,
  opts: { timeoutMs?: number } = {},
): Promise<string> {
  return withState(lab, async (state) => {
    const target = listener ?? `PLAINTEXT://127.0.0.1:${ports.unreachable(state.options, id)}`;
    if (!isLoopbackListener(target)) {
      throw new Error(
        `refusing to advertise ${target}: the lab only ever uses loopback addresses (127.x.x.x)`,
      );
    }
    const port = Number(target.slice(target.lastIndexOf(':') + 1));
    if (port === broker(state, id).port || (await portOpen(port))) {
      throw new Error(`${target} would be reachable (something listens on port ${port}): pick a closed port`);
    }
    await stopBrokerProc(state, id, 30_000);
    broker(state, id).advertisedOverride = target;
    writeState(state);
    await startBrokerProc(state, id);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT;
    await labZk(state, (zk) =>
      waitFor(
        async () => {
          if (!brokerRunning(state, id)) throw new Error(`broker ${id} exited`);
          return (await brokerRegistration(zk, id))?.endpoints.includes(target) ?? false;
        },
        { timeoutMs, intervalMs: 200, what: `broker ${id} to register with ${target}` },
      ),
    );
    return target;
  });
}

/** Undo restartBrokerWithAdvertisedListener: restart broker `id` with its real endpoint and wait until it serves. */
export function restoreAdvertisedListener(
  lab: LabRef,
  id: number,
  opts: { timeoutMs?: number } = {},
): Promise<void> {
  return withState(lab, async (state) => {
    const b = broker(state, id);
    if (b.advertisedOverride === null && brokerRunning(state, id)) return;
    await stopBrokerProc(state, id, 30_000);
    b.advertisedOverride = null;
    writeState(state);
    await startBroker(lab, id, opts);
  });
}

// ------------------------------------------------------------------------------------------ ZooKeeper

/**
 * Stops ZooKeeper node `n` (SIGTERM; SIGKILL with `{ kill: true }`). If the members still running are a
 * majority, waits until they serve again (a new leader is elected when `n` was the leader), so that the
 * ensemble is settled when this returns.
 */
export function stopZookeeper(
  lab: LabRef,
  n: number,
  opts: { kill?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  return withState(lab, async (state) => {
    await stopZkNode(state, n, opts.kill ? 0 : 10_000);
    const up = state.zookeeper.filter((z) => zkRunning(state, z.id));
    if (up.length * 2 > state.zookeeper.length) {
      await waitFor(
        async () => {
          const modes = await Promise.all(up.map((z) => zkMode(z.port, 1000)));
          return (
            modes.every((m) => m !== null) &&
            modes.filter((m) => m === 'leader' || m === 'standalone').length === 1
          );
        },
        {
          timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT,
          intervalMs: 100,
          what: `ZooKeeper members ${up.map((z) => z.id).join(', ')} to serve again without ${n}`,
        },
      );
    }
  });
}

/** Starts ZooKeeper node `n` and waits until it serves (rejoined the quorum as leader or follower). */
export function startZookeeper(lab: LabRef, n: number, opts: { timeoutMs?: number } = {}): Promise<void> {
  return withState(lab, async (state) => {
    await startZkNode(state, n);
    const port = zkNode(state, n).port;
    await waitFor(
      async () => {
        if (!zkRunning(state, n)) throw new Error(`ZooKeeper ${n} exited`);
        return (await zkMode(port, 1000)) !== null;
      },
      {
        timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT,
        intervalMs: 100,
        what: `ZooKeeper ${n} to serve again`,
      },
    );
  });
}

// ------------------------------------------------------------------------------------------ topics

/** Creates a topic (chosen replica assignment and configs allowed) and waits until its partitions have leaders. */
export function createTopic(
  lab: LabRef,
  spec: CreateTopicSpec,
  opts: { timeoutMs?: number } = {},
): Promise<void> {
  return withState(lab, async (state) => {
    await createTopicOnLab(state, spec);
    await waitPartitionsServed(state, spec.name, opts.timeoutMs ?? DEFAULT_TIMEOUT);
  });
}

/** Deletes a topic (the Admin API) and waits until ZooKeeper no longer lists it. */
export function deleteTopic(lab: LabRef, name: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  return withState(lab, async (state) => {
    const admin = labKafka(state).admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [name], timeout: 15_000 });
    } finally {
      await admin.disconnect();
    }
    await labZk(state, (zk) =>
      waitFor(async () => (await topicAssignment(zk, name)) === null, {
        timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT,
        intervalMs: 200,
        what: `topic ${name} to be deleted`,
      }),
    );
  });
}

export interface TruncationResult {
  topic: string;
  partition: number;
  offset: number;
  /** Replicas whose log was cut (all of them were stopped and started again). */
  replicas: number[];
  /** Log end offset of each replica before the cut. */
  previousEnds: Record<number, number>;
}

/**
 * Seed 000, "unflushed crash": the partition loses its tail back to `offset`. Kills every replica broker of the
 * partition (SIGKILL at once), cuts each replica's log back to the byte position of `offset` (it must be a batch
 * boundary: produce one record per send to be able to cut anywhere), deletes the index files of the cut segment
 * (Kafka rebuilds them), producer snapshots and leader-epoch entries past the cut, caps the high-watermark /
 * recovery-point / cleaner / log-start checkpoints, then starts the brokers again and waits until the partition
 * has a leader and a full ISR. Afterwards the high watermark is `offset`.
 * Other partitions on those brokers lose their leaders for a few seconds (they had unflushed data too, but
 * theirs is kept).
 */
export function truncatePartition(
  lab: LabRef,
  topic: string,
  partition: number,
  offset: number,
  opts: { timeoutMs?: number } = {},
): Promise<TruncationResult> {
  return withState(lab, async (state) => {
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const replicas = await labZk(state, async (zk) => (await topicAssignment(zk, topic))?.get(partition));
    if (!replicas) throw new Error(`no partition ${topic}/${partition} in ZooKeeper`);
    for (const id of replicas) broker(state, id); // all replicas must be lab brokers

    const target = BigInt(offset);
    const partitionDir = (id: number) =>
      join(brokerPaths(state.options, id).dataDir, `${topic}-${partition}`);
    const planAll = () => {
      const plans = new Map<number, TruncationPlan>();
      for (const id of replicas) {
        if (!readdirSync(brokerPaths(state.options, id).dataDir).includes(`${topic}-${partition}`)) {
          throw new Error(`broker ${id} has no folder ${partitionDir(id)}`);
        }
        plans.set(id, planTruncation(partitionDir(id), target));
      }
      return plans;
    };
    // Check the offset on the live files first: a bad offset must not crash anything.
    planAll();

    // A crash: every replica dies at once.
    const pids = replicas.map((id) => (brokerRunning(state, id) ? broker(state, id).pid : null));
    for (const pid of pids) if (pid !== null) signal(pid, 'SIGKILL');
    await Promise.all(replicas.map((id) => stopBrokerProc(state, id, 0)));
    for (const pid of pids)
      if (pid !== null && pidAlive(pid)) throw new Error(`broker process ${pid} survived SIGKILL`);

    const previousEnds: Record<number, number> = {};
    try {
      // Plan every replica again on the final files, then cut.
      const plans = planAll();
      for (const [id, plan] of plans) {
        applyTruncation(plan);
        capBrokerCheckpoints(
          brokerPaths(state.options, id).dataDir,
          topic,
          partition,
          target,
          plan.segment.baseOffset,
        );
        previousEnds[id] = Number(plan.previousEnd);
      }
    } finally {
      // Whatever happened, the brokers come back.
      await Promise.all(replicas.map((id) => startBrokerProc(state, id)));
    }
    await waitBrokersRegistered(state, replicas, timeoutMs);
    const serving = state.brokers
      .filter((b) => b.advertisedOverride === null && brokerRunning(state, b.id))
      .map((b) => b.id);
    await waitBrokersServing(state, serving, timeoutMs);
    await waitTopicsHealthy(state, timeoutMs, [topic]);
    await waitPartitionsServed(state, topic, timeoutMs);
    return { topic, partition, offset, replicas, previousEnds };
  });
}

// ------------------------------------------------------------------------------------------ reading the lab

/** ZooKeeper's state of a partition (/brokers/topics/T/partitions/P/state), or null. */
export function getPartitionState(
  lab: LabRef,
  topic: string,
  partition: number,
): Promise<ZkPartitionState | null> {
  return labZk(loadLabState(lab), (zk) => partitionState(zk, topic, partition));
}

/** ZooKeeper's registration of a broker (/brokers/ids/N), or null when it is not registered. */
export function getBrokerRegistration(lab: LabRef, id: number): Promise<ZkBrokerRegistration | null> {
  return labZk(loadLabState(lab), (zk) => brokerRegistration(zk, id));
}

/** The active controller's broker id from /controller, or null. */
export function getControllerId(lab: LabRef): Promise<number | null> {
  return labZk(
    loadLabState(lab),
    async (zk) => (await zk.getJson<{ brokerid: number }>('/controller'))?.brokerid ?? null,
  );
}

/**
 * The partition's high watermark, asked of its leader (per ZooKeeper) on the leader's real port; null when the
 * partition has no leader. While leadership moves (the broker does not lead it yet) it asks again, up to
 * `timeoutMs` (default 15 s).
 */
export async function getHighWatermark(
  lab: LabRef,
  topic: string,
  partition: number,
  opts: { timeoutMs?: number } = {},
): Promise<number | null> {
  const state = loadLabState(lab);
  return labZk(state, (zk) =>
    waitFor(
      async () => {
        const st = await partitionState(zk, topic, partition);
        if (!st || st.leader < 0) return { hw: null };
        const r = await listOffset(broker(state, st.leader).port, topic, partition, -1);
        if (r.errorCode === 0) return { hw: Number(r.offset) };
        if (RETRIABLE_KAFKA_ERRORS.has(r.errorCode)) return false;
        throw new KafkaError(
          `ListOffsets ${topic}/${partition} on broker ${st.leader}: error ${r.errorCode}`,
        );
      },
      {
        timeoutMs: opts.timeoutMs ?? 15_000,
        intervalMs: 100,
        what: `the leader of ${topic}/${partition} to answer ListOffsets`,
        isFatal: (e) => e instanceof KafkaError,
      },
    ),
  ).then((r) => r.hw);
}

class KafkaError extends Error {
  override readonly name = 'KafkaError';
}

// ------------------------------------------------------------------------------------------ healing

/**
 * Puts the lab back to healthy: every ZooKeeper node and broker runs with its normal settings (listener
 * overrides removed, dead processes restarted; labUp does the starting), the quorum is formed, and every
 * partition of every topic has a leader and a full ISR. Call it in afterEach/finally of every fault test.
 */
export function healLab(lab: LabRef, opts: { timeoutMs?: number } = {}): Promise<void> {
  const workDir = resolveWorkDir(lab);
  return withLabLock(workDir, async () => {
    const state = loadLabState(lab);
    const timeoutMs = opts.timeoutMs ?? 120_000;
    for (const b of state.brokers) {
      if (b.advertisedOverride !== null) {
        await stopBrokerProc(state, b.id, 30_000);
        b.advertisedOverride = null;
        writeState(state);
      }
    }
    await labUp({ workDir, timeoutMs });
    const fresh = loadLabState(lab);
    await waitZkQuorum(fresh, timeoutMs);
    await waitTopicsHealthy(fresh, timeoutMs);
  });
}
