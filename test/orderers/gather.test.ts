import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ClusterConfig, OrdererConfig } from '../../src/config/index.js';
import { channelLedgerDir, memoryFileSource } from '../../src/fabric/blockfile.js';
import { gatherOrderers, readHostLogTail } from '../../src/orderers/gather.js';
import { blockfileName, fileOf, makeBlocks } from '../fixtures/orderers/ledger.js';

const STUCK14 = readFileSync(
  new URL('../fixtures/orderers/fabric14-stuck-orderer.txt', import.meta.url),
  'utf8',
);

const page = (rows: Record<string, [number, number]>): string =>
  [
    '# TYPE consensus_kafka_last_offset_persisted gauge',
    ...Object.entries(rows).map(([c, [o]]) => `consensus_kafka_last_offset_persisted{channel="${c}"} ${o}`),
    '# TYPE ledger_blockchain_height gauge',
    ...Object.entries(rows).map(([c, [, h]]) => `ledger_blockchain_height{channel="${c}"} ${h}`),
  ].join('\n');

const routes: Record<string, [number, string]> = {
  '/o1/metrics': [200, page({ pubchain: [20, 10], testchainid: [-3, 1] })],
  '/o1/healthz': [200, '{"status":"OK"}'],
  '/o7/metrics': [200, page({ testchainid: [5, 3] })],
  '/o7/healthz': [
    503,
    '{"status":"Service Unavailable","failed_checks":[{"component":"pubchain","reason":"kafka server: Messages are rejected since there are fewer in-sync replicas than required. [replica ids: [1 2]]"}]}',
  ],
};

let root = '';
let base = '';
let closedBase = '';
const requested: string[] = [];
const server = http.createServer((req, res) => {
  requested.push(req.url ?? '');
  const r = routes[req.url ?? ''];
  res.writeHead(r ? r[0] : 404);
  res.end(r ? r[1] : 'not found');
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'opsbot-gather-'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  closedBase = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise((r) => closed.close(r));

  // ledgers: o1 (agrees with its metrics), o2 (ledger only), o1b (disagrees with its metrics)
  const write = async (ledger: string, channel: string, blocks: number, offsetOf: (n: number) => number) => {
    const dir = channelLedgerDir(join(root, ledger), channel);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, blockfileName(0)), fileOf(makeBlocks({ blocks, offsetOf })));
  };
  await write('o1', 'pubchain', 10, (n) => 2 * n + 2); // block 9 -> 20
  await write('o1', 'testchainid', 1, () => 0); // genesis only
  await write('o2', 'pubchain', 10, (n) => 2 * n + 2);
  await write('o1b', 'pubchain', 9, (n) => 2 * n + 2); // block 8 -> 18
  await writeFile(join(root, 'o3.log'), STUCK14);
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await rm(root, { recursive: true, force: true });
});

function cfg(orderers: Partial<OrdererConfig>[]): Pick<ClusterConfig, 'orderers'> {
  return {
    orderers: orderers.map((o) => ({
      name: 'x',
      channels: ['pubchain'],
      probeHealthz: true,
      ...o,
    })) as OrdererConfig[],
  };
}

describe('gatherOrderers', () => {
  it('does not ask /healthz unless told to: a Kafka orderer answers it by writing a CONNECT to every channel', async () => {
    requested.length = 0;
    const r = await gatherOrderers(cfg([{ name: 'o1', operationsUrl: `${base}/o1`, probeHealthz: false }]), {
      timeoutMs: 2000,
    });
    expect(requested).toEqual(['/o1/metrics']);
    expect(r.health).toEqual([]);
    expect(r.positions[0]).toMatchObject({ source: 'metrics', lastOffsetPersisted: 20 });
  });

  it('takes every source that answers and picks the best: metrics, then ledger, then log', async () => {
    const r = await gatherOrderers(
      cfg([
        {
          name: 'o1',
          channels: ['pubchain', 'testchainid'],
          operationsUrl: `${base}/o1`,
          ledgerDir: join(root, 'o1'),
        },
        { name: 'o2', ledgerDir: join(root, 'o2') },
        { name: 'o3', channels: ['pubchain', 'testchainid'], logFile: join(root, 'o3.log') },
      ]),
      { timeoutMs: 2000 },
    );
    const pos = (o: string, c: string) => r.positions.find((p) => p.orderer === o && p.channel === c);

    expect(pos('o1', 'pubchain')).toMatchObject({
      lastOffsetPersisted: 20,
      expectedStartOffset: 21,
      blockHeight: 10,
      source: 'metrics',
      bySource: {
        metrics: { lastOffsetPersisted: 20, blockHeight: 10 },
        ledger: { lastOffsetPersisted: 20, blockHeight: 10 },
      },
      errors: [],
    });
    expect(pos('o1', 'pubchain')?.notes).toBeUndefined();

    // gauge -3 and a genesis-only ledger: nothing persisted, the orderer starts from the oldest offset
    expect(pos('o1', 'testchainid')).toMatchObject({
      lastOffsetPersisted: null,
      expectedStartOffset: null,
      startFromOldest: true,
      source: 'metrics',
      bySource: {
        metrics: { lastOffsetPersisted: null },
        ledger: { lastOffsetPersisted: null, blockHeight: 1 },
      },
    });
    expect(pos('o1', 'testchainid')?.notes?.join()).toMatch(/from the oldest offset/);

    expect(pos('o2', 'pubchain')).toMatchObject({
      lastOffsetPersisted: 20,
      expectedStartOffset: 21,
      blockHeight: 10,
      source: 'ledger',
    });

    expect(pos('o3', 'pubchain')).toMatchObject({
      lastOffsetPersisted: 20,
      expectedStartOffset: 21,
      blockHeight: 10,
      source: 'log',
      bySource: { log: { lastOffsetPersisted: 20, blockHeight: 10, at: '2019-03-01T10:00:00.300Z' } },
    });
    expect(pos('o3', 'testchainid')).toMatchObject({ source: 'log', startFromOldest: true, blockHeight: 1 });

    expect(r.health).toEqual([{ orderer: 'o1', healthy: true }]);
    const deliver = r.logs.find((m) => m.signature === 'orderer.deliver-rejected');
    expect(deliver).toMatchObject({ origin: 'o3', channel: 'pubchain', count: 2 });
    expect(r.status.ok).toBe(true);
    expect(r.status.error).toBeUndefined();
    expect(r.status.notChecked).toBeUndefined();
    expect(r.status.ms).toBeGreaterThanOrEqual(0);
  });

  it("notes when the metrics and the ledger disagree (a ledgerDir that is not this orderer's)", async () => {
    const r = await gatherOrderers(
      cfg([{ name: 'o1', operationsUrl: `${base}/o1`, ledgerDir: join(root, 'o1b') }]),
      {
        timeoutMs: 2000,
      },
    );
    expect(r.positions[0]?.source).toBe('metrics');
    expect(r.positions[0]?.lastOffsetPersisted).toBe(20);
    expect(r.positions[0]?.notes).toEqual([
      "metrics say last offset persisted 20 but the newest block in the ledger says 18 (is ledgerDir this orderer's FileLedger.Location?)",
    ]);
  });

  it('records each failure per source, with the URL or path, and the health of each orderer', async () => {
    const r = await gatherOrderers(
      cfg([
        { name: 'o4', operationsUrl: closedBase, ledgerDir: join(root, 'missing') },
        { name: 'o7', channels: ['pubchain', 'testchainid'], operationsUrl: `${base}/o7` },
      ]),
      { timeoutMs: 2000 },
    );
    const o4 = r.positions.find((p) => p.orderer === 'o4')!;
    expect(o4.source).toBeNull();
    expect(o4.lastOffsetPersisted).toBeNull();
    expect(o4.errors.map((e) => e.source).sort()).toEqual(['ledger', 'metrics']);
    expect(o4.errors.find((e) => e.source === 'metrics')?.error).toMatch(
      new RegExp(`^${closedBase}/metrics: ECONNREFUSED`),
    );
    expect(o4.errors.find((e) => e.source === 'ledger')?.error).toMatch(
      /cannot list .*missing\/chains\/pubchain \(host\)/,
    );

    const o7 = r.positions.find((p) => p.orderer === 'o7' && p.channel === 'pubchain')!;
    expect(o7.source).toBeNull();
    expect(o7.errors[0]?.error).toBe(
      `${base}/o7/metrics has no consensus_kafka_last_offset_persisted{channel="pubchain"} (Fabric before 1.4.2, not a Kafka orderer, or the channel has not started)`,
    );
    expect(
      r.positions.find((p) => p.orderer === 'o7' && p.channel === 'testchainid')?.lastOffsetPersisted,
    ).toBe(5);

    expect(r.health.find((h) => h.orderer === 'o4')?.error).toMatch(/healthz: ECONNREFUSED/);
    expect(r.health.find((h) => h.orderer === 'o7')).toEqual({
      orderer: 'o7',
      healthy: false,
      failedChecks: [
        {
          component: 'pubchain',
          reason:
            'kafka server: Messages are rejected since there are fewer in-sync replicas than required. [replica ids: [1 2]]',
        },
      ],
    });
    expect(r.status.ok).toBe(true); // o7/testchainid was read
    expect(r.status.error).toMatch(/^o4\/pubchain: /);
    expect(r.status.error).toContain('o7/pubchain: metrics: ');
    expect(r.status.notChecked).toBeUndefined();
  });

  it('a source that failed while another answered is listed as not checked, not as an error', async () => {
    const r = await gatherOrderers(
      cfg([{ name: 'o2', ledgerDir: join(root, 'o2'), logFile: join(root, 'nope.log') }]),
      {
        timeoutMs: 2000,
      },
    );
    expect(r.positions[0]?.source).toBe('ledger');
    expect(r.status.error).toBeUndefined();
    expect(r.status.notChecked).toEqual([expect.stringMatching(/^o2 log: ENOENT.*nope\.log/)]);
  });

  it('is not ok when nothing could be read, and says what was not checked', async () => {
    const r = await gatherOrderers(cfg([{ name: 'o4', operationsUrl: closedBase }, { name: 'o6' }]), {
      timeoutMs: 2000,
    });
    expect(r.status.ok).toBe(false);
    expect(r.status.notChecked).toEqual([
      'o6: no operationsUrl, ledgerDir or logFile in the inventory',
      'o6/pubchain: no source configured',
    ]);
    const none = await gatherOrderers({ orderers: [] }, { timeoutMs: 100 });
    expect(none).toMatchObject({
      positions: [],
      health: [],
      logs: [],
      status: { ok: true, notChecked: ['no orderers in the inventory'] },
    });
  });

  it('a ledger inside a container needs a file source; with one it is read like any other', async () => {
    const o5 = {
      name: 'o5',
      ledgerDir: '/var/hyperledger/production/orderer',
      container: { name: 'orderer5' },
    };
    const without = await gatherOrderers(cfg([o5]), { timeoutMs: 2000 });
    expect(without.positions[0]?.errors).toEqual([
      {
        source: 'ledger',
        error:
          'ledgerDir /var/hyperledger/production/orderer is inside container orderer5 and no container file source is available',
      },
    ]);

    const files = memoryFileSource({
      [`/var/hyperledger/production/orderer/chains/pubchain/${blockfileName(0)}`]: fileOf(
        makeBlocks({ blocks: 4, offsetOf: (n) => 10 * n }),
      ),
    });
    const seen: string[] = [];
    const withSource = await gatherOrderers(cfg([o5]), {
      timeoutMs: 2000,
      fileSource: (o) => {
        seen.push(o.name);
        return files;
      },
    });
    expect(seen).toEqual(['o5']);
    expect(withSource.positions[0]).toMatchObject({
      source: 'ledger',
      lastOffsetPersisted: 30,
      expectedStartOffset: 31,
      blockHeight: 4,
    });
  });

  it('notes a torn last block in the ledger', async () => {
    const full = fileOf(makeBlocks({ blocks: 4, offsetOf: (n) => 10 * n }));
    const files = memoryFileSource({
      [`/l/chains/pubchain/${blockfileName(0)}`]: full.subarray(0, full.length - 5),
    });
    const r = await gatherOrderers(cfg([{ name: 'o', ledgerDir: '/l' }]), {
      timeoutMs: 2000,
      fileSource: () => files,
    });
    expect(r.positions[0]).toMatchObject({ lastOffsetPersisted: 20, blockHeight: 3 });
    expect(r.positions[0]?.notes?.[0]).toMatch(
      /^ledger: \d+ bytes at the end of \/l\/chains\/pubchain\/blockfile_000000 .* not a complete block/,
    );
  });

  it('only the channels asked for; a custom log source gets `since` and a signal; `since` filters signatures', async () => {
    const calls: { since?: Date; aborted: boolean }[] = [];
    const r = await gatherOrderers(cfg([{ name: 'o3', channels: ['pubchain', 'testchainid'] }]), {
      timeoutMs: 2000,
      channels: ['pubchain'],
      since: '2019-03-01T10:00:10.000Z',
      logSource: async (_o, { since, signal }) => {
        calls.push({ ...(since ? { since } : {}), aborted: signal.aborted });
        return STUCK14.split('\n');
      },
    });
    expect(calls).toEqual([{ since: new Date('2019-03-01T10:00:10.000Z'), aborted: false }]);
    expect(r.positions.map((p) => p.channel)).toEqual(['pubchain']);
    // offset lines are read regardless of `since`
    expect(r.positions[0]).toMatchObject({ source: 'log', lastOffsetPersisted: 20 });
    expect(r.logs.every((m) => m.channel === undefined || m.channel === 'pubchain')).toBe(true);
    expect(r.logs.find((m) => m.signature === 'orderer.deliver-rejected')?.count).toBe(1);
  });

  it('a source that does not answer in time is an error, not a hang', async () => {
    const started = Date.now();
    const r = await gatherOrderers(cfg([{ name: 'slow' }]), {
      timeoutMs: 200,
      logSource: () => new Promise(() => undefined),
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r.positions[0]?.errors).toEqual([
      { source: 'log', error: 'log of slow: no answer within 200 ms' },
    ]);
    expect(r.status.ok).toBe(false);
  });

  it('no orderer serves the channel asked for', async () => {
    const r = await gatherOrderers(cfg([{ name: 'o1' }]), { timeoutMs: 100, channels: ['nope'] });
    expect(r.status.notChecked).toEqual(['no orderer serves nope']);
  });
});

describe('readHostLogTail', () => {
  it('reads the last bytes of a file as lines, dropping the partial first line', async () => {
    const path = join(root, 'tail.log');
    await writeFile(path, 'first line\nsecond line\nthird line\n');
    expect(await readHostLogTail(path)).toEqual(['first line', 'second line', 'third line']);
    expect(await readHostLogTail(path, 15)).toEqual(['third line']);
  });
});
