/**
 * Job ids derived from the request, so that a request Slack sends again (x-slack-retry-num: 1, 2, ...) maps to
 * the job that already exists and BullMQ ignores the second add.
 *
 * What stays the same on a retry is the body: Slack re-signs the resent request, so x-slack-request-timestamp and
 * x-slack-signature change and must NOT be part of the id. The body's trigger_id is unique per invocation (a user
 * typing the same command twice gets two trigger_ids, hence two jobs), and team/channel/user/command/text tie the
 * id to what was asked. Button presses: action_ts is unique per press.
 *
 * BullMQ job ids may not contain ':' and may not be integers: ids are `cmd-<40 hex>` / `act-<40 hex>`.
 */
import { createHash } from 'node:crypto';

function digest(parts: readonly (string | undefined)[]): string {
  // JSON of the array: no separator ambiguity ("a|b" + "c" vs "a" + "b|c").
  return createHash('sha256')
    .update(JSON.stringify(parts.map((p) => p ?? '')))
    .digest('hex')
    .slice(0, 40);
}

export interface SlashCommandIdentity {
  team_id?: string;
  channel_id?: string;
  user_id?: string;
  command?: string;
  text?: string;
  trigger_id?: string;
}

/** The job id of a slash command: stable across Slack's retries of the same request. */
export function commandJobId(c: SlashCommandIdentity): string {
  return `cmd-${digest([c.team_id, c.channel_id, c.user_id, c.command, c.text?.trim(), c.trigger_id])}`;
}

export interface ActionIdentity {
  teamId?: string;
  userId?: string;
  actionId: string;
  value?: string;
  actionTs?: string;
  triggerId?: string;
}

/** The job id of a button press. */
export function actionJobId(a: ActionIdentity): string {
  return `act-${digest([a.teamId, a.userId, a.actionId, a.value, a.actionTs, a.triggerId])}`;
}

/**
 * The job id of an approved request's execution: derived from the request id (rq-<base36>-<hex>), so however
 * often it is enqueued (the approving call, the stranded-enqueue sweep, a CLI approval) there is one job.
 */
export function repairJobId(requestId: string): string {
  return `repair-${requestId}`;
}

/** The request id back from a repair job id (null when it is not one). */
export function requestIdOfJob(jobId: string): string | null {
  return jobId.startsWith('repair-') ? jobId.slice('repair-'.length) : null;
}

/**
 * The job id of a notice: one per request and event; approvals recorded on the way to two are told one by one
 * (`n` = how many were recorded).
 */
export function noticeJobId(requestId: string, event: string, n?: number): string {
  return `notice-${requestId}-${event}${n !== undefined ? `-${n}` : ''}`;
}

/** Id of a cluster's job scheduler (cluster names are [A-Za-z0-9_.-]: no ':'). */
export function checkSchedulerId(cluster: string): string {
  return `check-${cluster}`;
}

export const CHECK_SCHEDULER_PREFIX = 'check-';

/** True when a string is usable as a BullMQ job id. */
export function isValidJobId(id: string): boolean {
  return id.length > 0 && !id.includes(':') && !/^\d+$/.test(id);
}
