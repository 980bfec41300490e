/**
 * A CLI command's Redis connection: connect (fail fast), run, close. An unreachable Redis is one line on stderr
 * and exit 3, whether it fails on connect or half way through; ioredis is loaded only by commands that use it.
 *
 * Every command has a deadline, so that a Redis that is up but answers nothing ends the command with that line
 * instead of hanging the terminal: 5 s on the request flavour; `repair run` (worker flavour: it rides out a
 * Redis restart) gets CLI_WORKER_COMMAND_TIMEOUT_MS.
 */
import type { Redis } from 'ioredis';
import type { Inventory } from '../config/index.js';
import { OpsError } from '../errors/index.js';
import type { CliContext } from './context.js';

export const EXIT_NO_REDIS = 3;

/** Deadline of one Redis command of `repair run` from the terminal: long enough for Redis to restart. */
export const CLI_WORKER_COMMAND_TIMEOUT_MS = 30_000;

export async function withCliRedis(
  ctx: CliContext,
  inventory: Inventory,
  flavour: 'request' | 'worker',
  fn: (redis: Redis) => Promise<void>,
): Promise<void> {
  const { RedisUnavailableError, asRedisError, closeRedis, connectRedis } = await import('../redis.js');
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
      ...(flavour === 'worker' ? { commandTimeoutMs: CLI_WORKER_COMMAND_TIMEOUT_MS } : {}),
    });
  } catch (err) {
    if (unavailable(err)) return;
    throw err;
  }
  try {
    await fn(redis);
  } catch (err) {
    // A command that failed for want of Redis (closed, timed out), whoever issued it, says so the same way.
    const e = err instanceof OpsError ? err : asRedisError(redis, err);
    if (!unavailable(e)) throw e;
  } finally {
    await closeRedis(redis);
  }
}
