/**
 * A CLI command's Redis connection: connect (fail fast), run, close. An unreachable Redis is one line on stderr
 * and exit 3, whether it fails on connect or half way through; ioredis is loaded only by commands that use it.
 */
import type { Redis } from 'ioredis';
import type { Inventory } from '../config/index.js';
import type { CliContext } from './context.js';

export const EXIT_NO_REDIS = 3;

export async function withCliRedis(
  ctx: CliContext,
  inventory: Inventory,
  flavour: 'request' | 'worker',
  fn: (redis: Redis) => Promise<void>,
): Promise<void> {
  const { RedisUnavailableError, closeRedis, connectRedis } = await import('../redis.js');
  const unavailable = (err: unknown): boolean => {
    if (!(err instanceof RedisUnavailableError)) return false;
    ctx.io.err(`fabric-opsbot: ${err.message}\n`);
    ctx.exitCode = EXIT_NO_REDIS;
    return true;
  };
  let redis: Redis;
  try {
    redis = await connectRedis(inventory.redis, {
      flavour,
      env: ctx.io.env,
      connectionName: 'fabric-opsbot:cli',
    });
  } catch (err) {
    if (unavailable(err)) return;
    throw err;
  }
  try {
    await fn(redis);
  } catch (err) {
    if (!unavailable(err)) throw err;
  } finally {
    await closeRedis(redis);
  }
}
