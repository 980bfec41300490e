/**
 * restart-container / start-container on a lab whose nodes run as containers (labUp containers: true: its own
 * podman engine, 1 ZooKeeper, 3 brokers, beside the run's shared lab): planned from a snapshot that includes
 * the Docker gatherer, executed with the real handlers through the RepairExecutor (Redis: the shared lab's),
 * waited for until the broker is registered again and back in the ISR, verified on a fresh snapshot.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadInventory } from '../../src/config/index.js';
import { stopContainer, waitUntil } from '../../src/docker/actions.js';
import { socketClient } from '../../src/docker/client.js';
import { getBrokerRegistration, labDown, labUp, repoRoot } from '../../src/lab/index.js';
import { engineSocket } from '../../src/lab/containers.js';
import { join } from 'node:path';
import { repairLab, type RepairLab } from './repair-lab.js';

const shared = inject('lab');
const workDir = `${shared?.workDir ?? join(repoRoot(), '.lab', 'test')}-repairs-containers`;
const ref = { workDir };
const runOffset = shared ? shared.options.basePorts.kafka - 19092 : 0;
// Away from the shared labs, test/docker's container lab (700) and kafka-1.0.2.lab.test.ts (10 000), and below
// Linux's ephemeral ports (32768+).
const d = 10_200 + runOffset;
const basePorts = {
  zookeeper: 12181 + d,
  zookeeperPeer: 12888 + d,
  zookeeperElection: 13888 + d,
  kafka: 19092 + d,
  redis: 16379 + d,
};
const timings: Record<string, number> = {};

describe.skipIf(!shared)('restart-container / start-container on a lab in containers', () => {
  let r: RepairLab;

  beforeAll(async () => {
    const t0 = performance.now();
    await labDown({ workDir, purge: true });
    const status = await labUp({
      workDir,
      zookeeperNodes: 1,
      brokers: 3,
      basePorts,
      redis: false,
      containers: true,
      kafkaVersion: shared!.kafkaVersion,
    });
    timings.labUpMs = Math.round(performance.now() - t0);
    r = repairLab(status.inventory, { redisUrl: loadInventory(shared!.inventory).redis.url, noProbes: true });
  }, 300_000);

  afterAll(async () => {
    await r?.close();
    await labDown({ workDir, purge: true });
    console.log('restart-container lab timings (ms):', JSON.stringify(timings));
  }, 180_000);

  it('restarts broker 2 by id: back in ZooKeeper and in the ISR, verified', async () => {
    const before = await getBrokerRegistration(ref, 2);
    const plan = await r.plan('restart-container', ['2']);
    expect(plan.refusal, JSON.stringify(plan.preconditions)).toBeNull();
    expect(plan.steps).toEqual([
      { action: 'restart-container', container: 'lab-kafka-2' },
      expect.objectContaining({
        action: 'wait',
        for: 'broker 2 registered in ZooKeeper again and back in the ISR of its partitions',
      }),
    ]);
    const { result, ms } = await r.run('restart-container', ['2'], plan);
    timings.restartBrokerMs = ms;
    expect(result.status, `${result.message} ${JSON.stringify(result.steps)}`).toBe('done');
    expect(result.steps[0]!.detail).toMatch(/^restarted lab-kafka-2: running pid \d+ -> running pid \d+/);
    expect(result.steps[1]!.detail).toMatch(
      /^broker 2 registered again and in the ISR of all its partitions after/,
    );
    expect(result.verification?.detail).toBe(
      'lab-kafka-2 runs; broker 2 registered and in the ISR of all its partitions',
    );
    expect((await getBrokerRegistration(ref, 2))?.timestamp).not.toBe(before?.timestamp);
  }, 180_000);

  it('start-container for a stopped broker; refusals: a running one, a standalone ZooKeeper, an unknown name', async () => {
    expect((await r.plan('start-container', ['3'])).refusal).toMatch(
      /lab-kafka-3 already runs: nothing to start/,
    );
    expect((await r.plan('restart-container', [`127.0.0.1:${basePorts.zookeeper}`])).refusal).toMatch(
      /quorum survives the restart - a standalone ZooKeeper: restarting it stops Kafka/,
    );
    expect((await r.plan('restart-container', ['postgres'])).refusal).toMatch(
      /postgres is not a container of cluster lab's inventory/,
    );

    const client = socketClient(engineSocket(workDir), 30_000, 'lab');
    expect((await stopContainer(client, 'lab-kafka-3', { graceSeconds: 30 })).ok).toBe(true);
    await waitUntil(async () => (await getBrokerRegistration(ref, 3)) === null, {
      timeoutMs: 30_000,
      what: 'broker 3 gone',
    });
    const plan = await r.plan('start-container', ['3']);
    expect(plan.refusal, JSON.stringify(plan.preconditions)).toBeNull();
    const { result, ms } = await r.run('start-container', ['3'], plan);
    timings.startBrokerMs = ms;
    expect(result.status, `${result.message} ${JSON.stringify(result.steps)}`).toBe('done');
    expect(result.steps[0]!.detail).toMatch(/^started lab-kafka-3/);
    expect(result.verification?.ok).toBe(true);
  }, 180_000);
});
