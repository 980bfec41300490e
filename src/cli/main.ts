/**
 * The `fabric-opsbot` command line. Exit codes: diagnose/status/whatif follow Nagios (0 ok, 1 warning,
 * 2 critical, 3 could not check); a usage error exits 64 with one line on stderr.
 */
import { Command, CommanderError } from 'commander';
import { register as registerAudit } from '../../commands/audit.js';
import { register as registerBot } from '../../commands/bot.js';
import { register as registerDemo } from '../../commands/demo.js';
import { register as registerDiagnose } from '../../commands/diagnose.js';
import { register as registerLab } from '../../commands/lab.js';
import { register as registerRepair } from '../../commands/repair.js';
import { register as registerWhatif } from '../../commands/whatif.js';
import { register as registerWorker } from '../../commands/worker.js';
import { ConfigError, describeError, NotFoundError, UsageError } from '../errors/index.js';
import type { CliContext, CliIo } from './context.js';

export const EXIT_USAGE = 64;
export const EXIT_UNKNOWN = 3;

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('fabric-opsbot')
    .description("Diagnose and repair Hyperledger Fabric's Kafka/ZooKeeper ordering service")
    .option('--config <path>', 'inventory file (else $FABRIC_OPSBOT_CONFIG, else ./fabric-opsbot.yaml)')
    .option('--cluster <name>', 'cluster of the inventory (else its defaultCluster)')
    .option('--json', 'machine output on stdout, nothing else on stdout')
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.out(s),
      writeErr: () => undefined, // errors are reported by main() as one line
    });
  for (const register of [
    registerDiagnose,
    registerWhatif,
    registerRepair,
    registerAudit,
    registerBot,
    registerWorker,
    registerLab,
    registerDemo,
  ]) {
    register(program, ctx);
  }
  // Subcommands inherit the same error handling.
  const inherit = (cmd: Command) => {
    for (const sub of cmd.commands) {
      sub.exitOverride().configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: () => undefined });
      sub.showSuggestionAfterError(false);
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

function defaultIo(): CliIo {
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    env: process.env,
    cwd: process.cwd(),
    isTTY: process.stdout.isTTY === true,
  };
}

export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const ctx: CliContext = { io, exitCode: 0 };
  const program = buildProgram(ctx);
  if (argv.length === 0) {
    io.err(program.helpInformation());
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.help' ||
        err.code === 'commander.version'
      ) {
        return 0;
      }
      io.err(`fabric-opsbot: ${err.message.replace(/^error: /, '')} (see --help)\n`);
      return EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      io.err(`fabric-opsbot: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      io.err(`fabric-opsbot: ${err.message}\n`);
      return EXIT_UNKNOWN;
    }
    if (err instanceof NotFoundError) {
      io.err(`fabric-opsbot: ${err.message}\n`);
      return EXIT_USAGE;
    }
    io.err(`fabric-opsbot: ${describeError(err)}\n`);
    return EXIT_UNKNOWN;
  }
}
