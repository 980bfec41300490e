/** `worker`: run job workers against the inventory's Redis. */
import type { Command } from 'commander';
import type { CliContext } from '../src/cli/context.js';
import { notYet } from './not-yet.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('worker')
    .description('run the job workers (any number, on any machine sharing the Redis)')
    .action(() => notYet(ctx, 'worker'));
}
