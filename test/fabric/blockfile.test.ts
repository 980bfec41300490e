import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  BlockFileError,
  blockFileNames,
  channelLedgerDir,
  decodeVarint,
  deserializeBlockBody,
  encodeVarint,
  hostFileSource,
  memoryFileSource,
  readLedgerTip,
  scanBlockFile,
  serializeBlockBody,
  serializeBlockForFile,
} from '../../src/fabric/blockfile.js';
import {
  buildOrdererBlockMetadata,
  encodeKafkaMetadata,
  encodeMetadata,
  toHex,
} from '../../src/fabric/protos.js';
import { blockfileName, concat, fileOf, makeBlocks, rollOver } from '../fixtures/orderers/ledger.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const DIR = '/var/hyperledger/production/orderer/chains/pubchain';

function mem(files: Uint8Array[], chunkSize?: number, dir = DIR) {
  const map: Record<string, Uint8Array> = {};
  files.forEach((f, i) => (map[`${dir}/${blockfileName(i)}`] = f));
  return memoryFileSource(map, chunkSize);
}

describe('varints (proto.EncodeVarint)', () => {
  it('encodes and decodes LEB128', () => {
    expect(encodeVarint(0)).toEqual([0]);
    expect(encodeVarint(127)).toEqual([0x7f]);
    expect(encodeVarint(300)).toEqual([0xac, 0x02]);
    expect(encodeVarint(64 * 1024 * 1024)).toEqual([0x80, 0x80, 0x80, 0x20]);
    expect(decodeVarint(hex('ac02'), 0)).toEqual({ value: 300, next: 2 });
    expect(decodeVarint(hex('ffac02'), 1)).toEqual({ value: 300, next: 3 });
  });

  it('says "need more bytes" (null) for a varint cut short and throws on one longer than 10 bytes', () => {
    expect(decodeVarint(hex('ac'), 0)).toBeNull();
    expect(decodeVarint(new Uint8Array(0), 0)).toBeNull();
    expect(() => decodeVarint(hex('ffffffffffffffffffff01'), 0)).toThrow(BlockFileError);
  });

  it('round-trips any safe integer', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const bytes = Uint8Array.from(encodeVarint(n));
        expect(decodeVarint(bytes, 0)).toEqual({ value: n, next: bytes.length });
      }),
    );
  });
});

describe("a block in Fabric's file format (block_serialization.go)", () => {
  const block = {
    header: { number: 1, previousHash: hex('bb'), dataHash: hex('aa') },
    data: [hex('0102')],
    metadata: [new Uint8Array(0), hex('0a020814')],
  };

  it('writes number, data_hash, previous_hash, #txs, txs, #metadata, metadata - byte for byte', () => {
    expect(toHex(serializeBlockBody(block))).toBe(
      '01' + // header.Number
        '01aa' + // raw(DataHash) - before PreviousHash
        '01bb' + // raw(PreviousHash)
        '01' + // #data
        '020102' + // raw(tx)
        '02' + // #metadata
        '00' + // raw(empty)
        '040a020814', // raw(Metadata{value: KafkaMetadata{20}})
    );
    // framed: varint(len(body)) + body
    expect(toHex(serializeBlockForFile(block))).toBe('10' + toHex(serializeBlockBody(block)));
  });

  it('reads back what it writes', () => {
    const back = deserializeBlockBody(serializeBlockBody(block));
    expect(back.header.number).toBe(1);
    expect(toHex(back.header.dataHash)).toBe('aa');
    expect(toHex(back.header.previousHash)).toBe('bb');
    expect(back.data.map(toHex)).toEqual(['0102']);
    expect(back.metadata.map(toHex)).toEqual(['', '0a020814']);
  });

  it('rejects a body with bytes missing or left over', () => {
    const body = serializeBlockBody(block);
    expect(() => deserializeBlockBody(body.subarray(0, body.length - 1))).toThrow(/runs past|ends inside/);
    expect(() => deserializeBlockBody(concat([body, hex('00')]))).toThrow(/unexpected bytes/);
  });
});

describe('readLedgerTip: the newest complete block and its Kafka offset', () => {
  const blocks = makeBlocks({ blocks: 10, offsetOf: (n) => 2 * n + 2 }); // block 9 -> offset 20 (seed 000)

  it('a chain of blocks: the tip is block 9 with last offset persisted 20, expected start 21', async () => {
    const tip = await readLedgerTip(mem([fileOf(blocks)]), DIR);
    expect(tip.block?.number).toBe(9);
    expect(tip.height).toBe(10);
    expect(tip.kafka?.lastOffsetPersisted).toBe(20);
    expect(tip.block?.metadata.copiesAgree).toBe(true);
    expect(tip.torn).toEqual([]);
    expect(tip.files).toEqual(['blockfile_000000']);
    expect(tip.scanned).toEqual([`${DIR}/blockfile_000000`]);
  });

  it('finds the same tip whatever the chunk size (block boundaries inside chunks)', async () => {
    for (const chunk of [1, 2, 3, 7, 64, 1000, 1 << 20]) {
      const tip = await readLedgerTip(mem([fileOf(blocks)], chunk), DIR);
      expect([chunk, tip.block?.number, tip.kafka?.lastOffsetPersisted]).toEqual([chunk, 9, 20]);
    }
  });

  it('a torn last block (crash mid-write) is reported and the block before it is the tip', async () => {
    const whole = fileOf(blocks);
    const last = serializeBlockForFile(blocks[9]!);
    const cut = whole.subarray(0, whole.length - Math.floor(last.length / 2));
    const tip = await readLedgerTip(mem([cut], 5), DIR);
    expect(tip.block?.number).toBe(8);
    expect(tip.kafka?.lastOffsetPersisted).toBe(18);
    expect(tip.torn).toHaveLength(1);
    expect(tip.torn[0]).toMatchObject({
      file: `${DIR}/blockfile_000000`,
      offset: whole.length - last.length,
      bytes: last.length - Math.floor(last.length / 2),
    });
    expect(tip.torn[0]?.reason).toMatch(/partial block/);
  });

  it('a length prefix cut inside its varint is a torn tail too', async () => {
    const tip = await readLedgerTip(mem([concat([fileOf(blocks), hex('80')])]), DIR);
    expect(tip.block?.number).toBe(9);
    expect(tip.torn[0]?.reason).toMatch(/partial length prefix/);
  });

  it('stops at a block that does not parse and keeps the last good one', async () => {
    const garbage = concat([hex('05'), hex('ffffffffff')]);
    const tip = await readLedgerTip(
      mem([concat([fileOf(blocks.slice(0, 5)), garbage, fileOf(blocks.slice(5))])]),
      DIR,
    );
    expect(tip.block?.number).toBe(4);
    expect(tip.torn[0]?.reason).toMatch(/does not parse/);
    expect(tip.torn[0]?.bytes).toBe(garbage.length + fileOf(blocks.slice(5)).length);
  });

  it('rolls over into a second file: the newest file holds the tip', async () => {
    const files = rollOver(blocks, 500);
    expect(files.length).toBeGreaterThan(2);
    const tip = await readLedgerTip(mem(files, 100), DIR);
    expect(tip.block?.number).toBe(9);
    expect(tip.kafka?.lastOffsetPersisted).toBe(20);
    expect(tip.block?.file).toBe(`${DIR}/${blockfileName(files.length - 1)}`);
    expect(tip.scanned).toEqual([`${DIR}/${blockfileName(files.length - 1)}`]); // only the newest file read
  });

  it('when the newest file is empty (just rolled over) the previous one holds the tip', async () => {
    const tip = await readLedgerTip(mem([fileOf(blocks), new Uint8Array(0)]), DIR);
    expect(tip.block?.number).toBe(9);
    expect(tip.scanned).toEqual([`${DIR}/blockfile_000001`, `${DIR}/blockfile_000000`]);
  });

  it('when the newest file holds only a torn block the previous one holds the tip', async () => {
    const torn = serializeBlockForFile(blocks[9]!).subarray(0, 20);
    const tip = await readLedgerTip(mem([fileOf(blocks.slice(0, 9)), torn]), DIR);
    expect(tip.block?.number).toBe(8);
    expect(tip.kafka?.lastOffsetPersisted).toBe(18);
    expect(tip.torn[0]?.file).toBe(`${DIR}/blockfile_000001`);
  });

  it('orders files by number, not by name length (blockfile_000010 after blockfile_000009)', () => {
    const names = ['blockfile_000010', 'blockfile_000009', 'blockfile_000000', 'other', 'blockfile_1'];
    expect(blockFileNames(names.map((name) => ({ name, size: 1, isFile: true })))).toEqual([
      'blockfile_000000',
      'blockfile_000009',
      'blockfile_000010',
    ]);
  });

  it('a ledger with only the genesis block has no offset: the orderer starts from the oldest', async () => {
    const tip = await readLedgerTip(mem([fileOf(blocks.slice(0, 1))]), DIR);
    expect(tip.block?.number).toBe(0);
    expect(tip.height).toBe(1);
    expect(tip.kafka).toBeNull();
  });

  it('reads 2.x blocks (offset only in SIGNATURES) and 1.4.0 blocks (only ORDERER)', async () => {
    for (const style of ['2.x', '1.4.0'] as const) {
      const b = makeBlocks({ blocks: 4, style, offsetOf: (n) => n * 10 });
      const tip = await readLedgerTip(mem([fileOf(b)]), DIR);
      expect([style, tip.kafka?.lastOffsetPersisted, tip.block?.metadata.from]).toEqual([
        style,
        30,
        style === '2.x' ? 'signatures' : 'orderer',
      ]);
    }
  });

  it('warns when the two copies of the offset disagree', async () => {
    const b = makeBlocks({ blocks: 3 });
    const md = buildOrdererBlockMetadata({ lastOffsetPersisted: 40 });
    md[3] = encodeMetadata({ value: encodeKafkaMetadata({ lastOffsetPersisted: 41 }) });
    b[2] = { ...b[2]!, metadata: md };
    const tip = await readLedgerTip(mem([fileOf(b)]), DIR);
    expect(tip.kafka?.lastOffsetPersisted).toBe(41);
    expect(tip.warnings.join()).toMatch(
      /ORDERER metadata says last offset persisted 41 but the SIGNATURES copy says 40/,
    );
  });

  it('names the directory when it cannot be listed, or has no block files', async () => {
    await expect(readLedgerTip(mem([fileOf(blocks)]), '/nowhere/chains/x')).rejects.toThrow(
      /cannot list \/nowhere\/chains\/x \(memory\)/,
    );
    const src = memoryFileSource({ [`${DIR}/index`]: hex('00') });
    await expect(readLedgerTip(src, DIR)).rejects.toThrow(/no blockfile_NNNNNN files in/);
  });

  it('stops when aborted', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(readLedgerTip(mem([fileOf(blocks)], 10), DIR, { signal: ctl.signal })).rejects.toThrow();
  });

  it('property: any chain, any roll-over size, any chunk size, any torn tail -> the last complete block', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 25 }),
        fc.integer({ min: 200, max: 3000 }),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 0, max: 3 }),
        fc.nat(),
        async (n, maxSize, chunk, txPerBlock, tornSeed) => {
          const b = makeBlocks({ blocks: n, txPerBlock, txSize: 40, offsetOf: (k) => 3 * k + 1 });
          const files = rollOver(b, maxSize);
          // tear the newest block at a random point (or not at all when tornSeed % 3 == 0)
          const tear = tornSeed % 3 !== 0 && n > 1;
          if (tear) {
            const lastFramed = serializeBlockForFile(b[n - 1]!);
            const cutAt = 1 + (tornSeed % (lastFramed.length - 1));
            const lastFile = files[files.length - 1]!;
            files[files.length - 1] = lastFile.subarray(0, lastFile.length - lastFramed.length + cutAt);
          }
          const tip = await readLedgerTip(mem(files, chunk), DIR);
          const expectNumber = tear ? n - 2 : n - 1;
          expect(tip.block?.number).toBe(expectNumber);
          expect(tip.kafka?.lastOffsetPersisted ?? null).toBe(
            expectNumber === 0 ? null : 3 * expectNumber + 1,
          );
          expect(tip.torn.length > 0).toBe(tear);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('scanBlockFile', () => {
  it('counts blocks, keeps the first and last, and never needs the whole file in one chunk', async () => {
    const blocks = makeBlocks({ blocks: 6, txSize: 5000 });
    const src = mem([fileOf(blocks)], 4096);
    const scan = await scanBlockFile(src, `${DIR}/blockfile_000000`);
    expect(scan.blocks).toBe(6);
    expect(scan.first?.number).toBe(0);
    expect(scan.last?.number).toBe(5);
    expect(scan.size).toBe(fileOf(blocks).length);
    expect(scan.first?.offset).toBe(0);
    expect(scan.last?.offset).toBe(fileOf(blocks.slice(0, 5)).length);
  });
});

describe('hostFileSource', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'opsbot-ledger-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads a ledger directory laid out like FileLedger.Location/chains/<channel>', async () => {
    const blocks = makeBlocks({ blocks: 12, offsetOf: (n) => n + 100, txSize: 300 });
    const dir = channelLedgerDir(root, 'pubchain');
    expect(dir).toBe(`${root}/chains/pubchain`);
    await mkdir(dir, { recursive: true });
    const files = rollOver(blocks, 2000);
    for (let i = 0; i < files.length; i++) await writeFile(join(dir, blockfileName(i)), files[i]!);
    // a torn tail on the newest file
    const last = files[files.length - 1]!;
    await writeFile(join(dir, blockfileName(files.length - 1)), concat([last, hex('9f05')]));
    await mkdir(join(dir, 'subdir'));
    const tip = await readLedgerTip(hostFileSource(333), dir);
    expect(tip.block?.number).toBe(11);
    expect(tip.kafka?.lastOffsetPersisted).toBe(111);
    expect(tip.torn[0]?.bytes).toBe(2);
  });

  it('says which directory is missing', async () => {
    await expect(readLedgerTip(hostFileSource(), join(root, 'chains', 'nope'))).rejects.toThrow(
      /cannot list .*chains\/nope \(host\): ENOENT/,
    );
  });
});
