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

export type JobData =
  StatusJob | DiagnoseJob | BrokersJob | WhatIfStopBrokerJob | AuditJob | RepairPlanJob | ScheduledCheckJob;
export type JobKind = JobData['kind'];

export const JOB_KINDS: readonly JobKind[] = [
  'status',
  'diagnose',
  'brokers',
  'whatif-stop-broker',
  'audit',
  'repair-plan',
  'scheduled-check',
];

/** What a job returns (kept in Redis with the finished job: small). */
export interface JobResult {
  kind: JobKind;
  cluster: string;
  /** Where the answer went: a channel message, the response_url, or nowhere (scheduled check without changes). */
  posted: { channel: string; ts: string } | { responseUrl: true } | null;
  exitCode?: number;
  findings?: { critical: number; warning: number; info: number };
  /** One line when the job could not do what was asked (e.g. "plan kind not available"). */
  note?: string;
}

/** The queue a job kind goes to. */
export function queueFor(kind: JobKind): QueueName {
  return kind === 'scheduled-check' ? QUEUES.checks : QUEUES.commands;
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
  }
}
