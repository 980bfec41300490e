/**
 * The real thing, locally: a redis-server on a free port, the Slack Web API recorder, the Bolt app with the HTTP
 * receiver on a free port, and (optionally) real BullMQ workers in this process with injected operations.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Approvals as ApprovalStore } from '../../src/approvals/index.js';
import { auditLogFor, type AuditLog } from '../../src/audit/index.js';
import { type Inventory } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { repairApprovals } from '../../src/ops/repair-run.js';
import {
  createProducer,
  noticeEnqueuer,
  QUEUES,
  repairEnqueuer,
  type JobData,
  type Producer,
  type QueueName,
} from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { createSlackBot, type SlackBot } from '../../src/slack/app.js';
import { slackApprovals, type Approvals } from '../../src/slack/approvals.js';
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
  /** With `repairs`: the bot's approval store and audit log (the workers have their own, as in production). */
  store?: ApprovalStore;
  audit?: AuditLog;
  /** Close the workers (as a worker going away does) and start new ones with the same options (and `extra`). */
  restartWorkers(extra?: Partial<Omit<StartWorkersOptions, 'inventory'>>): Promise<RunningWorkers>;
  /** Jobs in a queue, every state. */
  jobCount(queue?: QueueName): Promise<number>;
  queue(name: QueueName): Queue<JobData>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  approvals?: Approvals;
  /** Start workers with these options (ops injected, timeouts...). */
  workers?: Omit<StartWorkersOptions, 'inventory'>;
  /** The inventory; `apiUrl` is the recorder's Web API URL (for `slack.apiUrl`). */
  inventory?: (redisUrl: string, apiUrl: string) => Inventory;
  /**
   * Let startWorkers make the poster the way production does (bot token from the env, `slack.apiUrl` of the
   * inventory, posts paced per channel through Redis) instead of the harness's unpaced one without retries.
   */
  productionPoster?: boolean;
  redis?: TestRedis;
  /**
   * The real approval flow, wired as commands/bot.ts and commands/worker.ts do: the bot's store (buttons) and the
   * workers' store (execution, sweeps) on their own connections and audit logs. `ttlMinutes` overrides the
   * inventory's approval TTL (fractions: tests of expiry).
   */
  repairs?: { ttlMinutes?: number };
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const redis = opts.redis ?? (await startRedis());
  const recorder = await startSlackRecorder();
  const inventory = opts.inventory?.(redis.url, recorder.apiUrl) ?? testInventory({ redisUrl: redis.url });
  const producerConnection = createRedis(inventory.redis, {
    flavour: 'request',
    env: ENV,
    connectionName: 'test:bot',
  });
  await producerConnection.connect();
  const producer = createProducer({ connection: producerConnection, prefix: inventory.redis.prefix });
  const overrides = opts.repairs?.ttlMinutes !== undefined ? { ttlMinutes: opts.repairs.ttlMinutes } : {};
  let store: ApprovalStore | undefined;
  let audit: AuditLog | undefined;
  let approvals = opts.approvals;
  if (opts.repairs) {
    audit = auditLogFor(producerConnection, inventory);
    store = repairApprovals(inventory, producerConnection, audit, repairEnqueuer(producer), overrides);
    approvals ??= slackApprovals(store, { notify: noticeEnqueuer(producer), logger: testLogger });
  }
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
    ...(approvals ? { approvals } : {}),
    ...(audit ? { audit } : {}),
  });
  const { port } = await bot.start();
  let workers: RunningWorkers | undefined;
  const launch = (extra: Partial<Omit<StartWorkersOptions, 'inventory'>> = {}) =>
    startWorkers({
      inventory,
      env: ENV,
      ...(opts.productionPoster
        ? {}
        : { slack: createSlackPoster({ token: ENV.SLACK_BOT_TOKEN, apiUrl: recorder.apiUrl, retries: 0 }) }),
      syncSchedules: false,
      logger: testLogger,
      ...(opts.repairs
        ? {
            approvalStore: (d) => repairApprovals(inventory, d.redis, d.audit, d.enqueue, overrides),
          }
        : {}),
      ...opts.workers,
      ...extra,
    });
  if (opts.workers) workers = await launch();
  const queues = new Map<QueueName, Queue<JobData>>();
  const queue = (name: QueueName) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue<JobData>(name, { connection: redis.client(), prefix: inventory.redis.prefix });
      q.on('error', () => undefined); // Redis restarted by a test: the client reconnects by itself
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
    get workers() {
      return workers;
    },
    ...(store ? { store } : {}),
    ...(audit ? { audit } : {}),
    async restartWorkers(extra = {}) {
      await workers?.close();
      workers = await launch(extra);
      return workers;
    },
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
