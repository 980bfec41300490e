/**
 * The few Fabric protobuf messages an ops tool needs, declared here (the build copies only .ts files) and
 * checked field by field against hyperledger/fabric release-1.4 `protos/orderer/kafka.proto` and
 * `protos/common/common.proto` (the same numbers hold in fabric-protos for 2.x).
 *
 * Offsets and block numbers are plain numbers: Kafka offsets and block heights stay far below 2^53, and a value
 * that does not fit is reported as an error rather than rounded.
 */
import { createRequire } from 'node:module';
import type protobuf from 'protobufjs';

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

type FabricTypes = Record<
  | 'KafkaMessage'
  | 'KafkaMessageRegular'
  | 'KafkaMetadata'
  | 'Metadata'
  | 'Block'
  | 'OrdererBlockMetadata'
  | 'LastConfig',
  protobuf.Type
>;
let types: FabricTypes | undefined;

/**
 * The protobufjs types, built on first use: protobufjs (a CommonJS package) is loaded and the schema parsed
 * only by code that encodes or decodes, not by every command that imports a constant from here.
 */
function fabricTypes(): FabricTypes {
  if (types) return types;
  const pb = createRequire(import.meta.url)('protobufjs') as typeof protobuf;
  const root = new pb.Root();
  pb.parse(PROTO, root, { keepCase: false });
  pb.parse(COMMON_PROTO, root, { keepCase: false });
  types = {
    KafkaMessage: root.lookupType('orderer.KafkaMessage'),
    KafkaMessageRegular: root.lookupType('orderer.KafkaMessageRegular'),
    KafkaMetadata: root.lookupType('orderer.KafkaMetadata'),
    Metadata: root.lookupType('common.Metadata'),
    Block: root.lookupType('common.Block'),
    OrdererBlockMetadata: root.lookupType('common.OrdererBlockMetadata'),
    LastConfig: root.lookupType('common.LastConfig'),
  };
  return types;
}

/** The protobufjs types, for tests and tools that need more than the helpers below. */
export { fabricTypes };

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

/** A plain Uint8Array copy (protobufjs hands out Buffers and views into the input). */
function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

function toBytes(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? plain(v) : new Uint8Array(0);
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
    if (v === undefined || v === null || v === 0 || v === false || v === '') continue;
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
  return plain(type.encode(type.fromObject(obj)).finish());
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
      /** The enum's name, or its number when it has none (the orderer rejects those). */
      class: KafkaMessageClass | number;
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
  return plain(
    fabricTypes()
      .KafkaMessage.encode(fabricTypes().KafkaMessage.fromObject({ connect: {} }))
      .finish(),
  );
}

/** A TIME_TO_CUT message. For tests only: a stray one on a live channel stops its consenter for good. */
export function encodeTimeToCutMessage(blockNumber: number): Uint8Array {
  return encode(fabricTypes().KafkaMessage, { timeToCut: { blockNumber } });
}

export function encodeRegularMessage(m: {
  payload: Uint8Array;
  configSeq?: number;
  class?: KafkaMessageClass;
  originalOffset?: number;
}): Uint8Array {
  return encode(fabricTypes().KafkaMessage, {
    regular: {
      payload: m.payload,
      configSeq: m.configSeq ?? 0,
      class: CLASS_VALUES[m.class ?? 'NORMAL'],
      originalOffset: m.originalOffset ?? 0,
    },
  });
}

/**
 * Classifies a message value read from a channel's partition the way the orderer would: golang/protobuf's
 * table-driven unmarshal as vendored in Fabric 1.4 (proto/table_unmarshal.go), reimplemented on the wire because
 * protobufjs is more lenient in ways that matter here:
 * - a oneof member given twice: the last one wins (protobufjs keeps both set);
 * - a oneof member with the wrong wire type is an error; another known field with the wrong wire type is
 *   skipped as unknown (protobufjs reads it anyway);
 * - tag 0, wire types 4/6/7 and truncated fields are errors; a varint longer than 10 bytes is an error.
 */
export function decodeKafkaMessage(bytes: Uint8Array): DecodedKafkaMessage {
  try {
    let last: DecodedKafkaMessage = { type: 'empty' };
    walkFields(bytes, 'orderer.KafkaMessage', (field, wire, r) => {
      if (field < 1 || field > 3) return false;
      if (wire !== WIRE_BYTES) throw new FabricDecodeError(`oneof field ${field} has wire type ${wire}`);
      const body = r.bytes();
      if (field === 1) last = decodeRegular(body);
      else if (field === 2) last = decodeTimeToCut(body);
      else last = decodeConnect(body);
      return true;
    });
    return last;
  } catch (err) {
    return { type: 'unparseable', error: (err as Error).message };
  }
}

const CLASS_NAMES: Record<number, KafkaMessageClass> = { 0: 'UNKNOWN', 1: 'NORMAL', 2: 'CONFIG' };
const CLASS_VALUES: Record<KafkaMessageClass, number> = { UNKNOWN: 0, NORMAL: 1, CONFIG: 2 };

function decodeRegular(bytes: Uint8Array): DecodedKafkaMessage {
  let payload: Uint8Array = new Uint8Array(0);
  let configSeq = 0n;
  let cls = 0;
  let originalOffset = 0n;
  walkFields(bytes, 'orderer.KafkaMessageRegular', (field, wire, r) => {
    if (field === 1 && wire === WIRE_BYTES) payload = r.bytes();
    else if (field === 2 && wire === WIRE_VARINT) configSeq = r.varint();
    else if (field === 3 && wire === WIRE_VARINT) cls = Number(BigInt.asIntN(32, r.varint()));
    else if (field === 4 && wire === WIRE_VARINT) originalOffset = BigInt.asIntN(64, r.varint());
    else return false;
    return true;
  });
  return {
    type: 'regular',
    payload,
    configSeq: bigToNumber(configSeq, 'regular.config_seq'),
    class: CLASS_NAMES[cls] ?? cls,
    originalOffset: bigToNumber(originalOffset, 'regular.original_offset'),
  };
}

function decodeTimeToCut(bytes: Uint8Array): DecodedKafkaMessage {
  let blockNumber = 0n;
  walkFields(bytes, 'orderer.KafkaMessageTimeToCut', (field, wire, r) => {
    if (field !== 1 || wire !== WIRE_VARINT) return false;
    blockNumber = r.varint();
    return true;
  });
  return { type: 'time_to_cut', blockNumber: bigToNumber(blockNumber, 'time_to_cut.block_number') };
}

function decodeConnect(bytes: Uint8Array): DecodedKafkaMessage {
  let payload: Uint8Array = new Uint8Array(0);
  walkFields(bytes, 'orderer.KafkaMessageConnect', (field, wire, r) => {
    if (field !== 1 || wire !== WIRE_BYTES) return false;
    payload = r.bytes();
    return true;
  });
  return { type: 'connect', payload };
}

// ---------------------------------------------------------------- the wire, as golang/protobuf reads it

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_START_GROUP = 3;
const WIRE_FIXED32 = 5;

class WireReader {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly what: string,
  ) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  /** Go's decodeVarint: at most 10 bytes, the 10th may only carry bit 63. */
  varint(): bigint {
    let x = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.pos + i];
      if (b === undefined) throw new FabricDecodeError(`${this.what}: unexpected end of data in a varint`);
      if (i === 9 && b >= 2) break;
      x |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) {
        this.pos += i + 1;
        return x;
      }
    }
    throw new FabricDecodeError(`${this.what}: varint too long`);
  }
  bytes(): Uint8Array {
    const len = this.varint();
    if (len > BigInt(this.buf.length - this.pos)) {
      throw new FabricDecodeError(`${this.what}: length ${len} runs past the end`);
    }
    // a copy, as Go's unmarshal makes one
    const out = new Uint8Array(this.buf.subarray(this.pos, this.pos + Number(len)));
    this.pos += Number(len);
    return out;
  }
  skip(n: number): void {
    if (this.pos + n > this.buf.length) throw new FabricDecodeError(`${this.what}: unexpected end of data`);
    this.pos += n;
  }
  /** skipField (and findEndGroup) of table_unmarshal.go. */
  skipField(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED32:
        this.skip(4);
        return;
      case WIRE_FIXED64:
        this.skip(8);
        return;
      case WIRE_BYTES:
        this.bytes();
        return;
      case WIRE_START_GROUP: {
        let depth = 1;
        while (depth > 0) {
          const tag = this.varint();
          const w = Number(tag & 7n);
          if (w === 4) depth--;
          else if (w === WIRE_START_GROUP) depth++;
          else this.skipField(w);
        }
        return;
      }
      default:
        throw new FabricDecodeError(`${this.what}: can't skip unknown wire type ${wire}`);
    }
  }
}

/**
 * Walks the fields of a message. `onField` returns true when it consumed the field; false leaves it to be
 * skipped as unknown (which is also what Go does with a known non-oneof field of the wrong wire type).
 */
function walkFields(
  bytes: Uint8Array,
  what: string,
  onField: (field: number, wire: number, r: WireReader) => boolean,
): void {
  const r = new WireReader(bytes, what);
  while (!r.done) {
    const tag = r.varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field === 0) throw new FabricDecodeError(`${what}: illegal tag 0 (wire type ${wire})`);
    if (onField(field, wire, r)) continue;
    r.skipField(wire);
  }
}

function bigToNumber(v: bigint, what: string): number {
  return checkSafe(Number(v), v.toString(), what);
}

// ---------------------------------------------------------------- Kafka metadata

export interface KafkaMetadata {
  lastOffsetPersisted: number;
  lastOriginalOffsetProcessed: number;
  lastResubmittedConfigOffset: number;
}

export function encodeKafkaMetadata(m: Partial<KafkaMetadata> & { lastOffsetPersisted: number }): Uint8Array {
  return encode(fabricTypes().KafkaMetadata, {
    lastOffsetPersisted: m.lastOffsetPersisted,
    lastOriginalOffsetProcessed: m.lastOriginalOffsetProcessed ?? 0,
    lastResubmittedConfigOffset: m.lastResubmittedConfigOffset ?? 0,
  });
}

/** Decodes with golang/protobuf's rules (see decodeKafkaMessage); throws FabricDecodeError when Go would fail. */
export function decodeKafkaMetadata(bytes: Uint8Array): KafkaMetadata {
  const v = [0n, 0n, 0n];
  try {
    walkFields(bytes, 'orderer.KafkaMetadata', (field, wire, r) => {
      if (field < 1 || field > 3 || wire !== WIRE_VARINT) return false;
      v[field - 1] = BigInt.asIntN(64, r.varint());
      return true;
    });
  } catch (err) {
    throw new FabricDecodeError(`cannot decode orderer.KafkaMetadata: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    lastOffsetPersisted: bigToNumber(v[0] as bigint, 'last_offset_persisted'),
    lastOriginalOffsetProcessed: bigToNumber(v[1] as bigint, 'last_original_offset_processed'),
    lastResubmittedConfigOffset: bigToNumber(v[2] as bigint, 'last_resubmitted_config_offset'),
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
  return encode(fabricTypes().Metadata, {
    value: m.value ?? new Uint8Array(0),
    signatures: m.signatures ?? [],
  });
}

export function decodeMetadata(bytes: Uint8Array): Metadata {
  const m = decode(fabricTypes().Metadata, bytes, 'common.Metadata');
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
  return encode(fabricTypes().OrdererBlockMetadata, {
    ...(m.lastConfig !== undefined ? { lastConfig: { index: m.lastConfig } } : {}),
    consenterMetadata: m.consenterMetadata ?? new Uint8Array(0),
  });
}

export function decodeOrdererBlockMetadata(bytes: Uint8Array): OrdererBlockMetadata {
  const m = decode(fabricTypes().OrdererBlockMetadata, bytes, 'common.OrdererBlockMetadata');
  const lc = m.lastConfig as Record<string, unknown> | null | undefined;
  return {
    lastConfig: lc ? longToNumber(lc.index, 'last_config.index') : null,
    consenterMetadata: toBytes(m.consenterMetadata),
  };
}

export function encodeLastConfig(index: number): Uint8Array {
  return encode(fabricTypes().LastConfig, { index });
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
  return encode(fabricTypes().Block, {
    header: { number: b.header.number, previousHash: b.header.previousHash, dataHash: b.header.dataHash },
    data: { data: b.data },
    metadata: { metadata: b.metadata },
  });
}

export function decodeBlock(bytes: Uint8Array): Block {
  const m = decode(fabricTypes().Block, bytes, 'common.Block');
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
    // an entry that is there but empty is LastConfig{index: 0}, as Go reads it
    if (lcEntry && lcEntry.length === 0) lastConfig = 0;
    if (lcEntry && lcEntry.length > 0) {
      try {
        const md = decodeMetadata(lcEntry);
        lastConfig =
          md.value.length > 0
            ? longToNumber(
                (fabricTypes().LastConfig.decode(md.value) as unknown as Record<string, unknown>).index,
                'last_config',
              )
            : 0;
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
