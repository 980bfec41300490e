/** `audit tail [-n N]`, `audit verify`: the hash-chained audit log in Redis. */
import type { Command } from 'commander';
import type { CliContext } from '../src/cli/context.js';
import { notYet } from './not-yet.js';

export function register(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('read and verify the audit log');
  audit
    .command('tail')
    .description('the newest audit entries')
    .option('-n <count>', 'how many entries', '20')
    .action(() => notYet(ctx, 'audit tail'));
  audit
    .command('verify')
    .description("verify the audit log's hash chain (exit 0 intact, 2 broken)")
    .action(() => notYet(ctx, 'audit verify'));
}
