/** Every listener kind, registered in one place. */
import type { App } from '@slack/bolt';
import type { BotDeps } from '../handlers.js';
import { register as registerActions } from './actions/index.js';
import { register as registerCommands } from './commands/index.js';

export function registerListeners(app: App, deps: BotDeps): void {
  registerCommands(app, deps);
  registerActions(app, deps);
}
