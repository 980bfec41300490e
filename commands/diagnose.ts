/** `diagnose [--channel C]` and `status <channel>`. */
import type { Command } from 'commander';
import { loadSelected, globalOptions, useColor, type CliContext } from '../src/cli/context.js';

async function run(cmd: Command, ctx: CliContext, channel: string | undefined): Promise<void> {
  // Loaded here, not at start-up: every command pays only for what it uses.
  const [{ diagnose }, { renderText }] = await Promise.all([
    import('../src/ops/diagnose.js'),
    import('../src/render/text.js'),
  ]);
  const { inventory, cluster } = loadSelected(cmd, ctx.io);
  const result = await diagnose({
    inventory,
    cluster,
    env: ctx.io.env,
    ...(channel !== undefined ? { channel } : {}),
  });
  if (globalOptions(cmd).json) ctx.io.out(`${JSON.stringify(result.report, null, 2)}\n`);
  else ctx.io.out(renderText(result.report, { color: useColor(ctx.io) }));
  ctx.exitCode = result.exitCode;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('diagnose')
    .description('full check of one cluster (or one channel: its topic and its orderers)')
    .option('--channel <channel>', 'only this Fabric channel')
    .addHelpText('after', '\nExit codes: 0 ok, 1 warning, 2 critical, 3 could not check, 64 usage error.')
    .action(async (opts: { channel?: string }, cmd: Command) => run(cmd, ctx, opts.channel));

  program
    .command('status')
    .description(
      "one Fabric channel: its partition's leader and ISR, offsets against what the orderers expect",
    )
    .argument('<channel>', 'Fabric channel (= Kafka topic)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 warning, 2 critical, 3 could not check, 64 usage error.')
    .action(async (channel: string, _opts: unknown, cmd: Command) => run(cmd, ctx, channel));
}
