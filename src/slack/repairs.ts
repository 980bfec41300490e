/**
 * Repairs in Slack after the plan: where the plan was posted (its channel and ts, so that everything about the
 * request goes in the plan's thread), what to say about decisions (approved, 1 of 2, denied, expired) and about
 * the execution's result, and "say it once" markers (a retried job, two workers, the CLI and a worker: the
 * thread gets each message once).
 *
 * Keys: `<prefix>:approval:<id>:slack` (hash: channel, ts, requester), `<prefix>:approval:<id>:told:<what>`
 * (marker); both expire with the request (30 days).
 */
import type { Redis } from 'ioredis';
import type { RepairRequest } from '../approvals/index.js';
import type { RepairEvent } from '../queue/jobs.js';
import type { ExecutionResult } from '../repairs/executor.js';
import { describeStep } from '../repairs/steps.js';
import { esc, planBlocks, SLACK_LIMITS, truncate, type KnownBlock, type SlackMessage } from './blocks.js';

const KEEP_MS = 30 * 86_400_000;

export interface RepairThread {
  /** The Slack channel the plan was posted in. */
  channel: string;
  /** The plan message's ts (thread parent); absent when the plan went through a response_url. */
  ts?: string;
  /** Who asked (Slack user id). */
  requester?: string;
}

const threadKey = (prefix: string, id: string) => `${prefix}:approval:${id}:slack`;
const toldKey = (prefix: string, id: string, what: string) => `${prefix}:approval:${id}:told:${what}`;

/** Remember where a request's plan was posted. */
export async function saveThread(redis: Redis, prefix: string, id: string, t: RepairThread): Promise<void> {
  const key = threadKey(prefix, id);
  await redis
    .multi()
    .hset(key, {
      channel: t.channel,
      ...(t.ts !== undefined ? { ts: t.ts } : {}),
      ...(t.requester !== undefined ? { requester: t.requester } : {}),
    })
    .pexpire(key, KEEP_MS)
    .exec();
}

/** Where a request's plan was posted; null for requests made elsewhere (the CLI). */
export async function getThread(redis: Redis, prefix: string, id: string): Promise<RepairThread | null> {
  const h = await redis.hgetall(threadKey(prefix, id));
  if (!h.channel) return null;
  return {
    channel: h.channel,
    ...(h.ts ? { ts: h.ts } : {}),
    ...(h.requester ? { requester: h.requester } : {}),
  };
}

/**
 * Claim the right to say `what` about a request (true once, for the first caller). Call `releaseTold` when the
 * message could not be posted, so that a retry can say it.
 */
export async function claimTold(redis: Redis, prefix: string, id: string, what: string): Promise<boolean> {
  return (await redis.set(toldKey(prefix, id, what), String(Date.now()), 'PX', KEEP_MS, 'NX')) === 'OK';
}

export async function releaseTold(redis: Redis, prefix: string, id: string, what: string): Promise<void> {
  await redis.del(toldKey(prefix, id, what));
}

// ------------------------------------------------------------------ words

const SLACK_USER = /^[UW][A-Z0-9]+$/;

/** <@U123> for Slack users, "alice (cli)" for people at a terminal. */
export function mention(who: string, where?: string): string {
  if (SLACK_USER.test(who)) return `<@${who}>`;
  return `${esc(who)}${where && !where.startsWith('slack') ? ` (${esc(where)})` : ''}`;
}

export function argsText(args: Record<string, string | number>): string {
  return Object.entries(args)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function what(request: Pick<RepairRequest, 'kind' | 'cluster' | 'plan'>): string {
  const args = argsText(request.plan.args);
  return `${request.kind}${args ? ` ${args}` : ''} on ${request.cluster}`;
}

/** One line about a decision, for the thread and for the plan message once its buttons are gone. */
export function noticeLine(
  request: RepairRequest,
  event: RepairEvent,
  n: { who?: string; where?: string; message?: string },
): string {
  const who = n.who !== undefined ? mention(n.who, n.where) : 'someone';
  switch (event) {
    case 'recorded':
      return (
        `:ballot_box_with_check: Approval ${request.approvers.length} of ${request.approvalsNeeded} by ${who}: ` +
        `${request.kind} needs ${request.approvalsNeeded} different approvers.`
      );
    case 'approved': {
      const by = request.approvers.map((a) => mention(a.who, a.where)).join(' and ') || who;
      return `:white_check_mark: Approved by ${by}: the repair is queued; every precondition is checked again before it runs.`;
    }
    case 'denied':
      return n.who !== undefined && n.who === request.requester
        ? `:leftwards_arrow_with_hook: Withdrawn by ${who}.`
        : `:x: Denied by ${who}${request.reason ? `: ${esc(truncate(request.reason, 500))}` : ''}.`;
    case 'expired':
      return (
        `:hourglass: Expired at ${request.expiresAt} with ${request.approvers.length} of ${request.approvalsNeeded} ` +
        `approval(s): nothing was run. Request the repair again if it is still needed.`
      );
  }
}

/** A notice in the plan's thread. */
export function noticeMessage(
  request: RepairRequest,
  event: RepairEvent,
  n: { who?: string; where?: string; message?: string },
): SlackMessage {
  const line = noticeLine(request, event, n);
  return {
    text: truncate(`${line} (request ${request.id}, ${what(request)})`, 3000),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: truncate(line, SLACK_LIMITS.sectionText) } },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `request \`${esc(request.id)}\` · ${esc(what(request))}` }],
      },
    ],
  };
}

/** The plan message once decided: the same plan, no buttons, the decision underneath. */
export function decidedPlanMessage(request: RepairRequest, line: string): SlackMessage {
  const m = planBlocks(request.plan, {
    requestId: request.id,
    ...(SLACK_USER.test(request.requester) ? { requestedBy: request.requester } : {}),
    buttons: false,
    note: line,
  });
  return { ...m, text: truncate(`Repair plan ${what(request)}: ${line}`, 300) };
}

const RESULT_ICON: Record<ExecutionResult['status'], string> = {
  done: ':white_check_mark:',
  failed: ':x:',
  changed: ':warning:',
  'needs-operator': ':sos:',
  'verify-failed': ':warning:',
  refused: ':no_entry:',
  locked: ':lock:',
  'lock-lost': ':warning:',
  aborted: ':warning:',
};

const RESULT_WORD: Record<ExecutionResult['status'], string> = {
  done: 'Done',
  failed: 'Failed',
  changed: 'Not run: the cluster changed',
  'needs-operator': 'Stopped: an operator must look',
  'verify-failed': 'Steps done, verification failed',
  refused: 'Not run',
  locked: 'Running elsewhere',
  'lock-lost': 'Stopped: lost its lock',
  aborted: 'Interrupted',
};

const STEP_ICON: Record<string, string> = {
  done: ':white_check_mark:',
  failed: ':x:',
  started: ':hourglass_flowing_sand:',
  pending: ':white_circle:',
};

/** The execution's start, in the thread. */
export function startMessage(request: RepairRequest, worker: string): SlackMessage {
  const line = `:gear: Running ${esc(what(request))} on ${esc(worker)}: re-checking every precondition on a fresh snapshot first.`;
  return {
    text: truncate(line, 3000),
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: truncate(line, SLACK_LIMITS.sectionText) } }],
  };
}

/** The execution's result, in the thread: status, every step, the verification. */
export function resultMessage(
  request: Pick<RepairRequest, 'id' | 'kind' | 'cluster' | 'plan'>,
  result: ExecutionResult,
): SlackMessage {
  const title = `${RESULT_ICON[result.status]} *${RESULT_WORD[result.status]}* — ${esc(what(request))}`;
  const blocks: KnownBlock[] = [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(`${title}\n${esc(result.message)}`, SLACK_LIMITS.sectionText),
      },
    },
  ];
  const steps =
    result.steps.length > 0
      ? result.steps
      : request.plan.steps.map((s, index) => ({
          index,
          description: describeStep(s),
          status: 'pending' as const,
          attempts: 0,
          detail: undefined as string | undefined,
        }));
  if (steps.length > 0) {
    const lines = steps.map(
      (s) =>
        `${STEP_ICON[s.status] ?? ':grey_question:'} ${s.index + 1}. ${esc(s.description)}` +
        `${s.attempts > 1 ? ` (${s.attempts} attempts)` : ''}${s.detail ? ` — ${esc(truncate(s.detail, 300))}` : ''}`,
    );
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: truncate(`*Steps*\n${lines.join('\n')}`, SLACK_LIMITS.sectionText) },
    });
  }
  if (result.verification) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          `*Verification* ${result.verification.ok ? ':white_check_mark:' : ':x:'} ${esc(result.verification.detail)}`,
          SLACK_LIMITS.sectionText,
        ),
      },
    });
  }
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: `request \`${esc(request.id)}\`${result.resumed ? ' · resumed after an interruption' : ''}`,
      },
    ],
  });
  return {
    text: truncate(`${RESULT_WORD[result.status]}: ${what(request)}: ${result.message}`, 3000),
    blocks,
  };
}
