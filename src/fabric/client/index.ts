/**
 * A small client of Hyperledger Fabric's ordering service: signing identities from MSP folders (ECDSA, low-S
 * DER), signed envelopes (MESSAGE transactions, channel creation, Deliver seeks), and the AtomicBroadcast
 * Broadcast/Deliver gRPC API (plaintext).
 *
 *   const admin = loadMspIdentity('.../users/Admin@org1.example.com/msp', 'Org1MSP');
 *   const orderer = new OrdererClient('127.0.0.1:17050');
 *   await orderer.broadcastOne(signChannelCreateTx(readFileSync('pubchain.tx'), 'pubchain', admin).bytes);
 *   await orderer.broadcast([messageEnvelope('pubchain', data, user).bytes]);
 *   const { blocks } = await orderer.deliver('pubchain', { start: 0, stop: 'newest' }, user);
 */
export { fabricSign, loadMspIdentity, lowSDer, parseDerSignature, type SigningIdentity } from './identity.js';
export {
  computeTxId,
  messageEnvelope,
  newSignatureHeader,
  seekEnvelope,
  signChannelCreateTx,
  signedEnvelope,
  type EnvelopeSpec,
  type SeekSpec,
  type SignedEnvelope,
} from './envelopes.js';
export {
  OrdererClient,
  type BroadcastResult,
  type DeliverResult,
  type OrdererClientOptions,
} from './orderer.js';
export {
  clientTypes,
  decodeChannelHeader,
  decodeEnvelope,
  decodePayload,
  HeaderType,
  SeekBehavior,
  Status,
  statusName,
  type SeekPos,
} from './protos.js';
