/**
 * Producers: the bot puts jobs on the queues. Adding never waits on a Redis that is not there: an enqueue fails
 * at once (Redis not connected) with a RedisUnavailableError naming the address, which the bot shows to the
 * user as it is.
 *
 * A Redis that is connected but does not answer (stopped, a stalled disk) is different: after `timeoutMs` the
 * enqueue gives up waiting, but the add was sent and Redis will run it when it wakes up. So "nothing was
 * queued" would be a lie: the error is an EnqueueUnconfirmedError, whose `outcome` settles once Redis answers
 * (or `confirmWithinMs` passes) with what really happened, for the bot to tell the user.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { addressOf, asRedisError, notConnectedError, RedisUnavailableError } from '../redis.js';
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
  /** After a timed-out enqueue, how long to keep asking Redis whether the job is there. Default 60 s. */
  confirmWithinMs?: number;
  ownsConnection?: boolean;
}

/**
 * Redis did not answer an enqueue in time; the add may still run when it does. `outcome`: true (the job is
 * queued), false (it is not), null (Redis still did not answer within `confirmWithinMs`). Never rejects.
 */
export class EnqueueUnconfirmedError extends RedisUnavailableError {
  constructor(
    address: string,
    readonly jobId: string,
    readonly timeoutMs: number,
    readonly outcome: Promise<boolean | null>,
  ) {
    super(address, `no answer within ${timeoutMs} ms`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

  /** What became of an add that timed out: its own answer, else ask Redis (once it answers) for the job. */
  async function confirm(
    pending: Promise<EnqueueResult>,
    queue: Queue<JobData>,
    jobId: string,
  ): Promise<boolean | null> {
    try {
      await pending;
      return true;
    } catch {
      // The add failed on our side (its command timed out, the connection dropped): it may still have reached
      // Redis, which runs commands in order: a lookup it answers comes after the add.
    }
    const deadline = Date.now() + (opts.confirmWithinMs ?? 60_000);
    while (Date.now() < deadline) {
      if (opts.connection.status === 'ready') {
        try {
          return (await queue.getJob(jobId)) !== undefined;
        } catch {
          // not yet
        }
      }
      await sleep(250);
    }
    return null;
  }

  return {
    queues,
    async enqueue(data, jobId) {
      if (!isValidJobId(jobId)) throw new Error(`invalid job id "${jobId}" (no ':' and not an integer)`);
      const status = opts.connection.status;
      if (status !== 'ready') {
        // Not connected (down, reconnecting, or never reached): say so now rather than wait.
        throw notConnectedError(opts.connection);
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
      const pending = run();
      const timedOut = new Error('timed out');
      try {
        return await withTimeout(pending, timeoutMs, () => timedOut);
      } catch (err) {
        if (err !== timedOut) throw asRedisError(opts.connection, err);
        throw new EnqueueUnconfirmedError(address(), jobId, timeoutMs, confirm(pending, queue, jobId));
      }
    },
    async close() {
      await Promise.all(Object.values(queues).map((q) => q.close().catch(() => undefined)));
      if (opts.ownsConnection) opts.connection.disconnect();
    },
  };
}
