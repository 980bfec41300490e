/**
 * One scenario per finding code (ORDERER_* and CONTAINER_DOWN belong to other modules): the smallest change to
 * the healthy cluster that should make the code fire.
 */
import type { ClusterSnapshot, FindingCode } from '../../src/model/index.js';
import {
  addTopic,
  setBrokerConfig,
  setBrokerView,
  setPartition,
  setTopicConfig,
  snap,
  stopBroker,
} from '../fixtures/snapshots/builder.js';

export const SCENARIOS: Partial<Record<FindingCode, () => ClusterSnapshot>> = {
  SOURCE_UNAVAILABLE: () =>
    snap((s) => {
      s.zookeeper = null;
      s.sources.zookeeper = { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:12181' };
    }),
  ZK_QUORUM: () =>
    snap((s) => {
      const m = s.zookeeper!.members[2]!;
      m.ok = false;
      m.error = 'connect ECONNREFUSED';
      delete m.mode;
    }),
  CONTROLLER_MISSING: () =>
    snap((s) => {
      s.zookeeper!.controller = null;
    }),
  BROKER_NOT_REGISTERED: () => snap((s) => stopBroker(s, 4)),
  BROKER_UNREACHABLE: () =>
    snap((s) => {
      s.reachability[1] = { ...s.reachability[1]!, ok: false, error: 'connect ETIMEDOUT' };
    }),
  METADATA_DIVERGENCE: () => snap((s) => setBrokerView(s, 3, 'pubchain', 0, { errorCode: 5, leader: -1 })),
  PARTITION_OFFLINE: () =>
    snap((s) => {
      addTopic(s, 'solo', 1, 1, { brokers: [3] });
      stopBroker(s, 3);
    }),
  UNDER_MIN_ISR: () => snap((s) => setPartition(s, 'pubchain', 0, { isr: [2] })),
  AT_MIN_ISR: () => snap((s) => setPartition(s, 'pubchain', 0, { isr: [2, 3] })),
  UNDER_REPLICATED: () =>
    snap((s) => {
      setTopicConfig(s, 'pubchain', 'min.insync.replicas', '2');
      setPartition(s, 'pubchain', 0, { replicas: [2, 3, 4, 1], isr: [2, 3, 4] });
    }),
  SINGLE_REPLICA: () => snap((s) => addTopic(s, 'solo', 1, 1, { brokers: [3] })),
  CONFIG_UNCLEAN_ELECTION: () => snap((s) => setBrokerConfig(s, 'unclean.leader.election.enable', 'true')),
  CONFIG_MIN_ISR: () => snap((s) => setTopicConfig(s, 'pubchain', 'min.insync.replicas', '1')),
  CONFIG_REPLICATION: () => snap((s) => setBrokerConfig(s, 'default.replication.factor', '2')),
  CONFIG_RETENTION: () => snap((s) => setTopicConfig(s, 'pubchain', 'retention.ms', '604800000')),
  CONFIG_MESSAGE_SIZE: () => snap((s) => setBrokerConfig(s, 'replica.fetch.max.bytes', '209715200')),
  CONFIG_FLUSH: () =>
    snap((s) => {
      setBrokerConfig(s, 'log.flush.interval.messages', '9223372036854775807');
      for (const t of ['pubchain', 'testchainid']) {
        setTopicConfig(s, t, 'flush.messages', '9223372036854775807', { inherit: true });
      }
    }),
};

/** Codes other modules report. */
export const NOT_MINE: readonly FindingCode[] = [
  'ORDERER_OFFSET_AHEAD',
  'ORDERER_OFFSET_BEHIND_RETENTION',
  'ORDERERS_DISAGREE',
  'ORDERER_LOG_ERROR',
  'CONTAINER_DOWN',
];
