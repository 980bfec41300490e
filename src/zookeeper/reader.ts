/**
 * A small read-only ZooKeeper client for gathering: one session, requests pipelined on one socket, and many
 * reads folded into one `multiRead` request (ZooKeeper 3.6+) so that thousands of partition states cost a few
 * requests instead of one each. On servers without `multiRead` (3.4, 3.5, every Fabric-era ensemble) the same
 * reads are pipelined one request each. No watches, no writes: repairs use ZkSession (node-zookeeper-client).
 *
 * Wire format: jute, big-endian, each frame prefixed with its length. Only what reading needs is encoded.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { SourceError } from '../errors/index.js';
import { parseConnectString } from './connect-string.js';

/** ZooKeeper's error codes that reading meets. */
export const ZK_ERR = {
  OK: 0,
  CONNECTION_LOSS: -4,
  UNIMPLEMENTED: -6,
  NO_NODE: -101,
  NO_AUTH: -102,
  SESSION_EXPIRED: -112,
} as const;

const ERR_NAMES: Record<number, string> = {
  [-1]: 'SYSTEM_ERROR',
  [-4]: 'CONNECTION_LOSS',
  [-5]: 'MARSHALLING_ERROR',
  [-6]: 'UNIMPLEMENTED',
  [-7]: 'OPERATION_TIMEOUT',
  [-8]: 'BAD_ARGUMENTS',
  [-101]: 'NO_NODE',
  [-102]: 'NO_AUTH',
  [-112]: 'SESSION_EXPIRED',
  [-124]: 'QUOTA_EXCEEDED',
};

export function zkErrorName(code: number): string {
  return `${ERR_NAMES[code] ?? 'ERROR'}[${code}]`;
}

const OP = { getData: 4, getChildren: 8, ping: 11, multiRead: 22, closeSession: -11 } as const;
const XID_PING = -2;
const XID_WATCH = -1;
/** Reads folded into one multiRead: small enough that the answer stays far below jute.maxbuffer (1 MB). */
const MULTI_CHUNK = 250;
/** A frame larger than this is a protocol error, not data (jute.maxbuffer is 1 MB by default). */
const MAX_FRAME = 64 * 1024 * 1024;
const STAT_BYTES = 68;

export interface ZkReaderOptions {
  connectTimeoutMs: number;
  sessionTimeoutMs: number;
  /** Per request; also bounds a whole batch. Default: the session timeout. */
  requestTimeoutMs?: number;
  /** Start at a random member (default), or try them in the connect string's order. */
  shuffle?: boolean;
}

export interface ZkNode {
  data: Buffer;
  /** Modification time (ms since the epoch) and version, from the znode's stat. */
  mtime: number;
  version: number;
}

type Pending = { resolve: (frame: Buffer) => void; reject: (err: Error) => void };

/** Jute encoding into one growing buffer; the first 4 bytes are kept for the frame's length. */
class Writer {
  private buf = Buffer.allocUnsafe(256);
  private size = 4;
  private reserve(n: number): void {
    if (this.size + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.size + n));
    this.buf.copy(bigger, 0, 0, this.size);
    this.buf = bigger;
  }
  int(n: number): this {
    this.reserve(4);
    this.buf.writeInt32BE(n, this.size);
    this.size += 4;
    return this;
  }
  long(n: bigint): this {
    this.reserve(8);
    this.buf.writeBigInt64BE(n, this.size);
    this.size += 8;
    return this;
  }
  bool(v: boolean): this {
    this.reserve(1);
    this.buf[this.size++] = v ? 1 : 0;
    return this;
  }
  string(s: string): this {
    const len = Buffer.byteLength(s, 'utf8');
    this.int(len);
    this.reserve(len);
    this.buf.write(s, this.size, len, 'utf8');
    this.size += len;
    return this;
  }
  bytes(b: Buffer): this {
    this.int(b.length);
    this.reserve(b.length);
    b.copy(this.buf, this.size);
    this.size += b.length;
    return this;
  }
  /** The frame: length prefix then everything written. */
  frame(): Buffer {
    this.buf.writeInt32BE(this.size - 4, 0);
    return this.buf.subarray(0, this.size);
  }
}

/** Bounds-checked reads over one response body. */
class Reader {
  constructor(
    private readonly buf: Buffer,
    public off = 0,
  ) {}
  private need(n: number): void {
    if (this.off + n > this.buf.length) throw new Error(`truncated response (${n} bytes at ${this.off})`);
  }
  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.off);
    this.off += 4;
    return v;
  }
  long(): number {
    this.need(8);
    const v = Number(this.buf.readBigInt64BE(this.off));
    this.off += 8;
    return v;
  }
  bool(): boolean {
    this.need(1);
    return this.buf[this.off++] !== 0;
  }
  buffer(): Buffer | null {
    const n = this.int();
    if (n < 0) return null;
    this.need(n);
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
  string(): string {
    return this.buffer()?.toString('utf8') ?? '';
  }
  /** Stat: czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren, pzxid. */
  stat(): { mtime: number; version: number } {
    this.need(STAT_BYTES);
    const mtime = Number(this.buf.readBigInt64BE(this.off + 24));
    const version = this.buf.readInt32BE(this.off + 32);
    this.off += STAT_BYTES;
    return { mtime, version };
  }
  get remaining(): number {
    return this.buf.length - this.off;
  }
}

/** Whether an error means the connection (not the request) failed: another member may answer. */
class ConnectionLost extends Error {}

/** One session on one member: framing, pipelining, timeouts, keep-alive. */
class ZkConnection {
  private xid = 1;
  /** Requests written (pings excluded). */
  sent = 0;
  /** Bytes received after the handshake. */
  bytesReceived = 0;
  private readonly pending = new Map<number, Pending>();
  private pendingBuf: Buffer | null = null;
  private closedWith: Error | null = null;
  private pingTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly member: string,
    private readonly requestTimeoutMs: number,
  ) {}

  static open(member: string, timeoutMs: number, opts: ZkReaderOptions): Promise<ZkConnection> {
    const i = member.lastIndexOf(':');
    const host = member.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(member.slice(i + 1));
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host, port });
      socket.setNoDelay(true);
      let buf = Buffer.alloc(0);
      const fail = (why: string) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(why));
      };
      const timer = setTimeout(() => fail(`no session within ${timeoutMs} ms`), timeoutMs);
      socket.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
      socket.once('close', () => fail('connection closed during the handshake (no quorum?)'));
      const onData = (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 4) return;
        const len = buf.readInt32BE(0);
        if (buf.length < 4 + len) return;
        socket.off('data', onData);
        socket.removeAllListeners('close');
        socket.removeAllListeners('error');
        clearTimeout(timer);
        try {
          const r = new Reader(buf.subarray(4, 4 + len));
          r.int(); // protocol version
          const negotiated = r.int();
          if (negotiated <= 0) throw new Error('session refused (negotiated timeout 0)');
          const conn = new ZkConnection(socket, member, opts.requestTimeoutMs ?? opts.sessionTimeoutMs);
          conn.attach(negotiated, buf.subarray(4 + len));
          resolve(conn);
        } catch (err) {
          socket.destroy();
          reject(err as Error);
        }
      };
      socket.on('data', onData);
      socket.once('connect', () => {
        const w = new Writer()
          .int(0) // protocol version
          .long(0n) // last zxid seen
          .int(opts.sessionTimeoutMs)
          .long(0n) // session id: a new one
          .bytes(Buffer.alloc(16)) // password
          .bool(false); // read-only
        socket.write(w.frame());
      });
    });
  }

  private attach(negotiatedTimeoutMs: number, rest: Buffer): void {
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(new ConnectionLost(`connection failed: ${err.code ?? err.message}`)),
    );
    this.socket.on('close', () => this.fail(new ConnectionLost('connection closed by the server')));
    // Keep the session alive during long reads; the server expires it after the negotiated timeout.
    this.pingTimer = setInterval(
      () => {
        if (this.pending.size > 0 && !this.closedWith)
          this.socket.write(new Writer().int(XID_PING).int(OP.ping).frame());
      },
      Math.max(500, Math.floor(negotiatedTimeoutMs / 3)),
    );
    this.pingTimer.unref();
    if (rest.length) this.onData(rest);
  }

  get alive(): boolean {
    return this.closedWith === null;
  }

  close(): void {
    if (this.closedWith) return;
    this.closedWith = new Error('session closed');
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (!this.socket.destroyed) this.socket.end(new Writer().int(this.xid++).int(OP.closeSession).frame());
    setTimeout(() => this.socket.destroy(), 1000).unref();
    for (const p of this.pending.values()) p.reject(new Error('session closed'));
    this.pending.clear();
  }

  cork(): void {
    this.socket.cork();
    process.nextTick(() => {
      while (this.socket.writableCorked > 0) this.socket.uncork();
    });
  }

  /**
   * One request; resolves with the response body, or null for NO_NODE. Rejects with ConnectionLost when the
   * connection goes (the caller may try another member), with UnimplementedError when asked to, else with the
   * request's own error.
   */
  request(
    op: number,
    writeBody: (w: Writer) => void,
    what: string,
    opts: { unimplementedIsError?: boolean } = {},
  ): Promise<Buffer | null> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const xid = this.xid++;
    const w = new Writer().int(xid).int(op);
    writeBody(w);
    const frame = w.frame();
    return new Promise<Buffer | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(xid);
        reject(new Error(`${opName(op)} ${what} timed out after ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      this.pending.set(xid, {
        resolve: (frame) => {
          clearTimeout(timer);
          const err = frame.readInt32BE(12);
          if (err === ZK_ERR.OK) resolve(frame.subarray(16));
          else if (err === ZK_ERR.NO_NODE) resolve(null);
          else if (err === ZK_ERR.UNIMPLEMENTED && opts.unimplementedIsError)
            reject(new UnimplementedError());
          else if (err === ZK_ERR.SESSION_EXPIRED || err === ZK_ERR.CONNECTION_LOSS)
            reject(new ConnectionLost(`${opName(op)} ${what}: ${zkErrorName(err)}`));
          else reject(new Error(`${opName(op)} ${what}: ${zkErrorName(err)}`));
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.sent++;
      this.socket.write(frame);
    });
  }

  /** Requests written and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  private onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    let buf = this.pendingBuf ? Buffer.concat([this.pendingBuf, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readInt32BE(off);
      if (len < 16 || len > MAX_FRAME) {
        this.fail(new ConnectionLost(`protocol error: a frame of ${len} bytes`));
        this.socket.destroy();
        return;
      }
      if (buf.length - off - 4 < len) break;
      const frame = buf.subarray(off + 4, off + 4 + len);
      off += 4 + len;
      const xid = frame.readInt32BE(0);
      if (xid === XID_PING || xid === XID_WATCH) continue;
      const p = this.pending.get(xid);
      if (!p) continue;
      this.pending.delete(xid);
      p.resolve(frame);
    }
    buf = buf.subarray(off);
    this.pendingBuf = buf.length ? buf : null;
  }

  private fail(err: Error): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (!this.closedWith) this.closedWith = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/**
 * Reads over one session at a time. When the member goes away mid-read (it dies, restarts, loses quorum, or
 * expires the session), the read is repeated once on a new session on another member: reads are idempotent.
 */
export class ZkReader {
  /** Whether the ensemble answers multiRead (3.6+); learnt on first use. */
  private multiRead: boolean | undefined;
  private reconnects = 0;
  /** Requests written on sessions that are gone. */
  private sent = 0;
  /** Members of the sessions that are gone. */
  private readonly used: string[] = [];

  private constructor(
    private conn: ZkConnection,
    private readonly members: string[],
    private readonly chroot: string,
    private readonly connectString: string,
    private readonly opts: ZkReaderOptions,
  ) {}

  /** The member the current session is on, e.g. "zk1:2181". */
  get member(): string {
    return this.conn.member;
  }

  /** Members whose sessions served this reader, in order. */
  get membersUsed(): string[] {
    return [...this.used, this.conn.member];
  }

  /** Sessions opened after the first one (a member went away mid-read). */
  get reconnected(): number {
    return this.reconnects;
  }

  /** Whether the ensemble answered multiRead; undefined until a batch has been read. */
  get multiReadSupported(): boolean | undefined {
    return this.multiRead;
  }

  /** Requests written so far on every session of this reader (pings excluded). */
  get requestsSent(): number {
    return this.sent + this.conn.sent;
  }

  /**
   * A session on the first member (starting at a random one, then in the connect string's order) that accepts
   * it within the connect timeout. The error names every member tried and why each failed.
   */
  static async open(connect: string, opts: ZkReaderOptions): Promise<ZkReader> {
    const { members, chroot } = parseConnectString(connect);
    if (members.length === 0) throw new SourceError('zookeeper', `ZooKeeper "${connect}": no member listed`);
    const start = opts.shuffle === false ? 0 : Math.floor(Math.random() * members.length);
    const order = members.map((_, i) => members[(start + i) % members.length]!);
    const conn = await openFirst(connect, order, opts);
    return new ZkReader(conn, order, chroot, connect, opts);
  }

  close(): void {
    this.conn.close();
  }

  /** Data and stat of a znode, or null when it does not exist. */
  async getData(path: string): Promise<ZkNode | null> {
    const [node] = await this.getDataMany([path]);
    return node ?? null;
  }

  /** Children of a znode (names, unsorted), or null when it does not exist. */
  getChildren(path: string): Promise<string[] | null> {
    return this.withFailover(`getChildren ${path}`, async (conn) => {
      const body = await conn.request(OP.getChildren, (w) => w.string(this.abs(path)).bool(false), path);
      if (body === null) return null;
      const r = new Reader(body);
      const n = r.int();
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(r.string());
      return out;
    });
  }

  /**
   * Data of many znodes, in the order asked, null for those that do not exist. One multiRead per few hundred
   * paths where the ensemble has it, else one pipelined getData each; every request is written before any
   * answer is awaited.
   */
  getDataMany(paths: readonly string[]): Promise<(ZkNode | null)[]> {
    if (paths.length === 0) return Promise.resolve([]);
    const what = paths.length === 1 ? `getData ${paths[0]}` : `getData of ${paths.length} znodes`;
    return this.withFailover(what, async () => {
      if (paths.length > 1 && (await this.supportsMultiRead())) return this.getDataMulti(this.conn, paths);
      const conn = this.conn;
      conn.cork();
      return Promise.all(paths.map((p) => this.getDataOne(conn, p)));
    });
  }

  /**
   * Whether the ensemble answers multiRead, learnt once with a one-znode multiRead on an idle session:
   * 3.6+ answers it; older servers answer UNIMPLEMENTED and close the connection (then a new session is
   * opened on the same member). A connection lost after other bytes arrived is a real loss, not an answer.
   */
  private async supportsMultiRead(): Promise<boolean> {
    if (this.multiRead !== undefined) return this.multiRead;
    const conn = this.conn;
    if (conn.inFlight > 0) return false; // decided on an idle session only; pipelined this time
    const mark = conn.bytesReceived;
    try {
      await this.multiChunk(conn, ['/']);
      this.multiRead = true;
    } catch (err) {
      const refused = err instanceof UnimplementedError;
      if (!refused && !(err instanceof ConnectionLost && conn.bytesReceived === mark)) throw err;
      // 3.4 and 3.5 answer UNIMPLEMENTED and then close the connection: go on on a new session.
      this.multiRead = false;
      await this.reopen(conn, 'the server has no multiRead', false);
    }
    return this.multiRead;
  }

  private async getDataOne(conn: ZkConnection, path: string): Promise<ZkNode | null> {
    const body = await conn.request(OP.getData, (w) => w.string(this.abs(path)).bool(false), path);
    if (body === null) return null;
    const r = new Reader(body);
    const data = r.buffer() ?? Buffer.alloc(0);
    return { data, ...r.stat() };
  }

  private async getDataMulti(conn: ZkConnection, paths: readonly string[]): Promise<(ZkNode | null)[]> {
    const chunks: (readonly string[])[] = [];
    for (let i = 0; i < paths.length; i += MULTI_CHUNK) chunks.push(paths.slice(i, i + MULTI_CHUNK));
    return (await Promise.all(chunks.map((c) => this.multiChunk(conn, c)))).flat();
  }

  private async multiChunk(conn: ZkConnection, paths: readonly string[]): Promise<(ZkNode | null)[]> {
    const what = `of ${paths.length} znode(s) from ${paths[0]}`;
    const body = await conn.request(
      OP.multiRead,
      (w) => {
        for (const p of paths) w.int(OP.getData).bool(false).int(-1).string(this.abs(p)).bool(false);
        w.int(-1).bool(true).int(-1);
      },
      what,
      { unimplementedIsError: true },
    );
    if (body === null || body.length === 0) throw new UnimplementedError();
    const r = new Reader(body);
    const out: (ZkNode | null)[] = [];
    for (;;) {
      const type = r.int();
      const done = r.bool();
      const err = r.int();
      if (done) break;
      if (type === -1) {
        // An error result: its own error code follows.
        const code = r.int();
        if (code === ZK_ERR.NO_NODE || err === ZK_ERR.NO_NODE) out.push(null);
        else throw new Error(`getData ${paths[out.length] ?? '?'}: ${zkErrorName(code)}`);
        continue;
      }
      const data = r.buffer() ?? Buffer.alloc(0);
      out.push({ data, ...r.stat() });
    }
    if (out.length !== paths.length)
      throw new Error(`${what}: ${out.length} results for ${paths.length} reads`);
    return out;
  }

  /** Run `read` on the current session; if the connection goes, once more on a new session elsewhere. */
  private async withFailover<T>(what: string, read: (conn: ZkConnection) => Promise<T>): Promise<T> {
    const conn = this.conn;
    try {
      return await read(conn);
    } catch (err) {
      if (!(err instanceof ConnectionLost)) throw this.error(this.conn.member, err);
      const lost = this.conn.member;
      const next = await this.reopen(conn, `${what}: ${err.message}`, true);
      try {
        return await read(next);
      } catch (again) {
        throw this.error(this.conn.member, again, `after ${lost} failed (${err.message})`);
      }
    }
  }

  /** A new session (once per failed one: concurrent reads that saw the same loss share it). */
  private reopening: Promise<ZkConnection> | null = null;
  private async reopen(failed: ZkConnection, why: string, elsewhere: boolean): Promise<ZkConnection> {
    if (this.reopening) return this.reopening;
    if (this.conn !== failed) {
      if (this.conn.alive) return this.conn; // another read already moved on
      failed = this.conn;
    }
    failed.close();
    this.sent += failed.sent;
    if (elsewhere) this.used.push(failed.member);
    // Another member first when the member failed; the same one first when only multiRead was refused.
    const i = this.members.indexOf(failed.member);
    const order = this.members.map(
      (_, k) => this.members[(i + (elsewhere ? 1 : 0) + k) % this.members.length]!,
    );
    this.reopening = openFirst(this.connectString, order, this.opts)
      .then((c) => {
        this.conn = c;
        if (elsewhere) this.reconnects++;
        return c;
      })
      .catch((err: unknown) => {
        throw new SourceError('zookeeper', `${(err as Error).message}; the earlier session failed: ${why}`);
      })
      .finally(() => {
        this.reopening = null;
      });
    return this.reopening;
  }

  private error(member: string, err: unknown, context?: string): SourceError {
    if (err instanceof SourceError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    return new SourceError('zookeeper', `ZooKeeper ${member}: ${msg}${context ? ` ${context}` : ''}`);
  }

  private abs(path: string): string {
    if (!this.chroot) return path;
    return path === '/' ? this.chroot : this.chroot + path;
  }
}

async function openFirst(connect: string, order: string[], opts: ZkReaderOptions): Promise<ZkConnection> {
  const deadline = Date.now() + opts.connectTimeoutMs;
  const failures: string[] = [];
  for (const member of order) {
    const left = deadline - Date.now();
    if (left <= 0) {
      failures.push(`${member}: not tried (connect timeout spent)`);
      continue;
    }
    try {
      return await ZkConnection.open(member, left, opts);
    } catch (err) {
      failures.push(`${member}: ${(err as Error).message}`);
    }
  }
  throw new SourceError(
    'zookeeper',
    `ZooKeeper ${connect}: no session within ${opts.connectTimeoutMs} ms (${failures.join('; ')})`,
  );
}

class UnimplementedError extends Error {
  constructor() {
    super('multiRead is not implemented by this server');
  }
}

function opName(op: number): string {
  switch (op) {
    case OP.getData:
      return 'getData';
    case OP.getChildren:
      return 'getChildren';
    case OP.multiRead:
      return 'multiRead';
    default:
      return `op ${op}`;
  }
}
