/**
 * Benchmark (issue #9, hardening: soak). The bot as deployed, for a long time, while the cluster breaks and heals:
 *
 * - its own lab (.lab/bench-soak, ports +850: 3 ZooKeeper, 4 brokers, Redis);
 * - the real processes, as `fabric-opsbot bot --http` and `fabric-opsbot worker` (two by default), from a private
 *   build of the working tree (bench/lib/build.ts: dist/ is shared and rebuilt by others), posting to a local stand-in for Slack's Web API (src/slack/local.ts) that records every call; the
 *   workers sync the per-cluster BullMQ job scheduler from the inventory, whose check interval is set to a few
 *   seconds (--interval-s, default 5);
 * - every --command-every-s (default 60) a signed `/fabric status pubchain` to the bot, so the bot and the command
 *   queue work too;
 * - a fault loop with random (seeded) kinds, targets, durations and gaps: kill a broker / start it, stop a
 *   ZooKeeper node / start it, advertise an unreachable listener / restore it (src/lab/faults.ts).
 *
 * Reported: scheduled ticks expected vs checks run (missed checks, from the scheduler's job ids, which carry the
 * slot time), per-check latency p50/p99 (run time and start lag), incident posts per incident (a duplicate = a
 * second opening post for an incident that is still open), incidents opened/closed against the faults injected,
 * the RSS and heap of the bot and each worker over time (samples from bench/lib/memprobe.mjs; growth per hour by a
 * least-squares line after a warm-up, on all samples and on the heap right after a full GC), and Redis memory.
 *
 *   npx tsx bench/soak.bench.ts [--minutes 30] [--interval-s 5] [--workers 2] [--seed 9] [--command-every-s 60]
 *       [--fault-min-s 20] [--fault-max-s 120] [--gap-min-s 10] [--gap-max-s 60] [--port-offset 850] [--keep]
 *       [--faults kill-broker,stop-zookeeper,unreachable-listener,kill-brokers-3-4] [--burst-channels N]
 *       [--out soak.<name>] [--reanalyse-memory]
 *
 * A burst run (many channels going critical at once: one incident each, all posted by one reconcile at Slack's
 * pace of one message a second):
 *
 *   npx tsx bench/soak.bench.ts --minutes 5 --burst-channels 80 --faults kill-brokers-3-4 --fault-min-s 60 \
 *       --fault-max-s 90 --gap-min-s 20 --gap-max-s 40 --out soak.burst
 *
 * Writes bench/results/soak.{json,md}; the processes' logs stay in .lab/bench-soak/run/ until the next run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { parse, stringify } from 'yaml';
import { loadInventory } from '../src/config/index.js';
import {
  DEFAULT_CHANNELS,
  healLab,
  loadLabState,
  killBroker,
  labDown,
  labUp,
  repoRoot,
  restartBrokerWithAdvertisedListener,
  restoreAdvertisedListener,
  sleep,
  startBroker,
  startZookeeper,
  stopZookeeper,
} from '../src/lab/index.js';
import { QUEUES } from '../src/queue/index.js';
import { postSlashCommand, startSlackRecorder, type RecordedCall } from '../src/slack/local.js';
import {
  freePort,
  labPorts,
  MEMPROBE,
  benchRunLock,
  labAnyRunning,
  portsInUse,
  readMemSamples,
  shiftedPorts,
  type MemSample,
} from './lib/proc.js';
import { privateBuild, type PrivateBuild } from './lib/build.js';
import { linearFit, max, mb, pct, rng, round } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    'interval-s': { type: 'string', default: '5' },
    workers: { type: 'string', default: '2' },
    seed: { type: 'string', default: '9' },
    'command-every-s': { type: 'string', default: '60' },
    'fault-min-s': { type: 'string', default: '20' },
    'fault-max-s': { type: 'string', default: '120' },
    'gap-min-s': { type: 'string', default: '10' },
    'gap-max-s': { type: 'string', default: '60' },
    'port-offset': { type: 'string', default: '850' },
    keep: { type: 'boolean', default: false },
    /** Recompute the memory part of bench/results/soak.{json,md} from the samples the last run left in run/. */
    'reanalyse-memory': { type: 'boolean', default: false },
    /** Fault kinds to draw from (comma-separated; default the three single-node ones). */
    faults: { type: 'string', default: 'kill-broker,stop-zookeeper,unreachable-listener' },
    /**
     * Extra Fabric channels (1 partition, RF 3 each) in the lab and the inventory: channels are never collapsed
     * into one finding, so a fault that puts them under min ISR opens one incident per channel at once. A lab
     * made with other channels is removed (purge) and made again.
     */
    'burst-channels': { type: 'string', default: '0' },
    /** Results file name: bench/results/<out>.{json,md}. */
    out: { type: 'string', default: 'soak' },
  },
});
const MINUTES = Number(values.minutes);
const INTERVAL_S = Number(values['interval-s']);
const WORKERS = Number(values.workers);
const SEED = Number(values.seed);
const COMMAND_EVERY_S = Number(values['command-every-s']);
const FAULT_S: [number, number] = [Number(values['fault-min-s']), Number(values['fault-max-s'])];
const GAP_S: [number, number] = [Number(values['gap-min-s']), Number(values['gap-max-s'])];
const PORT_OFFSET = Number(values['port-offset']);
const BURST_CHANNELS = Number(values['burst-channels']);
const OUT = values.out;
if (!/^soak(\.[a-z0-9-]+)?$/.test(OUT)) throw new Error('--out must be soak or soak.<name>');
if (!Number.isInteger(INTERVAL_S) || INTERVAL_S < 1)
  throw new Error('--interval-s must be a whole number >= 1');

const root = repoRoot();
const workDir = join(root, '.lab', 'bench-soak');
const runDir = join(workDir, 'run');
const basePorts = shiftedPorts(PORT_OFFSET);
const lab = { workDir };
const INCIDENTS = 'C0SOAKINCIDENTS';
const COMMANDS = 'C0SOAKCMD';
const OPERATOR = 'U0SOAKOPS';
const log = (line: string) => console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);

// ------------------------------------------------------------------ processes

interface Proc {
  name: string;
  child: ChildProcess;
  memFile: string;
  logFile: string;
  exit: { code: number | null; signal: string | null; at: number } | null;
}

function startProc(name: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  const memFile = join(runDir, `mem-${name}.jsonl`);
  const logFile = join(runDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--expose-gc', '--import', MEMPROBE, build.launcher, ...args], {
    cwd: root,
    env: {
      ...process.env,
      ...env,
      FABRIC_OPSBOT_MEMPROBE: memFile,
      FABRIC_OPSBOT_MEMPROBE_MS: '5000',
      FABRIC_OPSBOT_MEMPROBE_GC_EVERY: '12', // one sample a minute right after a full GC
    },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const p: Proc = { name, child, memFile, logFile, exit: null };
  child.once('exit', (code, signal) => {
    p.exit = { code, signal, at: Date.now() };
    if (!stopping) log(`${name} EXITED (code ${code}, signal ${signal}): see ${logFile}`);
  });
  return p;
}

async function waitLog(p: Proc, pattern: RegExp, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (p.exit) throw new Error(`${p.name} exited: ${readFileSync(p.logFile, 'utf8').slice(-2000)}`);
    if (existsSync(p.logFile) && pattern.test(readFileSync(p.logFile, 'utf8'))) return;
    await sleep(200);
  }
  throw new Error(`${p.name} did not log ${pattern} within ${timeoutMs} ms`);
}

async function stopProc(
  p: Proc,
): Promise<{ name: string; exitCode: number | null; signal: string | null; ms: number }> {
  const t0 = Date.now();
  if (!p.exit) {
    p.child.kill('SIGTERM');
    const until = Date.now() + 30_000;
    while (!p.exit && Date.now() < until) await sleep(100);
    if (!p.exit) {
      p.child.kill('SIGKILL');
      while (!p.exit) await sleep(100);
    }
  }
  return { name: p.name, exitCode: p.exit!.code, signal: p.exit!.signal, ms: Date.now() - t0 };
}

let stopping = false;
/** This run holds the work folder (bench/lib/proc.ts benchRunLock) / has started the lab. */
let releaseRun: (() => void) | null = null;
let labStarted = false;
/** The CLI the processes run: a private build (bench/lib/build.ts), not the shared dist/. */
let build: PrivateBuild;

// ------------------------------------------------------------------ faults

type FaultKind = 'kill-broker' | 'stop-zookeeper' | 'unreachable-listener' | 'kill-brokers-3-4';
const ALL_FAULTS: readonly FaultKind[] = [
  'kill-broker',
  'stop-zookeeper',
  'unreachable-listener',
  'kill-brokers-3-4',
];
const FAULT_KINDS = values.faults.split(',').map((k) => {
  if (!(ALL_FAULTS as readonly string[]).includes(k))
    throw new Error(`--faults: unknown kind ${k} (have ${ALL_FAULTS.join(', ')})`);
  return k as FaultKind;
});

interface Fault {
  n: number;
  kind: FaultKind;
  target: number;
  /** When the fault was asked for / in place / its healing asked for / healed (ms since the epoch). */
  injectAt: number;
  injectedAt: number | null;
  healAt: number | null;
  healedAt: number | null;
  errors: string[];
}

async function inject(kind: FaultKind, target: number): Promise<void> {
  if (kind === 'kill-broker') await killBroker(lab, target);
  else if (kind === 'kill-brokers-3-4') {
    // Two replicas of every channel placed on 3 and 4 gone at once: under min ISR (critical) everywhere there.
    await killBroker(lab, 3);
    await killBroker(lab, 4);
  } else if (kind === 'stop-zookeeper') await stopZookeeper(lab, target, { kill: true });
  else await restartBrokerWithAdvertisedListener(lab, target);
}

async function heal(kind: FaultKind, target: number): Promise<void> {
  if (kind === 'kill-broker') await startBroker(lab, target, { timeoutMs: 120_000 });
  else if (kind === 'kill-brokers-3-4') {
    await startBroker(lab, 3, { timeoutMs: 120_000 });
    await startBroker(lab, 4, { timeoutMs: 120_000 });
  } else if (kind === 'stop-zookeeper') await startZookeeper(lab, target, { timeoutMs: 120_000 });
  else await restoreAdvertisedListener(lab, target, { timeoutMs: 120_000 });
}

async function faultLoop(endAt: number, faults: Fault[]): Promise<void> {
  const random = rng(SEED);
  const between = ([lo, hi]: [number, number]) => (lo + random() * (hi - lo)) * 1000;
  let n = 0;
  while (Date.now() < endAt) {
    await sleep(Math.min(between(GAP_S), Math.max(0, endAt - Date.now())));
    if (Date.now() >= endAt) break;
    const kind = FAULT_KINDS[Math.floor(random() * FAULT_KINDS.length)]!;
    const target =
      kind === 'kill-brokers-3-4'
        ? 34
        : kind === 'stop-zookeeper'
          ? 1 + Math.floor(random() * 3)
          : 1 + Math.floor(random() * 4);
    const duration = between(FAULT_S);
    const f: Fault = {
      n: ++n,
      kind,
      target,
      injectAt: Date.now(),
      injectedAt: null,
      healAt: null,
      healedAt: null,
      errors: [],
    };
    faults.push(f);
    log(`fault ${f.n}: ${kind} ${target} for ${Math.round(duration / 1000)} s`);
    try {
      await inject(kind, target);
      f.injectedAt = Date.now();
    } catch (err) {
      f.errors.push(`inject: ${String(err)}`);
      log(`fault ${f.n}: inject failed: ${String(err)}`);
    }
    await sleep(Math.max(0, Math.min(f.injectAt + duration, endAt) - Date.now()));
    f.healAt = Date.now();
    try {
      await heal(kind, target);
    } catch (err) {
      f.errors.push(`heal: ${String(err)}`);
      log(`fault ${f.n}: heal failed (${String(err)}); healing the whole lab`);
      await healLab(lab, { timeoutMs: 180_000 }).catch((e: unknown) =>
        f.errors.push(`healLab: ${String(e)}`),
      );
    }
    f.healedAt = Date.now();
    log(`fault ${f.n}: healed after ${Math.round((f.healedAt - f.injectAt) / 1000)} s`);
  }
}

// ------------------------------------------------------------------ commands through the bot

interface CommandResult {
  at: number;
  ackStatus: number;
  ackMs: number;
  /** Until the worker's answer was posted (null: none within the time limit). */
  reportMs: number | null;
  error?: string;
}

async function commandLoop(
  endAt: number,
  eventsUrl: string,
  secret: string,
  recorder: Awaited<ReturnType<typeof startSlackRecorder>>,
  out: CommandResult[],
): Promise<void> {
  while (Date.now() + COMMAND_EVERY_S * 1000 < endAt) {
    await sleep(COMMAND_EVERY_S * 1000);
    const at = Date.now();
    const before = recorder.calls.length;
    try {
      const res = await postSlashCommand(eventsUrl, secret, {
        text: 'status pubchain',
        user_id: OPERATOR,
        channel_id: COMMANDS,
        response_url: recorder.responseUrl(),
      });
      const answer = await recorder
        .waitFor(
          (c) =>
            recorder.calls.indexOf(c) >= before &&
            ((c.method === 'chat.postMessage' && c.args['channel'] === COMMANDS) ||
              c.method === 'response_url'),
          120_000,
        )
        .catch(() => null);
      out.push({
        at,
        ackStatus: res.status,
        ackMs: res.ms,
        reportMs: answer ? answer.at - at : null,
        ...(answer?.method === 'response_url'
          ? { error: String(answer.args['text'] ?? '').slice(0, 200) }
          : {}),
      });
    } catch (err) {
      out.push({ at, ackStatus: 0, ackMs: NaN, reportMs: null, error: String(err) });
    }
  }
}

// ------------------------------------------------------------------ observing the checks queue

interface CheckRun {
  jobId: string;
  slot: number | null;
  status: 'completed' | 'failed';
  processedOn: number | null;
  finishedOn: number | null;
  error?: string;
  exitCode?: number;
  findings?: { critical: number; warning: number; info: number };
  posted?: boolean;
}

function slotOf(jobId: string): number | null {
  const m = /^repeat:[^:]+:(\d+)$/.exec(jobId);
  return m ? Number(m[1]) : null;
}

// ------------------------------------------------------------------ reading the recorder

interface IncidentTrack {
  key: string;
  code: string;
  subject: string;
  ts: string;
  openedAt: number;
  closedAt: number | null;
  changes: number;
  /** Another opening post for the same key while this one was open. */
  duplicateOf?: string;
  fault: number | null;
}

function incidentKey(c: RecordedCall): { code: string; subject: string } | null {
  const blocks = c.args['blocks'] as { text?: { text?: string } }[] | undefined;
  const title = blocks?.[0]?.text?.text?.split('\n')[0] ?? String(c.args['text'] ?? '');
  const m = /\*INCIDENT\* · [^·]+ · \*([A-Z_]+)\* — (.*)$/.exec(title);
  if (m) return { code: m[1]!, subject: m[2]!.trim() };
  const t = /^INCIDENT \S+ ([A-Z_]+): (.*)$/.exec(String(c.args['text'] ?? ''));
  return t ? { code: t[1]!, subject: `? ${t[2]!.slice(0, 60)}` } : null;
}

function faultAt(faults: readonly Fault[], t: number): Fault | null {
  let last: Fault | null = null;
  for (const f of faults) if (f.injectAt <= t) last = f;
  return last;
}

function readIncidents(calls: readonly RecordedCall[], faults: readonly Fault[]) {
  const incidents: IncidentTrack[] = [];
  const byTs = new Map<string, IncidentTrack>();
  const openByKey = new Map<string, IncidentTrack>();
  let changeSummaries = 0;
  let clearedReplies = 0;
  let otherIncidentChannel = 0;
  for (const c of calls) {
    if (c.args['channel'] !== INCIDENTS) continue;
    const text = String(c.args['text'] ?? '');
    const thread = c.args['thread_ts'] as string | undefined;
    if (c.method === 'chat.postMessage' && thread === undefined && text.startsWith('INCIDENT ')) {
      const k = incidentKey(c);
      const key = k ? `${k.code}|${k.subject}` : `?|${text.slice(0, 80)}`;
      const ts = String(c.result?.['ts'] ?? '');
      const inc: IncidentTrack = {
        key,
        code: k?.code ?? '?',
        subject: k?.subject ?? '?',
        ts,
        openedAt: c.at,
        closedAt: null,
        changes: 0,
        fault: faultAt(faults, c.at)?.n ?? null,
      };
      const open = openByKey.get(key);
      if (open) inc.duplicateOf = open.ts;
      incidents.push(inc);
      byTs.set(ts, inc);
      openByKey.set(key, inc);
    } else if (c.method === 'chat.postMessage' && thread !== undefined) {
      const inc = byTs.get(thread);
      if (inc && text.startsWith(':arrows_counterclockwise:')) inc.changes++;
      else if (text.startsWith(':white_check_mark: Cleared')) clearedReplies++;
    } else if (c.method === 'chat.update' && text.startsWith('RESOLVED')) {
      const inc = byTs.get(String(c.args['ts'] ?? ''));
      if (inc && inc.closedAt === null) {
        inc.closedAt = c.at;
        if (openByKey.get(inc.key) === inc) openByKey.delete(inc.key);
      }
    } else if (
      c.method === 'chat.postMessage' &&
      thread === undefined &&
      /scheduled check/.test(JSON.stringify(c.args['blocks'] ?? ''))
    ) {
      changeSummaries++;
    } else if (c.method === 'chat.postMessage') {
      otherIncidentChannel++;
    }
  }
  return { incidents, changeSummaries, clearedReplies, otherIncidentChannel };
}

// ------------------------------------------------------------------ the processes' logs

/** Warnings and errors the processes logged (pino JSON lines, level >= 40), counted by message. */
function logProblems(
  files: readonly { name: string; file: string }[],
): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const { name, file } of files) {
    const counts: Record<string, number> = {};
    if (existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const j = JSON.parse(line) as { level?: number; msg?: string; err?: unknown };
          if ((j.level ?? 0) < 40) continue;
          const err = typeof j.err === 'string' ? j.err : j.err ? JSON.stringify(j.err) : '';
          const key = `${j.level! >= 50 ? 'ERROR' : 'WARN'} ${j.msg ?? '?'}${err ? `: ${err.replace(/\d+/g, 'N').slice(0, 120)}` : ''}`;
          counts[key] = (counts[key] ?? 0) + 1;
        } catch {
          // not JSON
        }
      }
    }
    out[name] = counts;
  }
  return out;
}

// ------------------------------------------------------------------ memory series

interface Series {
  samples: number;
  startMb: number | null;
  endMb: number | null;
  maxMb: number | null;
  /** Least-squares growth after the warm-up, MiB per hour, and its r². */
  growthMbPerHour: number | null;
  r2: number | null;
  /** The same over the second half of those samples only: a warm-up that levels off shows here as less growth. */
  lateGrowthMbPerHour: number | null;
}

function series(points: readonly { t: number; v: number }[], from: number): Series {
  const kept = points.filter((p) => p.t >= from && Number.isFinite(p.v));
  const xy = (ps: typeof kept) => ps.map((p) => ({ x: p.t / 3_600_000, y: p.v / 2 ** 20 }));
  const fit = linearFit(xy(kept));
  const late = linearFit(xy(kept.slice(Math.floor(kept.length / 2))));
  return {
    samples: kept.length,
    startMb: kept.length ? mb(kept[0]!.v) : null,
    endMb: kept.length ? mb(kept[kept.length - 1]!.v) : null,
    maxMb: kept.length ? mb(max(kept.map((p) => p.v))) : null,
    growthMbPerHour: round(fit.slope, 2),
    r2: round(fit.r2, 2),
    lateGrowthMbPerHour: round(late.slope, 2),
  };
}

function redisMemory(
  samples: readonly { t: number; used: number; rss: number; keys: number }[],
  from: number,
) {
  return {
    used: series(
      samples.map((s) => ({ t: s.t, v: s.used })),
      from,
    ),
    rss: series(
      samples.map((s) => ({ t: s.t, v: s.rss })),
      from,
    ),
    keysStart: samples[0]?.keys ?? null,
    keysEnd: samples[samples.length - 1]?.keys ?? null,
    keysMax: samples.length ? max(samples.map((s) => s.keys)) : null,
  };
}

/** --reanalyse-memory: the memory part of the last results again, from the samples in run/. */
function reanalyseMemory(): void {
  const out = join(root, 'bench', 'results');
  const result = JSON.parse(readFileSync(join(out, `${OUT}.json`), 'utf8')) as Parameters<
    typeof markdown
  >[0] & {
    t0?: number;
    memory: Record<string, unknown>;
    redis: unknown;
  };
  // Runs before t0 was recorded: the first process started right after it.
  const first = Object.keys(result.memory).map(
    (n) => readMemSamples(join(runDir, `mem-${n}.jsonl`))[0]?.t ?? NaN,
  );
  const dateMs = Date.parse(result.date);
  const ours = first.filter((t) => Number.isFinite(t) && t >= dateMs && t <= dateMs + 10 * 60_000);
  const t0 = result.t0 ?? (ours.length ? Math.min(...ours) : dateMs);
  const minutes = Number(result.options['minutes']);
  const warm = t0 + Math.min(5 * 60_000, (minutes * 60_000) / 5);
  for (const name of Object.keys(result.memory)) {
    // Only samples of that run (run/ holds the last run's): else the memory part stays as it was.
    const samples = readMemSamples(join(runDir, `mem-${name}.jsonl`)).filter(
      (x) => x.t >= t0 - 60_000 && x.t <= t0 + (result.durationS ?? 0) * 1000 + 60_000,
    );
    if (samples.length > 1) result.memory[name] = processMemory(samples, warm);
  }
  const redisFile = join(runDir, 'redis.json');
  const redisSamples = existsSync(redisFile)
    ? (JSON.parse(readFileSync(redisFile, 'utf8')) as {
        t: number;
        used: number;
        rss: number;
        keys: number;
      }[])
    : [];
  if (redisSamples.some((x) => x.t >= t0 && x.t <= t0 + (result.durationS ?? 0) * 1000))
    result.redis = redisMemory(redisSamples, warm);
  writeFileSync(join(out, `${OUT}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const md = markdown(result);
  writeFileSync(join(out, `${OUT}.md`), md);
  console.log(md);
}

function processMemory(samples: readonly MemSample[], from: number) {
  const ticks = samples.filter((s) => s.kind !== 'exit');
  const gcs = samples.filter((s) => s.kind === 'gc');
  return {
    rss: series(
      ticks.map((s) => ({ t: s.t, v: s.rss })),
      from,
    ),
    heapUsed: series(
      ticks.map((s) => ({ t: s.t, v: s.heapUsed })),
      from,
    ),
    heapAfterGc: series(
      gcs.map((s) => ({ t: s.t, v: s.heapUsed })),
      from,
    ),
    external: series(
      ticks.map((s) => ({ t: s.t, v: s.external + s.arrayBuffers })),
      from,
    ),
    peakRssMb: samples.length ? round(max(samples.map((s) => s.maxRssKb)) / 1024, 1) : null,
  };
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  if (values['reanalyse-memory']) return reanalyseMemory();
  releaseRun = await benchRunLock(workDir);
  const started = new Date();
  rmSync(runDir, { recursive: true, force: true });
  // A lab made with other channels (a burst run's, or the other way round) starts afresh.
  const channels = [
    ...DEFAULT_CHANNELS,
    ...Array.from({ length: BURST_CHANNELS }, (_, i) => `burst${String(i).padStart(3, '0')}`),
  ];
  let previous: string[] | null = null;
  try {
    previous = loadLabState(lab).options.channels;
  } catch {
    previous = null;
  }
  if (previous !== null && JSON.stringify(previous) !== JSON.stringify(channels)) {
    log('the lab has other channels: starting from a fresh lab');
    await labDown({ workDir, purge: true });
  }
  if (!labAnyRunning(workDir)) {
    const busy = await portsInUse(labPorts(basePorts));
    if (busy.length)
      throw new Error(`ports ${busy.join(', ')} are in use: pick another --port-offset than ${PORT_OFFSET}`);
  }
  labStarted = true;
  const status = await labUp({ workDir, basePorts, channels, log: (l) => log(`lab: ${l}`) });
  mkdirSync(runDir, { recursive: true });
  build = await privateBuild(join(workDir, 'build'));
  log(
    `private build in ${build.ms} ms (${build.typeErrors} type errors; ${build.dirtyFiles.length} files differ from ${build.commit})`,
  );

  // The inventory: the lab's, with a check every INTERVAL_S seconds, a fresh Redis prefix, and Slack = the recorder.
  const recorder = await startSlackRecorder();
  const botPort = await freePort();
  const secret = randomBytes(16).toString('hex');
  const prefix = `soak-${randomBytes(3).toString('hex')}`;
  const inv = parse(readFileSync(status.inventory, 'utf8')) as {
    clusters: Record<string, Record<string, unknown>>;
    redis: { url: string; prefix?: string };
    slack?: unknown;
  };
  for (const c of Object.values(inv.clusters)) c['checks'] = { everySeconds: INTERVAL_S };
  inv.redis.prefix = prefix;
  inv.slack = {
    mode: 'http',
    port: botPort,
    apiUrl: recorder.apiUrl,
    incidentChannel: INCIDENTS,
    users: { [OPERATOR]: 'operator' },
    defaultRole: 'none',
  };
  const inventoryFile = join(runDir, 'inventory.yaml');
  writeFileSync(inventoryFile, stringify(inv, { lineWidth: 0 }));
  const inventory = loadInventory(inventoryFile); // validates it
  const env = { SLACK_BOT_TOKEN: 'xoxb-soak', SLACK_SIGNING_SECRET: secret, LOG_LEVEL: 'info' };

  const redisUrl = new URL(inventory.redis.url);
  const connection = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) };
  const redis = new Redis({ ...connection, maxRetriesPerRequest: null });
  // The lab's Redis keeps its data between runs: earlier runs' keys would count in its memory.
  let stale = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'soak-*', 'COUNT', 1000);
    cursor = next;
    if (keys.length) stale += await redis.del(...keys);
  } while (cursor !== '0');
  if (stale) log(`deleted ${stale} keys of earlier runs from the lab's Redis`);
  const checksQueue = new Queue(QUEUES.checks, { connection, prefix });
  const events = new QueueEvents(QUEUES.checks, { connection, prefix });
  await events.waitUntilReady();
  const runs: CheckRun[] = [];
  const pending: Promise<void>[] = [];
  const record = (jobId: string, st: 'completed' | 'failed', reason?: string) => {
    pending.push(
      (async () => {
        const job = await checksQueue.getJob(jobId).catch(() => undefined);
        const rv = job?.returnvalue as
          { exitCode?: number; findings?: CheckRun['findings']; posted?: unknown } | undefined;
        runs.push({
          jobId,
          slot: slotOf(jobId),
          status: st,
          processedOn: job?.processedOn ?? null,
          finishedOn: job?.finishedOn ?? null,
          ...(reason !== undefined ? { error: reason.slice(0, 300) } : {}),
          ...(rv?.exitCode !== undefined ? { exitCode: rv.exitCode } : {}),
          ...(rv?.findings ? { findings: rv.findings } : {}),
          ...(rv ? { posted: rv.posted !== null && rv.posted !== undefined } : {}),
        });
      })(),
    );
  };
  events.on('completed', ({ jobId }) => record(jobId, 'completed'));
  events.on('failed', ({ jobId, failedReason }) => record(jobId, 'failed', failedReason));

  // Redis memory every 10 s.
  const redisSamples: { t: number; used: number; rss: number; keys: number }[] = [];
  const sampleRedis = async () => {
    const info = await redis.info('memory').catch(() => '');
    const keys = await redis.dbsize().catch(() => NaN);
    const num = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
    redisSamples.push({ t: Date.now(), used: num('used_memory'), rss: num('used_memory_rss'), keys });
  };
  const redisTimer = setInterval(() => void sampleRedis(), 10_000);

  const procs: Proc[] = [];
  const faults: Fault[] = [];
  const commands: CommandResult[] = [];
  let endAt = 0;
  let settledMs: number | null = null;
  let openAtEnd: string[] = [];
  let stops: Awaited<ReturnType<typeof stopProc>>[] = [];
  let readyAt = 0;
  let stopAt = 0;
  const t0 = Date.now();
  try {
    for (let i = 1; i <= WORKERS; i++) {
      const w = startProc(`worker-${i}`, ['worker', '--config', inventoryFile], env);
      procs.push(w);
      await waitLog(w, /fabric-opsbot worker: working/, 60_000);
    }
    const bot = startProc(
      'bot',
      ['bot', '--http', '--port', String(botPort), '--host', '127.0.0.1', '--config', inventoryFile],
      env,
    );
    procs.push(bot);
    await waitLog(bot, /listening on port/, 60_000);
    readyAt = Date.now(); // the first worker synced the scheduler before it said "working"
    log(`bot on ${botPort}, ${WORKERS} worker(s), checks every ${INTERVAL_S} s; running ${MINUTES} min`);
    await sampleRedis();

    const runStart = Date.now();
    endAt = runStart + MINUTES * 60_000;
    const progress = setInterval(() => {
      const done = runs.filter((r) => r.status === 'completed').length;
      const failed = runs.filter((r) => r.status === 'failed').length;
      const inc = readIncidents(recorder.calls, faults);
      log(
        `${Math.round((Date.now() - runStart) / 1000)} s: ${done} checks done, ${failed} failed; ` +
          `${inc.incidents.length} incidents opened, ${inc.incidents.filter((x) => x.closedAt !== null).length} closed, ` +
          `${inc.incidents.filter((x) => x.duplicateOf).length} duplicates; load ${loadavg()[0]!.toFixed(1)}`,
      );
    }, 60_000);
    await Promise.all([
      faultLoop(endAt, faults),
      commandLoop(endAt, `http://127.0.0.1:${botPort}/slack/events`, secret, recorder, commands),
    ]);
    clearInterval(progress);

    // Everything healed: every incident should close within a few checks.
    log('run over: healing the lab, waiting for every incident to close');
    await healLab(lab, { timeoutMs: 180_000 }).catch((e: unknown) => log(`healLab: ${String(e)}`));
    const healedAt = Date.now();
    const settleUntil = healedAt + Math.max(180_000, 20 * INTERVAL_S * 1000);
    const minSettle = healedAt + 3 * INTERVAL_S * 1000;
    for (;;) {
      const open = await redis.hkeys(`${prefix}:incidents:lab`);
      openAtEnd = open;
      if (open.length === 0 && Date.now() >= minSettle) {
        settledMs = Date.now() - healedAt;
        break;
      }
      if (Date.now() > settleUntil) break;
      await sleep(1000);
    }
    log(`incidents open after healing: ${openAtEnd.length} (${settledMs ?? 'not settled'} ms)`);
    await sleep(2 * INTERVAL_S * 1000); // the last checks finish
    await sampleRedis();
  } finally {
    clearInterval(redisTimer);
    stopAt = Date.now();
    stopping = true;
    stops = await Promise.all(procs.map((p) => stopProc(p)));
    await Promise.allSettled(pending);
    await events.close();
    await checksQueue.close();
    await redis.quit().catch(() => undefined);
    await recorder.close();
    if (!values.keep) await labDown({ workDir }).catch((e: unknown) => log(`labDown: ${String(e)}`));
  }
  const finishedAt = Date.now();

  // ---------------------------------------------------------------- analysis
  const every = INTERVAL_S * 1000;
  const slots = runs.map((r) => r.slot).filter((s): s is number => s !== null);
  // A BullMQ "every" scheduler runs its first job when it is created and then every interval after it (a late
  // run skips the slots it missed): every slot is the first one plus a multiple of the interval. Expected: each
  // such slot from the workers being ready to the last that had time to run before they were stopped.
  const base = slots.length ? Math.min(...slots) : readyAt;
  const expected: number[] = [];
  for (let s = base + Math.ceil((readyAt - base) / every) * every; s <= stopAt - 2 * every; s += every)
    expected.push(s);
  const offGrid = slots.filter((s) => (s - base) % every !== 0).length;
  const seen = new Set(slots);
  const missedSlots = readyAt > 0 ? expected.filter((s) => !seen.has(s)) : [];
  const completed = runs.filter((r) => r.status === 'completed');
  const failed = runs.filter((r) => r.status === 'failed');
  const durations = completed
    .filter((r) => r.processedOn !== null && r.finishedOn !== null)
    .map((r) => r.finishedOn! - r.processedOn!);
  const startLag = runs
    .filter((r) => r.slot !== null && r.processedOn !== null)
    .map((r) => r.processedOn! - r.slot!);
  const dupSlots = slots.length - seen.size;

  const inc = readIncidents(recorder.calls, faults);
  const duplicates = inc.incidents.filter((i) => i.duplicateOf !== undefined);
  const perKey = new Map<string, number>();
  for (const i of inc.incidents) perKey.set(i.key, (perKey.get(i.key) ?? 0) + 1);
  const byCode: Record<string, { opened: number; closed: number }> = {};
  for (const i of inc.incidents) {
    const e = (byCode[i.code] ??= { opened: 0, closed: 0 });
    e.opened++;
    if (i.closedAt !== null) e.closed++;
  }
  const faultRows = faults.map((f) => {
    const mine = inc.incidents.filter((i) => i.fault === f.n);
    const firstOpen = mine.length ? Math.min(...mine.map((i) => i.openedAt)) : null;
    const lastClose =
      mine.every((i) => i.closedAt !== null) && mine.length
        ? Math.max(...mine.map((i) => i.closedAt!))
        : null;
    return {
      n: f.n,
      kind: f.kind,
      target: f.target,
      at: round((f.injectAt - t0) / 1000),
      durationS: f.healedAt !== null ? round((f.healedAt - f.injectAt) / 1000) : null,
      incidentsOpened: mine.length,
      codes: [...new Set(mine.map((i) => i.code))],
      firstIncidentAfterS: firstOpen !== null ? round((firstOpen - f.injectAt) / 1000, 1) : null,
      allClosedAfterHealS:
        lastClose !== null && f.healedAt !== null ? round((lastClose - f.healedAt) / 1000, 1) : null,
      stillOpen: mine.filter((i) => i.closedAt === null).length,
      errors: f.errors,
    };
  });
  const faultKinds: Record<
    string,
    { faults: number; withIncident: number; incidents: number; closed: number }
  > = {};
  for (const r of faultRows) {
    const e = (faultKinds[r.kind] ??= { faults: 0, withIncident: 0, incidents: 0, closed: 0 });
    e.faults++;
    if (r.incidentsOpened > 0) e.withIncident++;
    e.incidents += r.incidentsOpened;
    e.closed += r.incidentsOpened - r.stillOpen;
  }

  writeFileSync(join(runDir, 'redis.json'), JSON.stringify(redisSamples));
  const warm = t0 + Math.min(5 * 60_000, (MINUTES * 60_000) / 5);
  const memory = Object.fromEntries(
    procs.map((p) => [p.name, processMemory(readMemSamples(p.memFile), warm)]),
  );
  const redisMem = redisMemory(redisSamples, warm);
  const cmdOk = commands.filter((c) => c.reportMs !== null && c.error === undefined);

  const result = {
    date: started.toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
    node: process.version,
    kafka: status.kafkaVersion,
    build: {
      commit: build.commit,
      dirtyFiles: build.dirtyFiles,
      typeErrors: build.typeErrors,
      typeErrorSample: build.typeErrorSample,
    },
    options: {
      minutes: MINUTES,
      intervalS: INTERVAL_S,
      workers: WORKERS,
      seed: SEED,
      commandEveryS: COMMAND_EVERY_S,
      faultS: FAULT_S,
      gapS: GAP_S,
      portOffset: PORT_OFFSET,
      faults: FAULT_KINDS,
      burstChannels: BURST_CHANNELS,
    },
    t0,
    durationS: round((finishedAt - t0) / 1000),
    checks: {
      expected: expected.length,
      run: completed.length + failed.length,
      completed: completed.length,
      failed: failed.length,
      missed: missedSlots.length,
      missedSlots: missedSlots.map((s) => new Date(s).toISOString()),
      duplicateSlots: dupSlots,
      offGridSlots: offGrid,
      slowest: [...completed, ...failed]
        .filter((r) => r.processedOn !== null && r.finishedOn !== null)
        .sort((a, b) => b.finishedOn! - b.processedOn! - (a.finishedOn! - a.processedOn!))
        .slice(0, 8)
        .map((r) => {
          const fault = faultAt(faults, r.processedOn!);
          const during = fault && (fault.healedAt === null || fault.healedAt >= r.processedOn!);
          return {
            at: round((r.processedOn! - t0) / 1000),
            ms: r.finishedOn! - r.processedOn!,
            status: r.status,
            during: during
              ? `${fault.kind} ${fault.target}`
              : fault
                ? `after ${fault.kind} ${fault.target}`
                : null,
          };
        }),
      failures: failed.slice(0, 20).map((r) => ({ slot: r.slot, error: r.error })),
      durationMs: {
        p50: round(pct(durations, 50)),
        p99: round(pct(durations, 99)),
        max: round(max(durations)),
      },
      startLagMs: { p50: round(pct(startLag, 50)), p99: round(pct(startLag, 99)), max: round(max(startLag)) },
      changeSummariesPosted: inc.changeSummaries,
    },
    incidents: {
      opened: inc.incidents.length,
      closed: inc.incidents.filter((i) => i.closedAt !== null).length,
      openAtEndInRedis: openAtEnd,
      closedAllAfterHealMs: settledMs,
      duplicates: duplicates.length,
      duplicateList: duplicates.map((d) => ({
        key: d.key,
        at: new Date(d.openedAt).toISOString(),
        of: d.duplicateOf,
      })),
      openingPostsPerIncident: {
        max: perKey.size ? max([...perKey.values()]) : 0,
        keysOpenedMoreThanOnce: [...perKey.entries()]
          .filter(([, n]) => n > 1)
          .map(([k, n]) => ({ key: k, times: n })),
      },
      changeRepliesTotal: inc.incidents.reduce((n, i) => n + i.changes, 0),
      clearedReplies: inc.clearedReplies,
      byCode,
      otherPostsInIncidentChannel: inc.otherIncidentChannel,
      list: inc.incidents.map((x) => ({
        key: x.key,
        openedAtS: round((x.openedAt - t0) / 1000, 1),
        closedAtS: x.closedAt !== null ? round((x.closedAt - t0) / 1000, 1) : null,
        changes: x.changes,
        fault: x.fault,
        ...(x.duplicateOf !== undefined ? { duplicateOf: x.duplicateOf } : {}),
      })),
    },
    faults: { injected: faults.length, byKind: faultKinds, list: faultRows },
    commands: {
      sent: commands.length,
      answered: cmdOk.length,
      errors: commands.filter((c) => c.error !== undefined).map((c) => c.error),
      ackMs: {
        p50: round(
          pct(
            commands.map((c) => c.ackMs),
            50,
          ),
        ),
        p99: round(
          pct(
            commands.map((c) => c.ackMs),
            99,
          ),
        ),
      },
      reportMs: {
        p50: round(
          pct(
            cmdOk.map((c) => c.reportMs!),
            50,
          ),
        ),
        p99: round(
          pct(
            cmdOk.map((c) => c.reportMs!),
            99,
          ),
        ),
      },
    },
    memory,
    redis: redisMem,
    processes: stops,
    logProblems: logProblems(procs.map((p) => ({ name: p.name, file: p.logFile }))),
    slackCalls: recorder.calls.length,
  };
  const out = join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `${OUT}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const md = markdown(result);
  writeFileSync(join(out, `${OUT}.md`), md);
  console.log(md);
}

function f(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '-';
  return String(v);
}

function markdown(r: {
  date: string;
  machine: string;
  node: string;
  kafka: string;
  build: { commit: string; dirtyFiles: string[]; typeErrors: number };
  options: Record<string, unknown>;
  durationS: number | null;
  checks: Record<string, unknown> & {
    durationMs: Record<string, unknown>;
    startLagMs: Record<string, unknown>;
  };
  incidents: Record<string, unknown> & { byCode: Record<string, { opened: number; closed: number }> };
  faults: {
    injected: number;
    byKind: Record<string, { faults: number; withIncident: number; incidents: number; closed: number }>;
    list: Record<string, unknown>[];
  };
  commands: Record<string, unknown> & { ackMs: Record<string, unknown>; reportMs: Record<string, unknown> };
  memory: Record<string, ReturnType<typeof processMemory>>;
  redis: {
    used: Series;
    rss: Series;
    keysStart: number | null;
    keysEnd: number | null;
    keysMax: number | null;
  };
  processes: { name: string; exitCode: number | null; signal: string | null; ms: number }[];
  logProblems: Record<string, Record<string, number>>;
}): string {
  const o = r.options;
  const c = r.checks;
  const i = r.incidents;
  const seriesRow = (name: string, what: string, s: Series) =>
    `| ${name} | ${what} | ${f(s.startMb)} | ${f(s.endMb)} | ${f(s.maxMb)} | ${f(s.growthMbPerHour)} | ${f(s.r2)} | ${f(s.lateGrowthMbPerHour)} | ${s.samples} |`;
  return [
    '# Soak: scheduled checks while faults come and go',
    '',
    `${r.date}, ${r.machine}, Node ${r.node}, Kafka ${r.kafka} (3 ZooKeeper, 4 brokers, Redis); the processes run ` +
      `a private build of the working tree at ${r.build.commit} (${r.build.dirtyFiles.length} files of src/, ` +
      `commands/, workers/ changed since; ${r.build.typeErrors} type errors). ${f(o['minutes'])} minutes (${f(r.durationS)} s with start-up and the ` +
      `settling at the end); \`fabric-opsbot bot --http\` and ${f(o['workers'])} \`fabric-opsbot worker\` processes; ` +
      `the cluster's check every ${f(o['intervalS'])} s (BullMQ job scheduler); a signed \`/fabric status pubchain\` ` +
      `every ${f(o['commandEveryS'])} s; faults (seed ${f(o['seed'])}) lasting ${JSON.stringify(o['faultS'])} s with ` +
      `gaps of ${JSON.stringify(o['gapS'])} s, drawn from ${(o['faults'] as string[] | undefined)?.join(', ') ?? 'kill-broker, stop-zookeeper, unreachable-listener'}` +
      (Number(o['burstChannels'] ?? 0) > 0
        ? `; ${f(o['burstChannels'])} extra Fabric channels (1 partition, RF 3 each) in the lab and the inventory`
        : '') +
      '. Slack is the local recorder.',
    '',
    '## Scheduled checks',
    '',
    '| expected ticks | checks run | completed | failed | missed | same slot twice | off the schedule | run time p50 / p99 / max ms | start lag p50 / p99 / max ms | change summaries posted |',
    '|---:|---:|---:|---:|---:|---:|---:|---|---|---:|',
    `| ${f(c['expected'])} | ${f(c['run'])} | ${f(c['completed'])} | ${f(c['failed'])} | ${f(c['missed'])} | ${f(c['duplicateSlots'])} | ${f(c['offGridSlots'])} | ${f(c.durationMs['p50'])} / ${f(c.durationMs['p99'])} / ${f(c.durationMs['max'])} | ${f(c.startLagMs['p50'])} / ${f(c.startLagMs['p99'])} / ${f(c.startLagMs['max'])} | ${f(c['changeSummariesPosted'])} |`,
    '',
    'Start lag: from the slot the scheduler gave the job (its id) to a worker starting it. Checks run can exceed ' +
      'the expected ticks by the runs before the workers were ready and after the last expected slot.',
    '',
    'Slowest checks:',
    '',
    '| at s | ms | status | fault |',
    '|---:|---:|---|---|',
    ...(c['slowest'] as { at: number; ms: number; status: string; during: string | null }[]).map(
      (x) => `| ${f(x.at)} | ${x.ms} | ${x.status} | ${f(x.during)} |`,
    ),
    '',
    '## Incidents',
    '',
    '| opened | closed | still open in Redis after healing | messages never marked resolved | all closed after healing (ms) | duplicate opening posts | most opening posts for one key | thread replies (changed) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${f(i['opened'])} | ${f(i['closed'])} | ${(i['openAtEndInRedis'] as string[]).length} | ${(i['list'] as { closedAtS: number | null }[]).filter((x) => x.closedAtS === null).length} | ${f(i['closedAllAfterHealMs'])} | ${f(i['duplicates'])} | ${f((i['openingPostsPerIncident'] as { max: number }).max)} | ${f(i['changeRepliesTotal'])} |`,
    '',
    'A duplicate is a second opening post for the same code and subject while the first is still open. The same ' +
      'key opened again after it closed (a fault that came back) is not a duplicate. "Never marked resolved": ' +
      'incident messages never updated to RESOLVED although nothing is open in Redis any more (a duplicate ' +
      'replaced the record of the message it duplicated, which then stays "INCIDENT" in the channel).',
    '',
    '| code | opened | closed |',
    '|---|---:|---:|',
    ...Object.entries(i.byCode).map(([code, v]) => `| ${code} | ${v.opened} | ${v.closed} |`),
    '',
    '## Faults',
    '',
    '| kind | injected | with an incident | incidents | closed |',
    '|---|---:|---:|---:|---:|',
    ...Object.entries(r.faults.byKind).map(
      ([k, v]) => `| ${k} | ${v.faults} | ${v.withIncident} | ${v.incidents} | ${v.closed} |`,
    ),
    '',
    '| # | fault | at s | lasted s | incidents (codes) | first incident after s | all closed after heal s | errors |',
    '|---:|---|---:|---:|---|---:|---:|---|',
    ...r.faults.list.map(
      (x) =>
        `| ${f(x['n'])} | ${f(x['kind'])} ${f(x['target'])} | ${f(x['at'])} | ${f(x['durationS'])} | ${f(x['incidentsOpened'])} (${(x['codes'] as string[]).join(', ')}) | ${f(x['firstIncidentAfterS'])} | ${f(x['allClosedAfterHealS'])} | ${(x['errors'] as string[]).join('; ')} |`,
    ),
    '',
    'A stopped ZooKeeper node (of 3) is a warning, not an incident: it shows in the scheduled change summaries.',
    '',
    '## Commands through the bot',
    '',
    `${f(r.commands['sent'])} sent, ${f(r.commands['answered'])} answered; ack p50 ${f(r.commands.ackMs['p50'])} ms, ` +
      `p99 ${f(r.commands.ackMs['p99'])} ms; command to report p50 ${f(r.commands.reportMs['p50'])} ms, p99 ` +
      `${f(r.commands.reportMs['p99'])} ms.`,
    '',
    '## Memory',
    '',
    'Growth: least-squares line through the samples after the warm-up (the first 5 minutes, or a fifth of a ' +
      'shorter run). "heap after GC" are the samples taken once a minute right after a full GC (--expose-gc): what ' +
      'the process really keeps.',
    '',
    '| process | measure | start MiB | end MiB | max MiB | growth MiB/h | r² | growth in the second half MiB/h | samples |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...Object.entries(r.memory).flatMap(([name, m]) => [
      seriesRow(name, 'RSS', m.rss),
      seriesRow(name, 'heap used', m.heapUsed),
      seriesRow(name, 'heap after GC', m.heapAfterGc),
    ]),
    seriesRow('redis', 'used_memory', r.redis.used),
    seriesRow('redis', 'RSS', r.redis.rss),
    '',
    `Redis keys: ${f(r.redis.keysStart)} at the start, ${f(r.redis.keysEnd)} at the end (max ${f(r.redis.keysMax)}).`,
    '',
    'Processes stopped with SIGTERM at the end: ' +
      r.processes
        .map((p) => `${p.name} exit ${f(p.exitCode)}${p.signal ? ` (${p.signal})` : ''} in ${p.ms} ms`)
        .join(', ') +
      '.',
    '',
    '## Warnings and errors the processes logged',
    '',
    '| process | count | message |',
    '|---|---:|---|',
    ...Object.entries(r.logProblems).flatMap(([name, counts]) =>
      Object.entries(counts)
        .sort((a, b) => b[1] - a[1])
        .map(([msg, n]) => `| ${name} | ${n} | ${msg.replace(/\|/g, '\\|')} |`),
    ),
    '',
  ].join('\n');
}

main().then(
  () => releaseRun?.(),
  async (err) => {
    console.error(err);
    // Only a lab this run started: another run's lab is not ours to stop.
    if (!values.keep && labStarted) await labDown({ workDir }).catch(() => undefined);
    releaseRun?.();
    process.exit(1);
  },
);
