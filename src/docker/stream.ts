/**
 * Docker's attach/logs stream format. For a container without a TTY the engine multiplexes stdout and stderr
 * into frames: 8-byte header [stream type (0 stdin, 1 stdout, 2 stderr), 0, 0, 0, uint32 BE payload size],
 * then the payload. dockerode returns that Buffer as is when `follow` is false. A TTY container's output is raw.
 */

export type StreamName = 'stdout' | 'stderr';

export interface StreamChunk {
  stream: StreamName;
  data: Buffer;
}

/** A log line with the engine's timestamp (`timestamps: true`). */
export interface LogLine {
  /** ISO time (ms precision) of the line; podman stamps whole seconds, Docker nanoseconds. */
  at?: string;
  atMs?: number;
  /** True when the engine's timestamp had no fraction of a second (podman). */
  wholeSecond?: boolean;
  text: string;
  stream: StreamName;
}

function looksMultiplexed(buf: Buffer): boolean {
  if (buf.length < 8) return false;
  const t = buf[0]!;
  return t <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
}

/**
 * Split a multiplexed buffer into its frames, in order. A buffer that does not start with a frame header is
 * returned as one stdout chunk (a TTY container, or an engine that did not multiplex). A truncated last frame
 * keeps what arrived.
 */
export function demuxDockerStream(buf: Buffer): StreamChunk[] {
  if (buf.length === 0) return [];
  if (!looksMultiplexed(buf)) return [{ stream: 'stdout', data: buf }];
  const out: StreamChunk[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const type = buf[off]!;
    const size = buf.readUInt32BE(off + 4);
    const start = off + 8;
    const end = Math.min(start + size, buf.length);
    if (type > 2 || buf[off + 1] !== 0 || buf[off + 2] !== 0 || buf[off + 3] !== 0) {
      // Lost sync: keep the rest as plain output rather than dropping it.
      out.push({ stream: 'stdout', data: buf.subarray(off) });
      return out;
    }
    out.push({ stream: type === 2 ? 'stderr' : 'stdout', data: buf.subarray(start, end) });
    off = end;
  }
  if (off < buf.length) out.push({ stream: 'stdout', data: buf.subarray(off) });
  return out;
}

const TS = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d) ?/;

/** Parse a leading RFC 3339 timestamp (any number of fractional digits) off a line. */
export function splitTimestamp(line: string): { atMs?: number; wholeSecond?: boolean; text: string } {
  const m = TS.exec(line);
  if (!m) return { text: line };
  const frac = m[2] ? m[2].slice(0, 4) : ''; // milliseconds are enough; Date.parse takes up to 3 digits
  const ms = Date.parse(`${m[1]}${frac}${m[3]}`);
  if (Number.isNaN(ms)) return { text: line };
  return { atMs: ms, wholeSecond: m[2] === undefined, text: line.slice(m[0].length) };
}

/**
 * Turn frames into lines, oldest first. A line split across frames of the same stream is joined; each stream
 * keeps its own partial line. Timestamps (`timestamps: true`) are parsed off the front.
 */
export function parseLogLines(chunks: StreamChunk[]): LogLine[] {
  const pending: Record<StreamName, string> = { stdout: '', stderr: '' };
  const lines: LogLine[] = [];
  const emit = (stream: StreamName, raw: string) => {
    const clean = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const { atMs, wholeSecond, text } = splitTimestamp(clean);
    lines.push(
      atMs === undefined
        ? { text, stream }
        : { at: new Date(atMs).toISOString(), atMs, ...(wholeSecond ? { wholeSecond } : {}), text, stream },
    );
  };
  for (const c of chunks) {
    const parts = (pending[c.stream] + c.data.toString('utf8')).split('\n');
    pending[c.stream] = parts.pop() ?? '';
    for (const p of parts) emit(c.stream, p);
  }
  for (const s of ['stdout', 'stderr'] as const) if (pending[s] !== '') emit(s, pending[s]);
  return lines;
}
