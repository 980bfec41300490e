/**
 * `repair plan <kind> [args]`: the exact steps, preconditions and expected result of a repair. Changes nothing.
 *
 * The approval flow without Slack (the same store, rules and audit log as the Slack buttons):
 *   repair request <kind> [args]   propose a plan for approval (prints the plan and the request id)
 *   repair approve <id>            approve (an approver, not the requester; dangerous kinds need two): the
 *                                  execution is queued for a worker (job repair-<id>)
 *   repair deny <id> --reason R    deny (an approver), or withdraw (the requester)
 *   repair status <id>             the request, its approvals, and its execution step by step
 *   repair run <id>                execute an approved request in this process (or leave it to a worker)
 *   repair resolve <id> ...        after "needs-operator": say whether the interrupted step happened
 *
 * Who: the OS user ($USER, else $LOGNAME), with the role `cli.users` gives it in the inventory.
 * Exit codes: 0 done, 1 (run) the request is being executed elsewhere, 2 refused / not found / the repair did
 * not end well, 3 Redis unreachable or the cluster could not be checked, 64 usage error.
 */
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import type { Approvals as ApprovalStore, RepairRequest } from '../src/approvals/index.js';
import type { AuditLog } from '../src/audit/index.js';
import { cliUser, globalOptions, loadSelected, type CliContext } from '../src/cli/context.js';
import { EXIT_NO_REDIS, withCliRedis } from '../src/cli/redis.js';
import { configPath, loadInventory, type Inventory } from '../src/config/index.js';
import { UsageError } from '../src/errors/index.js';
import type { Producer } from '../src/queue/index.js';
import { REPAIR_KINDS } from '../src/repairs/registry.js';

export const EXIT_REFUSED = 2;
export { EXIT_NO_REDIS };
export const EXIT_ELSEWHERE = 1;

interface Flow {
  inventory: Inventory;
  redis: Redis;
  audit: AuditLog;
  store: ApprovalStore;
  producer: Producer;
  user: string;
  /** Write the CLI command itself to the audit log. */
  record(what: string, outcome: string, jobId: string | null, cluster: string | null): Promise<void>;
}

/** Load the inventory, connect to its Redis, build the approval store (queueing to the workers), run, close. */
async function withFlow(
  cmd: Command,
  ctx: CliContext,
  flavour: 'request' | 'worker',
  fn: (f: Flow) => Promise<void>,
): Promise<void> {
  const inventory = loadInventory(configPath(globalOptions(cmd).config, ctx.io.env, ctx.io.cwd));
  const [{ auditLogFor }, queue, { repairApprovals }] = await Promise.all([
    import('../src/audit/index.js'),
    import('../src/queue/index.js'),
    import('../src/ops/repair-run.js'),
  ]);
  await withCliRedis(ctx, inventory, flavour, async (redis) => {
    const producer = queue.createProducer({
      connection: redis,
      prefix: inventory.redis.prefix,
      timeoutMs: 5000,
    });
    try {
      const audit = auditLogFor(redis, inventory, 0);
      const store = repairApprovals(inventory, redis, audit, queue.repairEnqueuer(producer));
      const user = cliUser(ctx.io);
      const text =
        `fabric-opsbot ${cmd.parent?.name() ?? 'repair'} ${cmd.name()} ${cmd.args.join(' ')}`.trim();
      await fn({
        inventory,
        redis,
        audit,
        store,
        producer,
        user,
        async record(what, outcome, jobId, cluster) {
          await audit.append({ who: user, what, cluster, where: 'cli', outcome, jobId, details: { text } });
        },
      });
    } finally {
      await producer.close();
    }
  });
}

/** Tell a Slack thread about a CLI decision (a worker posts it); best effort. */
async function notice(
  f: Flow,
  ctx: CliContext,
  request: RepairRequest,
  event: 'recorded' | 'approved' | 'denied',
  message: string,
): Promise<void> {
  const [{ noticeEnqueuer }, { getThread }] = await Promise.all([
    import('../src/queue/index.js'),
    import('../src/slack/repairs.js'),
  ]);
  if ((await getThread(f.redis, f.inventory.redis.prefix, request.id)) === null) return; // not asked in Slack
  await noticeEnqueuer(f.producer)({ request, event, who: f.user, where: 'cli', message }).catch(
    (err: unknown) =>
      ctx.io.err(`fabric-opsbot: warning: the Slack thread will not be told (${(err as Error).message})\n`),
  );
}

function requestId(id: string): string {
  if (!/^rq-[a-z0-9]+-[0-9a-f]{10}$/.test(id)) {
    throw new UsageError(`"${id}" is not a request id (they look like rq-lx2k9a1b-0123456789)`);
  }
  return id;
}

export function register(program: Command, ctx: CliContext): void {
  const repair = program
    .command('repair')
    .description('repairs: dry-run plans, and the approval flow (request, approve/deny, run)');
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

  repair
    .command('request')
    .description('propose a repair for approval: prints the plan (a dry run) and the request id')
    .argument('<kind>', 'repair kind')
    .argument('[args...]', 'arguments of the kind')
    .addHelpText(
      'after',
      `\nKinds:\n${kinds}\n\nNeeds the operator role (cli.users in the inventory, for $USER). Someone else with the approver\n` +
        'role approves it (`repair approve <id>`, or the Approve button when asked in Slack) before it expires.\n' +
        'Exit codes: 0 requested, 2 refused (plan refused, or not allowed), 3 could not check, 64 usage error.',
    )
    .action(async (kind: string, args: string[], _opts: unknown, cmd: Command) => {
      const [{ planRepair }, { renderPlan }] = await Promise.all([
        import('../src/ops/repair-plan.js'),
        import('../src/render/plan.js'),
      ]);
      const { inventory, cluster } = loadSelected(cmd, ctx.io);
      const json = globalOptions(cmd).json;
      await withFlow(cmd, ctx, 'request', async (f) => {
        const plan = await planRepair({ inventory, cluster, env: ctx.io.env, kind, args });
        const r = await f.store.requestRepair({
          plan,
          requester: f.user,
          cluster: cluster.name,
          where: 'cli',
        });
        await f.record('command', r.ok ? 'requested' : `refused:${r.code}`, r.ok ? r.id : null, cluster.name);
        if (json) {
          ctx.io.out(
            `${JSON.stringify(r.ok ? { requestId: r.id, request: r.request, plan } : { requestId: null, refused: r.message, plan }, null, 2)}\n`,
          );
        } else {
          ctx.io.out(renderPlan(plan));
          if (r.ok) {
            ctx.io.out(
              `\nrequest ${r.id}: pending, needs ${r.request.approvalsNeeded} approval(s) from someone else with the ` +
                `approver role before ${r.request.expiresAt}\n` +
                `  approve: fabric-opsbot repair approve ${r.id}\n` +
                `  status:  fabric-opsbot repair status ${r.id}\n`,
            );
          }
        }
        if (!r.ok) {
          ctx.io.err(`fabric-opsbot: not requested: ${r.message}\n`);
          ctx.exitCode = EXIT_REFUSED;
        }
      });
    });

  repair
    .command('approve')
    .description('approve a pending request (an approver who did not request it); the approval queues it')
    .argument('<id>', 'request id (rq-...)')
    .addHelpText(
      'after',
      '\nThe approval that completes a request queues its execution for a worker (job repair-<id>); without\n' +
        'workers, run it here with `repair run <id>`. Exit codes: 0 approved or recorded, 2 refused, 3 no Redis.',
    )
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      requestId(id);
      await withFlow(cmd, ctx, 'request', async (f) => {
        const r = await f.store.approve(id, f.user, 'cli');
        const cluster = r.ok ? r.request.cluster : null;
        const outcome = !r.ok ? `refused:${r.code}` : r.status === 'recorded' ? 'recorded' : 'approved';
        const { repairJobId } = await import('../src/queue/index.js');
        await f.record('command', outcome, id, cluster);
        if (!r.ok) {
          ctx.io.err(`fabric-opsbot: not approved: ${r.message}\n`);
          ctx.exitCode = EXIT_REFUSED;
          return;
        }
        let message: string;
        if (r.status === 'recorded') {
          message = `approval ${r.approvals} of ${r.needed} recorded: another approver is needed`;
          await notice(f, ctx, r.request, 'recorded', message);
        } else {
          message = r.enqueued
            ? `approved: queued as job ${repairJobId(id)} for a worker (or run it here: fabric-opsbot repair run ${id})`
            : `approved, but not queued (${r.enqueueError ?? 'no queue'}): run it with fabric-opsbot repair run ${id}`;
          await notice(f, ctx, r.request, 'approved', message);
        }
        if (globalOptions(cmd).json) ctx.io.out(`${JSON.stringify({ ...r, message }, null, 2)}\n`);
        else ctx.io.out(`${message}\n`);
      });
    });

  repair
    .command('deny')
    .description('deny a pending request (an approver), or withdraw your own')
    .argument('<id>', 'request id (rq-...)')
    .requiredOption('--reason <text>', 'why (recorded in the audit log and told in the Slack thread)')
    .addHelpText('after', '\nExit codes: 0 denied, 2 refused, 3 no Redis, 64 usage error.')
    .action(async (id: string, opts: { reason: string }, cmd: Command) => {
      requestId(id);
      if (opts.reason.trim() === '') throw new UsageError('--reason must say why');
      await withFlow(cmd, ctx, 'request', async (f) => {
        const r = await f.store.deny(id, f.user, opts.reason, 'cli');
        await f.record('command', r.ok ? 'denied' : `refused:${r.code}`, id, r.ok ? r.request.cluster : null);
        if (!r.ok) {
          ctx.io.err(`fabric-opsbot: not denied: ${r.message}\n`);
          ctx.exitCode = EXIT_REFUSED;
          return;
        }
        const message = `request ${id} ${f.user === r.request.requester ? 'withdrawn' : 'denied'}`;
        await notice(f, ctx, r.request, 'denied', message);
        if (globalOptions(cmd).json) ctx.io.out(`${JSON.stringify({ ...r, message }, null, 2)}\n`);
        else ctx.io.out(`${message}\n`);
      });
    });

  repair
    .command('status')
    .description('a request: its plan, approvals, and its execution step by step')
    .argument('<id>', 'request id (rq-...)')
    .addHelpText('after', '\nExit codes: 0 found, 2 no such request, 3 no Redis, 64 usage error.')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      requestId(id);
      await withFlow(cmd, ctx, 'request', async (f) => {
        const [{ RepairExecutor }, { renderRequest }] = await Promise.all([
          import('../src/repairs/executor.js'),
          import('../src/ops/repair-run.js'),
        ]);
        const request = await f.store.get(id);
        if (request === null) {
          ctx.io.err(`fabric-opsbot: no repair request ${id} (never existed, or too old)\n`);
          ctx.exitCode = EXIT_REFUSED;
          return;
        }
        const reader = new RepairExecutor({
          redis: f.redis,
          prefix: f.inventory.redis.prefix,
          audit: f.audit,
          handlers: {},
          workerId: 'cli',
        });
        const execution = await reader.state(id, request.plan);
        if (globalOptions(cmd).json) ctx.io.out(`${JSON.stringify({ request, execution }, null, 2)}\n`);
        else ctx.io.out(renderRequest(request, execution));
      });
    });

  repair
    .command('run')
    .description('execute an approved request in this process: re-plan and compare, run the steps, verify')
    .argument('<id>', 'request id (rq-...)')
    .option('--lock-ttl-seconds <s>', 'how long a crashed run keeps others out (default 30)', (v) => {
      if (!/^\d{1,5}$/.test(v) || Number(v) < 1) throw new UsageError(`not a number of seconds: "${v}"`);
      return Number(v);
    })
    .addHelpText(
      'after',
      '\nOnly an approved request runs; one process at a time (a worker may hold it: exit 1); a request that\n' +
        'already ended prints its result. Ctrl-C stops at once; `repair run` again (or a worker) resumes without\n' +
        'repeating a step that is not idempotent.\n' +
        'Exit codes: 0 done and verified, 1 running elsewhere or interrupted, 2 not run / failed / changed /\n' +
        'needs an operator / verification failed, 3 no Redis, 64 usage error.',
    )
    .action(async (id: string, opts: { lockTtlSeconds?: number }, cmd: Command) => {
      requestId(id);
      await withFlow(cmd, ctx, 'worker', async (f) => {
        const { defaultRepairOps, executorFactory, renderRequest, runRequest } =
          await import('../src/ops/repair-run.js');
        const json = globalOptions(cmd).json;
        const stop = new AbortController();
        const onSig = () => stop.abort();
        process.once('SIGINT', onSig);
        try {
          const executorFor = executorFactory({
            redis: f.redis,
            inventory: f.inventory,
            audit: f.audit,
            env: ctx.io.env,
            workerId: `cli:${f.user}`,
            ...(opts.lockTtlSeconds !== undefined ? { lockTtlMs: opts.lockTtlSeconds * 1000 } : {}),
          });
          const { request, result } = await runRequest({
            approvals: f.store,
            executorFor,
            inventory: f.inventory,
            ops: defaultRepairOps(f.inventory, ctx.io.env),
            requestId: id,
            signal: stop.signal,
            onStep: (e) => {
              if (json || e.phase === 'start') return;
              ctx.io.err(
                `  ${e.phase === 'skip' ? 'skip' : e.phase} ${e.index + 1}. ${e.step.description}\n`,
              );
            },
          });
          await f.record('command', result.status, id, request?.cluster ?? null);
          if (json) ctx.io.out(`${JSON.stringify({ request, result }, null, 2)}\n`);
          else {
            ctx.io.out(`${result.status}: ${result.message}\n`);
            if (request) ctx.io.out(renderRequest(request, { ...result, status: result.status }));
          }
          ctx.exitCode =
            result.status === 'done'
              ? 0
              : result.status === 'locked' || result.status === 'aborted'
                ? EXIT_ELSEWHERE
                : EXIT_REFUSED;
        } finally {
          process.off('SIGINT', onSig);
        }
      });
    });

  repair
    .command('resolve')
    .description('after "needs-operator": mark the interrupted step done (it happened) or to be re-run')
    .argument('<id>', 'request id (rq-...)')
    .requiredOption('--step <n>', 'the step number the result named', (v) => {
      if (!/^\d{1,4}$/.test(v) || Number(v) < 1)
        throw new UsageError(`--step must be a step number, not "${v}"`);
      return Number(v);
    })
    .option('--done', 'the step completed: skip it')
    .option('--rerun', 'the step did not happen: run it again')
    .addHelpText('after', '\nNeeds the approver role. Then `repair run <id>` (or a worker) goes on.')
    .action(async (id: string, opts: { step: number; done?: boolean; rerun?: boolean }, cmd: Command) => {
      requestId(id);
      if (Boolean(opts.done) === Boolean(opts.rerun)) throw new UsageError('say --done or --rerun');
      await withFlow(cmd, ctx, 'request', async (f) => {
        const [{ RepairExecutor }, { repairRoles }, { hasRole }] = await Promise.all([
          import('../src/repairs/executor.js'),
          import('../src/ops/repair-run.js'),
          import('../src/approvals/index.js'),
        ]);
        const role = repairRoles(f.inventory)(f.user);
        const request = await f.store.get(id);
        if (!hasRole(role, 'approver') || request === null) {
          await f.record('command', request === null ? 'refused:not-found' : 'refused:role', id, null);
          ctx.io.err(
            `fabric-opsbot: ${request === null ? `no repair request ${id}` : `${f.user} may not resolve steps: that needs the approver role (has: ${role})`}\n`,
          );
          ctx.exitCode = EXIT_REFUSED;
          return;
        }
        const ex = new RepairExecutor({
          redis: f.redis,
          prefix: f.inventory.redis.prefix,
          audit: f.audit,
          handlers: {},
          workerId: `cli:${f.user}`,
        });
        const r = await ex.resolveStep(id, request.plan, opts.step - 1, opts.done ? 'done' : 'rerun', f.user);
        ctx.io.out(`${r.message}\n`);
        if (!r.ok) ctx.exitCode = EXIT_REFUSED;
      });
    });
}
