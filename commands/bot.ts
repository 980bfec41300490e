/** `bot`: run the Slack app. */
import type { Command } from 'commander';
import type { CliContext } from '../src/cli/context.js';
import { notYet } from './not-yet.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('bot')
    .description('run the Slack app (Socket Mode by default)')
    .action(() => notYet(ctx, 'bot'));
}
