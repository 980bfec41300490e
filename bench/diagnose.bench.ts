/**
 * Benchmark (issue 3): `diagnose --json` on a lab with 500, 2000 and 5000 partitions, against the time Kafka's
 * own tools take to answer the same question from the same jars: under-replicated partitions
 * (TopicCommand --describe --under-replicated-partitions) plus high watermarks and log start offsets
 * (GetOffsetShell --time -1 and --time -2). Each is timed as a person runs it: a fresh process each time, the
 * JVM started with the options bin/kafka-run-class.sh gives it.
 *
 *   npx tsx bench/diagnose.bench.ts [--sizes 500,2000,5000] [--runs 3] [--keep]
 *
 * Uses its own lab (.lab/bench, ports +600) and writes bench/results/diagnose.{json,md}.
 * Target: 5000 partitions under 3 s and at least 5x faster than the Kafka tools.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import {
  DEFAULT_BASE_PORTS,
  jarsDir,
  labDown,
  labUp,
  repoRoot,
  resolveLabOptions,
  waitFor,
} from '../src/lab/index.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '500,2000,5000' },
    runs: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(Number);
const runs = Number(values.runs);
const root = repoRoot();
const workDir = join(root, '.lab', 'bench');
const basePorts = Object.fromEntries(
  Object.entries(DEFAULT_BASE_PORTS).map(([k, v]) => [k, v + 600]),
) as unknown as typeof DEFAULT_BASE_PORTS;
const PARTITIONS_PER_TOPIC = 100;

/** Wall time of a fresh process; `okCodes` are exit codes that still mean "answered" (diagnose: 1, 2). */
async function timed(cmd: string, args: string[], okCodes: number[] = []): Promise<number> {
  const t0 = performance.now();
  try {
    await run(cmd, args, { maxBuffer: 256 * 1024 * 1024, cwd: root });
  } catch (err) {
    if (!okCodes.includes((err as { code?: number }).code ?? -1)) throw err;
  }
  return performance.now() - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const status = await labUp({
    workDir,
    basePorts,
    brokerHeapMb: 1024,
    log: (l) => console.error(`[lab] ${l}`),
  });
  console.error(`[bench] lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const bootstrap = status.brokers.map((b) => `127.0.0.1:${b.port}`);
  const opts = resolveLabOptions({ workDir });
  const jars = jarsDir(opts);
  // Kafka's tools exactly as bin/kafka-topics.sh and bin/kafka-get-offsets.sh start them: kafka-run-class.sh's
  // default heap, JVM performance, JMX and log4j options (tools log WARN to stderr).
  const toolsLog4j = join(workDir, 'tools-log4j.properties');
  writeFileSync(
    toolsLog4j,
    [
      'log4j.rootLogger=WARN, stderr',
      'log4j.appender.stderr=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.appender.stderr.Target=System.err',
      '',
    ].join('\n'),
  );
  const java = [
    '-Xmx256M',
    '-server',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent',
    '-XX:MaxInlineLevel=15',
    '-Djava.awt.headless=true',
    '-Dcom.sun.management.jmxremote',
    '-Dcom.sun.management.jmxremote.authenticate=false',
    '-Dcom.sun.management.jmxremote.ssl=false',
    `-Dkafka.logs.dir=${join(workDir, 'tools-logs')}`,
    `-Dlog4j.configuration=file:${toolsLog4j}`,
    '-cp',
    `${jars}/*`,
  ];
  const kafka = new Kafka({
    clientId: 'bench',
    brokers: bootstrap,
    logLevel: logLevel.NOTHING,
    requestTimeout: 120_000,
  });
  const admin = kafka.admin();
  await admin.connect();

  const results: Record<string, unknown>[] = [];
  // Bench topics a kept lab (--keep) already has count towards the sizes.
  let created = (await admin.fetchTopicMetadata({ topics: [] })).topics
    .filter((t) => t.name.startsWith('bench-'))
    .reduce((n, t) => n + t.partitions.length, 0);
  for (const size of sizes) {
    const existing = (await admin.fetchTopicMetadata({ topics: [] })).topics
      .filter((t) => !t.name.startsWith('bench-'))
      .reduce((n, t) => n + t.partitions.length, 0);
    const target = Math.max(0, size - existing);
    const topics: { topic: string; numPartitions: number; replicationFactor: number }[] = [];
    while (created < target) {
      const n = Math.min(PARTITIONS_PER_TOPIC, target - created);
      topics.push({
        topic: `bench-${String(created).padStart(6, '0')}`,
        numPartitions: n,
        replicationFactor: 3,
      });
      created += n;
    }
    if (topics.length) {
      await admin.createTopics({ topics, waitForLeaders: false, timeout: 120_000 });
      console.error(`[bench] created ${topics.length} topics (${created} bench partitions)`);
    }
    // Wait until every partition has a leader (so both tools answer about the same, settled cluster).
    await waitFor(
      async () => {
        const md = await admin.fetchTopicMetadata({ topics: [] }).catch(() => null);
        if (!md) return false;
        const parts = md.topics.flatMap((t) => t.partitions);
        const bench = md.topics
          .filter((t) => t.name.startsWith('bench-'))
          .reduce((n, t) => n + t.partitions.length, 0);
        return bench === created && parts.every((p) => p.leader >= 0);
      },
      { timeoutMs: 600_000, intervalMs: 2000, what: `${size} partitions to have leaders` },
    );
    const inventory = status.inventory;
    const diag: number[] = [];
    const kafkaTools: number[] = [];
    const parts: Record<string, number[]> = { describe: [], latest: [], earliest: [] };
    for (let i = 0; i < runs; i++) {
      diag.push(
        await timed('node', ['bin/fabric-opsbot.js', 'diagnose', '--json', '--config', inventory]).catch(
          (e) => {
            // exit 1/2 (findings) is fine; anything else is not
            if (e.code === 1 || e.code === 2) return NaN;
            throw e;
          },
        ),
      );
      const d = await timed('java', [
        ...java,
        'org.apache.kafka.tools.TopicCommand',
        '--bootstrap-server',
        bootstrap[0]!,
        '--describe',
        '--under-replicated-partitions',
      ]);
      const l = await timed('java', [
        ...java,
        'org.apache.kafka.tools.GetOffsetShell',
        '--bootstrap-server',
        bootstrap[0]!,
        '--time',
        '-1',
      ]);
      const e = await timed('java', [
        ...java,
        'org.apache.kafka.tools.GetOffsetShell',
        '--bootstrap-server',
        bootstrap[0]!,
        '--time',
        '-2',
      ]);
      parts.describe!.push(d);
      parts.latest!.push(l);
      parts.earliest!.push(e);
      kafkaTools.push(d + l + e);
    }
    const diagMs = median(
      diag.filter((x) => !Number.isNaN(x)).length ? diag.filter((x) => !Number.isNaN(x)) : diag,
    );
    const toolsMs = median(kafkaTools);
    const row = {
      partitions: size,
      diagnoseMs: Math.round(diagMs),
      kafkaToolsMs: Math.round(toolsMs),
      describeMs: Math.round(median(parts.describe!)),
      offsetsLatestMs: Math.round(median(parts.latest!)),
      offsetsEarliestMs: Math.round(median(parts.earliest!)),
      ratio: Math.round((toolsMs / diagMs) * 10) / 10,
      runs,
    };
    console.error(`[bench] ${JSON.stringify(row)}`);
    results.push(row);
  }
  await admin.disconnect();
  if (!values.keep) await labDown({ workDir, purge: true });

  const out = join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    kafka: opts.kafkaVersion,
    machine: `${(await import('node:os')).cpus().length} cores`,
    node: process.version,
  };
  writeFileSync(join(out, 'diagnose.json'), `${JSON.stringify({ ...meta, results }, null, 2)}\n`);
  const md = [
    '# diagnose vs Kafka tools',
    '',
    `${meta.date}, Kafka ${meta.kafka}, ${meta.machine}, Node ${meta.node}; median of ${runs} runs, each a fresh process.`,
    'Kafka tools = TopicCommand --describe --under-replicated-partitions + GetOffsetShell --time -1 + --time -2,',
    'each started as bin/kafka-run-class.sh starts it (its default heap, GC, JMX and log4j options).',
    '',
    '| partitions | diagnose --json (ms) | Kafka tools (ms) | describe | offsets latest | offsets earliest | ratio |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.partitions} | ${r.diagnoseMs} | ${r.kafkaToolsMs} | ${r.describeMs} | ${r.offsetsLatestMs} | ${r.offsetsEarliestMs} | ${r.ratio}x |`,
    ),
    '',
  ].join('\n');
  writeFileSync(join(out, 'diagnose.md'), md);
  console.log(md);
}

main().catch(async (err) => {
  console.error(err);
  if (!values.keep) await labDown({ workDir }).catch(() => undefined);
  process.exit(1);
});
