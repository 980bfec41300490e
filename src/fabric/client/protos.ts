/**
 * The Fabric messages a Broadcast/Deliver client needs, declared here and checked field by field against
 * hyperledger/fabric-protos-go v0.2.0 (what Fabric 2.5 builds with): common/common.proto, common/configtx.proto,
 * msp/identities.proto, orderer/ab.proto. google.protobuf.Timestamp is declared inline (same numbers).
 *
 * DeliverResponse.block is declared as `bytes`: a message field and a bytes field share the wire format, so the
 * block arrives as its raw encoding and is decoded by src/fabric/protos.ts's decodeBlock (one Block type).
 */
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";

package fabclient;

message Timestamp {
  int64 seconds = 1;
  int32 nanos = 2;
}

message Envelope {
  bytes payload = 1;
  bytes signature = 2;
}

message Payload {
  Header header = 1;
  bytes data = 2;
}

message Header {
  bytes channel_header = 1;
  bytes signature_header = 2;
}

message ChannelHeader {
  int32 type = 1;
  int32 version = 2;
  Timestamp timestamp = 3;
  string channel_id = 4;
  string tx_id = 5;
  uint64 epoch = 6;
  bytes extension = 7;
  bytes tls_cert_hash = 8;
}

message SignatureHeader {
  bytes creator = 1;
  bytes nonce = 2;
}

message SerializedIdentity {
  string mspid = 1;
  bytes id_bytes = 2;
}

message ConfigUpdateEnvelope {
  bytes config_update = 1;
  repeated ConfigSignature signatures = 2;
}

message ConfigSignature {
  bytes signature_header = 1;
  bytes signature = 2;
}

message BroadcastResponse {
  int32 status = 1;
  string info = 2;
}

message SeekNewest {}
message SeekOldest {}
message SeekSpecified {
  uint64 number = 1;
}
message SeekNextCommit {}

message SeekPosition {
  oneof Type {
    SeekNewest newest = 1;
    SeekOldest oldest = 2;
    SeekSpecified specified = 3;
    SeekNextCommit next_commit = 4;
  }
}

message SeekInfo {
  SeekPosition start = 1;
  SeekPosition stop = 2;
  int32 behavior = 3;
  int32 error_response = 4;
}

message DeliverResponse {
  oneof Type {
    int32 status = 1;
    bytes block = 2;
  }
}
`;

const root = protobuf.parse(PROTO, { keepCase: false }).root;
const t = (name: string) => root.lookupType(`fabclient.${name}`);

export const clientTypes = {
  Envelope: t('Envelope'),
  Payload: t('Payload'),
  Header: t('Header'),
  ChannelHeader: t('ChannelHeader'),
  SignatureHeader: t('SignatureHeader'),
  SerializedIdentity: t('SerializedIdentity'),
  ConfigUpdateEnvelope: t('ConfigUpdateEnvelope'),
  ConfigSignature: t('ConfigSignature'),
  BroadcastResponse: t('BroadcastResponse'),
  SeekInfo: t('SeekInfo'),
  DeliverResponse: t('DeliverResponse'),
};

/** common.HeaderType. */
export const HeaderType = {
  MESSAGE: 0,
  CONFIG: 1,
  CONFIG_UPDATE: 2,
  ENDORSER_TRANSACTION: 3,
  ORDERER_TRANSACTION: 4,
  DELIVER_SEEK_INFO: 5,
  CHAINCODE_PACKAGE: 6,
} as const;

/** common.Status. */
export const Status = {
  UNKNOWN: 0,
  SUCCESS: 200,
  BAD_REQUEST: 400,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  REQUEST_ENTITY_TOO_LARGE: 413,
  INTERNAL_SERVER_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type StatusName = keyof typeof Status;

/** "SERVICE_UNAVAILABLE" for 503; "STATUS_<n>" for a code this list does not know. */
export function statusName(code: number): string {
  const hit = Object.entries(Status).find(([, v]) => v === code);
  return hit ? hit[0] : `STATUS_${code}`;
}

/** orderer.SeekInfo.SeekBehavior. */
export const SeekBehavior = { BLOCK_UNTIL_READY: 0, FAIL_IF_NOT_READY: 1 } as const;

function encode(type: protobuf.Type, value: Record<string, unknown>): Uint8Array {
  const err = type.verify(value);
  if (err) throw new Error(`${type.name}: ${err}`);
  return type.encode(type.create(value)).finish();
}

export interface EnvelopeMsg {
  payload: Uint8Array;
  signature: Uint8Array;
}

export interface ChannelHeaderMsg {
  type: number;
  version?: number;
  timestamp?: Date;
  channelId: string;
  txId?: string;
  epoch?: number;
}

export interface PayloadMsg {
  channelHeader: Uint8Array;
  signatureHeader: Uint8Array;
  data: Uint8Array;
}

export function encodeEnvelope(e: EnvelopeMsg): Uint8Array {
  return encode(clientTypes.Envelope, { payload: e.payload, signature: e.signature });
}

export function decodeEnvelope(bytes: Uint8Array): EnvelopeMsg {
  const m = clientTypes.Envelope.toObject(clientTypes.Envelope.decode(bytes), { bytes: Uint8Array }) as {
    payload?: Uint8Array;
    signature?: Uint8Array;
  };
  return { payload: m.payload ?? new Uint8Array(), signature: m.signature ?? new Uint8Array() };
}

export function encodeChannelHeader(h: ChannelHeaderMsg): Uint8Array {
  const ts = h.timestamp ?? new Date();
  const ms = ts.getTime();
  return encode(clientTypes.ChannelHeader, {
    type: h.type,
    version: h.version ?? 0,
    timestamp: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 },
    channelId: h.channelId,
    txId: h.txId ?? '',
    epoch: h.epoch ?? 0,
  });
}

export function decodeChannelHeader(bytes: Uint8Array): { type: number; channelId: string; txId: string } {
  const m = clientTypes.ChannelHeader.toObject(clientTypes.ChannelHeader.decode(bytes), {
    defaults: true,
  }) as { type: number; channelId: string; txId: string };
  return { type: m.type, channelId: m.channelId, txId: m.txId };
}

export function encodeSignatureHeader(creator: Uint8Array, nonce: Uint8Array): Uint8Array {
  return encode(clientTypes.SignatureHeader, { creator, nonce });
}

export function encodePayload(p: PayloadMsg): Uint8Array {
  return encode(clientTypes.Payload, {
    header: { channelHeader: p.channelHeader, signatureHeader: p.signatureHeader },
    data: p.data,
  });
}

export function decodePayload(bytes: Uint8Array): PayloadMsg {
  const m = clientTypes.Payload.toObject(clientTypes.Payload.decode(bytes), {
    bytes: Uint8Array,
    defaults: true,
  }) as { header?: { channelHeader: Uint8Array; signatureHeader: Uint8Array }; data: Uint8Array };
  return {
    channelHeader: m.header?.channelHeader ?? new Uint8Array(),
    signatureHeader: m.header?.signatureHeader ?? new Uint8Array(),
    data: m.data,
  };
}

export function encodeSerializedIdentity(mspId: string, certPem: Uint8Array): Uint8Array {
  return encode(clientTypes.SerializedIdentity, { mspid: mspId, idBytes: certPem });
}

export interface ConfigUpdateEnvelopeMsg {
  configUpdate: Uint8Array;
  signatures: { signatureHeader: Uint8Array; signature: Uint8Array }[];
}

export function decodeConfigUpdateEnvelope(bytes: Uint8Array): ConfigUpdateEnvelopeMsg {
  const m = clientTypes.ConfigUpdateEnvelope.toObject(clientTypes.ConfigUpdateEnvelope.decode(bytes), {
    bytes: Uint8Array,
    defaults: true,
    arrays: true,
  }) as ConfigUpdateEnvelopeMsg;
  return { configUpdate: m.configUpdate, signatures: m.signatures };
}

export function encodeConfigUpdateEnvelope(m: ConfigUpdateEnvelopeMsg): Uint8Array {
  return encode(clientTypes.ConfigUpdateEnvelope, {
    configUpdate: m.configUpdate,
    signatures: m.signatures.map((s) => ({ signatureHeader: s.signatureHeader, signature: s.signature })),
  });
}

export function decodeBroadcastResponse(bytes: Uint8Array): { status: number; info: string } {
  const m = clientTypes.BroadcastResponse.toObject(clientTypes.BroadcastResponse.decode(bytes), {
    defaults: true,
  }) as { status: number; info: string };
  return { status: m.status, info: m.info };
}

/** Where a Deliver starts or stops: a block number, the oldest, or the newest block. */
export type SeekPos = number | 'oldest' | 'newest';

/** The largest block number (uint64 max): "stop never" for a Deliver that follows the chain. */
export const SEEK_MAX = '18446744073709551615';

function seekPosition(p: SeekPos | typeof SEEK_MAX): Record<string, unknown> {
  if (p === 'oldest') return { oldest: {} };
  if (p === 'newest') return { newest: {} };
  // uint64 max as protobufjs long bits (low and high words all ones).
  if (p === SEEK_MAX) return { specified: { number: { low: -1, high: -1, unsigned: true } } };
  return { specified: { number: p } };
}

export function encodeSeekInfo(
  start: SeekPos,
  stop: SeekPos | typeof SEEK_MAX,
  behavior: number,
): Uint8Array {
  return encode(clientTypes.SeekInfo, {
    start: seekPosition(start),
    stop: seekPosition(stop),
    behavior,
    errorResponse: 0,
  });
}

export type DeliverMsg = { status: number } | { block: Uint8Array };

export function decodeDeliverResponse(bytes: Uint8Array): DeliverMsg {
  const m = clientTypes.DeliverResponse.toObject(clientTypes.DeliverResponse.decode(bytes), {
    bytes: Uint8Array,
    oneofs: true,
  }) as { status?: number; block?: Uint8Array };
  if (m.block !== undefined) return { block: m.block };
  return { status: m.status ?? 0 };
}
