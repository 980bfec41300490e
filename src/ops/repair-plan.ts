/** repair plan: a dry run. Gathers a fresh snapshot and builds the plan; changes nothing. */
import { readSecrets, type Inventory, type SelectedCluster } from '../config/index.js';
import { gatherSnapshot } from '../gather/index.js';
import type { RepairPlan } from '../model/index.js';
import { repairKind } from '../repairs/registry.js';
import { checkChannel, defaultExtraGatherers } from './diagnose.js';

export async function planRepair(input: {
  inventory: Inventory;
  cluster: SelectedCluster;
  env: NodeJS.ProcessEnv;
  kind: string;
  args: string[];
}): Promise<RepairPlan> {
  const kind = repairKind(input.kind);
  const args = kind.parseArgs(input.args);
  const scope = kind.scope(args);
  if (scope.channel !== undefined) checkChannel(input.cluster, scope.channel);
  const snapshot = await gatherSnapshot(input.cluster.name, input.cluster.config, {
    secrets: readSecrets(input.inventory, input.env),
    extraGatherers: defaultExtraGatherers(input.cluster.config),
    ...scope,
  });
  return kind.plan(snapshot, input.cluster.name, input.cluster.config, args);
}
