/**
 * `startWorkers()`: BullMQ workers for the command and check queues, in any number of processes on any
 * machines that share the Redis. Each process also syncs the per-cluster check schedulers with its inventory
 * (idempotent), unless told not to.
 */
import { hostname } from 'node:os';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { readSecrets, type Inventory } from '../src/config/index.js';
import { ConfigError, describeError } from '../src/errors/index.js';
import { createLogger, type Logger } from '../src/log.js';
import {
  QUEUES,
  syncSchedules,
  type JobData,
  type JobKind,
  type JobResult,
  type QueueName,
  type ScheduleSync,
} from '../src/queue/index.js';
import { closeRedis, connectRedis, createRedis } from '../src/redis.js';
import { approvalsNotWired, type Approvals } from '../src/slack/approvals.js';
import { createIncidentTracker, type IncidentTracker } from '../src/slack/incidents.js';
import { createSlackPoster, type SlackPoster } from '../src/slack/poster.js';
import { defaultOperations, type Operations } from './ops.js';
import { createProcessor, incidentChannelFor } from './processor.js';

export interface StartWorkersOptions {
  inventory: Inventory;
  env?: NodeJS.ProcessEnv;
  /** Default: chat.postMessage with the bot token (env var from slack.botTokenEnv) at slack.apiUrl. */
  slack?: SlackPoster;
  /** Replace some or all operations (tests inject a diagnose). */
  ops?: Partial<Operations>;
  /** The approval flow's `propose` (default: none; plans get a request id that cannot be approved yet). */
  approvals?: Approvals;
  /** Parallel jobs per process: commands (default 4) and scheduled checks (default 2). */
  concurrency?: number;
  checksConcurrency?: number;
  timeoutsMs?: Partial<Record<JobKind, number>>;
  /** Upsert/remove the per-cluster check schedulers at start (default true). */
  syncSchedules?: boolean;
  /** Which queues to work (default both). */
  queues?: readonly QueueName[];
  logger?: Logger;
}

export interface RunningWorkers {
  workers: Worker<JobData, JobResult>[];
  /** What the scheduler sync did (null when not asked). */
  schedules: ScheduleSync | null;
  /** The state connection (incidents, last check results). */
  redis: Redis;
  incidents: IncidentTracker;
  close(): Promise<void>;
}

export async function startWorkers(opts: StartWorkersOptions): Promise<RunningWorkers> {
  const { inventory } = opts;
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? createLogger('worker');
  const prefix = inventory.redis.prefix;
  const workerId = `worker:${hostname()}-${process.pid}`;

  let slack = opts.slack;
  const redis = await connectRedis(inventory.redis, {
    flavour: 'worker',
    env,
    connectionName: `fabric-opsbot:${workerId}`,
  });
  try {
    if (!slack) {
      const token = readSecrets(inventory, env).slackBotToken;
      if (!token) {
        throw new ConfigError(
          `workers post to Slack: set ${inventory.slack?.botTokenEnv ?? 'SLACK_BOT_TOKEN'} (the bot token) in the environment`,
        );
      }
      slack = createSlackPoster({
        token,
        ...(inventory.slack?.apiUrl !== undefined ? { apiUrl: inventory.slack.apiUrl } : {}),
        pacing: { redis, prefix },
        logger,
      });
    }
    const poster = slack;
    const incidents = createIncidentTracker({
      redis,
      prefix,
      slack: poster,
      channelFor: (cluster) => incidentChannelFor(inventory, cluster),
      logger,
    });
    const ops: Operations = { ...defaultOperations(redis, inventory), ...opts.ops };
    const processor = createProcessor({
      inventory,
      env,
      slack: poster,
      ops,
      approvals: opts.approvals ?? approvalsNotWired,
      incidents,
      redis,
      prefix,
      ...(opts.timeoutsMs ? { timeoutsMs: opts.timeoutsMs } : {}),
      logger,
      workerId,
    });

    let schedules: ScheduleSync | null = null;
    if (opts.syncSchedules ?? true) {
      const checks = new Queue<JobData>(QUEUES.checks, { connection: redis, prefix });
      checks.on('error', () => undefined);
      try {
        schedules = await syncSchedules(checks, inventory);
        logger.info(schedules, 'check schedulers synced');
      } finally {
        await checks.close();
      }
    }

    const queues = opts.queues ?? [QUEUES.commands, QUEUES.checks];
    const connections: Redis[] = [];
    const workers = queues.map((name) => {
      // BullMQ duplicates this one for its blocking connection; both are closed below.
      const connection = createRedis(inventory.redis, {
        flavour: 'worker',
        env,
        connectionName: `fabric-opsbot:${workerId}:${name}`,
      });
      connections.push(connection);
      const w = new Worker<JobData, JobResult>(name, processor, {
        connection,
        prefix,
        concurrency: name === QUEUES.checks ? (opts.checksConcurrency ?? 2) : (opts.concurrency ?? 4),
      });
      w.on('error', (err) => logger.warn({ queue: name, err: describeError(err) }, 'worker error'));
      return w;
    });
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    logger.info({ queues, workerId }, 'workers ready');

    return {
      workers,
      schedules,
      redis,
      incidents,
      async close() {
        await Promise.all(workers.map((w) => w.close()));
        await Promise.all([...connections, redis].map((c) => closeRedis(c)));
      },
    };
  } catch (err) {
    await closeRedis(redis);
    throw err;
  }
}

export { createProcessor, DEFAULT_TIMEOUTS_MS, incidentChannelFor } from './processor.js';
export { defaultOperations, PlanNotAvailableError, type Operations } from './ops.js';
