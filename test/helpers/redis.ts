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
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisServerOptions {
  /** Persist with an append-only file (fsync always) so that restart() keeps the data. */
  appendonly?: boolean;
  /** Extra `--name value` arguments. */
  args?: string[];
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
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-redis-'));
  let port = 0;
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

  for (let attempt = 0; ; attempt++) {
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
    async start() {
      await launch();
    },
    async stop() {
      for (const c of clients) c.disconnect();
      clients.clear();
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
