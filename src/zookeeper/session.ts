/**
 * A promise-based ZooKeeper session over node-zookeeper-client, with the timeouts the library lacks (its
 * connect() never fails when nothing listens; its operations wait forever while disconnected).
 */
import { createRequire } from 'node:module';
import zookeeper from 'node-zookeeper-client';
import { SourceError } from '../errors/index.js';

/**
 * node-zookeeper-client 1.1.3 parses one response per call of onSocketData and then calls itself with an empty
 * buffer, which it concatenates with everything still pending: every response copies the rest of the chunk,
 * quadratic in the number of responses per read (thousands of partition states: ~100 MB of copying and the GC
 * that follows). Hand the pending buffer over as it is instead; the parsing itself is untouched.
 */
function patchQuadraticBuffering(): void {
  const require = createRequire(import.meta.url);
  const cm = require('node-zookeeper-client/lib/ConnectionManager.js') as {
    prototype: {
      onSocketData(this: { pendingBuffer: Buffer | null }, b: Buffer): void;
      __opsbotPatched?: boolean;
    };
  };
  const proto = cm.prototype;
  if (proto.__opsbotPatched) return;
  const original = proto.onSocketData;
  proto.onSocketData = function (this: { pendingBuffer: Buffer | null }, buffer: Buffer) {
    if (buffer.length === 0 && this.pendingBuffer) {
      buffer = this.pendingBuffer;
      this.pendingBuffer = null;
    }
    return original.call(this, buffer);
  };
  proto.__opsbotPatched = true;
}
patchQuadraticBuffering();

const NO_NODE = -101;

type ZkErr = Error | zookeeper.Exception;

function codeOf(err: ZkErr): number | undefined {
  return 'getCode' in err && typeof err.getCode === 'function' ? err.getCode() : undefined;
}

function messageOf(err: ZkErr): string {
  return err instanceof Error ? err.message : String(err);
}

export interface ZkStat {
  version: number;
  ephemeralOwner: string;
  mtime: number;
  ctime: number;
}

export interface ZkSessionOptions {
  connectTimeoutMs: number;
  sessionTimeoutMs: number;
  /** Per operation. */
  requestTimeoutMs?: number;
}

export { parseConnectString } from './connect-string.js';

function statOf(stat: zookeeper.Stat | undefined): ZkStat {
  if (!stat) return { version: -1, ephemeralOwner: '0', mtime: 0, ctime: 0 };
  const long = (b: Buffer) => Number(b.readBigInt64BE(0));
  return {
    version: stat.version,
    ephemeralOwner: stat.ephemeralOwner.toString('hex'),
    mtime: long(stat.mtime),
    ctime: long(stat.ctime),
  };
}

export class ZkSession {
  private constructor(
    private readonly client: zookeeper.Client,
    readonly connect: string,
    private readonly requestTimeoutMs: number,
  ) {}

  static async open(connect: string, opts: ZkSessionOptions): Promise<ZkSession> {
    const client = zookeeper.createClient(connect, {
      sessionTimeout: opts.sessionTimeoutMs,
      spinDelay: 200,
      retries: 0,
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.close();
        reject(
          new SourceError('zookeeper', `ZooKeeper ${connect}: no session within ${opts.connectTimeoutMs} ms`),
        );
      }, opts.connectTimeoutMs);
      client.once('connected', () => {
        clearTimeout(timer);
        resolve();
      });
      client.connect();
    });
    return new ZkSession(client, connect, opts.requestTimeoutMs ?? opts.sessionTimeoutMs);
  }

  close(): void {
    this.client.close();
  }

  /**
   * Issue many requests at once as a few large socket writes instead of one write each: the client writes every
   * request as it is queued, so the socket is corked while `issue` queues them (synchronously) and uncorked on
   * the next tick. Thousands of partition-state reads then cost a few syscalls, not thousands.
   */
  batch<T>(issue: () => Promise<T>): Promise<T> {
    const socket = (
      this.client as unknown as {
        connectionManager?: { socket?: NodeJS.WritableStream & { cork?(): void; uncork?(): void } };
      }
    ).connectionManager?.socket;
    socket?.cork?.();
    try {
      return issue();
    } finally {
      process.nextTick(() => socket?.uncork?.());
    }
  }

  /** Data and stat of a znode, or null when it does not exist. */
  getData(path: string): Promise<{ data: Buffer | null; stat: ZkStat } | null> {
    return this.op(path, 'getData', (done) =>
      this.client.getData(path, (err, data, stat) => {
        if (err && codeOf(err) === NO_NODE) return done(null, null);
        done(err, err ? null : { data: data ?? null, stat: statOf(stat) });
      }),
    );
  }

  /** Children of a znode, or null when it does not exist. */
  getChildren(path: string): Promise<string[] | null> {
    return this.op(path, 'getChildren', (done) =>
      this.client.getChildren(path, (err, children) => {
        if (err && codeOf(err) === NO_NODE) return done(null, null);
        done(err, err ? null : children);
      }),
    );
  }

  exists(path: string): Promise<boolean> {
    return this.op(path, 'exists', (done) => this.client.exists(path, (err, stat) => done(err, !!stat)));
  }

  create(path: string, data: Buffer, mode: number = zookeeper.CreateMode.PERSISTENT): Promise<string> {
    return this.op(path, 'create', (done) =>
      this.client.create(path, data, mode, (err, created) => done(err, created)),
    );
  }

  /** Versioned write: fails with BAD_VERSION when someone else changed the znode. */
  setData(path: string, data: Buffer, version: number): Promise<ZkStat> {
    return this.op(path, 'setData', (done) =>
      this.client.setData(path, data, version, (err, stat) => done(err, statOf(stat))),
    );
  }

  delete(path: string, version = -1): Promise<void> {
    return this.op(path, 'delete', (done) =>
      this.client.remove(path, version, (err) => done(err, undefined)),
    );
  }

  private op<T>(
    path: string,
    what: string,
    run: (done: (err: ZkErr | null, value: T) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new SourceError(
              'zookeeper',
              `ZooKeeper ${this.connect}: ${what} ${path} timed out after ${this.requestTimeoutMs} ms`,
            ),
          ),
        this.requestTimeoutMs,
      );
      run((err, value) => {
        clearTimeout(timer);
        if (err)
          reject(
            new SourceError('zookeeper', `ZooKeeper ${this.connect}: ${what} ${path}: ${messageOf(err)}`),
          );
        else resolve(value);
      });
    });
  }
}
