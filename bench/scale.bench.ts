/**
 * Benchmark (issue #9, hardening: scale). A lab with 50 topics of 200 partitions (10,000 partitions, replication
 * factor 3, plus the two channel topics) on 4 brokers: how long gather (ZooKeeper, Kafka, reachability), the
 * checks and each renderer (text, JSON, Block Kit) take, and the whole `diagnose --json` as a fresh process, with
 * memory (this process: heap retained by the snapshot and the report, peak RSS; the fresh process: peak RSS from
 * /usr/bin/time -v, heap from the memprobe preload). Then with faults, so that findings exist at scale: broker 4
 * killed (thousands of partitions at min ISR), then broker 3 too (thousands under min ISR: critical). For each
 * stage: does the Block Kit report stay within Slack's limits, worst first, saying how many were left out; is
 * the text report summarised; do the incident and scheduled-check messages fit. Finally an in-process run on
 * synthetic snapshots (test/fixtures/snapshots/builder.ts) of 10,000 and 50,000 partitions: how checks and
 * rendering grow.
 *
 *   npx tsx bench/scale.bench.ts [--topics 50] [--partitions-per-topic 200] [--rf 3] [--runs 3]
 *       [--broker-heap-mb 1024] [--port-offset 800] [--synthetic 10000,50000] [--synthetic-only] [--no-synthetic]
 *       [--keep]
 *
 * Its own lab (.lab/bench-scale, ports +800); writes bench/results/scale.{json,md} and the text report of the
 * worst stage to bench/results/scale.txt.
 */
import { execFileSync } from 'node:child_process';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { runChecks } from '../src/checks/index.js';
import { loadInventory, readSecrets, selectCluster, type SelectedCluster } from '../src/config/index.js';
import { gatherSnapshot } from '../src/gather/index.js';
import { gatherKafka, wireOptionsFor } from '../src/gather/kafka.js';
import { probeBrokerEndpoints } from '../src/gather/reachability.js';
import { gatherZookeeper } from '../src/gather/zookeeper.js';
import {
  healLab,
  killBroker,
  labDown,
  labStatus,
  labUp,
  repoRoot,
  waitFor,
  type LabStatus,
} from '../src/lab/index.js';
import type { ClusterSnapshot, Finding, Report, Severity } from '../src/model/index.js';
import { defaultExtraGatherers, EXTRA_CHECKS } from '../src/ops/diagnose.js';
import { buildReport } from '../src/render/report.js';
import { renderText } from '../src/render/text.js';
import { reportView } from '../src/render/view.js';
import {
  changesBlocks,
  checkBlockLimits,
  countBySeverity,
  incidentBlocks,
  partitionState,
  partitionsWorstFirst,
  reportBlocks,
  SLACK_LIMITS,
  type KnownBlock,
  type PartitionState,
  type SlackMessage,
} from '../src/slack/blocks.js';
import { addTopic, large, stopBroker } from '../test/fixtures/snapshots/builder.js';
import { diffFindings, digest } from '../workers/scheduled.js';
import {
  benchRunLock,
  cpuWindow,
  fullGc,
  jvmHeapUsedMb,
  labAnyRunning,
  labPorts,
  MEMPROBE,
  openFds,
  portsInUse,
  procMemory,
  readMemSamples,
  shiftedPorts,
  timeV,
} from './lib/proc.js';
import { privateBuild, type PrivateBuild } from './lib/build.js';
import { max, mb, median, round } from './lib/stats.js';

const { Kafka, logLevel } = kafkajs;

const { values } = parseArgs({
  options: {
    topics: { type: 'string', default: '50' },
    'partitions-per-topic': { type: 'string', default: '200' },
    rf: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    'broker-heap-mb': { type: 'string', default: '1024' },
    'port-offset': { type: 'string', default: '800' },
    synthetic: { type: 'string', default: '10000,50000' },
    'synthetic-only': { type: 'boolean', default: false },
    'no-synthetic': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const TOPICS = Number(values.topics);
const PER_TOPIC = Number(values['partitions-per-topic']);
const RF = Number(values.rf);
const RUNS = Number(values.runs);
const BROKER_HEAP_MB = Number(values['broker-heap-mb']);
const PORT_OFFSET = Number(values['port-offset']);
const SYNTHETIC = values.synthetic
  .split(',')
  .filter(Boolean)
  .map((s) => Number(s));
const root = repoRoot();
const workDir = join(root, '.lab', 'bench-scale');
const basePorts = shiftedPorts(PORT_OFFSET);
const outDir = join(root, 'bench', 'results');
const log = (line: string) => console.error(`[scale] ${line}`);
const topicName = (i: number) => `scale-${String(i).padStart(2, '0')}`;

// ------------------------------------------------------------------ machine

function shell(cmd: string): string {
  try {
    return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

function machine(): Record<string, unknown> {
  return {
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    freeGiB: round(freemem() / 2 ** 30, 1),
    node: process.version,
    ulimitN: shell('ulimit -n'),
    vmMaxMapCount: shell('cat /proc/sys/vm/max_map_count'),
  };
}

// ------------------------------------------------------------------ one measured diagnosis, phase by phase

interface Phases {
  zookeeperMs: number;
  kafkaMs: number;
  reachabilityMs: number;
  /** What diagnose does: every source, concurrently where it can (gatherSnapshot with the default gatherers). */
  gatherMs: number;
  checksMs: number;
  reportMs: number;
  textMs: number;
  jsonMs: number;
  blocksMs: number;
}

interface PhaseRun {
  phases: Phases;
  snapshot: ClusterSnapshot;
  findings: Finding[];
  report: Report;
  text: string;
  json: string;
  blocks: SlackMessage;
  /** Heap retained (after a full GC) by the snapshot, then by snapshot + report + outputs, MiB. */
  snapshotHeapMb: number | null;
  allHeapMb: number | null;
  /** Highest heapUsed seen at a phase boundary (no GC in between), MiB. */
  heapPeakMb: number | null;
}

const since = (t0: number) => performance.now() - t0;

async function measureOnce(cluster: SelectedCluster, env: NodeJS.ProcessEnv): Promise<PhaseRun> {
  const cfg = cluster.config;
  const secrets = readSecrets(inventoryOf(), env);
  let heapPeak = 0;
  const mark = () => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  };

  // The sources one after the other, to time each (diagnose runs Kafka and the probes concurrently).
  let t = performance.now();
  const zk = await gatherZookeeper(cfg.zookeeper, {});
  const zookeeperMs = since(t);
  if (!zk.view) throw new Error(`ZooKeeper not read: ${zk.status.error ?? '?'}`);
  mark();
  t = performance.now();
  const kafka = await gatherKafka(cfg.kafka.brokers, {
    wire: wireOptionsFor(cfg.kafka, secrets.byEnv),
    registrations: zk.view.brokers,
    partitions: zk.view.partitions,
  });
  const kafkaMs = since(t);
  if (!kafka.view) throw new Error(`Kafka not read: ${kafka.status.error ?? '?'}`);
  mark();
  t = performance.now();
  await probeBrokerEndpoints(zk.view.brokers, cfg.kafka.connectTimeoutMs);
  const reachabilityMs = since(t);

  fullGc();
  const heap0 = process.memoryUsage().heapUsed;
  t = performance.now();
  const snapshot = await gatherSnapshot(cluster.name, cfg, {
    secrets,
    extraGatherers: defaultExtraGatherers(cfg),
  });
  const gatherMs = since(t);
  mark();
  fullGc();
  const snapshotHeap = process.memoryUsage().heapUsed - heap0;

  t = performance.now();
  const findings = runChecks(snapshot, { extraChecks: EXTRA_CHECKS });
  const checksMs = since(t);
  mark();
  t = performance.now();
  const report = buildReport(snapshot, findings);
  const reportMs = since(t);
  mark();
  t = performance.now();
  const text = renderText(report, { color: false });
  const textMs = since(t);
  mark();
  t = performance.now();
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const jsonMs = since(t);
  mark();
  t = performance.now();
  const blocks = reportBlocks(report, { footer: 'asked by <@U0BENCH> · job `bench`' });
  const blocksMs = since(t);
  mark();
  fullGc();
  const allHeap = process.memoryUsage().heapUsed - heap0;
  return {
    phases: {
      zookeeperMs,
      kafkaMs,
      reachabilityMs,
      gatherMs,
      checksMs,
      reportMs,
      textMs,
      jsonMs,
      blocksMs,
    },
    snapshot,
    findings,
    report,
    text,
    json,
    blocks,
    snapshotHeapMb: mb(snapshotHeap),
    allHeapMb: mb(allHeap),
    heapPeakMb: mb(heapPeak),
  };
}

let inventoryFile = '';
/** This run holds the work folder (bench/lib/proc.ts benchRunLock) / has started the lab. */
let releaseRun: (() => void) | null = null;
let labStarted = false;
/** The CLI the fresh processes run: a private build of the working tree (bench/lib/build.ts), not dist/. */
let build: PrivateBuild | null = null;
function inventoryOf() {
  return loadInventory(inventoryFile);
}

function medianPhases(runs: readonly Phases[]): Record<keyof Phases, number | null> {
  const keys = Object.keys(runs[0]!) as (keyof Phases)[];
  return Object.fromEntries(keys.map((k) => [k, round(median(runs.map((r) => r[k])), 1)])) as Record<
    keyof Phases,
    number | null
  >;
}

// ------------------------------------------------------------------ diagnose --json as a fresh process

interface ChildResult {
  wallMs: (number | null)[];
  wallMedianMs: number | null;
  wallMinMs: number | null;
  exitCodes: (number | null)[];
  maxRssMb: number | null;
  /** From the memprobe run (10 ms samples and one at exit). */
  heapUsedPeakMb: number | null;
  heapTotalPeakMb: number | null;
  jsonBytes: number;
}

async function diagnoseChild(inventory: string, runs: number): Promise<ChildResult> {
  const args = [build!.launcher, 'diagnose', '--json', '--config', inventory];
  const walls: number[] = [];
  const codes: (number | null)[] = [];
  const rss: number[] = [];
  let jsonBytes = 0;
  for (let i = 0; i < runs; i++) {
    const r = await timeV('node', args, { cwd: root, timeoutMs: 300_000 });
    if (r.code === null || ![0, 1, 2].includes(r.code))
      throw new Error(`diagnose --json exited ${r.code}: ${r.stderr.slice(-2000)}`);
    walls.push(r.ms);
    codes.push(r.code);
    if (r.maxRssKb !== null) rss.push(r.maxRssKb);
    jsonBytes = Buffer.byteLength(r.stdout);
  }
  // One more with the memprobe preload, for the heap (not timed: sampling every 10 ms costs a little).
  const probeFile = join(workDir, `memprobe-diagnose-${process.pid}.jsonl`);
  rmSync(probeFile, { force: true });
  await timeV('node', ['--import', MEMPROBE, ...args], {
    cwd: root,
    timeoutMs: 300_000,
    env: { ...process.env, FABRIC_OPSBOT_MEMPROBE: probeFile, FABRIC_OPSBOT_MEMPROBE_MS: '10' },
  });
  const samples = readMemSamples(probeFile);
  rmSync(probeFile, { force: true });
  return {
    wallMs: walls.map((w) => round(w)),
    wallMedianMs: round(median(walls)),
    wallMinMs: round(Math.min(...walls)),
    exitCodes: codes,
    maxRssMb: rss.length ? round(max(rss) / 1024, 1) : null,
    heapUsedPeakMb: samples.length ? mb(max(samples.map((s) => s.heapUsed))) : null,
    heapTotalPeakMb: samples.length ? mb(max(samples.map((s) => s.heapTotal))) : null,
    jsonBytes,
  };
}

// ------------------------------------------------------------------ what the outputs look like at scale

function blockTexts(b: KnownBlock): string[] {
  if (b.type === 'section') return [b.text?.text ?? '', ...(b.fields ?? []).map((f) => f.text)];
  if (b.type === 'context')
    return b.elements.map((e) => ('text' in e && typeof e.text === 'string' ? e.text : ''));
  if (b.type === 'header') return [b.text.text];
  return [];
}

const RANK: Record<PartitionState, number> = {
  OFFLINE: 5,
  'UNDER-MIN-ISR': 4,
  'AT-MIN-ISR': 3,
  'UNDER-REPL': 2,
  'NO-FAILOVER': 1,
  OK: 0,
};
const SEV_RANK: Record<Severity, number> = { critical: 2, warning: 1, info: 0 };
const SEV_ICON: [string, Severity][] = [
  [':red_circle:', 'critical'],
  [':large_orange_circle:', 'warning'],
  [':large_blue_circle:', 'info'],
];

interface BlocksAnalysis {
  blocks: number;
  maxSectionChars: number;
  jsonBytes: number;
  fallbackTextChars: number;
  limitProblems: string[];
  partitionRowsShown: number;
  /** State of the first partition row vs the worst state any partition has. */
  firstRowState: string | null;
  worstState: PartitionState | null;
  partitionRowsWorstFirst: boolean;
  findingsShown: number;
  findingsWorstFirst: boolean;
  /** The lines that say what was left out. */
  leftOutNotes: string[];
}

function analyseBlocks(report: Report, msg: SlackMessage): BlocksAnalysis {
  const texts = msg.blocks.flatMap(blockTexts);
  // Partition rows: the code blocks of the "*Partitions*" sections (the first one carries the title).
  const rows: string[] = [];
  let inPartitions = false;
  for (const b of msg.blocks) {
    if (b.type !== 'section' || !b.text) {
      if (inPartitions && b.type !== 'section') inPartitions = false;
      continue;
    }
    const t = b.text.text;
    if (t.startsWith('*Partitions*')) inPartitions = true;
    else if (!t.startsWith('```')) inPartitions = false;
    if (!inPartitions) continue;
    const code = t.slice(t.indexOf('```') + 3, t.lastIndexOf('```'));
    const lines = code.split('\n').filter((l) => l.trim().length > 0);
    rows.push(...lines.filter((l) => !/^TOPIC\s/.test(l)));
  }
  const rowStates = rows.map((r) => r.trim().split(/\s+/).pop() ?? '');
  const worst = report.partitions.length ? partitionState(partitionsWorstFirst(report.partitions)[0]!) : null;
  const ranks = rowStates.map((s) => RANK[s as PartitionState] ?? -1);
  // Findings: the section blocks after "*Findings*" that start with a severity icon, and the "…and N more" lines.
  const sev: Severity[] = [];
  let shownFindings = 0;
  let inFindings = false;
  for (const b of msg.blocks) {
    const t = blockTexts(b)[0] ?? '';
    if (b.type === 'section' && t.startsWith('*Findings*')) {
      inFindings = true;
      continue;
    }
    if (!inFindings) continue;
    const icon = SEV_ICON.find(([i]) => t.startsWith(i));
    if (!icon) continue;
    sev.push(icon[1]);
    if (b.type === 'section') shownFindings++;
  }
  const sevRanks = sev.map((s) => SEV_RANK[s]);
  return {
    blocks: msg.blocks.length,
    maxSectionChars: max(
      msg.blocks.filter((b) => b.type === 'section').flatMap((b) => blockTexts(b).map((x) => x.length)),
    ),
    jsonBytes: Buffer.byteLength(JSON.stringify(msg.blocks)),
    fallbackTextChars: msg.text.length,
    limitProblems: checkBlockLimits(msg.blocks),
    partitionRowsShown: rows.length,
    firstRowState: rowStates[0] ?? null,
    worstState: worst,
    partitionRowsWorstFirst:
      worst === null
        ? rows.length === 0
        : ranks.every((r, i) => i === 0 || r <= ranks[i - 1]!) && ranks[0] === RANK[worst],
    findingsShown: shownFindings,
    findingsWorstFirst: sevRanks.every((r, i) => i === 0 || r <= sevRanks[i - 1]!),
    leftOutNotes: texts
      .filter((x) => /not shown|more finding|…and /.test(x))
      .map((x) => x.split('\n')[0]!)
      .map((x) => (x.length > 300 ? `${x.slice(0, 299)}…` : x)),
  };
}

function analyseText(report: Report, text: string): Record<string, unknown> {
  const v = reportView(report);
  const lines = text.split('\n');
  return {
    bytes: Buffer.byteLength(text),
    lines: lines.length,
    longestLine: max(lines.map((l) => l.length)),
    topicsInDetail: v.detailed.length,
    partitionRowsInTables: v.detailed.reduce((n, t) => n + t.rows.length, 0),
    topicsOneLine: v.compact.length,
    findingsListed: v.findingGroups.reduce((n, g) => n + g.findings.length, 0),
    compactNote: v.compactNote ?? null,
  };
}

function findingCodes(findings: readonly Finding[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of findings) out[`${f.severity}:${f.code}`] = (out[`${f.severity}:${f.code}`] ?? 0) + 1;
  return out;
}

/** The messages a worker would post besides the report: the incidents it would open, a scheduled check's changes. */
function otherMessages(report: Report, previous: Report | null): Record<string, unknown> {
  const critical = report.findings.filter((f) => f.severity === 'critical');
  const incidentProblems = critical.flatMap((f) =>
    checkBlockLimits(
      incidentBlocks({ cluster: report.cluster, finding: f, openedAt: 'x', lastSeenAt: 'x' }).blocks,
    ),
  );
  const diff = diffFindings(previous ? digest(previous.findings) : null, report);
  const changes = changesBlocks(report.cluster, diff.changes, 'scheduled check · job `bench`');
  return {
    incidentsOpened: critical.length,
    incidentLimitProblems: incidentProblems,
    changes: diff.changes.length,
    changesBlocks: changes.blocks.length,
    changesLimitProblems: checkBlockLimits(changes.blocks),
    changesLeftOut: changes.blocks
      .flatMap(blockTexts)
      .filter((t) => /not shown/.test(t))
      .join(' '),
  };
}

// ------------------------------------------------------------------ the lab

async function createTopics(status: LabStatus): Promise<{ createMs: number; leadersMs: number }> {
  const kafka = new Kafka({
    clientId: 'bench-scale',
    brokers: status.brokers.map((b) => `127.0.0.1:${b.port}`),
    logLevel: logLevel.NOTHING,
    requestTimeout: 120_000,
    connectionTimeout: 10_000,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = Array.from({ length: TOPICS }, (_, i) => topicName(i)).filter((t) => !existing.has(t));
    const t0 = performance.now();
    for (let i = 0; i < missing.length; i += 5) {
      const batch = missing.slice(i, i + 5);
      await admin.createTopics({
        topics: batch.map((topic) => ({ topic, numPartitions: PER_TOPIC, replicationFactor: RF })),
        waitForLeaders: false,
        timeout: 120_000,
      });
      log(`created ${Math.min(i + 5, missing.length)}/${missing.length} topics`);
    }
    const createMs = since(t0);
    const t1 = performance.now();
    const want = Array.from({ length: TOPICS }, (_, i) => topicName(i));
    await waitFor(
      async () => {
        const md = await admin.fetchTopicMetadata({ topics: want }).catch(() => null);
        if (!md) return false;
        const parts = md.topics.flatMap((t) => t.partitions);
        const ready = parts.filter((p) => p.leader >= 0 && p.isr.length === RF).length;
        log(`${ready}/${TOPICS * PER_TOPIC} partitions with a leader and a full ISR`);
        return ready === TOPICS * PER_TOPIC;
      },
      { timeoutMs: 900_000, intervalMs: 5000, what: `${TOPICS * PER_TOPIC} partitions to have leaders` },
    );
    return { createMs: Math.round(createMs), leadersMs: Math.round(since(t1)) };
  } finally {
    await admin.disconnect();
  }
}

async function brokerResources(status: LabStatus): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const b of status.brokers) {
    if (b.pid === null) {
      out.push({ id: b.id, running: false });
      continue;
    }
    const m = procMemory(b.pid);
    out.push({
      id: b.id,
      running: true,
      rssMb: m ? round(m.rssKb / 1024) : null,
      heapUsedMb: await jvmHeapUsedMb(b.pid),
      openFds: openFds(b.pid),
      maps: Number(shell(`wc -l < /proc/${b.pid}/maps`)) || null,
    });
  }
  return out;
}

/** Until two diagnoses 3 s apart give the same findings (the controller and the brokers have caught up). */
async function waitSettled(cluster: SelectedCluster, what: string): Promise<number> {
  const t0 = performance.now();
  let last = '';
  await waitFor(
    async () => {
      const snapshot = await gatherSnapshot(cluster.name, cluster.config, {
        secrets: readSecrets(inventoryOf(), process.env),
        extraGatherers: [],
      });
      const findings = runChecks(snapshot, { extraChecks: EXTRA_CHECKS });
      const key = JSON.stringify(findings.map((f) => [f.code, f.summary]));
      const same = key === last;
      last = key;
      log(`${what}: ${JSON.stringify(countBySeverity(findings))}${same ? ' (settled)' : ''}`);
      return same;
    },
    { timeoutMs: 600_000, intervalMs: 3000, what },
  );
  return Math.round(since(t0));
}

interface StageResult {
  stage: string;
  settleMs: number;
  loadAvg: number[];
  /** 10 s at rest before the runs: % of the machine busy, and cores the lab's JVMs use by themselves. */
  atRest: { machineBusyPct: number; labJvmCores: number };
  partitions: number;
  findings: Record<Severity, number>;
  findingCodes: Record<string, number>;
  phasesMedianMs: Record<keyof Phases, number | null>;
  phaseRunsMs: Phases[];
  inProcessMemory: {
    snapshotHeapMb: number | null;
    snapshotReportOutputsHeapMb: number | null;
    heapPeakMb: number | null;
    processMaxRssMb: number | null;
  };
  diagnoseProcess: ChildResult;
  blockKit: BlocksAnalysis;
  blockKitBrokersView: BlocksAnalysis;
  text: Record<string, unknown>;
  otherMessages: Record<string, unknown>;
  exitCode: number;
}

async function measureStage(
  stage: string,
  cluster: SelectedCluster,
  settleMs: number,
  previous: Report | null,
): Promise<{ result: StageResult; report: Report; text: string }> {
  const st = labStatus({ workDir });
  const jvms = [...st.brokers, ...st.zookeeper].map((p) => p.pid).filter((p): p is number => p !== null);
  const rest = await cpuWindow(jvms, 10_000);
  log(`stage ${stage}: at rest ${JSON.stringify(rest)}; ${RUNS} in-process runs`);
  const runs: PhaseRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await measureOnce(cluster, process.env);
    log(
      `  run ${i + 1}: ${JSON.stringify(r.phases, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))}`,
    );
    runs.push(r);
  }
  // Only the last run's objects stay alive (the others' heap was measured on their own).
  for (const r of runs.slice(0, -1)) {
    r.snapshot = null as unknown as ClusterSnapshot;
    r.text = '';
    r.json = '';
  }
  const last = runs[runs.length - 1]!;
  log(`stage ${stage}: diagnose --json as a fresh process × ${RUNS}`);
  const child = await diagnoseChild(inventoryFile, RUNS);
  log(`  ${JSON.stringify(child)}`);
  const counts = countBySeverity(last.findings);
  const result: StageResult = {
    stage,
    settleMs,
    loadAvg: loadavg().map((x) => round(x, 2) ?? 0),
    atRest: { machineBusyPct: rest.machineBusyPct, labJvmCores: rest.pidsCores },
    partitions: last.report.partitions.length,
    findings: counts,
    findingCodes: findingCodes(last.findings),
    phasesMedianMs: medianPhases(runs.map((r) => r.phases)),
    phaseRunsMs: runs.map(
      (r) =>
        Object.fromEntries(Object.entries(r.phases).map(([k, v]) => [k, round(v, 1)])) as unknown as Phases,
    ),
    inProcessMemory: {
      snapshotHeapMb: median(runs.map((r) => r.snapshotHeapMb ?? NaN)),
      snapshotReportOutputsHeapMb: median(runs.map((r) => r.allHeapMb ?? NaN)),
      heapPeakMb: max(runs.map((r) => r.heapPeakMb ?? NaN)),
      processMaxRssMb: round(process.resourceUsage().maxRSS / 1024, 1),
    },
    diagnoseProcess: child,
    blockKit: analyseBlocks(last.report, last.blocks),
    blockKitBrokersView: analyseBlocks(last.report, reportBlocks(last.report, { view: 'brokers' })),
    text: analyseText(last.report, last.text),
    otherMessages: otherMessages(last.report, previous),
    exitCode: counts.critical > 0 ? 2 : counts.warning > 0 ? 1 : 0,
  };
  return { result, report: last.report, text: last.text };
}

// ------------------------------------------------------------------ synthetic snapshots

interface SyntheticRow {
  partitions: number;
  scenario: string;
  findings: Record<Severity, number>;
  checksMs: number | null;
  reportMs: number | null;
  textMs: number | null;
  jsonMs: number | null;
  blocksMs: number | null;
  totalMs: number | null;
  snapshotHeapMb: number | null;
  reportHeapMb: number | null;
  jsonBytes: number;
  textLines: number;
  blocks: number;
  blockLimitProblems: string[];
  blockKit: BlocksAnalysis;
  incidentsOpened: number;
  processMaxRssMb: number | null;
}

interface SyntheticOnce {
  times: Record<'checks' | 'report' | 'text' | 'json' | 'blocks', number>;
  snapshotHeap: number;
  reportHeap: number;
  findings: Record<Severity, number>;
  partitions: number;
  jsonBytes: number;
  textLines: number;
  blocks: number;
  blockLimitProblems: string[];
  blockKit: BlocksAnalysis;
  incidentsOpened: number;
}

/**
 * One run in its own call, so that nothing of it is alive when the next one starts (a loop body's locals can
 * stay reachable from the frame until they are overwritten, which hid the snapshot from the heap deltas).
 */
type Scenario = 'healthy' | 'brokers 3+4 down' | '200 channels, brokers 3+4 down';
const SCENARIOS: readonly Scenario[] = ['healthy', 'brokers 3+4 down', '200 channels, brokers 3+4 down'];

function syntheticOnce(perTopic: number, scenario: Scenario): SyntheticOnce {
  fullGc();
  const h0 = process.memoryUsage().heapUsed;
  const s = large(TOPICS, perTopic);
  // Channel topics are never collapsed into one finding: 200 channels on brokers 3, 4 and 1 make 200 critical
  // findings (under min ISR once 3 and 4 are down), hence 200 incidents.
  if (scenario.startsWith('200 channels'))
    for (let i = 0; i < 200; i++)
      addTopic(s, `channel${String(i).padStart(3, '0')}`, 1, 3, { channel: true, brokers: [3, 4, 1, 2] });
  if (scenario !== 'healthy') {
    stopBroker(s, 4);
    stopBroker(s, 3);
  }
  fullGc();
  const snapshotHeap = process.memoryUsage().heapUsed - h0;
  let t = performance.now();
  const findings = runChecks(s, { extraChecks: EXTRA_CHECKS });
  const checks = since(t);
  t = performance.now();
  const report = buildReport(s, findings);
  const reportMs = since(t);
  t = performance.now();
  const text = renderText(report, { color: false });
  const textMs = since(t);
  t = performance.now();
  const json = JSON.stringify(report, null, 2);
  const jsonMs = since(t);
  t = performance.now();
  const msg = reportBlocks(report, {});
  const blocksMs = since(t);
  fullGc();
  const reportHeap = process.memoryUsage().heapUsed - h0 - snapshotHeap;
  return {
    times: { checks, report: reportMs, text: textMs, json: jsonMs, blocks: blocksMs },
    snapshotHeap,
    reportHeap,
    findings: countBySeverity(findings),
    partitions: report.partitions.length,
    jsonBytes: Buffer.byteLength(json),
    textLines: text.split('\n').length,
    blocks: msg.blocks.length,
    blockLimitProblems: checkBlockLimits(msg.blocks),
    blockKit: analyseBlocks(report, msg),
    incidentsOpened: report.findings.filter((f) => f.severity === 'critical').length,
  };
}

function synthetic(size: number, scenario: Scenario): SyntheticRow {
  const perTopic = Math.round(size / TOPICS);
  const runs: SyntheticOnce[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(syntheticOnce(perTopic, scenario));
  const last = runs[runs.length - 1]!;
  const m = (k: keyof SyntheticOnce['times']) => round(median(runs.map((r) => r.times[k])), 1);
  const total = median(runs.map((r) => Object.values(r.times).reduce((a, b) => a + b, 0)));
  return {
    partitions: last.partitions,
    scenario,
    findings: last.findings,
    checksMs: m('checks'),
    reportMs: m('report'),
    textMs: m('text'),
    jsonMs: m('json'),
    blocksMs: m('blocks'),
    totalMs: round(total, 1),
    snapshotHeapMb: mb(median(runs.map((r) => r.snapshotHeap))),
    reportHeapMb: mb(median(runs.map((r) => r.reportHeap))),
    jsonBytes: last.jsonBytes,
    textLines: last.textLines,
    blocks: last.blocks,
    blockLimitProblems: last.blockLimitProblems,
    blockKit: last.blockKit,
    incidentsOpened: last.incidentsOpened,
    processMaxRssMb: round(process.resourceUsage().maxRSS / 1024, 1),
  };
}

// ------------------------------------------------------------------ output

function fmt(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isFinite(v) ? String(Math.round(v * 10) / 10) : '-';
  return String(v);
}

function markdown(result: Record<string, unknown>, stages: StageResult[], syn: SyntheticRow[]): string {
  const lab = result['lab'] as Record<string, unknown> | null;
  const m = result['machine'] as Record<string, unknown>;
  const lines: string[] = ['# Scale: 10,000 partitions', ''];
  lines.push(
    `${String(result['date'])}, ${String(m['cpus'])}, ${fmt(m['memoryGiB'])} GiB, Node ${String(m['node'])}; ` +
      `ulimit -n ${String(m['ulimitN'])}, vm.max_map_count ${String(m['vmMaxMapCount'])}. Median of ${RUNS} runs. ` +
      'The machine is shared with other people\'s work: see "machine busy at rest".',
    '',
  );
  const b = result['build'] as
    { commit: string; dirtyFiles: string[]; typeErrors: number } | null | undefined;
  if (b)
    lines.push(
      `Code measured: the working tree at ${b.commit}, ${b.dirtyFiles.length} files of src/, commands/, workers/ ` +
        `changed since (others' work in progress; ${b.typeErrors} type errors).`,
      '',
    );
  if (lab) {
    const brokersAfter = lab['brokersAfterCreate'] as Record<string, unknown>[];
    lines.push(
      `Lab: Kafka ${String(lab['kafka'])}, 3 ZooKeeper, 4 brokers (heap ${BROKER_HEAP_MB} MiB each), ` +
        `${TOPICS} topics × ${PER_TOPIC} partitions, replication factor ${RF} (+ the channel topics ` +
        `testchainid and pubchain, and Kafka's own __consumer_offsets): ${fmt(lab['partitions'])} partitions, ` +
        `${fmt(lab['replicas'])} replicas. Topics created in ${fmt(lab['createMs'])} ms, every partition led and ` +
        `in sync ${fmt(lab['leadersMs'])} ms later.`,
      '',
      '| broker | RSS MiB | JVM heap used MiB | open fds | memory maps |',
      '|---:|---:|---:|---:|---:|',
      ...brokersAfter.map(
        (b) =>
          `| ${fmt(b['id'])} | ${fmt(b['rssMb'])} | ${fmt(b['heapUsedMb'])} | ${fmt(b['openFds'])} | ${fmt(b['maps'])} |`,
      ),
      '',
      '## Time per phase (ms, median)',
      '',
      'Sources timed one after the other; "gather" is all of them as diagnose runs them (Kafka and the probes ' +
        'concurrently). "process" is `diagnose --json` in a fresh `node` from start to exit (a private build of ' +
        'the working tree, as bin/fabric-opsbot.js runs dist/).',
      '',
      'Before each stage, 10 s at rest: how busy the machine was (all processes, others included) and how many ' +
        "of its 2 cores the lab's JVMs used by themselves (replica fetchers of 30,000 replicas). The diagnose " +
        'process column is median (fastest).',
      '',
      '| stage | machine busy at rest | lab JVMs at rest (cores) | ZooKeeper | Kafka | reachability | gather | checks | report | text | JSON | Block Kit | diagnose --json process |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...stages.map((s) => {
        const p = s.phasesMedianMs;
        return `| ${s.stage} | ${fmt(s.atRest?.machineBusyPct)}% | ${fmt(s.atRest?.labJvmCores)} | ${fmt(p.zookeeperMs)} | ${fmt(p.kafkaMs)} | ${fmt(p.reachabilityMs)} | ${fmt(p.gatherMs)} | ${fmt(p.checksMs)} | ${fmt(p.reportMs)} | ${fmt(p.textMs)} | ${fmt(p.jsonMs)} | ${fmt(p.blocksMs)} | ${fmt(s.diagnoseProcess.wallMedianMs)} (${fmt(s.diagnoseProcess.wallMinMs)}) |`;
      }),
      '',
      '## Memory',
      '',
      'In this process: heap retained after a full GC by the snapshot, and by snapshot + report + the three ' +
        'outputs. The fresh `diagnose --json` process: peak RSS from /usr/bin/time -v, peak heap from samples every ' +
        '10 ms (bench/lib/memprobe.mjs).',
      '',
      '| stage | snapshot heap MiB | + report and outputs MiB | diagnose process peak RSS MiB | its peak heap used / total MiB | JSON bytes |',
      '|---|---:|---:|---:|---:|---:|',
      ...stages.map(
        (s) =>
          `| ${s.stage} | ${fmt(s.inProcessMemory.snapshotHeapMb)} | ${fmt(s.inProcessMemory.snapshotReportOutputsHeapMb)} | ${fmt(s.diagnoseProcess.maxRssMb)} | ${fmt(s.diagnoseProcess.heapUsedPeakMb)} / ${fmt(s.diagnoseProcess.heapTotalPeakMb)} | ${s.diagnoseProcess.jsonBytes.toLocaleString('en-US')} |`,
      ),
      '',
      '## Findings and what the outputs look like',
      '',
      '| stage | exit | critical / warning / info | codes |',
      '|---|---:|---|---|',
      ...stages.map(
        (s) =>
          `| ${s.stage} | ${s.exitCode} | ${s.findings.critical} / ${s.findings.warning} / ${s.findings.info} | ${Object.entries(
            s.findingCodes,
          )
            .map(([k, v]) => `${k.split(':')[1]} (${k[0]}) ×${v}`)
            .join(', ')} |`,
      ),
      '',
      `Block Kit (\`/fabric diagnose\`; Slack's limits: ${SLACK_LIMITS.blocks} blocks, ${SLACK_LIMITS.sectionText} characters a section):`,
      '',
      '| stage | blocks | longest section | bytes | within limits | partition rows | first row / worst state | rows worst first | findings shown | findings worst first |',
      '|---|---:|---:|---:|---|---:|---|---|---:|---|',
      ...stages.map((s) => {
        const b = s.blockKit;
        return `| ${s.stage} | ${b.blocks} | ${b.maxSectionChars} | ${b.jsonBytes.toLocaleString('en-US')} | ${b.limitProblems.length ? `NO: ${b.limitProblems.join('; ')}` : 'yes'} | ${b.partitionRowsShown} | ${fmt(b.firstRowState)} / ${fmt(b.worstState)} | ${b.partitionRowsWorstFirst ? 'yes' : 'NO'} | ${b.findingsShown} | ${b.findingsWorstFirst ? 'yes' : 'NO'} |`;
      }),
      '',
      'What the message says it left out:',
      '',
      ...stages.flatMap((s) => [
        `- ${s.stage}:`,
        ...s.blockKit.leftOutNotes.map((n) => `  - ${n.replace(/\n/g, ' ')}`),
      ]),
      '',
      'Other messages at each stage: the incidents a worker opens (one message each) and the change summary a ' +
        'scheduled check posts (against the previous stage).',
      '',
      '| stage | incidents opened | incident messages within limits | changes | changes blocks | within limits |',
      '|---|---:|---|---:|---:|---|',
      ...stages.map((s) => {
        const o = s.otherMessages;
        const ip = o['incidentLimitProblems'] as string[];
        const cp = o['changesLimitProblems'] as string[];
        return `| ${s.stage} | ${fmt(o['incidentsOpened'])} | ${ip.length ? `NO: ${ip.join('; ')}` : 'yes'} | ${fmt(o['changes'])} | ${fmt(o['changesBlocks'])} | ${cp.length ? `NO: ${cp.join('; ')}` : 'yes'} |`;
      }),
      '',
      'Text report (`diagnose`, terminal):',
      '',
      '| stage | lines | bytes | longest line | topics in detail (rows) | topics on one line | findings listed |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...stages.map((s) => {
        const t = s.text;
        return `| ${s.stage} | ${fmt(t['lines'])} | ${fmt(t['bytes'])} | ${fmt(t['longestLine'])} | ${fmt(t['topicsInDetail'])} (${fmt(t['partitionRowsInTables'])}) | ${fmt(t['topicsOneLine'])} | ${fmt(t['findingsListed'])} |`;
      }),
      '',
      `The text report of the last stage is in \`bench/results/scale.txt\`.`,
      '',
    );
  }
  if (syn.length) {
    lines.push(
      '## Synthetic snapshots, in process',
      '',
      `test/fixtures/snapshots/builder.ts: \`large(${TOPICS}, n)\` (RF 3 on 4 brokers, offsets for every partition), ` +
        'healthy, with brokers 3 and 4 stopped, and the same with 200 more channel topics (1 partition each on ' +
        'brokers 3, 4 and 1: channels are never collapsed, so each is its own critical finding and incident). ' +
        'No I/O: checks, report and renderers only.',
      '',
      '| partitions | scenario | critical / warning / info | checks | report | text | JSON | Block Kit | total ms | snapshot heap MiB | report heap MiB | JSON bytes | text lines | blocks | within limits |',
      '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
      ...syn.map(
        (r) =>
          `| ${r.partitions} | ${r.scenario} | ${r.findings.critical} / ${r.findings.warning} / ${r.findings.info} | ${fmt(r.checksMs)} | ${fmt(r.reportMs)} | ${fmt(r.textMs)} | ${fmt(r.jsonMs)} | ${fmt(r.blocksMs)} | ${fmt(r.totalMs)} | ${fmt(r.snapshotHeapMb)} | ${fmt(r.reportHeapMb)} | ${r.jsonBytes.toLocaleString('en-US')} | ${r.textLines} | ${r.blocks} | ${r.blockLimitProblems.length ? `NO: ${r.blockLimitProblems.join('; ')}` : 'yes'} |`,
      ),
      '',
      'Block Kit of the synthetic reports (incidents: the critical findings, one incident message each):',
      '',
      '| partitions | scenario | blocks | within limits | rows worst first | findings shown | findings worst first | incidents | what it says it left out |',
      '|---:|---|---:|---|---|---:|---|---:|---|',
      ...syn.map((r) => {
        const b = r.blockKit;
        if (!b) return `| ${r.partitions} | ${r.scenario} | ${r.blocks} | - | - | - | - | - | - |`;
        return `| ${r.partitions} | ${r.scenario} | ${b.blocks} | ${b.limitProblems.length ? 'NO' : 'yes'} | ${b.partitionRowsWorstFirst ? 'yes' : 'NO'} | ${b.findingsShown} | ${b.findingsWorstFirst ? 'yes' : 'NO'} | ${fmt(r.incidentsOpened)} | ${b.leftOutNotes.map((n) => n.replace(/\|/g, '/').slice(0, 160)).join(' · ')} |`;
      }),
      '',
    );
  }
  lines.push(`Peak RSS of this benchmark process: ${fmt(result['benchMaxRssMb'])} MiB.`, '');
  return lines.join('\n');
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const syn: SyntheticRow[] = [];
  if (!values['no-synthetic']) {
    for (const size of SYNTHETIC) {
      for (const scenario of SCENARIOS) {
        const row = synthetic(size, scenario);
        log(`synthetic ${JSON.stringify(row)}`);
        syn.push(row);
      }
    }
  }

  const stages: StageResult[] = [];
  let lab: Record<string, unknown> | null = null;
  let lastText = '';
  if (!values['synthetic-only']) {
    releaseRun = await benchRunLock(workDir);
    const running = labAnyRunning(workDir);
    if (!running) {
      const busy = await portsInUse(labPorts(basePorts));
      if (busy.length)
        throw new Error(
          `ports ${busy.join(', ')} are in use: pick another --port-offset than ${PORT_OFFSET}`,
        );
    }
    const t0 = performance.now();
    labStarted = true;
    const status = await labUp({
      workDir,
      basePorts,
      brokerHeapMb: BROKER_HEAP_MB,
      log: (l) => log(`lab: ${l}`),
    });
    log(`lab up in ${Math.round(since(t0))} ms`);
    inventoryFile = status.inventory;
    try {
      build = await privateBuild(join(workDir, 'build'));
      log(`private build in ${build.ms} ms (${build.typeErrors} type errors)`);
      const created = await createTopics(status);
      const cluster = selectCluster(inventoryOf(), undefined);
      const settled = await waitSettled(cluster, 'healthy');
      const brokersAfterCreate = await brokerResources(labStatus({ workDir }));
      log(`brokers: ${JSON.stringify(brokersAfterCreate)}`);
      const healthy = await measureStage('healthy', cluster, settled, null);
      stages.push(healthy.result);
      lab = {
        kafka: status.kafkaVersion,
        ...created,
        partitions: healthy.result.partitions,
        replicas: healthy.report.partitions.reduce((n, p) => n + p.replicas.length, 0),
        brokersAfterCreate,
      };

      log('killing broker 4');
      await killBroker({ workDir }, 4, { waitUnregistered: true });
      const one = await measureStage(
        'broker 4 killed',
        cluster,
        await waitSettled(cluster, 'broker 4 killed'),
        healthy.report,
      );
      stages.push(one.result);

      log('killing broker 3');
      await killBroker({ workDir }, 3, { waitUnregistered: true });
      const two = await measureStage(
        'brokers 3+4 killed',
        cluster,
        await waitSettled(cluster, 'brokers 3+4 killed'),
        one.report,
      );
      stages.push(two.result);
      lastText = two.text;
      lab['brokersWithTwoDown'] = await brokerResources(labStatus({ workDir }));
    } finally {
      if (values.keep) {
        log('healing the lab (--keep)');
        await healLab({ workDir }, { timeoutMs: 900_000 }).catch((e: unknown) =>
          log(`heal failed: ${String(e)}`),
        );
      } else {
        await labDown({ workDir, purge: true });
      }
    }
  }

  const result = {
    date: started,
    machine: machine(),
    options: {
      topics: TOPICS,
      partitionsPerTopic: PER_TOPIC,
      replicationFactor: RF,
      runs: RUNS,
      brokerHeapMb: BROKER_HEAP_MB,
      portOffset: PORT_OFFSET,
    },
    build: build && {
      commit: build.commit,
      dirtyFiles: build.dirtyFiles,
      typeErrors: build.typeErrors,
      typeErrorSample: build.typeErrorSample,
    },
    lab,
    stages,
    synthetic: syn,
    benchMaxRssMb: round(process.resourceUsage().maxRSS / 1024, 1),
  };
  mkdirSync(outDir, { recursive: true });
  // A synthetic-only run keeps the lab part of an earlier full run.
  let previous: Record<string, unknown> | null = null;
  try {
    previous = JSON.parse(readFileSync(join(outDir, 'scale.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    previous = null;
  }
  const merged =
    values['synthetic-only'] && previous ? { ...previous, synthetic: syn, syntheticDate: started } : result;
  writeFileSync(join(outDir, 'scale.json'), `${JSON.stringify(merged, null, 2)}\n`);
  const md = markdown(
    merged as Record<string, unknown>,
    (merged as { stages: StageResult[] }).stages,
    (merged as { synthetic: SyntheticRow[] }).synthetic,
  );
  writeFileSync(join(outDir, 'scale.md'), md);
  if (lastText) writeFileSync(join(outDir, 'scale.txt'), lastText);
  console.log(md);
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
