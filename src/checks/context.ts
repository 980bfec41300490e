/**
 * What every check shares: the context a caller may pass, and an index of the snapshot built once (by topic and
 * partition, by broker id) so that checks stay linear in the size of the cluster.
 */
import type {
  BrokerMetadataView,
  BrokerRegistration,
  ClusterSnapshot,
  Finding,
  PartitionOffsets,
  ZkPartitionState,
} from '../model/index.js';

/** Where runChecks keeps the index it built, so every check of one run shares it. */
export const INDEX: unique symbol = Symbol('fabric-opsbot snapshot index');

export interface CheckContext {
  /**
   * Orderer.AbsoluteMaxBytes of the channels (configtx.yaml), when known. With it CONFIG_MESSAGE_SIZE checks
   * Fabric's exact rule `AbsoluteMaxBytes < replica.fetch.max.bytes <= message.max.bytes`; without it only the
   * order of the Kafka settings and values left at Kafka's ~1 MB defaults are flagged.
   */
  absoluteMaxBytes?: number;
  /**
   * More checks to run after the core ones: orderer checks (src/orderers/checks.ts), container checks, ...
   * Their findings go through the same scope filter, de-duplication and sort.
   */
  extraChecks?: readonly CheckFn[];
  /** Set by runChecks: the index of the snapshot being checked. */
  [INDEX]?: SnapshotIndex;
}

/** A check: a pure function of the snapshot. It must not throw on odd data; runChecks guards it anyway. */
export type CheckFn = (snapshot: ClusterSnapshot, ctx: CheckContext) => Finding[];

export interface NamedCheck {
  name: string;
  run: CheckFn;
}

/** "topic/partition", the key of every partition map. */
export function partKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** Topic config key -> the broker config that supplies its default, in order of precedence. */
const TOPIC_TO_BROKER_KEYS: Record<string, readonly string[]> = {
  'min.insync.replicas': ['min.insync.replicas'],
  'unclean.leader.election.enable': ['unclean.leader.election.enable'],
  'retention.ms': ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'],
  'retention.bytes': ['log.retention.bytes'],
  'max.message.bytes': ['message.max.bytes'],
  'flush.messages': ['log.flush.interval.messages'],
  'cleanup.policy': ['log.cleanup.policy'],
};

/** Broker keys whose value is converted to the topic key's unit (retention in minutes/hours -> ms). */
const UNIT_TO_MS: Record<string, number> = {
  'log.retention.ms': 1,
  'log.retention.minutes': 60_000,
  'log.retention.hours': 3_600_000,
};

export interface ResolvedConfig {
  value: string;
  /** 'topic': an override on the topic; 'broker': the broker default the topic inherits. */
  from: 'topic' | 'broker';
  /** The broker key the value came from when inherited (e.g. log.retention.hours). */
  brokerKey?: string;
  brokerId?: number;
}

export interface SnapshotIndex {
  snapshot: ClusterSnapshot;
  scopeChannel: string | undefined;
  inScope(topic: string): boolean;
  /** Fabric channels of the inventory (in scope). */
  channels: ReadonlySet<string>;
  /** Broker ids registered in /brokers/ids; null when ZooKeeper could not be read. */
  registered: ReadonlySet<number> | null;
  registrations: ReadonlyMap<number, BrokerRegistration>;
  /** ZooKeeper partition state, in scope, sorted by topic then partition. Empty when ZooKeeper is unknown. */
  partitions: readonly ZkPartitionState[];
  partitionByKey: ReadonlyMap<string, ZkPartitionState>;
  /** Partitions by topic (in scope), each sorted by partition. */
  topics: ReadonlyMap<string, readonly ZkPartitionState[]>;
  offsets: ReadonlyMap<string, PartitionOffsets>;
  okViews: readonly BrokerMetadataView[];
  /** Every broker id the inventory, ZooKeeper or any broker's metadata knows of. */
  knownBrokerIds: ReadonlySet<number>;
  /** Broker ids that are replicas of a partition in scope. */
  scopeReplicaBrokers: ReadonlySet<number>;
  /** Broker ids with effective configs from Kafka (DescribeConfigs), sorted. */
  brokersWithConfig: readonly number[];
  controllerId: number | null;
  /** Effective broker config: Kafka's answer, else a dynamic override from ZooKeeper. */
  brokerConfig(id: number, key: string): string | undefined;
  /** The value of a broker key on the first broker (by id) that has one, or the cluster-wide default. */
  anyBrokerConfig(key: string): { value: string; brokerId?: number } | undefined;
  /** The broker default a topic key inherits (log.retention.hours for retention.ms, converted to ms...). */
  inherited(
    topicKey: string,
    brokerId?: number,
  ): { value: string; brokerKey: string; brokerId?: number } | undefined;
  /** A topic config, following Kafka's inheritance: topic override, else the broker default. */
  topicConfig(topic: string, key: string, brokerId?: number): ResolvedConfig | undefined;
  /** min.insync.replicas of a partition (topic override, else the leader's broker default), or null. */
  minIsr(p: ZkPartitionState): number | null;
  /** Container name running a broker, when Docker was read. */
  brokerContainer(id: number): string | undefined;
  isLive(id: number): boolean;
}

/** A config value as a number; undefined when absent, empty or not numeric. */
export function num(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === '' || v === 'null') return undefined;
  const n = Number(v);
  // "-0" is 0: a -0 would not survive the JSON report.
  return Number.isFinite(n) ? n + 0 : undefined;
}

function present(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  return v === '' || v === 'null' ? undefined : v;
}

/**
 * The index of a snapshot: the one runChecks put in `ctx` for this snapshot, else a new one (a check called on
 * its own). Nothing is cached across calls, so a snapshot changed between two runs is indexed afresh.
 */
export function indexSnapshot(snapshot: ClusterSnapshot, ctx?: CheckContext): SnapshotIndex {
  const shared = ctx?.[INDEX];
  return shared !== undefined && shared.snapshot === snapshot ? shared : buildIndex(snapshot);
}

/** A context whose checks share one index of `snapshot`. */
export function withIndex(snapshot: ClusterSnapshot, ctx: CheckContext = {}): CheckContext {
  return { ...ctx, [INDEX]: indexSnapshot(snapshot, ctx) };
}

function buildIndex(snapshot: ClusterSnapshot): SnapshotIndex {
  const scopeChannel = snapshot.scope.channel;
  const inScope = (topic: string): boolean => scopeChannel === undefined || topic === scopeChannel;
  const zk = snapshot.zookeeper;
  const kafka = snapshot.kafka;

  const channels = new Set(snapshot.expected.channels.filter(inScope));

  const registrations = new Map<number, BrokerRegistration>();
  for (const b of zk?.brokers ?? []) registrations.set(b.id, b);
  const registered = zk ? new Set(registrations.keys()) : null;

  // A partition ZooKeeper lists twice (a broken tool, a hand edit) counts once, as first listed; the metadata
  // check reports the duplicate.
  const partitionByKey = new Map<string, ZkPartitionState>();
  for (const p of zk?.partitions ?? []) {
    if (!inScope(p.topic)) continue;
    const key = partKey(p.topic, p.partition);
    if (!partitionByKey.has(key)) partitionByKey.set(key, p);
  }
  const partitions = [...partitionByKey.values()].sort((a, b) =>
    a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
  );
  const topics = new Map<string, ZkPartitionState[]>();
  const scopeReplicaBrokers = new Set<number>();
  for (const p of partitions) {
    let list = topics.get(p.topic);
    if (!list) topics.set(p.topic, (list = []));
    list.push(p);
    for (const r of p.replicas) scopeReplicaBrokers.add(r);
  }

  const offsets = new Map<string, PartitionOffsets>();
  for (const o of kafka?.offsets ?? []) if (inScope(o.topic)) offsets.set(partKey(o.topic, o.partition), o);

  const okViews = (kafka?.views ?? []).filter((v) => v.ok);

  const knownBrokerIds = new Set<number>(snapshot.expected.brokerIds);
  for (const id of registrations.keys()) knownBrokerIds.add(id);
  for (const v of okViews) for (const b of v.brokers ?? []) knownBrokerIds.add(b.id);

  const brokerConfigs = kafka?.brokerConfigs ?? {};
  const overrides = zk?.brokerConfigOverrides ?? {};
  const brokersWithConfig = Object.keys(brokerConfigs)
    .map(Number)
    .filter((n) => Number.isInteger(n))
    .sort((a, b) => a - b);

  const brokerConfig = (id: number, key: string): string | undefined =>
    present(brokerConfigs[String(id)]?.[key]) ??
    present(overrides[String(id)]?.[key]) ??
    present(overrides['<default>']?.[key]);

  const anyBrokerConfig = (key: string): { value: string; brokerId?: number } | undefined => {
    for (const id of brokersWithConfig) {
      const value = brokerConfig(id, key);
      if (value !== undefined) return { value, brokerId: id };
    }
    const def = present(overrides['<default>']?.[key]);
    return def === undefined ? undefined : { value: def };
  };

  /** The broker default a topic key inherits, converted to the topic key's unit. */
  const brokerDefault = (
    key: string,
    brokerId: number | undefined,
  ): { value: string; brokerKey: string; brokerId?: number } | undefined => {
    for (const bk of TOPIC_TO_BROKER_KEYS[key] ?? [key]) {
      let found: { value: string; brokerId?: number } | undefined;
      if (brokerId !== undefined) {
        const v = brokerConfig(brokerId, bk);
        if (v !== undefined) found = { value: v, brokerId };
      }
      found ??= anyBrokerConfig(bk);
      if (found === undefined) continue;
      const factor = UNIT_TO_MS[bk];
      if (factor !== undefined && factor !== 1) {
        const n = num(found.value);
        if (n === undefined) continue;
        return { ...found, value: String(n < 0 ? -1 : n * factor), brokerKey: bk };
      }
      return { ...found, brokerKey: bk };
    }
    return undefined;
  };

  const topicConfig = (topic: string, key: string, brokerId?: number): ResolvedConfig | undefined => {
    const override = present(zk?.topicConfigs[topic]?.[key]);
    if (override !== undefined) return { value: override, from: 'topic' };
    const effective = present(kafka?.topicConfigs[topic]?.[key]);
    const inherited = brokerDefault(key, brokerId);
    if (effective !== undefined) {
      // Kafka's effective topic configs include defaults: a value equal to the broker default is inherited,
      // a different one is an override (even if ZooKeeper's copy of the overrides missed it). With the broker
      // default unknown, ZooKeeper having no override decides.
      const isInherited = inherited !== undefined ? inherited.value === effective : zk !== null;
      return isInherited
        ? { value: effective, from: 'broker', brokerKey: inherited?.brokerKey, brokerId: inherited?.brokerId }
        : { value: effective, from: 'topic' };
    }
    if (inherited === undefined) return undefined;
    return {
      value: inherited.value,
      from: 'broker',
      brokerKey: inherited.brokerKey,
      brokerId: inherited.brokerId,
    };
  };

  // Per topic and leader: thousands of partitions share a handful of answers.
  const minIsrMemo = new Map<string, number | null>();
  const minIsr = (p: ZkPartitionState): number | null => {
    const leader = p.leader !== null && p.leader >= 0 ? p.leader : p.replicas[0];
    const key = `${p.topic}\u0000${leader ?? ''}`;
    const hit = minIsrMemo.get(key);
    if (hit !== undefined) return hit;
    const n = num(topicConfig(p.topic, 'min.insync.replicas', leader)?.value) ?? null;
    minIsrMemo.set(key, n);
    return n;
  };

  const containers = new Map<number, string>();
  for (const c of snapshot.containers ?? []) {
    if (c.role !== 'broker' || c.runs === undefined) continue;
    const id = Number(c.runs);
    if (Number.isInteger(id) && !containers.has(id)) containers.set(id, c.name);
  }

  const controllerId = zk?.controller?.brokerId ?? null;

  return {
    snapshot,
    scopeChannel,
    inScope,
    channels,
    registered,
    registrations,
    partitions,
    partitionByKey,
    topics,
    offsets,
    okViews,
    knownBrokerIds,
    scopeReplicaBrokers,
    brokersWithConfig,
    controllerId,
    brokerConfig,
    anyBrokerConfig,
    inherited: brokerDefault,
    topicConfig,
    minIsr,
    brokerContainer: (id) => containers.get(id),
    isLive: (id) => registered?.has(id) ?? false,
  };
}
