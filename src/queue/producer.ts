/**
 * Producers: the bot puts jobs on the queues. Adding never waits on a Redis that is not there: an enqueue fails
 * at once (Redis not connected) or after `timeoutMs` (Redis stalls), with a RedisUnavailableError naming the
 * address, which the bot shows to the user as it is.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { addressOf, asRedisError, RedisUnavailableError } from '../redis.js';
import { isValidJobId } from './ids.js';
import { jobOptions, QUEUES, queueFor, type JobData, type QueueName } from './jobs.js';

export interface EnqueueResult {
  jobId: string;
  queue: QueueName;
  /** The job already existed (a request Slack sent again): nothing new was queued. */
  duplicate: boolean;
}

export interface Producer {
  enqueue(data: JobData, jobId: string): Promise<EnqueueResult>;
  /** The queues, for schedulers and tests. */
  readonly queues: Readonly<Record<QueueName, Queue<JobData>>>;
  close(): Promise<void>;
}

export interface ProducerOptions {
  /**
   * A fail-fast connection: createRedis(inventory.redis, { flavour: 'request' }) from src/redis.ts, connecting
   * in the background. Not closed by close() unless `ownsConnection`.
   */
  connection: Redis;
  /** inventory.redis.prefix */
  prefix: string;
  /** Upper bound for one enqueue (Slack wants an answer within 3 s). Default 1500 ms. */
  timeoutMs?: number;
  ownsConnection?: boolean;
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export function createProducer(opts: ProducerOptions): Producer {
  const timeoutMs = opts.timeoutMs ?? 1500;
  const address = () => addressOf(opts.connection);
  const make = (name: QueueName): Queue<JobData> => {
    const q = new Queue<JobData>(name, { connection: opts.connection, prefix: opts.prefix });
    q.on('error', () => undefined); // connection errors surface on enqueue
    return q;
  };
  const queues = Object.fromEntries(Object.values(QUEUES).map((name) => [name, make(name)])) as Record<
    QueueName,
    Queue<JobData>
  >;

  return {
    queues,
    async enqueue(data, jobId) {
      if (!isValidJobId(jobId)) throw new Error(`invalid job id "${jobId}" (no ':' and not an integer)`);
      const status = opts.connection.status;
      if (status !== 'ready') {
        // Not connected (down, reconnecting, or never reached): say so now rather than wait.
        throw asRedisError(opts.connection, new Error(`Connection is closed (${status}).`));
      }
      const name = queueFor(data.kind);
      const queue = queues[name];
      const run = async (): Promise<EnqueueResult> => {
        // BullMQ ignores an add whose id exists (atomically); the lookup only tells the user it was a repeat.
        const existing = await queue.getJob(jobId);
        if (existing) return { jobId, queue: name, duplicate: true };
        await queue.add(data.kind, data, { ...jobOptions(data.kind), jobId });
        return { jobId, queue: name, duplicate: false };
      };
      try {
        return await withTimeout(
          run(),
          timeoutMs,
          () => new RedisUnavailableError(address(), `no answer within ${timeoutMs} ms`),
        );
      } catch (err) {
        throw asRedisError(opts.connection, err);
      }
    },
    async close() {
      await Promise.all(Object.values(queues).map((q) => q.close().catch(() => undefined)));
      if (opts.ownsConnection) opts.connection.disconnect();
    },
  };
}
