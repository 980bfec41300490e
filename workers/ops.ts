/**
 * The operations jobs run, behind an interface so tests (and the team lead) can inject their own. The default
 * implementations load the real modules lazily: the bot process never loads the gatherers, and a worker loads
 * them on its first job.
 *
 * None of the real operations take an AbortSignal yet: on timeout the worker stops waiting and fails the job,
 * and the abandoned gather ends by its own per-request timeouts (kafka/zookeeper connect/request timeouts).
 */
import type { Redis } from 'ioredis';
import type { AuditLog } from '../src/audit/index.js';
import type { Inventory, SelectedCluster } from '../src/config/index.js';
import { OpsError } from '../src/errors/index.js';
import type { RepairPlan } from '../src/model/index.js';
import type { VerifyOutcome } from '../src/repairs/executor.js';
import type { DiagnoseResult } from '../src/ops/diagnose.js';
import type { WhatIfResult } from '../src/ops/whatif.js';
import type { AuditLineView } from '../src/slack/blocks.js';

export interface OpContext {
  inventory: Inventory;
  cluster: SelectedCluster;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
}

export interface Operations {
  diagnose(ctx: OpContext & { channel?: string }): Promise<DiagnoseResult>;
  whatIfStopBroker(ctx: OpContext & { brokerId: number }): Promise<WhatIfResult>;
  auditTail(n: number, signal: AbortSignal): Promise<AuditLineView[]>;
  /**
   * Build (never run) a repair plan from named arguments (`{channel: "pubchain"}`). PlanNotAvailableError for
   * kinds this build cannot plan. Also what an approved request is re-planned with right before it runs.
   */
  planRepair(ctx: OpContext & { kind: string; args: Record<string, string | number> }): Promise<RepairPlan>;
  /** Check a repair's end state on a fresh snapshot (the kind's verify). */
  verifyRepair(ctx: OpContext & { plan: RepairPlan }): Promise<VerifyOutcome>;
  /** Record who asked what (best effort; optional). */
  audit?(entry: {
    who: string;
    what: string;
    cluster: string | null;
    where: string;
    jobId: string;
    outcome?: string;
    details?: Record<string, unknown>;
  }): Promise<void>;
}

export class PlanNotAvailableError extends OpsError {
  readonly retryable = false;
  constructor(
    readonly kind: string,
    available: readonly string[],
  ) {
    super(
      `plan kind "${kind}" is not available in this build` +
        (available.length ? ` (available: ${available.join(', ')})` : ''),
    );
  }
}

export function defaultOperations(redis: Redis, inventory: Inventory, log?: AuditLog): Operations {
  // One audit log per process: it keeps the chain head between appends.
  let auditLog: Promise<AuditLog> | undefined = log ? Promise.resolve(log) : undefined;
  const audit = () =>
    (auditLog ??= import('../src/audit/index.js').then((m) => m.auditLogFor(redis, inventory)));
  return {
    async diagnose({ inventory, cluster, env, channel }) {
      const { diagnose } = await import('../src/ops/diagnose.js');
      return diagnose({ inventory, cluster, env, ...(channel !== undefined ? { channel } : {}) });
    },
    async whatIfStopBroker({ inventory, cluster, env, brokerId }) {
      const { whatIfStopBrokerOnCluster } = await import('../src/ops/whatif.js');
      return whatIfStopBrokerOnCluster({ inventory, cluster, env, brokerId });
    },
    async auditTail(n) {
      return (await audit()).tail(n);
    },
    async planRepair(ctx) {
      const [{ REPAIR_KINDS }, { planRepairFromArgs }] = await Promise.all([
        import('../src/repairs/registry.js'),
        import('../src/ops/repair-run.js'),
      ]);
      if (!REPAIR_KINDS.has(ctx.kind)) throw new PlanNotAvailableError(ctx.kind, [...REPAIR_KINDS.keys()]);
      return planRepairFromArgs({
        inventory: ctx.inventory,
        cluster: ctx.cluster,
        env: ctx.env,
        kind: ctx.kind,
        args: ctx.args,
      });
    },
    async verifyRepair(ctx) {
      const { verifyRepairPlan } = await import('../src/ops/repair-run.js');
      return verifyRepairPlan({
        inventory: ctx.inventory,
        cluster: ctx.cluster,
        env: ctx.env,
        plan: ctx.plan,
      });
    },
    async audit(entry) {
      await (await audit()).append(entry);
    },
  };
}
