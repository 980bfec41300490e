/** `repair plan <kind> [args]`: the exact steps, preconditions and expected result of a repair. Changes nothing. */
import type { Command } from 'commander';
import { globalOptions, loadSelected, type CliContext } from '../src/cli/context.js';
import { REPAIR_KINDS } from '../src/repairs/registry.js';

export function register(program: Command, ctx: CliContext): void {
  const repair = program
    .command('repair')
    .description('repairs: dry-run plans (execution needs an approval)');
  const kinds = [...REPAIR_KINDS.values()]
    .map((k) => `  ${k.kind} ${k.usage}\n      ${k.summary}`)
    .join('\n');
  repair
    .command('plan')
    .description('dry run: the exact steps, preconditions and expected result; changes nothing')
    .argument('<kind>', 'repair kind')
    .argument('[args...]', 'arguments of the kind')
    .addHelpText(
      'after',
      `\nKinds:\n${kinds}\n\nExit codes: 0 the plan may run, 2 refused (see "refusal"), 3 could not check, 64 usage error.`,
    )
    .action(async (kind: string, args: string[], _opts: unknown, cmd: Command) => {
      const [{ planRepair }, { renderPlan }] = await Promise.all([
        import('../src/ops/repair-plan.js'),
        import('../src/render/plan.js'),
      ]);
      const { inventory, cluster } = loadSelected(cmd, ctx.io);
      const plan = await planRepair({ inventory, cluster, env: ctx.io.env, kind, args });
      ctx.io.out(globalOptions(cmd).json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlan(plan));
      ctx.exitCode = plan.refusal === null ? 0 : 2;
    });
}
