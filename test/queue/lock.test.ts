/**
 * The per-cluster lock on a real Redis: a holder that works longer than the lock's TTL keeps it (it renews it),
 * so a second worker never gets in halfway (the burst soak posted incidents twice when it did); it is released
 * at the end, and it expires on its own once nobody renews it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withLock } from '../../src/queue/lock.js';
import { sleep } from '../../src/lab/wait.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

let srv: TestRedis;
beforeAll(async () => {
  srv = await startRedis();
});
afterAll(async () => {
  await srv?.stop();
});

describe('withLock', () => {
  it('is kept by a live holder past its TTL, refused to others meanwhile, and released at the end', async () => {
    const a = srv.client();
    const b = srv.client();
    const key = 'test:lock:renewed';
    const tries: (string | undefined)[] = [];
    const holder = withLock(
      a,
      key,
      async () => {
        await sleep(1200); // four times the TTL
        return 'held';
      },
      { ttlMs: 300 },
    );
    for (let i = 0; i < 2; i++) {
      await sleep(400); // at 400 and 800 ms
      tries.push(await withLock(b, key, async () => 'got in', { ttlMs: 300, waitMs: 50 }));
    }
    expect(await holder).toBe('held');
    expect(tries).toEqual([undefined, undefined]);
    expect(await a.exists(key)).toBe(0);
    expect(await withLock(b, key, async () => 'after', { ttlMs: 300, waitMs: 50 })).toBe('after');
  });

  it('expires on its own when its holder is gone (nobody renews it)', async () => {
    const a = srv.client();
    const key = 'test:lock:orphan';
    await a.set(key, 'a-dead-worker', 'PX', 300, 'NX');
    expect(await withLock(a, key, async () => 'no', { waitMs: 50 })).toBeUndefined();
    expect(await withLock(a, key, async () => 'yes', { waitMs: 1000 })).toBe('yes');
  });
});
