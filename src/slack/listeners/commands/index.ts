/**
 * Slash command listeners: `/fabric`. The handler answers through ack() (within Slack's 3 s); then the command is
 * written to the audit log (who, what, cluster, where, outcome, job id).
 */
import type { App } from '@slack/bolt';
import { describeError } from '../../../errors/index.js';
import { auditCommand, handleFabricCommand, type BotDeps } from '../../handlers.js';

export const FABRIC_COMMAND = '/fabric';

export function register(app: App, deps: BotDeps): void {
  app.command(FABRIC_COMMAND, async ({ command, ack }) => {
    try {
      const out = await handleFabricCommand(deps, command);
      await ack(out.reply);
      // After the answer: the audit append does not count against Slack's 3 s.
      await auditCommand(deps, command, out);
    } catch (err) {
      deps.logger?.error({ err: describeError(err) }, '/fabric handler failed');
      await ack({ response_type: 'ephemeral', text: `:warning: internal error: ${describeError(err)}` });
      await auditCommand(deps, command, {
        reply: { response_type: 'ephemeral', text: '' },
        outcome: 'error',
      });
    }
  });
}
