/**
 * Button listeners: `repair_request` (on findings), `repair_approve` / `repair_deny` (on plans). Each press is
 * acknowledged first, then handled, and answered through the press's response_url (ephemeral refusals; the
 * plan message is replaced with who decided). Every press is then written to the audit log.
 *
 * Before an Approve/Deny of someone allowed to decide reaches the approval store, the request's cluster is
 * looked up (Approvals.describe) and the press refused when it comes from a channel that cluster does not take
 * commands from (`commandChannels`): the buttons obey the same channel rule as `/fabric`, whatever request id a
 * button value names.
 */
import { inline, truncate } from '../../blocks.js';
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { describeError } from '../../../errors/index.js';
import { ACTIONS, type KnownBlock } from '../../blocks.js';
import {
  auditPress,
  BUTTON_HANDLERS,
  type ActionOutcome,
  type BotDeps,
  type ButtonPress,
} from '../../handlers.js';
import { allows, roleOf } from '../../roles.js';

export function pressOf(body: BlockAction<ButtonAction>, action: ButtonAction): ButtonPress {
  const message = body.message as { ts?: string; text?: string; blocks?: KnownBlock[] } | undefined;
  return {
    ...(body.team?.id ? { teamId: body.team.id } : {}),
    userId: body.user.id,
    ...(body.user.username ? { userName: body.user.username } : {}),
    ...(body.channel?.id ? { channelId: body.channel.id } : {}),
    actionId: action.action_id,
    ...(action.value !== undefined ? { value: action.value } : {}),
    actionTs: action.action_ts,
    triggerId: body.trigger_id,
    responseUrl: body.response_url,
    ...(message ? { message } : {}),
  };
}

/** Channels a cluster takes commands from: its own list, else the global one; null = any. */
function commandChannels(deps: BotDeps, cluster: string): string[] | null {
  const list =
    deps.inventory.clusters[cluster]?.slack?.commandChannels ?? deps.inventory.slack?.commandChannels;
  return list && list.length > 0 ? list : null;
}

/**
 * An Approve/Deny from a channel the request's cluster does not take commands from: the refusal, else null.
 * Only for users who may decide (others are refused by the handler without the store being asked).
 */
export async function decisionChannelRefusal(deps: BotDeps, p: ButtonPress): Promise<ActionOutcome | null> {
  if (p.actionId !== ACTIONS.repairApprove && p.actionId !== ACTIONS.repairDeny) return null;
  if (!allows(roleOf(deps.inventory, p.userId), 'approve')) return null;
  const describe = deps.approvals.describe;
  if (!describe || !p.value) return null;
  const request = await describe.call(deps.approvals, p.value);
  if (!request) return null; // the store says "no such request" itself
  const allowed = commandChannels(deps, request.cluster);
  if (!allowed || (p.channelId !== undefined && allowed.includes(p.channelId))) return null;
  return {
    reply: {
      response_type: 'ephemeral',
      text:
        `:no_entry: request \`${p.value}\` is for cluster ${request.cluster}, whose repairs are decided only in ` +
        `${allowed.map((id) => `<#${id}>`).join(', ')}: nothing was ${p.actionId === ACTIONS.repairApprove ? 'approved' : 'denied'}.`,
    },
    outcome: 'refused:channel',
    cluster: request.cluster,
  };
}

export function register(app: App, deps: BotDeps): void {
  for (const actionId of Object.values(ACTIONS)) {
    const handler = BUTTON_HANDLERS[actionId];
    app.action<BlockAction<ButtonAction>>(
      { action_id: actionId, type: 'block_actions' },
      async ({ ack, body, action, respond }) => {
        await ack();
        const press = pressOf(body, action);
        try {
          const out = (await decisionChannelRefusal(deps, press)) ?? (await handler(deps, press));
          await respond(out.reply);
          await auditPress(deps, press, out);
        } catch (err) {
          deps.logger?.error({ err: describeError(err), actionId }, 'button handler failed');
          // Usually Redis not answering: say what could not be done and how to find out where it stands.
          await respond({
            response_type: 'ephemeral',
            text:
              `:warning: could not handle this press${press.value ? ` on \`${inline(truncate(press.value, 80))}\`` : ''}: ` +
              `${inline(describeError(err))}. It may or may not have been recorded: check the request's thread (or ` +
              '`fabric-opsbot repair status`) before pressing again.',
          }).catch(() => undefined);
          await auditPress(deps, press, {
            reply: { response_type: 'ephemeral', text: '' },
            outcome: 'error',
          });
        }
      },
    );
  }
}
