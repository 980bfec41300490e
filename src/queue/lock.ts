/**
 * A short Redis lock shared by every worker (SET NX PX with a random token, released only by its holder), for
 * read-compare-write sequences on per-cluster state: incidents and the last scheduled-check result.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { luaScript } from '../redis.js';

const release = luaScript(
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
);

const renew = luaScript(
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end",
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LockOptions {
  /**
   * How long the lock lives after its holder stops renewing it (it died, or lost Redis). Default 30 s. A holder
   * that is alive renews it every third of this, however long its work takes (posting a hundred incidents at
   * Slack's pace takes minutes): the lock never expires under a live holder.
   */
  ttlMs?: number;
  /** How long to wait for it. Default 10 s. */
  waitMs?: number;
}

/** Run fn holding the lock; undefined (fn not run) when the lock could not be had in time. */
export async function withLock<T>(
  redis: Redis,
  key: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T | undefined> {
  const token = randomUUID();
  const deadline = Date.now() + (opts.waitMs ?? 10_000);
  while ((await redis.set(key, token, 'PX', opts.ttlMs ?? 30_000, 'NX')) !== 'OK') {
    if (Date.now() > deadline) return undefined;
    await sleep(50);
  }
  const ttlMs = opts.ttlMs ?? 30_000;
  const renewal = setInterval(
    () => void renew.run(redis, [key], [token, String(ttlMs)]).catch(() => undefined),
    Math.max(10, Math.floor(ttlMs / 3)),
  );
  renewal.unref();
  try {
    return await fn();
  } finally {
    clearInterval(renewal);
    await release.run(redis, [key], [token]).catch(() => undefined);
  }
}
