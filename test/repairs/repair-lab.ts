/**
 * For the repair lab tests: plan a repair on a lab exactly as `repair plan` does (fresh snapshot, the registry's
 * planner), run it with the real step handlers through the RepairExecutor (Redis: the lab's), verify it on a
 * fresh snapshot, and read ZooKeeper for assertions.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { AuditLog } from '../../src/audit/index.js';
import { loadInventory, selectCluster, type ClusterConfig } from '../../src/config/index.js';
import { gatherSnapshot } from '../../src/gather/index.js';
import { dockerGatherer } from '../../src/docker/snapshot.js';
import { afterZookeeper } from '../../src/gather/index.js';
import { defaultExtraGatherers } from '../../src/ops/diagnose.js';
import type { ClusterSnapshot, RepairPlan } from '../../src/model/index.js';
import { RepairExecutor, type ExecutionResult } from '../../src/repairs/executor.js';
import { defaultStepHandlers } from '../../src/repairs/handlers.js';
import { repairKind } from '../../src/repairs/registry.js';
import { withZk } from '../../src/lab/index.js';

export interface RepairLab {
  config: ClusterConfig;
  zkConnect: string;
  snapshot(): Promise<ClusterSnapshot>;
  plan(kind: string, args: string[]): Promise<RepairPlan>;
  /** Plan (unless given), execute with the default handlers, verify. */
  run(
    kind: string,
    args: string[],
    plan?: RepairPlan,
  ): Promise<{ plan: RepairPlan; result: ExecutionResult; ms: number }>;
  /** Execute a hand-made plan as it is (no re-plan comparison, no verification). */
  execute(plan: RepairPlan): Promise<ExecutionResult>;
  /** A JSON znode, or null. */
  zkJson<T = Record<string, unknown>>(path: string): Promise<T | null>;
  zkChildren(path: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface RepairLabOptions {
  /** Redis for the executor (default: the inventory's). */
  redisUrl?: string;
  /**
   * Read containers without probing endpoints from inside them. The probes are exec sessions whose conmon
   * processes outlive them, and a lab in containers then cannot remove its podman storage on labDown (EBUSY on
   * podman/root/overlay); restart planning does not use the probes.
   */
  noProbes?: boolean;
}

export function repairLab(inventoryFile: string, opts: RepairLabOptions = {}): RepairLab {
  const inv = loadInventory(inventoryFile);
  const cluster = selectCluster(inv, undefined);
  const config = cluster.config;
  const secrets = { byEnv: {} };
  const redis = new Redis(opts.redisUrl ?? inv.redis.url, { maxRetriesPerRequest: 2 });
  const prefix = `repairs-test-${randomBytes(3).toString('hex')}`;
  const executor = new RepairExecutor({
    redis,
    prefix,
    audit: new AuditLog(redis, { prefix }),
    handlers: defaultStepHandlers(cluster.name, config, secrets, { pollMs: 250 }),
    workerId: 'repair-lab-test',
    lockTtlMs: 60_000,
  });
  // As `repair plan` gathers: with the orderer and (when the inventory has Docker) container gatherers.
  const extraGatherers = opts.noProbes
    ? [afterZookeeper(dockerGatherer({ probe: [], skipLogs: true }))]
    : defaultExtraGatherers(config);
  const snapshot = () => gatherSnapshot(cluster.name, config, { secrets, extraGatherers });
  const plan = async (kind: string, args: string[]) => {
    const k = repairKind(kind);
    return k.plan(await snapshot(), cluster.name, config, k.parseArgs(args));
  };
  let n = 0;
  return {
    config,
    zkConnect: config.zookeeper.connect,
    snapshot,
    plan,
    async run(kind, args, given) {
      const k = repairKind(kind);
      const p = given ?? (await plan(kind, args));
      const t0 = performance.now();
      const result = await executor.execute({
        requestId: `rq-${prefix}-${++n}`,
        plan: p,
        replan: () => plan(kind, args),
        verify: async (approved) => k.verify!(await snapshot(), approved),
      });
      return { plan: p, result, ms: Math.round(performance.now() - t0) };
    },
    execute: (p) => executor.execute({ requestId: `rq-${prefix}-${++n}`, plan: p, replan: async () => p }),
    zkJson: <T>(path: string) => withZk(config.zookeeper.connect, (zk) => zk.getJson<T>(path)),
    zkChildren: async (path) => (await withZk(config.zookeeper.connect, (zk) => zk.children(path))) ?? [],
    async close() {
      await redis.quit().catch(() => undefined);
    },
  };
}

/** Broker and topic throttle keys left in ZooKeeper (none after a completed reassignment). */
export async function throttlesLeft(lab: RepairLab, topics: string[]): Promise<string[]> {
  const left: string[] = [];
  for (const id of await lab.zkChildren('/config/brokers')) {
    const c = await lab.zkJson<{ config: Record<string, string> }>(`/config/brokers/${id}`);
    for (const k of Object.keys(c?.config ?? {}))
      if (k.includes('throttled')) left.push(`broker ${id}: ${k}`);
  }
  for (const t of topics) {
    const c = await lab.zkJson<{ config: Record<string, string> }>(`/config/topics/${t}`);
    for (const [k, v] of Object.entries(c?.config ?? {}))
      if (k.includes('throttled')) left.push(`topic ${t}: ${k}=${v}`);
  }
  return left;
}
