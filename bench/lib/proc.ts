/**
 * Process helpers for the benchmarks: a callable GC in this process, memory of other processes from /proc,
 * commands timed with /usr/bin/time -v (wall time and peak RSS of a fresh process), the samples the memprobe
 * preload writes, JVM heap use, and checks that a lab's ports are free.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { acquireFileLock, DEFAULT_BASE_PORTS, labStatus, type LabBasePorts } from '../../src/lab/index.js';

setFlagsFromString('--expose-gc');
const gcFn = runInNewContext('gc') as () => void;

/** A full garbage collection, twice (weak references and finalizers settle after the first). */
export function fullGc(): void {
  gcFn();
  gcFn();
}

/** The lab's default ports shifted by `offset` (as bench/diagnose.bench.ts does with +600). */
export function shiftedPorts(offset: number): LabBasePorts {
  return Object.fromEntries(
    Object.entries(DEFAULT_BASE_PORTS).map(([k, v]) => [k, v + offset]),
  ) as unknown as LabBasePorts;
}

/** Every port a Kafka/ZooKeeper/Redis lab of `zk` ZooKeeper nodes and `brokers` brokers uses (no orderers). */
export function labPorts(p: LabBasePorts, zk = 3, brokers = 4): number[] {
  const out: number[] = [p.redis];
  for (let i = 0; i < zk; i++) out.push(p.zookeeper + i, p.zookeeperPeer + i, p.zookeeperElection + i);
  for (let i = 0; i < brokers; i++) out.push(p.kafka + i, p.kafka + i + 1000);
  return out;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The ports of `ports` something already listens on. */
export async function portsInUse(ports: readonly number[]): Promise<number[]> {
  const busy: number[] = [];
  for (const p of ports) if (!(await portFree(p))) busy.push(p);
  return busy;
}

/** A free loopback port (for the bot's HTTP receiver). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** VmRSS and VmHWM (peak RSS) of a live process, in KiB; null when it is gone. */
export function procMemory(pid: number): { rssKb: number; hwmKb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** Open file descriptors of a live process (null when /proc is not readable). */
export function openFds(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** Used heap of a JVM in MiB (young + old generations, from `jcmd <pid> GC.heap_info`); null if jcmd fails. */
export async function jvmHeapUsedMb(pid: number): Promise<number | null> {
  const r = await runCapture('jcmd', [String(pid), 'GC.heap_info'], { timeoutMs: 20_000 });
  if (r.code !== 0) return null;
  let kb = 0;
  for (const line of r.stdout.split('\n')) {
    if (/metaspace|class space/i.test(line)) continue;
    const m = /\btotal \d+K, used (\d+)K/.exec(line);
    if (m && /generation|heap/i.test(line)) kb += Number(m[1]);
  }
  return kb > 0 ? Math.round(kb / 1024) : null;
}

export interface Captured {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a command to its end, capturing both streams (no shell). */
export function runCapture(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer =
      opts.timeoutMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: performance.now() - t0,
      });
    });
  });
}

export interface TimedRun extends Captured {
  /** "Maximum resident set size" of /usr/bin/time -v, KiB. */
  maxRssKb: number | null;
  /** What /usr/bin/time measured as wall time, ms. */
  wallMs: number | null;
}

/** `cmd args` as a fresh process under /usr/bin/time -v; the time report is taken off the end of stderr. */
export async function timeV(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<TimedRun> {
  const r = await runCapture('/usr/bin/time', ['-v', cmd, ...args], opts);
  const at = r.stderr.lastIndexOf('\tCommand being timed:');
  const report = at >= 0 ? r.stderr.slice(at) : '';
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(report);
  const wallMs = wall ? ((Number(wall[1] ?? 0) * 60 + Number(wall[2])) * 60 + Number(wall[3])) * 1000 : null;
  return {
    ...r,
    stderr: at >= 0 ? r.stderr.slice(0, at) : r.stderr,
    maxRssKb: rss ? Number(rss[1]) : null,
    wallMs,
  };
}

/** The memprobe preload (bench/lib/memprobe.mjs) as a file: URL for `node --import`. */
export const MEMPROBE = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'memprobe.mjs')).href;

export interface MemSample {
  t: number;
  kind: 'start' | 'tick' | 'gc' | 'exit';
  pid: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  maxRssKb: number;
}

/** The samples a memprobe wrote (an unfinished last line is skipped). */
export function readMemSamples(file: string): MemSample[] {
  if (!existsSync(file)) return [];
  const out: MemSample[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as MemSample);
    } catch {
      // partial line
    }
  }
  return out;
}

/** Jiffies of the whole machine since boot: busy (all but idle and iowait) and total (/proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU jiffies (user + system) a process has used; 0 when it is gone. */
export function processCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
  } catch {
    return 0;
  }
}

/** Jiffies per second (getconf CLK_TCK; 100 on Linux). */
export const CLK_TCK = 100;

/**
 * Over `ms` of doing nothing: how busy the machine is (% of all cores) and how many cores `pids` use. What a
 * benchmark on a shared machine competes with.
 */
export async function cpuWindow(
  pids: readonly number[],
  ms: number,
): Promise<{ machineBusyPct: number; pidsCores: number }> {
  const m0 = machineCpu();
  const p0 = pids.map(processCpu);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const m1 = machineCpu();
  const p1 = pids.map(processCpu);
  const secs = (performance.now() - t0) / 1000;
  const used = p1.reduce((n, v, i) => n + Math.max(0, v - (p0[i] ?? 0)), 0);
  return {
    machineBusyPct: Math.round(((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 1000) / 10,
    pidsCores: Math.round((used / CLK_TCK / secs) * 100) / 100,
  };
}

/**
 * One benchmark run per work folder: `<folder>.run.lock` (next to it, since a purge removes the folder) holds the
 * pid of the run. A second run refuses to start instead of deleting the first one's logs and stopping its lab
 * (which happened: a soak started while another was running in .lab/bench-soak took that run's lab down).
 */
export async function benchRunLock(workDir: string): Promise<() => void> {
  try {
    return await acquireFileLock(`${workDir}.run.lock`, 500);
  } catch (err) {
    throw new Error(
      `another benchmark is running in ${workDir} (${err instanceof Error ? err.message : String(err)}): ` +
        'wait for it to finish, or use another work folder/port offset',
    );
  }
}

/** Whether any process of the lab in `workDir` runs (then its ports are its own, not someone else's). */
export function labAnyRunning(workDir: string): boolean {
  const st = labStatus({ workDir });
  return (
    st.zookeeper.some((z) => z.running) || st.brokers.some((b) => b.running) || st.redis?.running === true
  );
}
