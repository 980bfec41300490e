/**
 * Starting, stopping and waiting for the lab's processes, one at a time. These work on a LabState and do not
 * take the lab lock: labUp/labDown and the faults do.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import {
  brokerCommand,
  brokerPaths,
  brokerSettings,
  serverProperties,
  zkCommand,
  zkPaths,
  zooCfg,
} from './configs.js';
import { zookeeperConnect, type ResolvedLabOptions } from './options.js';
import { isOurProcess, pidAlive, spawnDetached, stopProcess } from './proc.js';
import type { BrokerState, LabState, ZkNodeState } from './state.js';
import { writeState } from './state.js';
import { waitFor } from './wait.js';
import { brokerMetadata, listOffset } from './wire.js';
import { withZk, zkMode, type LabZk, type ZkBrokerRegistration, type ZkPartitionState } from './zk.js';

// ------------------------------------------------------------------------------------------ small helpers

/** The last `lines` lines of a text file ('' when it does not exist). */
export function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8');
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    const done = (v: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function assertPortFree(port: number, what: string): Promise<void> {
  if (await portOpen(port)) {
    throw new Error(`cannot start ${what}: port ${port} on 127.0.0.1 is already in use by another process`);
  }
}

function zkMarker(o: ResolvedLabOptions, n: number): string {
  return zkPaths(o, n).config;
}

function brokerMarker(o: ResolvedLabOptions, id: number): string {
  return brokerPaths(o, id).config;
}

function redisMarker(port: number): string {
  return `:${port}`;
}

export function zkNode(state: LabState, n: number): ZkNodeState {
  const z = state.zookeeper.find((x) => x.id === n);
  if (!z)
    throw new Error(
      `the lab has no ZooKeeper node ${n} (it has ${state.zookeeper.map((x) => x.id).join(', ')})`,
    );
  return z;
}

export function broker(state: LabState, id: number): BrokerState {
  const b = state.brokers.find((x) => x.id === id);
  if (!b)
    throw new Error(`the lab has no broker ${id} (it has ${state.brokers.map((x) => x.id).join(', ')})`);
  return b;
}

export function zkRunning(state: LabState, n: number): boolean {
  return isOurProcess(zkNode(state, n).pid, zkMarker(state.options, n));
}

export function brokerRunning(state: LabState, id: number): boolean {
  return isOurProcess(broker(state, id).pid, brokerMarker(state.options, id));
}

export function redisRunning(state: LabState): boolean {
  return state.redis !== null && isOurProcess(state.redis.pid, redisMarker(state.redis.port));
}

/** The lab's ZooKeeper connect string. */
export function connectString(state: LabState): string {
  return zookeeperConnect(state.options);
}

/** Runs `fn` with a ZooKeeper session on the lab's ensemble. */
export function labZk<T>(state: LabState, fn: (zk: LabZk) => Promise<T>, timeoutMs = 10_000): Promise<T> {
  return withZk(connectString(state), fn, timeoutMs);
}

/** A lab process died while the lab waited for it: no point waiting longer. */
export class ProcessExited extends Error {
  override readonly name = 'ProcessExited';
}

const isFatal = (err: unknown): boolean => err instanceof ProcessExited;

// ------------------------------------------------------------------------------------------ ZooKeeper

export async function startZkNode(state: LabState, n: number): Promise<void> {
  const o = state.options;
  const node = zkNode(state, n);
  if (zkRunning(state, n)) return;
  const p = zkPaths(o, n);
  mkdirSync(p.dataDir, { recursive: true });
  writeFileSync(p.config, zooCfg(o, n));
  writeFileSync(join(p.dataDir, 'myid'), `${n}\n`);
  await assertPortFree(node.port, `ZooKeeper ${n}`);
  node.pid = await spawnDetached(o.javaBin, zkCommand(o, n, state.jarsDir), {
    cwd: p.dir,
    outFile: p.outFile,
  });
  writeState(state);
}

export async function stopZkNode(state: LabState, n: number, graceMs = 10_000): Promise<void> {
  const node = zkNode(state, n);
  if (node.pid !== null && zkRunning(state, n)) {
    await stopProcess(node.pid, { graceMs, what: `ZooKeeper ${n}` });
  }
  node.pid = null;
  writeState(state);
}

function zkFailure(state: LabState, n: number): Error {
  const p = zkPaths(state.options, n);
  return new ProcessExited(
    `ZooKeeper ${n} exited during start; last lines of ${p.logFile}:\n${tail(p.logFile) || tail(p.outFile)}`,
  );
}

/**
 * Waits until every running ZooKeeper node serves requests (`srvr` answers with a mode) and, for an ensemble,
 * exactly one of them is the leader.
 */
export async function waitZkQuorum(state: LabState, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const modes = await Promise.all(
        state.zookeeper.map(async (z) => {
          if (!zkRunning(state, z.id)) throw zkFailure(state, z.id);
          return zkMode(z.port, 1000);
        }),
      );
      if (modes.some((m) => m === null)) return false;
      if (state.zookeeper.length === 1) return true;
      return modes.filter((m) => m === 'leader').length === 1;
    },
    { timeoutMs, intervalMs: 100, what: 'the ZooKeeper ensemble to form a quorum', isFatal },
  );
}

// ------------------------------------------------------------------------------------------ brokers

/** Registration of a broker in /brokers/ids, or null. */
export function brokerRegistration(zk: LabZk, id: number): Promise<ZkBrokerRegistration | null> {
  return zk.getJson<ZkBrokerRegistration>(`/brokers/ids/${id}`);
}

function brokerFailure(state: LabState, id: number): Error {
  const p = brokerPaths(state.options, id);
  return new ProcessExited(
    `broker ${id} exited during start; last lines of ${p.serverLog}:\n${tail(p.serverLog) || tail(p.outFile)}`,
  );
}

/**
 * Starts broker `id` (if it is not running) with the advertised listener recorded in the state. If the previous
 * process of this broker was killed, its ephemeral registration lingers until its ZooKeeper session expires and
 * a new broker would refuse to start ("already registered"): wait for it to go first.
 */
export async function startBrokerProc(state: LabState, id: number): Promise<void> {
  const o = state.options;
  const b = broker(state, id);
  if (brokerRunning(state, id)) return;
  const p = brokerPaths(o, id);
  mkdirSync(p.dataDir, { recursive: true });
  await labZk(state, (zk) =>
    waitFor(async () => (await brokerRegistration(zk, id)) === null, {
      timeoutMs: o.zkSessionTimeoutMs + 15_000,
      intervalMs: 200,
      what: `the stale registration /brokers/ids/${id} of a killed broker to expire`,
    }),
  );
  writeFileSync(p.config, serverProperties(brokerSettings(o, id, b.advertisedOverride)));
  await assertPortFree(b.port, `broker ${id}`);
  b.pid = await spawnDetached(o.javaBin, brokerCommand(o, id, state.jarsDir), {
    cwd: p.dir,
    outFile: p.outFile,
  });
  writeState(state);
}

/** Stops broker `id`: SIGTERM (controlled shutdown) then SIGKILL after `graceMs`; graceMs 0 = SIGKILL. */
export async function stopBrokerProc(state: LabState, id: number, graceMs = 20_000): Promise<void> {
  const b = broker(state, id);
  if (b.pid !== null && brokerRunning(state, id)) {
    await stopProcess(b.pid, { graceMs, what: `broker ${id}` });
  }
  b.pid = null;
  writeState(state);
}

/** Waits until the brokers are registered in /brokers/ids by their running processes. */
export async function waitBrokersRegistered(
  state: LabState,
  ids: number[],
  timeoutMs: number,
): Promise<void> {
  if (ids.length === 0) return;
  await labZk(state, (zk) =>
    waitFor(
      async () => {
        for (const id of ids) if (!brokerRunning(state, id)) throw brokerFailure(state, id);
        const registered = (await zk.children('/brokers/ids')) ?? [];
        return ids.every((id) => registered.includes(String(id)));
      },
      { timeoutMs, intervalMs: 200, what: `brokers ${ids.join(', ')} to register in /brokers/ids`, isFatal },
    ),
  );
}

/**
 * Waits until the brokers answer Metadata on their own port and each of them knows every broker in `ids`
 * (i.e. the controller has sent them the cluster's metadata).
 */
export async function waitBrokersServing(state: LabState, ids: number[], timeoutMs: number): Promise<void> {
  const all = state.brokers.filter((b) => ids.includes(b.id));
  await waitFor(
    async () => {
      for (const b of all) if (!brokerRunning(state, b.id)) throw brokerFailure(state, b.id);
      const answers = await Promise.all(all.map((b) => brokerMetadata(b.port, [], 2000)));
      return answers.every((md) => ids.every((id) => md.brokers.some((x) => x.id === id)));
    },
    {
      timeoutMs,
      intervalMs: 200,
      what: `brokers ${ids.join(', ')} to answer metadata with the whole cluster`,
      isFatal,
    },
  );
}

// ------------------------------------------------------------------------------------------ topics

/** Partition state from ZooKeeper, or null when the partition has none (yet). */
export function partitionState(
  zk: LabZk,
  topic: string,
  partition: number,
): Promise<ZkPartitionState | null> {
  return zk.getJson<ZkPartitionState>(`/brokers/topics/${topic}/partitions/${partition}/state`);
}

/** The replica assignment of a topic from /brokers/topics/T: partition -> replicas; null when no such topic. */
export async function topicAssignment(zk: LabZk, topic: string): Promise<Map<number, number[]> | null> {
  const t = await zk.getJson<{ partitions: Record<string, number[]> }>(`/brokers/topics/${topic}`);
  if (!t) return null;
  return new Map(Object.entries(t.partitions).map(([p, r]) => [Number(p), r]));
}

/**
 * Waits until every partition of `topics` (all topics when omitted) has a leader and all its replicas in ISR,
 * as ZooKeeper says.
 */
export async function waitTopicsHealthy(
  state: LabState,
  timeoutMs: number,
  topics?: string[],
): Promise<void> {
  await labZk(state, (zk) =>
    waitFor(
      async () => {
        const names = topics ?? (await zk.children('/brokers/topics')) ?? [];
        for (const t of names) {
          const assignment = await topicAssignment(zk, t);
          if (!assignment) return false;
          for (const [p, replicas] of assignment) {
            const st = await partitionState(zk, t, p);
            if (!st || st.leader < 0) return false;
            if (!replicas.every((r) => st.isr.includes(r))) return false;
          }
        }
        return true;
      },
      {
        timeoutMs,
        intervalMs: 250,
        what: `${topics ? topics.join(', ') : 'every topic'} to have leaders and full ISRs`,
      },
    ),
  );
}

/** Kafka error codes that mean "leadership is moving, ask again": not yet a failure. */
export const RETRIABLE_KAFKA_ERRORS: ReadonlySet<number> = new Set([3, 5, 6]);

/**
 * Waits until every partition of `topic` has a leader in ZooKeeper and that leader answers ListOffsets for it
 * (ZooKeeper shows a new leader slightly before the broker has taken the leadership).
 */
export async function waitPartitionsServed(state: LabState, topic: string, timeoutMs: number): Promise<void> {
  await labZk(state, (zk) =>
    waitFor(
      async () => {
        const a = await topicAssignment(zk, topic);
        if (!a) return false;
        for (const p of a.keys()) {
          const st = await partitionState(zk, topic, p);
          if (!st || st.leader < 0) return false;
          const r = await listOffset(broker(state, st.leader).port, topic, p, -1, 2000);
          if (r.errorCode !== 0) return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 100, what: `the leaders of ${topic} to serve it` },
    ),
  );
}

// ------------------------------------------------------------------------------------------ Redis

function redisDir(o: ResolvedLabOptions): string {
  return join(o.workDir, 'redis');
}

function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

async function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    let acc = '';
    const done = (v: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), 1000);
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (c: Buffer) => {
      acc += c.toString('utf8');
      if (acc.includes('\r\n')) done(acc.startsWith('+PONG'));
    });
    s.once('error', () => done(false));
  });
}

export async function startRedis(state: LabState, timeoutMs: number): Promise<void> {
  const o = state.options;
  if (!o.redis) return;
  const port = o.basePorts.redis;
  state.redis ??= { port, pid: null };
  if (redisRunning(state)) return;
  const dir = redisDir(o);
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'redis.pid');
  await assertPortFree(port, 'redis-server');
  // redis-server daemonizes itself: the pid comes from its pid file.
  await run('redis-server', [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'yes',
    '--dir',
    dir,
    '--pidfile',
    pidFile,
    '--logfile',
    join(dir, 'redis.log'),
  ]);
  const pid = await waitFor(
    async () => {
      if (!existsSync(pidFile)) return false;
      const n = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
      return Number.isInteger(n) && pidAlive(n) && (await redisPing(port)) ? n : false;
    },
    { timeoutMs, intervalMs: 50, what: `redis-server on port ${port} to answer PING` },
  );
  state.redis = { port, pid };
  writeState(state);
}

export async function stopRedis(state: LabState): Promise<void> {
  if (state.redis === null) return;
  if (state.redis.pid !== null && redisRunning(state)) {
    // SIGTERM: Redis fsyncs the AOF and exits.
    await stopProcess(state.redis.pid, { graceMs: 10_000, what: 'redis-server' });
  }
  state.redis.pid = null;
  writeState(state);
}
