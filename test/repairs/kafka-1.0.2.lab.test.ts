/**
 * The repairs on Fabric's own Kafka, 1.0.2 (ZooKeeper 3.4), in a lab of its own beside the run's shared lab:
 * no AlterPartitionReassignments there, so reassignments go through /admin/reassign_partitions, which the
 * plan also sees (a running one refuses the plan); throttles through ZooKeeper config; the preferred election
 * through /admin/preferred_replica_election; topic configs through AlterConfigs (Kafka 0.11+). The executor's
 * Redis is the shared lab's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/context.js';
import { loadInventory } from '../../src/config/index.js';
import {
  createTopic,
  getHighWatermark,
  getPartitionState,
  healLab,
  killBroker,
  labDown,
  labUp,
  waitFor,
} from '../../src/lab/index.js';
import type { RepairPlan, Report } from '../../src/model/index.js';
import { removeThrottle } from '../../src/repairs/actions/reassign.js';
import { ZkSession } from '../../src/zookeeper/session.js';
import { kafkaFor, labPorts, produceOnePerBatch, sharedLab, uniqueTopic } from '../lab/helpers.js';
import { repairLab, throttlesLeft, type RepairLab } from './repair-lab.js';

const shared = sharedLab();
const offset = labPorts(shared).offset;

describe.skipIf(shared.kafkaVersion === '1.0.2')('repairs on Kafka 1.0.2 (Fabric 1.4)', () => {
  const workDir = `${shared.workDir}-repairs-1.0.2`;
  const ref = { workDir };
  // Away from the shared labs (offsets up to ~2000) and below Linux's ephemeral ports (32768+), where an outgoing
  // connection can hold the port a node wants to bind (seen: ZooKeeper "Address already in use").
  const d = 10_000 + offset;
  const basePorts = {
    zookeeper: 12181 + d,
    zookeeperPeer: 12888 + d,
    zookeeperElection: 13888 + d,
    kafka: 19092 + d,
    redis: 16379 + d,
  };
  let r: RepairLab;
  let inventory: string;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    const t0 = performance.now();
    const status = await labUp({ workDir, kafkaVersion: '1.0.2', basePorts, redis: false });
    timings.labUpMs = Math.round(performance.now() - t0);
    inventory = status.inventory;
    r = repairLab(inventory, { redisUrl: loadInventory(shared.inventory).redis.url });
  }, 180_000);
  afterAll(async () => {
    await r?.close();
    await labDown({ workDir, purge: true });
    console.log('repairs on 1.0.2 timings (ms):', JSON.stringify(timings));
  }, 120_000);

  it('drain-broker through /admin/reassign_partitions; then killing the broker takes nothing offline', async () => {
    const rf1 = uniqueTopic('d102-rf1');
    const rf3 = uniqueTopic('d102-rf3');
    // Kafka 1.0 rejects acks=all writes to an RF=1 topic under the lab's default min.insync.replicas=2.
    await createTopic(ref, { name: rf1, replicaAssignment: [[2]], configs: { 'min.insync.replicas': 1 } });
    await createTopic(ref, {
      name: rf3,
      replicaAssignment: [[2, 1, 3]],
      configs: { 'min.insync.replicas': 2 },
    });
    await produceOnePerBatch(workDir, rf1, 12);
    const plan = await r.plan('drain-broker', ['2']);
    expect(plan.refusal, JSON.stringify(plan.preconditions)).toBeNull();
    expect(plan.preconditions.find((p) => p.check === 'reassignment path')?.detail).toMatch(
      /^ZooKeeper \/admin\/reassign_partitions/,
    );
    const { result, ms } = await r.run('drain-broker', ['2'], plan);
    timings.drainMs = ms;
    expect(result.status, `${result.message} ${JSON.stringify(result.steps)}`).toBe('done');
    expect(result.steps[0]!.detail).toMatch(/through ZooKeeper \/admin\/reassign_partitions, throttled at/);
    expect(result.steps[1]!.detail).toMatch(/throttle removed/);
    expect(await throttlesLeft(r, [rf1, rf3, 'pubchain', 'testchainid'])).toEqual([]);
    expect(await getHighWatermark(ref, rf1, 0)).toBe(12);

    await killBroker(ref, 2, { waitUnregistered: true });
    try {
      let out = '';
      const io: CliIo = {
        out: (s) => (out += s),
        err: () => undefined,
        env: {},
        cwd: process.cwd(),
        isTTY: false,
      };
      await main(['diagnose', '--json', '--config', inventory], io);
      const report = JSON.parse(out) as Report;
      expect(report.findings.filter((f) => f.code === 'PARTITION_OFFLINE')).toEqual([]);
      expect((await getPartitionState(ref, rf1, 0))?.leader).not.toBe(-1);
    } finally {
      await healLab(ref);
    }
  }, 180_000);

  it('a reassignment running in ZooKeeper refuses the plan; once unthrottled, the step resumes and completes', async () => {
    const slow = uniqueTopic('d102-slow');
    await createTopic(ref, { name: slow, replicaAssignment: [[4]], configs: { 'min.insync.replicas': 1 } });
    const producer = kafkaFor(workDir).producer();
    await producer.connect();
    const value = Buffer.alloc(1_000_000, 'x');
    for (let i = 0; i < 16; i++) await producer.send({ topic: slow, acks: -1, messages: [{ value }] });
    await producer.disconnect();
    const move: RepairPlan = {
      kind: 'test-slow',
      cluster: 'lab',
      args: {},
      preconditions: [],
      steps: [
        {
          action: 'reassign-partitions',
          partitions: [{ topic: slow, partition: 0, replicas: [1] }],
          throttleBytes: 3000,
        },
      ],
      expected: {},
      refusal: null,
    };
    expect((await r.execute(move)).status).toBe('done');
    expect(await r.zkJson('/admin/reassign_partitions')).toMatchObject({
      partitions: [{ topic: slow, partition: 0, replicas: [1] }],
    });

    const refused = await r.plan('drain-broker', ['3']);
    expect(refused.refusal).toMatch(
      new RegExp(
        `no reassignment running - /admin/reassign_partitions lists 1 partition\\(s\\) \\(${slow}/0\\)`,
      ),
    );
    expect(refused.steps).toEqual([]);

    const zk = await ZkSession.open(r.zkConnect, { connectTimeoutMs: 5000, sessionTimeoutMs: 10_000 });
    try {
      await removeThrottle(zk, [{ topic: slow, partition: 0, replicas: [1] }], 3000);
    } finally {
      zk.close();
    }
    const t0 = performance.now();
    const finish = await r.execute({
      ...move,
      steps: [...move.steps, { action: 'wait', for: 'slow', timeoutMs: 90_000 }],
    });
    timings.unthrottledMoveMs = Math.round(performance.now() - t0);
    expect(finish.status, finish.message).toBe('done');
    // Unthrottled, the move may finish before the step runs again: either way nothing is submitted twice.
    expect(finish.steps[0]!.detail).toMatch(
      /\(1 already in progress\)|all 1 partition\(s\) already have their target replicas: nothing submitted/,
    );
    expect(await r.zkJson('/admin/reassign_partitions')).toBeNull();
    expect((await getPartitionState(ref, slow, 0))?.isr).toEqual([1]);
  }, 180_000);

  it('preferred-leader-election and set-topic-config', async () => {
    const topic = uniqueTopic('d102-cfg');
    await createTopic(ref, {
      name: topic,
      replicaAssignment: [[1, 2, 3]],
      configs: { 'min.insync.replicas': 2, 'retention.ms': 3_600_000 },
    });
    const reorder: RepairPlan = {
      kind: 'test-reorder',
      cluster: 'lab',
      args: {},
      preconditions: [],
      steps: [
        { action: 'reassign-partitions', partitions: [{ topic, partition: 0, replicas: [2, 3, 1] }] },
        { action: 'wait', for: 'reorder', timeoutMs: 30_000 },
      ],
      expected: {},
      refusal: null,
    };
    expect((await r.execute(reorder)).status).toBe('done');
    await waitFor(async () => (await getPartitionState(ref, topic, 0))?.leader === 1, {
      timeoutMs: 10_000,
      what: 'leader 1',
    });
    const ple = await r.run('preferred-leader-election', [topic]);
    expect(ple.result.status, ple.result.message).toBe('done');
    expect((await getPartitionState(ref, topic, 0))?.leader).toBe(2);
    timings.electionMs = ple.ms;

    const cfg = await r.run('set-topic-config', [topic, 'retention.ms', '-1']);
    expect(cfg.result.status, `${cfg.result.message} ${JSON.stringify(cfg.result.steps)}`).toBe('done');
    expect(cfg.result.steps[0]!.detail).toMatch(/through AlterConfigs \(API 33\)/);
    expect((await r.zkJson<{ config: Record<string, string> }>(`/config/topics/${topic}`))?.config).toEqual({
      'min.insync.replicas': '2',
      'retention.ms': '-1',
    });
    timings.setTopicConfigMs = cfg.ms;
  }, 120_000);
});
