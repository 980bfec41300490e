/**
 * Approval-gated repairs, the parts the Slack workers and the CLI share:
 *
 *   request (operator) -> plan (dry run) -> approval by someone else (approver; two for dangerous kinds; before
 *   it expires; once) -> execution: re-plan on a fresh snapshot (any difference stops it), the steps with the
 *   worker's step handlers, verification on another fresh snapshot -> result.
 *
 * - `repairRoles` / `repairApprovals`: the approval store of an inventory (src/approvals) with one role lookup for
 *   Slack user ids (slack.users) and OS users of the CLI (cli.users), so that a request made in one place can be
 *   decided in the other under the same rules.
 * - `planRepairFromArgs`: a plan from named arguments (Slack's `/fabric repair pad-channel pubchain` gives
 *   `{channel: "pubchain"}`; an approved plan's own `args` when re-planning), validated by the kind's parser.
 * - `verifyRepairPlan`: the kind's `verify` on a fresh snapshot.
 * - `runRequest`: execute an approved request with a RepairExecutor (what the worker's `repair-execute` job and
 *   `repair run <id>` call).
 */
import type { Redis } from 'ioredis';
import {
  Approvals,
  approvalsFor,
  type EffectiveRole,
  type RepairRequest,
  type RoleLookup,
} from '../approvals/index.js';
import type { AuditLog } from '../audit/index.js';
import { readSecrets, selectCluster, type Inventory, type SelectedCluster } from '../config/index.js';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log.js';
import type { ClusterSnapshot, RepairPlan } from '../model/index.js';
import {
  executeApproved,
  RepairExecutor,
  type ExecutionResult,
  type StepEvent,
  type VerifyOutcome,
} from '../repairs/executor.js';
import type { RepairKind } from '../repairs/registry.js';
import type { StepHandlers } from '../repairs/steps.js';

// The gatherers, planners and handlers are loaded on first use: the bot imports this module for the approval
// store and must not load them.

// ------------------------------------------------------------------ who may do what

const SLACK_ID = /^[UW][A-Z0-9]+$/;

/**
 * Roles for repairs: a Slack user id from slack.users (else slack.defaultRole), an OS user from cli.users (else
 * cli.defaultRole); "none" otherwise.
 */
export function repairRoles(inventory: Pick<Inventory, 'slack' | 'cli'>): (who: string) => EffectiveRole {
  return (who) => {
    const slack = inventory.slack?.users[who];
    if (slack) return slack;
    const cli = inventory.cli?.users[who];
    if (cli) return cli;
    if (SLACK_ID.test(who)) return inventory.slack?.defaultRole ?? 'none';
    return inventory.cli?.defaultRole ?? 'none';
  };
}

/**
 * The approval store of an inventory (approvalsFor: TTL per cluster, dangerous kinds from slack.dangerousRepairs)
 * with the roles of both Slack and the CLI. `enqueue` queues the execution (see repairEnqueuer in src/queue).
 */
export function repairApprovals(
  inventory: Inventory,
  redis: Redis,
  audit: AuditLog,
  enqueue?: (request: RepairRequest) => Promise<void>,
  overrides: { roleOf?: RoleLookup; ttlMinutes?: number } = {},
): Approvals {
  const base = approvalsFor(inventory, redis, audit, enqueue);
  return new Approvals({
    ...base.options,
    roleOf: overrides.roleOf ?? repairRoles(inventory),
    ...(overrides.ttlMinutes !== undefined ? { ttlMinutes: overrides.ttlMinutes } : {}),
  });
}

// ------------------------------------------------------------------ plans from named arguments

/**
 * The positional arguments of each kind's parser, as named arguments; a slot takes the first name present.
 * (Findings suggest `restart-container` with {container, broker}; Slack's parser names what it was given.)
 */
const SLOTS: Readonly<Record<string, readonly (readonly string[])[]>> = {
  'pad-channel': [['channel']],
  'drain-broker': [['broker']],
  'raise-replication': [['topic'], ['rf']],
  'preferred-leader-election': [['topic'], ['partition']],
  'set-topic-config': [['topic'], ['key'], ['value']],
  'restart-container': [['container', 'broker', 'target']],
  'start-container': [['container', 'broker', 'target']],
};

/** Named arguments -> the kind's positional arguments. UsageError for an argument the kind does not take. */
export function positionalArgs(kind: string, args: Record<string, string | number>): string[] {
  const slots = SLOTS[kind];
  if (slots === undefined) {
    if (Object.keys(args).length === 0) return [];
    throw new UsageError(
      `repair ${kind}: cannot map arguments ${Object.keys(args).join(', ')} to its parameters`,
    );
  }
  const used = new Set<string>();
  const out: string[] = [];
  for (const names of slots) {
    const given = names.filter((n) => args[n] !== undefined);
    const name = given[0];
    if (name === undefined) break;
    if (given.length > 1) {
      // restart-container container=kafka1 broker=3: which one was meant is not ours to guess.
      throw new UsageError(`repair ${kind}: give one of ${given.join(', ')}, not ${given.length}`);
    }
    for (const n of names) if (args[n] !== undefined) used.add(n);
    out.push(String(args[name]));
  }
  const unknown = Object.keys(args).filter((k) => !used.has(k));
  if (unknown.length > 0) {
    const names = slots.map((s) => s[0]).join(', ');
    throw new UsageError(`repair ${kind}: unexpected argument ${unknown.join(', ')} (takes: ${names})`);
  }
  return out;
}

export interface RepairTarget {
  inventory: Inventory;
  cluster: SelectedCluster;
  env: NodeJS.ProcessEnv;
}

/** A fresh snapshot as the kind needs it (scoped to a channel when the kind says so). */
export async function repairSnapshot(
  t: RepairTarget,
  kind: RepairKind,
  args: Record<string, string | number>,
): Promise<ClusterSnapshot> {
  const [{ gatherSnapshot }, { checkChannel, defaultExtraGatherers }] = await Promise.all([
    import('../gather/index.js'),
    import('./diagnose.js'),
  ]);
  const scope = kind.scope(args);
  if (scope.channel !== undefined) checkChannel(t.cluster, scope.channel);
  return gatherSnapshot(t.cluster.name, t.cluster.config, {
    secrets: readSecrets(t.inventory, t.env),
    extraGatherers: defaultExtraGatherers(t.cluster.config),
    ...scope,
  });
}

/** Build (never run) a plan from named arguments, validated by the kind's own parser. */
export async function planRepairFromArgs(
  t: RepairTarget & { kind: string; args: Record<string, string | number> },
): Promise<RepairPlan> {
  const { repairKind } = await import('../repairs/registry.js');
  const kind = repairKind(t.kind);
  const args = kind.parseArgs(positionalArgs(t.kind, t.args));
  const snapshot = await repairSnapshot(t, kind, args);
  return kind.plan(snapshot, t.cluster.name, t.cluster.config, args);
}

/**
 * Check a plan's end state on a fresh snapshot with its kind's `verify`. A kind without one (pad-channel, for
 * now) is checked against `expected.highWatermark` of the partition it produced to, when it has one.
 */
export async function verifyRepairPlan(t: RepairTarget & { plan: RepairPlan }): Promise<VerifyOutcome> {
  const { REPAIR_KINDS } = await import('../repairs/registry.js');
  const kind = REPAIR_KINDS.get(t.plan.kind);
  if (kind === undefined) return { ok: false, detail: `unknown repair kind ${t.plan.kind}: cannot verify` };
  const snapshot = await repairSnapshot(t, kind, t.plan.args);
  if (kind.verify) return kind.verify(snapshot, t.plan);
  return verifyHighWatermark(snapshot, t.plan);
}

/** The produce steps reached `expected.highWatermark` (pad-channel). */
export function verifyHighWatermark(snapshot: ClusterSnapshot, plan: RepairPlan): VerifyOutcome {
  const target = Number(plan.expected['highWatermark']);
  const produce = plan.steps.find((s) => s.action === 'produce');
  if (produce === undefined || produce.action !== 'produce' || !Number.isInteger(target)) {
    return { ok: true, detail: `${plan.kind} has no end state to check beyond its steps' own checks` };
  }
  const where = `${produce.topic}/${produce.partition}`;
  const o = snapshot.kafka?.offsets.find(
    (p) => p.topic === produce.topic && p.partition === produce.partition,
  );
  if (o?.highWatermark === undefined) {
    return { ok: false, detail: `high watermark of ${where} unknown${o?.error ? `: ${o.error}` : ''}` };
  }
  return o.highWatermark >= target
    ? { ok: true, detail: `${where} high watermark ${o.highWatermark}, the orderers expect ${target}` }
    : { ok: false, detail: `${where} high watermark ${o.highWatermark} is still below ${target}` };
}

// ------------------------------------------------------------------ execution

/** How an approved request is re-planned and verified (the worker injects its operations; the CLI uses these). */
export interface RepairOps {
  replan(request: RepairRequest, cluster: SelectedCluster): Promise<RepairPlan>;
  verify(
    request: RepairRequest,
    cluster: SelectedCluster,
    plan: RepairPlan,
    signal: AbortSignal,
  ): Promise<VerifyOutcome>;
}

export function defaultRepairOps(inventory: Inventory, env: NodeJS.ProcessEnv): RepairOps {
  return {
    replan: (request, cluster) =>
      planRepairFromArgs({ inventory, cluster, env, kind: request.kind, args: request.plan.args }),
    verify: (_request, cluster, plan) => verifyRepairPlan({ inventory, cluster, env, plan }),
  };
}

/** The step handlers of a cluster of the inventory (src/repairs/handlers.ts, loaded on first use). */
export async function defaultHandlersFor(
  inventory: Inventory,
  clusterName: string,
  env: NodeJS.ProcessEnv,
): Promise<StepHandlers> {
  const cluster = selectCluster(inventory, clusterName);
  const { defaultStepHandlers } = await import('../repairs/handlers.js');
  return defaultStepHandlers(cluster.name, cluster.config, readSecrets(inventory, env));
}

export interface ExecutorFactoryOptions {
  redis: Redis;
  inventory: Inventory;
  audit: AuditLog;
  env: NodeJS.ProcessEnv;
  /** "host-1234" (audit entries say worker:<id>). */
  workerId: string;
  /** Handlers by cluster (default: defaultStepHandlers of the inventory's cluster). */
  handlers?: (cluster: string) => StepHandlers | Promise<StepHandlers>;
  lockTtlMs?: number;
  log?: Logger;
}

/** One RepairExecutor per cluster (each with that cluster's step handlers), made on first use. */
export function executorFactory(o: ExecutorFactoryOptions): (cluster: string) => Promise<RepairExecutor> {
  const made = new Map<string, Promise<RepairExecutor>>();
  return (cluster) => {
    let p = made.get(cluster);
    if (!p) {
      p = (async () =>
        new RepairExecutor({
          redis: o.redis,
          prefix: o.inventory.redis.prefix,
          audit: o.audit,
          handlers: await (o.handlers ?? ((c) => defaultHandlersFor(o.inventory, c, o.env)))(cluster),
          workerId: o.workerId,
          ...(o.lockTtlMs !== undefined ? { lockTtlMs: o.lockTtlMs } : {}),
          ...(o.log ? { log: o.log } : {}),
        }))();
      p.catch(() => made.delete(cluster));
      made.set(cluster, p);
    }
    return p;
  };
}

export interface RunRequestOptions {
  approvals: Approvals;
  executorFor: (cluster: string) => Promise<RepairExecutor>;
  inventory: Inventory;
  ops: RepairOps;
  requestId: string;
  signal?: AbortSignal;
  onStep?: (event: StepEvent) => void | Promise<void>;
}

export interface RunRequestResult {
  request: RepairRequest | null;
  result: ExecutionResult;
}

/**
 * Execute an approved request: refuses anything not approved (executeApproved), re-plans and compares, runs the
 * steps, verifies. Safe to call from any number of processes: one holds the request's lock, the others get
 * "locked"; a request whose execution ended returns its recorded result.
 */
export async function runRequest(o: RunRequestOptions): Promise<RunRequestResult> {
  const request = await o.approvals.get(o.requestId);
  if (request === null) {
    return {
      request,
      result: {
        requestId: o.requestId,
        status: 'refused',
        message: `no repair request ${o.requestId} (never existed, or too old)`,
        steps: [],
        resumed: false,
      },
    };
  }
  const cluster = selectCluster(o.inventory, request.cluster);
  const executor = await o.executorFor(cluster.name);
  const result = await executeApproved(o.approvals, executor, o.requestId, {
    replan: () => o.ops.replan(request, cluster),
    verify: (plan, signal) => o.ops.verify(request, cluster, plan, signal),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onStep ? { onStep: o.onStep } : {}),
  });
  return { request, result };
}

/** Statuses after which the execution is over (the result is final and can be told). */
export const FINAL_STATUSES: ReadonlySet<ExecutionResult['status']> = new Set([
  'done',
  'failed',
  'changed',
  'needs-operator',
  'verify-failed',
  'refused',
]);

// ------------------------------------------------------------------ text

const STEP_ICON: Record<string, string> = { done: '✓', failed: '✗', started: '…', pending: '·' };

/** A request and its execution for a terminal (`repair status`, `repair run`). */
export function renderRequest(
  request: RepairRequest,
  execution?: { status: string | null; message: string | null; steps: ExecutionResult['steps'] },
): string {
  const args = Object.entries(request.plan.args)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const lines = [
    `request ${request.id}: ${request.kind}${args ? ` ${args}` : ''} on ${request.cluster}`,
    `  status     ${request.status}${request.decidedBy ? ` (by ${request.decidedBy}${request.decidedAt ? ` at ${request.decidedAt}` : ''})` : ''}${request.reason ? `: ${request.reason}` : ''}`,
    `  requested  by ${request.requester} (${request.where}) at ${request.createdAt}`,
    `  approvals  ${request.approvers.length} of ${request.approvalsNeeded}${request.approvers.length ? `: ${request.approvers.map((a) => `${a.who} (${a.where})`).join(', ')}` : ''}`,
  ];
  if (request.status === 'pending') lines.push(`  expires    ${request.expiresAt}`);
  if (request.enqueuedAt) lines.push(`  queued     ${request.enqueuedAt}`);
  if (execution) {
    lines.push(
      `  execution  ${execution.status ?? 'not started'}${execution.message ? `: ${execution.message}` : ''}`,
    );
    for (const s of execution.steps) {
      lines.push(
        `    ${STEP_ICON[s.status] ?? '?'} ${s.index + 1}. ${s.description} [${s.status}${s.attempts > 1 ? `, ${s.attempts} attempts` : ''}]${s.detail ? `: ${s.detail}` : ''}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
