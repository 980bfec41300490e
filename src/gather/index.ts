/**
 * Gather one snapshot of a cluster: ZooKeeper, the brokers, reachability of advertised endpoints (and the
 * orderers, containers and logs as their gatherers are plugged in). Each source runs on its own with its own
 * timeouts; a source that fails is recorded in `sources` and the rest still runs.
 */
import { clusterChannels, type ClusterConfig, type Secrets } from '../config/index.js';
import { describeError } from '../errors/index.js';
import type { ClusterSnapshot, SourceStatus } from '../model/index.js';
import { gatherKafka, wireOptionsFor } from './kafka.js';
import { probeBrokerEndpoints } from './reachability.js';
import { gatherZookeeper } from './zookeeper.js';

/**
 * A further source (orderers, containers): fills its part of the snapshot and records its own status in
 * `snapshot.sources`. Marked `afterZookeeper` when it needs ZooKeeper's view (e.g. the brokers' advertised
 * endpoints to probe from inside containers); the others start at once.
 */
export type ExtraGatherer = ((
  ctx: {
    clusterName: string;
    config: ClusterConfig;
    channel?: string;
    /** Secrets by environment variable name (a key passphrase...), read once from the caller's env. */
    secretsByEnv?: Readonly<Record<string, string>>;
  },
  snapshot: ClusterSnapshot,
) => Promise<void>) & { afterZookeeper?: boolean };

/** Mark a gatherer to start once ZooKeeper has been read. */
export function afterZookeeper(g: ExtraGatherer): ExtraGatherer {
  return Object.assign((...args: Parameters<ExtraGatherer>) => g(...args), { afterZookeeper: true });
}

export interface GatherOptions {
  /** Scope to one Fabric channel (its topic and its orderers). */
  channel?: string;
  secrets: Pick<Secrets, 'byEnv'>;
  extraGatherers?: ExtraGatherer[];
  now?: () => Date;
}

function parseBootstrap(list: string[]): string[] {
  return list.map((s) => s.trim());
}

export async function gatherSnapshot(
  clusterName: string,
  config: ClusterConfig,
  opts: GatherOptions,
): Promise<ClusterSnapshot> {
  const now = opts.now ?? (() => new Date());
  const channels = clusterChannels(config);
  const scopeTopics = opts.channel !== undefined ? [opts.channel] : undefined;
  const snapshot: ClusterSnapshot = {
    cluster: clusterName,
    generatedAt: now().toISOString(),
    scope: opts.channel !== undefined ? { channel: opts.channel } : {},
    sources: {},
    expected: {
      bootstrap: parseBootstrap(config.kafka.brokers),
      brokerIds: config.kafka.brokerIds ?? [],
      zookeeper: config.zookeeper.connect.split('/')[0]!.split(','),
      channels: opts.channel !== undefined ? [opts.channel] : channels,
    },
    zookeeper: null,
    kafka: null,
    reachability: [],
    orderers: null,
    containers: null,
    logs: [],
  };

  const ctx = {
    clusterName,
    config,
    secretsByEnv: opts.secrets.byEnv,
    ...(opts.channel !== undefined ? { channel: opts.channel } : {}),
  };
  // An extra gatherer records its own failure in snapshot.sources; a throw is not allowed to stop the rest.
  const start = (g: ExtraGatherer) => g(ctx, snapshot).catch(() => undefined);
  const extraGatherers = opts.extraGatherers ?? [];
  const extras = extraGatherers.filter((g) => !g.afterZookeeper).map(start);

  // ZooKeeper and the bootstrap brokers are asked at the same time; the registered brokers' own addresses, the
  // offsets and the reachability probes follow ZooKeeper's answer.
  const zkP = gatherZookeeper(config.zookeeper, scopeTopics ? { topics: scopeTopics } : {});
  let kafkaStatus: SourceStatus;
  const kafkaP = (async () => {
    try {
      const wire = wireOptionsFor(config.kafka, opts.secrets.byEnv);
      const kafka = await gatherKafka(snapshot.expected.bootstrap, {
        wire,
        zookeeper: zkP.then((zk) => ({
          ...(zk.view ? { registrations: zk.view.brokers, partitions: zk.view.partitions } : {}),
        })),
        ...(scopeTopics ? { topics: scopeTopics } : {}),
      });
      snapshot.kafka = kafka.view;
      kafkaStatus = kafka.status;
    } catch (err) {
      kafkaStatus = { ok: false, error: describeError(err) };
    }
  })();
  const zk = await zkP;
  snapshot.zookeeper = zk.view;
  snapshot.zookeeperMembers = zk.members;
  snapshot.sources.zookeeper = zk.status;
  for (const g of extraGatherers) if (g.afterZookeeper) extras.push(start(g));

  const probes = await probeBrokerEndpoints(zk.view?.brokers ?? [], config.kafka.connectTimeoutMs);
  for (const p of probes) snapshot.reachability.push(p);
  await kafkaP;
  snapshot.sources.kafka = kafkaStatus!;
  await Promise.all(extras);
  return snapshot;
}
