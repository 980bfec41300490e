/**
 * diagnose / status: gather a snapshot, run the checks, build the report. Shared by the CLI and the workers.
 */
import { containerChecks } from '../checks/containers.js';
import { runChecks, type CheckFn } from '../checks/index.js';
import { clusterChannels, readSecrets, type Inventory, type SelectedCluster } from '../config/index.js';
import { NotFoundError } from '../errors/index.js';
import type { ClusterConfig } from '../config/index.js';
import { afterZookeeper, gatherSnapshot, type ExtraGatherer } from '../gather/index.js';
import { ordererGatherer } from '../gather/orderers.js';
import { exitCodeFor, type ClusterSnapshot, type Finding, type Report } from '../model/index.js';
import { ordererChecks } from '../orderers/checks.js';
import { matchLogLines } from '../orderers/logs.js';
import { buildReport } from '../render/report.js';

/** Checks beyond the core Kafka/ZooKeeper ones: every module's, in one place. */
export const EXTRA_CHECKS: readonly CheckFn[] = [ordererChecks, containerChecks];

/** Gatherers beyond ZooKeeper and the brokers: the orderers, and the containers when the inventory has Docker. */
export function defaultExtraGatherers(config: ClusterConfig): ExtraGatherer[] {
  // Orderers in containers are read through Docker (ledger, log); their log signatures come from the container
  // gatherer below, so the orderer gatherer does not report them a second time.
  const gatherers: ExtraGatherer[] = [ordererGatherer({ containerLogSignatures: !config.docker })];
  if (config.docker) {
    // Orderer containers' logs go through the orderer signature catalogue; Kafka/ZooKeeper ones through the
    // container catalogue. Probes need the brokers' advertised endpoints: start after ZooKeeper.
    const orderer = (origin: string, lines: { at?: string; text: string }[]) =>
      matchLogLines(
        origin,
        lines.map((l) => (l.at ? `${l.at} ${l.text}` : l.text)),
      );
    gatherers.push(
      afterZookeeper(async (ctx, snapshot) => {
        const { dockerGatherer } = await import('../docker/snapshot.js'); // dockerode only when needed
        await dockerGatherer({ matchers: { orderer } })(ctx, snapshot);
      }),
    );
  }
  return gatherers;
}

export interface DiagnoseInput {
  inventory: Inventory;
  cluster: SelectedCluster;
  channel?: string;
  env: NodeJS.ProcessEnv;
  extraGatherers?: ExtraGatherer[];
}

export interface DiagnoseResult {
  snapshot: ClusterSnapshot;
  findings: Finding[];
  report: Report;
  /** Nagios: 0 ok, 1 warning, 2 critical, 3 could not check. */
  exitCode: 0 | 1 | 2 | 3;
}

/** A channel must be one the inventory knows (when it lists any). */
export function checkChannel(cluster: SelectedCluster, channel: string): void {
  const known = clusterChannels(cluster.config);
  if (known.length > 0 && !known.includes(channel)) {
    throw new NotFoundError(
      `unknown channel "${channel}" for cluster ${cluster.name} (known: ${known.join(', ')})`,
    );
  }
}

export async function diagnose(input: DiagnoseInput): Promise<DiagnoseResult> {
  if (input.channel !== undefined) checkChannel(input.cluster, input.channel);
  const secrets = readSecrets(input.inventory, input.env);
  const snapshot = await gatherSnapshot(input.cluster.name, input.cluster.config, {
    secrets,
    ...(input.channel !== undefined ? { channel: input.channel } : {}),
    extraGatherers: input.extraGatherers ?? defaultExtraGatherers(input.cluster.config),
  });
  const findings = runChecks(snapshot, { extraChecks: EXTRA_CHECKS });
  const report = buildReport(snapshot, findings);
  const nothingReadable = !snapshot.sources.zookeeper?.ok && !snapshot.sources.kafka?.ok;
  return { snapshot, findings, report, exitCode: nothingReadable ? 3 : exitCodeFor(findings) };
}
