/**
 * The lab in containers (issue 6): a second, small lab (1 ZooKeeper, 2 brokers, its own work folder, ports
 * shifted by 700) whose nodes run as containers on a podman engine the lab starts itself. The tool then sees
 * them through the Docker API exactly as in production: diagnose reads their state and logs, a broker killed
 * with kill -9 is restarted by the engine and reported, a controller's log line is matched, and a restart through
 * src/docker/actions.ts is verified against ZooKeeper. Everything on 127.0.0.1; labDown leaves no process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { loadInventory, selectCluster, type Inventory } from '../../src/config/index.js';
import { restartContainer, waitForLogLine, waitUntil } from '../../src/docker/actions.js';
import { socketClient, type DockerClient } from '../../src/docker/client.js';
import { dockerGatherer } from '../../src/docker/snapshot.js';
import { afterZookeeper } from '../../src/gather/index.js';
import {
  getBrokerRegistration,
  getControllerId,
  getPartitionState,
  healLab,
  killBroker,
  labDown,
  labStatus,
  labUp,
  repoRoot,
  restartBrokerWithAdvertisedListener,
  restoreAdvertisedListener,
  type LabStatus,
} from '../../src/lab/index.js';
import { engineBase, engineSocket, labConmonProcesses } from '../../src/lab/containers.js';
import { cmdline } from '../../src/lab/proc.js';
import { diagnose } from '../../src/ops/diagnose.js';

const shared = inject('lab');
// Beside the run's shared lab (each test run has its own), or beside the default one without it.
const workDir = `${shared?.workDir ?? join(repoRoot(), '.lab', 'test')}-containers`;
const ref = { workDir };
const runOffset = shared ? shared.options.basePorts.kafka - 19092 : 0;
const d = 700 + runOffset;
const basePorts = {
  zookeeper: 12181 + d,
  zookeeperPeer: 12888 + d,
  zookeeperElection: 13888 + d,
  kafka: 19092 + d,
  redis: 16379 + d,
};
const timings: Record<string, number> = {};

let status: LabStatus;
let client: DockerClient;
let inventory: Inventory;
let upAt = 0;

const since = (t0: number) => Math.round(performance.now() - t0);

/** diagnose on the container lab; container logs read from `logsSince` on (only what the fault wrote). */
async function diagnoseLab(logsSince?: number) {
  const cluster = selectCluster(inventory, undefined);
  return diagnose({
    inventory,
    cluster,
    env: {},
    ...(logsSince !== undefined
      ? {
          extraGatherers: [afterZookeeper(dockerGatherer({ defaultSince: logsSince }))],
        }
      : {}),
  });
}

async function inIsr(id: number, topic = 'pubchain'): Promise<boolean> {
  return (await getPartitionState(ref, topic, 0))?.isr.includes(id) ?? false;
}

describe('the lab in containers', () => {
  beforeAll(async () => {
    const t0 = performance.now();
    await labDown({ workDir, purge: true }); // a previous run's leftovers, if any
    status = await labUp({
      workDir,
      zookeeperNodes: 1,
      brokers: 2,
      basePorts,
      redis: false,
      containers: true,
      kafkaVersion: shared?.kafkaVersion ?? '3.9.2',
    });
    timings.labUpMs = since(t0);
    upAt = Date.now() + 1000; // container log lines from the second after labUp on
    client = socketClient(engineSocket(workDir), 30_000, 'lab');
    inventory = loadInventory(status.inventory);
  }, 300_000);

  afterAll(async () => {
    const t0 = performance.now();
    await labDown({ workDir, purge: true });
    timings.labDownMs = since(t0);
    console.log('[lab-containers] timings (ms):', JSON.stringify(timings));
    // Nothing left: no container engine, no conmon, no JVM of this lab.
    expect(labConmonProcesses(workDir)).toEqual([]);
    expect(existsSync(engineBase(workDir))).toBe(false);
    const jvms = (await import('node:fs'))
      .readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .filter((e) => cmdline(Number(e)).includes(`${workDir}/`));
    expect(jvms).toEqual([]);
  }, 180_000);

  it('runs each node as a container (host network, unless-stopped) whose State.Pid is the lab pid', async () => {
    expect(status.running).toBe(true);
    const inv = parse(readFileSync(status.inventory, 'utf8')) as {
      clusters: { lab: Record<string, Record<string, unknown>> };
    };
    const lab = inv.clusters.lab;
    expect(lab['docker']).toEqual({ endpoints: { lab: { socketPath: engineSocket(workDir) } } });
    expect(lab['kafka']!['containers']).toEqual({
      '1': { name: 'lab-kafka-1' },
      '2': { name: 'lab-kafka-2' },
    });
    expect(lab['zookeeper']!['containers']).toEqual({
      [`127.0.0.1:${basePorts.zookeeper}`]: { name: 'lab-zookeeper-1' },
    });
    const nodes = [
      { name: 'lab-zookeeper-1', pid: status.zookeeper[0]!.pid },
      ...status.brokers.map((b) => ({ name: `lab-kafka-${b.id}`, pid: b.pid })),
    ];
    for (const n of nodes) {
      const i = await client.inspect(n.name);
      expect(i.State.Running, n.name).toBe(true);
      expect(i.State.Pid, n.name).toBe(n.pid);
      expect(i.HostConfig.NetworkMode).toBe('host');
      expect(i.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
      expect(i.RestartCount).toBe(0);
      expect(cmdline(i.State.Pid)).toMatch(/\/java .*(QuorumPeerMain|kafka\.Kafka) /);
    }
  });

  it('diagnose sees the containers: all running, read through the lab engine, probes from the brokers', async () => {
    const t0 = performance.now();
    // (log lines from after labUp: while the brokers start, the controller fails to reach the ones not yet
    // listening, which the container checks would report)
    const r = await diagnoseLab(upAt);
    timings.diagnoseMs = since(t0);
    expect(r.snapshot.sources.docker).toMatchObject({ ok: true });
    expect(
      (r.snapshot.containers ?? []).map((c) => [c.name, c.role, c.runs, c.found, c.running, c.restartPolicy]),
    ).toEqual([
      ['lab-kafka-1', 'broker', 1, true, true, 'unless-stopped'],
      ['lab-kafka-2', 'broker', 2, true, true, 'unless-stopped'],
      ['lab-zookeeper-1', 'zookeeper', `127.0.0.1:${basePorts.zookeeper}`, true, true, 'unless-stopped'],
    ]);
    const fromContainers = r.snapshot.reachability.filter((p) => p.from.startsWith('lab-kafka-'));
    expect(fromContainers.length).toBe(4); // each broker container reaches both brokers
    expect(fromContainers.every((p) => p.ok)).toBe(true);
    expect(
      r.findings.filter((f) =>
        ['CONTAINER_DOWN', 'SOURCE_UNAVAILABLE', 'BROKER_UNREACHABLE'].includes(f.code),
      ),
    ).toEqual([]);
  });

  it('kill -9 of a broker container process: the engine restarts it, diagnose reports the restart, ZooKeeper expired the session', async () => {
    const t0 = performance.now();
    const before = await client.inspect('lab-kafka-2');
    const registered = await getBrokerRegistration(ref, 2);
    const killed = await killBroker(ref, 2);
    timings.killToRestartMs = since(t0);
    expect(killed).toBe(before.State.Pid);
    const after = await client.inspect('lab-kafka-2');
    expect(after.RestartCount).toBe(1);
    expect(after.State.Pid).not.toBe(before.State.Pid);
    // the lab tracks the new process (lab.json and labStatus)
    expect(labStatus(ref).brokers.find((b) => b.id === 2)).toMatchObject({
      pid: after.State.Pid,
      running: true,
    });
    // the restarted broker waits out its old ZooKeeper session, then registers and catches up
    const back = await waitUntil(
      async () => {
        // a new registration (the killed broker's stays until its session expires), then the ISR
        const reg = await getBrokerRegistration(ref, 2);
        return reg !== null && reg.timestamp !== registered?.timestamp && (await inIsr(2));
      },
      {
        timeoutMs: 90_000,
        intervalMs: 250,
        what: 'broker 2 registered again and back in the ISR of pubchain/0',
      },
    );
    expect(back.ok, back.detail).toBe(true);
    timings.killToIsrMs = since(t0);
    expect((await client.inspect('lab-kafka-2')).RestartCount).toBe(1); // one restart sufficed

    const r = await diagnoseLab(Date.now() - since(t0) - 2000);
    const down = r.findings.find((f) => f.code === 'CONTAINER_DOWN' && f.subject.container === 'lab-kafka-2');
    expect(down?.summary).toMatch(
      /^Broker 2's container lab-kafka-2 restarted \d+ s ago \(restart count 1\); it runs again/,
    );
    expect(down?.evidence).toMatchObject({ restartCount: 1, running: true, restartPolicy: 'unless-stopped' });
    // a log signature written by a container: ZooKeeper expired the killed broker's session
    const expiry = r.snapshot.logs.find((m) => m.signature === 'zookeeper.session-expired');
    expect(expiry).toMatchObject({ container: 'lab-zookeeper-1' });
    expect(expiry?.line).toMatch(/Expiring session 0x[0-9a-f]+, timeout of 6000ms exceeded/);
    expect(
      (await client.logs('lab-kafka-2')).some((l) =>
        /lab: the broker did not shut down cleanly/.test(l.text),
      ),
    ).toBe(true);
    await healLab(ref);
  }, 180_000);

  it("an unreachable advertised listener: the controller's log line is read from its container and matched", async () => {
    const t0 = performance.now();
    const startMs = Date.now();
    const target = await restartBrokerWithAdvertisedListener(ref, 2);
    expect(target).toBe(`PLAINTEXT://127.0.0.1:${basePorts.kafka + 1 + 1000}`);
    try {
      let last: Awaited<ReturnType<typeof diagnoseLab>> | undefined;
      const seen = await waitUntil(
        async () => {
          last = await diagnoseLab(startMs - 1000);
          return (
            last.snapshot.logs.find((m) => m.signature === 'kafka.controller.broker-connection-failed') ??
            null
          );
        },
        {
          timeoutMs: 60_000,
          intervalMs: 1000,
          what: "the controller's connection failure in a container log",
        },
      );
      expect(seen.ok, seen.detail).toBe(true);
      timings.listenerFaultToSignatureMs = since(t0);
      const controller = await getControllerId(ref);
      expect(seen.value).toMatchObject({ container: `lab-kafka-${controller}` });
      expect(seen.value!.line).toMatch(
        new RegExp(
          `Controller ${controller}'s connection to broker 127\\.0\\.0\\.1:${basePorts.kafka + 1001} \\(id: 2 rack: null\\) was unsuccessful`,
        ),
      );
      const unreachable = last!.findings.filter(
        (f) => f.code === 'BROKER_UNREACHABLE' && f.subject.broker === 2,
      );
      expect(unreachable.length).toBeGreaterThan(0);
    } finally {
      await restoreAdvertisedListener(ref, 2);
    }
    expect(
      await waitUntil(() => inIsr(2), { timeoutMs: 60_000, what: 'broker 2 back in ISR' }),
    ).toMatchObject({ ok: true });
  }, 180_000);

  it('a restart through src/docker/actions.ts is verified: the broker registers again and rejoins the ISR', async () => {
    const before = await getBrokerRegistration(ref, 2);
    const sinceMs = Date.now();
    const t0 = performance.now();
    const r = await restartContainer(client, 'lab-kafka-2', { graceSeconds: 30 });
    timings.apiRestartMs = r.ms;
    expect(r.ok, r.detail).toBe(true);
    expect(r.after?.pid).not.toBe(r.before?.pid);
    expect(r.after?.restartCount).toBe(r.before?.restartCount); // a restart asked for is not a crash
    const started = await waitForLogLine(
      client,
      'lab-kafka-2',
      /started \(kafka\.server\.KafkaServer\)/,
      sinceMs,
      60_000,
    );
    expect(started.ok, started.detail).toBe(true);
    const verified = await waitUntil(
      async () => {
        const reg = await getBrokerRegistration(ref, 2);
        return reg !== null && reg.timestamp !== before?.timestamp && (await inIsr(2)) ? reg : null;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: 'broker 2 registered again and back in the ISR of pubchain/0',
      },
    );
    expect(verified.ok, verified.detail).toBe(true);
    timings.apiRestartToIsrMs = since(t0);
    // the lab follows the engine's new pid (labStatus reads it from /proc; faults from the engine)
    const pid = (await client.inspect('lab-kafka-2')).State.Pid;
    expect(labStatus(ref).brokers.find((b) => b.id === 2)).toMatchObject({ pid, running: true });
  }, 180_000);
});
