/**
 * Redis connections for the queue (a private minimal factory: replace with src/redis.ts when it lands).
 *
 * Two flavours, as BullMQ wants them:
 * - `worker`: maxRetriesPerRequest null (blocking commands wait out a Redis restart), offline queue on.
 * - `producer`: fails fast. enableOfflineQueue false and one retry per request, so a command typed while Redis
 *   is down gets "Redis is unreachable" at once instead of hanging past Slack's 3 s.
 * Both reconnect forever in the background (capped backoff), so the bot heals when Redis comes back.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Inventory } from '../config/index.js';

export type RedisFlavour = 'worker' | 'producer';

export interface RedisTarget {
  url: string;
  password?: string;
  prefix: string;
}

/** Where Redis is (URL from the inventory, password from the env variable it names). */
export function redisTarget(inventory: Inventory, env: NodeJS.ProcessEnv): RedisTarget {
  const r = inventory.redis;
  const password = r.passwordEnv ? env[r.passwordEnv] || undefined : undefined;
  return { url: r.url, prefix: r.prefix, ...(password !== undefined ? { password } : {}) };
}

export function redisOptions(target: RedisTarget, flavour: RedisFlavour, name?: string): RedisOptions {
  const common: RedisOptions = {
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(name !== undefined ? { connectionName: name } : {}),
    connectTimeout: 2000,
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
  };
  return flavour === 'worker'
    ? { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true }
    : { ...common, maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 2000 };
}

/** A connection of the given flavour. Attach to 'error' yourself if you want to log; one is attached to keep
 * an unreachable Redis from crashing the process with an unhandled 'error' event. */
export function connectRedis(target: RedisTarget, flavour: RedisFlavour, name?: string): Redis {
  const client = new Redis(target.url, redisOptions(target, flavour, name));
  client.on('error', () => undefined);
  return client;
}

/** The URL without credentials, for messages and logs. */
export function safeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid redis url)';
  }
}
