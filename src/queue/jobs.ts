/**
 * The jobs the Slack bot queues and the workers run: queue names, job names, the data each job carries and the
 * options it is queued with. Everything in job data is plain JSON (BullMQ stores it with JSON.stringify).
 */
import type { JobSchedulerTemplateOptions } from 'bullmq';
import type { Role } from '../config/index.js';

/** Queue names (keys in Redis: `<redis.prefix>:<queue>:...`). Interactive commands never wait behind checks. */
export const QUEUES = {
  /** What people asked for in Slack (commands and buttons). */
  commands: 'commands',
  /** Scheduled checks, one job scheduler per cluster. */
  checks: 'checks',
  /** Approved repairs and the notices of their requests (approved, denied, expired) in the plan's thread. */
  repairs: 'repairs',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Who asked, and where to answer. Absent for scheduled checks. */
export interface Requester {
  teamId: string;
  userId: string;
  userName?: string;
  /** The Slack channel the command was typed in (or the button pressed in): results are posted there. */
  channelId: string;
  /** For ephemeral answers and errors (valid 30 minutes, 5 uses). */
  responseUrl?: string;
  /** The role the bot resolved when the request came in (re-checked by the worker against its inventory). */
  role: Role;
  /** The command as typed, for the messages ("`/fabric status pubchain`"). */
  text?: string;
}

interface JobBase {
  cluster: string;
  requestedAt: string;
  requester?: Requester;
}

export interface StatusJob extends JobBase {
  kind: 'status';
  channel: string;
}
export interface DiagnoseJob extends JobBase {
  kind: 'diagnose';
}
export interface BrokersJob extends JobBase {
  kind: 'brokers';
}
export interface WhatIfStopBrokerJob extends JobBase {
  kind: 'whatif-stop-broker';
  brokerId: number;
}
export interface AuditJob extends JobBase {
  kind: 'audit';
  n: number;
}
export interface RepairPlanJob extends JobBase {
  kind: 'repair-plan';
  repair: { kind: string; args: Record<string, string | number> };
}
export interface ScheduledCheckJob extends JobBase {
  kind: 'scheduled-check';
}
/**
 * Run an approved repair request (src/approvals). Queued once, by the approval store's `enqueue` callback of the
 * call that completed the approval, with the job id `repairJobId(requestId)`: a second add (a retried enqueue,
 * the stranded-enqueue sweep) is ignored by BullMQ, and the executor refuses to run a request twice anyway.
 */
export interface RepairExecuteJob extends JobBase {
  kind: 'repair-execute';
  requestId: string;
}
/** What happened to a request, for its plan's thread in Slack. */
export type RepairEvent = 'recorded' | 'approved' | 'denied' | 'expired';
/** Tell the plan's thread about a decision (and take the buttons off the plan once decided). */
export interface RepairNoticeJob extends JobBase {
  kind: 'repair-notice';
  requestId: string;
  event: RepairEvent;
  /** Who decided (Slack user id or CLI user); absent for expiries. */
  who?: string;
  /** Where: "slack:C0123", "cli". */
  where?: string;
  /** The store's one line (e.g. "approval 1 of 2 recorded"). */
  message?: string;
}

export type JobData =
  | StatusJob
  | DiagnoseJob
  | BrokersJob
  | WhatIfStopBrokerJob
  | AuditJob
  | RepairPlanJob
  | ScheduledCheckJob
  | RepairExecuteJob
  | RepairNoticeJob;
export type JobKind = JobData['kind'];

export const JOB_KINDS: readonly JobKind[] = [
  'status',
  'diagnose',
  'brokers',
  'whatif-stop-broker',
  'audit',
  'repair-plan',
  'scheduled-check',
  'repair-execute',
  'repair-notice',
];

/** What a job returns (kept in Redis with the finished job: small). */
export interface JobResult {
  kind: JobKind;
  cluster: string;
  /** Where the answer went: a channel message, the response_url, or nowhere (scheduled check without changes). */
  posted: { channel: string; ts: string } | { responseUrl: true } | null;
  exitCode?: number;
  findings?: { critical: number; warning: number; info: number };
  /** One line when the job could not do what was asked (e.g. "plan kind not available"), or a repair's end. */
  note?: string;
  /** The repair request the job proposed, ran or told about. */
  requestId?: string;
}

/** The queue a job kind goes to. */
export function queueFor(kind: JobKind): QueueName {
  if (kind === 'scheduled-check') return QUEUES.checks;
  if (kind === 'repair-execute' || kind === 'repair-notice') return QUEUES.repairs;
  return QUEUES.commands;
}

const DAY_SECONDS = 86_400;

/**
 * Queue options by kind. Finished jobs are kept a day so that a request Slack resends (same job id) is still
 * recognised as a duplicate; everything a command job does is read-only, so retrying a retryable failure is safe.
 */
export function jobOptions(kind: JobKind): JobSchedulerTemplateOptions {
  if (kind === 'scheduled-check') {
    // The next run comes anyway: no retries.
    return { attempts: 1, removeOnComplete: { count: 200 }, removeOnFail: { count: 200 } };
  }
  if (kind === 'repair-execute') {
    // Kept as long as the request (30 days), so that the same request id is never queued as a new job. Retries
    // are for errors around the repair (Redis, Slack); the executor resumes where the last attempt stopped and
    // never repeats a step that is not idempotent. A worker that goes away moves the job back (not an attempt).
    return {
      attempts: 5,
      backoff: { type: 'exponential', delay: 5000 },
      removeOnComplete: { age: 30 * DAY_SECONDS, count: 100_000 },
      removeOnFail: { age: 30 * DAY_SECONDS, count: 100_000 },
    };
  }
  return {
    attempts: 3,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: { age: DAY_SECONDS, count: 10_000 },
    removeOnFail: { age: 7 * DAY_SECONDS, count: 10_000 },
  };
}

/** A one-line description of what a job does, for acks and messages ("status of pubchain on lab"). */
export function describeJob(data: JobData): string {
  switch (data.kind) {
    case 'status':
      return `status of channel ${data.channel} on ${data.cluster}`;
    case 'diagnose':
      return `full diagnosis of ${data.cluster}`;
    case 'brokers':
      return `brokers of ${data.cluster}`;
    case 'whatif-stop-broker':
      return `what stopping broker ${data.brokerId} would do on ${data.cluster}`;
    case 'audit':
      return `the last ${data.n} audit entries`;
    case 'repair-plan': {
      const args = Object.entries(data.repair.args)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      return `a ${data.repair.kind} repair plan${args ? ` (${args})` : ''} for ${data.cluster}`;
    }
    case 'scheduled-check':
      return `scheduled check of ${data.cluster}`;
    case 'repair-execute':
      return `repair request ${data.requestId} on ${data.cluster}`;
    case 'repair-notice':
      return `notice (${data.event}) of repair request ${data.requestId}`;
  }
}
