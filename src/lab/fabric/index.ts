/**
 * Real Hyperledger Fabric orderers (Kafka consenter) in the lab: `labUp({ orderers: N })` builds Fabric's
 * binaries when they are not cached (scripts/build-fabric.sh), makes crypto material and the system channel's
 * genesis block, runs orderer1..N.example.com on 127.0.0.1 and creates the lab's channels (pubchain) with the
 * project's own client (src/fabric/client). TLS is off: everything is on loopback.
 *
 *   await labUp({ workDir, orderers: 1 });
 *   await submitTransactions({ workDir }, 'pubchain', 25);
 *   await waitOffsetPersisted({ workDir }, 'pubchain', 20);
 *   await stopOrderer({ workDir }, 1, { kill: true });
 */
export {
  channelTip,
  createLabChannel,
  labIdentities,
  labOrdererClient,
  labOrderers,
  ordererLogSize,
  readerFor,
  removeOrderers,
  startOrderer,
  stopLabOrderers,
  stopOrderer,
  submitTransactions,
  syncOrderers,
  startedLine,
  waitChannelReady,
  waitOffsetPersisted,
  waitOrdererLog,
  type ChannelTip,
  type LabIdentities,
} from './control.js';
export {
  ensureFabric,
  fabricBinDir,
  fabricCached,
  fabricUnbuildableReason,
  FABRIC_COMMANDS,
} from './binaries.js';
export {
  BATCH_TIMEOUT,
  MAX_MESSAGE_COUNT,
  networkPaths,
  ORDERER_KAFKA_VERSION,
  ORDERER_MSP,
  ORDERER_RETRY,
  ordererName,
  ordererPaths,
  ORG_MSP,
  SYSTEM_CHANNEL,
} from './network.js';
export {
  ORDERER_LOGGING_SPEC,
  ordererInventory,
  operationsTlsFiles,
  ordererStatuses,
  readOrderers,
  type OrdererInventoryEntry,
  type OrdererState,
  type OrdererStatus,
} from './orderers.js';
