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
import { NotFoundError, OpsError } from '../src/errors/index.js';
import type { RepairPlan } from '../src/model/index.js';
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
  /** Build (never run) a repair plan. PlanNotAvailableError for kinds this build cannot plan. */
  planRepair(ctx: OpContext & { kind: string; args: Record<string, string | number> }): Promise<RepairPlan>;
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

export const PLANNABLE_KINDS = ['pad-channel'] as const;

export function defaultOperations(redis: Redis, inventory: Inventory): Operations {
  // One audit log per process: it keeps the chain head between appends.
  let auditLog: Promise<AuditLog> | undefined;
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
      if (ctx.kind !== 'pad-channel') throw new PlanNotAvailableError(ctx.kind, PLANNABLE_KINDS);
      const channel = ctx.args['channel'];
      if (typeof channel !== 'string' || channel === '') {
        throw new NotFoundError(
          'pad-channel needs channel=<channel>: `/fabric repair pad-channel <channel>`',
        );
      }
      const { diagnose } = await import('../src/ops/diagnose.js');
      const { planPadChannel } = await import('../src/repairs/pad-channel.js');
      const { snapshot } = await diagnose({
        inventory: ctx.inventory,
        cluster: ctx.cluster,
        env: ctx.env,
        channel,
      });
      const ordererContainers: Record<string, string> = {};
      for (const o of ctx.cluster.config.orderers)
        if (o.container?.name) ordererContainers[o.name] = o.container.name;
      return planPadChannel(snapshot, ctx.cluster.name, channel, {
        padMaxMessages: ctx.cluster.config.repairs.padMaxMessages,
        ordererContainers,
      });
    },
    async audit(entry) {
      await (await audit()).append(entry);
    },
  };
}
