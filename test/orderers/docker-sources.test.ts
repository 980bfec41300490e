/**
 * Orderers in containers, against a real Docker Engine API (podman's, test/helpers/podman.ts): the ledger read
 * through the archive API (and an exec'd listing), the log through the logs API, and gatherOrderers reading the
 * same positions through them as from this host's copy of the same files.
 */
import { createServer, type Server } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterConfig, OrdererConfig } from '../../src/config/index.js';
import { DockerClient, socketClient } from '../../src/docker/client.js';
import { dockerFileSource, parseListing, statContainerPath } from '../../src/docker/files.js';
import { tarArchive, type TarEntry } from '../../src/docker/tar.js';
import { readLedgerTip, serializeBlockForFile } from '../../src/fabric/blockfile.js';
import { ordererGatherer } from '../../src/gather/orderers.js';
import type { ClusterSnapshot } from '../../src/model/index.js';
import { dockerLogSource, ordererDockerSources } from '../../src/orderers/docker-sources.js';
import { gatherOrderers } from '../../src/orderers/gather.js';
import { blockfileName, fileOf, makeBlocks } from '../fixtures/orderers/ledger.js';
import { BUSYBOX_IMAGE, usePodman } from '../helpers/podman.js';

const LABEL = 'opsbot-test-orderer-sources';
const RUN = randomBytes(3).toString('hex');
const LEDGER = '/var/hyperledger/production/orderer';
const ORDERER_LOG = [
  '2019-03-01 10:00:00.100 UTC [orderer.consensus.kafka] newChain -> INFO 00f [channel: pubchain] Starting chain with last persisted offset 20 and last recorded block [9]',
  '2019-03-01 10:00:00.110 UTC [orderer.consensus.kafka] newChain -> INFO 010 [channel: testchainid] Starting chain with last persisted offset -3 and last recorded block [0]',
  '2019-03-01 10:00:00.300 UTC [orderer.consensus.kafka] setupChannelConsumerForChannel -> INFO 014 [channel: pubchain] Setting up the channel consumer for this channel (start offset: 21)...',
  '2019-03-01 10:00:05.000 UTC [common.deliver] deliverBlocks -> WARN 018 [channel: pubchain] Rejecting deliver request for 172.18.0.9:51234 because of consenter error',
];
const PANIC =
  '2019-03-01 22:10:00.300 UTC [orderer.consensus.kafka] startThread -> PANI 0a1 [channel: pubchain] Cannot set up channel consumer = kafka server: The requested offset is outside the range of offsets maintained by the server for the given topic/partition.';

let pod: Awaited<ReturnType<typeof usePodman>>;
let client: DockerClient;
let root = '';
/** Host copy of the ledger that the running container sees at LEDGER (bind mount). */
let hostLedger = '';
const running = `opsbot-orderer-live-${RUN}`;
const crashed = `opsbot-orderer-crashed-${RUN}`;
let bigFile: Uint8Array;
const timings: Record<string, number> = {};

function ledgerFiles(): Record<string, Uint8Array> {
  const pub = makeBlocks({ blocks: 10, offsetOf: (n) => 2 * n + 2 }); // block 9 -> offset 20
  // "torn": two files; the second ends with a block cut short, as a crash leaves it.
  const torn = makeBlocks({ blocks: 8, offsetOf: (n) => 100 + n });
  const lastFramed = serializeBlockForFile(torn[7]!);
  const second = Buffer.concat([fileOf(torn.slice(4, 7)), lastFramed.subarray(0, lastFramed.length - 9)]);
  return {
    [`chains/pubchain/${blockfileName(0)}`]: fileOf(pub),
    [`chains/testchainid/${blockfileName(0)}`]: fileOf(makeBlocks({ blocks: 1 })),
    [`chains/torn/${blockfileName(0)}`]: fileOf(torn.slice(0, 4)),
    [`chains/torn/${blockfileName(1)}`]: second,
    [`chains/many/${blockfileName(0)}`]: fileOf(makeBlocks({ blocks: 2 })),
    ...Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [
        `chains/many/${blockfileName(i + 1)}`,
        fileOf(makeBlocks({ blocks: 3, offsetOf: (n) => 1000 * (i + 1) + n })),
      ]),
    ),
    'big.bin': bigFile,
  };
}

async function busybox(
  name: string,
  script: string,
  binds: string[] = [],
  start = true,
  labels: Record<string, string> = {},
): Promise<void> {
  const c = await client.docker.createContainer({
    name,
    Image: BUSYBOX_IMAGE,
    Entrypoint: ['/bin/sh', '-c'],
    Cmd: [script],
    Env: ['PATH=/bin'],
    Labels: { [LABEL]: RUN, ...labels },
    HostConfig: { NetworkMode: 'none', Binds: binds, RestartPolicy: { Name: 'no' } },
  });
  if (start) await c.start();
}

function cluster(orderers: Partial<OrdererConfig>[]): ClusterConfig {
  return {
    kafka: {
      brokers: ['127.0.0.1:1'],
      clientId: 'fabric-opsbot',
      connectTimeoutMs: 1000,
      requestTimeoutMs: 5000,
    },
    zookeeper: { connect: '127.0.0.1:2', sessionTimeoutMs: 1000, connectTimeoutMs: 500 },
    orderers: orderers.map((o) => ({ name: 'x', channels: ['pubchain'], ...o })) as OrdererConfig[],
    docker: { endpoints: { lab: { socketPath: pod.socketPath, timeoutMs: 10_000 } } },
    checks: { everySeconds: 300, logWindowMinutes: 60 },
    repairs: { padMaxMessages: 10000, approvalTtlMinutes: 15, reassignThrottleBytes: 10_000_000 },
  } as ClusterConfig;
}

function emptySnapshot(): ClusterSnapshot {
  return {
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
  } as unknown as ClusterSnapshot;
}

beforeAll(async () => {
  const t0 = performance.now();
  pod = await usePodman();
  client = socketClient(pod.socketPath, 10_000, 'lab');
  timings.engineMs = Math.round(performance.now() - t0);
  root = mkdtempSync(join(tmpdir(), 'opsbot-ordsrc-'));
  hostLedger = join(root, 'ledger');
  bigFile = new Uint8Array(5 * 1024 * 1024 + 123);
  for (let i = 0; i < bigFile.length; i++) bigFile[i] = (i * 7 + (i >> 12)) & 0xff;
  const files = ledgerFiles();
  for (const [p, bytes] of Object.entries(files)) {
    mkdirSync(join(hostLedger, p, '..'), { recursive: true });
    writeFileSync(join(hostLedger, p), bytes);
  }
  writeFileSync(join(root, 'orderer.log'), `${ORDERER_LOG.join('\n')}\n`);

  // A running orderer: the ledger bind-mounted read-only, its log printed to stdout.
  await busybox(running, `cat /opsbot/orderer.log; trap 'exit 0' TERM; while true; do sleep 1; done`, [
    `${hostLedger}:${LEDGER}:ro`,
    `${root}/orderer.log:/opsbot/orderer.log:ro`,
  ]);
  // A crashed orderer: the ledger put into the container's own filesystem (putArchive), then it panics and
  // exits - no exec possible afterwards.
  await busybox(crashed, `cat /opsbot/orderer.log; echo '${PANIC}'; exit 2`, [], false, {
    [`${LABEL}.crashed`]: RUN,
  });
  const entries: TarEntry[] = [{ type: 'dir', path: 'opsbot' }];
  entries.push({ type: 'file', path: 'opsbot/orderer.log', data: `${ORDERER_LOG.join('\n')}\n` });
  const dirs = new Set<string>();
  for (const p of Object.keys(files)) {
    const parts = `${LEDGER.slice(1)}/${p}`.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of [...dirs].sort()) entries.push({ type: 'dir', path: d });
  for (const [p, bytes] of Object.entries(files)) {
    entries.push({ type: 'file', path: `${LEDGER.slice(1)}/${p}`, data: Buffer.from(bytes) });
  }
  await client.call('put ledger', (abortSignal) =>
    client.docker.getContainer(crashed).putArchive(tarArchive(entries), { path: '/', abortSignal }),
  );
  await client.docker.getContainer(crashed).start();
  await client.docker.getContainer(crashed).wait();
  timings.setupMs = Math.round(performance.now() - t0);
}, 180_000);

afterAll(async () => {
  try {
    if (client) {
      const list = await client.list({ label: [`${LABEL}=${RUN}`] });
      await Promise.all(list.map((c) => client.docker.getContainer(c.Id).remove({ force: true, v: true })));
    }
  } finally {
    if (root) rmSync(root, { recursive: true, force: true });
    await pod?.release();
    console.log('[docker-sources] timings (ms):', JSON.stringify(timings));
  }
}, 120_000);

describe('dockerFileSource', () => {
  it('lists a directory in a running container with one exec (names, sizes, files vs directories)', async () => {
    const src = dockerFileSource(client, running);
    const t0 = performance.now();
    const chains = await src.list(`${LEDGER}/chains`);
    const torn = await src.list(`${LEDGER}/chains/torn`);
    timings.listExecMs = Math.round((performance.now() - t0) / 2);
    expect(chains.map((e) => [e.name, e.isFile]).sort()).toEqual([
      ['many', false],
      ['pubchain', false],
      ['testchainid', false],
      ['torn', false],
    ]);
    const files = ledgerFiles();
    expect(torn.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: blockfileName(0), size: files[`chains/torn/${blockfileName(0)}`]!.length, isFile: true },
      { name: blockfileName(1), size: files[`chains/torn/${blockfileName(1)}`]!.length, isFile: true },
    ]);
    expect(src.description).toBe(`container ${running} on Docker endpoint "lab"`);
  });

  it('parses both listing formats (stat, and ls -ln without stat)', () => {
    expect(
      parseListing(
        'regular file|12|blockfile_000000\ndirectory|4096|sub\nregular empty file|0|e\nsymbolic link|3|l\n',
      ),
    ).toEqual([
      { name: 'blockfile_000000', size: 12, isFile: true },
      { name: 'sub', size: 0, isFile: false },
      { name: 'e', size: 0, isFile: true },
      { name: 'l', size: 0, isFile: false },
    ]);
    expect(
      parseListing(
        'LS|total 8\nLS|-rw-r--r--    1 0        0             12 Nov 21 06:11 blockfile_000000\n' +
          'LS|drwxr-xr-x    2 0        0           4096 Nov 21 06:11 sub dir\n',
      ),
    ).toEqual([
      { name: 'blockfile_000000', size: 12, isFile: true },
      { name: 'sub dir', size: 0, isFile: false },
    ]);
  });

  it('streams a 5 MiB file through the archive API in bounded chunks, from any start', async () => {
    const src = dockerFileSource(client, running, { chunkSize: 64 * 1024 });
    const t0 = performance.now();
    const parts: Uint8Array[] = [];
    let largest = 0;
    for await (const c of src.read(`${LEDGER}/big.bin`)) {
      parts.push(new Uint8Array(c));
      largest = Math.max(largest, c.length);
    }
    timings.read5MiBMs = Math.round(performance.now() - t0);
    const all = Buffer.concat(parts);
    expect(all.length).toBe(bigFile.length);
    expect(all.equals(Buffer.from(bigFile))).toBe(true);
    expect(largest).toBeLessThanOrEqual(64 * 1024);

    const tailParts: Uint8Array[] = [];
    for await (const c of src.read(`${LEDGER}/big.bin`, { start: bigFile.length - 1000 })) tailParts.push(c);
    expect(Buffer.concat(tailParts).equals(Buffer.from(bigFile.subarray(bigFile.length - 1000)))).toBe(true);

    const none: Uint8Array[] = [];
    for await (const c of src.read(`${LEDGER}/big.bin`, { start: bigFile.length + 5 })) none.push(c);
    expect(none).toEqual([]);

    // Stopping early (the ledger reader never does, but a consumer may) closes the response.
    for await (const c of src.read(`${LEDGER}/big.bin`)) {
      expect(c.length).toBeGreaterThan(0);
      break;
    }
  });

  it('stops a read when its signal aborts', async () => {
    const src = dockerFileSource(client, running, { chunkSize: 4096 });
    const ac = new AbortController();
    let n = 0;
    await expect(
      (async () => {
        for await (const _c of src.read(`${LEDGER}/big.bin`, { signal: ac.signal })) {
          if (++n === 3) ac.abort(new Error('enough'));
        }
      })(),
    ).rejects.toThrow(/enough/);
  });

  it('stat through HEAD /archive: file, directory, missing (and the response is closed)', async () => {
    const f = await statContainerPath(client, running, `${LEDGER}/chains/pubchain/${blockfileName(0)}`);
    expect(f).toMatchObject({ name: blockfileName(0), isFile: true, isDir: false });
    expect(f!.size).toBe(ledgerFiles()[`chains/pubchain/${blockfileName(0)}`]!.length);
    expect(await statContainerPath(client, running, LEDGER)).toMatchObject({ isDir: true, isFile: false });
    expect(await statContainerPath(client, running, `${LEDGER}/nope`)).toBeNull();
    await expect(statContainerPath(client, `opsbot-no-such-${RUN}`, '/')).rejects.toThrow(
      `no container named opsbot-no-such-${RUN} on Docker endpoint "lab"`,
    );
  });

  it('a stopped container: no exec, so the block files are found with HEAD probes and read from the archive', async () => {
    const src = dockerFileSource(client, crashed);
    const t0 = performance.now();
    const many = await src.list(`${LEDGER}/chains/many`);
    timings.listArchive13FilesMs = Math.round(performance.now() - t0);
    expect(many.map((e) => e.name)).toEqual(Array.from({ length: 13 }, (_, i) => blockfileName(i)));
    const files = ledgerFiles();
    expect(many.at(-1)!.size).toBe(files[`chains/many/${blockfileName(12)}`]!.length);
    const tip = await readLedgerTip(src, `${LEDGER}/chains/many`);
    expect(tip.height).toBe(3);
    expect(tip.kafka?.lastOffsetPersisted).toBe(12_002);
    expect(tip.scanned).toEqual([`${LEDGER}/chains/many/${blockfileName(12)}`]);
  });

  it('names the container and the path when the directory or file is missing', async () => {
    for (const name of [running, crashed]) {
      const src = dockerFileSource(client, name);
      await expect(src.list(`${LEDGER}/chains/nochannel`)).rejects.toThrow(
        `${LEDGER}/chains/nochannel: no such directory in container ${name} on Docker endpoint "lab"`,
      );
      await expect(
        (async () => {
          for await (const _c of src.read(`${LEDGER}/chains/nochannel/${blockfileName(0)}`)) {
            // nothing
          }
        })(),
      ).rejects.toThrow(
        `${LEDGER}/chains/nochannel/${blockfileName(0)}: no such file or directory in container ${name} on Docker endpoint "lab"`,
      );
    }
    const gone = dockerFileSource(client, `opsbot-no-such-${RUN}`);
    await expect(gone.list('/')).rejects.toThrow(`no container named opsbot-no-such-${RUN}`);
  });

  it('gives up on an engine that accepts and never answers, within the timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-mute-'));
    const sock = join(dir, 'mute.sock');
    const held: import('node:net').Socket[] = [];
    const server: Server = createServer((s) => held.push(s));
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const mute = new DockerClient('mute', { socketPath: sock, timeoutMs: 300 });
      const src = dockerFileSource(mute, 'orderer');
      const t0 = performance.now();
      await expect(src.list('/x')).rejects.toThrow(/did not answer within 300 ms/);
      await expect(
        (async () => {
          for await (const _c of src.read('/x/blockfile_000000')) {
            // nothing
          }
        })(),
      ).rejects.toThrow(/did not answer within 300 ms/);
      expect(performance.now() - t0).toBeLessThan(3000);
    } finally {
      for (const s of held) s.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('orderer sources through Docker', () => {
  it('dockerLogSource: the log lines with the engine timestamps, since honoured on request', async () => {
    const src = dockerLogSource(client, running);
    const lines = (await src({ name: 'o' } as OrdererConfig, {
      signal: new AbortController().signal,
    })) as string[];
    expect(lines.length).toBe(ORDERER_LOG.length);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \d{4}-03-01 10:00:00\.100 UTC /);
    expect(lines[0]!.endsWith(ORDERER_LOG[0]!)).toBe(true);
    const later = dockerLogSource(client, running, { useCallSince: true });
    expect(
      await later({ name: 'o' } as OrdererConfig, {
        since: new Date(Date.now() + 3600_000),
        signal: new AbortController().signal,
      }),
    ).toEqual([]);
  });

  it('gatherOrderers reads the same positions through Docker as from the host copy', async () => {
    const channels = ['pubchain', 'testchainid', 'torn'];
    const inContainer = cluster([
      { name: 'o-live', channels, ledgerDir: LEDGER, container: { name: running } },
      // the crashed one is found by label
      { name: 'o-crashed', channels, ledgerDir: LEDGER, container: { label: `${LABEL}.crashed=${RUN}` } },
    ]);
    const onHost = cluster([
      { name: 'o-host', channels, ledgerDir: hostLedger, logFile: join(root, 'orderer.log') },
    ]);
    onHost.docker = undefined;

    const s = ordererDockerSources(inContainer);
    expect([...s.logsViaDocker].sort()).toEqual(['o-crashed', 'o-live']);
    const t0 = performance.now();
    const viaDocker = await gatherOrderers(inContainer, {
      timeoutMs: 10_000,
      fileSource: s.fileSource,
      logSource: s.logSource,
    });
    timings.gatherTwoOrderersMs = Math.round(performance.now() - t0);
    const host = await gatherOrderers(onHost, { timeoutMs: 10_000 });

    const strip = (t: string) => t.replaceAll(hostLedger, LEDGER);
    for (const orderer of ['o-live', 'o-crashed']) {
      for (const channel of channels) {
        const d = viaDocker.positions.find((p) => p.orderer === orderer && p.channel === channel)!;
        const h = host.positions.find((p) => p.channel === channel)!;
        expect(d.errors, `${orderer}/${channel}`).toEqual(h.errors);
        expect(d.bySource.ledger, `${orderer}/${channel}`).toEqual(h.bySource.ledger);
        expect(d.bySource.log?.lastOffsetPersisted).toBe(h.bySource.log?.lastOffsetPersisted);
        expect(d.lastOffsetPersisted).toBe(h.lastOffsetPersisted);
        expect(d.blockHeight).toBe(h.blockHeight);
        expect((d.notes ?? []).map(strip)).toEqual((h.notes ?? []).map(strip));
      }
    }
    const pub = viaDocker.positions.find((p) => p.orderer === 'o-live' && p.channel === 'pubchain')!;
    expect(pub).toMatchObject({
      source: 'ledger',
      lastOffsetPersisted: 20,
      expectedStartOffset: 21,
      blockHeight: 10,
    });
    expect(pub.bySource.log).toMatchObject({ lastOffsetPersisted: 20, blockHeight: 10 });
    // the torn tail: the last complete block counts, the torn bytes are noted with the container's path
    const torn = viaDocker.positions.find((p) => p.orderer === 'o-live' && p.channel === 'torn')!;
    expect(torn.bySource.ledger).toEqual({ lastOffsetPersisted: 106, blockHeight: 7 });
    expect(torn.notes?.join('\n')).toMatch(
      new RegExp(
        `ledger: \\d+ bytes at the end of ${LEDGER}/chains/torn/${blockfileName(1)} .*partial block`,
      ),
    );
    // the crashed orderer's last words are matched as a signature
    expect(viaDocker.logs.find((m) => m.origin === 'o-crashed' && m.channel === 'pubchain')).toBeTruthy();
    expect(viaDocker.logs.some((m) => m.origin === 'o-crashed' && /outside the range/.test(m.line))).toBe(
      true,
    );
  });

  it('a missing ledger directory is an error naming the container and the path', async () => {
    const c = cluster([
      { name: 'o-live', channels: ['pubchain'], ledgerDir: '/var/lib/nowhere', container: { name: running } },
    ]);
    const s = ordererDockerSources(c);
    const r = await gatherOrderers(c, {
      timeoutMs: 10_000,
      fileSource: s.fileSource,
      logSource: s.logSource,
    });
    const p = r.positions[0]!;
    expect(p.errors.find((e) => e.source === 'ledger')?.error).toBe(
      `cannot list /var/lib/nowhere/chains/pubchain (container ${running} on Docker endpoint "lab"): ` +
        `/var/lib/nowhere/chains/pubchain: no such directory in container ${running} on Docker endpoint "lab"`,
    );
    // the log still gives the position
    expect(p).toMatchObject({ source: 'log', lastOffsetPersisted: 20 });
  });

  it('ordererGatherer plugs the Docker sources in by itself for orderers with `container`', async () => {
    const c = cluster([
      { name: 'o-live', channels: ['pubchain'], ledgerDir: LEDGER, container: { name: running } },
      { name: 'o-missing', channels: ['pubchain'], ledgerDir: LEDGER, container: { name: `gone-${RUN}` } },
    ]);
    const snap = emptySnapshot();
    await ordererGatherer()({ config: c } as never, snap);
    const live = snap.orderers!.positions.find((p) => p.orderer === 'o-live')!;
    expect(live).toMatchObject({ source: 'ledger', lastOffsetPersisted: 20, blockHeight: 10 });
    expect(live.bySource.log?.lastOffsetPersisted).toBe(20);
    const missing = snap.orderers!.positions.find((p) => p.orderer === 'o-missing')!;
    expect(missing.source).toBeNull();
    expect(missing.errors.map((e) => e.error).join('\n')).toMatch(`no container named gone-${RUN}`);
    expect(snap.logs.some((m) => m.origin === 'o-live' && m.signature === 'orderer.deliver-rejected')).toBe(
      true,
    );

    // diagnose's setting: the container gatherer reports those signatures, the orderer gatherer does not
    const quiet = emptySnapshot();
    await ordererGatherer({ containerLogSignatures: false })({ config: c } as never, quiet);
    expect(quiet.orderers!.positions.find((p) => p.orderer === 'o-live')?.lastOffsetPersisted).toBe(20);
    expect(quiet.logs.filter((m) => m.origin === 'o-live')).toEqual([]);

    // without docker in the inventory nothing changes: the ledger inside a container cannot be read
    const noDocker = { ...c, docker: undefined } as ClusterConfig;
    const plain = emptySnapshot();
    await ordererGatherer()({ config: noDocker } as never, plain);
    expect(plain.orderers!.positions.find((p) => p.orderer === 'o-live')?.errors[0]?.error).toMatch(
      /no container file source is available/,
    );
  });
});
