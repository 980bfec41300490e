/** Slash command listeners: `/fabric`. The handler answers through ack() (within Slack's 3 s). */
import type { App } from '@slack/bolt';
import { describeError } from '../../../errors/index.js';
import { handleFabricCommand, type BotDeps } from '../../handlers.js';

export const FABRIC_COMMAND = '/fabric';

export function register(app: App, deps: BotDeps): void {
  app.command(FABRIC_COMMAND, async ({ command, ack }) => {
    try {
      const { reply } = await handleFabricCommand(deps, command);
      await ack(reply);
    } catch (err) {
      deps.logger?.error({ err: describeError(err) }, '/fabric handler failed');
      await ack({ response_type: 'ephemeral', text: `:warning: internal error: ${describeError(err)}` });
    }
  });
}
