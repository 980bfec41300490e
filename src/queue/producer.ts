/**
 * Producers: the bot puts jobs on the queues. Adding never waits on a Redis that is not there: an enqueue fails
 * at once (Redis not connected) or after `timeoutMs` (Redis stalls), with a QueueUnavailableError whose message
 * can be shown to the user as it is.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { SourceError } from '../errors/index.js';
import { isValidJobId } from './ids.js';
import { jobOptions, QUEUES, queueFor, type JobData, type QueueName } from './jobs.js';

export class QueueUnavailableError extends SourceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('redis', message, options);
  }
}

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
  /** A fail-fast connection (connectRedis(target, 'producer')). Not closed by close() unless `ownsConnection`. */
  connection: Redis;
  prefix: string;
  /** Shown in errors, without credentials. */
  redisUrl?: string;
  /** Upper bound for one enqueue (Slack wants an answer within 3 s). Default 1500 ms. */
  timeoutMs?: number;
  ownsConnection?: boolean;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueueUnavailableError(message)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export function createProducer(opts: ProducerOptions): Producer {
  const timeoutMs = opts.timeoutMs ?? 1500;
  const where = opts.redisUrl ? ` at ${opts.redisUrl}` : '';
  const make = (name: QueueName): Queue<JobData> => {
    const q = new Queue<JobData>(name, { connection: opts.connection, prefix: opts.prefix });
    q.on('error', () => undefined); // connection errors surface on enqueue
    return q;
  };
  const queues: Record<QueueName, Queue<JobData>> = {
    [QUEUES.commands]: make(QUEUES.commands),
    [QUEUES.checks]: make(QUEUES.checks),
  };

  return {
    queues,
    async enqueue(data, jobId) {
      if (!isValidJobId(jobId)) throw new Error(`invalid job id "${jobId}" (no ':' and not an integer)`);
      const status = opts.connection.status;
      if (status !== 'ready') {
        throw new QueueUnavailableError(
          `the job queue (Redis${where}) is unreachable (${status}): nothing was queued`,
        );
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
          `the job queue (Redis${where}) did not answer within ${timeoutMs} ms: the request may not have been queued`,
        );
      } catch (err) {
        if (err instanceof QueueUnavailableError) throw err;
        throw new QueueUnavailableError(
          `the job queue (Redis${where}) failed: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
    },
    async close() {
      await Promise.all(Object.values(queues).map((q) => q.close().catch(() => undefined)));
      if (opts.ownsConnection) opts.connection.disconnect();
    },
  };
}
