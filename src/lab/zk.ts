/**
 * The lab's own small ZooKeeper helpers (four-letter words, a promise-based session). Deliberately independent
 * of src/zookeeper: the lab is the ground truth the tool's own readers are tested against.
 */
import { connect as netConnect } from 'node:net';
import zookeeper from 'node-zookeeper-client';

/** Sends a four-letter word (`srvr`, `mntr`, `ruok`...) and returns the whole answer. */
export function fourLetter(host: string, port: number, word: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = netConnect({ host, port });
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const timer = setTimeout(
      () => finish(new Error(`${host}:${port}: no answer to "${word}" in ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('connect', () => socket.end(word));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => finish(new Error(`${host}:${port}: ${err.message}`)));
    socket.on('close', () => finish(null));
  });
}

export type ZkMode = 'leader' | 'follower' | 'standalone' | 'observer';

/** The member's mode from `srvr`, or null when it is down or not serving (no quorum). */
export async function zkMode(port: number, timeoutMs = 2000): Promise<ZkMode | null> {
  try {
    const text = await fourLetter('127.0.0.1', port, 'srvr', timeoutMs);
    const m = /^Mode:\s*(\w+)/m.exec(text);
    const mode = m?.[1];
    return mode === 'leader' || mode === 'follower' || mode === 'standalone' || mode === 'observer'
      ? mode
      : null;
  } catch {
    return null;
  }
}

const NO_NODE = -101;
const NODE_EXISTS = -110;

type ZkError = Error & { getCode?: () => number };

function zkCode(err: unknown): number | undefined {
  const e = err as ZkError;
  return typeof e?.getCode === 'function' ? e.getCode() : undefined;
}

/** A ZooKeeper session with timeouts on connect and on every operation. Close it when done. */
export class LabZk {
  private constructor(
    private readonly client: zookeeper.Client,
    private readonly opTimeoutMs: number,
  ) {}

  static async connect(connectString: string, timeoutMs = 10_000): Promise<LabZk> {
    const client = zookeeper.createClient(connectString, {
      sessionTimeout: 10_000,
      spinDelay: 100,
      retries: 0,
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.close();
        reject(new Error(`ZooKeeper ${connectString}: no session within ${timeoutMs} ms`));
      }, timeoutMs);
      client.once('connected', () => {
        clearTimeout(timer);
        resolve();
      });
      client.connect();
    });
    return new LabZk(client, timeoutMs);
  }

  close(): void {
    this.client.close();
  }

  /** The znode's data as a string, or null when it does not exist. */
  get(path: string): Promise<string | null> {
    return this.op(`get ${path}`, (done) =>
      this.client.getData(path, (err, data) => {
        if (err && zkCode(err) === NO_NODE) done(null, null);
        else done(err, err ? null : (data?.toString('utf8') ?? ''));
      }),
    );
  }

  /** The znode's data parsed as JSON, or null when it does not exist. */
  async getJson<T = unknown>(path: string): Promise<T | null> {
    const s = await this.get(path);
    return s === null || s === '' ? null : (JSON.parse(s) as T);
  }

  /** Children of a znode, or null when it does not exist. */
  children(path: string): Promise<string[] | null> {
    return this.op(`children ${path}`, (done) =>
      this.client.getChildren(path, (err, kids) => {
        if (err && zkCode(err) === NO_NODE) done(null, null);
        else done(err, err ? null : kids);
      }),
    );
  }

  /** Creates a persistent znode (its parent must exist); false when it already existed. */
  create(path: string, data: string): Promise<boolean> {
    return this.op(`create ${path}`, (done) =>
      this.client.create(path, Buffer.from(data, 'utf8'), zookeeper.CreateMode.PERSISTENT, (err) => {
        if (err && zkCode(err) === NODE_EXISTS) done(null, false);
        else done(err, !err);
      }),
    );
  }

  private op<T>(
    what: string,
    run: (done: (err: Error | zookeeper.Exception | null | undefined, value: T) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`ZooKeeper ${what}: no answer in ${this.opTimeoutMs} ms`)),
        this.opTimeoutMs,
      );
      run((err, value) => {
        clearTimeout(timer);
        if (err) reject(new Error(`ZooKeeper ${what}: ${err instanceof Error ? err.message : String(err)}`));
        else resolve(value);
      });
    });
  }
}

/** Opens a session, runs `fn`, closes the session. */
export async function withZk<T>(
  connectString: string,
  fn: (zk: LabZk) => Promise<T>,
  timeoutMs?: number,
): Promise<T> {
  const zk = await LabZk.connect(connectString, timeoutMs);
  try {
    return await fn(zk);
  } finally {
    zk.close();
  }
}

/** /brokers/topics/T/partitions/P/state */
export interface ZkPartitionState {
  leader: number;
  leader_epoch: number;
  controller_epoch: number;
  isr: number[];
}

/** /brokers/ids/N */
export interface ZkBrokerRegistration {
  host: string | null;
  port: number;
  endpoints: string[];
  timestamp?: string;
  version?: number;
}
