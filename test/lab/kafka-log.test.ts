/**
 * The log surgery behind truncatePartition, on synthetic segment files (no broker needed).
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  applyTruncation,
  capBrokerCheckpoints,
  logEndOffset,
  planTruncation,
  readCheckpoint,
  scanBatches,
  writeCheckpoint,
} from '../../src/lab/kafka-log.js';

/** A magic-2 record batch header + `bodyBytes` filler: offsets base..base+count-1. */
function batch(base: number, count: number, bodyBytes = 40): Buffer {
  const size = 61 + bodyBytes; // v2 header is 61 bytes
  const b = Buffer.alloc(size);
  b.writeBigInt64BE(BigInt(base), 0);
  b.writeInt32BE(size - 12, 8);
  b.writeInt32BE(0, 12); // partition leader epoch
  b.writeInt8(2, 16); // magic
  b.writeInt32BE(0, 17); // crc (not checked here)
  b.writeInt16BE(0, 21); // attributes
  b.writeInt32BE(count - 1, 23); // lastOffsetDelta
  return b;
}

const seg = (base: number) => String(base).padStart(20, '0');

let dir: string;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function partitionDir(): string {
  dir = mkdtempSync(join(tmpdir(), 'lab-log-'));
  const p = join(dir, 't-0');
  return p;
}

describe('scanBatches', () => {
  it('reads batch boundaries and stops at a torn batch', () => {
    const torn = batch(5, 1).subarray(0, 30);
    const buf = Buffer.concat([batch(0, 1), batch(1, 3), batch(4, 1), torn]);
    const { batches, validBytes } = scanBatches(buf);
    expect(batches.map((b) => [Number(b.firstOffset), Number(b.lastOffset)])).toEqual([
      [0, 0],
      [1, 3],
      [4, 4],
    ]);
    expect(batches.map((b) => b.position)).toEqual([0, 101, 202]);
    expect(validBytes).toBe(303);
  });
});

describe('planTruncation / applyTruncation', () => {
  function setup(): string {
    const p = partitionDir();
    mkdirSync(p, { recursive: true });
    // segment 0: offsets 0..5 (one per batch except 2..3), segment 6: offsets 6..9
    writeFileSync(
      join(p, `${seg(0)}.log`),
      Buffer.concat([batch(0, 1), batch(1, 1), batch(2, 2), batch(4, 1), batch(5, 1)]),
    );
    writeFileSync(join(p, `${seg(0)}.index`), Buffer.alloc(16));
    writeFileSync(join(p, `${seg(0)}.timeindex`), Buffer.alloc(16));
    writeFileSync(
      join(p, `${seg(6)}.log`),
      Buffer.concat([batch(6, 1), batch(7, 1), batch(8, 1), batch(9, 1)]),
    );
    writeFileSync(join(p, `${seg(6)}.index`), Buffer.alloc(16));
    writeFileSync(join(p, `${seg(6)}.timeindex`), Buffer.alloc(16));
    writeFileSync(join(p, `${seg(6)}.snapshot`), '');
    writeFileSync(join(p, `${seg(10)}.snapshot`), '');
    writeFileSync(join(p, 'leader-epoch-checkpoint'), '0\n3\n0 0\n1 4\n2 8\n');
    return p;
  }

  it('cuts inside the last segment at a batch boundary', () => {
    const p = setup();
    expect(logEndOffset(p)).toBe(10n);
    const plan = planTruncation(p, 8n);
    expect(plan.segment.baseOffset).toBe(6n);
    expect(plan.cutPosition).toBe(2 * 101);
    applyTruncation(plan);
    expect(statSync(join(p, `${seg(6)}.log`)).size).toBe(202);
    expect(existsSync(join(p, `${seg(6)}.index`))).toBe(false);
    expect(existsSync(join(p, `${seg(0)}.index`))).toBe(true);
    expect(logEndOffset(p)).toBe(8n);
    expect(readFileSync(join(p, 'leader-epoch-checkpoint'), 'utf8')).toBe('0\n2\n0 0\n1 4\n');
    expect(readdirSync(p).filter((f) => f.endsWith('.snapshot'))).toEqual([`${seg(6)}.snapshot`]);
  });

  it('cuts into an earlier segment and removes the later ones', () => {
    const p = setup();
    const plan = planTruncation(p, 4n);
    expect(plan.segment.baseOffset).toBe(0n);
    expect(plan.removeSegments.map((s) => s.baseOffset)).toEqual([6n]);
    applyTruncation(plan);
    expect(existsSync(join(p, `${seg(6)}.log`))).toBe(false);
    expect(existsSync(join(p, `${seg(0)}.index`))).toBe(false);
    expect(logEndOffset(p)).toBe(4n);
    expect(readFileSync(join(p, 'leader-epoch-checkpoint'), 'utf8')).toBe('0\n1\n0 0\n');
  });

  it('cutting at a segment base leaves that segment empty', () => {
    const p = setup();
    applyTruncation(planTruncation(p, 6n));
    expect(statSync(join(p, `${seg(6)}.log`)).size).toBe(0);
    expect(logEndOffset(p)).toBe(6n);
  });

  it('refuses offsets inside a batch, past the end, or the end itself is a no-op', () => {
    const p = setup();
    expect(() => planTruncation(p, 3n)).toThrow(/inside a batch holding offsets 2\.\.3; cut at 2 or 4/);
    expect(() => planTruncation(p, 11n)).toThrow(/the log ends at 10/);
    const plan = planTruncation(p, 10n);
    expect(plan.cutPosition).toBe(4 * 101);
    expect(plan.removeSegments).toEqual([]);
  });
});

describe('checkpoints', () => {
  it('caps one partition in the broker-wide checkpoint files', () => {
    dir = mkdtempSync(join(tmpdir(), 'lab-ckpt-'));
    const entries = [
      { topic: 't', partition: 0, offset: 10n },
      { topic: 't', partition: 1, offset: 10n },
      { topic: 'u', partition: 0, offset: 3n },
    ];
    for (const f of [
      'replication-offset-checkpoint',
      'recovery-point-offset-checkpoint',
      'log-start-offset-checkpoint',
    ]) {
      writeCheckpoint(join(dir, f), entries);
    }
    capBrokerCheckpoints(dir, 't', 0, 6n, 4n);
    expect(readCheckpoint(join(dir, 'replication-offset-checkpoint'))).toEqual([
      { topic: 't', partition: 0, offset: 6n },
      { topic: 't', partition: 1, offset: 10n },
      { topic: 'u', partition: 0, offset: 3n },
    ]);
    expect(readCheckpoint(join(dir, 'recovery-point-offset-checkpoint'))?.[0]?.offset).toBe(4n);
    expect(readCheckpoint(join(dir, 'log-start-offset-checkpoint'))?.[0]?.offset).toBe(6n);
    expect(readFileSync(join(dir, 'replication-offset-checkpoint'), 'utf8')).toBe(
      '0\n3\nt 0 6\nt 1 10\nu 0 3\n',
    );
  });
});
