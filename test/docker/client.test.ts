/**
 * The Docker client's failure modes without any engine: a socket file that does not exist, a socket whose
 * server accepts and never answers (a hung daemon), and gatherContainers on top of both: a status, never a throw.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterConfig } from '../../src/config/schema.js';
import { DockerClient, createDockerClients, endpointAddress } from '../../src/docker/client.js';
import { gatherContainers } from '../../src/docker/gather.js';
import { SourceError } from '../../src/errors/index.js';

let dir: string;
let hung: Server;
const held: Socket[] = [];
let hungPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsbot-docker-'));
  hungPath = join(dir, 'hung.sock');
  // Accepts connections, reads the request, never answers: a Docker daemon stuck in a syscall.
  hung = createServer((s) => {
    held.push(s);
    s.on('data', () => {});
    s.on('error', () => {});
  });
  await new Promise<void>((r) => hung.listen(hungPath, r));
});

afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise((r) => hung.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function cluster(endpoints: Record<string, { socketPath: string; timeoutMs: number }>): ClusterConfig {
  return {
    kafka: {
      brokers: ['127.0.0.1:1'],
      clientId: 'fabric-opsbot',
      connectTimeoutMs: 500,
      requestTimeoutMs: 500,
      containers: { '1': { name: 'kafka1' }, '2': { label: 'opsbot.broker=2' } },
    },
    zookeeper: {
      connect: '127.0.0.1:2',
      sessionTimeoutMs: 1000,
      connectTimeoutMs: 500,
      containers: { '127.0.0.1:2': { name: 'zk1' } },
    },
    orderers: [{ name: 'orderer1', channels: ['pubchain'], container: { name: 'orderer1' } }],
    docker: { endpoints },
    checks: { everySeconds: 300, logWindowMinutes: 60 },
    repairs: { padMaxMessages: 10000, approvalTtlMinutes: 15, reassignThrottleBytes: 10_000_000 },
  };
}

describe('DockerClient without an engine', () => {
  it('names a missing socket and never throws from ping', async () => {
    const c = new DockerClient('gone', { socketPath: join(dir, 'nope.sock'), timeoutMs: 1000 });
    const r = await c.ping();
    expect(r.ok).toBe(false);
    expect(r.error).toBe('ping: no Docker socket: the file does not exist');
  });

  it('times out on a hung daemon, naming the endpoint and the call', async () => {
    const c = new DockerClient('stuck', { socketPath: hungPath, timeoutMs: 300 });
    const t0 = performance.now();
    const err = await c.inspect('kafka1').catch((e: unknown) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toBe(
      `Docker endpoint "stuck" (unix://${hungPath}): inspect kafka1 did not answer within 300 ms`,
    );
    expect(ms).toBeLessThan(1500);
    const p = await c.ping(200);
    expect(p).toMatchObject({ ok: false, error: 'ping did not answer within 200 ms' });
  });

  it('lets the inventory, not DOCKER_HOST, choose the endpoint', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
    try {
      const c = new DockerClient('x', { socketPath: join(dir, 'nope.sock'), timeoutMs: 500 });
      const modem = (c.docker as unknown as { modem: { socketPath?: string; host?: string } }).modem;
      expect(modem.socketPath).toBe(join(dir, 'nope.sock'));
      expect(modem.host).toBeUndefined();
      expect((await c.ping()).error).toBe('ping: no Docker socket: the file does not exist');
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
    expect(
      endpointAddress({
        host: 'docker1',
        port: 2376,
        tls: { enabled: true, rejectUnauthorized: true },
        timeoutMs: 1,
      }),
    ).toBe('https://docker1:2376');
    expect(endpointAddress({ host: 'docker1', timeoutMs: 1 })).toBe('http://docker1:2375');
  });

  it('reports an unreadable TLS file as a configuration error', () => {
    expect(() =>
      createDockerClients({
        docker: {
          endpoints: {
            remote: {
              host: '127.0.0.1',
              port: 2376,
              tls: { enabled: true, ca: join(dir, 'missing-ca.pem'), rejectUnauthorized: true },
              timeoutMs: 1000,
            },
          },
        },
      }),
    ).toThrow(/docker\.endpoints\.remote\.tls\.ca: cannot read .*missing-ca\.pem/);
  });
});

describe('gatherContainers without an engine', () => {
  it('reports an unreachable Docker socket as the source status, with every container unread', async () => {
    const g = await gatherContainers(
      cluster({ lab: { socketPath: join(dir, 'nope.sock'), timeoutMs: 500 } }),
    );
    expect(g.status.ok).toBe(false);
    expect(g.status.error).toMatch(
      /^Docker endpoint "lab" \(unix:\/\/.*nope\.sock\): ping: no Docker socket: the file does not exist$/,
    );
    expect(g.containers.map((c) => [c.name, c.role, c.runs, c.found])).toEqual([
      ['kafka1', 'broker', 1, false],
      ['label opsbot.broker=2', 'broker', 2, false],
      ['zk1', 'zookeeper', '127.0.0.1:2', false],
      ['orderer1', 'orderer', 'orderer1', false],
    ]);
    expect(g.containers[0]!.error).toMatch(/Docker endpoint "lab" .* unavailable: ping: no Docker socket/);
    expect(g.logs).toEqual([]);
    expect(g.probes).toEqual([]);
  });

  it('spends one timeout on a hung daemon, not one per container', async () => {
    const t0 = performance.now();
    const g = await gatherContainers(cluster({ lab: { socketPath: hungPath, timeoutMs: 400 } }));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(g.status).toMatchObject({ ok: false });
    expect(g.status.error).toContain('ping did not answer within 400 ms');
    expect(g.containers.every((c) => !c.found)).toBe(true);
  });

  it('says when nothing is configured', async () => {
    const c = cluster({});
    const none = await gatherContainers({
      ...c,
      kafka: { ...c.kafka, containers: {} },
      zookeeper: { ...c.zookeeper, containers: {} },
      orderers: [],
    });
    expect(none.status.ok).toBe(true);
    expect(none.status.notChecked?.[0]).toMatch(/no containers are listed/);
    const noEndpoints = await gatherContainers({ ...c, docker: { endpoints: {} } });
    expect(noEndpoints.status).toEqual({
      ok: false,
      error: 'containers are listed but docker.endpoints is empty',
    });
  });
});

describe('dockerGatherer (extra gatherer for gatherSnapshot)', () => {
  it('fills the snapshot and records Docker as unavailable, without throwing', async () => {
    const { dockerGatherer, probeTargetsFromRegistrations } = await import('../../src/docker/snapshot.js');
    expect(
      probeTargetsFromRegistrations([
        { id: 1, host: 'h1', port: 9092, endpoints: ['PLAINTEXT://h1:9092', 'SSL://h1:9093'] },
        { id: 2, host: 'h2', port: 9092, endpoints: [] },
      ]),
    ).toEqual([
      { brokerId: 1, endpoint: 'PLAINTEXT://h1:9092' },
      { brokerId: 1, endpoint: 'SSL://h1:9093' },
      { brokerId: 2, endpoint: 'PLAINTEXT://h2:9092' },
    ]);
    const snapshot = {
      cluster: 'lab',
      generatedAt: new Date().toISOString(),
      scope: {},
      sources: {},
      expected: { bootstrap: [], brokerIds: [], zookeeper: [], channels: [] },
      zookeeper: null,
      kafka: null,
      reachability: [],
      orderers: null,
      containers: null,
      logs: [],
    };
    let state: unknown;
    await dockerGatherer({ onState: (s) => (state = s) })(
      { config: cluster({ lab: { socketPath: join(dir, 'nope.sock'), timeoutMs: 300 } }) },
      snapshot,
    );
    expect(snapshot.sources).toMatchObject({ docker: { ok: false } });
    expect((snapshot.containers as unknown as unknown[]).length).toBe(4);
    expect(state).toMatchObject({ cursors: {} });
  });
});
