/**
 * `startWorkers()`: BullMQ workers for the command, check and repair queues, in any number of processes on any
 * machines that share the Redis. Each process also syncs the per-cluster check schedulers with its inventory
 * (idempotent), unless told not to.
 *
 * Repairs (with an approval store): a `repair-execute` job (id `repair-<request id>`, queued by the store when
 * a request is approved) runs the request with a RepairExecutor per cluster (the cluster's step handlers):
 * re-plan and compare, steps, verification; the result goes in the plan's thread. `repair-notice` jobs tell the
 * thread about decisions. Every process sweeps now and then: due requests expire (told in their thread) and
 * approvals whose enqueue was lost are queued again; both are atomic, so any number of processes may sweep.
 */
import { hostname } from 'node:os';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { Approvals as ApprovalStore, RepairRequest } from '../src/approvals/index.js';
import { auditLogFor, type AuditLog } from '../src/audit/index.js';
import { readSecrets, type Inventory } from '../src/config/index.js';
import { ConfigError, describeError } from '../src/errors/index.js';
import { createLogger, type Logger } from '../src/log.js';
import {
  createProducer,
  noticeEnqueuer,
  QUEUES,
  repairEnqueuer,
  syncSchedules,
  type JobData,
  type JobKind,
  type JobResult,
  type QueueName,
  type ScheduleSync,
} from '../src/queue/index.js';
import { closeRedis, connectRedis, createRedis } from '../src/redis.js';
import { executorFactory } from '../src/ops/repair-run.js';
import type { StepHandlers } from '../src/repairs/steps.js';
import { approvalsNotWired, slackApprovals, type Approvals } from '../src/slack/approvals.js';
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
  /**
   * The approval store (src/approvals), or how to make one with this process's Redis, audit log and repair queue
   * (commands/worker.ts: `(d) => repairApprovals(inventory, d.redis, d.audit, d.enqueue)`). Without it, plans get
   * a request id that cannot be approved, and repair jobs fail saying so.
   */
  approvalStore?: ApprovalStore | ((d: ApprovalStoreDeps) => ApprovalStore);
  /** What the repair-plan job proposes with (default: slackApprovals(approvalStore) when there is a store). */
  approvals?: Approvals;
  /** Step handlers by cluster (default: defaultStepHandlers of the inventory's cluster, made on first use). */
  stepHandlers?: (cluster: string) => StepHandlers | Promise<StepHandlers>;
  /** The executor's lock on a running request (default 30 s); a dead worker's repair resumes after it. */
  repairLockTtlMs?: number;
  /** Expire due requests / re-queue stranded approvals every so often (default 15 s; 0 = never). */
  repairSweepMs?: number;
  /** On close, how long running repairs may go on before they are stopped between two writes (default 10 s). */
  repairGraceMs?: number;
  /** BullMQ lock of a repair job and the stalled-job check (defaults 30 s each): how soon a killed worker's job is taken over. */
  repairJobLockMs?: number;
  repairStalledIntervalMs?: number;
  /**
   * BullMQ lock of a command or check job and the stalled-job check (defaults 30 s each): a job whose worker
   * died (or whose lock lapsed while Redis was away) is run again after about this long.
   */
  jobLockMs?: number;
  stalledIntervalMs?: number;
  /** Parallel repairs per process (default 2). */
  repairsConcurrency?: number;
  /** This process in audit entries and step records (default <host>-<pid>). */
  workerName?: string;
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

export interface ApprovalStoreDeps {
  redis: Redis;
  audit: AuditLog;
  /** Queue a request's execution (job id repair-<request id>). */
  enqueue: (request: RepairRequest) => Promise<void>;
}

export interface RunningWorkers {
  workers: Worker<JobData, JobResult>[];
  /** What the scheduler sync did (null when not asked). */
  schedules: ScheduleSync | null;
  /** The state connection (incidents, last check results). */
  redis: Redis;
  incidents: IncidentTracker;
  /** The approval store, when repairs are wired. */
  store: ApprovalStore | null;
  /** Expire due requests and re-queue stranded approvals now (what the periodic sweep does). */
  sweep(): Promise<{ expired: string[]; requeued: string[] }>;
  close(): Promise<void>;
}

/** Errors that mean "no connection to Redis" (as opposed to a job or script failing). */
const REDIS_AWAY =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|Connection is closed|cannot reach Redis/;

export async function startWorkers(opts: StartWorkersOptions): Promise<RunningWorkers> {
  const { inventory } = opts;
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? createLogger('worker');
  const prefix = inventory.redis.prefix;
  const workerId = `worker:${hostname()}-${process.pid}`;
  const workerName = opts.workerName ?? `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;

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
    // One audit log per process: it keeps the chain head between appends.
    const auditLog = auditLogFor(redis, inventory);
    const ops: Operations = { ...defaultOperations(redis, inventory, auditLog), ...opts.ops };
    // Repairs: this process queues executions (sweeps) and notices with its own connection.
    const producer = createProducer({ connection: redis, prefix, timeoutMs: 5000 });
    const store =
      typeof opts.approvalStore === 'function'
        ? opts.approvalStore({ redis, audit: auditLog, enqueue: repairEnqueuer(producer) })
        : (opts.approvalStore ?? null);
    const notice = noticeEnqueuer(producer);
    const approvals =
      opts.approvals ?? (store ? slackApprovals(store, { notify: notice, logger }) : approvalsNotWired);
    const lockTtlMs = opts.repairLockTtlMs ?? 30_000;
    const executorFor = executorFactory({
      redis,
      inventory,
      audit: auditLog,
      env,
      workerId: workerName,
      ...(opts.stepHandlers ? { handlers: opts.stepHandlers } : {}),
      lockTtlMs,
      log: logger,
    });
    const processor = createProcessor({
      inventory,
      env,
      slack: poster,
      ops,
      approvals,
      incidents,
      redis,
      prefix,
      ...(opts.timeoutsMs ? { timeoutsMs: opts.timeoutsMs } : {}),
      logger,
      workerId,
      ...(store ? { repairs: { store, executorFor, retryDelayMs: lockTtlMs + 1000 } } : {}),
    });

    const sweep = async (): Promise<{ expired: string[]; requeued: string[] }> => {
      if (!store) return { expired: [], requeued: [] };
      const expired = await store.expireDue();
      for (const id of expired) {
        const request = await store.get(id);
        if (request) {
          await notice({ request, event: 'expired' }).catch((err: unknown) =>
            logger.warn({ err: describeError(err), id }, 'expiry notice not queued'),
          );
        }
      }
      const requeued = await store.enqueueStranded();
      if (expired.length || requeued.length) logger.info({ expired, requeued }, 'repair requests swept');
      return { expired, requeued };
    };

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

    const queues = opts.queues ?? [QUEUES.commands, QUEUES.checks, QUEUES.repairs];
    const connections: Redis[] = [];
    const workers = queues.map((name) => {
      // BullMQ duplicates this one for its blocking connection; both are closed below.
      const connection = createRedis(inventory.redis, {
        flavour: 'worker',
        env,
        connectionName: `fabric-opsbot:${workerId}:${name}`,
      });
      connections.push(connection);
      const repairs = name === QUEUES.repairs;
      const w = new Worker<JobData, JobResult>(name, processor, {
        connection,
        prefix,
        concurrency:
          name === QUEUES.checks
            ? (opts.checksConcurrency ?? 2)
            : repairs
              ? (opts.repairsConcurrency ?? 2)
              : (opts.concurrency ?? 4),
        ...(repairs
          ? {
              // A killed worker's repair is taken over by another after the job lock lapses; the executor
              // then resumes it without repeating a step. A few stalls are allowed (each is a resume).
              maxStalledCount: 5,
              ...(opts.repairJobLockMs !== undefined ? { lockDuration: opts.repairJobLockMs } : {}),
              ...(opts.repairStalledIntervalMs !== undefined
                ? { stalledInterval: opts.repairStalledIntervalMs }
                : {}),
            }
          : {
              ...(opts.jobLockMs !== undefined ? { lockDuration: opts.jobLockMs } : {}),
              ...(opts.stalledIntervalMs !== undefined ? { stalledInterval: opts.stalledIntervalMs } : {}),
            }),
      });
      // While Redis is away every reconnect attempt is an error: say it once, and once when it is back.
      let away = false;
      w.on('error', (err) => {
        const why = describeError(err);
        const connectionLost = REDIS_AWAY.test(why);
        if (away && connectionLost) {
          logger.debug({ queue: name, err: why }, 'worker error');
          return;
        }
        away = connectionLost;
        logger.warn(
          { queue: name, err: why },
          connectionLost ? 'Redis unreachable; reconnecting' : 'worker error',
        );
      });
      connection.on('ready', () => {
        if (away) logger.info({ queue: name }, 'Redis reachable again');
        away = false;
      });
      return w;
    });
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    logger.info({ queues, workerId: workerName }, 'workers ready');

    const sweepMs = opts.repairSweepMs ?? 15_000;
    let sweeping: Promise<unknown> = Promise.resolve();
    const sweepTimer =
      store && sweepMs > 0
        ? setInterval(() => {
            sweeping = sweep().catch((err: unknown) =>
              logger.warn({ err: describeError(err) }, 'repair sweep failed'),
            );
          }, sweepMs)
        : undefined;
    sweepTimer?.unref();

    return {
      workers,
      schedules,
      redis,
      incidents,
      store,
      sweep,
      async close() {
        clearInterval(sweepTimer);
        await sweeping;
        const grace = opts.repairGraceMs ?? 10_000;
        await Promise.all(
          workers.map(async (w) => {
            if (w.name !== QUEUES.repairs) return w.close();
            // Running repairs get a little time to finish, then stop (the executor writes nothing more; the
            // job goes back to the queue and a worker resumes it once the executor's lock lapses).
            const closing = w.close();
            let timer: NodeJS.Timeout | undefined;
            const stop = new Promise<void>((resolve) => {
              timer = setTimeout(() => {
                w.cancelAllJobs('the worker is going away');
                resolve();
              }, grace);
            });
            await Promise.race([closing, stop]);
            clearTimeout(timer);
            await closing;
          }),
        );
        await producer.close();
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
