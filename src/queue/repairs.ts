/**
 * Queueing for the repair flow: the execution of an approved request (`repair-execute`, job id
 * `repair-<request id>`: one job per request however often it is enqueued) and the notices of decisions
 * (`repair-notice`, one job per request and event). Plain functions over anything with `enqueue` (the bot's
 * producer, the CLI's, a worker's).
 */
import type { RepairRequest } from '../approvals/index.js';
import { noticeJobId, repairJobId } from './ids.js';
import type { RepairEvent, RepairExecuteJob, RepairNoticeJob } from './jobs.js';
import type { Producer } from './producer.js';

export function repairExecuteJob(request: Pick<RepairRequest, 'id' | 'cluster'>): RepairExecuteJob {
  return {
    kind: 'repair-execute',
    cluster: request.cluster,
    requestedAt: new Date().toISOString(),
    requestId: request.id,
  };
}

/** The approval store's `enqueue`: called once per approved request (and again, harmlessly, by a sweep). */
export function repairEnqueuer(
  producer: Pick<Producer, 'enqueue'>,
): (request: Pick<RepairRequest, 'id' | 'cluster'>) => Promise<void> {
  return async (request) => {
    await producer.enqueue(repairExecuteJob(request), repairJobId(request.id));
  };
}

export interface NoticeInput {
  request: Pick<RepairRequest, 'id' | 'cluster' | 'approvers'>;
  event: RepairEvent;
  who?: string;
  where?: string;
  message?: string;
}

export function repairNoticeJob(n: NoticeInput): { data: RepairNoticeJob; jobId: string } {
  return {
    data: {
      kind: 'repair-notice',
      cluster: n.request.cluster,
      requestedAt: new Date().toISOString(),
      requestId: n.request.id,
      event: n.event,
      ...(n.who !== undefined ? { who: n.who } : {}),
      ...(n.where !== undefined ? { where: n.where } : {}),
      ...(n.message !== undefined ? { message: n.message } : {}),
    },
    jobId: noticeJobId(
      n.request.id,
      n.event,
      n.event === 'recorded' ? n.request.approvers.length : undefined,
    ),
  };
}

/** Queue a notice for the plan's thread. */
export function noticeEnqueuer(producer: Pick<Producer, 'enqueue'>): (n: NoticeInput) => Promise<void> {
  return async (n) => {
    const { data, jobId } = repairNoticeJob(n);
    await producer.enqueue(data, jobId);
  };
}
