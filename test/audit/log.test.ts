import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AuditLog,
  CHAIN_VERSION,
  canonicalJson,
  entryHash,
  verifyExport,
  type AuditInput,
} from '../../src/audit/index.js';
import { RedisUnavailableError, connectRedis, closeRedis } from '../../src/redis.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

let srv: TestRedis;
let a: Redis;
let b: Redis;
const prefix = 'test';

beforeAll(async () => {
  srv = await startRedis();
  a = srv.client();
  b = srv.client();
});
afterAll(async () => srv?.stop());
beforeEach(async () => srv.flush());

const ev = (i: number, extra: Partial<AuditInput> = {}): AuditInput => ({
  who: `U${i % 3}`,
  what: 'command',
  cluster: 'lab',
  where: 'cli',
  details: { i },
  ...extra,
});

async function fill(log: AuditLog, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await log.append(ev(i))).id);
  return ids;
}

describe('audit log on a Redis stream', () => {
  it('appends entries that verify, tails the newest, never stores secrets', async () => {
    const log = new AuditLog(a, { prefix });
    await fill(log, 5);
    await log.append({
      who: 'U9',
      what: 'approve',
      where: 'slack:C1',
      jobId: 'r-1',
      details: { token: 'xoxb-1-2-3', plan: { kind: 'pad-channel' } },
    });
    const t = await log.tail(2);
    expect(t.map((r) => r.entry?.what)).toEqual(['command', 'approve']);
    expect(t[1]!.entry).toMatchObject({
      who: 'U9',
      where: 'slack:C1',
      jobId: 'r-1',
      cluster: null,
      outcome: 'ok',
      details: { token: '[redacted]', plan: { kind: 'pad-channel' } },
    });
    expect(t[1]!.prevId).toBe(t[0]!.id);
    expect(t[1]!.prev).toBe(t[0]!.hash);
    const raw = JSON.stringify(await a.xrange(`${prefix}:audit`, '-', '+'));
    expect(raw).not.toMatch(/xoxb-1-2-3/);
    const v = await log.verify();
    expect(v).toMatchObject({ ok: true, entries: 6, broken: null, anchorId: null });
  });

  it('an empty log verifies', async () => {
    expect(await new AuditLog(a, { prefix }).verify()).toMatchObject({ ok: true, entries: 0 });
  });

  it('keeps one chain when two connections append at the same time', async () => {
    const la = new AuditLog(a, { prefix });
    const lb = new AuditLog(b, { prefix });
    const n = 150;
    const [ra, rb] = await Promise.all([
      Promise.all(Array.from({ length: n }, (_, i) => la.append(ev(i, { who: 'A' })))),
      Promise.all(Array.from({ length: n }, (_, i) => lb.append(ev(i, { who: 'B' })))),
    ]);
    const ids = new Set([...ra, ...rb].map((r) => r.id));
    expect(ids.size).toBe(2 * n);
    // They really did collide (otherwise this test proves nothing).
    expect([...ra, ...rb].some((r) => r.retries > 0)).toBe(true);
    const v = await new AuditLog(a, { prefix }).verify();
    expect(v).toMatchObject({ ok: true, entries: 2 * n });
    // Every entry links to the one just before it in the stream.
    const all = await la.read('-', 1000);
    for (let i = 1; i < all.length; i++) expect(all[i]!.prevId).toBe(all[i - 1]!.id);
  });

  describe('tampering is found by verify, with the id', () => {
    it('a forged entry without chain fields (XADD)', async () => {
      const log = new AuditLog(a, { prefix });
      await fill(log, 5);
      const forged = (await b.xadd(`${prefix}:audit`, '*', 'e', '{"who":"x","what":"approve"}'))!;
      await fill(log, 2);
      expect((await log.verify()).broken).toMatchObject({ reason: 'malformed', id: forged });
    });

    it('a forged entry with a correctly computed hash, appended at the end', async () => {
      const log = new AuditLog(a, { prefix });
      await fill(log, 5);
      const [last] = await log.tail(1);
      const e = canonicalJson({ who: 'mallory', what: 'approved' });
      const h = entryHash(CHAIN_VERSION, last!.id, last!.hash, e);
      const forged = (await b.xadd(
        `${prefix}:audit`,
        '*',
        'v',
        '1',
        'prevId',
        last!.id,
        'prev',
        last!.hash,
        'h',
        h,
        'e',
        e,
      ))!;
      expect((await log.verify()).broken).toMatchObject({ reason: 'inserted', id: forged });
      // Appenders go on from the real head; the forged entry is still reported.
      await fill(new AuditLog(b, { prefix }), 3);
      expect((await log.verify()).broken).toMatchObject({ reason: 'inserted', id: forged });
    });

    it('a deleted entry (XDEL)', async () => {
      const log = new AuditLog(a, { prefix });
      const ids = await fill(log, 10);
      await b.xdel(`${prefix}:audit`, ids[4]!);
      const r = await log.verify();
      expect(r.ok).toBe(false);
      expect(r.broken).toMatchObject({ reason: 'missing', id: ids[4], at: ids[5] });
      expect(r.entries).toBe(4);
    });

    it('the newest entry deleted', async () => {
      const log = new AuditLog(a, { prefix });
      const ids = await fill(log, 10);
      await b.xdel(`${prefix}:audit`, ids[9]!);
      expect((await log.verify()).broken).toMatchObject({ reason: 'truncated', id: ids[9] });
    });

    it('an entry edited by deleting it and adding it again with other content', async () => {
      const log = new AuditLog(a, { prefix });
      const ids = await fill(log, 10);
      const [, flat] = ((await b.xrange(`${prefix}:audit`, ids[3]!, ids[3]!)) as [string, string[]][])[0]!;
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
      await b.xdel(`${prefix}:audit`, ids[3]!);
      const e = f.e!.replace('"who":"U0"', '"who":"U2"');
      await b.xadd(
        `${prefix}:audit`,
        '*',
        'v',
        f.v!,
        'prevId',
        f.prevId!,
        'prev',
        f.prev!,
        'h',
        f.h!,
        'e',
        e,
      );
      expect((await log.verify()).broken).toMatchObject({ reason: 'missing', id: ids[3], at: ids[4] });
    });

    it('the whole stream rewritten with the same entries (new ids)', async () => {
      const log = new AuditLog(a, { prefix });
      await fill(log, 4);
      const all = (await b.xrange(`${prefix}:audit`, '-', '+')) as [string, string[]][];
      await b.del(`${prefix}:audit`);
      await new Promise((r) => setTimeout(r, 5)); // new ids (within the same ms they would be the same)
      for (const [, flat] of all) await b.xadd(`${prefix}:audit`, '*', ...flat);
      const r = await log.verify();
      expect(r.broken?.reason).toBe('inserted');
      expect(r.ok).toBe(false);
    });
  });

  describe('export and retention', () => {
    it('exports JSON lines that verify offline, and records the mark', async () => {
      const log = new AuditLog(a, { prefix });
      const ids = await fill(log, 7);
      const x = await log.export({ batchSize: 3 });
      expect(x).toMatchObject({ count: 7, firstId: ids[0], lastId: ids[6], gap: false });
      expect(verifyExport(x.lines!)).toMatchObject({ ok: true, entries: 7 });
      expect((await log.meta()).exportedId).toBe(ids[6]);
      // The next export starts after the mark.
      await fill(log, 2);
      const y = await log.export();
      expect(y.count).toBe(2);
      // --since re-exports; record:false leaves the mark.
      const z = await log.export({ sinceId: ids[4], record: false });
      expect(z.count).toBe(4);
      const bad = x.lines!.map((l, i) => (i === 2 ? l.replace('"who":"U2"', '"who":"U1"') : l));
      expect(verifyExport(bad).broken).toMatchObject({ reason: 'edited', id: ids[2] });
      expect(verifyExport(x.lines!.filter((_, i) => i !== 3)).broken).toMatchObject({
        reason: 'missing',
        id: ids[3],
      });
    });

    it('never drops entries that were not exported; verify works after trimming', async () => {
      const log = new AuditLog(a, { prefix, maxEntries: 5, batchSize: 4 });
      const ids = await fill(log, 12);
      // Nothing exported: nothing may go.
      expect(await log.retain()).toMatchObject({ trimmed: 0, blockedByExport: true, length: 12 });
      // Export the first 8 only.
      expect(await log.export({ sinceId: '0', limit: 8, batchSize: 3 })).toMatchObject({
        count: 8,
        lastId: ids[7],
      });
      const r = await log.retain();
      expect(r).toMatchObject({ trimmed: 7, anchorId: ids[6], length: 5 });
      const kept = (await log.read('-', 100)).map((x) => x.id);
      expect(kept).toEqual(ids.slice(7));
      expect(await log.verify()).toMatchObject({ ok: true, entries: 5, anchorId: ids[6] });
      // Tampering after a trim is still found.
      await b.xdel(`${prefix}:audit`, ids[7]!);
      expect((await log.verify()).broken).toMatchObject({ reason: 'missing', id: ids[7] });
    });

    it('retention by age trims only what is old and exported; appends continue the chain', async () => {
      const log = new AuditLog(a, { prefix, maxAgeDays: 150 / 86_400_000 });
      const old = await fill(log, 4);
      await new Promise((r) => setTimeout(r, 200));
      await log.export();
      const fresh = await fill(log, 3);
      const r = await log.retain();
      expect(r).toMatchObject({ trimmed: 4, anchorId: old[3] });
      expect((await log.read('-', 100)).map((x) => x.id)).toEqual(fresh);
      await new Promise((res) => setTimeout(res, 200));
      // Old enough now, but not exported.
      expect(await log.retain()).toMatchObject({ trimmed: 0, blockedByExport: true });
      await log.export();
      expect(await log.retain()).toMatchObject({ trimmed: 3, length: 0 });
      expect(await log.verify()).toMatchObject({ ok: true, entries: 0, anchorId: fresh[2] });
      await fill(log, 2);
      expect(await log.verify()).toMatchObject({ ok: true, entries: 2 });
    });

    it('appends trigger retention on their own (retainEvery)', async () => {
      const log = new AuditLog(a, { prefix, maxEntries: 10, retainEvery: 5 });
      await fill(log, 10);
      await log.export();
      await fill(log, 10);
      const m = await log.meta();
      expect(m.length).toBeLessThanOrEqual(15);
      expect(await log.verify()).toMatchObject({ ok: true });
    });

    it('property: whatever the order of appends, exports and trims, unexported entries stay and the chain verifies', async () => {
      type Op = { op: 'append'; n: number } | { op: 'export'; upTo: number } | { op: 'retain' };
      const opArb: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ op: fc.constant('append' as const), n: fc.integer({ min: 1, max: 6 }) }),
        fc.record({ op: fc.constant('export' as const), upTo: fc.nat() }),
        fc.record({ op: fc.constant('retain' as const) }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(opArb, { maxLength: 12 }),
          fc.integer({ min: 1, max: 6 }),
          async (ops, maxEntries) => {
            await srv.flush();
            const log = new AuditLog(a, { prefix, maxEntries, retainEvery: 0, batchSize: 3 });
            const all: string[] = [];
            let mark = -1;
            for (const o of ops) {
              if (o.op === 'append') all.push(...(await fill(log, o.n)));
              else if (o.op === 'export' && all.length > 0) {
                const upTo = Math.max(mark, o.upTo % all.length);
                await a.hset(`${prefix}:audit:meta`, 'exportedId', all[upTo]!);
                mark = upTo;
              } else if (o.op === 'retain') await log.retain();
            }
            const kept = new Set((await log.read('-', 1000)).map((r) => r.id));
            for (let i = mark + 1; i < all.length; i++) expect(kept.has(all[i]!)).toBe(true);
            expect(kept.size).toBeGreaterThanOrEqual(Math.min(all.length, maxEntries));
            expect((await log.verify()).ok).toBe(true);
          },
        ),
        { numRuns: 40 },
      );
    });
  });

  it('the chain survives a Redis restart with AOF, and appends go on from it', async () => {
    const aof = await startRedis({ appendonly: true });
    try {
      const c = aof.client();
      const log = new AuditLog(c, { prefix });
      const ids = await fill(log, 20);
      await aof.restart();
      for (let i = 0; i < 100 && c.status !== 'ready'; i++) await new Promise((res) => setTimeout(res, 50));
      expect(await log.verify()).toMatchObject({ ok: true, entries: 20, lastId: ids[19] });
      await fill(new AuditLog(aof.client(), { prefix }), 5);
      expect(await log.verify()).toMatchObject({ ok: true, entries: 25 });
    } finally {
      await aof.stop();
    }
  });

  describe('Redis down', () => {
    it('connectRedis fails at once, naming the address and never the password', async () => {
      const t0 = Date.now();
      const err = await connectRedis(
        { url: 'redis://127.0.0.1:1', passwordEnv: 'OPSBOT_TEST_REDIS_PW', prefix },
        { flavour: 'request', env: { OPSBOT_TEST_REDIS_PW: 's3cret-pw' } },
      ).catch((e: unknown) => e);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as Error).message).toMatch(/^cannot reach Redis at 127\.0\.0\.1:1: connect ECONNREFUSED/);
      expect((err as Error).message).not.toMatch(/s3cret/);
    });

    it('a wrong password is reported as such, without the password', async () => {
      const pw = await startRedis({ args: ['--requirepass', 'right-one'] });
      try {
        const err = await connectRedis(
          { url: pw.url, passwordEnv: 'PW', prefix },
          { flavour: 'request', env: { PW: 'wrong-one' } },
        ).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RedisUnavailableError);
        expect((err as Error).message).toMatch(/authentication failed/);
        expect((err as Error).message).not.toMatch(/wrong-one|right-one/);
        const ok = await connectRedis(
          { url: pw.url, passwordEnv: 'PW', prefix },
          { flavour: 'request', env: { PW: 'right-one' } },
        );
        expect(await ok.ping()).toBe('PONG');
        await closeRedis(ok);
      } finally {
        await pw.stop();
      }
    });

    it('a request-path connection fails fast when Redis goes away, and recovers', async () => {
      const own = await startRedis();
      try {
        const r = await connectRedis({ url: own.url, prefix }, { flavour: 'request' });
        const log = new AuditLog(r, { prefix });
        await log.append(ev(1));
        await own.pause();
        const t0 = Date.now();
        const err = await log.append(ev(2)).catch((e: unknown) => e);
        expect(Date.now() - t0).toBeLessThan(2000);
        expect(err).toBeInstanceOf(RedisUnavailableError);
        expect((err as Error).message).toContain(`127.0.0.1:${own.port}`);
        await own.start();
        for (let i = 0; i < 100 && r.status !== 'ready'; i++) await new Promise((res) => setTimeout(res, 50));
        await log.append(ev(3));
        await closeRedis(r);
      } finally {
        await own.stop();
      }
    });
  });
});
