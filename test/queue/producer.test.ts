/** The producer against a real Redis: duplicates are recognised, a Redis that is gone fails fast. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/config/index.js';
import { createProducer, QUEUES, type JobData } from '../../src/queue/index.js';
import { createRedis, RedisUnavailableError } from '../../src/redis.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const job: JobData = { kind: 'diagnose', cluster: 'lab', requestedAt: '2026-11-21T10:00:00.000Z' };

function settings(url: string) {
  return parseInventory(
    `clusters: {lab: {kafka: {brokers: ["127.0.0.1:1"]}, zookeeper: {connect: "127.0.0.1:2"}}}\nredis: {url: "${url}", prefix: p}`,
    'inv.yaml',
  ).redis;
}

describe('createProducer', () => {
  it('adds a job once per id and says when it was a repeat', async () => {
    const conn = createRedis(settings(redis.url), { flavour: 'request' });
    await conn.connect();
    const p = createProducer({ connection: conn, prefix: 'p', ownsConnection: true });
    try {
      expect(await p.enqueue(job, 'cmd-abc')).toEqual({
        jobId: 'cmd-abc',
        queue: QUEUES.commands,
        duplicate: false,
      });
      expect(await p.enqueue(job, 'cmd-abc')).toEqual({
        jobId: 'cmd-abc',
        queue: QUEUES.commands,
        duplicate: true,
      });
      expect(await p.queues.commands.count()).toBe(1);
      expect(
        (await p.enqueue({ kind: 'scheduled-check', cluster: 'lab', requestedAt: 'x' }, 'sched-1')).queue,
      ).toBe(QUEUES.checks);
      await expect(p.enqueue(job, '12')).rejects.toThrow(/invalid job id/);
    } finally {
      await p.close();
    }
  });

  it('fails at once, naming the address, when Redis cannot be reached', async () => {
    const conn = createRedis(settings('redis://127.0.0.1:1'), { flavour: 'request' });
    conn.connect().catch(() => undefined);
    const p = createProducer({ connection: conn, prefix: 'p', ownsConnection: true });
    try {
      const t0 = performance.now();
      const err = await p.enqueue(job, 'cmd-x').catch((e: unknown) => e);
      expect(performance.now() - t0).toBeLessThan(200);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as Error).message).toMatch(/cannot reach Redis at 127\.0\.0\.1:1/);
    } finally {
      await p.close();
    }
  });
});
