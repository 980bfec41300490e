/** whatif stop-broker: gather the whole cluster, then apply Kafka's election rule without stopping anything. */
import { whatIfExitCode, whatIfStopBroker, type WhatIfStopBroker } from '../checks/whatif.js';
import { readSecrets, type Inventory, type SelectedCluster } from '../config/index.js';
import { SourceError } from '../errors/index.js';
import { gatherSnapshot } from '../gather/index.js';

export interface WhatIfResult {
  whatif: WhatIfStopBroker;
  exitCode: 0 | 1 | 2 | 3;
}

export async function whatIfStopBrokerOnCluster(input: {
  inventory: Inventory;
  cluster: SelectedCluster;
  env: NodeJS.ProcessEnv;
  brokerId: number;
}): Promise<WhatIfResult> {
  const snapshot = await gatherSnapshot(input.cluster.name, input.cluster.config, {
    secrets: readSecrets(input.inventory, input.env),
  });
  if (!snapshot.zookeeper && !snapshot.kafka) {
    throw new SourceError(
      'zookeeper',
      `cannot tell what stopping broker ${input.brokerId} would do: neither ZooKeeper (${snapshot.sources.zookeeper?.error}) nor any broker (${snapshot.sources.kafka?.error}) could be read`,
    );
  }
  const whatif = whatIfStopBroker(snapshot, input.brokerId);
  return { whatif, exitCode: whatIfExitCode(whatif) };
}
