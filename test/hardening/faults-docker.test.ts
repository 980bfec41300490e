/**
 * A Docker daemon hanging under a check or a repair (issue #9, faults during work), without any engine: a fake
 * Docker Engine API on a unix socket that answers some calls and hangs others, in the two ways a daemon hangs:
 * the request is taken and nothing comes back (no headers), or the headers come and the body never ends (a log
 * read or an exec stream stuck half way).
 *
 * - every call ends within its deadline, with an error naming the endpoint and the call, and the request is torn
 *   down (no socket left open at the daemon);
 * - a gather whose log reads and exec probes hang still observes every container and says what it could not
 *   read (notChecked), in bounded time;
 * - a restart-container repair step on a daemon that does not answer the restart fails, says that the engine may
 *   or may not have restarted it, and the executor records and audits it; nothing is retried.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/index.js';
import type { ClusterConfig } from '../../src/config/schema.js';
import { restartContainer } from '../../src/docker/actions.js';
import { DockerClient } from '../../src/docker/client.js';
import { gatherContainers } from '../../src/docker/gather.js';
import { SourceError } from '../../src/errors/index.js';
import type { RepairPlan } from '../../src/model/index.js';
import { restartHandler } from '../../src/repairs/actions/containers.js';
import { createRepairEnv } from '../../src/repairs/actions/env.js';
import { RepairExecutor } from '../../src/repairs/executor.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/** What the fake daemon does with a call: answer, take it and never answer, or send headers and stall. */
type Behaviour = 'ok' | 'hang' | 'stall';

interface FakeDocker {
  path: string;
  /** Behaviour per route: ping, inspect, logs, exec-create, exec-start, exec-inspect, restart, list. */
  set(route: string, b: Behaviour): void;
  /** Requests the daemon got, "GET /containers/kafka1/json". */
  requests: string[];
  /** Connections still open at the daemon. */
  open(): number;
  close(): Promise<void>;
}

const WORK = resolve(process.env['FABRIC_OPSBOT_TEST_LAB_WORKDIR'] ?? '.lab/test', 'faults-docker');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function frame(stream: 1 | 2, text: string): Buffer {
  const body = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
}

function inspectJson(name: string) {
  return {
    Id: `${name}-id`,
    Name: `/${name}`,
    RestartCount: 0,
    State: {
      Status: 'running',
      Running: true,
      OOMKilled: false,
      ExitCode: 0,
      Pid: 42,
      Error: '',
      StartedAt: '2026-11-21T10:00:00.000000000Z',
      FinishedAt: '0001-01-01T00:00:00Z',
    },
    Config: { Tty: false },
    HostConfig: { RestartPolicy: { Name: 'unless-stopped' } },
  };
}

async function startFakeDocker(path: string): Promise<FakeDocker> {
  const behaviour = new Map<string, Behaviour>();
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const routeOf = (method: string, url: string): string => {
    const p = new URL(url, 'http://docker').pathname.replace(/^\/v[\d.]+/, '');
    if (p === '/_ping') return 'ping';
    if (p === '/containers/json') return 'list';
    if (/^\/containers\/[^/]+\/json$/.test(p)) return 'inspect';
    if (/^\/containers\/[^/]+\/logs$/.test(p)) return 'logs';
    if (/^\/containers\/[^/]+\/exec$/.test(p) && method === 'POST') return 'exec-create';
    if (/^\/exec\/[^/]+\/start$/.test(p)) return 'exec-start';
    if (/^\/exec\/[^/]+\/json$/.test(p)) return 'exec-inspect';
    if (/^\/containers\/[^/]+\/restart$/.test(p)) return 'restart';
    return 'other';
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    const route = routeOf(req.method ?? 'GET', req.url ?? '/');
    const b = behaviour.get(route) ?? 'ok';
    if (b === 'hang') return; // taken, never answered
    const name = /\/containers\/([^/]+)\//.exec(req.url ?? '')?.[1] ?? 'x';
    switch (route) {
      case 'ping':
        res.writeHead(200, { 'content-type': 'text/plain' });
        return b === 'stall' ? res.write('O') : res.end('OK');
      case 'list':
        return json(res, 200, []);
      case 'inspect':
        return json(res, 200, inspectJson(name.replace(/-id$/, '')));
      case 'logs':
        res.writeHead(200, { 'content-type': 'application/vnd.docker.raw-stream' });
        res.write(
          frame(1, '2026-11-21T10:00:01.000000000Z [KafkaServer id=1] started (kafka.server.KafkaServer)\n'),
        );
        if (b === 'stall') return; // headers and a first frame: the rest never comes
        return res.end();
      case 'exec-create':
        return json(res, 201, { Id: 'e1' });
      case 'exec-inspect':
        return json(res, 200, { ExitCode: 0, Running: false });
      case 'restart':
        res.writeHead(204);
        return res.end();
      default:
        return json(res, 404, { message: `no route ${req.method} ${req.url}` });
    }
  });
  // exec start with hijack: an HTTP upgrade, then the raw stream.
  server.on('upgrade', (req: IncomingMessage, sock: Socket) => {
    requests.push(`${req.method} ${req.url} (upgrade)`);
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.on('end', () => sock.end()); // the client hung up: so does the daemon
    const b = behaviour.get('exec-start') ?? 'ok';
    if (b === 'hang') return;
    sock.write(
      'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
    );
    sock.write(frame(1, 'PROBE|0|0|bash|1000|\n'));
    if (b === 'stall') return; // the probe of the second endpoint never ends
    sock.end();
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // Idle keep-alive connections go quickly: what stays open is what a client left hanging.
  server.keepAliveTimeout = 100;
  await new Promise<void>((r) => server.listen(path, r));
  return {
    path,
    set: (route, b) => behaviour.set(route, b),
    requests,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function cluster(socketPath: string, timeoutMs: number): ClusterConfig {
  return {
    kafka: {
      brokers: ['127.0.0.1:1'],
      clientId: 'fabric-opsbot',
      connectTimeoutMs: 500,
      requestTimeoutMs: 500,
      containers: { '1': { name: 'kafka1' }, '2': { name: 'kafka2' } },
    },
    zookeeper: {
      connect: '127.0.0.1:2',
      sessionTimeoutMs: 1000,
      connectTimeoutMs: 500,
      containers: { '127.0.0.1:2': { name: 'zk1' } },
    },
    orderers: [],
    docker: { endpoints: { lab: { socketPath, timeoutMs } } },
    checks: { everySeconds: 300, logWindowMinutes: 60 },
    repairs: { padMaxMessages: 10000, approvalTtlMinutes: 15, reassignThrottleBytes: 10_000_000 },
  };
}

let docker: FakeDocker;

beforeAll(async () => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  docker = await startFakeDocker(resolve(WORK, 'docker.sock'));
});
afterAll(async () => {
  await docker?.close();
  rmSync(WORK, { recursive: true, force: true });
});
beforeEach(() => {
  for (const r of ['ping', 'inspect', 'logs', 'exec-create', 'exec-start', 'exec-inspect', 'restart'])
    docker.set(r, 'ok');
  docker.requests.length = 0;
});

/** Connections the client gave up on are closed (a daemon hung for hours must not collect sockets). */
async function noSocketLeft() {
  for (let i = 0; i < 40 && docker.open() > 0; i++) await sleep(50);
  expect(docker.open()).toBe(0);
}

describe('every Docker call has a deadline and tears its request down', () => {
  const label = () => `Docker endpoint "lab" (unix://${docker.path})`;

  it.each([
    ['inspect', 'hang', (c: DockerClient) => c.inspect('kafka1'), 'inspect kafka1'],
    ['logs', 'hang', (c: DockerClient) => c.logs('kafka1', {}, false), 'logs of kafka1'],
    ['logs', 'stall', (c: DockerClient) => c.logs('kafka1', {}, false), 'logs of kafka1'],
    ['exec-create', 'hang', (c: DockerClient) => c.exec('kafka1', ['true']), 'exec "true" in kafka1'],
    ['exec-start', 'hang', (c: DockerClient) => c.exec('kafka1', ['true']), 'exec "true" in kafka1'],
    ['exec-start', 'stall', (c: DockerClient) => c.exec('kafka1', ['true']), 'exec "true" in kafka1'],
  ] as const)('%s that does %s', async (route, how, call, what) => {
    docker.set(route, how);
    const c = new DockerClient('lab', { socketPath: docker.path, timeoutMs: 300 });
    const err = await call(c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toBe(`${label()}: ${what} did not answer within 300 ms`);
    await noSocketLeft();
  });

  it('a healthy answer still goes through (the fake daemon is not broken)', async () => {
    const c = new DockerClient('lab', { socketPath: docker.path, timeoutMs: 1000 });
    expect((await c.logs('kafka1', {}, false)).map((l) => l.text)).toEqual([
      '[KafkaServer id=1] started (kafka.server.KafkaServer)',
    ]);
    expect((await c.exec('kafka1', ['true'])).stdout).toBe('PROBE|0|0|bash|1000|\n');
  });
});

describe('a gather on a daemon whose log reads and exec probes hang half way', () => {
  it('observes every container, says what it could not read, and ends in bounded time', async () => {
    docker.set('logs', 'stall');
    docker.set('exec-start', 'stall');
    const t0 = Date.now();
    const g = await gatherContainers(cluster(docker.path, 400), {
      probe: [
        { brokerId: 1, endpoint: 'PLAINTEXT://127.0.0.1:19092' },
        { brokerId: 2, endpoint: 'PLAINTEXT://127.0.0.1:19093' },
      ],
      probeTimeoutMs: 500,
    });
    // The exec deadline is the endpoint's timeout plus each probe's own: 400 + 2 * (1000 + 500) ms.
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(g.status.ok).toBe(true); // the daemon answers: the source is there, parts of it were not readable
    expect(g.containers.map((c) => [c.name, c.found, c.running])).toEqual([
      ['kafka1', true, true],
      ['kafka2', true, true],
      ['zk1', true, true],
    ]);
    const where = `Docker endpoint "lab" (unix://${docker.path})`;
    expect(g.status.notChecked).toEqual([
      `logs of kafka1: ${where}: logs of kafka1-id did not answer within 400 ms`,
      `logs of kafka2: ${where}: logs of kafka2-id did not answer within 400 ms`,
      `logs of zk1: ${where}: logs of zk1-id did not answer within 400 ms`,
      `probes from kafka1: exec not possible: ${where}: exec "/bin/sh" in kafka1 did not answer within 3400 ms`,
      `probes from kafka2: exec not possible: ${where}: exec "/bin/sh" in kafka2 did not answer within 3400 ms`,
    ]);
    expect(g.logs).toEqual([]);
    await noSocketLeft();
  }, 30_000);
});

describe('a daemon that answers /_ping but no container call (dockerd stuck on a container lock)', () => {
  it('is reported as an unavailable source naming the endpoint and why, after one timeout', async () => {
    docker.set('inspect', 'hang');
    const t0 = Date.now();
    const g = await gatherContainers(cluster(docker.path, 400), { concurrency: 1 });
    expect(Date.now() - t0).toBeLessThan(5000);
    const where = `Docker endpoint "lab" (unix://${docker.path})`;
    const why = 'answers /_ping but not container calls: inspect kafka1 did not answer within 400 ms';
    expect(g.status).toMatchObject({ ok: false, error: `${where}: ${why}` });
    // Every container is "not read because the endpoint is unavailable" (what the container checks leave to
    // the source's SOURCE_UNAVAILABLE), not "Docker does not know it".
    expect(g.containers.map((c) => [c.name, c.found, c.error])).toEqual([
      ['kafka1', false, `${where} unavailable: ${why}`],
      ['kafka2', false, `${where} unavailable: ${why}`],
      ['zk1', false, `${where} unavailable: ${why}`],
    ]);
    // One container call, not one per container.
    expect(docker.requests.filter((r) => r.includes('/containers/'))).toHaveLength(1);
    const { containerChecks } = await import('../../src/checks/containers.js');
    const snapshot = {
      generatedAt: new Date().toISOString(),
      containers: g.containers,
      reachability: [],
      logs: [],
      sources: { docker: g.status },
    } as unknown as Parameters<typeof containerChecks>[0];
    expect(containerChecks(snapshot)).toEqual([]);
    await noSocketLeft();
  });
});

describe('restart-container on a daemon that does not answer the restart', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('the action ends within its deadline and says the outcome is unknown', async () => {
    docker.set('restart', 'hang');
    const c = new DockerClient('lab', { socketPath: docker.path, timeoutMs: 300 });
    const r = await restartContainer(c, 'kafka1', { graceSeconds: 0 });
    expect(r.ok).toBe(false);
    expect(r.detail).toBe(
      `restart kafka1 failed: Docker endpoint "lab" (unix://${docker.path}): restart kafka1 did not answer within 5300 ms; ` +
        'the engine may still restart it: it is running pid 42 now, started 2026-11-21T10:00:00.000000000Z as before',
    );
    await noSocketLeft();
  }, 20_000);

  it('the repair step fails once, recorded and audited; nothing is retried', async () => {
    docker.set('restart', 'hang');
    const r = redis.client();
    const audit = new AuditLog(r, { prefix: 'fd' });
    const config = cluster(docker.path, 300);
    const env = createRepairEnv('lab', config, { byEnv: {} });
    const executor = new RepairExecutor({
      redis: r,
      prefix: 'fd',
      audit,
      handlers: { 'restart-container': restartHandler(env, 0) },
      workerId: 'w1',
      lockTtlMs: 10_000,
    });
    const plan: RepairPlan = {
      kind: 'restart-container',
      cluster: 'lab',
      args: { target: 'kafka1' },
      preconditions: [],
      steps: [{ action: 'restart-container', container: 'kafka1' }],
      expected: {},
      refusal: null,
    };
    const res = await executor.execute({ requestId: 'rq-fd-1', plan, replan: async () => plan });
    expect(res.status).toBe('failed');
    expect(res.message).toContain(`step 1 (`);
    expect(res.message).toContain(
      `restart kafka1 did not answer within 5300 ms; the engine may still restart it`,
    );
    expect(docker.requests.filter((q) => q.includes('/restart'))).toHaveLength(1);
    const entries = (await audit.tail(10)).map((x) => x.entry!);
    expect(entries.find((e) => e.what === 'step-end')).toMatchObject({ outcome: 'failed' });
    expect(entries.find((e) => e.what === 'result')).toMatchObject({ outcome: 'failed' });
    expect((await audit.verify()).ok).toBe(true);
    // Run again: the recorded result, no second restart.
    const again = await executor.execute({ requestId: 'rq-fd-1', plan, replan: async () => plan });
    expect(again.status).toBe('failed');
    expect(docker.requests.filter((q) => q.includes('/restart'))).toHaveLength(1);
  }, 20_000);
});
