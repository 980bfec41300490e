/**
 * Audit log benchmark: appends per second (one writer; four writers on four connections, all extending the
 * same chain) and the time `audit verify` takes on 100,000 entries (plus a full export, for scale).
 *
 * Run on demand (not part of the test suite):
 *
 *   npx tsx bench/audit.bench.ts            # or: node --import tsx bench/audit.bench.ts
 *   npx tsx bench/audit.bench.ts --quick    # 10x smaller, for a smoke run
 *
 * It starts its own redis-server (Debian's; scripts/install-deps.sh installs it) on a free loopback port in a
 * temp dir, with persistence off, so the numbers are the client + Lua + network path, not the disk. Results go
 * to bench/results/audit.md (markdown, with the JSON) and bench/results/audit.json.
 *
 * Needs tsx (a devDependency). Without it: compile first
 * (`npx tsc -p tsconfig.test.json --noEmit false --outDir /tmp/bench-build`) and run the .js from there.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { AuditLog, type AuditInput } from '../src/audit/index.js';
import { startRedis } from '../test/helpers/redis.js';

const quick = process.argv.includes('--quick');
const scale = quick ? 0.1 : 1;
const SINGLE_N = Math.round(20_000 * scale);
const MULTI_N = Math.round(20_000 * scale);
const WRITERS = 4;
const VERIFY_N = Math.round(100_000 * scale);
const prefix = 'bench';

function entry(i: number, who = 'U0BENCH'): AuditInput {
  return {
    who,
    what: i % 3 === 0 ? 'step-end' : 'command',
    cluster: 'lab',
    where: 'slack:C0BENCH',
    jobId: `rq-bench-${(i % 1000).toString().padStart(10, '0')}`,
    outcome: 'ok',
    details: {
      i,
      channel: 'pubchain',
      text: '/fabric status pubchain',
      step: { index: i % 4, detail: 'produced 7' },
    },
  };
}

async function timeIt<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

async function fill(log: AuditLog, n: number, who?: string): Promise<number> {
  let retries = 0;
  for (let i = 0; i < n; i++) retries += (await log.append(entry(i, who))).retries;
  return retries;
}

async function main(): Promise<void> {
  const srv = await startRedis();
  const conns: Redis[] = Array.from({ length: WRITERS }, () => srv.client());
  const [c0] = conns as [Redis, ...Redis[]];
  try {
    // Warm up (script cache, JIT).
    await fill(new AuditLog(c0, { prefix }), 500);
    await srv.flush();

    // 1. One writer.
    const single = await timeIt(() => fill(new AuditLog(c0, { prefix }), SINGLE_N));
    const singleRate = SINGLE_N / (single.ms / 1000);
    const singleOk = (await new AuditLog(c0, { prefix }).verify()).ok;
    await srv.flush();

    // 2. Four writers, four connections, one chain.
    const per = Math.floor(MULTI_N / WRITERS);
    const multi = await timeIt(() =>
      Promise.all(conns.map((c, w) => fill(new AuditLog(c, { prefix }), per, `U0W${w}`))),
    );
    const multiRate = (per * WRITERS) / (multi.ms / 1000);
    const multiRetries = multi.value.reduce((a, b) => a + b, 0);
    const multiCheck = await new AuditLog(c0, { prefix }).verify();
    await srv.flush();

    // 3. verify (and export) on 100,000 entries, filled by four writers.
    const perFill = Math.ceil(VERIFY_N / WRITERS);
    const filled = await timeIt(() =>
      Promise.all(conns.map((c, w) => fill(new AuditLog(c, { prefix }), perFill, `U0F${w}`))),
    );
    const log = new AuditLog(c0, { prefix });
    const verify = await timeIt(() => log.verify());
    const verify2 = await timeIt(() => log.verify());
    let bytes = 0;
    const exp = await timeIt(() =>
      log.export({ sinceId: '0', record: false, write: (s) => void (bytes += s.length) }),
    );
    const mem = Number(/used_memory:(\d+)/.exec(await c0.info('memory'))?.[1] ?? 0);

    const redisVersion = execFileSync('redis-server', ['--version']).toString().trim();
    const result = {
      date: new Date().toISOString(),
      quick,
      environment: {
        node: process.version,
        redis: redisVersion,
        cpu: cpus()[0]?.model ?? 'unknown',
        cpus: cpus().length,
        memGiB: Math.round(totalmem() / 2 ** 30),
        transport: 'TCP loopback, persistence off',
      },
      appendSingleWriter: {
        entries: SINGLE_N,
        ms: Math.round(single.ms),
        perSecond: Math.round(singleRate),
        chainOk: singleOk,
      },
      appendConcurrentWriters: {
        writers: WRITERS,
        entries: per * WRITERS,
        ms: Math.round(multi.ms),
        perSecond: Math.round(multiRate),
        casRetries: multiRetries,
        chainOk: multiCheck.ok,
        verifiedEntries: multiCheck.entries,
      },
      verify: {
        entries: verify.value.entries,
        ok: verify.value.ok,
        ms: Math.round(verify.ms),
        msSecondRun: Math.round(verify2.ms),
        entriesPerSecond: Math.round(verify.value.entries / (verify.ms / 1000)),
        fillMs: Math.round(filled.ms),
        redisUsedMemoryMiB: Math.round(mem / 2 ** 20),
      },
      export: { entries: exp.value.count, ms: Math.round(exp.ms), megabytes: Math.round(bytes / 2 ** 20) },
    };

    const md = [
      '# Audit log benchmark',
      '',
      `Run: \`npx tsx bench/audit.bench.ts${quick ? ' --quick' : ''}\` on ${result.date}.`,
      `${result.environment.cpus} × ${result.environment.cpu}, Node ${result.environment.node}, ${redisVersion.split(' sha=')[0]}; ${result.environment.transport}.`,
      '',
      '| measurement | result |',
      '|---|---|',
      `| append, 1 writer (${SINGLE_N} entries) | **${result.appendSingleWriter.perSecond}/s** (${result.appendSingleWriter.ms} ms) |`,
      `| append, ${WRITERS} writers on ${WRITERS} connections, one chain (${per * WRITERS} entries) | **${result.appendConcurrentWriters.perSecond}/s** (${result.appendConcurrentWriters.ms} ms, ${multiRetries} CAS retries, chain ${multiCheck.ok ? 'intact' : 'BROKEN'}) |`,
      `| \`audit verify\`, ${result.verify.entries} entries | **${result.verify.ms} ms** (${result.verify.entriesPerSecond} entries/s; second run ${result.verify.msSecondRun} ms) |`,
      `| \`audit export\`, ${result.export.entries} entries | ${result.export.ms} ms, ${result.export.megabytes} MiB of JSON lines |`,
      `| Redis memory with ${result.verify.entries} entries | ${result.verify.redisUsedMemoryMiB} MiB |`,
      '',
      'Each append is one round trip (a Lua compare-and-swap on the chain head); with several writers a loser',
      'gets the new head in the same reply and hashes again, so the chain stays one line and throughput stays',
      'bounded by Redis executing the scripts one at a time.',
      '',
      '```json',
      JSON.stringify(result, null, 2),
      '```',
      '',
    ].join('\n');
    const here = dirname(fileURLToPath(import.meta.url));
    const out = join(here, 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'audit.md'), md);
    writeFileSync(join(out, 'audit.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(md);
  } finally {
    await srv.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
