/**
 * A real redis-server for one test file: on a free loopback port, in its own temp dir, as a child process of the
 * test (stopped by pid, never by name). `restart()` stops and starts it again on the same port and dir, so
 * that tests with `appendonly: true` can prove what survives a restart.
 *
 *   const srv = await startRedis();            // beforeAll
 *   const a = srv.client(); const b = srv.client();
 *   await srv.stop();                          // afterAll (also closes every client made by client())
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisServerOptions {
  /** Persist with an append-only file (fsync always) so that restart() keeps the data. */
  appendonly?: boolean;
  /** Extra `--name value` arguments. */
  args?: string[];
  /** A fixed port (default: a free one). */
  port?: number;
  /** A fixed data dir (created if missing; default: a new temp dir). stop() removes it either way. */
  dir?: string;
}

export interface TestRedis {
  readonly port: number;
  readonly dir: string;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** A new connection (closed by stop()). Default: plain ioredis defaults, no retries after stop. */
  client(options?: RedisOptions): Redis;
  /** Stop the server (SHUTDOWN, saving the AOF when enabled) and start it again on the same port and dir. */
  restart(): Promise<void>;
  /** Stop the server but keep the dir (e.g. to test "Redis is down"); start() brings it back. */
  pause(): Promise<void>;
  /**
   * SIGKILL the server (no SHUTDOWN, nothing flushed beyond what `appendfsync always` already wrote), keep the
   * dir; start() brings it back on the same port and dir, reading the AOF.
   */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that keeps its connections open and answers nothing (a hung server). */
  freeze(): void;
  thaw(): void;
  start(): Promise<void>;
  /** Stop the server, close clients, remove the dir. */
  stop(): Promise<void>;
  /** FLUSHALL, between tests. */
  flush(): Promise<void>;
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Raw RESP PING: "+PONG" (up) or "-NOAUTH" (up, wants a password) both mean the server answers. */
async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG') || buf.startsWith('-NOAUTH'));
    });
  });
}

export async function startRedis(options: RedisServerOptions = {}): Promise<TestRedis> {
  if (!redisServerAvailable()) {
    throw new Error(
      'redis-server is not installed: run scripts/install-deps.sh (apt-get install redis-server)',
    );
  }
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'opsbot-redis-'));
  if (options.dir !== undefined) mkdirSync(dir, { recursive: true });
  let port = options.port ?? 0;
  let child: ChildProcess | undefined;
  let stderr = '';
  const clients = new Set<Redis>();

  const args = () => [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendonly ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--daemonize',
    'no',
    '--maxmemory-policy',
    'noeviction',
    '--logfile',
    '',
    ...(options.args ?? []),
  ];

  async function launch(): Promise<void> {
    stderr = '';
    const c = spawn('redis-server', args(), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout?.on('data', (d: Buffer) => (stderr += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (c.exitCode !== null) break;
      if (await ping(port)) return;
      await sleep(25);
    }
    c.kill('SIGKILL');
    throw new Error(`redis-server did not start on port ${port}: ${stderr.slice(-500)}`);
  }

  async function halt(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    // SIGTERM = SHUTDOWN: with appendonly the AOF is flushed first.
    c.kill('SIGTERM');
    const timeout = sleep(5_000).then(() => 'timeout');
    if ((await Promise.race([exited.then(() => 'ok'), timeout])) === 'timeout') {
      c.kill('SIGKILL');
      await exited;
    }
    child = undefined;
  }

  async function kill(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGCONT');
    c.kill('SIGKILL');
    await exited;
    child = undefined;
  }

  for (let attempt = 0; ; attempt++) {
    if (options.port !== undefined) {
      await launch();
      break;
    }
    port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }

  const srv: TestRedis = {
    get port() {
      return port;
    },
    dir,
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    client(opts: RedisOptions = {}) {
      const r = new Redis({ host: '127.0.0.1', port, ...opts });
      r.on('error', () => undefined);
      clients.add(r);
      return r;
    },
    async restart() {
      await halt();
      await launch();
    },
    async pause() {
      await halt();
    },
    kill,
    freeze() {
      child?.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
    async start() {
      await launch();
    },
    async stop() {
      for (const c of clients) c.disconnect();
      clients.clear();
      child?.kill('SIGCONT');
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    async flush() {
      const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
      r.on('error', () => undefined);
      try {
        await r.flushall();
      } finally {
        r.disconnect();
      }
    },
  };
  return srv;
}

export interface HungRedis {
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** Commands received, upper case, in order (the ones answered and the ones left hanging). */
  readonly commands: string[];
  close(): Promise<void>;
}

/**
 * A "Redis" that takes connections and answers the handshake ioredis sends (HELLO refused as an old server
 * would, CLIENT SETNAME/SETINFO, INFO for the ready check, SELECT, PING) and then nothing: every other command waits forever. What a real Redis looks like
 * when it is stopped (SIGSTOP) or blocked in fsync on a stalled disk after a client connected.
 */
export async function startHungRedis(opts: { port?: number } = {}): Promise<HungRedis> {
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let hung = false;
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const cmd = parseCommand(buf);
        if (cmd === null) return;
        buf = buf.subarray(cmd.length);
        const name = (cmd.args[0] ?? '').toUpperCase();
        commands.push(name);
        if (hung) continue;
        if (name === 'HELLO')
          sock.write("-ERR unknown command 'HELLO'\r\n"); // a RESP2-only server
        else if (name === 'INFO') {
          const info = '# Server\r\nredis_version:7.0.15\r\n# Persistence\r\nloading:0\r\n';
          sock.write(`$${Buffer.byteLength(info)}\r\n${info}\r\n`);
        } else if (name === 'CLIENT' || name === 'SELECT') sock.write('+OK\r\n');
        else if (name === 'PING') sock.write('+PONG\r\n');
        else hung = true; // answers nothing more on this connection
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    commands,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One RESP array of bulk strings off the front of `buf` (what clients send), or null when incomplete. */
function parseCommand(buf: Buffer): { args: string[]; length: number } | null {
  let off = 0;
  const line = (): string | null => {
    const end = buf.indexOf('\r\n', off);
    if (end < 0) return null;
    const s = buf.subarray(off, end).toString('utf8');
    off = end + 2;
    return s;
  };
  const head = line();
  if (head === null) return null;
  if (!head.startsWith('*')) return { args: head.split(' '), length: off }; // inline command
  const n = Number(head.slice(1));
  const args: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = line();
    if (len === null) return null;
    const size = Number(len.slice(1));
    if (buf.length < off + size + 2) return null;
    args.push(buf.subarray(off, off + size).toString('utf8'));
    off += size + 2;
  }
  return { args, length: off };
}
