import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  BlockMetadataIndex,
  buildOrdererBlockMetadata,
  decodeBlock,
  decodeKafkaMessage,
  decodeKafkaMetadata,
  decodeMetadata,
  decodeOrdererBlockMetadata,
  encodeBlock,
  encodeConnectMessage,
  encodeKafkaMetadata,
  encodeLastConfig,
  encodeMetadata,
  encodeOrdererBlockMetadata,
  encodeRegularMessage,
  encodeTimeToCutMessage,
  FabricDecodeError,
  fabricTypes,
  kafkaMetadataOfBlock,
  NO_OFFSET_PERSISTED,
  toHex,
} from '../../src/fabric/protos.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('Kafka messages, byte for byte', () => {
  it('CONNECT is exactly 1a 00', () => {
    expect(toHex(encodeConnectMessage())).toBe('1a00');
  });

  it('TIME_TO_CUT{5} is 12 02 08 05 and TIME_TO_CUT{0} is 12 00 (proto3 omits zero fields, like Go)', () => {
    expect(toHex(encodeTimeToCutMessage(5))).toBe('12020805');
    expect(toHex(encodeTimeToCutMessage(0))).toBe('1200');
  });

  it('REGULAR wraps payload=1, config_seq=2, class=3, original_offset=4', () => {
    const bytes = encodeRegularMessage({
      payload: hex('6162'),
      configSeq: 3,
      class: 'CONFIG',
      originalOffset: 7,
    });
    // 0a len | 0a 02 61 62 | 10 03 | 18 02 | 20 07
    expect(toHex(bytes)).toBe('0a0a' + '0a026162' + '1003' + '1802' + '2007');
  });

  it('classifies what a consumer reads the way the orderer does', () => {
    expect(decodeKafkaMessage(hex('1a00'))).toEqual({ type: 'connect', payload: new Uint8Array(0) });
    expect(decodeKafkaMessage(hex('12020805'))).toEqual({ type: 'time_to_cut', blockNumber: 5 });
    const regular = decodeKafkaMessage(
      encodeRegularMessage({ payload: hex('ff'), configSeq: 2, class: 'NORMAL' }),
    );
    expect(regular).toEqual({
      type: 'regular',
      payload: hex('ff'),
      configSeq: 2,
      class: 'NORMAL',
      originalOffset: 0,
    });
    expect(decodeKafkaMessage(new Uint8Array(0))).toEqual({ type: 'empty' });
  });

  it('the text fillers of seed 000 do not parse (the orderer skips them with a CRITICAL line)', () => {
    for (const filler of ['zyd', 'zouyudi', 'zydab', 'zyd21', 'a', 'b', 'c', 'd']) {
      expect(decodeKafkaMessage(new TextEncoder().encode(filler)).type, filler).toBe('unparseable');
    }
  });

  it('follows golang/protobuf where protobufjs is lenient', () => {
    // the last oneof member wins: CONNECT then TIME_TO_CUT is a TIME_TO_CUT to the orderer
    expect(decodeKafkaMessage(hex('1a00 12020805'))).toEqual({ type: 'time_to_cut', blockNumber: 5 });
    expect(decodeKafkaMessage(hex('12020805 1a00')).type).toBe('connect');
    // a oneof member with the wrong wire type is an error
    expect(decodeKafkaMessage(hex('1005')).type).toBe('unparseable');
    // unknown fields are skipped
    expect(decodeKafkaMessage(hex('1a00 2801 3a0161')).type).toBe('connect');
    // tag 0, end-group and wire types 6/7 are errors; so is a truncated length
    for (const bad of ['0000', '1c', '1e00', '1a05']) {
      expect(decodeKafkaMessage(hex(bad)).type, bad).toBe('unparseable');
    }
    // a known field of a sub-message with the wrong wire type is skipped as unknown
    expect(decodeKafkaMessage(hex('1203 0a0105'))).toEqual({ type: 'time_to_cut', blockNumber: 0 });
    // KafkaMetadata: field 2 as bytes is skipped, field 1 still read
    expect(decodeKafkaMetadata(hex('0814 1201ff')).lastOffsetPersisted).toBe(20);
  });

  it('agrees with protobufjs on every well-formed message', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ kind: fc.constant('connect' as const), payload: fc.uint8Array({ maxLength: 20 }) }),
          fc.record({ kind: fc.constant('ttc' as const), n: fc.nat() }),
          fc.record({
            kind: fc.constant('regular' as const),
            payload: fc.uint8Array({ maxLength: 40 }),
            configSeq: fc.nat(),
            cls: fc.constantFrom('UNKNOWN' as const, 'NORMAL' as const, 'CONFIG' as const),
            originalOffset: fc.integer({ min: -5, max: 2 ** 40 }),
          }),
        ),
        (m) => {
          if (m.kind === 'connect') {
            const bytes = fabricTypes()
              .KafkaMessage.encode({ connect: { payload: m.payload } })
              .finish();
            expect(decodeKafkaMessage(bytes)).toEqual({ type: 'connect', payload: m.payload });
          } else if (m.kind === 'ttc') {
            expect(decodeKafkaMessage(encodeTimeToCutMessage(m.n))).toEqual({
              type: 'time_to_cut',
              blockNumber: m.n,
            });
          } else {
            const bytes = encodeRegularMessage({
              payload: m.payload,
              configSeq: m.configSeq,
              class: m.cls,
              originalOffset: m.originalOffset,
            });
            expect(decodeKafkaMessage(bytes)).toEqual({
              type: 'regular',
              payload: m.payload,
              configSeq: m.configSeq,
              class: m.cls,
              originalOffset: m.originalOffset,
            });
          }
        },
      ),
    );
  });

  it('a random byte string can decode as TIME_TO_CUT: the reason padding must use CONNECT', () => {
    // "\x12\x02\x08\x07" is printable-ish garbage to a human and a TIME_TO_CUT for block 7 to the orderer
    expect(decodeKafkaMessage(hex('12020807'))).toEqual({ type: 'time_to_cut', blockNumber: 7 });
  });
});

describe('KafkaMetadata and common.Metadata', () => {
  it('KafkaMetadata{20} = 08 14, wrapped in common.Metadata = 0a 02 08 14', () => {
    const km = encodeKafkaMetadata({ lastOffsetPersisted: 20 });
    expect(toHex(km)).toBe('0814');
    expect(toHex(encodeMetadata({ value: km }))).toBe('0a020814');
  });

  it('encodes all three fields with their numbers 1, 2, 3', () => {
    const km = encodeKafkaMetadata({
      lastOffsetPersisted: 300,
      lastOriginalOffsetProcessed: 5,
      lastResubmittedConfigOffset: 6,
    });
    expect(toHex(km)).toBe('08ac02' + '1005' + '1806');
    expect(decodeKafkaMetadata(km)).toEqual({
      lastOffsetPersisted: 300,
      lastOriginalOffsetProcessed: 5,
      lastResubmittedConfigOffset: 6,
    });
  });

  it('decodes 08 14 to offset 20 and the empty message to zeros', () => {
    expect(decodeKafkaMetadata(hex('0814'))).toEqual({
      lastOffsetPersisted: 20,
      lastOriginalOffsetProcessed: 0,
      lastResubmittedConfigOffset: 0,
    });
    expect(decodeKafkaMetadata(new Uint8Array(0)).lastOffsetPersisted).toBe(0);
  });

  it('round-trips the negative "none persisted" value -3 (int64, ten-byte varint)', () => {
    const km = encodeKafkaMetadata({ lastOffsetPersisted: NO_OFFSET_PERSISTED });
    expect(km.length).toBe(11);
    expect(decodeKafkaMetadata(km).lastOffsetPersisted).toBe(-3);
  });

  it('refuses an offset beyond 2^53 instead of rounding it', () => {
    // field 1 = 2^60 (varint 80 80 80 80 80 80 80 80 10)
    expect(() => decodeKafkaMetadata(hex('08 8080808080808080 10'))).toThrow(FabricDecodeError);
  });

  it('throws FabricDecodeError on bytes that are not a KafkaMetadata', () => {
    expect(() => decodeKafkaMetadata(hex('0a05'))).toThrow(/cannot decode orderer.KafkaMetadata/);
    expect(() => decodeKafkaMetadata(hex('0880'))).toThrow(FabricDecodeError);
  });

  it('Metadata keeps signatures (field 2) and OrdererBlockMetadata has last_config=1, consenter_metadata=2', () => {
    const md = encodeMetadata({
      value: hex('01'),
      signatures: [{ signatureHeader: hex('aa'), signature: hex('bb') }],
    });
    expect(toHex(md)).toBe('0a0101' + '1206' + '0a01aa' + '1201bb');
    const d = decodeMetadata(md);
    expect(toHex(d.value)).toBe('01');
    expect(d.signatures.map((x) => [toHex(x.signatureHeader), toHex(x.signature)])).toEqual([['aa', 'bb']]);
    const obm = encodeOrdererBlockMetadata({ lastConfig: 2, consenterMetadata: hex('0a020814') });
    expect(toHex(obm)).toBe('0a020802' + '12040a020814');
    const o = decodeOrdererBlockMetadata(obm);
    expect(o.lastConfig).toBe(2);
    expect(toHex(o.consenterMetadata)).toBe('0a020814');
    expect(toHex(encodeLastConfig(1))).toBe('0801');
  });
});

describe('the Kafka metadata of a block', () => {
  it('1.4.1+ blocks carry it twice: metadata[ORDERER] and SIGNATURES.consenter_metadata (same bytes)', () => {
    const md = buildOrdererBlockMetadata({ lastOffsetPersisted: 20 }, { style: '1.4.1', lastConfig: 1 });
    const sig = decodeOrdererBlockMetadata(
      decodeMetadata(md[BlockMetadataIndex.SIGNATURES] as Uint8Array).value,
    );
    // blockwriter.go addBlockSignature: ConsenterMetadata = the marshalled ORDERER entry
    expect(toHex(sig.consenterMetadata)).toBe(toHex(md[BlockMetadataIndex.ORDERER] as Uint8Array));
    const k = kafkaMetadataOfBlock(md);
    expect(k.effective?.lastOffsetPersisted).toBe(20);
    expect(k.from).toBe('orderer');
    expect(k.orderer?.lastOffsetPersisted).toBe(20);
    expect(k.signatures?.lastOffsetPersisted).toBe(20);
    expect(k.copiesAgree).toBe(true);
    expect(k.lastConfig).toBe(1);
    expect(k.problems).toEqual([]);
  });

  it('1.4.0 blocks: only metadata[ORDERER]', () => {
    const k = kafkaMetadataOfBlock(buildOrdererBlockMetadata({ lastOffsetPersisted: 9 }, { style: '1.4.0' }));
    expect(k).toMatchObject({ from: 'orderer', signatures: null, copiesAgree: null, lastConfig: 0 });
    expect(k.effective?.lastOffsetPersisted).toBe(9);
  });

  it('2.x blocks: only the SIGNATURES copy', () => {
    const k = kafkaMetadataOfBlock(buildOrdererBlockMetadata({ lastOffsetPersisted: 44 }, { style: '2.x' }));
    expect(k).toMatchObject({ from: 'signatures', orderer: null, copiesAgree: null });
    expect(k.effective?.lastOffsetPersisted).toBe(44);
  });

  it('copies that disagree are reported; the ORDERER copy is what a 1.x orderer reads', () => {
    const md = buildOrdererBlockMetadata({ lastOffsetPersisted: 20 }, { style: '1.4.1' });
    md[BlockMetadataIndex.ORDERER] = encodeMetadata({
      value: encodeKafkaMetadata({ lastOffsetPersisted: 19 }),
    });
    const k = kafkaMetadataOfBlock(md);
    expect(k.copiesAgree).toBe(false);
    expect(k.effective?.lastOffsetPersisted).toBe(19);
    expect(k.signatures?.lastOffsetPersisted).toBe(20);
  });

  it('a genesis block (empty metadata) means none persisted', () => {
    const k = kafkaMetadataOfBlock([
      new Uint8Array(0),
      new Uint8Array(0),
      new Uint8Array(0),
      new Uint8Array(0),
    ]);
    expect(k.effective).toBeNull();
    expect(k.from).toBeNull();
    expect(kafkaMetadataOfBlock([]).effective).toBeNull();
  });

  it('an entry that does not decode is a problem, not a crash', () => {
    const md = buildOrdererBlockMetadata({ lastOffsetPersisted: 3 }, { style: '1.4.1' });
    md[BlockMetadataIndex.ORDERER] = hex('0aff');
    const k = kafkaMetadataOfBlock(md);
    expect(k.problems.join()).toMatch(/metadata\[ORDERER\]/);
    expect(k.effective?.lastOffsetPersisted).toBe(3); // the SIGNATURES copy still answers
    expect(k.from).toBe('signatures');
  });
});

describe('common.Block (the Deliver form)', () => {
  it('round-trips and uses header number=1, previous_hash=2, data_hash=3', () => {
    const block = {
      header: { number: 9, previousHash: hex('bb'), dataHash: hex('aa') },
      data: [hex('0102')],
      metadata: buildOrdererBlockMetadata({ lastOffsetPersisted: 20 }),
    };
    const bytes = encodeBlock(block);
    expect(toHex(bytes).startsWith('0a08' + '0809' + '1201bb' + '1a01aa')).toBe(true);
    expect(decodeBlock(bytes)).toEqual(block);
  });
});
