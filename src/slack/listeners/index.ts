/** Every listener kind, registered in one place: /fabric, the bot's buttons, and a refusal for anything else. */
import type { App } from '@slack/bolt';
import type { BotDeps } from '../handlers.js';
import { register as registerActions } from './actions/index.js';
import { register as registerCommands } from './commands/index.js';
import { register as registerUnknown } from './unknown/index.js';

export function registerListeners(app: App, deps: BotDeps): void {
  registerCommands(app, deps);
  registerActions(app, deps);
  // Last: whatever the bot never offered is acknowledged, refused and audited.
  registerUnknown(app, deps);
}
