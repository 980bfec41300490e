/**
 * Benchmark (Slack bot issue): how fast the bot acknowledges `/fabric` when many arrive at once. The real Bolt
 * app (HTTP receiver) on a free port, a real redis-server, signed slash commands as Slack sends them, and the
 * time from sending the request to the end of the 200 answer, which carries the ack with the queued job id.
 * Slack wants the ack within 3 s.
 *
 *   npx tsx bench/slack.bench.ts [--concurrency 50] [--rounds 5]
 *
 * Also times the Block Kit rendering of a 10,000-partition report. Writes bench/results/slack.{json,md}.
 * No cluster and no worker: acks never wait for cluster work.
 */
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { QUEUES } from '../src/queue/index.js';
import { reportBlocks } from '../src/slack/blocks.js';
import { postSlashCommand } from '../test/helpers/slack.js';
import { bigReport, USERS } from '../test/slack/fixtures.js';
import { SIGNING_SECRET, startHarness } from '../test/slack/harness.js';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '5' },
  },
});
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)]!;
}

const f1 = (n: number) => n.toFixed(1);

async function main(): Promise<void> {
  const h = await startHarness();
  try {
    const send = (i: number) =>
      postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
        text: i % 2 === 0 ? 'status pubchain' : 'diagnose',
        user_id: USERS.viewer,
        channel_id: `CBENCH${i % 7}`,
      });
    // Warm up (JIT, connections).
    for (let i = 0; i < 20; i++) await send(i);
    await h.queue(QUEUES.commands).obliterate({ force: true });

    const samples: number[] = [];
    const roundWall: number[] = [];
    let bad = 0;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      const res = await Promise.all(Array.from({ length: concurrency }, (_, i) => send(r * concurrency + i)));
      roundWall.push(performance.now() - t0);
      for (const x of res) {
        samples.push(x.ms);
        const text = String((x.body as { text?: string }).text ?? '');
        if (x.status !== 200 || !text.includes('Queued')) bad++;
      }
    }
    const queued = await h.jobCount();
    const sorted = [...samples].sort((a, b) => a - b);

    const report = bigReport(10_000);
    const renders: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      reportBlocks(report);
      renders.push(performance.now() - t0);
    }
    renders.sort((a, b) => a - b);

    const result = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
      concurrency,
      rounds,
      requests: samples.length,
      notQueued: bad,
      jobsInQueue: queued,
      ackMs: {
        p50: pct(sorted, 50),
        p90: pct(sorted, 90),
        p99: pct(sorted, 99),
        max: sorted[sorted.length - 1] ?? NaN,
      },
      roundWallMs: roundWall,
      render10kMs: { p50: pct(renders, 50), max: renders[renders.length - 1] ?? NaN },
    };
    const dir = join(import.meta.dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'slack.json'), `${JSON.stringify(result, null, 2)}\n`);
    const md = [
      '# Slack bot: ack latency',
      '',
      `${result.date} · Node ${result.node} · ${result.cpus}`,
      '',
      `${rounds} rounds of ${concurrency} concurrent signed \`/fabric\` slash commands (status/diagnose) against the Bolt app`,
      '(HTTP receiver, 127.0.0.1) with a real redis-server; time from sending the request to the end of the 200',
      'answer that carries the ack ("Queued ... (job cmd-...)"). Slack requires the ack within 3000 ms.',
      '',
      '| requests | acked and queued | jobs in queue | p50 ms | p90 ms | p99 ms | max ms |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      `| ${result.requests} | ${result.requests - bad} | ${queued} | ${f1(result.ackMs.p50)} | ${f1(result.ackMs.p90)} | ${f1(result.ackMs.p99)} | ${f1(result.ackMs.max)} |`,
      '',
      `Wall time per round of ${concurrency}: ${roundWall.map(f1).join(', ')} ms.`,
      '',
      `Block Kit rendering of a 10,000-partition report (reportBlocks): p50 ${f1(result.render10kMs.p50)} ms, max ${f1(result.render10kMs.max)} ms.`,
      '',
      'The client (fetch) runs in the same process as the app, so these numbers include its share of the CPU.',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'slack.md'), md);
    process.stdout.write(md);
  } finally {
    await h.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
