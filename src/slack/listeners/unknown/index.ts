/**
 * Everything interactive the bot did not post: slash commands other than /fabric, block actions with other
 * action ids, shortcuts, modal submissions and closes, option requests. The bot registers none of these, so a payload of this kind is a
 * stale or forged one: it is acknowledged at once (Slack would otherwise retry, and Bolt answer 404 after 3 s),
 * nothing is done, and it is written to the audit log as refused.
 */
import type { App, BlockAction } from '@slack/bolt';
import { describeError } from '../../../errors/index.js';
import { ACTIONS } from '../../blocks.js';
import type { BotDeps } from '../../handlers.js';
import { FABRIC_COMMAND } from '../commands/index.js';

const KNOWN_ACTIONS = Object.values(ACTIONS) as string[];
/** Any action id but the bot's own. */
const OTHER_ACTION = new RegExp(
  `^(?!(?:${KNOWN_ACTIONS.map((a) => a.replace(/[^a-z0-9_]/g, '')).join('|')})$)`,
);

interface Payload {
  user?: { id?: string };
  channel?: { id?: string };
  callback_id?: string;
  view?: { callback_id?: string };
  actions?: { action_id?: string }[];
}

async function refuse(deps: BotDeps, what: string, body: Payload): Promise<void> {
  const id = body.actions?.[0]?.action_id ?? body.callback_id ?? body.view?.callback_id ?? '';
  deps.logger?.info({ what, id, user: body.user?.id }, 'ignored an interaction this bot never offered');
  if (!deps.audit) return;
  try {
    await deps.audit.append({
      who: body.user?.id ?? 'unknown',
      what,
      cluster: null,
      where: body.channel?.id ? `slack:${body.channel.id}` : 'slack',
      outcome: 'refused:unknown',
      jobId: null,
      details: { id: id.slice(0, 255) },
    });
  } catch (err) {
    deps.logger?.warn({ err: describeError(err) }, `audit append failed (${what})`);
  }
}

export function register(app: App, deps: BotDeps): void {
  app.command(new RegExp(`^(?!${FABRIC_COMMAND}$)`), async ({ ack, command }) => {
    await ack({ response_type: 'ephemeral', text: `:warning: this bot answers only \`${FABRIC_COMMAND}\`` });
    await refuse(deps, 'command', {
      user: { id: command.user_id },
      channel: { id: command.channel_id },
      callback_id: command.command,
    });
  });
  app.action<BlockAction>({ type: 'block_actions', action_id: OTHER_ACTION }, async ({ ack, body }) => {
    await ack();
    await refuse(deps, 'button', body as Payload);
  });
  app.shortcut(/.*/, async ({ ack, body }) => {
    await ack();
    await refuse(deps, 'shortcut', body as Payload);
  });
  app.view({ callback_id: /.*/, type: 'view_submission' }, async ({ ack, body }) => {
    await ack();
    await refuse(deps, 'view', body as Payload);
  });
  app.view({ callback_id: /.*/, type: 'view_closed' }, async ({ ack, body }) => {
    await ack();
    await refuse(deps, 'view', body as Payload);
  });
  app.options(/.*/, async ({ ack, body }) => {
    await ack({ options: [] });
    await refuse(deps, 'options', body as Payload);
  });
}
