/**
 * The gatherer's own ZooKeeper reader on the shared lab's real ensemble (ZooKeeper 3.8, three members):
 * multiRead batching, chroot, missing znodes, and network faults placed exactly with a TCP proxy in front of a
 * real member: the member going away mid-read (the read is repeated on another member) and a member that stops
 * answering (a clear timeout naming the member). The ZooKeeper 3.4 fallback is tested on the Kafka 1.0.2 lab
 * (test/lab/versions.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withZk } from '../../src/lab/zk.js';
import { gatherZookeeper } from '../../src/gather/zookeeper.js';
import { ZkReader } from '../../src/zookeeper/reader.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { labPorts, sharedLab } from '../lab/helpers.js';

const lab = sharedLab();
const ports = labPorts(lab);
const member = (n: number) => `127.0.0.1:${ports.zk(n)}`;
const ensemble = [1, 2, 3].map(member).join(',');
const root = `/reader-test-${randomBytes(4).toString('hex')}`;
const COUNT = 1200;
const value = (i: number) => JSON.stringify({ i, pad: 'x'.repeat(i % 97) });
const opts = { connectTimeoutMs: 5000, sessionTimeoutMs: 10_000, requestTimeoutMs: 5000 };

let proxies: TcpProxy[] = [];
async function proxyTo(n: number): Promise<TcpProxy> {
  const p = await startTcpProxy({ host: '127.0.0.1', port: ports.zk(n) });
  proxies.push(p);
  return p;
}

beforeAll(async () => {
  await withZk(ensemble, async (zk) => {
    await zk.create(root, '');
    await zk.create(`${root}/n`, '');
    for (let i = 0; i < COUNT; i++) await zk.create(`${root}/n/${i}`, value(i));
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  proxies = [];
});

const paths = Array.from({ length: COUNT }, (_, i) => `/n/${i}`);

function expectAll(nodes: ({ data: Buffer } | null)[]): void {
  expect(nodes).toHaveLength(COUNT);
  nodes.forEach((n, i) => expect(n?.data.toString('utf8')).toBe(value(i)));
}

describe('ZkReader on ZooKeeper 3.8', () => {
  it('reads 1200 znodes under a chroot in a handful of multiRead requests, in order, null for missing ones', async () => {
    const r = await ZkReader.open(`${ensemble}${root}`, opts);
    try {
      const before = r.requestsSent;
      const nodes = await r.getDataMany([...paths, '/n/missing', '/nope/deeper']);
      expect(r.multiReadSupported).toBe(true);
      // One multiRead of "/" to learn that the ensemble has it, then 1202 reads at 250 per multiRead: 6
      // requests, not 1202.
      expect(r.requestsSent - before).toBe(6);
      expectAll(nodes.slice(0, COUNT));
      expect(nodes.slice(COUNT)).toEqual([null, null]);
      expect(nodes[5]!.version).toBe(0);
      expect(nodes[5]!.mtime).toBeGreaterThan(Date.parse('2020-01-01'));

      const children = await r.getChildren('/n');
      expect(children?.map(Number).sort((a, b) => a - b)).toEqual(paths.map((_, i) => i));
      expect(await r.getChildren('/missing')).toBeNull();
      expect(await r.getData('/missing')).toBeNull();
      expect((await r.getData('/n/7'))?.data.toString()).toBe(value(7));
    } finally {
      r.close();
    }
  });

  it('a member that goes away mid-read: the read is repeated on another member and completes', async () => {
    const proxy = await proxyTo(1);
    const r = await ZkReader.open(`${proxy.address},${member(2)}${root}`, { ...opts, shuffle: false });
    try {
      expect(r.member).toBe(proxy.address);
      // Handshake and the first ~10 KB of answers pass; then the connection is cut in the middle of a frame.
      proxy.cutAfterServerBytes(10_000);
      const nodes = await r.getDataMany(paths);
      expectAll(nodes);
      expect(r.reconnected).toBe(1);
      expect(r.member).toBe(member(2));
      expect(proxy.serverBytes).toBe(10_000);
    } finally {
      r.close();
    }
  });

  it('a member that stops answering: the read fails after the request timeout, naming the member and the read', async () => {
    const proxy = await proxyTo(2);
    const r = await ZkReader.open(`${proxy.address}${root}`, { ...opts, requestTimeoutMs: 1500 });
    try {
      expect(await r.getDataMany(paths.slice(0, 2))).toHaveLength(2); // multiRead learnt while it answered
      proxy.stall();
      const t0 = Date.now();
      await expect(r.getDataMany(paths)).rejects.toThrow(
        new RegExp(
          `ZooKeeper ${proxy.address}: multiRead of 250 znode\\(s\\) from /n/0 timed out after 1500 ms`,
        ),
      );
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      r.close();
    }
  });

  it('no member reachable: one error naming each member and why', async () => {
    const proxy = await proxyTo(3);
    proxy.stall(); // accepts the connection, never answers the handshake
    const closedPort = ports.zk(1) + 7; // nothing listens there
    await expect(
      ZkReader.open(`${proxy.address},127.0.0.1:${closedPort}`, {
        ...opts,
        connectTimeoutMs: 1500,
        shuffle: false,
      }),
    ).rejects.toThrow(
      new RegExp(
        `no session within 1500 ms \\(${proxy.address}: no session within \\d+ ms; 127\\.0\\.0\\.1:${closedPort}: (ECONNREFUSED|not tried)`,
      ),
    );
  });

  it('gatherZookeeper: a member lost mid-gather still gives the whole view, the same as a clean read', async () => {
    const clean = await gatherZookeeper({
      connect: ensemble,
      connectTimeoutMs: 5000,
      sessionTimeoutMs: 10_000,
    });
    expect(clean.status.ok).toBe(true);
    // Cut after the handshake and the first round's answers, in the middle of the partition states.
    const proxy = await proxyTo(1);
    proxy.cutAfterServerBytes(1_500);
    const cut = await gatherZookeeper(
      { connect: `${proxy.address},${member(2)}`, connectTimeoutMs: 5000, sessionTimeoutMs: 10_000 },
      { shuffleMembers: false },
    );
    expect(cut.status.ok, cut.status.error).toBe(true);
    expect(cut.view?.partitions).toEqual(clean.view?.partitions);
    expect(cut.view?.brokers).toEqual(clean.view?.brokers);
    expect(cut.view?.controller).toEqual(clean.view?.controller);
    expect(cut.view?.readFrom).toEqual([proxy.address, member(2)]);
    expect(clean.view?.readFrom).toHaveLength(1);
  });
});
