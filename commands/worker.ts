/** `worker`: run job workers against the inventory's Redis (any number, on any machine). Stops on SIGINT/SIGTERM. */
import { InvalidArgumentError, type Command } from 'commander';
import { globalOptions, type CliContext } from '../src/cli/context.js';
import { configPath, loadInventory } from '../src/config/index.js';
import { JOB_KINDS, QUEUES, type JobKind, type QueueName } from '../src/queue/jobs.js';
import { waitForSignal } from './bot.js';

function positive(value: string): number {
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError(`must be a whole number >= 1, got "${value}"`);
  return Number(value);
}

function queueList(value: string): QueueName[] {
  const known = Object.values(QUEUES) as string[];
  const list = value.split(',').map((s) => s.trim());
  for (const q of list)
    if (!known.includes(q))
      throw new InvalidArgumentError(`unknown queue "${q}" (have: ${known.join(', ')})`);
  return list as QueueName[];
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('worker')
    .description('run the job workers (any number, on any machine sharing the Redis)')
    .option('--concurrency <n>', 'command jobs at once in this process (default 4)', positive)
    .option('--checks-concurrency <n>', 'scheduled checks at once in this process (default 2)', positive)
    .option(
      '--timeout-seconds <s>',
      'time limit of every job but repairs (default: per kind, 15 s to 240 s)',
      positive,
    )
    .option('--repairs-concurrency <n>', 'repairs at once in this process (default 2)', positive)
    .option(
      '--queues <list>',
      `queues to work, comma-separated (default ${Object.values(QUEUES).join(',')})`,
      queueList,
    )
    .option('--no-schedules', 'do not sync the per-cluster check schedulers at start')
    .action(
      async (
        opts: {
          concurrency?: number;
          checksConcurrency?: number;
          repairsConcurrency?: number;
          timeoutSeconds?: number;
          queues?: QueueName[];
          schedules: boolean;
        },
        cmd: Command,
      ) => {
        const inventory = loadInventory(configPath(globalOptions(cmd).config, ctx.io.env, ctx.io.cwd));
        // A repair has no overall limit (its steps have their own): --timeout-seconds is for the other jobs.
        const timeoutsMs =
          opts.timeoutSeconds !== undefined
            ? (Object.fromEntries(
                JOB_KINDS.filter((k) => k !== 'repair-execute').map((k) => [k, opts.timeoutSeconds! * 1000]),
              ) as Partial<Record<JobKind, number>>)
            : undefined;
        const [{ startWorkers }, { redisAddress }, { repairApprovals }] = await Promise.all([
          import('../workers/index.js'),
          import('../src/redis.js'),
          import('../src/ops/repair-run.js'),
        ]);
        const running = await startWorkers({
          inventory,
          env: ctx.io.env,
          syncSchedules: opts.schedules,
          // The real approval store: repair-plan jobs propose into it, repair-execute jobs run what it approved
          // with each cluster's step handlers (defaultStepHandlers), and this process sweeps expiries.
          approvalStore: (d) => repairApprovals(inventory, d.redis, d.audit, d.enqueue),
          ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
          ...(opts.checksConcurrency !== undefined ? { checksConcurrency: opts.checksConcurrency } : {}),
          ...(opts.repairsConcurrency !== undefined ? { repairsConcurrency: opts.repairsConcurrency } : {}),
          ...(timeoutsMs ? { timeoutsMs } : {}),
          ...(opts.queues ? { queues: opts.queues } : {}),
        });
        const sched = running.schedules?.scheduled
          .map((s) => `${s.cluster} every ${s.everySeconds} s`)
          .join(', ');
        ctx.io.err(
          `fabric-opsbot worker: working ${running.workers.map((w) => w.name).join(', ')} at ${redisAddress(inventory.redis.url)}` +
            (running.schedules ? `; scheduled checks: ${sched || 'none'}` : '') +
            '\n',
        );
        const sig = await waitForSignal();
        ctx.io.err(`fabric-opsbot worker: ${sig}, finishing running jobs\n`);
        await running.close();
      },
    );
}
