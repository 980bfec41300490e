/** Commands of the contract whose implementation has not landed yet say so plainly (exit 3). */
import type { CliContext } from '../src/cli/context.js';

export function notYet(ctx: CliContext, what: string): void {
  ctx.io.err(`fabric-opsbot: ${what} is not available in this build yet\n`);
  ctx.exitCode = 3;
}
