/**
 * Fabric's file ledger, read from the outside: `<ledgerDir>/chains/<channel>/blockfile_NNNNNN`.
 *
 * Checked against hyperledger/fabric release-1.4 common/ledger/blkstorage/fsblkstorage:
 * - blockfile_mgr.go addBlock: each block is appended as `proto.EncodeVarint(len(body))` then `body`; a block
 *   that would push the file past maxBlockfileSize (64 MiB, config.go) starts the next file
 *   (deriveBlockfilePath: `blockfile_` + `%06d`).
 * - block_serialization.go serializeBlock, with proto.Buffer's EncodeVarint / EncodeRawBytes (raw bytes =
 *   varint(len) + bytes): `varint(header.Number), raw(header.DataHash), raw(header.PreviousHash), varint(#data),
 *   raw(envelope)*, varint(#metadata), raw(metadata)*` - note DataHash comes before PreviousHash.
 * - block_stream.go: a length whose bytes run past the end of the file is a partial block left by a crash
 *   (ErrUnexpectedEndOfBlockfile); Fabric truncates it on restart.
 *
 * The reader works on a FileSource so that a container's filesystem can be plugged in; it streams the files
 * (a block's bytes are held only until the next block starts) and never needs a whole 64 MiB file in memory.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { posix } from 'node:path';

import { type Block, type BlockKafkaMetadata, type KafkaMetadata, kafkaMetadataOfBlock } from './protos.js';

export const BLOCKFILE_PREFIX = 'blockfile_';
/** fsblkstorage defaultMaxBlockfileSize. */
export const MAX_BLOCKFILE_SIZE = 64 * 1024 * 1024;

// ---------------------------------------------------------------- varints

/** Appends an unsigned LEB128 varint (Go's proto.EncodeVarint). */
export function encodeVarint(value: number, out: number[] = []): number[] {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint: ${value} is not a uint53`);
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/**
 * Reads a varint at `pos`. Returns null when the bytes end before the varint does (a torn tail); throws when
 * the varint is longer than 10 bytes or does not fit a safe integer.
 */
export function decodeVarint(buf: Uint8Array, pos: number): { value: number; next: number } | null {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    const b = buf[pos + i];
    if (b === undefined) return null;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) throw new BlockFileError(`varint at ${pos} exceeds 2^53`);
      return { value, next: pos + i + 1 };
    }
    mul *= 0x80;
  }
  throw new BlockFileError(`varint at ${pos} is longer than 10 bytes`);
}

export class BlockFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BlockFileError';
  }
}

// ---------------------------------------------------------------- writer (tests, lab)

function pushRaw(out: number[], bytes: Uint8Array): void {
  encodeVarint(bytes.length, out);
  for (const b of bytes) out.push(b);
}

/** The body Fabric writes for a block (serializeBlock), without the length prefix. */
export function serializeBlockBody(block: Block): Uint8Array {
  const out: number[] = [];
  encodeVarint(block.header.number, out);
  pushRaw(out, block.header.dataHash);
  pushRaw(out, block.header.previousHash);
  encodeVarint(block.data.length, out);
  for (const tx of block.data) pushRaw(out, tx);
  encodeVarint(block.metadata.length, out);
  for (const m of block.metadata) pushRaw(out, m);
  return Uint8Array.from(out);
}

/** A block as it appears in a block file: `varint(len(body)) + body`. */
export function serializeBlockForFile(block: Block): Uint8Array {
  const body = serializeBlockBody(block);
  const len = Uint8Array.from(encodeVarint(body.length));
  const out = new Uint8Array(len.length + body.length);
  out.set(len, 0);
  out.set(body, len.length);
  return out;
}

/** Parses a body written by serializeBlockBody (deserializeBlock). Throws BlockFileError when it does not parse. */
export function deserializeBlockBody(body: Uint8Array): Block {
  let pos = 0;
  const varint = (what: string): number => {
    const r = decodeVarint(body, pos);
    if (!r) throw new BlockFileError(`block body ends inside ${what} (at byte ${pos} of ${body.length})`);
    pos = r.next;
    return r.value;
  };
  const raw = (what: string): Uint8Array => {
    const len = varint(`the length of ${what}`);
    if (pos + len > body.length) {
      throw new BlockFileError(
        `${what} (${len} bytes at ${pos}) runs past the block body (${body.length} bytes)`,
      );
    }
    const b = body.subarray(pos, pos + len);
    pos += len;
    return b;
  };
  const number = varint('header.number');
  const dataHash = raw('header.data_hash');
  const previousHash = raw('header.previous_hash');
  const nTx = varint('the transaction count');
  if (nTx > body.length) throw new BlockFileError(`transaction count ${nTx} exceeds the body size`);
  const data: Uint8Array[] = [];
  for (let i = 0; i < nTx; i++) data.push(raw(`transaction ${i}`));
  const nMd = varint('the metadata count');
  if (nMd > body.length) throw new BlockFileError(`metadata count ${nMd} exceeds the body size`);
  const metadata: Uint8Array[] = [];
  for (let i = 0; i < nMd; i++) metadata.push(raw(`metadata ${i}`));
  if (pos !== body.length) {
    throw new BlockFileError(`${body.length - pos} unexpected bytes after the metadata of block ${number}`);
  }
  return { header: { number, previousHash, dataHash }, data, metadata };
}

// ---------------------------------------------------------------- file sources

export interface FileEntry {
  name: string;
  size: number;
  isFile: boolean;
}

/** Read-only access to a filesystem: this host's, or (later) a container's. Paths are POSIX. */
export interface FileSource {
  /** For messages: "host", "container orderer1.example.com"... */
  readonly description: string;
  /** Entries of a directory. Rejects with an error naming the path when it cannot be listed. */
  list(dir: string): Promise<FileEntry[]>;
  /** The file's bytes from `start` (default 0) to the end, in chunks. */
  read(path: string, opts?: { start?: number; signal?: AbortSignal }): AsyncIterable<Uint8Array>;
}

/** This host's filesystem. */
export function hostFileSource(chunkSize = 1024 * 1024): FileSource {
  return {
    description: 'host',
    async list(dir) {
      const entries = await readdir(dir, { withFileTypes: true });
      const out: FileEntry[] = [];
      for (const e of entries) {
        let size = 0;
        if (e.isFile()) size = (await stat(posix.join(dir, e.name))).size;
        out.push({ name: e.name, size, isFile: e.isFile() });
      }
      return out;
    },
    read(path, opts) {
      return createReadStream(path, {
        start: opts?.start ?? 0,
        highWaterMark: chunkSize,
        ...(opts?.signal ? { signal: opts.signal } : {}),
      });
    },
  };
}

/** An in-memory filesystem: path -> bytes (tests, and a source built from an archive). */
export function memoryFileSource(files: Record<string, Uint8Array>, chunkSize = 64 * 1024): FileSource {
  return {
    description: 'memory',
    async list(dir) {
      const prefix = dir.endsWith('/') ? dir : `${dir}/`;
      const names = new Map<string, FileEntry>();
      for (const [p, bytes] of Object.entries(files)) {
        if (!p.startsWith(prefix)) continue;
        const rest = p.slice(prefix.length);
        const slash = rest.indexOf('/');
        if (slash === -1) names.set(rest, { name: rest, size: bytes.length, isFile: true });
        else names.set(rest.slice(0, slash), { name: rest.slice(0, slash), size: 0, isFile: false });
      }
      if (names.size === 0) throw new Error(`ENOENT: no such directory '${dir}'`);
      return [...names.values()];
    },
    async *read(path, opts) {
      const bytes = files[path];
      if (!bytes) throw new Error(`ENOENT: no such file '${path}'`);
      for (let i = opts?.start ?? 0; i < bytes.length; i += chunkSize) {
        opts?.signal?.throwIfAborted();
        yield bytes.subarray(i, Math.min(bytes.length, i + chunkSize));
      }
    },
  };
}

// ---------------------------------------------------------------- scanning

export interface ScannedBlock {
  file: string;
  /** Offset of the block's length prefix in its file. */
  offset: number;
  /** Size including the length prefix. */
  size: number;
  number: number;
  metadata: BlockKafkaMetadata;
}

export interface TornTail {
  file: string;
  offset: number;
  bytes: number;
  reason: string;
}

export interface FileScan {
  file: string;
  size: number;
  blocks: number;
  first: ScannedBlock | null;
  last: ScannedBlock | null;
  torn: TornTail | null;
}

/**
 * Streams one block file from its start, finding block boundaries; keeps the first and last complete blocks
 * (parsed) and reports a torn or unparseable tail. Stops at the first block that does not parse: nothing after
 * it can be framed reliably.
 */
export async function scanBlockFile(
  source: FileSource,
  file: string,
  opts: { signal?: AbortSignal } = {},
): Promise<FileScan> {
  let pending: Uint8Array[] = [];
  let pendingLen = 0;
  let fileOffset = 0; // file offset of pending[0][0]
  let size = 0;
  let blocks = 0;
  let first: ScannedBlock | null = null;
  let last: ScannedBlock | null = null;
  let torn: TornTail | null = null;
  /** Total length (prefix + body) of the block being assembled, when its prefix has been read. */
  let need: { prefix: number; body: number } | null = null;

  const flatten = (): Uint8Array => {
    if (pending.length === 1) return pending[0] as Uint8Array;
    const all = new Uint8Array(pendingLen);
    let o = 0;
    for (const p of pending) {
      all.set(p, o);
      o += p.length;
    }
    pending = [all];
    return all;
  };

  /** The first `n` (or fewer) pending bytes, without joining every chunk. */
  const peek = (n: number): Uint8Array => {
    const head = pending[0];
    if (head && head.length >= n) return head.subarray(0, n);
    const out: number[] = [];
    for (const p of pending) {
      for (const b of p) {
        if (out.length >= n) return Uint8Array.from(out);
        out.push(b);
      }
    }
    return Uint8Array.from(out);
  };

  const consume = (n: number): void => {
    const all = flatten();
    const rest = all.subarray(n);
    pending = rest.length > 0 ? [rest] : [];
    pendingLen -= n;
    fileOffset += n;
  };

  const stream = source.read(file, opts.signal ? { signal: opts.signal } : {});
  outer: for await (const chunk of stream) {
    const c = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk as ArrayBuffer);
    size += c.length;
    if (torn) continue; // keep counting the size only
    pending.push(c);
    pendingLen += c.length;
    for (;;) {
      if (!need) {
        let r: { value: number; next: number } | null;
        try {
          r = decodeVarint(peek(10), 0);
        } catch (err) {
          torn = { file, offset: fileOffset, bytes: -1, reason: (err as Error).message };
          pending = [];
          continue outer;
        }
        if (!r) break; // more bytes needed
        need = { prefix: r.next, body: r.value };
      }
      if (pendingLen < need.prefix + need.body) break;
      const all = flatten();
      const body = all.subarray(need.prefix, need.prefix + need.body);
      const blockOffset = fileOffset;
      const blockSize = need.prefix + need.body;
      let parsed: ScannedBlock;
      try {
        if (need.body === 0) throw new BlockFileError('zero-length block');
        const b = deserializeBlockBody(body);
        parsed = {
          file,
          offset: blockOffset,
          size: blockSize,
          number: b.header.number,
          metadata: kafkaMetadataOfBlock(b.metadata),
        };
      } catch (err) {
        torn = {
          file,
          offset: blockOffset,
          bytes: -1,
          reason: `block does not parse: ${(err as Error).message}`,
        };
        pending = [];
        need = null;
        continue outer;
      }
      blocks++;
      if (!first) first = parsed;
      last = parsed;
      need = null;
      consume(blockSize);
    }
  }
  if (torn) {
    torn.bytes = size - torn.offset;
  } else if (pendingLen > 0) {
    torn = {
      file,
      offset: fileOffset,
      bytes: pendingLen,
      reason: need
        ? `partial block: ${pendingLen} of ${need.prefix + need.body} bytes written`
        : `partial length prefix (${pendingLen} bytes)`,
    };
  }
  return { file, size, blocks, first, last, torn };
}

export interface LedgerTip {
  /** The channel's block directory. */
  dir: string;
  /** blockfile_NNNNNN names found, oldest first. */
  files: string[];
  /** The newest complete block; null when the ledger holds none. */
  block: ScannedBlock | null;
  /** Height = newest block number + 1 (0 when empty). */
  height: number;
  /** The Kafka metadata the orderer would restart from (null = none persisted: it consumes from oldest). */
  kafka: KafkaMetadata | null;
  /** A torn or unparseable tail seen in the files read (newest first). */
  torn: TornTail[];
  /** Files actually scanned, newest first. */
  scanned: string[];
  /** Non-fatal oddities: metadata copies that disagree, entries that do not decode, a gap between files. */
  warnings: string[];
}

export function channelLedgerDir(ledgerDir: string, channel: string): string {
  return posix.join(ledgerDir, 'chains', channel);
}

/** blockfile_NNNNNN names of a directory listing, oldest first. */
export function blockFileNames(entries: readonly FileEntry[]): string[] {
  return entries
    .filter((e) => e.isFile && /^blockfile_\d{6,}$/.test(e.name))
    .map((e) => e.name)
    .sort((a, b) => Number(a.slice(BLOCKFILE_PREFIX.length)) - Number(b.slice(BLOCKFILE_PREFIX.length)));
}

/**
 * The newest complete block of a channel's ledger and the Kafka metadata in it. Reads the newest file; when it
 * has no complete block (just rolled over, empty, or torn), the previous one, and so on.
 */
export async function readLedgerTip(
  source: FileSource,
  dir: string,
  opts: { signal?: AbortSignal } = {},
): Promise<LedgerTip> {
  let entries: FileEntry[];
  try {
    entries = await source.list(dir);
  } catch (err) {
    throw new BlockFileError(`cannot list ${dir} (${source.description}): ${(err as Error).message}`, {
      cause: err,
    });
  }
  const files = blockFileNames(entries);
  const tip: LedgerTip = {
    dir,
    files,
    block: null,
    height: 0,
    kafka: null,
    torn: [],
    scanned: [],
    warnings: [],
  };
  if (files.length === 0) {
    throw new BlockFileError(`no ${BLOCKFILE_PREFIX}NNNNNN files in ${dir} (${source.description})`);
  }
  for (let i = files.length - 1; i >= 0; i--) {
    const path = posix.join(dir, files[i] as string);
    let scan: FileScan;
    try {
      scan = await scanBlockFile(source, path, opts);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new BlockFileError(`cannot read ${path} (${source.description}): ${(err as Error).message}`, {
        cause: err,
      });
    }
    tip.scanned.push(path);
    if (scan.torn) tip.torn.push(scan.torn);
    if (scan.last) {
      const md = scan.last.metadata;
      tip.block = scan.last;
      tip.height = scan.last.number + 1;
      tip.kafka = md.effective;
      for (const p of md.problems) tip.warnings.push(`block ${scan.last.number}: ${p}`);
      if (md.copiesAgree === false) {
        tip.warnings.push(
          `block ${scan.last.number}: ORDERER metadata says last offset persisted ${md.orderer?.lastOffsetPersisted}` +
            ` but the SIGNATURES copy says ${md.signatures?.lastOffsetPersisted}`,
        );
      }
      break;
    }
  }
  return tip;
}
