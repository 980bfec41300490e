/**
 * The job processor: one function for every job kind. Each job runs its operation under a timeout (an
 * AbortController fed by a timer and by BullMQ's own cancellation signal), posts the answer in the channel it
 * was asked in (chat.postMessage; the response_url when the bot cannot post there), and feeds full reports to
 * the incident tracker.
 *
 * Failures: a retryable OpsError (a source or Slack briefly away) is thrown as is while attempts remain, so
 * BullMQ retries it (every command job is read-only, so a retry is safe). Anything else, a timeout, or the last
 * attempt: the user is told (ephemeral, through the response_url) and the job fails with UnrecoverableError.
 */
import { hostname } from 'node:os';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { selectCluster, type Inventory } from '../src/config/index.js';
import { describeError, isRetryable, OpsError } from '../src/errors/index.js';
import type { Logger } from '../src/log.js';
import type { Report } from '../src/model/index.js';
import {
  describeJob,
  type JobData,
  type JobKind,
  type JobResult,
  type Requester,
} from '../src/queue/index.js';
import type { Approvals, ProposeResult } from '../src/slack/approvals.js';
import {
  auditBlocks,
  changesBlocks,
  checkBlockLimits,
  countBySeverity,
  planBlocks,
  reportBlocks,
  whatIfBlocks,
  type SlackMessage,
} from '../src/slack/blocks.js';
import type { IncidentTracker } from '../src/slack/incidents.js';
import { SlackRefusedError, type SlackPoster } from '../src/slack/poster.js';
import { allows, refusal, roleOf } from '../src/slack/roles.js';
import { PlanNotAvailableError, type Operations } from './ops.js';
import { compareWithLast, nonIncidentChanges } from './scheduled.js';

export const DEFAULT_TIMEOUTS_MS: Readonly<Record<JobKind, number>> = {
  status: 60_000,
  diagnose: 120_000,
  brokers: 60_000,
  'whatif-stop-broker': 120_000,
  audit: 15_000,
  'repair-plan': 120_000,
  'scheduled-check': 240_000,
};

export class JobTimeoutError extends OpsError {
  readonly retryable = false;
}

export class JobCancelledError extends OpsError {
  readonly retryable = false;
}

export interface ProcessorDeps {
  inventory: Inventory;
  env: NodeJS.ProcessEnv;
  slack: SlackPoster;
  ops: Operations;
  approvals: Approvals;
  incidents: IncidentTracker;
  /** Worker-flavour connection for per-cluster state (last check results). */
  redis: Redis;
  prefix: string;
  timeoutsMs?: Partial<Record<JobKind, number>>;
  logger: Logger;
  /** Shown in audit entries: "worker:<host>-<pid>". */
  workerId?: string;
}

export type JobProcessor = (
  job: Job<JobData, JobResult>,
  token: string | undefined,
  signal: AbortSignal | undefined,
) => Promise<JobResult>;

/** The incident channel of a cluster: its own, else the inventory's. */
export function incidentChannelFor(inventory: Inventory, cluster: string): string | undefined {
  return inventory.clusters[cluster]?.slack?.incidentChannel ?? inventory.slack?.incidentChannel;
}

/** Reject with the signal's reason as soon as it aborts. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Slack errors after which the answer goes through the response_url instead (the bot is not in the channel). */
const USE_RESPONSE_URL = new Set(['channel_not_found', 'not_in_channel', 'restricted_action', 'is_archived']);

export function createProcessor(deps: ProcessorDeps): JobProcessor {
  const { inventory, slack, ops, logger } = deps;
  const workerId = deps.workerId ?? `worker:${hostname()}-${process.pid}`;
  const timeoutOf = (kind: JobKind) => deps.timeoutsMs?.[kind] ?? DEFAULT_TIMEOUTS_MS[kind];

  function guard(msg: SlackMessage): SlackMessage {
    const problems = checkBlockLimits(msg.blocks);
    if (problems.length === 0) return msg;
    logger.error({ problems }, 'message breaks Slack limits; sending text only');
    return {
      text: `${msg.text} (too large to show here: use fabric-opsbot on the command line)`,
      blocks: [],
    };
  }

  async function deliver(r: Requester, message: SlackMessage): Promise<JobResult['posted']> {
    const msg = guard(message);
    const blocks = msg.blocks.length ? { blocks: msg.blocks } : {};
    try {
      const p = await slack.post({ channel: r.channelId, text: msg.text, ...blocks });
      return { channel: p.channel, ts: p.ts };
    } catch (err) {
      if (err instanceof SlackRefusedError && USE_RESPONSE_URL.has(err.slackError) && r.responseUrl) {
        await slack.respond(r.responseUrl, { response_type: 'in_channel', text: msg.text, ...blocks });
        return { responseUrl: true };
      }
      throw err;
    }
  }

  async function tell(r: Requester, text: string): Promise<JobResult['posted']> {
    if (r.responseUrl) {
      try {
        await slack.respond(r.responseUrl, { response_type: 'ephemeral', text });
        return { responseUrl: true };
      } catch (err) {
        logger.warn({ err: describeError(err) }, 'response_url failed; posting in the channel');
      }
    }
    const p = await slack.post({ channel: r.channelId, text: `<@${r.userId}> ${text}` });
    return { channel: p.channel, ts: p.ts };
  }

  async function reconcile(report: Report): Promise<void> {
    try {
      await deps.incidents.reconcile(report);
    } catch (err) {
      logger.warn({ err: describeError(err), cluster: report.cluster }, 'incident reconcile failed');
    }
  }

  async function audit(
    job: Job<JobData, JobResult>,
    outcome: string,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    const r = job.data.requester;
    if (!r || !ops.audit) return;
    try {
      await ops.audit({
        who: r.userId,
        what: job.data.kind === 'repair-plan' ? 'plan' : 'command',
        cluster: job.data.cluster,
        where: `slack:${r.channelId}`,
        jobId: job.id ?? '',
        outcome,
        details: { text: r.text ?? describeJob(job.data), worker: workerId, ...details },
      });
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'audit append failed');
    }
  }

  const footerOf = (job: Job<JobData, JobResult>) => {
    const r = job.data.requester;
    return `${r ? `asked by <@${r.userId}> · ` : ''}job \`${job.id ?? '?'}\``;
  };

  async function run(job: Job<JobData, JobResult>, signal: AbortSignal): Promise<JobResult> {
    const data = job.data;
    const cluster = selectCluster(inventory, data.cluster);
    const ctx = { inventory, cluster, env: deps.env, signal };
    const base = { kind: data.kind, cluster: cluster.name };
    const r = data.requester;
    switch (data.kind) {
      case 'status':
      case 'diagnose':
      case 'brokers': {
        const res = await abortable(
          ops.diagnose({ ...ctx, ...(data.kind === 'status' ? { channel: data.channel } : {}) }),
          signal,
        );
        const msg = reportBlocks(res.report, {
          view: data.kind === 'brokers' ? 'brokers' : 'full',
          footer: footerOf(job),
        });
        const posted = r ? await deliver(r, msg) : null;
        await reconcile(res.report);
        return { ...base, posted, exitCode: res.exitCode, findings: countBySeverity(res.report.findings) };
      }
      case 'whatif-stop-broker': {
        const res = await abortable(ops.whatIfStopBroker({ ...ctx, brokerId: data.brokerId }), signal);
        const posted = r
          ? await deliver(r, whatIfBlocks(res.whatif, res.exitCode, { footer: footerOf(job) }))
          : null;
        return { ...base, posted, exitCode: res.exitCode };
      }
      case 'audit': {
        const lines = await abortable(ops.auditTail(data.n, signal), signal);
        const posted = r ? await deliver(r, auditBlocks(lines, data.n)) : null;
        return { ...base, posted };
      }
      case 'repair-plan': {
        if (!r) throw new UnrecoverableError('a repair-plan job needs a requester');
        // The bot checked the role; check again against this worker's inventory (it may be newer).
        const role = roleOf(inventory, r.userId);
        if (!allows(role, 'request-repair')) {
          const posted = await tell(r, refusal(role, 'request-repair', 'Requesting a repair'));
          return { ...base, posted, note: 'refused: role' };
        }
        let plan;
        try {
          plan = await abortable(
            ops.planRepair({ ...ctx, kind: data.repair.kind, args: data.repair.args }),
            signal,
          );
        } catch (err) {
          if (!(err instanceof PlanNotAvailableError)) throw err;
          const posted = await tell(r, `:construction: ${err.message}: no plan was made.`);
          return { ...base, posted, note: 'plan kind not available' };
        }
        // A plan that refuses to run is posted as is: not proposed, no buttons.
        const proposal: ProposeResult =
          plan.refusal !== null
            ? { refused: plan.refusal }
            : deps.approvals.propose
              ? await deps.approvals.propose({ plan, requester: r, jobId: job.id ?? '' })
              : { requestId: `rq-${(job.id ?? '').replace(/^(cmd|act)-/, '').slice(0, 24)}` };
        const note = !deps.approvals.propose
          ? 'Approvals are not wired in this build: the plan cannot be approved yet.'
          : 'refused' in proposal && plan.refusal === null
            ? `Cannot be approved: ${proposal.refused}`
            : undefined;
        const msg = planBlocks(plan, {
          requestId: 'requestId' in proposal ? proposal.requestId : '-',
          requestedBy: r.userId,
          buttons: 'requestId' in proposal,
          ...(note !== undefined ? { note } : {}),
        });
        const posted = await deliver(r, msg);
        return { ...base, posted, ...(plan.refusal !== null ? { note: `refused: ${plan.refusal}` } : {}) };
      }
      case 'scheduled-check': {
        const res = await abortable(ops.diagnose(ctx), signal);
        await reconcile(res.report);
        const cmp = await compareWithLast(deps.redis, deps.prefix, res.report);
        const changes = cmp ? nonIncidentChanges(cmp.changes, cmp.previous) : [];
        const channel = incidentChannelFor(inventory, cluster.name);
        let posted: JobResult['posted'] = null;
        if (changes.length > 0 && channel) {
          const msg = guard(
            changesBlocks(cluster.name, changes, `scheduled check · job \`${job.id ?? '?'}\``),
          );
          const p = await slack.post({ channel, text: msg.text, blocks: msg.blocks });
          posted = { channel: p.channel, ts: p.ts };
        }
        return { ...base, posted, exitCode: res.exitCode, findings: countBySeverity(res.report.findings) };
      }
    }
  }

  return async function processJob(job, _token, workerSignal) {
    const kind = job.data.kind;
    const ms = timeoutOf(kind);
    const ctl = new AbortController();
    const timer = setTimeout(
      () =>
        ctl.abort(
          new JobTimeoutError(
            `timed out after ${Math.round(ms / 1000)} s: the cluster did not answer in time`,
          ),
        ),
      ms,
    );
    const onCancel = () =>
      ctl.abort(new JobCancelledError('cancelled (the worker is shutting down or the job was cancelled)'));
    workerSignal?.addEventListener('abort', onCancel, { once: true });
    try {
      const result = await run(job, ctl.signal);
      await audit(job, result.note ? `note:${result.note}` : 'ok', { exitCode: result.exitCode });
      logger.info({ jobId: job.id, kind, cluster: job.data.cluster, exitCode: result.exitCode }, 'job done');
      return result;
    } catch (err) {
      const attempts = job.opts.attempts ?? 1;
      const last = job.attemptsMade + 1 >= attempts;
      if (isRetryable(err) && !last && !ctl.signal.aborted) {
        logger.warn(
          { jobId: job.id, kind, err: describeError(err), attempt: job.attemptsMade + 1 },
          'job failed; will retry',
        );
        throw err;
      }
      const why = describeError(err);
      logger.warn({ jobId: job.id, kind, err: why }, 'job failed');
      const r = job.data.requester;
      if (r) {
        await tell(r, `:x: ${describeJob(job.data)} failed: ${why}`).catch((e: unknown) =>
          logger.warn({ err: describeError(e) }, 'could not tell the user'),
        );
        await audit(job, 'error', { error: why });
      }
      throw new UnrecoverableError(why);
    } finally {
      clearTimeout(timer);
      workerSignal?.removeEventListener('abort', onCancel);
    }
  };
}
