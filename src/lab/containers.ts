/**
 * The lab in containers (`labUp({ containers: true })`, `lab up --containers`; issue 6): every ZooKeeper node
 * and broker runs as a real container on a podman engine the lab starts itself (scripts/podman-up.sh with
 * BASE `<workDir>/podman`, Docker Engine API on `<workDir>/podman/podman.sock`), through src/docker/hostproc.ts:
 * host network, the host's /usr (java) and the Kafka jars bind-mounted read-only, the node's own folder
 * bind-mounted read-write at the same path, restart policy unless-stopped. Containers are named `lab-kafka-N`
 * and `lab-zookeeper-N`; the inventory then has `docker.endpoints.lab` and `kafka.containers` /
 * `zookeeper.containers`, so the same scenarios exercise the container paths of the tool.
 *
 * The lab keeps working on pids: a container's State.Pid is the host pid of its java (or of the broker's small
 * start script, which execs java), whose command line names the node's config file like a plain lab process.
 * So the existing faults hold: killBroker = kill -9 of that pid and the engine restarts the container
 * (RestartCount 1); stopping goes through the API (a stop the engine did not see would count as a crash and be
 * restarted); labDown stops the containers, removes them, stops the engine and ends leftover conmon processes.
 *
 * A broker killed with -9 keeps its registration in ZooKeeper until its session expires; a broker restarted
 * before that refuses to start ("node already exists"). The start script therefore waits for the session
 * timeout when the broker's log dir shows no clean shutdown (Kafka's `.kafka_cleanshutdown`), so the engine's
 * one restart suffices. Logs go to the container's stdout as well as to server.log / zookeeper.log, as
 * containerised Kafka does, so signatures are read through the Docker logs API.
 *
 * startZkNode / stopZkNode / startBrokerProc / stopBrokerProc here have runtime.ts's signatures and forward to
 * it for a lab without containers: lab.ts and faults.ts import them from here.
 */
import { execFile } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import type { ContainerInspectInfo } from 'dockerode';
import { socketClient, type DockerClient } from '../docker/client.js';
import { stopContainer } from '../docker/actions.js';
import { ensureHostImage, runHostProcess, type HostProcessSpec } from '../docker/hostproc.js';
import { NotFoundError, describeError } from '../errors/index.js';
import {
  brokerCommand,
  brokerPaths,
  brokerSettings,
  serverProperties,
  zkCommand,
  zkPaths,
  zooCfg,
} from './configs.js';
import { repoRoot, zookeeperConnect, type ResolvedLabOptions } from './options.js';
import { cmdline, isOurProcess, pidAlive, signal } from './proc.js';
import * as runtime from './runtime.js';
import { broker, brokerRegistration, labZk, portOpen, zkNode } from './runtime.js';
import { writeState, type LabState } from './state.js';
import { waitFor } from './wait.js';

/** Name of the Docker endpoint in the inventory the lab writes. */
export const LAB_DOCKER_ENDPOINT = 'lab';
/** Label on every lab container: the work folder it belongs to. */
export const LAB_CONTAINER_LABEL = 'fabric-opsbot.lab';

export const kafkaContainerName = (id: number): string => `lab-kafka-${id}`;
export const zookeeperContainerName = (n: number): string => `lab-zookeeper-${n}`;

/** The engine's folder (podman-up.sh BASE): storage, run dir, the API socket. */
export function engineBase(workDir: string): string {
  return join(workDir, 'podman');
}

export function engineSocket(workDir: string): string {
  return join(engineBase(workDir), 'podman.sock');
}

function containersOn(o: Pick<ResolvedLabOptions, 'containers'>): boolean {
  return o.containers === true;
}

// ------------------------------------------------------------------------------------------ the engine

const engines = new Map<string, Promise<DockerClient>>();

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((res, rej) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${[cmd, ...args].join(' ')}: ${(stderr || stdout).trim() || err.message}`));
      else res(stdout);
    });
  });
}

/**
 * The lab's engine, started when it does not answer (installs podman on first use, like the test helper), with
 * the host-process image imported. One start at a time per work folder in this process.
 */
export async function labEngine(state: LabState, log?: (line: string) => void): Promise<DockerClient> {
  const workDir = state.options.workDir;
  const cached = engines.get(workDir);
  if (cached) {
    const client = await cached;
    if ((await client.ping(3000)).ok) return client;
    engines.delete(workDir); // stopped behind our back (podman-down.sh, a reboot): start it again
  }
  let p = engines.get(workDir);
  if (!p) {
    p = (async () => {
      const sock = engineSocket(workDir);
      if (sock.length > 100) {
        throw new Error(
          `the lab's container engine socket ${sock} is longer than a unix socket path may be: use a shorter workDir`,
        );
      }
      const client = socketClient(sock, 30_000, LAB_DOCKER_ENDPOINT);
      if (!(await client.ping(3000)).ok) {
        const t0 = Date.now();
        await run('bash', [join(repoRoot(), 'scripts', 'podman-up.sh'), engineBase(workDir)], 600_000);
        log?.(`container engine (podman) up after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      }
      await ensureHostImage(client);
      return client;
    })();
    engines.set(workDir, p);
    p.catch(() => engines.delete(workDir));
  }
  return p;
}

/** The engine's client when it answers now, else null (never starts it). */
async function engineIfUp(state: LabState): Promise<DockerClient | null> {
  if (!existsSync(engineSocket(state.options.workDir))) return null;
  const client = socketClient(engineSocket(state.options.workDir), 30_000, LAB_DOCKER_ENDPOINT);
  return (await client.ping(3000)).ok ? client : null;
}

async function inspectOrNull(client: DockerClient, name: string): Promise<ContainerInspectInfo | null> {
  try {
    return await client.inspect(name);
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}

// ------------------------------------------------------------------------------------------ container specs

/** An absolute path for the configured java launcher (`java` is looked up in PATH). */
export function javaPath(javaBin: string): string {
  if (javaBin.includes('/')) return resolve(javaBin);
  for (const d of (process.env['PATH'] ?? '/usr/bin:/bin').split(delimiter)) {
    const p = join(d, javaBin);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  throw new Error(`cannot find ${javaBin} in PATH for the lab's containers`);
}

/** Read-only binds beyond the host's /usr etc.: the jars, and the JDK when it lives outside /usr. */
function extraReadOnly(state: LabState, java: string): string[] {
  const out = [realpathSync(state.jarsDir)];
  const real = realpathSync(java);
  if (!real.startsWith('/usr/')) out.push(dirname(dirname(real)));
  if (!java.startsWith('/usr/') && dirname(java) !== dirname(real)) out.push(dirname(java));
  return [...new Set(out)];
}

/** log4j for containers: the lab's file appender plus stdout, so `docker logs` has the lines. */
export function containerLog4jProperties(): string {
  return [
    '# Written by fabric-opsbot lab for its containers: one log file per process (-Dlab.log.file) and stdout.',
    'log4j.rootLogger=INFO, file, stdout',
    'log4j.appender.file=org.apache.log4j.RollingFileAppender',
    'log4j.appender.file.File=${lab.log.file}',
    'log4j.appender.file.MaxFileSize=50MB',
    'log4j.appender.file.MaxBackupIndex=2',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
    'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.kafka.controller=INFO',
    'log4j.logger.state.change.logger=INFO',
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.kafka.authorizer.logger=WARN',
    'log4j.logger.org.apache.zookeeper=INFO',
    '',
  ].join('\n');
}

function containerLog4jFile(o: ResolvedLabOptions): string {
  const f = join(o.workDir, 'log4j-containers.properties');
  writeFileSync(f, containerLog4jProperties());
  return f;
}

/**
 * The broker's start script: after a crash (log dir initialised, no clean-shutdown file) wait out the old
 * ZooKeeper session, unless the lab already did (`.lab-no-wait`, consumed); then exec java (same pid).
 */
export const BROKER_START_SCRIPT = `dir=$1; data=$2; wait_s=$3; shift 3
if [ -e "$dir/.lab-no-wait" ]; then
  rm -f "$dir/.lab-no-wait"
elif [ -e "$data/meta.properties" ] && [ ! -e "$data/.kafka_cleanshutdown" ]; then
  echo "lab: the broker did not shut down cleanly; waiting $wait_s s for its old ZooKeeper session to expire"
  trap 'exit 143' TERM INT
  sleep "$wait_s" &
  wait $!
  trap - TERM INT
fi
exec "$@"
`;

function labels(o: ResolvedLabOptions, role: string, node: number): Record<string, string> {
  return {
    [LAB_CONTAINER_LABEL]: o.workDir,
    [`${LAB_CONTAINER_LABEL}.role`]: role,
    [`${LAB_CONTAINER_LABEL}.node`]: String(node),
  };
}

export function zookeeperSpec(state: LabState, n: number): HostProcessSpec {
  const o = state.options;
  const p = zkPaths(o, n);
  const java = javaPath(o.javaBin);
  return {
    name: zookeeperContainerName(n),
    command: [java, ...zkCommand(o, n, state.jarsDir)],
    dataDir: p.dir,
    readOnly: extraReadOnly(state, java),
    binds: [`${containerLog4jFile(o)}:${join(o.workDir, 'log4j.properties')}:ro`],
    labels: labels(o, 'zookeeper', n),
    restartPolicy: 'unless-stopped',
    stopTimeoutSeconds: 10,
  };
}

export function brokerSpec(state: LabState, id: number): HostProcessSpec {
  const o = state.options;
  const p = brokerPaths(o, id);
  const java = javaPath(o.javaBin);
  const waitS = Math.ceil(o.zkSessionTimeoutMs / 1000) + 1;
  return {
    name: kafkaContainerName(id),
    command: [
      '/bin/sh',
      '-c',
      BROKER_START_SCRIPT,
      'lab-kafka-start',
      p.dir,
      p.dataDir,
      String(waitS),
      java,
      ...brokerCommand(o, id, state.jarsDir),
    ],
    dataDir: p.dir,
    readOnly: extraReadOnly(state, java),
    binds: [`${containerLog4jFile(o)}:${join(o.workDir, 'log4j.properties')}:ro`],
    labels: labels(o, 'kafka', id),
    restartPolicy: 'unless-stopped',
    stopTimeoutSeconds: 30,
  };
}

function specMatches(info: ContainerInspectInfo, spec: HostProcessSpec): boolean {
  const want = JSON.stringify(spec.command);
  const have = JSON.stringify([...(info.Config.Entrypoint ?? []), ...(info.Config.Cmd ?? [])]);
  return want === have;
}

/** Start the container of `spec` (creating it, or re-creating it when its command changed); its pid. */
async function ensureRunning(client: DockerClient, spec: HostProcessSpec): Promise<ContainerInspectInfo> {
  const info = await inspectOrNull(client, spec.name);
  if (info?.State.Running) return info;
  if (info && specMatches(info, spec)) {
    await client.call(`start ${spec.name}`, (abortSignal) =>
      client.docker.getContainer(spec.name).start({ abortSignal }),
    );
  } else {
    await runHostProcess(client, { ...spec, replace: info !== null });
  }
  const after = await client.inspect(spec.name);
  if (!after.State.Running || !after.State.Pid) {
    throw new Error(
      `container ${spec.name} did not stay up (state ${after.State.Status}, exit code ${after.State.ExitCode})`,
    );
  }
  return after;
}

async function assertPortFree(port: number, what: string): Promise<void> {
  if (await portOpen(port)) {
    throw new Error(`cannot start ${what}: port ${port} on 127.0.0.1 is already in use by another process`);
  }
}

// ------------------------------------------------------------------------------------------ ZooKeeper

export async function startZkNode(state: LabState, n: number): Promise<void> {
  if (!containersOn(state.options)) return runtime.startZkNode(state, n);
  const o = state.options;
  const node = zkNode(state, n);
  const client = await labEngine(state);
  const existing = await inspectOrNull(client, zookeeperContainerName(n));
  if (existing?.State.Running && existing.State.Pid) {
    node.pid = existing.State.Pid;
    writeState(state);
    return;
  }
  const p = zkPaths(o, n);
  mkdirSync(p.dataDir, { recursive: true });
  writeFileSync(p.config, zooCfg(o, n));
  writeFileSync(join(p.dataDir, 'myid'), `${n}\n`);
  await assertPortFree(node.port, `ZooKeeper ${n}`);
  const info = await ensureRunning(client, zookeeperSpec(state, n));
  node.pid = info.State.Pid;
  writeState(state);
}

export async function stopZkNode(state: LabState, n: number, graceMs = 10_000): Promise<void> {
  if (!containersOn(state.options)) return runtime.stopZkNode(state, n, graceMs);
  const client = await engineIfUp(state);
  if (!client || !(await stopNodeContainer(client, zookeeperContainerName(n), graceMs))) {
    return runtime.stopZkNode(state, n, graceMs);
  }
  const node = zkNode(state, n);
  if (node.pid !== null) await waitGone(node.pid, `ZooKeeper ${n}`);
  node.pid = null;
  writeState(state);
}

// ------------------------------------------------------------------------------------------ brokers

export async function startBrokerProc(state: LabState, id: number): Promise<void> {
  if (!containersOn(state.options)) return runtime.startBrokerProc(state, id);
  const o = state.options;
  const b = broker(state, id);
  const client = await labEngine(state);
  const existing = await inspectOrNull(client, kafkaContainerName(id));
  if (existing?.State.Running && existing.State.Pid) {
    b.pid = existing.State.Pid;
    writeState(state);
    return;
  }
  const p = brokerPaths(o, id);
  mkdirSync(p.dataDir, { recursive: true });
  // As runtime.startBrokerProc: a killed broker's registration must expire first. Then the start script need
  // not wait again.
  await labZk(state, (zk) =>
    waitFor(async () => (await brokerRegistration(zk, id)) === null, {
      timeoutMs: o.zkSessionTimeoutMs + 15_000,
      intervalMs: 200,
      what: `the stale registration /brokers/ids/${id} of a killed broker to expire`,
    }),
  );
  writeFileSync(p.config, serverProperties(brokerSettings(o, id, b.advertisedOverride)));
  writeFileSync(join(p.dir, '.lab-no-wait'), '');
  await assertPortFree(b.port, `broker ${id}`);
  const info = await ensureRunning(client, brokerSpec(state, id));
  b.pid = info.State.Pid;
  writeState(state);
}

export async function stopBrokerProc(state: LabState, id: number, graceMs = 20_000): Promise<void> {
  if (!containersOn(state.options)) return runtime.stopBrokerProc(state, id, graceMs);
  const client = await engineIfUp(state);
  if (!client || !(await stopNodeContainer(client, kafkaContainerName(id), graceMs))) {
    return runtime.stopBrokerProc(state, id, graceMs);
  }
  const b = broker(state, id);
  if (b.pid !== null) await waitGone(b.pid, `broker ${id}`);
  b.pid = null;
  writeState(state);
}

/** Stop through the API (so that the engine does not restart it); false when there is no such container. */
async function stopNodeContainer(client: DockerClient, name: string, graceMs: number): Promise<boolean> {
  const r = await stopContainer(client, name, { graceSeconds: Math.ceil(graceMs / 1000) });
  if (r.ok) return true;
  if (r.before === undefined) return false; // not found (or unreadable): the caller falls back to the pid
  throw new Error(`cannot stop container ${name}: ${r.error ?? r.detail}`);
}

async function waitGone(pid: number, what: string): Promise<void> {
  await waitFor(() => !pidAlive(pid), {
    timeoutMs: 15_000,
    intervalMs: 50,
    what: `${what} (pid ${pid}) to exit`,
  });
}

/**
 * The crash of seed 002 in a container: kill -9 of the broker's process (the container's State.Pid). The
 * engine restarts the container (RestartCount + 1); this returns the killed pid once the new process runs (it
 * first waits out the old ZooKeeper session, see BROKER_START_SCRIPT).
 */
export async function killBrokerContainer(
  state: LabState,
  id: number,
  timeoutMs = 30_000,
): Promise<number | null> {
  const b = broker(state, id);
  const client = await labEngine(state);
  const name = kafkaContainerName(id);
  const before = await client.inspect(name);
  if (!before.State.Running || !before.State.Pid) {
    b.pid = null;
    writeState(state);
    return null;
  }
  const pid = before.State.Pid;
  signal(pid, 'SIGKILL');
  await waitGone(pid, `broker ${id}`);
  const after = await waitFor(
    async () => {
      const i = await client.inspect(name);
      return i.State.Running && i.State.Pid && i.State.Pid !== pid && i.RestartCount > before.RestartCount
        ? i
        : false;
    },
    {
      timeoutMs,
      intervalMs: 100,
      what: `the engine to restart container ${name} after kill -9 of pid ${pid}`,
    },
  );
  b.pid = after.State.Pid;
  writeState(state);
  return pid;
}

// ------------------------------------------------------------------------------------------ pids, inventory, down

/** Take every node's pid from its container's State.Pid (null when it does not run); writes lab.json. */
export async function refreshContainerPids(state: LabState): Promise<void> {
  if (!containersOn(state.options)) return;
  const client = await engineIfUp(state);
  if (!client) return;
  let changed = false;
  const pidOf = async (name: string) => {
    const i = await inspectOrNull(client, name);
    return i?.State.Running && i.State.Pid ? i.State.Pid : null;
  };
  for (const z of state.zookeeper) {
    const pid = await pidOf(zookeeperContainerName(z.id));
    if (pid !== z.pid) [z.pid, changed] = [pid, true];
  }
  for (const b of state.brokers) {
    const pid = await pidOf(kafkaContainerName(b.id));
    if (pid !== b.pid) [b.pid, changed] = [pid, true];
  }
  if (changed) writeState(state);
}

/**
 * Without the API (labStatus is synchronous): a node whose recorded pid is gone gets the pid of the process
 * whose command line names its config file, if one runs (the engine restarted its container).
 */
export function refreshContainerPidsFromProc(state: LabState): void {
  if (!containersOn(state.options) || !existsSync('/proc')) return;
  const want = [
    ...state.zookeeper.map((z) => ({ node: z, marker: zkPaths(state.options, z.id).config })),
    ...state.brokers.map((b) => ({ node: b, marker: brokerPaths(state.options, b.id).config })),
  ].filter((w) => !isOurProcess(w.node.pid, w.marker));
  if (want.length === 0) return;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const cl = cmdline(Number(e));
    const hit = want.find((w) => cl.endsWith(` ${w.marker}`) && !cl.includes('conmon'));
    if (hit && pidAlive(Number(e))) hit.node.pid = Number(e);
  }
}

/** The inventory's container parts for a lab in containers (merged into the lab cluster by writeInventory). */
export function containerInventory(state: LabState): {
  docker: { endpoints: Record<string, { socketPath: string }> };
  kafkaContainers: Record<string, { name: string }>;
  zookeeperContainers: Record<string, { name: string }>;
} | null {
  if (!containersOn(state.options)) return null;
  const members = zookeeperConnect(state.options).split(',');
  return {
    docker: { endpoints: { [LAB_DOCKER_ENDPOINT]: { socketPath: engineSocket(state.options.workDir) } } },
    kafkaContainers: Object.fromEntries(
      state.brokers.map((b) => [String(b.id), { name: kafkaContainerName(b.id) }]),
    ),
    zookeeperContainers: Object.fromEntries(
      state.zookeeper.map((z, i) => [
        members[i] ?? `127.0.0.1:${z.port}`,
        { name: zookeeperContainerName(z.id) },
      ]),
    ),
  };
}

/**
 * labDown's part for containers: stop the brokers then ZooKeeper through the API (controlled shutdown within
 * `graceMs`), then scripts/podman-down.sh (removes every container, stops the engine by its pid, ends the conmon
 * processes of this engine, deletes its storage). The nodes' data stays in the work folder.
 */
export async function labContainersDown(
  state: LabState,
  graceMs: number,
  log?: (line: string) => void,
): Promise<void> {
  const workDir = state.options.workDir;
  const base = engineBase(workDir);
  if (existsSync(base)) {
    const client = await engineIfUp(state).catch(() => null);
    if (client) {
      const stop = async (name: string, ms: number) => {
        try {
          await stopNodeContainer(client, name, ms);
        } catch (err) {
          log?.(`stopping ${name}: ${describeError(err)}`);
        }
      };
      await Promise.all(state.brokers.map((b) => stop(kafkaContainerName(b.id), graceMs)));
      await Promise.all(
        state.zookeeper.map((z) => stop(zookeeperContainerName(z.id), Math.min(graceMs, 10_000))),
      );
    }
    await run('bash', [join(repoRoot(), 'scripts', 'podman-down.sh'), base], 180_000);
    log?.('containers removed, container engine stopped');
  }
  engines.delete(workDir);
  for (const n of [...state.zookeeper, ...state.brokers]) {
    if (n.pid !== null && !pidAlive(n.pid)) n.pid = null;
  }
  for (const b of state.brokers)
    rmSync(join(brokerPaths(state.options, b.id).dir, '.lab-no-wait'), { force: true });
  writeState(state);
}

/** Every conmon process of this lab's engine (for tests: none must be left after labDown). */
export function labConmonProcesses(workDir: string): number[] {
  if (!existsSync('/proc')) return [];
  const base = isAbsolute(workDir) ? engineBase(workDir) : engineBase(resolve(workDir));
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const cl = cmdline(Number(e));
    if ((cl.startsWith('/usr/bin/conmon') || cl.startsWith('podman')) && cl.includes(`${base}/`))
      out.push(Number(e));
  }
  return out;
}
