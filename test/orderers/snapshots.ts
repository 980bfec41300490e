/** Hand-made snapshots for the orderer checks and the pad-channel plan. */
import type {
  ClusterSnapshot,
  LogMatch,
  OffsetSource,
  OrdererChannelPosition,
  PartitionOffsets,
  ZkPartitionState,
} from '../../src/model/index.js';

export function position(
  orderer: string,
  channel: string,
  lastOffsetPersisted: number | null,
  opts: { source?: OffsetSource | null; height?: number } = {},
): OrdererChannelPosition {
  const source = opts.source === undefined ? 'metrics' : opts.source;
  const p: OrdererChannelPosition = {
    orderer,
    channel,
    lastOffsetPersisted: source === null ? null : lastOffsetPersisted,
    expectedStartOffset: source === null || lastOffsetPersisted === null ? null : lastOffsetPersisted + 1,
    source,
    bySource:
      source === null
        ? {}
        : {
            [source]: {
              lastOffsetPersisted,
              ...(opts.height !== undefined ? { blockHeight: opts.height } : {}),
            },
          },
    errors: source === null ? [{ source: 'metrics', error: 'http://x/metrics: ECONNREFUSED' }] : [],
  };
  if (opts.height !== undefined && source !== null) p.blockHeight = opts.height;
  if (source !== null && lastOffsetPersisted === null) p.startFromOldest = true;
  return p;
}

export interface ScenarioOptions {
  channel?: string;
  positions?: OrdererChannelPosition[];
  offsets?: Partial<PartitionOffsets> | null;
  partition?: Partial<ZkPartitionState> | null;
  registered?: number[];
  topicConfig?: Record<string, string>;
  brokerConfigs?: Record<string, Record<string, string>>;
  logs?: LogMatch[];
  zookeeper?: boolean;
}

/**
 * Seed 000: pubchain/0 on brokers [0,3,1], leader 0, ISR all three, min ISR 2; Kafka lost the tail so the
 * partition ends at 11 while three orderers persisted offset 20 (they resume at 21).
 */
export function scenario(o: ScenarioOptions = {}): ClusterSnapshot {
  const channel = o.channel ?? 'pubchain';
  const positions = o.positions ?? [
    position('orderer0.example.com', channel, 20, { height: 10 }),
    position('orderer1.example.com', channel, 20, { height: 10, source: 'ledger' }),
    position('orderer2.example.com', channel, 20, { height: 10 }),
  ];
  const registered = o.registered ?? [0, 1, 2, 3];
  const partition: ZkPartitionState | null =
    o.partition === null
      ? null
      : { topic: channel, partition: 0, replicas: [0, 3, 1], leader: 0, isr: [3, 1, 0], ...o.partition };
  const offsets: PartitionOffsets | null =
    o.offsets === null
      ? null
      : { topic: channel, partition: 0, highWatermark: 11, logStartOffset: 0, broker: 0, ...o.offsets };
  return {
    cluster: 'lab',
    generatedAt: '2019-03-01T12:00:00.000Z',
    scope: {},
    sources: { zookeeper: { ok: true }, kafka: { ok: true }, orderers: { ok: true } },
    expected: {
      bootstrap: ['127.0.0.1:9092'],
      brokerIds: [0, 1, 2, 3],
      zookeeper: ['127.0.0.1:2181'],
      channels: [channel],
    },
    zookeeper:
      o.zookeeper === false
        ? null
        : {
            members: [],
            controller: { brokerId: 2 },
            brokers: registered.map((id) => ({
              id,
              host: '127.0.0.1',
              port: 9092 + id,
              endpoints: [`PLAINTEXT://127.0.0.1:${9092 + id}`],
            })),
            partitions: partition ? [partition] : [],
            topicConfigs: {},
            brokerConfigOverrides: {},
            reassignment: null,
            malformed: [],
          },
    kafka: {
      views: [
        {
          brokerId: 0,
          address: '127.0.0.1:9092',
          ok: true,
          partitions: partition
            ? [
                {
                  topic: channel,
                  partition: 0,
                  errorCode: partition.leader === null || partition.leader < 0 ? 5 : 0,
                  leader: partition.leader ?? -1,
                  replicas: partition.replicas,
                  isr: partition.isr,
                },
              ]
            : [],
        },
      ],
      offsets: offsets ? [offsets] : [],
      brokerConfigs: o.brokerConfigs ?? { '0': { 'min.insync.replicas': '2' } },
      topicConfigs: { [channel]: o.topicConfig ?? {} },
    },
    reachability: [],
    orderers: { positions, health: [] },
    containers: null,
    logs: o.logs ?? [],
  };
}

export function logMatch(m: Partial<LogMatch> & Pick<LogMatch, 'origin' | 'signature'>): LogMatch {
  return { severity: 'warning', line: 'a line', count: 1, ...m };
}
