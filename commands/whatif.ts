/** `whatif stop-broker <id>`: what stopping that broker would do, before anyone does it. */
import { InvalidArgumentError, type Command } from 'commander';
import { globalOptions, loadSelected, useColor, type CliContext } from '../src/cli/context.js';

function brokerId(value: string): number {
  if (!/^\d+$/.test(value))
    throw new InvalidArgumentError(`broker id must be a whole number, got "${value}"`);
  return Number(value);
}

export function register(program: Command, ctx: CliContext): void {
  const whatif = program
    .command('whatif')
    .description('what an action would do to the cluster, before doing it');
  whatif
    .command('stop-broker')
    .description(
      'partitions that would go offline, fall under min ISR or lose their leader if this broker stops',
    )
    .argument('<id>', 'broker id', brokerId)
    .addHelpText(
      'after',
      '\nExit codes: 0 safe, 1 leaders move, 2 partitions go offline or under min ISR, 3 could not check.',
    )
    .action(async (id: number, _opts: unknown, cmd: Command) => {
      const [{ whatIfStopBrokerOnCluster }, { renderWhatIf }] = await Promise.all([
        import('../src/ops/whatif.js'),
        import('../src/render/text.js'),
      ]);
      const { inventory, cluster } = loadSelected(cmd, ctx.io);
      const result = await whatIfStopBrokerOnCluster({ inventory, cluster, env: ctx.io.env, brokerId: id });
      if (globalOptions(cmd).json) ctx.io.out(`${JSON.stringify(result.whatif, null, 2)}\n`);
      else ctx.io.out(renderWhatIf(result.whatif, { color: useColor(ctx.io) }));
      ctx.exitCode = result.exitCode;
    });
}
