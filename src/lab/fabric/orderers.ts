/**
 * The lab's orderer processes: started detached like the lab's other processes (own process group, output to
 * `<workDir>/<name>/orderer.log`), recognised by pid + command line (the binary is started through a symlink
 * inside the orderer's folder, so its command line names this lab and this orderer), stopped for sure.
 * Their pids live in `<workDir>/orderers.json` (lab.json stays the Kafka lab's). These functions do not take
 * the lab lock: labUp/labDown and the functions in ./control.ts do.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ports, type ResolvedLabOptions } from '../options.js';
import { cmdline, isOurProcess, pidAlive, spawnDetached, stopProcess } from '../proc.js';
import { portOpen, tail } from '../runtime.js';
import { waitFor } from '../wait.js';
import { fabricBinDir } from './binaries.js';
import { networkPaths, ordererName, ordererPaths, ordererYaml, SYSTEM_CHANNEL } from './network.js';

export interface OrdererState {
  id: number;
  name: string;
  /** gRPC (Broadcast/Deliver) on 127.0.0.1. */
  port: number;
  /** Operations endpoint (/metrics, /healthz) on 127.0.0.1. */
  operationsPort: number;
  adminPort: number;
  pid: number | null;
  /** Channels this orderer serves (the system channel and the channels created on it). */
  channels: string[];
  /** Set by ordererStates when the options moved its ports: a running process must be restarted. */
  portsMoved?: boolean;
}

export interface OrderersFile {
  format: 1;
  fabricVersion: string;
  orderers: OrdererState[];
}

/** What labStatus lists per orderer (the contract's name/port/operationsPort/pid, and where its files are). */
export interface OrdererStatus {
  name: string;
  port: number;
  operationsPort: number;
  pid: number | null;
  running: boolean;
  operationsUrl: string;
  ledgerDir: string;
  logFile: string;
  channels: string[];
}

/** What the inventory lists per orderer. */
export interface OrdererInventoryEntry {
  name: string;
  channels: string[];
  operationsUrl: string;
  /** Labs with `security`: the operations endpoint's CA, the client certificate it requires, the name it has. */
  operationsTls?: { ca: string; cert: string; key: string; servername: string };
  ledgerDir: string;
  logFile: string;
}

/**
 * Labs with `security`: the operations endpoint (/metrics, /healthz) of each orderer serves TLS with the
 * orderer's cryptogen TLS certificate (it names orderer<n>.example.com, not 127.0.0.1) and requires a client
 * certificate from the orderer organisation's TLS CA (cryptogen's Admin@example.com client certificate).
 */
export function operationsTlsFiles(o: Pick<ResolvedLabOptions, 'workDir'>, n: number) {
  const p = ordererPaths(o, n);
  const tls = join(p.msp, '..', 'tls');
  const admin = join(networkPaths(o).ordererAdminMsp, '..', 'tls');
  return {
    ca: join(tls, 'ca.crt'),
    serverCert: join(tls, 'server.crt'),
    serverKey: join(tls, 'server.key'),
    clientCert: join(admin, 'client.crt'),
    clientKey: join(admin, 'client.key'),
    servername: p.name,
  };
}

/** The environment that turns the operations endpoint's TLS on (Fabric reads ORDERER_* over orderer.yaml). */
function operationsTlsEnv(o: Pick<ResolvedLabOptions, 'workDir'>, n: number): Record<string, string> {
  const f = operationsTlsFiles(o, n);
  return {
    ORDERER_OPERATIONS_TLS_ENABLED: 'true',
    ORDERER_OPERATIONS_TLS_CERTIFICATE: f.serverCert,
    ORDERER_OPERATIONS_TLS_PRIVATEKEY: f.serverKey,
    ORDERER_OPERATIONS_TLS_CLIENTAUTHREQUIRED: 'true',
    ORDERER_OPERATIONS_TLS_CLIENTROOTCAS: `[${f.ca}]`,
  };
}

export function orderersFilePath(workDir: string): string {
  return join(workDir, 'orderers.json');
}

export function readOrderers(workDir: string): OrderersFile | null {
  const p = orderersFilePath(workDir);
  if (!existsSync(p)) return null;
  const f = JSON.parse(readFileSync(p, 'utf8')) as OrderersFile;
  if (f.format !== 1) throw new Error(`${p}: unknown format ${String(f.format)}`);
  return f;
}

export function writeOrderers(workDir: string, f: OrderersFile): void {
  mkdirSync(workDir, { recursive: true });
  const p = orderersFilePath(workDir);
  const tmp = `${p}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(f, null, 2) + '\n');
  renameSync(tmp, p);
}

/** The recorded orderers, completed to `count` (new ones with no pid), with ports from the options. */
export function ordererStates(o: ResolvedLabOptions, count: number): OrderersFile {
  const prev = readOrderers(o.workDir);
  const n = Math.max(count, prev?.orderers.length ?? 0);
  return {
    format: 1,
    fabricVersion: o.fabricVersion,
    orderers: Array.from({ length: n }, (_, i) => {
      const id = i + 1;
      const old = prev?.orderers.find((x) => x.id === id);
      const port = ports.orderer(o, id);
      const operationsPort = ports.ordererOperations(o, id);
      const adminPort = ports.ordererAdmin(o, id);
      const moved =
        old !== undefined &&
        (old.port !== port || old.operationsPort !== operationsPort || old.adminPort !== adminPort);
      return {
        id,
        name: ordererName(id),
        port,
        operationsPort,
        adminPort,
        pid: old?.pid ?? null,
        ...(moved ? { portsMoved: true } : {}),
        channels: old?.channels ?? [SYSTEM_CHANNEL],
      };
    }),
  };
}

export function ordererRunning(o: Pick<ResolvedLabOptions, 'workDir'>, s: OrdererState): boolean {
  return isOurProcess(s.pid, ordererPaths(o, s.id).bin);
}

/** The log's last lines, for error messages. */
export function ordererLogTail(o: Pick<ResolvedLabOptions, 'workDir'>, id: number, lines = 30): string {
  return tail(ordererPaths(o, id).logFile, lines);
}

/**
 * Starts orderer `s.id` unless it runs: writes its orderer.yaml, links the binary, spawns it with
 * FABRIC_CFG_PATH pointing at its folder and a colourless log format, and waits until it serves Broadcast
 * ("Beginning to serve requests" and its port accepts connections). Does not touch /healthz: every /healthz
 * probe makes a Kafka orderer post a CONNECT message to each channel.
 */
export async function startOrdererProc(
  o: ResolvedLabOptions,
  f: OrderersFile,
  s: OrdererState,
  timeoutMs: number,
): Promise<void> {
  if (ordererRunning(o, s)) return;
  const p = ordererPaths(o, s.id);
  if (!existsSync(networkPaths(o).genesis)) throw new Error(`no genesis block in ${networkPaths(o).dir}`);
  mkdirSync(join(p.dir, 'bin'), { recursive: true });
  mkdirSync(p.ledgerDir, { recursive: true });
  rmSync(p.bin, { force: true });
  symlinkSync(join(fabricBinDir(o), 'orderer'), p.bin);
  writeFileSync(p.config, ordererYaml(o, s.id));
  for (const [port, what] of [
    [s.port, 'gRPC'],
    [s.operationsPort, 'operations'],
    [s.adminPort, 'admin'],
  ] as const) {
    if (await portOpen(port))
      throw new Error(
        `cannot start ${s.name}: its ${what} port ${port} on 127.0.0.1 is in use by another process`,
      );
  }
  const logStart = existsSync(p.logFile) ? readFileSync(p.logFile).length : 0;
  s.pid = await spawnDetached(p.bin, ['start'], {
    cwd: p.dir,
    outFile: p.logFile,
    env: {
      ...process.env,
      FABRIC_CFG_PATH: p.dir,
      FABRIC_LOGGING_SPEC: process.env['FABRIC_OPSBOT_LAB_ORDERER_LOGGING'] ?? ORDERER_LOGGING_SPEC,
      // Fabric 2.4+'s default format without the colour codes.
      FABRIC_LOGGING_FORMAT:
        '%{time:2006-01-02 15:04:05.000 MST} %{id:04x} %{level:.4s} [%{module}] %{shortfunc} -> %{message}',
      ...(o.security ? operationsTlsEnv(o, s.id) : {}),
    },
  });
  writeOrderers(o.workDir, f);
  await waitFor(
    async () => {
      if (!ordererRunning(o, s))
        throw new OrdererExited(
          `${s.name} exited during start; last lines of ${p.logFile}:\n${ordererLogTail(o, s.id)}`,
        );
      const log = readFileSync(p.logFile).subarray(logStart).toString('utf8');
      return log.includes('Beginning to serve requests') && (await portOpen(s.port));
    },
    {
      timeoutMs,
      intervalMs: 100,
      what: `${s.name} to serve on 127.0.0.1:${s.port}`,
      isFatal: (e) => e instanceof OrdererExited,
    },
  );
}

/**
 * The orderers' log levels: INFO, and DEBUG for the Kafka consenter, whose retry loop logs why a setup step
 * fails only at DEBUG ("Need to retry because process failed = kafka server: The requested offset is outside
 * the range ...": seed 000 had to add its own log line to see it). Override: FABRIC_OPSBOT_LAB_ORDERER_LOGGING.
 */
export const ORDERER_LOGGING_SPEC = 'info:orderer.consensus.kafka=debug';

/** Size of orderer `id`'s log in bytes (0 when it has none yet): a `from` for waitLogLine. */
export function logSize(o: Pick<ResolvedLabOptions, 'workDir'>, id: number): number {
  const f = ordererPaths(o, id).logFile;
  return existsSync(f) ? statSync(f).size : 0;
}

/**
 * Waits until orderer `s`'s log has a line containing `text` after byte `from`, and returns that line. Fails
 * at once when the process exits.
 */
export async function waitLogLine(
  o: Pick<ResolvedLabOptions, 'workDir'>,
  s: OrdererState,
  text: string,
  from: number,
  timeoutMs: number,
): Promise<string> {
  const file = ordererPaths(o, s.id).logFile;
  return waitFor(
    () => {
      if (!ordererRunning(o, s))
        throw new OrdererExited(`${s.name} exited; last lines of ${file}:\n${ordererLogTail(o, s.id)}`);
      if (!existsSync(file)) return false;
      const log = readFileSync(file).subarray(from).toString('utf8');
      const i = log.indexOf(text);
      if (i < 0) return false;
      const start = log.lastIndexOf('\n', i) + 1;
      const end = log.indexOf('\n', i);
      return log.slice(start, end < 0 ? undefined : end);
    },
    {
      timeoutMs,
      intervalMs: 100,
      what: `${s.name} to log "${text}"`,
      isFatal: (e) => e instanceof OrdererExited,
    },
  );
}

export class OrdererExited extends Error {
  override readonly name = 'OrdererExited';
}

/** Stops orderer `s.id`: SIGTERM, then SIGKILL after `graceMs` (0 = SIGKILL at once, a crash). */
export async function stopOrdererProc(
  o: Pick<ResolvedLabOptions, 'workDir'>,
  f: OrderersFile,
  s: OrdererState,
  graceMs = 10_000,
): Promise<void> {
  if (s.pid !== null && ordererRunning(o, s)) await stopProcess(s.pid, { graceMs, what: s.name });
  s.pid = null;
  writeOrderers(o.workDir, f);
}

/** Orderer processes of this work folder that the state file does not know (a lost orderers.json). */
export function strayOrderers(workDir: string): number[] {
  if (!existsSync('/proc')) return [];
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const argv0 = cmdline(pid).split(' ')[0] ?? '';
    if (argv0.startsWith(`${workDir}/`) && argv0.endsWith('/bin/orderer') && pidAlive(pid)) out.push(pid);
  }
  return out;
}

/** Stops every orderer of the work folder (recorded or stray). */
export async function stopAllOrderers(
  o: Pick<ResolvedLabOptions, 'workDir'>,
  graceMs = 10_000,
): Promise<void> {
  const f = readOrderers(o.workDir);
  if (f) await Promise.all(f.orderers.map((s) => stopOrdererProc(o, f, s, graceMs)));
  for (const pid of strayOrderers(o.workDir)) await stopProcess(pid, { graceMs: Math.min(graceMs, 5000) });
}

/** Orderers 1..o.orderers of the lab (orderers.json may remember more: stopped by a smaller `orderers`). */
export function ordererStatuses(
  o: Pick<ResolvedLabOptions, 'workDir' | 'orderers' | 'security'>,
): OrdererStatus[] {
  const f = readOrderers(o.workDir);
  if (!f) return [];
  return f.orderers
    .filter((s) => s.id <= o.orderers)
    .map((s) => {
      const running = ordererRunning(o, s);
      const p = ordererPaths(o, s.id);
      return {
        name: s.name,
        port: s.port,
        operationsPort: s.operationsPort,
        pid: running ? s.pid : null,
        running,
        operationsUrl: `${o.security ? 'https' : 'http'}://127.0.0.1:${s.operationsPort}`,
        ledgerDir: p.ledgerDir,
        logFile: p.logFile,
        channels: [...s.channels],
      };
    });
}

/** The inventory's `orderers` list for the lab (empty when it has none). */
export function ordererInventory(
  o: Pick<ResolvedLabOptions, 'workDir' | 'orderers' | 'security'>,
): OrdererInventoryEntry[] {
  return ordererStatuses(o).map((s) => ({
    name: s.name,
    channels: s.channels,
    operationsUrl: s.operationsUrl,
    ...(o.security
      ? (() => {
          const f = operationsTlsFiles(o, Number(/^orderer(\d+)\./.exec(s.name)?.[1]));
          return {
            operationsTls: { ca: f.ca, cert: f.clientCert, key: f.clientKey, servername: f.servername },
          };
        })()
      : {}),
    ledgerDir: s.ledgerDir,
    logFile: s.logFile,
  }));
}
