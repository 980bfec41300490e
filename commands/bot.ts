/** `bot`: run the Slack app (Socket Mode by default, `--http` for the HTTP receiver). Stops on SIGINT/SIGTERM. */
import { InvalidArgumentError, type Command } from 'commander';
import { globalOptions, type CliContext } from '../src/cli/context.js';
import { configPath, loadInventory } from '../src/config/index.js';
import { UsageError } from '../src/errors/index.js';

function port(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535)
    throw new InvalidArgumentError(`not a port: "${value}"`);
  return Number(value);
}

export function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    process.once('SIGINT', on('SIGINT'));
    process.once('SIGTERM', on('SIGTERM'));
  });
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('bot')
    .description('run the Slack app (Socket Mode by default; --http for the HTTP receiver)')
    .option('--http', 'receive Slack requests over HTTP on /slack/events (needs SLACK_SIGNING_SECRET)')
    .option('--socket', 'use Socket Mode (needs SLACK_APP_TOKEN); the default unless slack.mode says http')
    .option('--port <port>', 'HTTP port (default slack.port, 3000)', port)
    .option('--host <address>', 'HTTP address to listen on (default all interfaces)')
    .addHelpText(
      'after',
      '\nSecrets come from the environment: SLACK_BOT_TOKEN, and SLACK_APP_TOKEN (socket) or SLACK_SIGNING_SECRET\n' +
        '(http), or the variables slack.*Env name. The bot only queues work: run `fabric-opsbot worker` too.',
    )
    .action(
      async (opts: { http?: boolean; socket?: boolean; port?: number; host?: string }, cmd: Command) => {
        if (opts.http && opts.socket) throw new UsageError('--http and --socket exclude each other');
        // Bolt, BullMQ and ioredis are loaded only by the commands that use them.
        const [
          { createProducer, noticeEnqueuer, repairEnqueuer },
          { createRedis, redisAddress },
          { createSlackBot, resolveSlackMode, slackCredentials },
          { auditLogFor },
          { repairApprovals },
          { slackApprovals },
          { createLogger },
        ] = await Promise.all([
          import('../src/queue/index.js'),
          import('../src/redis.js'),
          import('../src/slack/app.js'),
          import('../src/audit/index.js'),
          import('../src/ops/repair-run.js'),
          import('../src/slack/approvals.js'),
          import('../src/log.js'),
        ]);
        const inventory = loadInventory(configPath(globalOptions(cmd).config, ctx.io.env, ctx.io.cwd));
        const mode = resolveSlackMode(inventory, opts.http ? 'http' : opts.socket ? 'socket' : undefined);
        slackCredentials(inventory, ctx.io.env, mode); // missing tokens: say so before anything else
        // Fail-fast connection, connecting in the background: with Redis down the bot still answers
        // ("nothing was queued: cannot reach Redis at ...") and heals when Redis is back.
        const connection = createRedis(inventory.redis, {
          flavour: 'request',
          env: ctx.io.env,
          connectionName: 'fabric-opsbot:bot',
        });
        connection.connect().catch(() => undefined);
        const producer = createProducer({ connection, prefix: inventory.redis.prefix, ownsConnection: true });
        // The real approval flow: the buttons decide in the approval store (Redis, audited); the approval that
        // completes a request queues its execution (job repair-<request id>) for a worker; decisions are told
        // in the plan's thread by a worker (repair-notice jobs). Commands and presses go to the audit log.
        const audit = auditLogFor(connection, inventory);
        const logger = createLogger('slack');
        const approvals = slackApprovals(
          repairApprovals(inventory, connection, audit, repairEnqueuer(producer)),
          { notify: noticeEnqueuer(producer), logger },
        );
        const bot = createSlackBot({
          inventory,
          env: ctx.io.env,
          producer,
          approvals,
          audit,
          logger,
          mode,
          ...(opts.port !== undefined ? { port: opts.port } : {}),
          ...(opts.host !== undefined ? { host: opts.host } : {}),
        });
        try {
          const started = await bot.start();
          ctx.io.err(
            `fabric-opsbot bot: ${mode === 'http' ? `listening on port ${started.port} (/slack/events)` : 'connected (Socket Mode)'}` +
              `, queueing to Redis at ${redisAddress(inventory.redis.url)}\n`,
          );
          const sig = await waitForSignal();
          ctx.io.err(`fabric-opsbot bot: ${sig}, stopping\n`);
        } finally {
          await bot.stop().catch(() => undefined);
          await producer.close();
        }
      },
    );
}
