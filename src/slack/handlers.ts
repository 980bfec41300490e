/**
 * What the bot does with a `/fabric` command or a button press, as plain async functions of the request
 * (testable without Bolt). They never touch a cluster: they check the text, the role, the cluster and channel
 * names against the inventory, queue a job and say what was queued — well inside Slack's 3 s.
 */
import {
  clusterChannels,
  selectCluster,
  type ClusterConfig,
  type Inventory,
  type SelectedCluster,
} from '../config/index.js';
import { describeError, OpsError } from '../errors/index.js';
import type { AuditLog } from '../audit/index.js';
import type { Logger } from '../log.js';
import {
  actionJobId,
  commandJobId,
  describeJob,
  EnqueueUnconfirmedError,
  type EnqueueResult,
  type JobData,
  type Producer,
  type Requester,
} from '../queue/index.js';
import { RedisUnavailableError } from '../redis.js';
import type { Approvals } from './approvals.js';
import { ACTIONS, helpText, type KnownBlock, type RepairButtonValue } from './blocks.js';
import { ARG_NAME, CLUSTER_NAME, parseFabricText, REPAIR_KIND, type FabricCommand } from './parse.js';
import { allows, refusal, roleOf, type EffectiveRole, type Permission } from './roles.js';

export interface BotDeps {
  inventory: Inventory;
  producer: Pick<Producer, 'enqueue'>;
  approvals: Approvals;
  /** Every command and button press is written here (who, what, cluster, where, outcome, job id). */
  audit?: Pick<AuditLog, 'append'>;
  logger?: Logger;
  now?: () => Date;
}

/** The fields of a slash command payload the bot uses (Bolt's SlashCommand has them all). */
export interface SlashCommandPayload {
  team_id: string;
  channel_id: string;
  user_id: string;
  user_name?: string;
  command: string;
  text: string;
  trigger_id: string;
  response_url: string;
}

/** An answer through ack() or respond(): ephemeral unless said otherwise. */
export interface Reply {
  response_type: 'ephemeral' | 'in_channel';
  text: string;
  blocks?: KnownBlock[];
  replace_original?: boolean;
}

export interface CommandOutcome {
  reply: Reply;
  /** What was queued, when something was. */
  enqueued?: EnqueueResult;
  /** For the audit log: "queued", "duplicate", "refused:role", "usage", "help", "error:queue"... */
  outcome: string;
  /** The cluster the command was for, once known. */
  cluster?: string;
}

const ephemeral = (text: string): Reply => ({ response_type: 'ephemeral', text });

/** The cluster a request names (or the inventory's default), or the CLI's own refusal with a hint. */
function pickCluster(inventory: Inventory, name: string | undefined): SelectedCluster | { error: string } {
  try {
    return selectCluster(inventory, name);
  } catch (err) {
    if (err instanceof OpsError) return { error: `${describeError(err)}. Use \`--cluster NAME\`.` };
    throw err;
  }
}

/** Channels allowed to run commands against a cluster: the cluster's list, else the global one, else any. */
function channelAllowed(inventory: Inventory, config: ClusterConfig, channelId: string): string[] | null {
  const allowed = config.slack?.commandChannels ?? inventory.slack?.commandChannels;
  if (!allowed || allowed.length === 0 || allowed.includes(channelId)) return null;
  return allowed;
}

/** Same rule as ops/diagnose's checkChannel (without loading the gatherers into the bot). */
function unknownChannel(cluster: string, config: ClusterConfig, channel: string): string | undefined {
  const known = clusterChannels(config);
  if (known.length === 0 || known.includes(channel)) return undefined;
  return `unknown channel \`${channel}\` for cluster ${cluster} (known: ${known.join(', ')})`;
}

function permissionOf(cmd: FabricCommand): Permission | null {
  switch (cmd.sub) {
    case 'help':
      return null;
    case 'repair':
      return 'request-repair';
    default:
      return 'view';
  }
}

function jobFor(
  cmd: Exclude<FabricCommand, { sub: 'help' }>,
  base: Pick<JobData, 'cluster' | 'requestedAt' | 'requester'>,
): JobData {
  switch (cmd.sub) {
    case 'status':
      return { ...base, kind: 'status', channel: cmd.channel };
    case 'diagnose':
      return { ...base, kind: 'diagnose' };
    case 'brokers':
      return { ...base, kind: 'brokers' };
    case 'whatif':
      return { ...base, kind: 'whatif-stop-broker', brokerId: cmd.brokerId };
    case 'audit':
      return { ...base, kind: 'audit', n: cmd.n };
    case 'repair':
      return { ...base, kind: 'repair-plan', repair: { kind: cmd.kind, args: cmd.args } };
  }
}

/**
 * Redis took too long to answer an enqueue, which it may still run when it wakes up: say so (not "nothing was
 * queued"), and tell the user through the response_url what happened once Redis answers.
 */
function unconfirmed(
  err: EnqueueUnconfirmedError,
  what: string,
  where: string,
  responseUrl: string | undefined,
  logger: Logger | undefined,
): Reply {
  logger?.warn({ err: describeError(err), jobId: err.jobId }, 'enqueue not confirmed in time');
  if (responseUrl) {
    void err.outcome.then(async (queued) => {
      const text =
        queued === true
          ? `:hourglass_flowing_sand: Redis answered after all: queued ${what} (job \`${err.jobId}\`). ${where}`
          : queued === false
            ? `:warning: Nothing was queued: Redis at ${err.address} did not take ${what}. Try again.`
            : `:warning: Redis at ${err.address} still does not answer: ${what} (job \`${err.jobId}\`) may run when it ` +
              'does. If no answer shows up here, try again later.';
      logger?.info({ jobId: err.jobId, queued }, 'enqueue outcome known');
      try {
        await fetch(responseUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
          signal: AbortSignal.timeout(10_000),
        });
      } catch (e) {
        logger?.warn(
          { err: describeError(e), jobId: err.jobId },
          'could not tell the user what became of the job',
        );
      }
    });
  }
  return ephemeral(
    `:warning: The job queue did not answer in time (Redis at ${err.address} did not answer within ${err.timeoutMs} ms): ${what} may or may ` +
      `not have been queued (job \`${err.jobId}\`).` +
      (responseUrl
        ? ' You will be told here once Redis answers.'
        : ' If no answer shows up here, try again.'),
  );
}

function queueFailure(
  err: unknown,
  logger: Logger | undefined,
  pending?: { what: string; where: string; responseUrl: string | undefined },
): Reply {
  if (err instanceof EnqueueUnconfirmedError && pending) {
    return unconfirmed(err, pending.what, pending.where, pending.responseUrl, logger);
  }
  logger?.warn({ err: describeError(err) }, 'enqueue failed');
  const why =
    err instanceof RedisUnavailableError || (err instanceof OpsError && err.retryable)
      ? describeError(err)
      : 'internal error while queueing';
  return ephemeral(
    `:warning: Nothing was queued: the job queue is unavailable (${why}). Try again in a minute; if it persists, ` +
      'ask whoever runs fabric-opsbot to check Redis.',
  );
}

function queuedReply(what: string, r: EnqueueResult, where: string): Reply {
  return ephemeral(
    r.duplicate
      ? `:hourglass_flowing_sand: Already queued: ${what} (job \`${r.jobId}\`, Slack sent the request again). ${where}`
      : `:hourglass_flowing_sand: Queued ${what} (job \`${r.jobId}\`). ${where}`,
  );
}

/** `/fabric ...`: validate, check the role, queue one job, answer at once. */
export async function handleFabricCommand(deps: BotDeps, c: SlashCommandPayload): Promise<CommandOutcome> {
  const { inventory } = deps;
  const parsed = parseFabricText(c.text ?? '');
  if (!parsed.ok) return { reply: ephemeral(`:warning: ${parsed.error}`), outcome: 'usage' };
  const role = roleOf(inventory, c.user_id);
  const cmd = parsed.command;
  if (cmd.sub === 'help') {
    return {
      reply: ephemeral(helpText(role, Object.keys(inventory.clusters), inventory.defaultCluster)),
      outcome: 'help',
    };
  }
  const permission = permissionOf(cmd);
  if (permission && !allows(role, permission)) {
    return {
      reply: ephemeral(refusal(role, permission, `\`/fabric ${cmd.sub}\``)),
      outcome: `refused:role:${role}`,
    };
  }
  const cluster = pickCluster(inventory, parsed.cluster);
  if ('error' in cluster)
    return { reply: ephemeral(`:warning: ${cluster.error}`), outcome: 'refused:cluster' };
  const allowed = channelAllowed(inventory, cluster.config, c.channel_id);
  if (allowed) {
    return {
      reply: ephemeral(
        `:no_entry: commands for cluster ${cluster.name} are taken only in ${allowed.map((id) => `<#${id}>`).join(', ')}`,
      ),
      outcome: 'refused:channel',
      cluster: cluster.name,
    };
  }
  const channel = cmd.sub === 'status' ? cmd.channel : cmd.sub === 'repair' ? cmd.args['channel'] : undefined;
  if (channel !== undefined) {
    const bad = unknownChannel(cluster.name, cluster.config, String(channel));
    if (bad) return { reply: ephemeral(`:warning: ${bad}`), outcome: 'usage', cluster: cluster.name };
  }
  if (cmd.sub === 'whatif') {
    const ids = cluster.config.kafka.brokerIds;
    if (ids && !ids.includes(cmd.brokerId)) {
      return {
        reply: ephemeral(
          `:warning: cluster ${cluster.name} has no broker ${cmd.brokerId} (brokers: ${ids.join(', ')})`,
        ),
        outcome: 'usage',
        cluster: cluster.name,
      };
    }
  }
  const requester: Requester = {
    teamId: c.team_id,
    userId: c.user_id,
    ...(c.user_name ? { userName: c.user_name } : {}),
    channelId: c.channel_id,
    ...(c.response_url ? { responseUrl: c.response_url } : {}),
    role: role as Exclude<EffectiveRole, 'none'>,
    text: `${c.command} ${c.text}`.trim(),
  };
  const data = jobFor(cmd, {
    cluster: cluster.name,
    requestedAt: (deps.now?.() ?? new Date()).toISOString(),
    requester,
  });
  const jobId = commandJobId(c);
  const where =
    cmd.sub === 'repair'
      ? 'The plan will be posted here with Approve/Deny buttons for an approver.'
      : 'The answer will be posted in this channel.';
  let r: EnqueueResult;
  try {
    r = await deps.producer.enqueue(data, jobId);
  } catch (err) {
    return {
      reply: queueFailure(err, deps.logger, { what: describeJob(data), where, responseUrl: c.response_url }),
      outcome: err instanceof EnqueueUnconfirmedError ? 'error:queue-unconfirmed' : 'error:queue',
      cluster: cluster.name,
    };
  }
  deps.logger?.info(
    { jobId: r.jobId, kind: data.kind, cluster: cluster.name, user: c.user_id, duplicate: r.duplicate },
    'queued',
  );
  return {
    reply: queuedReply(describeJob(data), r, where),
    enqueued: r,
    outcome: r.duplicate ? 'duplicate' : 'queued',
    cluster: cluster.name,
  };
}

// ------------------------------------------------------------------ buttons

/** The fields of a block_actions payload the bot uses. */
export interface ButtonPress {
  teamId?: string;
  userId: string;
  userName?: string;
  channelId?: string;
  actionId: string;
  value?: string;
  actionTs?: string;
  triggerId?: string;
  responseUrl?: string;
  /** The message the button is on (to mark it approved/denied). */
  message?: { ts?: string; text?: string; blocks?: KnownBlock[] };
}

export interface ActionOutcome {
  reply: Reply;
  enqueued?: EnqueueResult;
  /** For the audit log: "queued", "approved", "refused:role", "refused:<why>"... */
  outcome: string;
  cluster?: string;
}

function parseRepairValue(value: string | undefined): RepairButtonValue | undefined {
  if (!value) return undefined;
  try {
    const v = JSON.parse(value) as Partial<RepairButtonValue>;
    // A button value comes back from Slack as the client sent it: shaped like the parser's own output or refused.
    if (
      typeof v.cluster !== 'string' ||
      !CLUSTER_NAME.test(v.cluster) ||
      typeof v.kind !== 'string' ||
      !REPAIR_KIND.test(v.kind) ||
      typeof v.args !== 'object' ||
      v.args === null ||
      Array.isArray(v.args)
    ) {
      return undefined;
    }
    const args: Record<string, string | number> = {};
    for (const [k, a] of Object.entries(v.args)) {
      if (!ARG_NAME.test(k)) return undefined;
      if (typeof a === 'number' ? !Number.isSafeInteger(a) : typeof a !== 'string' || a.length > 255)
        return undefined;
      args[k] = a;
    }
    return { cluster: v.cluster, kind: v.kind, args };
  } catch {
    return undefined;
  }
}

/** `repair_request` on a finding: an operator asks for a plan (the same job as `/fabric repair`). */
export async function handleRepairRequestButton(deps: BotDeps, p: ButtonPress): Promise<ActionOutcome> {
  const role = roleOf(deps.inventory, p.userId);
  if (!allows(role, 'request-repair'))
    return {
      reply: ephemeral(refusal(role, 'request-repair', 'Requesting a repair')),
      outcome: `refused:role:${role}`,
    };
  const v = parseRepairValue(p.value);
  if (!v)
    return {
      reply: ephemeral(':warning: this button carries no valid repair (value is not {cluster, kind, args})'),
      outcome: 'usage',
    };
  const cluster = pickCluster(deps.inventory, v.cluster);
  if ('error' in cluster)
    return { reply: ephemeral(`:warning: ${cluster.error}`), outcome: 'refused:cluster' };
  if (p.channelId) {
    const allowed = channelAllowed(deps.inventory, cluster.config, p.channelId);
    if (allowed) {
      return {
        reply: ephemeral(
          `:no_entry: repairs for ${cluster.name} are taken only in ${allowed.map((id) => `<#${id}>`).join(', ')}`,
        ),
        outcome: 'refused:channel',
        cluster: cluster.name,
      };
    }
  }
  if (!p.channelId)
    return {
      reply: ephemeral(':warning: this button is not in a channel: use `/fabric repair` instead'),
      outcome: 'usage',
      cluster: cluster.name,
    };
  const requester: Requester = {
    teamId: p.teamId ?? '',
    userId: p.userId,
    ...(p.userName ? { userName: p.userName } : {}),
    channelId: p.channelId,
    ...(p.responseUrl ? { responseUrl: p.responseUrl } : {}),
    role: role as Exclude<EffectiveRole, 'none'>,
  };
  const data: JobData = {
    kind: 'repair-plan',
    cluster: cluster.name,
    requestedAt: (deps.now?.() ?? new Date()).toISOString(),
    requester,
    repair: { kind: v.kind, args: v.args },
  };
  const jobId = actionJobId({
    ...(p.teamId !== undefined ? { teamId: p.teamId } : {}),
    userId: p.userId,
    actionId: p.actionId,
    ...(p.value !== undefined ? { value: p.value } : {}),
    ...(p.actionTs !== undefined ? { actionTs: p.actionTs } : {}),
    ...(p.triggerId !== undefined ? { triggerId: p.triggerId } : {}),
  });
  const where = 'The plan will be posted in this channel with Approve/Deny buttons.';
  try {
    const r = await deps.producer.enqueue(data, jobId);
    return {
      reply: queuedReply(describeJob(data), r, where),
      enqueued: r,
      outcome: r.duplicate ? 'duplicate' : 'queued',
      cluster: cluster.name,
    };
  } catch (err) {
    return {
      reply: queueFailure(err, deps.logger, { what: describeJob(data), where, responseUrl: p.responseUrl }),
      outcome: err instanceof EnqueueUnconfirmedError ? 'error:queue-unconfirmed' : 'error:queue',
      cluster: cluster.name,
    };
  }
}

/** The plan message with its buttons replaced by who decided (when the original message is known). */
function decided(p: ButtonPress, line: string): Reply {
  const blocks = p.message?.blocks;
  if (!blocks || blocks.length === 0)
    return { response_type: 'in_channel', text: line, replace_original: false };
  const kept = blocks.filter((b) => b.type !== 'actions').slice(0, 49);
  return {
    response_type: 'in_channel',
    replace_original: true,
    text: `${p.message?.text ?? 'Repair plan'} — ${line}`,
    blocks: [...kept, { type: 'context', elements: [{ type: 'mrkdwn', text: line }] }],
  };
}

async function decide(deps: BotDeps, p: ButtonPress, verb: 'approve' | 'deny'): Promise<ActionOutcome> {
  const role = roleOf(deps.inventory, p.userId);
  if (!allows(role, 'approve')) {
    // A viewer's or operator's press changes nothing: not even the approval store is asked.
    return {
      reply: ephemeral(
        refusal(role, 'approve', verb === 'approve' ? 'Approving a repair' : 'Denying a repair'),
      ),
      outcome: `refused:role:${role}`,
    };
  }
  const id = p.value ?? '';
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(id))
    return { reply: ephemeral(':warning: this button carries no request id'), outcome: 'usage' };
  const where = p.channelId ? `slack:${p.channelId}` : 'slack';
  let outcome;
  try {
    outcome =
      verb === 'approve'
        ? await deps.approvals.approve(id, p.userId, where)
        : await deps.approvals.deny(id, p.userId, `denied in Slack by ${p.userId}`, where);
  } catch (err) {
    deps.logger?.warn({ err: describeError(err), id }, `${verb} failed`);
    // A Redis that did not answer in time may still record the decision when it wakes up: say so.
    const maybe =
      err instanceof RedisUnavailableError && /no answer within/.test(err.message)
        ? ' It may still be recorded when Redis answers. Pressing again once it does is safe: a decision ' +
          'already recorded is not recorded twice, and the answer says where the request stands.'
        : '';
    return {
      reply: ephemeral(`:warning: could not ${verb} request \`${id}\`: ${describeError(err)}.${maybe}`),
      outcome: maybe ? 'error:unconfirmed' : 'error',
    };
  }
  if (!outcome.ok) return { reply: ephemeral(`:no_entry: ${outcome.message}`), outcome: 'refused' };
  const icon = verb === 'approve' ? ':white_check_mark:' : ':x:';
  const when = (deps.now?.() ?? new Date()).toISOString();
  return {
    reply: decided(
      p,
      `${icon} ${verb === 'approve' ? 'Approved' : 'Denied'} by <@${p.userId}> at ${when}: ${outcome.message}`,
    ),
    outcome: verb === 'approve' ? 'approved' : 'denied',
  };
}

export function handleApproveButton(deps: BotDeps, p: ButtonPress): Promise<ActionOutcome> {
  return decide(deps, p, 'approve');
}

export function handleDenyButton(deps: BotDeps, p: ButtonPress): Promise<ActionOutcome> {
  return decide(deps, p, 'deny');
}

// ------------------------------------------------------------------ audit

/** Write a command to the audit log (best effort: a failure is logged, the answer was already sent). */
export async function auditCommand(
  deps: BotDeps,
  c: SlashCommandPayload,
  out: CommandOutcome,
): Promise<void> {
  if (!deps.audit) return;
  try {
    await deps.audit.append({
      who: c.user_id,
      what: 'command',
      cluster: out.cluster ?? null,
      where: `slack:${c.channel_id}`,
      outcome: out.outcome,
      jobId: out.enqueued?.jobId ?? null,
      details: { text: `${c.command} ${c.text ?? ''}`.trim(), via: 'bot' },
    });
  } catch (err) {
    deps.logger?.warn({ err: describeError(err) }, 'audit append failed (command)');
  }
}

/** Write a button press to the audit log (best effort). */
export async function auditPress(deps: BotDeps, p: ButtonPress, out: ActionOutcome): Promise<void> {
  if (!deps.audit) return;
  try {
    const value = p.value ?? '';
    await deps.audit.append({
      who: p.userId,
      what: 'button',
      cluster: out.cluster ?? null,
      where: p.channelId ? `slack:${p.channelId}` : 'slack',
      outcome: out.outcome,
      jobId: out.enqueued?.jobId ?? (/^rq-/.test(value) ? value : null),
      details: { action: p.actionId, value: value.slice(0, 500) },
    });
  } catch (err) {
    deps.logger?.warn({ err: describeError(err) }, 'audit append failed (button)');
  }
}

/** Which handler an action id goes to. */
export const BUTTON_HANDLERS = {
  [ACTIONS.repairRequest]: handleRepairRequestButton,
  [ACTIONS.repairApprove]: handleApproveButton,
  [ACTIONS.repairDeny]: handleDenyButton,
} as const;
