/**
 * Redis connections from the inventory's `redis` section, in two flavours:
 *
 * - `worker`: for BullMQ workers and other code that may block and should ride out a Redis restart
 *   (`maxRetriesPerRequest: null`, commands queue while reconnecting).
 * - `request`: for the request path (CLI, Slack handlers): fail fast. No offline queue, a short connect
 *   timeout, one retry per command, and a deadline on every command (a Redis that is up but answers nothing:
 *   stopped, stuck in fsync on a stalled disk), so that a person gets "cannot reach Redis at host:port" at once
 *   instead of a hung command.
 *
 * Errors name the Redis address (host:port[/db]) and never the password. Key names are built explicitly from
 * `redis.prefix` (no ioredis `keyPrefix`: BullMQ refuses it and Lua scripts would not see it).
 */
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Inventory } from './config/index.js';
import { ConfigError, SourceError, describeError } from './errors/index.js';
import { createLogger } from './log.js';

export type RedisSettings = Inventory['redis'];
export type RedisFlavour = 'worker' | 'request';

export interface RedisConnectOptions {
  flavour: RedisFlavour;
  /** Where `passwordEnv` is read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Shown in CLIENT LIST, e.g. "fabric-opsbot:cli". */
  connectionName?: string;
  /** Connect timeout; default 2000 ms (request) or 10000 ms (worker). */
  connectTimeoutMs?: number;
  /**
   * Deadline of each command; default 5000 ms (request) or none (worker: BullMQ's blocking commands wait on
   * purpose, and commands queued while Redis restarts must be allowed to wait for it).
   */
  commandTimeoutMs?: number;
}

export const REQUEST_COMMAND_TIMEOUT_MS = 5_000;

/** Redis could not be reached (or went away). Retryable. */
export class RedisUnavailableError extends SourceError {
  constructor(
    readonly address: string,
    why: string,
    options?: { cause?: unknown },
  ) {
    super('redis', `cannot reach Redis at ${address}: ${why}`, options);
  }
}

interface ParsedUrl {
  host: string;
  port: number;
  db: number;
  tls: boolean;
  username?: string;
  password?: string;
}

function parseRedisUrl(url: string): ParsedUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`redis.url: not a URL (expected redis://host:port[/db])`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new ConfigError(`redis.url: scheme must be redis:// or rediss://, not ${u.protocol}//`);
  }
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0)
    throw new ConfigError(`redis.url: database "${dbText}" is not a number`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port === '' ? 6379 : Number(u.port),
    db,
    tls: u.protocol === 'rediss:',
    ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== '' ? { password: decodeURIComponent(u.password) } : {}),
  };
}

/** host:port[/db] of a Redis URL, without user or password: what messages show. */
export function redisAddress(url: string): string {
  try {
    const p = parseRedisUrl(url);
    return `${p.host}:${p.port}${p.db !== 0 ? `/${p.db}` : ''}`;
  } catch {
    return '(invalid redis.url)';
  }
}

/** The ioredis options for a flavour. Throws ConfigError when passwordEnv names an unset variable. */
export function redisOptions(settings: RedisSettings, opts: RedisConnectOptions): RedisOptions {
  const p = parseRedisUrl(settings.url);
  const env = opts.env ?? process.env;
  let password = p.password;
  if (settings.passwordEnv !== undefined) {
    const v = env[settings.passwordEnv];
    if (v === undefined || v === '') {
      throw new ConfigError(
        `redis.passwordEnv names ${settings.passwordEnv}, which is not set in the environment`,
      );
    }
    password = v;
  }
  const common: RedisOptions = {
    host: p.host,
    port: p.port,
    db: p.db,
    lazyConnect: true,
    ...(p.tls ? { tls: { servername: p.host } } : {}),
    ...(p.username !== undefined ? { username: p.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(opts.connectionName !== undefined ? { connectionName: opts.connectionName } : {}),
  };
  if (opts.flavour === 'worker') {
    return {
      ...common,
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
      ...(opts.commandTimeoutMs !== undefined ? { commandTimeout: opts.commandTimeoutMs } : {}),
      retryStrategy: (times) => Math.min(times * 200, 5_000),
    };
  }
  return {
    ...common,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: opts.connectTimeoutMs ?? 2_000,
    commandTimeout: opts.commandTimeoutMs ?? REQUEST_COMMAND_TIMEOUT_MS,
    // Keep trying in the background (a long-lived bot recovers by itself) while every command issued
    // meanwhile fails at once: no offline queue.
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  };
}

interface ConnInfo {
  address: string;
  lastError?: Error;
  secret?: string;
}
const info = new WeakMap<Redis, ConnInfo>();
const log = createLogger('redis');

function scrubText(text: string, secret: string | undefined): string {
  return secret !== undefined && secret !== '' ? text.split(secret).join('[redacted]') : text;
}

/**
 * A new connection (not yet connected: the first command or connectRedis() connects). The connection
 * remembers its address and last error so that failures can be reported as RedisUnavailableError.
 */
export function createRedis(settings: RedisSettings, opts: RedisConnectOptions): Redis {
  const options = redisOptions(settings, opts);
  const redis = new Redis(options);
  const ci: ConnInfo = {
    address: redisAddress(settings.url),
    ...(options.password !== undefined ? { secret: options.password } : {}),
  };
  info.set(redis, ci);
  redis.on('error', (err: Error) => {
    ci.lastError = err;
    log.debug({ address: ci.address, err: scrubText(err.message, ci.secret) }, 'redis connection error');
  });
  redis.on('ready', () => {
    delete ci.lastError;
  });
  return redis;
}

/** The address a connection made by createRedis() talks to (host:port), or "redis" for foreign ones. */
export function addressOf(redis: Redis): string {
  return info.get(redis)?.address ?? `${redis.options.host ?? '?'}:${redis.options.port ?? '?'}`;
}

/** True for an error Redis itself replied with (a script error, WRONGTYPE...), as opposed to no connection. */
function isReplyError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'ReplyError' || /^(ERR|WRONGTYPE|NOSCRIPT|BUSY|NOPERM)\b/.test(err.message))
  );
}

/**
 * Turn a connection-level failure into RedisUnavailableError naming the address (with the underlying cause,
 * e.g. "connect ECONNREFUSED"); Redis replies and other errors pass through unchanged.
 */
export function asRedisError(redis: Redis, err: unknown): unknown {
  if (err instanceof RedisUnavailableError || isReplyError(err)) return err;
  if (!(err instanceof Error)) return err;
  const ci = info.get(redis);
  const address = addressOf(redis);
  if (err.message === 'Command timed out') {
    // Connected, but Redis did not answer (stopped, blocked, a stalled disk under appendfsync always).
    const ms = redis.options.commandTimeout;
    return new RedisUnavailableError(address, `no answer within ${ms ?? '?'} ms`, { cause: err });
  }
  const generic =
    /Connection is closed|Stream isn't writeable|enableOfflineQueue|Reached the max retries|connect ETIMEDOUT|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|NOAUTH|WRONGPASS/;
  if (!generic.test(err.message) && redis.status === 'ready') return err;
  const cause = ci?.lastError ?? err;
  let why = describeError(cause);
  if (/WRONGPASS|NOAUTH/.test(why))
    why = `authentication failed (${why.split(' ')[0]}); check redis.passwordEnv`;
  return new RedisUnavailableError(address, scrubText(why, ci?.secret), { cause: err });
}

/**
 * The error for a command not even tried because the connection is not ready: the last connection error when
 * there was one ("connect ECONNREFUSED ..."), else what the connection is doing.
 */
export function notConnectedError(redis: Redis): RedisUnavailableError {
  const ci = info.get(redis);
  if (ci?.lastError) return asRedisError(redis, new Error('Connection is closed.')) as RedisUnavailableError;
  const status = redis.status;
  const why =
    status === 'reconnecting' || status === 'connecting' || status === 'connect'
      ? 'the connection was lost; reconnecting'
      : `not connected (${status})`;
  return new RedisUnavailableError(addressOf(redis), why);
}

/** Run fn and report connection failures as RedisUnavailableError. */
export async function withRedis<T>(redis: Redis, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asRedisError(redis, err);
  }
}

/**
 * Create and connect; resolves once the connection is ready. A Redis that is down, unreachable or refuses the
 * password gives RedisUnavailableError at once (request flavour) naming the address.
 */
export async function connectRedis(settings: RedisSettings, opts: RedisConnectOptions): Promise<Redis> {
  const redis = createRedis(settings, opts);
  const limitMs = (opts.connectTimeoutMs ?? (opts.flavour === 'request' ? 2_000 : 10_000)) + 3_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const ready = (async () => {
      await redis.connect();
      if (redis.status !== 'ready') {
        await new Promise<void>((resolve, reject) => {
          redis.once('ready', () => resolve());
          redis.once('end', () => reject(new Error('Connection is closed.')));
        });
      }
    })();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${limitMs} ms`)), limitMs);
    });
    await Promise.race([ready, timeout]);
    return redis;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('no answer within')) {
      redis.disconnect();
      throw new RedisUnavailableError(addressOf(redis), err.message);
    }
    const wrapped = asRedisError(redis, err);
    redis.disconnect();
    throw wrapped;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Close politely (QUIT), or drop the socket when Redis is not reachable or does not answer the QUIT within
 * `quitMs` (a hung Redis must not hang the close too).
 */
export async function closeRedis(redis: Redis, quitMs = 1_000): Promise<void> {
  if (redis.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    try {
      const quit = redis.quit().then(() => true);
      const late = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), quitMs);
      });
      if (await Promise.race([quit, late])) return;
      quit.catch(() => undefined);
    } catch {
      // fall through
    } finally {
      clearTimeout(timer);
    }
  }
  redis.disconnect();
}

/** A Lua script run with EVALSHA, falling back to EVAL when the server does not have it cached. */
export interface LuaScript {
  readonly sha: string;
  run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

export function luaScript(lua: string): LuaScript {
  const sha = createHash('sha1').update(lua).digest('hex');
  return {
    sha,
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
          return redis.eval(lua, keys.length, ...keys, ...args);
        }
        throw err;
      }
    },
  };
}

/** Every key this module family uses, from one place. */
export function redisKeys(prefix: string) {
  return {
    /** Stream: the hash-chained audit log. */
    audit: `${prefix}:audit`,
    /** Hash: lastHash, lastId, anchorId, anchorHash, exportedId, exportedAt. */
    auditMeta: `${prefix}:audit:meta`,
    /** Hash: one repair request and its approval state. */
    approval: (id: string) => `${prefix}:approval:${id}`,
    /** Sorted set: pending request ids scored by expiry (ms). */
    approvalsPending: `${prefix}:approvals:pending`,
    /** Hash: execution state of an approved request. */
    repair: (id: string) => `${prefix}:repair:${id}`,
    /** Hash: status (started|done|failed) of one step. */
    repairStep: (id: string, i: number) => `${prefix}:repair:${id}:step:${i}`,
    /** String: the executing worker's lock token (SET NX PX, renewed). */
    repairLock: (id: string) => `${prefix}:repair:${id}:lock`,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;
