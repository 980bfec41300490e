/** `demo`: the quick start's main job: the lab, a fault, a signed /fabric status through Bolt, queue and worker. */
import type { Command } from 'commander';
import type { CliContext } from '../src/cli/context.js';
import { DEFAULT_KAFKA_VERSION, defaultWorkDir } from '../src/lab/options.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description(
      'bring up the local lab, break it, and watch /fabric status pubchain go through the real Slack app, queue and worker',
    )
    .option('--work-dir <dir>', 'the lab to use', defaultWorkDir())
    .option('--kafka-version <version>', 'Kafka release for the lab', DEFAULT_KAFKA_VERSION)
    .option('--down', 'stop the lab at the end')
    .action(async (opts: { workDir: string; kafkaVersion: string; down?: boolean }) => {
      const { runDemo } = await import('../src/demo.js');
      ctx.exitCode = await runDemo(ctx.io, opts);
    });
}
