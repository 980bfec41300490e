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
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
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
import type { Approvals as ApprovalStore } from '../src/approvals/index.js';
import { FINAL_STATUSES, runRequest } from '../src/ops/repair-run.js';
import type { RepairExecutor } from '../src/repairs/executor.js';
import type { Approvals, ProposeResult } from '../src/slack/approvals.js';
import {
  claimTold,
  decidedPlanMessage,
  getThread,
  noticeLine,
  noticeMessage,
  releaseTold,
  resultMessage,
  saveThread,
  startMessage,
  type RepairThread,
} from '../src/slack/repairs.js';
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
import { SlackRefusedError, SlackUnavailableError, type SlackPoster } from '../src/slack/poster.js';
import { allows, refusal, roleOf } from '../src/slack/roles.js';
import { answerOnce, recordedAnswer } from './once.js';
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
  /** None: a repair runs its steps to the end (each step has its own limits); a worker going away stops it. */
  'repair-execute': 0,
  'repair-notice': 30_000,
};

export class JobTimeoutError extends OpsError {
  readonly retryable = false;
}

export class JobCancelledError extends OpsError {
  readonly retryable = false;
}

/**
 * This run of a job lost BullMQ's lock on it (a Redis outage longer than the lock): the job was handed to
 * another run, which does the telling and the auditing.
 */
export class JobTakenOverError extends OpsError {
  readonly retryable = false;
}

/** BullMQ's answer to a job move by a run that no longer holds the job's lock. */
function lostJobLock(err: unknown): boolean {
  return (
    err instanceof Error && /Missing lock for job|Lock mismatch for job|Missing key for job/.test(err.message)
  );
}

/** The job's answer could not be posted to Slack (after the poster's own retries). */
export class AnswerNotPostedError extends OpsError {
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
  /** Approved repairs (`repair-execute`, `repair-notice`); without it such jobs fail with a clear reason. */
  repairs?: RepairDeps;
}

export interface RepairDeps {
  /** The approval store (src/approvals). */
  store: ApprovalStore;
  /** The executor of a cluster (its step handlers). */
  executorFor(cluster: string): Promise<RepairExecutor>;
  /**
   * When the request is being run elsewhere, or this worker is going away mid-repair: try again after this long
   * (longer than the executor's lock, so that an abandoned lock has lapsed). Not counted as an attempt.
   */
  retryDelayMs: number;
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

  /** Post the answer in the requester's channel; `what` names it in errors ("report", "plan"). */
  async function deliver(r: Requester, message: SlackMessage, what = 'report'): Promise<JobResult['posted']> {
    const msg = guard(message);
    const blocks = msg.blocks.length ? { blocks: msg.blocks } : {};
    try {
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
    } catch (err) {
      // The poster has retried what can be retried: the job ends here, saying so (and the audit says it too).
      if (err instanceof SlackUnavailableError || err instanceof SlackRefusedError) {
        throw new AnswerNotPostedError(`the ${what} could not be posted: ${err.message}`, { cause: err });
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

  /**
   * Post a job's answer at most once across its runs: a job BullMQ runs again (its lock lapsed while Redis was
   * away, or its worker died after posting) finds the answer recorded and does not post it again.
   */
  async function once(
    job: Job<JobData, JobResult>,
    post: () => Promise<JobResult['posted']>,
  ): Promise<JobResult['posted']> {
    if (job.id === undefined) return post();
    const r = await answerOnce(deps.redis, deps.prefix, job.id, post);
    if (r.already) logger.info({ jobId: job.id }, 'answered by an earlier run of this job; not posted again');
    return r.posted;
  }

  function repairsOrFail(): RepairDeps {
    if (!deps.repairs) {
      throw new UnrecoverableError(
        'this worker has no approval store: start it with `fabric-opsbot worker` (repairs are not wired here)',
      );
    }
    return deps.repairs;
  }

  /** Post in the plan's thread once per `what` (a retry, another worker or the CLI may get here too). */
  async function tellThread(
    requestId: string,
    what: string,
    thread: RepairThread | null,
    message: SlackMessage,
  ): Promise<JobResult['posted']> {
    if (thread?.ts === undefined) return null; // asked from the CLI, or the bot cannot post in that channel
    if (!(await claimTold(deps.redis, deps.prefix, requestId, what))) return null;
    try {
      const msg = guard(message);
      const p = await slack.post({
        channel: thread.channel,
        thread_ts: thread.ts,
        text: msg.text,
        ...(msg.blocks.length ? { blocks: msg.blocks } : {}),
      });
      return { channel: p.channel, ts: p.ts };
    } catch (err) {
      await releaseTold(deps.redis, deps.prefix, requestId, what).catch(() => undefined);
      throw err;
    }
  }

  async function auditWorker(
    what: string,
    cluster: string,
    jobId: string,
    outcome: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    if (!ops.audit) return;
    try {
      await ops.audit({ who: workerId, what, cluster, where: workerId, jobId, outcome, details });
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'audit append failed');
    }
  }

  async function run(
    job: Job<JobData, JobResult>,
    signal: AbortSignal,
    token: string | undefined,
  ): Promise<JobResult> {
    const data = job.data;
    const cluster = selectCluster(inventory, data.cluster);
    const ctx = { inventory, cluster, env: deps.env, signal };
    const base = { kind: data.kind, cluster: cluster.name };
    const r = data.requester;
    if (r && job.id !== undefined && data.kind !== 'repair-execute' && data.kind !== 'repair-notice') {
      // Run again after it answered (see once()): say nothing twice, and do not ask the cluster again.
      const earlier = await recordedAnswer(deps.redis, deps.prefix, job.id);
      if (earlier !== undefined) {
        logger.info({ jobId: job.id }, 'answered by an earlier run of this job; nothing to do');
        return { ...base, posted: earlier, note: 'answered by an earlier run of this job' };
      }
    }
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
        const posted = r ? await once(job, () => deliver(r, msg)) : null;
        await reconcile(res.report);
        return { ...base, posted, exitCode: res.exitCode, findings: countBySeverity(res.report.findings) };
      }
      case 'whatif-stop-broker': {
        const res = await abortable(ops.whatIfStopBroker({ ...ctx, brokerId: data.brokerId }), signal);
        const posted = r
          ? await once(job, () =>
              deliver(r, whatIfBlocks(res.whatif, res.exitCode, { footer: footerOf(job) }), 'answer'),
            )
          : null;
        return { ...base, posted, exitCode: res.exitCode };
      }
      case 'audit': {
        const lines = await abortable(ops.auditTail(data.n, signal), signal);
        const posted = r ? await once(job, () => deliver(r, auditBlocks(lines, data.n), 'audit log')) : null;
        return { ...base, posted };
      }
      case 'repair-plan': {
        if (!r) throw new UnrecoverableError('a repair-plan job needs a requester');
        // The bot checked the role; check again against this worker's inventory (it may be newer).
        const role = roleOf(inventory, r.userId);
        if (!allows(role, 'request-repair')) {
          const posted = await once(job, () =>
            tell(r, refusal(role, 'request-repair', 'Requesting a repair')),
          );
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
          const message = `:construction: ${err.message}: no plan was made.`;
          const posted = await once(job, () => tell(r, message));
          return { ...base, posted, note: 'plan kind not available' };
        }
        // Proposed and posted once per job (see once()): a second run neither records a second request nor
        // posts the plan again.
        let proposal: ProposeResult | undefined;
        const posted = await once(job, async () => {
          // A plan that refuses to run is posted as is: not proposed, no buttons.
          const proposed: ProposeResult =
            plan.refusal !== null
              ? { refused: plan.refusal }
              : deps.approvals.propose
                ? await deps.approvals.propose({ plan, requester: r, jobId: job.id ?? '' })
                : { requestId: `rq-${(job.id ?? '').replace(/^(cmd|act)-/, '').slice(0, 24)}` };
          proposal = proposed;
          const note = !deps.approvals.propose
            ? 'Approvals are not wired in this build: the plan cannot be approved yet.'
            : 'refused' in proposed && plan.refusal === null
              ? `Cannot be approved: ${proposed.refused}`
              : undefined;
          const msg = planBlocks(plan, {
            requestId: 'requestId' in proposed ? proposed.requestId : '-',
            requestedBy: r.userId,
            buttons: 'requestId' in proposed,
            ...(note !== undefined ? { note } : {}),
          });
          const p = await deliver(r, msg, 'plan');
          if ('requestId' in proposed && deps.approvals.propose && p !== null) {
            // Everything about the request (decisions, the result) goes in this message's thread. The plan is
            // posted: a failure here must not make a retry post (and propose) it again.
            await saveThread(deps.redis, deps.prefix, proposed.requestId, {
              channel: 'channel' in p ? p.channel : r.channelId,
              ...('ts' in p ? { ts: p.ts } : {}),
              requester: r.userId,
            }).catch((err: unknown) =>
              logger.warn(
                { err: describeError(err), id: proposed.requestId },
                'plan thread not saved: decisions will not be told in it',
              ),
            );
          }
          return p;
        });
        const proposed = proposal as ProposeResult | undefined;
        return {
          ...base,
          posted,
          ...(plan.refusal !== null ? { note: `refused: ${plan.refusal}` } : {}),
          ...(proposed && 'requestId' in proposed ? { requestId: proposed.requestId } : {}),
        };
      }
      case 'repair-execute': {
        const { store, executorFor, retryDelayMs } = repairsOrFail();
        const id = data.requestId;
        const thread = await getThread(deps.redis, deps.prefix, id);
        const before = await store.get(id);
        const { request, result } = await runRequest({
          approvals: store,
          executorFor,
          inventory,
          requestId: id,
          signal,
          ops: {
            replan: (req, c) =>
              ops.planRepair({
                inventory,
                cluster: c,
                env: deps.env,
                signal,
                kind: req.kind,
                args: req.plan.args,
              }),
            verify: (_req, c, plan, sig) =>
              ops.verifyRepair({ inventory, cluster: c, env: deps.env, signal: sig, plan }),
          },
          onStep: async (e) => {
            if (before === null || (e.phase !== 'start' && e.phase !== 'skip')) return;
            await tellThread(id, 'start', thread, startMessage(before, workerId)).catch((err: unknown) =>
              logger.warn({ err: describeError(err), id }, 'could not post the start of a repair'),
            );
          },
        });
        if (!FINAL_STATUSES.has(result.status)) {
          // Held by another process (the CLI's `repair run`, a worker that stalled), or this worker is going
          // away: try again later; the executor resumes or returns the recorded result.
          logger.info(
            { id, status: result.status, message: result.message },
            'repair not finished here; later',
          );
          if (token === undefined) throw new Error(`${result.status}: ${result.message}`);
          try {
            await job.moveToDelayed(Date.now() + retryDelayMs, token);
          } catch (err) {
            // This run's hold on the job lapsed (Redis was away longer than the job lock): the job went back to
            // the queue and another run has it. Nothing to tell or audit here: that run will.
            if (lostJobLock(err)) throw new JobTakenOverError(`job ${job.id ?? '?'}: ${describeError(err)}`);
            throw err;
          }
          throw new DelayedError();
        }
        const posted =
          request !== null ? await tellThread(id, 'result', thread, resultMessage(request, result)) : null;
        logger.info({ id, status: result.status, message: result.message }, 'repair ended');
        return { ...base, posted, note: `${result.status}: ${result.message}`, requestId: id };
      }
      case 'repair-notice': {
        const { store } = repairsOrFail();
        const id = data.requestId;
        const request = await store.get(id);
        if (request === null) return { ...base, posted: null, note: `no request ${id}` };
        const thread = await getThread(deps.redis, deps.prefix, id);
        const n = {
          ...(data.who !== undefined ? { who: data.who } : {}),
          ...(data.where !== undefined ? { where: data.where } : {}),
          ...(data.message !== undefined ? { message: data.message } : {}),
        };
        const what = `notice-${data.event}${data.event === 'recorded' ? `-${job.id ?? ''}` : ''}`;
        const posted = await tellThread(id, what, thread, noticeMessage(request, data.event, n));
        if (posted !== null && data.event !== 'recorded' && thread?.ts !== undefined) {
          // Decided: the plan's buttons go (a press after this would be refused anyway).
          const m = guard(decidedPlanMessage(request, noticeLine(request, data.event, n)));
          await slack
            .update({ channel: thread.channel, ts: thread.ts, text: m.text, blocks: m.blocks })
            .catch((err: unknown) =>
              logger.warn({ err: describeError(err), id }, 'could not take the buttons off the plan'),
            );
        }
        return {
          ...base,
          posted,
          requestId: id,
          ...(posted === null ? { note: thread ? 'already told' : 'no Slack thread' } : {}),
        };
      }
      case 'scheduled-check': {
        const res = await abortable(ops.diagnose(ctx), signal);
        await reconcile(res.report);
        const channel = incidentChannelFor(inventory, cluster.name);
        let posted: JobResult['posted'] = null;
        // Posted before the report is remembered: changes Slack would not take are found again next time.
        await compareWithLast(deps.redis, deps.prefix, res.report, async (cmp) => {
          const changes = nonIncidentChanges(cmp.changes, cmp.previous);
          if (changes.length === 0 || !channel) return;
          const msg = guard(
            changesBlocks(cluster.name, changes, `scheduled check · job \`${job.id ?? '?'}\``),
          );
          try {
            const p = await slack.post({ channel, text: msg.text, blocks: msg.blocks });
            posted = { channel: p.channel, ts: p.ts };
          } catch (err) {
            throw new AnswerNotPostedError(
              `the changes could not be posted (the next check tries again): ${describeError(err)}`,
              { cause: err },
            );
          }
        });
        return { ...base, posted, exitCode: res.exitCode, findings: countBySeverity(res.report.findings) };
      }
    }
  }

  /** A repair job that cannot go on: said in the plan's thread and audited, like any other end. */
  async function repairJobFailed(job: Job<JobData, JobResult>, why: string): Promise<void> {
    const data = job.data;
    if (data.kind !== 'repair-execute' && data.kind !== 'repair-notice') return;
    await auditWorker(
      data.kind === 'repair-execute' ? 'result' : 'notice',
      data.cluster,
      data.requestId,
      'error',
      {
        job: job.id,
        error: why,
      },
    );
    if (data.kind !== 'repair-execute') return;
    try {
      const thread = await getThread(deps.redis, deps.prefix, data.requestId);
      await tellThread(data.requestId, 'result', thread, {
        text: `:x: Repair request ${data.requestId} could not be run: ${why}`,
        blocks: [],
      });
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'could not tell the thread');
    }
  }

  return async function processJob(job, token, workerSignal) {
    const kind = job.data.kind;
    const ms = timeoutOf(kind);
    const ctl = new AbortController();
    const timer =
      ms > 0
        ? setTimeout(
            () =>
              ctl.abort(
                new JobTimeoutError(
                  `timed out after ${Math.round(ms / 1000)} s: the cluster did not answer in time`,
                ),
              ),
            ms,
          )
        : undefined;
    const onCancel = () =>
      ctl.abort(new JobCancelledError('cancelled (the worker is shutting down or the job was cancelled)'));
    workerSignal?.addEventListener('abort', onCancel, { once: true });
    try {
      const result = await run(job, ctl.signal, token);
      await audit(job, result.note ? `note:${result.note}` : 'ok', { exitCode: result.exitCode });
      logger.info({ jobId: job.id, kind, cluster: job.data.cluster, exitCode: result.exitCode }, 'job done');
      return result;
    } catch (err) {
      if (err instanceof DelayedError) throw err; // moved back to the queue on purpose
      if (err instanceof JobTakenOverError) {
        logger.info({ jobId: job.id, kind, err: err.message }, 'job taken over by another run; leaving it');
        throw err;
      }
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
      await repairJobFailed(job, why);
      throw new UnrecoverableError(why);
    } finally {
      clearTimeout(timer);
      workerSignal?.removeEventListener('abort', onCancel);
    }
  };
}
