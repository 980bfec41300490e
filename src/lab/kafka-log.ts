/**
 * Offline surgery on a Kafka partition folder (the broker must be stopped): cut the log back to an offset, as
 * if the tail had never been flushed to disk before a crash (seed 000).
 *
 * On-disk format (Kafka 0.11+, magic 2, also what 1.0.2 writes): a segment `<baseOffset:020d>.log` is a
 * sequence of record batches
 *   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 | crc int32 |
 *   attributes int16 | lastOffsetDelta int32 | ...
 * where batchLength counts the bytes after the length field, so a batch takes 12 + batchLength bytes and holds
 * offsets baseOffset..baseOffset+lastOffsetDelta. Old message sets (magic 0/1: offset int64 | size int32 |
 * crc | magic | attributes ...) are read too; a compressed wrapper carries its last inner offset.
 * A cut must fall on a batch boundary: a producer batch is written, replicated and lost as a whole.
 */
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BatchInfo {
  /** Byte position of the batch in the segment file. */
  position: number;
  /** Bytes the batch takes, header included. */
  size: number;
  firstOffset: bigint;
  lastOffset: bigint;
  magic: number;
}

/** Parses a segment's batches; stops at the first incomplete (torn) batch. */
export function scanBatches(buf: Buffer): { batches: BatchInfo[]; validBytes: number } {
  const batches: BatchInfo[] = [];
  let pos = 0;
  let prevLast: bigint | null = null;
  while (pos + 17 <= buf.length) {
    const offset = buf.readBigInt64BE(pos);
    const length = buf.readInt32BE(pos + 8);
    const size = 12 + length;
    if (length <= 0 || pos + size > buf.length) break;
    const magic = buf.readInt8(pos + 16);
    let first: bigint;
    let last: bigint;
    if (magic >= 2) {
      if (pos + 27 > buf.length) break;
      first = offset;
      last = offset + BigInt(buf.readInt32BE(pos + 23));
    } else {
      // offset | size | crc(4) | magic(1) | attributes(1): offset is the last (inner) offset
      const attributes = buf.readInt8(pos + 17);
      last = offset;
      first = (attributes & 0x07) === 0 || prevLast === null ? offset : prevLast + 1n;
    }
    batches.push({ position: pos, size, firstOffset: first, lastOffset: last, magic });
    prevLast = last;
    pos += size;
  }
  return { batches, validBytes: pos };
}

const SEGMENT_FILE = /^(\d{20})\.log$/;
const INDEX_SUFFIXES = ['.index', '.timeindex', '.txnindex'];

export interface Segment {
  baseOffset: bigint;
  /** `<base>.log` path. */
  log: string;
  /** `<base>` prefix path (index files are prefix + suffix). */
  prefix: string;
}

export function listSegments(partitionDir: string): Segment[] {
  return readdirSync(partitionDir)
    .map((f) => SEGMENT_FILE.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({
      baseOffset: BigInt(m[1] as string),
      log: join(partitionDir, m[0]),
      prefix: join(partitionDir, m[1] as string),
    }))
    .sort((a, b) => (a.baseOffset < b.baseOffset ? -1 : a.baseOffset > b.baseOffset ? 1 : 0));
}

/** The partition's log end offset from its files (the offset after the last complete batch). */
export function logEndOffset(partitionDir: string): bigint {
  const segs = listSegments(partitionDir);
  const seg = segs[segs.length - 1];
  if (!seg) return 0n;
  const { batches } = scanBatches(readFileSync(seg.log));
  const last = batches[batches.length - 1];
  return last ? last.lastOffset + 1n : seg.baseOffset;
}

export interface TruncationPlan {
  partitionDir: string;
  offset: bigint;
  /** The log end offset before the cut. */
  previousEnd: bigint;
  /** Segment that is cut, and where. */
  segment: Segment;
  cutPosition: number;
  /** Segments after it, removed whole. */
  removeSegments: Segment[];
}

/**
 * Works out how to cut `partitionDir` back so that its log end offset becomes `offset`, or throws if that is
 * impossible: the offset is below the first segment, past the end, or inside a batch (the error names the
 * nearest batch boundaries).
 */
export function planTruncation(partitionDir: string, offset: bigint): TruncationPlan {
  const segs = listSegments(partitionDir);
  if (segs.length === 0) throw new Error(`${partitionDir}: no log segments`);
  const previousEnd = logEndOffset(partitionDir);
  if (offset > previousEnd) {
    throw new Error(`${partitionDir}: cannot cut back to ${offset}: the log ends at ${previousEnd}`);
  }
  let idx = -1;
  for (let i = 0; i < segs.length; i++) if ((segs[i] as Segment).baseOffset <= offset) idx = i;
  if (idx < 0) {
    throw new Error(
      `${partitionDir}: offset ${offset} is below the first segment (${(segs[0] as Segment).baseOffset})`,
    );
  }
  const segment = segs[idx] as Segment;
  const { batches, validBytes } = scanBatches(readFileSync(segment.log));
  let cutPosition = validBytes;
  for (const b of batches) {
    if (b.lastOffset < offset) continue;
    if (b.firstOffset < offset) {
      throw new Error(
        `${partitionDir}: offset ${offset} is inside a batch holding offsets ${b.firstOffset}..${b.lastOffset}; ` +
          `cut at ${b.firstOffset} or ${b.lastOffset + 1n} (produce one record per batch to cut anywhere)`,
      );
    }
    cutPosition = b.position;
    break;
  }
  return { partitionDir, offset, previousEnd, segment, cutPosition, removeSegments: segs.slice(idx + 1) };
}

/** Kafka's offset checkpoint files: "0\n<count>\n<topic> <partition> <offset>\n..." */
export function readCheckpoint(file: string): { topic: string; partition: number; offset: bigint }[] | null {
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  if (lines[0]?.trim() !== '0') return null;
  return lines.slice(2).map((l) => {
    const parts = l.trim().split(/\s+/);
    return { topic: parts[0] ?? '', partition: Number(parts[1]), offset: BigInt(parts[2] ?? '0') };
  });
}

export function writeCheckpoint(
  file: string,
  entries: { topic: string; partition: number; offset: bigint }[],
): void {
  writeFileSync(
    file,
    ['0', String(entries.length), ...entries.map((e) => `${e.topic} ${e.partition} ${e.offset}`)].join('\n') +
      '\n',
  );
}

/** Lowers the entry of topic/partition in a checkpoint file to at most `max` (no change if absent). */
export function capCheckpoint(file: string, topic: string, partition: number, max: bigint): void {
  const entries = readCheckpoint(file);
  if (!entries) return;
  let changed = false;
  for (const e of entries) {
    if (e.topic === topic && e.partition === partition && e.offset > max) {
      e.offset = max;
      changed = true;
    }
  }
  if (changed) writeCheckpoint(file, entries);
}

/**
 * Applies a plan: cuts the segment, removes later segments, index files from the cut segment on (Kafka
 * rebuilds them), producer-state snapshots past the cut, leader-epoch entries starting at or past it.
 */
export function applyTruncation(plan: TruncationPlan): void {
  const { partitionDir, offset } = plan;
  truncateSync(plan.segment.log, plan.cutPosition);
  for (const sfx of INDEX_SUFFIXES) rmSync(plan.segment.prefix + sfx, { force: true });
  for (const seg of plan.removeSegments) {
    rmSync(seg.log, { force: true });
    for (const sfx of INDEX_SUFFIXES) rmSync(seg.prefix + sfx, { force: true });
  }
  for (const f of readdirSync(partitionDir)) {
    const m = /^(\d{20})\.snapshot$/.exec(f);
    if (m && BigInt(m[1] as string) > offset) rmSync(join(partitionDir, f), { force: true });
  }
  const epochs = join(partitionDir, 'leader-epoch-checkpoint');
  if (existsSync(epochs)) {
    const lines = readFileSync(epochs, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    const entries = lines.slice(2).filter((l) => BigInt(l.trim().split(/\s+/)[1] ?? '0') < offset);
    writeFileSync(epochs, ['0', String(entries.length), ...entries].join('\n') + '\n');
  }
}

/**
 * Caps the broker-wide checkpoints of one partition in a broker's log.dirs folder: high watermark and cleaner
 * position at `offset`, recovery point at the cut segment's base (so that Kafka re-reads it on start).
 */
export function capBrokerCheckpoints(
  dataDir: string,
  topic: string,
  partition: number,
  offset: bigint,
  segmentBase: bigint,
): void {
  capCheckpoint(join(dataDir, 'replication-offset-checkpoint'), topic, partition, offset);
  capCheckpoint(join(dataDir, 'cleaner-offset-checkpoint'), topic, partition, offset);
  capCheckpoint(join(dataDir, 'log-start-offset-checkpoint'), topic, partition, offset);
  capCheckpoint(join(dataDir, 'recovery-point-offset-checkpoint'), topic, partition, segmentBase);
}
