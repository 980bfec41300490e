/**
 * Button listeners: `repair_request` (on findings), `repair_approve` / `repair_deny` (on plans). Each press is
 * acknowledged first, then handled, and answered through the press's response_url (ephemeral refusals; the
 * plan message is replaced with who decided). Every press is then written to the audit log.
 */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { describeError } from '../../../errors/index.js';
import { ACTIONS, type KnownBlock } from '../../blocks.js';
import { auditPress, BUTTON_HANDLERS, type BotDeps, type ButtonPress } from '../../handlers.js';

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

export function register(app: App, deps: BotDeps): void {
  for (const actionId of Object.values(ACTIONS)) {
    const handler = BUTTON_HANDLERS[actionId];
    app.action<BlockAction<ButtonAction>>(
      { action_id: actionId, type: 'block_actions' },
      async ({ ack, body, action, respond }) => {
        await ack();
        const press = pressOf(body, action);
        try {
          const out = await handler(deps, press);
          await respond(out.reply);
          await auditPress(deps, press, out);
        } catch (err) {
          deps.logger?.error({ err: describeError(err), actionId }, 'button handler failed');
          await respond({
            response_type: 'ephemeral',
            text: `:warning: internal error: ${describeError(err)}`,
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
