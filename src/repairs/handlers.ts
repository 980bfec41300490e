/**
 * The step handlers a worker runs repairs with: one per step action, for one cluster of the inventory.
 *
 *   const handlers = defaultStepHandlers('lab', cluster.config, readSecrets(inventory, process.env));
 *   new RepairExecutor({ redis, prefix, audit, handlers, workerId }).execute({ requestId, plan, replan, verify });
 *
 * Idempotent handlers (marked with idempotent(): re-run after an interrupted attempt, they re-read the state and
 * do only what is missing): produce, reassign-partitions, preferred-leader-election, set-topic-config,
 * start-container, stop-container, wait. Not idempotent: restart-container (a second restart is another outage:
 * an interrupted restart stops the repair for an operator).
 *
 * Clients are created on first use (a missing SASL password fails the step that needs Kafka, not the worker).
 */
import type { ClusterConfig, Secrets } from '../config/index.js';
import { padWithConnectHandler } from './actions/produce.js';
import { restartHandler, startHandler, stopHandler } from './actions/containers.js';
import { electHandler } from './actions/elect.js';
import { createRepairEnv, type RepairEnv } from './actions/env.js';
import { reassignHandler } from './actions/reassign.js';
import { topicConfigHandler } from './actions/topic-config.js';
import { waitHandler } from './actions/wait.js';
import { idempotent, type StepHandlers } from './steps.js';

export type { RepairEnv } from './actions/env.js';

export function defaultStepHandlers(
  clusterName: string,
  config: ClusterConfig,
  secrets: Pick<Secrets, 'byEnv'>,
  overrides: Partial<RepairEnv> = {},
): StepHandlers {
  const env = createRepairEnv(clusterName, config, secrets, overrides);
  let produce: ReturnType<typeof padWithConnectHandler> | undefined;
  return {
    produce: idempotent<'produce'>((step, ctx) => {
      produce ??= padWithConnectHandler(env.kafka());
      return produce(step, ctx);
    }),
    'reassign-partitions': reassignHandler(env),
    'preferred-leader-election': electHandler(env),
    'set-topic-config': topicConfigHandler(env),
    'restart-container': restartHandler(env),
    'start-container': startHandler(env),
    'stop-container': stopHandler(env),
    wait: waitHandler(env),
  };
}
