/**
 * The whole bot on this machine with Slack replaced by a local recorder: the real Bolt app (HTTP receiver) on a
 * free loopback port, a BullMQ producer and real workers on the inventory's Redis, and a helper that sends a
 * `/fabric` command signed exactly as Slack signs it and waits for the answer the worker posts. Used by
 * `fabric-opsbot demo` and the command-to-report benchmark.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Inventory } from './config/index.js';
import { createLogger } from './log.js';
import type { RecordedCall, SlackRecorder } from './slack/local.js';

export interface LocalSlack {
  eventsUrl: string;
  recorder: SlackRecorder;
  inventory: Inventory;
  redisAddress: string;
  /**
   * Send `/fabric <text>` from `user` in `channel`; resolve when the worker posts in that channel. The ack is
   * the HTTP answer Slack would get (ms: until its end).
   */
  ask(
    text: string,
    opts?: { user?: string; channel?: string; timeoutMs?: number },
  ): Promise<{ ackStatus: number; ackMs: number; ackText: string; post: RecordedCall; totalMs: number }>;
  close(): Promise<void>;
}

export const LOCAL_OPERATOR = 'U0LOCALOPS';
export const LOCAL_CHANNEL = 'C0FABRICOPS';

/** `base` is a normal inventory (e.g. the lab's); its Slack section is replaced by a local one. */
export async function startLocalSlack(
  base: Inventory,
  opts: { incidentChannel?: string; users?: Record<string, 'viewer' | 'operator' | 'approver'> } = {},
): Promise<LocalSlack> {
  const [
    { startSlackRecorder, postSlashCommand },
    { createSlackBot },
    { createProducer },
    redisLib,
    workers,
  ] = await Promise.all([
    import('./slack/local.js'),
    import('./slack/app.js'),
    import('./queue/index.js'),
    import('./redis.js'),
    import('../workers/index.js'),
  ]);
  const secret = randomBytes(16).toString('hex');
  const env = { SLACK_BOT_TOKEN: 'xoxb-local', SLACK_SIGNING_SECRET: secret };
  const recorder = await startSlackRecorder();
  const inventory: Inventory = {
    ...base,
    redis: { ...base.redis, prefix: `local-${randomBytes(4).toString('hex')}` }, // a clean slate per run
    slack: {
      mode: 'http',
      port: 0,
      botTokenEnv: 'SLACK_BOT_TOKEN',
      appTokenEnv: 'SLACK_APP_TOKEN',
      signingSecretEnv: 'SLACK_SIGNING_SECRET',
      apiUrl: recorder.apiUrl,
      ...(opts.incidentChannel ? { incidentChannel: opts.incidentChannel } : {}),
      users: opts.users ?? { [LOCAL_OPERATOR]: 'operator' },
      defaultRole: 'none',
      dangerousRepairs: [],
    },
  };
  const logger = createLogger('local-slack', process.env.LOG_LEVEL ?? 'silent');
  const connection = redisLib.createRedis(inventory.redis, {
    flavour: 'request',
    env,
    connectionName: 'local:bot',
  });
  await connection.connect();
  const producer = createProducer({ connection, prefix: inventory.redis.prefix, ownsConnection: true });
  const bot = createSlackBot({
    inventory,
    env,
    producer,
    mode: 'http',
    port: 0,
    host: '127.0.0.1',
    apiUrl: recorder.apiUrl,
    botId: 'BLOCAL',
    botUserId: 'ULOCAL',
    logger,
  });
  const started = await bot.start();
  const running = await workers.startWorkers({ inventory, env, syncSchedules: false, logger });
  const eventsUrl = `http://127.0.0.1:${started.port}/slack/events`;

  return {
    eventsUrl,
    recorder,
    inventory,
    redisAddress: redisLib.redisAddress(inventory.redis.url),
    async ask(text, o = {}) {
      const channel = o.channel ?? LOCAL_CHANNEL;
      const sent = performance.now();
      const before = recorder.calls.length;
      const res = await postSlashCommand(eventsUrl, secret, {
        text,
        user_id: o.user ?? LOCAL_OPERATOR,
        channel_id: channel,
        response_url: recorder.responseUrl(),
      });
      const post = await recorder.waitFor(
        (c) =>
          recorder.calls.indexOf(c) >= before &&
          c.method === 'chat.postMessage' &&
          c.args['channel'] === channel,
        o.timeoutMs ?? 120_000,
      );
      return {
        ackStatus: res.status,
        ackMs: res.ms,
        ackText: String((res.body as { text?: string }).text ?? ''),
        post,
        totalMs: performance.now() - sent,
      };
    },
    async close() {
      await running.close();
      await bot.stop();
      await forgetRun(connection, inventory.redis.prefix).catch(() => undefined);
      await producer.close();
      await recorder.close();
    },
  };
}

/** Delete a run's keys (queues, incidents, last results) from the Redis it used. */
async function forgetRun(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}
