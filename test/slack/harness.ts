/**
 * The real thing, locally: a redis-server on a free port, the Slack Web API recorder, the Bolt app with the HTTP
 * receiver on a free port, and (optionally) real BullMQ workers in this process with injected operations.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type Inventory } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import {
  createProducer,
  QUEUES,
  type JobData,
  type Producer,
  type QueueName,
} from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { createSlackBot, type SlackBot } from '../../src/slack/app.js';
import type { Approvals } from '../../src/slack/approvals.js';
import { createSlackPoster } from '../../src/slack/poster.js';
import { startWorkers, type RunningWorkers, type StartWorkersOptions } from '../../workers/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startSlackRecorder, type SlackRecorder } from '../helpers/slack.js';
import { testInventory } from './fixtures.js';

export const SIGNING_SECRET = 'test-signing-secret-0123456789';
/** Quiet unless LOG_LEVEL says otherwise. */
export const testLogger = createLogger('test', process.env['LOG_LEVEL'] ?? 'silent');

export const ENV = {
  SLACK_BOT_TOKEN: 'xoxb-test-token',
  SLACK_SIGNING_SECRET: SIGNING_SECRET,
  SLACK_APP_TOKEN: 'xapp-test-token',
};

export interface Harness {
  redis: TestRedis;
  recorder: SlackRecorder;
  inventory: Inventory;
  producer: Producer;
  producerConnection: Redis;
  bot: SlackBot;
  /** http://127.0.0.1:P/slack/events */
  eventsUrl: string;
  workers?: RunningWorkers;
  /** Jobs in a queue, every state. */
  jobCount(queue?: QueueName): Promise<number>;
  queue(name: QueueName): Queue<JobData>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  approvals?: Approvals;
  /** Start workers with these options (ops injected, timeouts...). */
  workers?: Omit<StartWorkersOptions, 'inventory'>;
  inventory?: (redisUrl: string) => Inventory;
  redis?: TestRedis;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const redis = opts.redis ?? (await startRedis());
  const recorder = await startSlackRecorder();
  const inventory = opts.inventory?.(redis.url) ?? testInventory({ redisUrl: redis.url });
  const producerConnection = createRedis(inventory.redis, {
    flavour: 'request',
    env: ENV,
    connectionName: 'test:bot',
  });
  await producerConnection.connect();
  const producer = createProducer({ connection: producerConnection, prefix: inventory.redis.prefix });
  const bot = createSlackBot({
    inventory,
    env: ENV,
    producer,
    mode: 'http',
    port: 0,
    host: '127.0.0.1',
    apiUrl: recorder.apiUrl,
    botId: 'BBOT',
    botUserId: 'UBOT',
    logger: testLogger,
    ...(opts.approvals ? { approvals: opts.approvals } : {}),
  });
  const { port } = await bot.start();
  let workers: RunningWorkers | undefined;
  if (opts.workers) {
    workers = await startWorkers({
      inventory,
      env: ENV,
      slack: createSlackPoster({ token: ENV.SLACK_BOT_TOKEN, apiUrl: recorder.apiUrl, retries: 0 }),
      syncSchedules: false,
      logger: testLogger,
      ...opts.workers,
    });
  }
  const queues = new Map<QueueName, Queue<JobData>>();
  const queue = (name: QueueName) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue<JobData>(name, { connection: redis.client(), prefix: inventory.redis.prefix });
      queues.set(name, q);
    }
    return q;
  };
  return {
    redis,
    recorder,
    inventory,
    producer,
    producerConnection,
    bot,
    eventsUrl: `http://127.0.0.1:${port}/slack/events`,
    ...(workers ? { workers } : {}),
    queue,
    async jobCount(name = QUEUES.commands) {
      const counts = await queue(name).getJobCounts();
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    async close() {
      await workers?.close();
      await bot.stop();
      await producer.close();
      producerConnection.disconnect();
      for (const q of queues.values()) await q.close();
      await recorder.close();
      if (!opts.redis) await redis.stop();
    },
  };
}
