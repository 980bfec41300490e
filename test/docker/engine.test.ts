/**
 * Against a real Docker Engine API (podman's, on a unix socket, started by test/helpers/podman.ts and torn
 * down after): containers are real processes on this host; every address used is on loopback.
 */
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerChecks } from '../../src/checks/containers.js';
import type { ClusterConfig } from '../../src/config/schema.js';
import {
  restartContainer,
  startContainer,
  stopContainer,
  waitForLogLine,
  waitUntil,
} from '../../src/docker/actions.js';
import type { DockerClient } from '../../src/docker/client.js';
import {
  gatherContainers,
  probeFromContainer,
  type GatherContainersOptions,
} from '../../src/docker/gather.js';
import { HOSTPROC_LABEL, ensureHostImage, importRootfs, runHostProcess } from '../../src/docker/hostproc.js';
import { signatureMatcher } from '../../src/docker/signatures.js';
import { tarArchive } from '../../src/docker/tar.js';
import { probeTcp } from '../../src/gather/reachability.js';
import type { ClusterSnapshot, ContainerObservation } from '../../src/model/index.js';
import { BUSYBOX_IMAGE, usePodman } from '../helpers/podman.js';

const LABEL = 'opsbot-test';
const CONTROLLER_LINE =
  "[2026-11-21 05:23:28,123] WARN [Controller-1-to-broker-2-send-thread]: Controller 1's connection to broker " +
  '127.0.0.1:1 (id: 2 rack: null) was unsuccessful (kafka.controller.RequestSendThread)';

let pod: Awaited<ReturnType<typeof usePodman>>;
let client: DockerClient;
let listener: Server;
let openPort: number;
let closedPort: number;
let dataDir: string;
const timings: Record<string, number> = {};

/** A busybox container running `script` under /bin/sh, host network, stoppable quickly (traps TERM). */
async function busybox(
  name: string,
  script: string,
  opts: {
    labels?: Record<string, string>;
    tty?: boolean;
    restart?: string;
    image?: string;
    cmd?: string[];
  } = {},
): Promise<string> {
  const c = await client.docker.createContainer({
    name,
    Image: opts.image ?? BUSYBOX_IMAGE,
    Entrypoint: opts.cmd ? [opts.cmd[0]!] : ['/bin/sh', '-c'],
    Cmd: opts.cmd ? opts.cmd.slice(1) : [`trap 'exit 0' TERM; ${script}`],
    Env: ['PATH=/bin'],
    Tty: opts.tty ?? false,
    Labels: { [LABEL]: 'engine', ...(opts.labels ?? {}) },
    HostConfig: { NetworkMode: 'host', RestartPolicy: { Name: opts.restart ?? 'no' } },
  });
  await c.start();
  return c.id;
}

const FOREVER = 'while true; do sleep 1; done';

function cluster(over: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    kafka: {
      brokers: ['127.0.0.1:1'],
      clientId: 'fabric-opsbot',
      connectTimeoutMs: 1000,
      requestTimeoutMs: 1000,
      containers: { '1': { name: 't-kafka1' } },
    },
    zookeeper: {
      connect: '127.0.0.1:2',
      sessionTimeoutMs: 1000,
      connectTimeoutMs: 500,
      containers: { '127.0.0.1:2': { label: 'opsbot-test.zk=1' } },
    },
    orderers: [{ name: 'orderer1.example.com', channels: ['pubchain'], container: { name: 't-orderer1' } }],
    docker: { endpoints: { lab: { socketPath: pod.socketPath, timeoutMs: 10_000 } } },
    checks: { everySeconds: 300, logWindowMinutes: 60 },
    repairs: { padMaxMessages: 10000, approvalTtlMinutes: 15, reassignThrottleBytes: 10_000_000 },
    ...over,
  };
}

function snapshotWith(
  containers: ContainerObservation[],
  extra: Partial<ClusterSnapshot> = {},
): ClusterSnapshot {
  return {
    cluster: 'lab',
    generatedAt: new Date().toISOString(),
    scope: {},
    sources: { docker: { ok: true } },
    expected: { bootstrap: [], brokerIds: [1, 2], zookeeper: [], channels: [] },
    zookeeper: null,
    kafka: null,
    reachability: [],
    orderers: null,
    containers,
    logs: [],
    ...extra,
  };
}

async function gather(c: ClusterConfig, opts: GatherContainersOptions = {}) {
  const t0 = performance.now();
  const g = await gatherContainers(c, opts);
  timings.lastGatherMs = Math.round(performance.now() - t0);
  return g;
}

beforeAll(async () => {
  const t0 = performance.now();
  pod = await usePodman();
  client = pod.client;
  timings.podmanUpMs = Math.round(performance.now() - t0);
  dataDir = mkdtempSync(join(tmpdir(), 'opsbot-hostproc-'));
  listener = createServer((s) => s.destroy());
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  openPort = (listener.address() as { port: number }).port;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));

  const t1 = performance.now();
  await Promise.all([
    busybox('t-kafka1', `echo 'INFO [KafkaServer id=1] started'; echo "${CONTROLLER_LINE}"; ${FOREVER}`, {
      restart: 'unless-stopped',
    }),
    busybox('t-zk1', FOREVER, { labels: { 'opsbot-test.zk': '1' } }),
    busybox(
      't-orderer1',
      `n=$(cat /tmp/boots 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/boots; ` +
        `echo "[channel: pubchain] Start phase completed successfully (boot $n)"; ${FOREVER}`,
    ),
  ]);
  timings.threeContainersMs = Math.round(performance.now() - t1);
}, 600_000);

afterAll(async () => {
  try {
    if (client) {
      for (const label of [`${LABEL}=engine`, `${HOSTPROC_LABEL}=true`]) {
        const list = await client.list({ label: [label] });
        await Promise.all(list.map((c) => client.docker.getContainer(c.Id).remove({ force: true, v: true })));
      }
    }
  } finally {
    listener?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    const t0 = performance.now();
    await pod?.release();
    timings.podmanDownMs = Math.round(performance.now() - t0);
    console.log('docker engine test timings (ms):', JSON.stringify(timings));
  }
}, 180_000);

describe('gatherContainers against podman', () => {
  it('sees running containers by name and by label, and matches a log signature with its time', async () => {
    const before = Date.now();
    const g = await gather(cluster());
    expect(g.status.ok).toBe(true);
    expect(g.containers.map((c) => [c.name, c.role, c.runs, c.found, c.state, c.running])).toEqual([
      ['t-kafka1', 'broker', 1, true, 'running', true],
      ['t-zk1', 'zookeeper', '127.0.0.1:2', true, 'running', true],
      ['t-orderer1', 'orderer', 'orderer1.example.com', true, 'running', true],
    ]);
    const k = g.containers[0]!;
    expect(k).toMatchObject({
      endpoint: 'lab',
      restartCount: 0,
      oomKilled: false,
      exitCode: 0,
      restartPolicy: 'unless-stopped',
    });
    expect(Date.parse(k.startedAt!)).toBeLessThanOrEqual(before + 1000);

    const m = g.logs.find((l) => l.signature === 'kafka.controller.broker-connection-failed');
    expect(m).toMatchObject({
      origin: 't-kafka1',
      container: 't-kafka1',
      severity: 'critical',
      count: 1,
      line: CONTROLLER_LINE,
    });
    // podman stamps whole seconds: the line's time is within a second or two of the container's start.
    expect(Math.abs(Date.parse(m!.at!) - Date.parse(k.startedAt!))).toBeLessThan(2000);
    expect(g.cursors['t-kafka1']).toBeDefined();

    // The check turns the controller's line into seed 001's finding, quoting line and time.
    const findings = containerChecks(snapshotWith(g.containers, { logs: g.logs }));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      code: 'BROKER_UNREACHABLE',
      subject: { broker: 2, container: 't-kafka1' },
    });
    expect(findings[0]!.summary).toContain(`last at ${m!.at}: "${CONTROLLER_LINE}"`);

    // Reading again from the cursor does not count the same line twice (once its second is safely over).
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(m!.at!) + 3100 - Date.now())));
    const again = await gather(cluster(), { since: g.cursors });
    const later = await gather(cluster(), { since: again.cursors });
    expect(later.logs.filter((l) => l.container === 't-kafka1')).toEqual([]);
  });

  it('applies a per-role matcher (orderer lines go to the orderer catalogue, origin = orderer name)', async () => {
    const ordererMatcher = signatureMatcher([
      {
        id: 'orderer.start-phase-completed',
        severity: 'info',
        pattern: /Start phase completed successfully/,
        meaning: 'up',
      },
    ]);
    const g = await gather(cluster(), { matchers: { orderer: ordererMatcher } });
    const m = g.logs.find((l) => l.signature === 'orderer.start-phase-completed');
    expect(m).toMatchObject({ origin: 'orderer1.example.com', container: 't-orderer1', count: 1 });
  });

  it('reports an unknown container and an ambiguous label clearly, without throwing', async () => {
    await busybox('t-zk1-twin', FOREVER, { labels: { 'opsbot-test.zk': '1' } });
    try {
      const g = await gather(
        cluster({
          kafka: { ...cluster().kafka, containers: { '9': { name: 't-nope' } } },
        }),
      );
      expect(g.status.ok).toBe(true);
      const [nope, zk] = g.containers;
      expect(nope).toMatchObject({ name: 't-nope', found: false });
      expect(nope!.error).toBe(
        `no container named t-nope on Docker endpoint "lab" (unix://${pod.socketPath})`,
      );
      expect(zk).toMatchObject({ name: 'label opsbot-test.zk=1', found: false });
      expect(zk!.error).toMatch(
        /^label opsbot-test\.zk=1 matches 2 containers on .* \(t-zk1, t-zk1-twin\); it must match exactly one$/,
      );
      expect(g.status.notChecked).toEqual(
        expect.arrayContaining([expect.stringMatching(/^broker 9: no container named t-nope/)]),
      );
      const findings = containerChecks(snapshotWith(g.containers));
      expect(findings.map((f) => [f.code, f.subject.container])).toEqual([
        ['SOURCE_UNAVAILABLE', 't-nope'],
        ['SOURCE_UNAVAILABLE', 'label opsbot-test.zk=1'],
      ]);
    } finally {
      await client.docker.getContainer('t-zk1-twin').remove({ force: true });
    }
  });

  it('reads the log of a TTY container (raw, not multiplexed)', async () => {
    await busybox('t-tty', `echo 'WARN zookeeper state changed (Expired)'; ${FOREVER}`, { tty: true });
    await waitForLogLine(client, 't-tty', /Expired/, Date.now() - 60_000, 5000);
    const g = await gather(
      cluster({ kafka: { ...cluster().kafka, containers: { '3': { name: 't-tty' } } }, orderers: [] }),
    );
    expect(g.logs.find((l) => l.container === 't-tty')).toMatchObject({
      signature: 'zookeeper.session-expired',
      line: 'WARN zookeeper state changed (Expired)',
    });
  });
});

describe('crashes, stops and restarts', () => {
  it('sees a container killed with kill -9 on its host PID restarted by the engine (RestartCount 1) -> CONTAINER_DOWN', async () => {
    const first = await gather(cluster(), { skipLogs: true });
    const before = first.containers[0]!;
    const pid = (await client.inspect('t-kafka1')).State.Pid;
    expect(pid).toBeGreaterThan(1);
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    const back = await waitUntil(
      async () => {
        const i = await client.inspect('t-kafka1');
        return i.RestartCount >= 1 && i.State.Running ? i : null;
      },
      { timeoutMs: 20_000, what: 't-kafka1 restarted by the engine' },
    );
    timings.killToRestartMs = Math.round(performance.now() - t0);
    expect(back.ok).toBe(true);
    expect(back.value!.State.Pid).not.toBe(pid);

    const g = await gather(cluster(), { skipLogs: true, previous: first.containers });
    const k = g.containers[0]!;
    expect(k).toMatchObject({ running: true, restartCount: 1, previousRestartCount: 0 });
    expect(before.restartCount).toBe(0);
    const [f] = containerChecks(snapshotWith(g.containers));
    expect(f).toMatchObject({
      code: 'CONTAINER_DOWN',
      severity: 'critical',
      subject: { container: 't-kafka1', broker: 1 },
    });
    expect(f!.summary).toMatch(
      /^Broker 1's container t-kafka1 restarted 1 time since the last check; it runs again since /,
    );
    // Without the previous count, the recent restart is still seen.
    const [f2] = containerChecks(snapshotWith(g.containers.map(({ previousRestartCount: _p, ...c }) => c)));
    expect(f2!.summary).toMatch(
      /^Broker 1's container t-kafka1 restarted \d+ s ago \(restart count 1\); it runs again$/,
    );
  });

  it('stops a container (CONTAINER_DOWN), starts it again, and says when nothing had to change', async () => {
    const stop = await stopContainer(client, 't-zk1', { graceSeconds: 5 });
    expect(stop).toMatchObject({
      action: 'stop',
      ok: true,
      changed: true,
      before: { running: true },
      after: { running: false },
    });
    timings.stopMs = stop.ms;
    const again = await stopContainer(client, 't-zk1', { graceSeconds: 5 });
    expect(again).toMatchObject({ ok: true, changed: false, detail: 't-zk1 was already stopped' });

    const g = await gather(cluster(), { skipLogs: true });
    const zk = g.containers.find((c) => c.name === 't-zk1')!;
    expect(zk).toMatchObject({ found: true, running: false, state: 'exited', exitCode: 0 });
    const [f] = containerChecks(snapshotWith([zk]));
    expect(f).toMatchObject({
      code: 'CONTAINER_DOWN',
      severity: 'critical',
      subject: { container: 't-zk1', zookeeper: '127.0.0.1:2' },
      repairs: [{ kind: 'start-container', args: { container: 't-zk1' } }],
    });
    expect(f!.summary).toMatch(
      /^ZooKeeper 127\.0\.0\.1:2's container t-zk1 is exited \(stopped \d+ s ago\)$/,
    );

    const start = await startContainer(client, 't-zk1');
    expect(start).toMatchObject({ action: 'start', ok: true, changed: true, after: { running: true } });
    expect((await startContainer(client, 't-zk1')).changed).toBe(false);
  });

  it('restarts a container through actions.ts and verifies it with waitForLogLine', async () => {
    // The first boot's line must be in an earlier second than `since` (podman stamps whole seconds).
    const started = Date.parse((await client.inspect('t-orderer1')).State.StartedAt);
    await new Promise((r) => setTimeout(r, Math.max(0, started + 1100 - Date.now())));
    const first = await waitForLogLine(
      client,
      't-orderer1',
      /Start phase completed successfully \(boot 1\)/,
      0,
      5000,
    );
    expect(first.ok).toBe(true);

    const since = new Date();
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (since.getTime() % 1000)))); // next whole second
    const r = await restartContainer(client, 't-orderer1', { graceSeconds: 5 });
    expect(r).toMatchObject({ action: 'restart', ok: true, changed: true, after: { running: true } });
    expect(r.after!.startedAt).not.toBe(r.before!.startedAt);
    expect(r.detail).toMatch(/^restarted t-orderer1: running pid \d+ -> running pid \d+, started /);
    timings.restartMs = r.ms;

    const seen = await waitForLogLine(
      client,
      't-orderer1',
      /Start phase completed successfully/,
      since,
      10_000,
    );
    expect(seen.ok).toBe(true);
    expect(seen.value!.text).toBe('[channel: pubchain] Start phase completed successfully (boot 2)');
    timings.restartVerifiedMs = seen.ms;

    const never = await waitForLogLine(client, 't-orderer1', /this line never comes/, since, 800);
    expect(never.ok).toBe(false);
    expect(never.detail).toMatch(/^t-orderer1 logged \/this line never comes\/: not seen within 0\.8 s$/);
  });

  it('reports an action on an unknown container as a failure, not a throw', async () => {
    const r = await restartContainer(client, 't-missing', { graceSeconds: 1 });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/inspect t-missing: HTTP 404/);
  });
});

describe('reachability from inside containers', () => {
  it('probes a loopback port that listens and one that does not, from a busybox container (nc)', async () => {
    const r = await probeFromContainer(
      client,
      't-zk1',
      [
        { brokerId: 1, endpoint: `PLAINTEXT://127.0.0.1:${openPort}` },
        { brokerId: 2, endpoint: `127.0.0.1:${closedPort}` },
        { brokerId: 3, endpoint: 'not an endpoint' },
      ],
      2000,
    );
    expect(r.notChecked).toBeUndefined();
    const by = Object.fromEntries(r.probes.map((p) => [p.brokerId, p]));
    expect(by[1]).toMatchObject({ ok: true, host: '127.0.0.1', port: openPort, from: 't-zk1' });
    expect(by[2]).toMatchObject({ ok: false, from: 't-zk1', error: 'Connection refused (nc)' });
    expect(by[3]).toMatchObject({ ok: false, error: 'endpoint does not parse' });
  });

  it('gathers probes from broker and orderer containers, and the check names who cannot reach whom', async () => {
    const g = await gather(cluster(), {
      skipLogs: true,
      probe: [
        { brokerId: 1, endpoint: `PLAINTEXT://127.0.0.1:${openPort}` },
        { brokerId: 2, endpoint: `PLAINTEXT://127.0.0.1:${closedPort}` },
      ],
    });
    timings.gatherWithProbesMs = timings.lastGatherMs!;
    // ZooKeeper containers do not probe by default; broker and orderer containers do.
    expect(g.probes.map((p) => [p.from, p.brokerId, p.ok]).sort()).toEqual([
      ['t-kafka1', 1, true],
      ['t-kafka1', 2, false],
      ['t-orderer1', 1, true],
      ['t-orderer1', 2, false],
    ]);
    // (t-kafka1 was killed and restarted above: its CONTAINER_DOWN is not what this test is about.)
    const findings = containerChecks(snapshotWith(g.containers, { reachability: g.probes })).filter(
      (f) => f.code === 'BROKER_UNREACHABLE',
    );
    expect(findings.map((f) => [f.code, f.subject])).toEqual([
      ['BROKER_UNREACHABLE', { broker: 2, container: 't-kafka1' }],
      ['BROKER_UNREACHABLE', { broker: 2, container: 't-orderer1' }],
    ]);
    expect(findings[0]!.summary).toBe(
      `Broker 1's container t-kafka1 cannot reach broker 2 at 127.0.0.1:${closedPort} (Connection refused (nc)): ` +
        'if broker 1 is or becomes the controller, it cannot send leader and ISR changes to broker 2',
    );
  });

  it('reports an exec that is not possible (no shell in the image; container not running) and goes on', async () => {
    // An image with nothing but busybox under another name: no /bin/sh to exec.
    const { readFileSync } = await import('node:fs');
    await importRootfs(
      client,
      tarArchive([
        { type: 'dir', path: 'bin' },
        { type: 'file', path: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
        { type: 'symlink', path: 'bin/sleep', target: 'busybox' },
      ]),
      'localhost/opsbot-noshell:latest',
    );
    await busybox('t-noshell', '', { image: 'localhost/opsbot-noshell:latest', cmd: ['/bin/sleep', '3600'] });
    await busybox('t-done', 'exit 3');
    await waitUntil(async () => !(await client.inspect('t-done')).State.Running, {
      timeoutMs: 5000,
      what: 't-done exited',
    });

    const g = await gather(
      cluster({
        kafka: {
          ...cluster().kafka,
          containers: { '1': { name: 't-kafka1' }, '5': { name: 't-noshell' }, '6': { name: 't-done' } },
        },
        orderers: [],
      }),
      { skipLogs: true, probe: [{ brokerId: 1, endpoint: `127.0.0.1:${openPort}` }] },
    );
    expect(g.status.ok).toBe(true);
    expect(g.probes.map((p) => [p.from, p.ok])).toEqual([['t-kafka1', true]]);
    const nc = g.status.notChecked ?? [];
    expect(nc).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^probes from t-noshell: exec not possible: /),
        'probes from t-done: the container is not running',
      ]),
    );
    const done = g.containers.find((c) => c.name === 't-done')!;
    expect(done).toMatchObject({ running: false, exitCode: 3 });
    expect(containerChecks(snapshotWith([done]))[0]!.summary).toMatch(
      /^Broker 6's container t-done is (exited|stopped) with exit code 3/,
    );
  });
});

describe('host programs as containers (hostproc)', () => {
  it('runs a host node script as a container: it logs, listens on loopback, is probed with bash, restarts after kill -9', async () => {
    const t0 = performance.now();
    const img = await ensureHostImage(client);
    timings.hostImageMs = Math.round(performance.now() - t0);
    expect(img.image).toBe('localhost/opsbot-hostproc:latest');

    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));

    const script =
      `const net = require('net');` +
      `net.createServer((s) => { s.on('error', () => {}); s.end('hi\\n'); }).listen(${port}, '127.0.0.1', () => ` +
      `console.log('INFO [KafkaServer id=7] started (kafka.server.KafkaServer) on ' + process.cwd()));` +
      `process.on('SIGTERM', () => process.exit(0));`;
    const t1 = performance.now();
    const hp = await runHostProcess(client, {
      name: 't-hostnode',
      command: ['/usr/bin/node', '-e', script],
      dataDir,
      labels: { 'opsbot-test': 'engine', 'opsbot-test.broker': '7' },
      replace: true,
      stopTimeoutSeconds: 2,
    });
    expect(hp.binds).toEqual(expect.arrayContaining(['/usr:/usr:ro', `${dataDir}:${dataDir}:rw`]));
    const line = await waitForLogLine(
      client,
      't-hostnode',
      /\[KafkaServer id=7\] started/,
      Date.now() - 60_000,
      15_000,
    );
    timings.hostProcessUpMs = Math.round(performance.now() - t1);
    expect(line.ok).toBe(true);
    expect(line.value!.text).toBe(`INFO [KafkaServer id=7] started (kafka.server.KafkaServer) on ${dataDir}`);
    expect((await probeTcp('127.0.0.1', port, 2000)).ok).toBe(true);

    const info = await client.inspect('t-hostnode');
    expect(info.HostConfig.NetworkMode).toBe('host');
    expect(info.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
    expect(info.Config.Labels).toMatchObject({ [HOSTPROC_LABEL]: 'true', 'opsbot-test.broker': '7' });

    // The host's bash is inside: probes use /dev/tcp.
    const r = await probeFromContainer(
      client,
      't-hostnode',
      [
        { brokerId: 7, endpoint: `127.0.0.1:${port}` },
        { brokerId: 8, endpoint: `127.0.0.1:${closedPort}` },
      ],
      2000,
    );
    expect(r.notChecked).toBeUndefined();
    expect(r.probes.map((p) => [p.brokerId, p.ok, p.error ?? null])).toEqual([
      [7, true, null],
      [8, false, 'Connection refused (bash)'],
    ]);

    // Found by its label; a crash (kill -9 of its PID) is restarted by the engine and counted.
    const c = cluster({
      kafka: { ...cluster().kafka, containers: { '7': { label: 'opsbot-test.broker=7' } } },
      zookeeper: { ...cluster().zookeeper, containers: {} },
      orderers: [],
    });
    const first = await gather(c, { skipLogs: true });
    expect(first.containers[0]).toMatchObject({ name: 't-hostnode', running: true, restartCount: 0 });
    process.kill(info.State.Pid, 'SIGKILL');
    const back = await waitUntil(
      async () => {
        const i = await client.inspect('t-hostnode');
        return i.RestartCount >= 1 && i.State.Running ? i : null;
      },
      { timeoutMs: 20_000, what: 't-hostnode restarted' },
    );
    expect(back.ok).toBe(true);
    const second = await gather(c, { skipLogs: true, previous: first.containers });
    expect(containerChecks(snapshotWith(second.containers))[0]).toMatchObject({
      code: 'CONTAINER_DOWN',
      subject: { container: 't-hostnode', broker: 7 },
    });
    const stop = await stopContainer(client, 't-hostnode', { graceSeconds: 2 });
    expect(stop.ok).toBe(true);
  });
});
