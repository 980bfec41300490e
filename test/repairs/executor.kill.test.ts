/**
 * The executor against a real kill: a child process runs the repair and SIGKILLs itself (no cleanup, no lock
 * release, nothing flushed), then a second child process resumes. Every handler call is logged to Redis with
 * RPUSH by the child, so the counts survive the kill. Needs `tsx` to run TypeScript in the child (skipped
 * without it).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const require = createRequire(import.meta.url);
let tsx: string | null = null;
try {
  tsx = require.resolve('tsx');
} catch {
  tsx = null;
}

const root = resolve(import.meta.dirname, '../..');
const LOCK_TTL = 400;

const CHILD = `
import { createRedis } from ${JSON.stringify(join(root, 'src/redis.ts'))};
import { AuditLog } from ${JSON.stringify(join(root, 'src/audit/index.ts'))};
import { RepairExecutor } from ${JSON.stringify(join(root, 'src/repairs/executor.ts'))};
import { idempotent } from ${JSON.stringify(join(root, 'src/repairs/steps.ts'))};

const [port, workerId, killAt] = process.argv.slice(2);
const redis = createRedis({ url: 'redis://127.0.0.1:' + port, prefix: 'kill' }, { flavour: 'worker' });
const die = (where) => { if (killAt === where) process.kill(process.pid, 'SIGKILL'); };
const plan = {
  kind: 'pad-channel', cluster: 'lab', args: { channel: 'pubchain' },
  preconditions: [{ check: 'orderers agree', ok: true, detail: 'offset 21' }],
  steps: [
    { action: 'produce', topic: 'pubchain', partition: 0, count: 7, value: '1a00', key: '0' },
    { action: 'restart-container', container: 'orderer1' },
    { action: 'wait', for: 'orderer1 healthy', timeoutMs: 1000 },
  ],
  expected: { highWatermark: 21 }, refusal: null,
};
const handlers = {
  produce: idempotent(async (step, ctx) => {
    await redis.rpush('calls', ctx.index);
    let hw = Number(await redis.get('hw'));
    while (hw < 14 + step.count) {
      hw = await redis.incr('hw');
      if (hw === 17) die('in-produce');
    }
    return { ok: true, detail: 'hw ' + hw };
  }),
  'restart-container': async (_s, ctx) => { await redis.rpush('calls', ctx.index); die('in-restart'); return { ok: true }; },
  wait: async (_s, ctx) => { await redis.rpush('calls', ctx.index); return { ok: true }; },
};
const ex = new RepairExecutor({ redis, prefix: 'kill', audit: new AuditLog(redis, { prefix: 'kill' }), handlers, workerId, lockTtlMs: ${LOCK_TTL} });
const result = await ex.execute({
  requestId: 'rq-kill-0000000001', plan, replan: async () => plan,
  verify: async () => ({ ok: (await redis.get('hw')) === '21', detail: 'hw ' + (await redis.get('hw')) }),
  onStep: (e) => { if (e.phase === 'done') die('after-' + e.index); },
});
console.log(JSON.stringify({ status: result.status, message: result.message }));
await redis.quit();
`;

let srv: TestRedis;
let r: Redis;
let dir: string;
let script: string;

beforeAll(async () => {
  srv = await startRedis();
  r = srv.client();
  dir = mkdtempSync(join(tmpdir(), 'opsbot-kill-'));
  script = join(dir, 'child.mts');
  writeFileSync(script, CHILD);
});
afterAll(async () => {
  await srv?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await srv.flush();
  await r.set('hw', 14);
});

function child(
  workerId: string,
  killAt = 'never',
): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, ['--import', 'tsx', script, String(srv.port), workerId, killAt], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code, signal) => res({ code, signal, out, err }));
  });
}

async function calls(): Promise<number[]> {
  return (await r.lrange('calls', 0, -1)).map(Number);
}

describe.skipIf(tsx === null)('executor across a real kill -9', () => {
  it.each([['after-0'], ['after-1']])(
    'killed %s: the next process resumes, no step runs twice',
    async (killAt) => {
      const a = await child('w1', killAt);
      expect(a.signal).toBe('SIGKILL');
      await new Promise((res) => setTimeout(res, LOCK_TTL + 100));
      const b = await child('w2');
      expect(b.code, b.err).toBe(0);
      expect(JSON.parse(b.out)).toMatchObject({ status: 'done' });
      expect(await calls()).toEqual([0, 1, 2]);
      expect(await r.get('hw')).toBe('21');
      // Both processes wrote to one audit chain, the killed one included.
      expect(await new AuditLog(r, { prefix: 'kill' }).verify()).toMatchObject({ ok: true, broken: null });
    },
    30_000,
  );

  it('killed inside a step that is not idempotent: the next process stops in needs-operator', async () => {
    const a = await child('w1', 'in-restart');
    expect(a.signal).toBe('SIGKILL');
    await new Promise((res) => setTimeout(res, LOCK_TTL + 100));
    const b = await child('w2');
    expect(JSON.parse(b.out)).toMatchObject({
      status: 'needs-operator',
      message: /step 2 \(restart container orderer1\) was started by w1/,
    });
    expect(await calls()).toEqual([0, 1]);
  }, 30_000);

  it('killed in the middle of padding: the rerun produces only what is missing', async () => {
    const a = await child('w1', 'in-produce');
    expect(a.signal).toBe('SIGKILL');
    expect(await r.get('hw')).toBe('17');
    await new Promise((res) => setTimeout(res, LOCK_TTL + 100));
    const b = await child('w2');
    expect(JSON.parse(b.out)).toMatchObject({ status: 'done' });
    expect(await r.get('hw')).toBe('21');
    expect(await calls()).toEqual([0, 0, 1, 2]);
  }, 30_000);
});
