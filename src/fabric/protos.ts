/**
 * The few Fabric protobuf messages an ops tool needs, declared here (the build copies only .ts files) and
 * checked field by field against hyperledger/fabric release-1.4 `protos/orderer/kafka.proto` and
 * `protos/common/common.proto` (the same numbers hold in fabric-protos for 2.x).
 *
 * Offsets and block numbers are plain numbers: Kafka offsets and block heights stay far below 2^53, and a value
 * that does not fit is reported as an error rather than rounded.
 */
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";

package orderer;

message KafkaMessage {
  oneof Type {
    KafkaMessageRegular regular = 1;
    KafkaMessageTimeToCut time_to_cut = 2;
    KafkaMessageConnect connect = 3;
  }
}

message KafkaMessageRegular {
  enum Class {
    UNKNOWN = 0;
    NORMAL = 1;
    CONFIG = 2;
  }
  bytes payload = 1;
  uint64 config_seq = 2;
  Class class = 3;
  int64 original_offset = 4;
}

message KafkaMessageTimeToCut {
  uint64 block_number = 1;
}

message KafkaMessageConnect {
  bytes payload = 1;
}

message KafkaMetadata {
  int64 last_offset_persisted = 1;
  int64 last_original_offset_processed = 2;
  int64 last_resubmitted_config_offset = 3;
}
`;

const COMMON_PROTO = `
syntax = "proto3";

package common;

message LastConfig {
  uint64 index = 1;
}

message Metadata {
  bytes value = 1;
  repeated MetadataSignature signatures = 2;
}

message MetadataSignature {
  bytes signature_header = 1;
  bytes signature = 2;
}

message Block {
  BlockHeader header = 1;
  BlockData data = 2;
  BlockMetadata metadata = 3;
}

message BlockHeader {
  uint64 number = 1;
  bytes previous_hash = 2;
  bytes data_hash = 3;
}

message BlockData {
  repeated bytes data = 1;
}

message BlockMetadata {
  repeated bytes metadata = 1;
}

message OrdererBlockMetadata {
  LastConfig last_config = 1;
  bytes consenter_metadata = 2;
}
`;

const root = new protobuf.Root();
protobuf.parse(PROTO, root, { keepCase: false });
protobuf.parse(COMMON_PROTO, root, { keepCase: false });

const T = {
  KafkaMessage: root.lookupType('orderer.KafkaMessage'),
  KafkaMessageRegular: root.lookupType('orderer.KafkaMessageRegular'),
  KafkaMetadata: root.lookupType('orderer.KafkaMetadata'),
  Metadata: root.lookupType('common.Metadata'),
  Block: root.lookupType('common.Block'),
  OrdererBlockMetadata: root.lookupType('common.OrdererBlockMetadata'),
  LastConfig: root.lookupType('common.LastConfig'),
};

/** The protobufjs types, for tests and tools that need more than the helpers below. */
export const fabricTypes = T;

/** common.BlockMetadataIndex (release-1.4 common.proto). */
export const BlockMetadataIndex = {
  SIGNATURES: 0,
  LAST_CONFIG: 1,
  TRANSACTIONS_FILTER: 2,
  ORDERER: 3,
  COMMIT_HASH: 4,
} as const;

/** Sarama's OffsetOldest. */
export const SARAMA_OFFSET_OLDEST = -2;
/**
 * What a Kafka orderer uses as "last offset persisted" when its newest block carries no Kafka metadata
 * (getOffsets in orderer/consensus/kafka/chain.go: `sarama.OffsetOldest - 1`): it then consumes from
 * OffsetOldest. The gauge and the "Starting chain" log line show this value.
 */
export const NO_OFFSET_PERSISTED = SARAMA_OFFSET_OLDEST - 1;

export class FabricDecodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FabricDecodeError';
  }
}

// ---------------------------------------------------------------- numbers

type LongLike = { low: number; high: number; unsigned: boolean; toString(): string };

/** protobufjs int64/uint64 (Long or number) -> number, refusing values that a double cannot hold exactly. */
export function longToNumber(v: unknown, what: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return checkSafe(Number(v), v.toString(), what);
  if (typeof v === 'object' && 'low' in v && 'high' in v) {
    const l = v as LongLike;
    const big = BigInt(l.toString());
    return checkSafe(Number(big), big.toString(), what);
  }
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return checkSafe(Number(v), v, what);
  throw new FabricDecodeError(`${what}: not an integer (${String(v)})`);
}

function checkSafe(n: number, text: string, what: string): number {
  if (!Number.isSafeInteger(n))
    throw new FabricDecodeError(`${what}: ${text} does not fit in a safe integer`);
  return n;
}

function toBytes(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(0);
}

function decode(
  type: protobuf.Type,
  bytes: Uint8Array,
  what: string,
): protobuf.Message & Record<string, unknown> {
  try {
    return type.decode(bytes) as protobuf.Message & Record<string, unknown>;
  } catch (err) {
    throw new FabricDecodeError(`cannot decode ${what}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Drops scalar fields at their proto3 default (0, false, "", empty bytes): Go's proto.Marshal never writes them,
 * protobufjs writes whatever was set. Sub-messages are kept (an empty one still marks a oneof, e.g. CONNECT).
 */
function omitDefaults(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === null || v === 0 || v === false || v === '' || v === 'UNKNOWN') continue;
    if (v instanceof Uint8Array) {
      if (v.length > 0) out[k] = v;
    } else if (Array.isArray(v)) {
      if (v.length > 0)
        out[k] = v.map((x) =>
          x && typeof x === 'object' && !(x instanceof Uint8Array) ? omitDefaults(x) : x,
        );
    } else if (typeof v === 'object') {
      out[k] = omitDefaults(v as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function encode(type: protobuf.Type, input: Record<string, unknown>): Uint8Array {
  const obj = omitDefaults(input);
  const problem = type.verify(obj);
  if (problem) throw new FabricDecodeError(`invalid ${type.name}: ${problem}`);
  return type.encode(type.fromObject(obj)).finish();
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

// ---------------------------------------------------------------- Kafka messages

export type KafkaMessageClass = 'UNKNOWN' | 'NORMAL' | 'CONFIG';

export type DecodedKafkaMessage =
  | { type: 'connect'; payload: Uint8Array }
  | { type: 'time_to_cut'; blockNumber: number }
  | {
      type: 'regular';
      payload: Uint8Array;
      configSeq: number;
      class: KafkaMessageClass;
      originalOffset: number;
    }
  /** Parses, but no oneof member is set: the orderer's type switch matches nothing and ignores it. */
  | { type: 'empty' }
  /** Does not parse: the orderer logs CRITICAL "Unable to unmarshal consumed message" and skips it. */
  | { type: 'unparseable'; error: string };

/**
 * A CONNECT message, exactly as the orderer posts it (newConnectMessage: Connect{Payload: nil}): bytes `1a 00`.
 * Every orderer ignores it, which makes it the only safe filler for a partition.
 */
export function encodeConnectMessage(): Uint8Array {
  return T.KafkaMessage.encode(T.KafkaMessage.fromObject({ connect: {} })).finish();
}

/** A TIME_TO_CUT message. For tests only: a stray one on a live channel stops its consenter for good. */
export function encodeTimeToCutMessage(blockNumber: number): Uint8Array {
  return encode(T.KafkaMessage, { timeToCut: { blockNumber } });
}

export function encodeRegularMessage(m: {
  payload: Uint8Array;
  configSeq?: number;
  class?: KafkaMessageClass;
  originalOffset?: number;
}): Uint8Array {
  return encode(T.KafkaMessage, {
    regular: {
      payload: m.payload,
      configSeq: m.configSeq ?? 0,
      class: m.class ?? 'NORMAL',
      originalOffset: m.originalOffset ?? 0,
    },
  });
}

/** Classifies a message value read from a channel's partition the way the orderer would. */
export function decodeKafkaMessage(bytes: Uint8Array): DecodedKafkaMessage {
  let msg: Record<string, unknown>;
  try {
    msg = T.KafkaMessage.decode(bytes) as unknown as Record<string, unknown>;
  } catch (err) {
    return { type: 'unparseable', error: (err as Error).message };
  }
  try {
    if (msg.connect) {
      return { type: 'connect', payload: toBytes((msg.connect as Record<string, unknown>).payload) };
    }
    if (msg.timeToCut) {
      const ttc = msg.timeToCut as Record<string, unknown>;
      return { type: 'time_to_cut', blockNumber: longToNumber(ttc.blockNumber, 'time_to_cut.block_number') };
    }
    if (msg.regular) {
      const r = msg.regular as Record<string, unknown>;
      const cls = typeof r.class === 'number' ? r.class : 0;
      const className = (T.KafkaMessageRegular.lookupEnum('Class').valuesById[cls] ??
        'UNKNOWN') as KafkaMessageClass;
      return {
        type: 'regular',
        payload: toBytes(r.payload),
        configSeq: longToNumber(r.configSeq, 'regular.config_seq'),
        class: className,
        originalOffset: longToNumber(r.originalOffset, 'regular.original_offset'),
      };
    }
  } catch (err) {
    return { type: 'unparseable', error: (err as Error).message };
  }
  return { type: 'empty' };
}

// ---------------------------------------------------------------- Kafka metadata

export interface KafkaMetadata {
  lastOffsetPersisted: number;
  lastOriginalOffsetProcessed: number;
  lastResubmittedConfigOffset: number;
}

export function encodeKafkaMetadata(m: Partial<KafkaMetadata> & { lastOffsetPersisted: number }): Uint8Array {
  return encode(T.KafkaMetadata, {
    lastOffsetPersisted: m.lastOffsetPersisted,
    lastOriginalOffsetProcessed: m.lastOriginalOffsetProcessed ?? 0,
    lastResubmittedConfigOffset: m.lastResubmittedConfigOffset ?? 0,
  });
}

export function decodeKafkaMetadata(bytes: Uint8Array): KafkaMetadata {
  const m = decode(T.KafkaMetadata, bytes, 'orderer.KafkaMetadata');
  return {
    lastOffsetPersisted: longToNumber(m.lastOffsetPersisted, 'last_offset_persisted'),
    lastOriginalOffsetProcessed: longToNumber(
      m.lastOriginalOffsetProcessed,
      'last_original_offset_processed',
    ),
    lastResubmittedConfigOffset: longToNumber(
      m.lastResubmittedConfigOffset,
      'last_resubmitted_config_offset',
    ),
  };
}

// ---------------------------------------------------------------- common.Metadata and friends

export interface MetadataSignature {
  signatureHeader: Uint8Array;
  signature: Uint8Array;
}

export interface Metadata {
  value: Uint8Array;
  signatures: MetadataSignature[];
}

export function encodeMetadata(m: { value?: Uint8Array; signatures?: MetadataSignature[] }): Uint8Array {
  return encode(T.Metadata, { value: m.value ?? new Uint8Array(0), signatures: m.signatures ?? [] });
}

export function decodeMetadata(bytes: Uint8Array): Metadata {
  const m = decode(T.Metadata, bytes, 'common.Metadata');
  const sigs = Array.isArray(m.signatures) ? (m.signatures as Record<string, unknown>[]) : [];
  return {
    value: toBytes(m.value),
    signatures: sigs.map((s) => ({
      signatureHeader: toBytes(s.signatureHeader),
      signature: toBytes(s.signature),
    })),
  };
}

export interface OrdererBlockMetadata {
  /** null when the field is absent. */
  lastConfig: number | null;
  consenterMetadata: Uint8Array;
}

export function encodeOrdererBlockMetadata(m: {
  lastConfig?: number;
  consenterMetadata?: Uint8Array;
}): Uint8Array {
  return encode(T.OrdererBlockMetadata, {
    ...(m.lastConfig !== undefined ? { lastConfig: { index: m.lastConfig } } : {}),
    consenterMetadata: m.consenterMetadata ?? new Uint8Array(0),
  });
}

export function decodeOrdererBlockMetadata(bytes: Uint8Array): OrdererBlockMetadata {
  const m = decode(T.OrdererBlockMetadata, bytes, 'common.OrdererBlockMetadata');
  const lc = m.lastConfig as Record<string, unknown> | null | undefined;
  return {
    lastConfig: lc ? longToNumber(lc.index, 'last_config.index') : null,
    consenterMetadata: toBytes(m.consenterMetadata),
  };
}

export function encodeLastConfig(index: number): Uint8Array {
  return encode(T.LastConfig, { index });
}

// ---------------------------------------------------------------- common.Block

export interface Block {
  header: { number: number; previousHash: Uint8Array; dataHash: Uint8Array };
  /** Marshalled envelopes. */
  data: Uint8Array[];
  /** Indexed by BlockMetadataIndex; each a marshalled common.Metadata (or empty). */
  metadata: Uint8Array[];
}

/** A proto-marshalled common.Block (the Deliver API's form, NOT the block file's). */
export function encodeBlock(b: Block): Uint8Array {
  return encode(T.Block, {
    header: { number: b.header.number, previousHash: b.header.previousHash, dataHash: b.header.dataHash },
    data: { data: b.data },
    metadata: { metadata: b.metadata },
  });
}

export function decodeBlock(bytes: Uint8Array): Block {
  const m = decode(T.Block, bytes, 'common.Block');
  const h = (m.header ?? {}) as Record<string, unknown>;
  const d = (m.data ?? {}) as Record<string, unknown>;
  const md = (m.metadata ?? {}) as Record<string, unknown>;
  return {
    header: {
      number: longToNumber(h.number, 'header.number'),
      previousHash: toBytes(h.previousHash),
      dataHash: toBytes(h.dataHash),
    },
    data: Array.isArray(d.data) ? (d.data as unknown[]).map(toBytes) : [],
    metadata: Array.isArray(md.metadata) ? (md.metadata as unknown[]).map(toBytes) : [],
  };
}

// ---------------------------------------------------------------- Kafka metadata of a block

export interface BlockKafkaMetadata {
  /**
   * What a restarting orderer would use: the ORDERER entry when it has a value (1.x reads only that), else the
   * copy inside SIGNATURES' OrdererBlockMetadata (2.x reads that and writes only that). null = none persisted:
   * the orderer consumes from the oldest offset.
   */
  effective: KafkaMetadata | null;
  /** Which copy `effective` came from. */
  from: 'orderer' | 'signatures' | null;
  /** metadata[ORDERER] = Metadata{value: KafkaMetadata}; null when absent or empty. */
  orderer: KafkaMetadata | null;
  /** metadata[SIGNATURES] = Metadata{value: OrdererBlockMetadata{consenter_metadata: Metadata{value: KafkaMetadata}}} (1.4.1+). */
  signatures: KafkaMetadata | null;
  /** true/false when both copies are present; null when fewer than two are. */
  copiesAgree: boolean | null;
  /** LAST_CONFIG index from SIGNATURES (1.4.1+) or the LAST_CONFIG entry. */
  lastConfig: number | null;
  /** Entries that did not decode (reported, not fatal). */
  problems: string[];
}

function sameKafkaMetadata(a: KafkaMetadata, b: KafkaMetadata): boolean {
  return (
    a.lastOffsetPersisted === b.lastOffsetPersisted &&
    a.lastOriginalOffsetProcessed === b.lastOriginalOffsetProcessed &&
    a.lastResubmittedConfigOffset === b.lastResubmittedConfigOffset
  );
}

/**
 * Reads the Kafka metadata of a block from its metadata entries, the way Fabric does: 1.x
 * (orderer/common/multichannel/chainsupport.go) reads `GetMetadataFromBlock(ORDERER)`; 2.x reads
 * `GetConsenterMetadataFromBlock` (SIGNATURES' consenter_metadata, falling back to ORDERER when SIGNATURES has
 * no value). An empty value means "none" (proto3 cannot tell KafkaMetadata{0} from nothing; Fabric cannot either).
 */
export function kafkaMetadataOfBlock(metadata: readonly Uint8Array[]): BlockKafkaMetadata {
  const problems: string[] = [];
  let orderer: KafkaMetadata | null = null;
  let signatures: KafkaMetadata | null = null;
  let lastConfig: number | null = null;

  const ordererEntry = metadata[BlockMetadataIndex.ORDERER];
  if (ordererEntry && ordererEntry.length > 0) {
    try {
      const md = decodeMetadata(ordererEntry);
      if (md.value.length > 0) orderer = decodeKafkaMetadata(md.value);
    } catch (err) {
      problems.push(`metadata[ORDERER]: ${(err as Error).message}`);
    }
  }

  const sigEntry = metadata[BlockMetadataIndex.SIGNATURES];
  if (sigEntry && sigEntry.length > 0) {
    try {
      const md = decodeMetadata(sigEntry);
      if (md.value.length > 0) {
        const obm = decodeOrdererBlockMetadata(md.value);
        lastConfig = obm.lastConfig;
        if (obm.consenterMetadata.length > 0) {
          const inner = decodeMetadata(obm.consenterMetadata);
          if (inner.value.length > 0) signatures = decodeKafkaMetadata(inner.value);
        }
      }
    } catch (err) {
      problems.push(`metadata[SIGNATURES]: ${(err as Error).message}`);
    }
  }

  if (lastConfig === null) {
    const lcEntry = metadata[BlockMetadataIndex.LAST_CONFIG];
    if (lcEntry && lcEntry.length > 0) {
      try {
        const md = decodeMetadata(lcEntry);
        if (md.value.length > 0) {
          lastConfig = longToNumber(
            (T.LastConfig.decode(md.value) as unknown as Record<string, unknown>).index,
            'last_config',
          );
        }
      } catch (err) {
        problems.push(`metadata[LAST_CONFIG]: ${(err as Error).message}`);
      }
    }
  }

  const effective = orderer ?? signatures;
  return {
    effective,
    from: orderer ? 'orderer' : signatures ? 'signatures' : null,
    orderer,
    signatures,
    copiesAgree: orderer && signatures ? sameKafkaMetadata(orderer, signatures) : null,
    lastConfig,
    problems,
  };
}

/**
 * Builds the metadata entries an orderer writes for a block carrying `kafka` (for tests and the lab):
 * `style: '1.4.1'` writes ORDERER and the SIGNATURES copy, '1.4.0' only ORDERER, '2.x' only the SIGNATURES copy.
 */
export function buildOrdererBlockMetadata(
  kafka: Partial<KafkaMetadata> & { lastOffsetPersisted: number },
  opts: { style?: '1.4.0' | '1.4.1' | '2.x'; lastConfig?: number } = {},
): Uint8Array[] {
  const style = opts.style ?? '1.4.1';
  const lastConfig = opts.lastConfig ?? 0;
  const ordererEntry = encodeMetadata({ value: encodeKafkaMetadata(kafka) });
  const sigHeader = new TextEncoder().encode('signature-header');
  const sig = new TextEncoder().encode('signature');
  const signatures =
    style === '1.4.0'
      ? encodeMetadata({ signatures: [{ signatureHeader: sigHeader, signature: sig }] })
      : encodeMetadata({
          value: encodeOrdererBlockMetadata({ lastConfig, consenterMetadata: ordererEntry }),
          signatures: [{ signatureHeader: sigHeader, signature: sig }],
        });
  return [
    signatures,
    encodeMetadata({ value: encodeLastConfig(lastConfig) }),
    new Uint8Array(0),
    style === '2.x' ? new Uint8Array(0) : ordererEntry,
  ];
}
