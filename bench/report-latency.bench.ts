/**
 * Benchmark (Slack bot issue): command-to-report time on the real lab. `/fabric status pubchain`, signed as
 * Slack signs it, through the real Bolt app, BullMQ and a worker that inspects the lab (ZooKeeper, the brokers,
 * the orderers when the lab has them), until the Block Kit report is posted; against Slack's budget (3 s for
 * the ack; the report itself has no hard limit, but operators wait for it).
 *
 *   npx tsx bench/report-latency.bench.ts [--runs 20] [--orderers 3] [--keep]
 *
 * Its own lab (.lab/slackbench, ports +650); writes bench/results/report-latency.{json,md}.
 */
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadInventory } from '../src/config/index.js';
import { DEFAULT_BASE_PORTS, fabricUnbuildableReason, labDown, labUp, repoRoot } from '../src/lab/index.js';
import { startLocalSlack } from '../src/local-slack.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    orderers: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const orderers = fabricUnbuildableReason() === null ? Number(values.orderers) : 0;
const root = repoRoot();
const workDir = join(root, '.lab', 'slackbench');
const basePorts = Object.fromEntries(
  Object.entries(DEFAULT_BASE_PORTS).map(([k, v]) => [k, v + 650]),
) as unknown as typeof DEFAULT_BASE_PORTS;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function main(): Promise<void> {
  const status = await labUp({ workDir, basePorts, ...(orderers ? { orderers } : {}) });
  const slack = await startLocalSlack(loadInventory(status.inventory));
  const acks: number[] = [];
  const totals: number[] = [];
  try {
    await slack.ask('status pubchain'); // warm-up: first job, connections
    for (let i = 0; i < runs; i++) {
      // A channel per command: the poster keeps Slack's pace of one message per second per channel, which
      // would otherwise be what this measures.
      const r = await slack.ask('status pubchain', { channel: `C0BENCH${i}` });
      if (r.ackStatus !== 200) throw new Error(`ack ${r.ackStatus}`);
      acks.push(r.ackMs);
      totals.push(r.totalMs);
    }
  } finally {
    await slack.close();
    if (!values.keep) await labDown({ workDir, purge: true });
  }
  const f = (x: number) => Math.round(x);
  const result = {
    date: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
    node: process.version,
    kafka: status.kafkaVersion,
    orderers,
    runs,
    ackMs: { p50: f(pct(acks, 50)), p99: f(pct(acks, 99)), max: f(Math.max(...acks)) },
    commandToReportMs: { p50: f(pct(totals, 50)), p99: f(pct(totals, 99)), max: f(Math.max(...totals)) },
  };
  const out = join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'report-latency.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    '# /fabric status pubchain: command to report, on the lab',
    '',
    `${result.date}, ${result.machine}, Node ${result.node}, Kafka ${result.kafka} (3 ZooKeeper, 4 brokers), ${orderers} Fabric orderer(s); ${runs} sequential commands after one warm-up.`,
    "Ack: the HTTP answer Slack gets (its budget is 3000 ms). Report: from sending the command to the worker posting the Block Kit report (each command in its own channel: in one channel the poster keeps Slack's pace of one message per second).",
    '',
    '| | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|',
    `| ack | ${result.ackMs.p50} | ${result.ackMs.p99} | ${result.ackMs.max} |`,
    `| command to report | ${result.commandToReportMs.p50} | ${result.commandToReportMs.p99} | ${result.commandToReportMs.max} |`,
    '',
  ].join('\n');
  writeFileSync(join(out, 'report-latency.md'), md);
  console.log(md);
}

main().catch(async (err) => {
  console.error(err);
  if (!values.keep) await labDown({ workDir }).catch(() => undefined);
  process.exit(1);
});
