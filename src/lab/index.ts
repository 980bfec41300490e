/**
 * The local lab: a real ZooKeeper ensemble + Kafka brokers + Redis on 127.0.0.1, and fault injection on it.
 *
 *   const status = await labUp({ workDir: '.lab/test', kafkaVersion: '1.0.2' });
 *   await killBroker({ workDir: '.lab/test' }, 3);
 *   await healLab({ workDir: '.lab/test' });
 *   await labDown({ workDir: '.lab/test', purge: true });
 */
export {
  labUp,
  labDown,
  labStatus,
  loadLabState,
  inventoryPath,
  writeInventory,
  type LabStatus,
  type LabUpOptions,
  type LabDownOptions,
  type CreateTopicSpec,
} from './lab.js';
export {
  killBroker,
  stopBroker,
  startBroker,
  restartBrokerWithAdvertisedListener,
  restoreAdvertisedListener,
  stopZookeeper,
  startZookeeper,
  createTopic,
  deleteTopic,
  truncatePartition,
  getPartitionState,
  getBrokerRegistration,
  getControllerId,
  getHighWatermark,
  healLab,
  type LabRef,
  type KillBrokerOptions,
  type TruncationResult,
} from './faults.js';
export {
  DEFAULT_BASE_PORTS,
  DEFAULT_CHANNELS,
  DEFAULT_FABRIC_VERSION,
  DEFAULT_KAFKA_VERSION,
  FABRIC_KAFKA_VERSION,
  defaultWorkDir,
  repoRoot,
  resolveLabOptions,
  zookeeperConnect,
  ports,
  type LabBasePorts,
  type LabOptions,
  type ResolvedLabOptions,
} from './options.js';
export { ensureJars, jarsCached, jarsDir } from './jars.js';
export {
  labSecurity,
  securedPort,
  scramCredential,
  LAB_SASL_USER,
  LAB_SECURITY_ENV,
  SECURITY_PORT_OFFSETS,
  type LabSecurity,
  type SecuredListener,
} from './security.js';
export { waitFor, sleep, LabTimeoutError, type WaitOptions } from './wait.js';
export { brokerMetadata, listOffset, type BrokerMetadata } from './wire.js';
export {
  fourLetter,
  zkMode,
  withZk,
  LabZk,
  type ZkPartitionState,
  type ZkBrokerRegistration,
  type ZkMode,
} from './zk.js';
export {
  scanBatches,
  planTruncation,
  logEndOffset,
  type BatchInfo,
  type TruncationPlan,
} from './kafka-log.js';
export { acquireFileLock, type LabState, type BrokerState, type ZkNodeState } from './state.js';
export { kafkaToolCommand, runKafkaTool, toolClass, type KafkaTool } from './tools.js';
// Fabric orderers in the lab (labUp with `orderers: N`).
export {
  channelTip,
  createLabChannel,
  ensureFabric,
  fabricBinDir,
  fabricCached,
  fabricUnbuildableReason,
  labIdentities,
  labOrdererClient,
  labOrderers,
  networkPaths,
  ordererLogSize,
  ordererPaths,
  removeOrderers,
  startOrderer,
  stopOrderer,
  submitTransactions,
  startedLine,
  SYSTEM_CHANNEL,
  waitChannelReady,
  waitOffsetPersisted,
  waitOrdererLog,
  type ChannelTip,
  type LabIdentities,
  type OrdererStatus,
} from './fabric/index.js';
