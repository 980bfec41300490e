/**
 * A container's filesystem as a FileSource (src/fabric/blockfile.ts), read through the Docker Engine API, so
 * that an orderer's ledger inside its container can be read from wherever this tool runs:
 *
 * - read(path): GET /containers/{id}/archive?path=... streams a tar archive holding that one file; its header is
 *   parsed as it arrives (ustar, pax and GNU long-name headers) and the file's bytes are handed on chunk by chunk
 *   (at most `chunkSize` each), `start` bytes skipped, the response destroyed as soon as the file's bytes are
 *   through. Memory stays at one network chunk whatever the file size. A symlink entry is followed (Docker
 *   archives the link itself; podman follows it).
 * - list(dir): one exec of `stat` (or `ls -ln`) in the container when it runs; when it does not run (a crashed
 *   orderer is exactly when its ledger matters) or has no shell, HEAD /archive probes (X-Docker-Container-Path-Stat)
 *   find Fabric's contiguous blockfile_000000..N by galloping and bisection: about 2·log2(N) small requests.
 * - stat(path): HEAD /archive for one path. dockerode's infoArchive leaves the response (and its socket) open:
 *   it is destroyed here every time, or the process would not exit.
 *
 * Every engine call has a deadline (the client's timeout, or `timeoutMs`); a read also fails when the engine
 * sends nothing for that long. Errors name the container, the endpoint and the path.
 */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { FileEntry, FileSource } from '../fabric/blockfile.js';
import { NotFoundError, SourceError, describeError } from '../errors/index.js';
import type { DockerClient } from './client.js';

/** What X-Docker-Container-Path-Stat says about a path (Go's os.FileMode bits decoded). */
export interface ContainerPathStat {
  name: string;
  size: number;
  /** Go os.FileMode as sent (type bits 31..19, permission bits 0..11). */
  mode: number;
  mtime?: string;
  linkTarget?: string;
  isDir: boolean;
  isSymlink: boolean;
  /** A regular file (no type bit set). */
  isFile: boolean;
}

export interface DockerFileSourceOptions {
  /** Largest piece `read` yields (default 1 MiB). */
  chunkSize?: number;
  /**
   * Deadline of each engine call (default the client's timeout), and the longest the engine may stay silent in
   * the middle of a read.
   */
  timeoutMs?: number;
  /** How `list` works: exec in the container, HEAD probes of blockfile_NNNNNN, or exec then probes (default). */
  listMode?: 'auto' | 'exec' | 'archive';
}

/** A FileSource on a container, plus `stat`. */
export interface DockerFileSource extends FileSource {
  readonly container: string;
  /** The path's stat, or null when it does not exist in the container. */
  stat(path: string): Promise<ContainerPathStat | null>;
}

// Go's os.FileMode type bits.
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_TYPE_BITS = [31, 27, 26, 25, 24, 21, 19];

function bit(mode: number, n: number): boolean {
  return Math.floor(mode / 2 ** n) % 2 === 1;
}

/** Decode the base64 JSON of X-Docker-Container-Path-Stat. */
export function decodePathStat(header: string): ContainerPathStat {
  const j = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as {
    name?: string;
    size?: number;
    mode?: number;
    mtime?: string;
    linkTarget?: string;
  };
  const mode = typeof j.mode === 'number' ? j.mode : 0;
  return {
    name: j.name ?? '',
    size: typeof j.size === 'number' ? j.size : 0,
    mode,
    ...(j.mtime !== undefined ? { mtime: j.mtime } : {}),
    ...(j.linkTarget ? { linkTarget: j.linkTarget } : {}),
    isDir: bit(mode, Math.log2(MODE_DIR)),
    isSymlink: bit(mode, Math.log2(MODE_SYMLINK)),
    isFile: MODE_TYPE_BITS.every((b) => !bit(mode, b)),
  };
}

function where(client: DockerClient, container: string): string {
  return `container ${container} on Docker endpoint "${client.name}"`;
}

/** The engine's message of a dockerode error ("no such container", "file does not exist"...), lower-cased. */
function engineMessage(err: unknown): string {
  const e = (err as { cause?: unknown } | null)?.cause ?? err;
  const j = (e as { json?: unknown } | null)?.json;
  if (j && typeof j === 'object') {
    const m = (j as { message?: unknown; cause?: unknown }).message ?? (j as { cause?: unknown }).cause;
    if (typeof m === 'string') return m.toLowerCase();
  }
  if (typeof j === 'string') return j.toLowerCase();
  return describeError(err).toLowerCase();
}

/**
 * A 404 from /archive means "no such container" or "no such path" (HEAD answers carry no body to tell them
 * apart): ask the engine about the container to say which.
 */
async function explain404(
  client: DockerClient,
  container: string,
  path: string,
  err: unknown,
): Promise<Error> {
  try {
    await client.inspect(container);
  } catch (e) {
    if (e instanceof NotFoundError) {
      return new NotFoundError(`no container named ${container} on ${client.label}`, { cause: e });
    }
    return e as Error;
  }
  return new NotFoundError(`${path}: no such file or directory in ${where(client, container)}`, {
    cause: err,
  });
}

/** HEAD /containers/{id}/archive?path=: the path's stat, or null when the path does not exist. */
export async function statContainerPath(
  client: DockerClient,
  container: string,
  path: string,
  timeoutMs = client.timeoutMs,
): Promise<ContainerPathStat | null> {
  let header: string | undefined;
  try {
    header = await client.call(
      `stat ${path} in ${container}`,
      async (abortSignal) => {
        const res = (await client.docker.getContainer(container).infoArchive({ path, abortSignal })) as {
          headers?: Record<string, string | string[] | undefined>;
          destroy?: () => void;
          resume?: () => void;
        };
        try {
          const h = res.headers?.['x-docker-container-path-stat'];
          return Array.isArray(h) ? h[0] : h;
        } finally {
          // dockerode hands back the live response of a HEAD request: without this its socket stays open.
          res.destroy?.();
        }
      },
      timeoutMs,
    );
  } catch (err) {
    if (err instanceof NotFoundError) {
      const why = await explain404(client, container, path, err);
      if (why instanceof NotFoundError && /no such file or directory/.test(why.message)) return null;
      throw why;
    }
    throw err;
  }
  if (header === undefined) {
    throw new SourceError(
      'docker',
      `${client.label}: stat ${path} in ${container}: the engine sent no X-Docker-Container-Path-Stat header`,
    );
  }
  return decodePathStat(header);
}

// ---------------------------------------------------------------- tar stream reading

/** Pulls chunks from a readable with an inactivity deadline and an abort signal. */
class ChunkReader {
  private readonly it: AsyncIterator<unknown>;
  private leftover: Buffer | null = null;
  private readonly aborted: Promise<never>;
  private rejectAbort: ((e: unknown) => void) | undefined;
  private readonly onAbort: () => void;

  constructor(
    private readonly stream: Readable,
    private readonly idleMs: number,
    private readonly what: string,
    private readonly signal?: AbortSignal,
  ) {
    this.it = stream[Symbol.asyncIterator]();
    this.aborted = new Promise<never>((_, reject) => (this.rejectAbort = reject));
    this.aborted.catch(() => undefined);
    this.onAbort = () => {
      this.rejectAbort?.(signal?.reason ?? new Error('aborted'));
      stream.destroy();
    };
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The next chunk (leftover first), or null at the end of the stream. */
  async next(): Promise<Buffer | null> {
    if (this.leftover) {
      const l = this.leftover;
      this.leftover = null;
      return l;
    }
    this.signal?.throwIfAborted();
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new SourceError('docker', `${this.what}: no data for ${this.idleMs} ms`));
        this.stream.destroy();
      }, this.idleMs);
    });
    try {
      const r = await Promise.race([this.it.next(), idle, this.aborted]);
      if (r.done) return null;
      const v = r.value;
      return Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array);
    } finally {
      clearTimeout(timer);
    }
  }

  unshift(b: Buffer): void {
    if (b.length > 0) this.leftover = b;
  }

  /** Exactly `n` bytes, or fewer when the stream ends first. */
  async exact(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const c = await this.next();
      if (!c) break;
      const take = Math.min(c.length, n - have);
      parts.push(c.subarray(0, take));
      have += take;
      if (take < c.length) this.unshift(c.subarray(take));
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Drop `n` bytes. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const c = await this.next();
      if (!c) break;
      if (c.length > left) {
        this.unshift(c.subarray(left));
        left = 0;
      } else {
        left -= c.length;
      }
    }
    return n - left;
  }

  close(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    this.stream.destroy();
  }
}

function cString(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const z = s.indexOf(0);
  return (z === -1 ? s : s.subarray(0, z)).toString('utf8');
}

/** A tar numeric field: octal text, or GNU base-256 when the high bit of the first byte is set. */
export function tarNumber(b: Buffer, start: number, len: number): number {
  const f = b.subarray(start, start + len);
  if (f.length > 0 && (f[0]! & 0x80) !== 0) {
    let v = f[0]! & 0x7f;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i]!;
    return v;
  }
  const t = cString(b, start, len).trim();
  if (t === '') return 0;
  if (!/^[0-7]+$/.test(t)) throw new Error(`tar: bad numeric field "${t}"`);
  return Number.parseInt(t, 8);
}

/** pax extended header records: "LEN key=value\n"... */
function paxRecords(b: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < b.length) {
    const sp = b.indexOf(0x20, off);
    if (sp === -1) break;
    const len = Number.parseInt(b.subarray(off, sp).toString('ascii'), 10);
    if (!Number.isInteger(len) || len <= 0) break;
    const rec = b.subarray(sp + 1, off + len - 1).toString('utf8'); // without the trailing newline
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    off += len;
  }
  return out;
}

const MAX_META = 1024 * 1024;

type TarHead =
  | { kind: 'file'; name: string; size: number }
  | { kind: 'symlink'; name: string; target: string }
  | { kind: 'dir'; name: string }
  | { kind: 'other'; name: string; type: string }
  | { kind: 'empty' };

/** Read headers until the first real entry (pax and GNU long-name headers applied). */
async function readTarHead(r: ChunkReader): Promise<TarHead> {
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  for (;;) {
    const h = await r.exact(512);
    if (h.length < 512) return { kind: 'empty' };
    if (h.every((x) => x === 0)) return { kind: 'empty' };
    const type = String.fromCharCode(h[156]!);
    const size = tarNumber(h, 124, 12);
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > MAX_META) throw new Error(`tar: ${size}-byte extended header`);
      const body = await r.exact(size);
      await r.skip((512 - (size % 512)) % 512);
      if (type === 'x') pax = { ...pax, ...paxRecords(body) };
      else if (type === 'L') longName = cString(body, 0, body.length);
      else if (type === 'K') longLink = cString(body, 0, body.length);
      continue;
    }
    const prefix = h.subarray(257, 262).toString('ascii') === 'ustar' ? cString(h, 345, 155) : '';
    const base = cString(h, 0, 100);
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${base}` : base);
    const link = pax.linkpath ?? longLink ?? cString(h, 157, 100);
    const realSize = pax.size !== undefined ? Number(pax.size) : size;
    if (type === '0' || type === '\0' || type === '7') return { kind: 'file', name, size: realSize };
    if (type === '2' || type === '1') return { kind: 'symlink', name, target: link };
    if (type === '5') return { kind: 'dir', name };
    return { kind: 'other', name, type };
  }
}

// ---------------------------------------------------------------- listing

/**
 * Lists one directory, one line per entry: "TYPE|SIZE|NAME" from `stat -L -c '%F|%s|%n'` (busybox and
 * coreutils), else "LS|<ls -lnLA line>". Exit 3 and OPSBOT-NODIR when the directory cannot be entered.
 */
export const LIST_SCRIPT = `cd -- "$1" 2>/dev/null || { echo "OPSBOT-NODIR|$(ls -d -- "$1" 2>&1)"; exit 3; }
set --
for f in * .[!.]* ..?*; do
  if [ -e "$f" ] || [ -L "$f" ]; then set -- "$@" "$f"; fi
done
[ $# -eq 0 ] && exit 0
if command -v stat >/dev/null 2>&1 && stat -L -c '%F|%s|%n' -- "$1" >/dev/null 2>&1; then
  stat -L -c '%F|%s|%n' -- "$@"
else
  ls -lnLA 2>/dev/null | while IFS= read -r l; do echo "LS|$l"; done
fi
`;

/** Parse LIST_SCRIPT's output into entries. */
export function parseListing(stdout: string): FileEntry[] {
  const out: FileEntry[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('LS|')) {
      // perms links uid gid size <3 date fields> name
      const m = /^(\S)\S*\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+\S+\s(.*)$/.exec(line.slice(3));
      if (!m || m[3] === '.' || m[3] === '..') continue;
      out.push({ name: m[3]!, size: m[1] === '-' ? Number(m[2]) : 0, isFile: m[1] === '-' });
      continue;
    }
    const a = line.indexOf('|');
    const b = a === -1 ? -1 : line.indexOf('|', a + 1);
    if (b === -1) continue;
    const type = line.slice(0, a);
    const isFile = /^regular( empty)? file$/.test(type);
    out.push({ name: line.slice(b + 1), size: isFile ? Number(line.slice(a + 1, b)) : 0, isFile });
  }
  return out;
}

/** An exec that could not run at all (container not running, no shell): fall back to the archive API. */
function execImpossible(err: unknown, exitCode?: number | null): boolean {
  if (exitCode === 126 || exitCode === 127) return true;
  if (err === undefined) return false;
  const msg = engineMessage(err);
  return /not running|state improper|is paused|is restarting|no such file or directory|executable file not found|oci runtime/.test(
    msg,
  );
}

async function listByExec(
  client: DockerClient,
  container: string,
  dir: string,
  timeoutMs: number,
): Promise<FileEntry[] | 'impossible'> {
  let res;
  try {
    res = await client.exec(container, ['/bin/sh', '-c', LIST_SCRIPT, 'opsbot-list', dir], timeoutMs);
  } catch (err) {
    if (err instanceof NotFoundError) {
      throw new NotFoundError(`no container named ${container} on ${client.label}`, { cause: err });
    }
    if (execImpossible(err)) return 'impossible';
    throw err;
  }
  if (execImpossible(undefined, res.exitCode)) return 'impossible';
  if (res.exitCode === 3 && res.stdout.startsWith('OPSBOT-NODIR')) {
    const detail = res.stdout.slice('OPSBOT-NODIR|'.length).trim();
    const missing = detail === '' || /no such file|can't access|cannot access|not found/i.test(detail);
    throw new NotFoundError(
      missing
        ? `${dir}: no such directory in ${where(client, container)}`
        : `${dir}: cannot be listed in ${where(client, container)}: ${detail.split('\n')[0]}`,
    );
  }
  if (res.exitCode !== 0) {
    throw new SourceError(
      'docker',
      `listing ${dir} in ${where(client, container)} failed (exit code ${res.exitCode ?? '?'}): ${
        (res.stderr || res.stdout).trim().split('\n')[0] ?? ''
      }`,
    );
  }
  return parseListing(res.stdout);
}

/**
 * Without a shell: Fabric's block files are numbered from blockfile_000000 without gaps, so the last one is
 * found by HEAD probes, doubling then bisecting. Only those files are listed.
 */
async function listBlockfilesByArchive(
  client: DockerClient,
  container: string,
  dir: string,
  timeoutMs: number,
): Promise<FileEntry[]> {
  const d = await statContainerPath(client, container, dir, timeoutMs);
  if (!d) throw new NotFoundError(`${dir}: no such directory in ${where(client, container)}`);
  if (!d.isDir) throw new NotFoundError(`${dir}: not a directory in ${where(client, container)}`);
  const name = (n: number) => `blockfile_${String(n).padStart(6, '0')}`;
  const stats = new Map<number, ContainerPathStat | null>();
  const probe = async (n: number) => {
    if (!stats.has(n))
      stats.set(n, await statContainerPath(client, container, posix.join(dir, name(n)), timeoutMs));
    return stats.get(n) ?? null;
  };
  if (!(await probe(0))) return [];
  let lo = 0; // exists
  let hi = 1;
  while (await probe(hi)) {
    lo = hi;
    hi *= 2;
    if (hi > 1_000_000) break;
  }
  // lo exists, hi does not (or is past the limit): bisect
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await probe(mid)) lo = mid;
    else hi = mid;
  }
  const out: FileEntry[] = [];
  // Sizes: the last two files are the ones the ledger reader needs; HEAD each so their sizes are right.
  for (let n = 0; n <= lo; n++) {
    const s = n >= lo - 1 ? await probe(n) : (stats.get(n) ?? null);
    out.push({ name: name(n), size: s?.size ?? 0, isFile: true });
  }
  return out;
}

// ---------------------------------------------------------------- the FileSource

/**
 * A FileSource on `container` (name or id) of `client`'s engine. Paths are the container's own. Nothing runs in
 * the container for `read`; `list` execs a shell when it can.
 */
export function dockerFileSource(
  client: DockerClient,
  container: string,
  opts: DockerFileSourceOptions = {},
): DockerFileSource {
  const chunkSize = opts.chunkSize ?? 1024 * 1024;
  const timeoutMs = opts.timeoutMs ?? client.timeoutMs;
  const listMode = opts.listMode ?? 'auto';

  async function* readFile(
    path: string,
    start: number,
    signal: AbortSignal | undefined,
    hops: number,
  ): AsyncGenerator<Uint8Array> {
    signal?.throwIfAborted();
    let stream: Readable;
    try {
      stream = await client.call(
        `read ${path} in ${container}`,
        async (abortSignal) =>
          (await client.docker.getContainer(container).getArchive({ path, abortSignal })) as Readable,
        timeoutMs,
      );
    } catch (err) {
      if (err instanceof NotFoundError) throw await explain404(client, container, path, err);
      throw err;
    }
    const r = new ChunkReader(stream, timeoutMs, `reading ${path} in ${where(client, container)}`, signal);
    try {
      const head = await readTarHead(r);
      if (head.kind === 'symlink') {
        if (hops >= 8) throw new Error(`${path}: too many levels of symbolic links`);
        r.close();
        const target = posix.isAbsolute(head.target)
          ? head.target
          : posix.join(posix.dirname(path), head.target);
        yield* readFile(target, start, signal, hops + 1);
        return;
      }
      if (head.kind === 'dir') throw new Error(`${path} is a directory in ${where(client, container)}`);
      if (head.kind === 'empty') throw new Error(`the engine sent an empty archive for ${path}`);
      if (head.kind === 'other') {
        throw new Error(`${path} is not a regular file (tar type ${JSON.stringify(head.type)})`);
      }
      let left = head.size;
      if (start > 0) {
        const skipped = await r.skip(Math.min(start, left));
        left -= skipped;
        if (skipped < Math.min(start, head.size)) {
          throw new SourceError('docker', `${path}: the archive ended early (${where(client, container)})`);
        }
      }
      while (left > 0) {
        const c = await r.next();
        if (!c) {
          throw new SourceError(
            'docker',
            `${path}: the archive ended ${left} bytes before the end of the file (${where(client, container)})`,
          );
        }
        let piece = c;
        if (piece.length > left) {
          piece = piece.subarray(0, left); // the rest is padding and the archive's trailer
        }
        left -= piece.length;
        for (let i = 0; i < piece.length; i += chunkSize) {
          yield piece.subarray(i, Math.min(piece.length, i + chunkSize));
        }
      }
    } finally {
      r.close();
    }
  }

  return {
    container,
    description: where(client, container),
    stat: (path) => statContainerPath(client, container, path, timeoutMs),
    async list(dir) {
      if (listMode !== 'archive') {
        const got = await listByExec(client, container, dir, timeoutMs);
        if (got !== 'impossible') return got;
        if (listMode === 'exec') {
          throw new SourceError(
            'docker',
            `cannot list ${dir}: no shell can run in ${where(client, container)} (not running, or no /bin/sh)`,
          );
        }
      }
      return listBlockfilesByArchive(client, container, dir, timeoutMs);
    },
    read(path, o) {
      return readFile(path, Math.max(0, o?.start ?? 0), o?.signal, 0);
    },
  };
}
