/**
 * The local lab: a real ZooKeeper ensemble, Kafka brokers and a Redis server on 127.0.0.1, all data in one work
 * folder. labUp brings it up (idempotently: it completes a half-up lab and restarts dead processes), labDown
 * stops every process of it, labStatus says what runs.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { stringify } from 'yaml';
import { brokerPaths, log4jProperties, replication } from './configs.js';
import { ensureJars, jarsCached, jarsDir } from './jars.js';
import {
  DEFAULT_BASE_PORTS,
  ports,
  resolveLabOptions,
  resolveWorkDir,
  zookeeperConnect,
  type LabOptions,
  type ResolvedLabOptions,
} from './options.js';
import { cmdline, pidAlive, stopProcess } from './proc.js';
import {
  brokerRunning,
  labZk,
  redisRunning,
  startRedis,
  stopRedis,
  topicAssignment,
  waitBrokersRegistered,
  waitBrokersServing,
  waitTopicsHealthy,
  waitZkQuorum,
  zkRunning,
} from './runtime.js';
import { ensureSecurityMaterial, securityClusters, writeScramCredentials } from './security.js';
import { readState, withLabLock, writeState, type LabState } from './state.js';
import { waitFor } from './wait.js';
import { brokerMetadata } from './wire.js';
// Nodes as containers (labs started with `containers: true`): these forward to runtime.ts otherwise.
import {
  containerInventory,
  labContainersDown,
  labEngine,
  refreshContainerPidsFromProc,
  startBrokerProc,
  startZkNode,
  stopBrokerProc,
  stopZkNode,
} from './containers.js';
// Fabric orderers (labs started with `orderers: N`)
import { syncOrderers, stopLabOrderers } from './fabric/control.js';
import { ordererInventory, ordererStatuses, type OrdererStatus } from './fabric/orderers.js';

const { Kafka, logLevel } = kafkajs;

/** What `lab status --json` prints (the contract's shape, plus `running` flags and a few paths). */
export interface LabStatus {
  /** Path of the inventory written by labUp (a normal config file for every command). */
  inventory: string;
  workDir: string;
  kafkaVersion: string;
  /** True when every process of the lab runs. */
  running: boolean;
  zookeeper: { id: number; port: number; pid: number | null; running: boolean }[];
  brokers: {
    id: number;
    port: number;
    pid: number | null;
    running: boolean;
    /** Kafka's log.dirs: the partition folders (`<topic>-<partition>/`). */
    logDir: string;
    /** The broker's own log file (log4j; the controller's and state-change messages are in it too). */
    serverLog: string;
    /** The endpoint the broker advertises (differs from 127.0.0.1:port under the unreachable-listener fault). */
    advertisedListener: string;
  }[];
  redis: { port: number; pid: number | null; running: boolean } | null;
  /** Fabric orderers (empty unless the lab was started with `orderers`). */
  orderers: OrdererStatus[];
}

export type LabUpOptions = LabOptions;

export interface LabDownOptions extends Pick<LabOptions, 'workDir' | 'log'> {
  /** Also delete the work folder (data, logs, inventory). The jar cache is kept. Default false. */
  purge?: boolean;
  /**
   * SIGTERM first (controlled shutdown, clean logs) with this grace before SIGKILL. Default 20 s; with
   * `purge` the processes are killed at once unless this is given.
   */
  graceMs?: number;
}

export function inventoryPath(workDir: string): string {
  return join(workDir, 'inventory.yaml');
}

function kafkaLabPorts(o: ResolvedLabOptions): Record<string, number> {
  const {
    orderer: _o,
    ordererOperations: _p,
    ordererAdmin: _a,
    ...rest
  } = { ...DEFAULT_BASE_PORTS, ...o.basePorts };
  return rest;
}

function sameTopology(a: ResolvedLabOptions, b: ResolvedLabOptions): boolean {
  return (
    a.kafkaVersion === b.kafkaVersion &&
    a.scalaVersion === b.scalaVersion &&
    a.zookeeperNodes === b.zookeeperNodes &&
    a.brokers === b.brokers &&
    // (the orderers' ports are not the Kafka lab's topology: syncOrderers restarts orderers whose ports moved)
    JSON.stringify(kafkaLabPorts(a)) === JSON.stringify(kafkaLabPorts(b)) &&
    a.redis === b.redis &&
    Boolean(a.containers) === Boolean(b.containers) &&
    Boolean(a.security) === Boolean(b.security)
  );
}

function anyRunning(s: LabState): boolean {
  return (
    s.zookeeper.some((z) => zkRunning(s, z.id)) ||
    s.brokers.some((b) => brokerRunning(s, b.id)) ||
    redisRunning(s)
  );
}

function hasBrokerData(o: ResolvedLabOptions): boolean {
  for (let id = 1; id <= o.brokers; id++) {
    const d = brokerPaths(o, id).dataDir;
    if (existsSync(d) && readdirSync(d).length > 0) return true;
  }
  return false;
}

/** The state for `o`, keeping the pids and listener overrides of `prev` for nodes that still exist. */
function buildState(o: ResolvedLabOptions, prev: LabState | null): LabState {
  return {
    format: 1,
    options: o,
    jarsDir: jarsDir(o),
    zookeeper: Array.from({ length: o.zookeeperNodes }, (_, i) => {
      const id = i + 1;
      const old = prev?.zookeeper.find((z) => z.id === id);
      return { id, port: ports.zookeeper(o, id), pid: old?.pid ?? null };
    }),
    brokers: Array.from({ length: o.brokers }, (_, i) => {
      const id = i + 1;
      const old = prev?.brokers.find((b) => b.id === id);
      return {
        id,
        port: ports.kafka(o, id),
        pid: old?.pid ?? null,
        advertisedOverride: old?.advertisedOverride ?? null,
      };
    }),
    redis: o.redis ? { port: o.basePorts.redis, pid: prev?.redis?.pid ?? null } : null,
    updatedAt: new Date().toISOString(),
  };
}

/** Writes `<workDir>/inventory.yaml`: the contract's keys plus brokerIds, version and the channels. */
export function writeInventory(state: LabState): string {
  const o = state.options;
  const inventory: Record<string, unknown> = {
    defaultCluster: 'lab',
    clusters: {
      lab: {
        kafka: {
          brokers: state.brokers.map((b) => `127.0.0.1:${b.port}`),
          brokerIds: state.brokers.map((b) => b.id),
          version: o.kafkaVersion,
        },
        zookeeper: { connect: zookeeperConnect(o) },
        orderers: ordererInventory(o),
        channels: [...o.channels],
      },
      // A lab with `security`: one cluster per secured listener (src/lab/security.ts).
      ...(o.security
        ? securityClusters(
            o,
            state.brokers.map((b) => b.id),
          )
        : {}),
    },
  };
  if (o.redis) inventory['redis'] = { url: `redis://127.0.0.1:${o.basePorts.redis}` };
  // A lab in containers: its engine and which container runs which node.
  const inContainers = containerInventory(state);
  if (inContainers) {
    const lab = (inventory['clusters'] as { lab: Record<string, Record<string, unknown>> }).lab;
    lab['kafka']!['containers'] = inContainers.kafkaContainers;
    lab['zookeeper']!['containers'] = inContainers.zookeeperContainers;
    lab['docker'] = inContainers.docker;
  }
  const file = inventoryPath(o.workDir);
  writeFileSync(
    file,
    `# Written by fabric-opsbot's lab (labUp) for the local lab in ${o.workDir}.\n` +
      `# Kafka ${o.kafkaVersion}, ${o.zookeeperNodes} ZooKeeper node(s), ${o.brokers} broker(s), all on 127.0.0.1.\n` +
      stringify(inventory, { lineWidth: 0 }),
  );
  return file;
}

/** A kafkajs client for the lab's running brokers (those that advertise their real endpoint). */
export function labKafka(state: LabState, clientId = 'fabric-opsbot-lab'): InstanceType<typeof Kafka> {
  const brokers = state.brokers
    .filter((b) => b.advertisedOverride === null && brokerRunning(state, b.id))
    .map((b) => `127.0.0.1:${b.port}`);
  if (brokers.length === 0) throw new Error('no running broker of the lab advertises a reachable endpoint');
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 15_000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

export interface CreateTopicSpec {
  name: string;
  /** Default 1 (ignored when `replicaAssignment` is given). */
  partitions?: number;
  /** Default: the lab's default.replication.factor (ignored when `replicaAssignment` is given). */
  replicationFactor?: number;
  /** Replicas of partition 0, 1, ... (broker ids; the first is the preferred leader). */
  replicaAssignment?: number[][];
  /** Topic configs, e.g. { 'min.insync.replicas': 1 }. */
  configs?: Record<string, string | number | boolean>;
}

/** Creates a topic through the Admin API (CreateTopics works on Kafka 1.0 and 3.9); false if it existed. */
export async function createTopicOnLab(state: LabState, spec: CreateTopicSpec): Promise<boolean> {
  const admin = labKafka(state).admin();
  await admin.connect();
  try {
    const configEntries = Object.entries(spec.configs ?? {}).map(([name, value]) => ({
      name,
      value: String(value),
    }));
    const topic = spec.replicaAssignment
      ? {
          topic: spec.name,
          replicaAssignment: spec.replicaAssignment.map((replicas, partition) => ({ partition, replicas })),
          configEntries,
        }
      : {
          topic: spec.name,
          numPartitions: spec.partitions ?? 1,
          replicationFactor: spec.replicationFactor ?? replication(state.options).rf,
          configEntries,
        };
    return await admin.createTopics({ topics: [topic], waitForLeaders: false, timeout: 15_000 });
  } catch (err) {
    const e = err as { type?: string; errors?: { type?: string }[] };
    if (e.type === 'TOPIC_ALREADY_EXISTS' || e.errors?.every((x) => x.type === 'TOPIC_ALREADY_EXISTS'))
      return false;
    throw err;
  } finally {
    await admin.disconnect();
  }
}

/** The Fabric channel topics: 1 partition, RF 3, min ISR 2, no unclean election, infinite retention. */
async function ensureChannelTopics(state: LabState): Promise<void> {
  const o = state.options;
  const { rf, minIsr } = replication(o);
  const missing = await labZk(state, async (zk) => {
    const out: string[] = [];
    for (const ch of o.channels) if ((await topicAssignment(zk, ch)) === null) out.push(ch);
    return out;
  });
  for (const ch of missing) {
    await createTopicOnLab(state, {
      name: ch,
      partitions: 1,
      replicationFactor: rf,
      configs: { 'min.insync.replicas': minIsr, 'unclean.leader.election.enable': false, 'retention.ms': -1 },
    });
  }
  if (o.channels.length > 0) {
    await waitTopicsHealthy(state, o.timeoutMs, o.channels);
    // ZooKeeper has the state before the controller has told every broker: wait until each broker answering
    // at its real address knows the channel topics and their leader (clients ask brokers, not ZooKeeper).
    const serving = state.brokers.filter((b) => b.advertisedOverride === null && brokerRunning(state, b.id));
    await waitFor(
      async () => {
        for (const b of serving) {
          const md = await brokerMetadata(b.port, o.channels).catch(() => null);
          const ok = md?.topics.every(
            (t) => t.errorCode === 0 && t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0),
          );
          if (!ok || md?.topics.length !== o.channels.length) return false;
        }
        return true;
      },
      {
        timeoutMs: o.timeoutMs,
        intervalMs: 200,
        what: `every broker to know ${o.channels.join(', ')} and their leaders`,
      },
    );
  }
}

/**
 * Brings the lab up and returns its status. Idempotent: processes that run are kept, dead ones are restarted
 * (a broker under the unreachable-listener fault keeps that fault: see restoreAdvertisedListener), missing
 * channel topics are created. Fetches the Kafka jars with Maven when they are not cached. Throws if a lab with
 * another version/topology runs in the same work folder (labDown first), or if a process cannot start (its
 * log's last lines are in the message; the processes already started are left running for inspection: call
 * labDown).
 */
export async function labUp(opts: LabUpOptions = {}): Promise<LabStatus> {
  const workDir = resolveWorkDir(opts);
  const log = opts.log ?? (() => undefined);
  return withLabLock(workDir, async () => {
    const t0 = Date.now();
    const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    const prev = readState(workDir);
    const o = resolveLabOptions(opts, prev?.options);
    if (prev && !sameTopology(prev.options, o)) {
      if (anyRunning(prev)) {
        throw new Error(
          `a lab with Kafka ${prev.options.kafkaVersion}, ${prev.options.zookeeperNodes} ZooKeeper node(s) and ` +
            `${prev.options.brokers} broker(s) runs in ${workDir}: run labDown first`,
        );
      }
      if (prev.options.kafkaVersion !== o.kafkaVersion && hasBrokerData(o)) {
        throw new Error(
          `${workDir} holds data of Kafka ${prev.options.kafkaVersion}; run labDown with purge to start Kafka ${o.kafkaVersion}`,
        );
      }
    }
    const state = buildState(o, prev);
    mkdirSync(workDir, { recursive: true });
    writeFileSync(join(workDir, 'log4j.properties'), log4jProperties());
    writeState(state);

    if (!jarsCached(o))
      log(`Kafka ${o.kafkaVersion} jars not cached for this lab/pom.xml: scripts/fetch-kafka.sh`);
    const redisUp = startRedis(state, 30_000).then(() => log(`redis up after ${since()}`));
    redisUp.catch(() => undefined); // awaited below
    state.jarsDir = await ensureJars(o);
    if (o.containers) await labEngine(state, log); // the lab's own podman engine (src/lab/containers.ts)
    const security = o.security ? await ensureSecurityMaterial(o) : null;

    await Promise.all(state.zookeeper.map((z) => startZkNode(state, z.id)));
    await waitZkQuorum(state, o.timeoutMs);
    log(`zookeeper quorum after ${since()}`);
    if (security) await labZk(state, (zk) => writeScramCredentials(zk, security));

    const ids = state.brokers.map((b) => b.id);
    await Promise.all(ids.map((id) => startBrokerProc(state, id)));
    await waitBrokersRegistered(state, ids, o.timeoutMs);
    log(`brokers registered after ${since()}`);
    const reachable = state.brokers.filter((b) => b.advertisedOverride === null).map((b) => b.id);
    await waitBrokersServing(state, reachable, o.timeoutMs);
    log(`brokers serving metadata after ${since()}`);

    await ensureChannelTopics(state);
    log(`channel topics ready after ${since()}`);
    await redisUp;
    // Fabric orderers: started (or stopped) to match `orderers`; they create the lab's channels.
    await syncOrderers(o, log);
    writeInventory(state);
    writeState(state);
    log(`lab up in ${since()}`);
    return statusOf(state);
  });
}

/** Every process whose command line names the work folder (catches processes a lost lab.json forgot). */
function strayProcesses(workDir: string): number[] {
  if (!existsSync('/proc')) return [];
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const cl = cmdline(pid);
    if (cl.includes(`${workDir}/`) && /\bjava\b/.test(cl.split(' ')[0] ?? '') && pidAlive(pid)) out.push(pid);
  }
  return out;
}

/**
 * Stops every process of the lab (brokers, then ZooKeeper, then Redis: SIGTERM, wait, SIGKILL) and checks
 * that none is left. Keeps the data unless `purge`.
 */
export async function labDown(opts: LabDownOptions = {}): Promise<void> {
  const workDir = resolveWorkDir(opts);
  const log = opts.log ?? (() => undefined);
  await withLabLock(workDir, async () => {
    const state = readState(workDir);
    const graceMs = opts.graceMs ?? (opts.purge ? 0 : 20_000);
    // Orderers first: they are Kafka's clients.
    await stopLabOrderers(workDir, Math.min(graceMs, 10_000));
    // Containers: stopped through the API, removed, the engine stopped (src/lab/containers.ts).
    if (state?.options.containers) await labContainersDown(state, graceMs, log);
    if (state) {
      await Promise.all(state.brokers.map((b) => stopBrokerProc(state, b.id, graceMs)));
      log('brokers stopped');
      await Promise.all(state.zookeeper.map((z) => stopZkNode(state, z.id, Math.min(graceMs, 10_000))));
      log('zookeeper stopped');
      await stopRedis(state);
    }
    for (const pid of strayProcesses(workDir)) {
      log(`stopping stray lab process ${pid}`);
      await stopProcess(pid, { graceMs: Math.min(graceMs, 5000) });
    }
    const redisPidFile = join(workDir, 'redis', 'redis.pid');
    if (existsSync(redisPidFile)) {
      const pid = Number.parseInt(readFileSync(redisPidFile, 'utf8'), 10);
      if (pidAlive(pid) && cmdline(pid).startsWith('redis-server')) await stopProcess(pid, { graceMs: 5000 });
    }
    const left = strayProcesses(workDir);
    if (left.length > 0) throw new Error(`lab processes still running after labDown: ${left.join(', ')}`);
    if (opts.purge) {
      for (const e of readdirSync(workDir))
        if (e !== 'lab.lock') rmSync(join(workDir, e), { recursive: true, force: true });
    }
  });
  if (opts.purge) rmSync(workDir, { recursive: true, force: true });
}

function statusOf(state: LabState): LabStatus {
  const o = state.options;
  const zookeeper = state.zookeeper.map((z) => {
    const running = zkRunning(state, z.id);
    return { id: z.id, port: z.port, pid: running ? z.pid : null, running };
  });
  const brokers = state.brokers.map((b) => {
    const running = brokerRunning(state, b.id);
    const p = brokerPaths(o, b.id);
    return {
      id: b.id,
      port: b.port,
      pid: running ? b.pid : null,
      running,
      logDir: p.dataDir,
      serverLog: p.serverLog,
      advertisedListener: b.advertisedOverride ?? `PLAINTEXT://127.0.0.1:${b.port}`,
    };
  });
  const redis =
    state.redis === null
      ? null
      : {
          port: state.redis.port,
          pid: redisRunning(state) ? state.redis.pid : null,
          running: redisRunning(state),
        };
  const orderers = ordererStatuses(o);
  return {
    inventory: inventoryPath(o.workDir),
    workDir: o.workDir,
    kafkaVersion: o.kafkaVersion,
    running:
      zookeeper.every((z) => z.running) &&
      brokers.every((b) => b.running) &&
      (redis === null || redis.running) &&
      orderers.every((x) => x.running),
    zookeeper,
    brokers,
    redis,
    orderers,
  };
}

/** What runs of the lab in `workDir` (read-only; a folder without lab.json gives empty lists). */
export function labStatus(opts: Pick<LabOptions, 'workDir'> = {}): LabStatus {
  const workDir = resolveWorkDir(opts);
  const state = readState(workDir);
  if (!state) {
    return {
      inventory: inventoryPath(workDir),
      workDir,
      kafkaVersion: resolveLabOptions({ workDir }).kafkaVersion,
      running: false,
      zookeeper: [],
      brokers: [],
      redis: null,
      orderers: [],
    };
  }
  refreshContainerPidsFromProc(state); // a container the engine restarted runs under a new pid
  return statusOf(state);
}

/** The lab's recorded state (throws when there is no lab in that folder). */
export function loadLabState(opts: Pick<LabOptions, 'workDir'> = {}): LabState {
  const workDir = resolveWorkDir(opts);
  const state = readState(workDir);
  if (!state) throw new Error(`no lab in ${workDir} (no lab.json): run labUp first`);
  return state;
}
