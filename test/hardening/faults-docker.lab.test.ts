/**
 * `diagnose` on the real lab with its containers behind a Docker daemon that hangs (issue #9): the container
 * source is reported unavailable with the endpoint and the reason, everything else (ZooKeeper, the brokers,
 * every partition, the findings) is in the report as usual, and it comes back in bounded time.
 *
 * Two ways a daemon hangs: it takes the connection and answers nothing, or it answers /_ping (served without the
 * daemon's container locks) and nothing about containers.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadInventory, selectCluster, type Inventory } from '../../src/config/index.js';
import { diagnose } from '../../src/ops/diagnose.js';

const lab = inject('lab');
const WORK = resolve(process.env['FABRIC_OPSBOT_TEST_LAB_WORKDIR'] ?? '.lab/test', 'faults-docker-lab');

let hung: Server;
let pingOnly: HttpServer;
const held: Socket[] = [];

beforeAll(async () => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  // Takes connections, reads them, never answers.
  hung = createServer((s) => {
    held.push(s);
    s.on('data', () => undefined);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => hung.listen(resolve(WORK, 'hung.sock'), r));
  // Answers /_ping; takes every other request and never answers.
  pingOnly = createHttpServer((req, res) => {
    req.resume();
    if (req.url?.endsWith('/_ping')) res.end('OK');
  });
  pingOnly.on('connection', (s: Socket) => held.push(s));
  await new Promise<void>((r) => pingOnly.listen(resolve(WORK, 'ping-only.sock'), r));
});

afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise((r) => hung?.close(r));
  await new Promise((r) => pingOnly?.close(r));
  rmSync(WORK, { recursive: true, force: true });
});

/** The lab's inventory with every broker and ZooKeeper node mapped to a container on `socket`. */
function withContainers(socket: string): { inventory: Inventory; name: string } {
  const inventory = loadInventory(lab!.inventory);
  const { name, config } = selectCluster(inventory, undefined);
  const zk = config.zookeeper.connect.split('/')[0]!.split(',');
  const ids = config.kafka.brokerIds ?? [1, 2, 3, 4];
  const cluster = {
    ...config,
    kafka: {
      ...config.kafka,
      containers: Object.fromEntries(ids.map((id) => [String(id), { name: `kafka${id}` }])),
    },
    zookeeper: {
      ...config.zookeeper,
      containers: Object.fromEntries(zk.map((m, i) => [m, { name: `zk${i + 1}` }])),
    },
    docker: { endpoints: { stuck: { socketPath: socket, timeoutMs: 1500 } } },
  };
  return { inventory: { ...inventory, clusters: { ...inventory.clusters, [name]: cluster } }, name };
}

describe.skipIf(!lab)('diagnose with a hanging Docker daemon', () => {
  it.each([
    ['takes the connection and answers nothing', 'hung.sock', 'ping did not answer within 1500 ms'],
    [
      'answers /_ping but no container call',
      'ping-only.sock',
      'answers /_ping but not container calls: inspect kafka1 did not answer within 1500 ms',
    ],
  ])(
    'a daemon that %s: Docker unavailable, the rest complete',
    async (_what, sock, why) => {
      const socket = resolve(WORK, sock);
      const { inventory, name } = withContainers(socket);
      const t0 = Date.now();
      const res = await diagnose({ inventory, cluster: selectCluster(inventory, name), env: {} });
      const ms = Date.now() - t0;
      expect(ms).toBeLessThan(30_000); // it did not hang (one Docker timeout, not one per container)
      const { report } = res;
      const where = `Docker endpoint "stuck" (unix://${socket})`;
      expect(report.sources['docker']).toMatchObject({ ok: false, error: `${where}: ${why}` });
      // The rest of the report as on any healthy lab day.
      expect(report.sources['zookeeper']?.ok).toBe(true);
      expect(report.sources['kafka']?.ok).toBe(true);
      expect(report.brokers.map((b) => [b.id, b.registered, b.reachable])).toEqual([
        [1, true, true],
        [2, true, true],
        [3, true, true],
        [4, true, true],
      ]);
      expect(report.partitions.map((p) => p.topic)).toEqual(
        expect.arrayContaining(['pubchain', 'testchainid']),
      );
      expect(report.partitions.every((p) => p.leader !== null && p.isr.length === 3)).toBe(true);
      // One finding says Docker could not be read, naming the endpoint and why; nothing claims a container down.
      const docker = report.findings.filter((f) => f.subject.source === 'docker');
      expect(docker).toHaveLength(1);
      expect(docker[0]).toMatchObject({ code: 'SOURCE_UNAVAILABLE', severity: 'warning' });
      expect(JSON.stringify(docker[0])).toContain(why);
      expect(report.findings.filter((f) => f.code === 'CONTAINER_DOWN')).toEqual([]);
      expect(report.findings.filter((f) => f.severity === 'critical')).toEqual([]);
      expect(res.exitCode).toBe(1);
    },
    60_000,
  );
});
