/**
 * The snapshot: everything gathered from one cluster at one moment, before any judgement. Gatherers fill it,
 * checks (pure functions) read it, renderers never see it without findings. A part that could not be read is
 * `null` (or absent) and its source says why in `sources`.
 */

export type SourceName = 'zookeeper' | 'kafka' | 'docker' | 'orderers';

export interface SourceStatus {
  ok: boolean;
  /** Time the source took to answer, in milliseconds. */
  ms?: number;
  /** Why it could not be read (one line, with the address or path involved). */
  error?: string;
  /** What could not be checked even though the source answered (e.g. an API the broker lacks). */
  notChecked?: string[];
}

// ---------------------------------------------------------------- ZooKeeper

export interface ZkMemberStatus {
  /** host:port as in the connect string. */
  address: string;
  ok: boolean;
  /** From the `srvr` four-letter word. */
  mode?: 'leader' | 'follower' | 'standalone' | 'observer' | 'unknown';
  zxid?: string;
  latency?: { min: number; avg: number; max: number };
  version?: string;
  /** Why the member could not be read (refused, timeout, 4lw not allowed...). */
  error?: string;
}

export interface BrokerRegistration {
  id: number;
  /** Host and port of the PLAINTEXT (or first) listener, as registered. */
  host: string;
  port: number;
  /** Advertised endpoints, e.g. "PLAINTEXT://127.0.0.1:19092". */
  endpoints: string[];
  /** Listener name -> security protocol (listener_security_protocol_map), when registered. */
  securityProtocols?: Record<string, string>;
  rack?: string;
  /** Registration time (ms since epoch), from the znode. */
  timestamp?: number;
}

export interface ZkPartitionState {
  topic: string;
  partition: number;
  /** Assignment from /brokers/topics/T, in preference order. */
  replicas: number[];
  /** From .../partitions/P/state; -1 means no leader. `null` when the state znode is missing. */
  leader: number | null;
  leaderEpoch?: number;
  isr: number[];
  controllerEpoch?: number;
}

export interface ZkView {
  members: ZkMemberStatus[];
  /** null when /controller does not exist (no active controller). */
  controller: { brokerId: number; timestamp?: number } | null;
  controllerEpoch?: number;
  brokers: BrokerRegistration[];
  partitions: ZkPartitionState[];
  /** Per-topic config overrides from /config/topics/T. */
  topicConfigs: Record<string, Record<string, string>>;
  /** Dynamic broker config overrides from /config/brokers/<id> (and "<default>"). */
  brokerConfigOverrides: Record<string, Record<string, string>>;
  /** A partition reassignment in progress (/admin/reassign_partitions), or null. */
  reassignment: { topic: string; partition: number; replicas: number[] }[] | null;
  /** Paths whose content did not parse, with the reason: reported, never fatal. */
  malformed: { path: string; error: string }[];
  /** Members whose sessions served the reads, in order: more than one when a member went away mid-read. */
  readFrom?: string[];
}

// ---------------------------------------------------------------- Kafka

export interface MetadataPartition {
  topic: string;
  partition: number;
  /** Kafka error code for the partition (0 = none; 5 = LEADER_NOT_AVAILABLE...). */
  errorCode: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

/** The answer of one broker to a Metadata request: each broker is asked, so disagreements show. */
export interface BrokerMetadataView {
  /** The broker we asked (id from ZooKeeper/inventory when known) and the address we used. */
  brokerId: number | null;
  address: string;
  ok: boolean;
  ms?: number;
  error?: string;
  controllerId?: number;
  brokers?: { id: number; host: string; port: number; rack?: string | null }[];
  partitions?: MetadataPartition[];
  /** Topic-level errors (e.g. UNKNOWN_TOPIC_OR_PARTITION), by topic. */
  topicErrors?: Record<string, number>;
}

export interface PartitionOffsets {
  topic: string;
  partition: number;
  highWatermark?: number;
  logStartOffset?: number;
  /** Which broker answered (the leader), or why it could not be read. */
  broker?: number;
  error?: string;
}

export interface KafkaView {
  views: BrokerMetadataView[];
  offsets: PartitionOffsets[];
  /** Effective broker configs by broker id (string values as Kafka reports them). */
  brokerConfigs: Record<string, Record<string, string>>;
  /** Effective topic configs (including defaults) by topic. */
  topicConfigs: Record<string, Record<string, string>>;
  /** ApiVersions answered by a broker, when read: apiKey -> [min, max]. */
  apiVersions?: Record<string, Record<number, [number, number]>>;
}

export interface EndpointProbe {
  brokerId: number;
  endpoint: string;
  host: string;
  port: number;
  /** Who probed: "opsbot" for this process; a container name for probes from inside containers. */
  from: string;
  ok: boolean;
  ms: number;
  error?: string;
}

// ---------------------------------------------------------------- Fabric orderers

export type OffsetSource = 'metrics' | 'ledger' | 'log';

export interface OrdererChannelPosition {
  orderer: string;
  channel: string;
  /** The offset the orderer persisted in its newest block; it consumes from this + 1 on start. */
  lastOffsetPersisted: number | null;
  expectedStartOffset: number | null;
  /** Ledger height (number of blocks), when known. */
  blockHeight?: number;
  /** The source the position was taken from (best available). */
  source: OffsetSource | null;
  /**
   * true when the best source says no offset was ever persisted (a ledger with only the genesis block, gauge -3):
   * the orderer consumes from the oldest offset, and expectedStartOffset is null.
   */
  startFromOldest?: boolean;
  /** Things worth knowing that are not errors: a torn last block, sources that disagree, metadata copies. */
  notes?: string[];
  /** Every source that answered, so disagreements between sources show. */
  bySource: Partial<
    Record<OffsetSource, { lastOffsetPersisted: number | null; blockHeight?: number; at?: string }>
  >;
  errors: { source: OffsetSource; error: string }[];
}

export interface OrdererHealth {
  orderer: string;
  /** /healthz answered 200. */
  healthy?: boolean;
  failedChecks?: { component: string; reason: string }[];
  error?: string;
}

/** A known failure signature matched in a log line (orderer, Kafka or ZooKeeper). */
export interface LogMatch {
  /** Where the line came from: orderer name, container name or file. */
  origin: string;
  signature: string;
  severity: 'critical' | 'warning' | 'info';
  channel?: string;
  line: string;
  /** ISO time of the line when known. */
  at?: string;
  count: number;
  firstAt?: string;
  /** The container the line was read from, when it came from a container's log (origin may be an orderer). */
  container?: string;
}

// ---------------------------------------------------------------- Containers

export interface ContainerObservation {
  name: string;
  role: 'broker' | 'zookeeper' | 'orderer' | 'other';
  /** Broker id, ZooKeeper member address or orderer name the container runs. */
  runs?: string | number;
  endpoint: string;
  found: boolean;
  state?: string;
  running?: boolean;
  restartCount?: number;
  oomKilled?: boolean;
  exitCode?: number;
  health?: string;
  startedAt?: string;
  error?: string;
  /** Container id (full). */
  id?: string;
  /** When the container last exited (ISO), when it has. */
  finishedAt?: string;
  /** Restart policy name (no, always, unless-stopped, on-failure). */
  restartPolicy?: string;
  /** The restart count seen at the previous check, when the caller passed it: growth means it crashed since. */
  previousRestartCount?: number;
}

// ---------------------------------------------------------------- The whole

export interface ClusterSnapshot {
  cluster: string;
  generatedAt: string;
  scope: { channel?: string };
  sources: Partial<Record<SourceName, SourceStatus>>;
  /** What the inventory says should exist. */
  expected: {
    bootstrap: string[];
    brokerIds: number[];
    zookeeper: string[];
    channels: string[];
  };
  zookeeper: ZkView | null;
  /** Each ensemble member's own answer (four-letter words): read even when no session can be had. */
  zookeeperMembers?: ZkMemberStatus[];
  kafka: KafkaView | null;
  reachability: EndpointProbe[];
  orderers: { positions: OrdererChannelPosition[]; health: OrdererHealth[] } | null;
  containers: ContainerObservation[] | null;
  logs: LogMatch[];
}
