/**
 * drain-broker on the shared lab (Kafka 3.9 unless the run chose another version): seed 002 prevented. An RF=1
 * topic and an RF=3 topic have replicas on broker 2; the plan moves them all off it, the executor runs it with
 * the real handlers (Admin API reassignment on 2.4+, throttled, the throttle removed at the end), the
 * verification agrees, and then killing broker 2 takes no partition offline.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/context.js';
import { whatIfStopBroker } from '../../src/checks/whatif.js';
import {
  createTopic,
  deleteTopic,
  getHighWatermark,
  getPartitionState,
  healLab,
  killBroker,
  waitFor,
} from '../../src/lab/index.js';
import type { RepairPlan, Report } from '../../src/model/index.js';
import { removeThrottle } from '../../src/repairs/actions/reassign.js';
import { ZkSession } from '../../src/zookeeper/session.js';
import { ConfigResourceTypes } from 'kafkajs';
import { repairLab, throttlesLeft, type RepairLab } from './repair-lab.js';
import { kafkaFor, produceOnePerBatch, uniqueTopic } from '../lab/helpers.js';

const lab = inject('lab');
const ref = () => ({ workDir: lab!.workDir });

async function diagnoseJson(): Promise<{ code: number; report: Report }> {
  let out = '';
  const io: CliIo = {
    out: (s) => (out += s),
    err: () => undefined,
    env: {},
    cwd: process.cwd(),
    isTTY: false,
  };
  const code = await main(['diagnose', '--json', '--config', lab!.inventory], io);
  return { code, report: JSON.parse(out) as Report };
}

describe.skipIf(!lab)('drain-broker on the lab', () => {
  let r: RepairLab;
  const rf1 = uniqueTopic('drain-rf1');
  const rf3 = uniqueTopic('drain-rf3');
  const slow = uniqueTopic('drain-slow');
  /** Assignments before, to put the lab's other topics back afterwards. */
  let original: Map<string, number[]>;

  beforeAll(async () => {
    await healLab(ref());
    r = repairLab(lab!.inventory);
    await createTopic(ref(), { name: rf1, replicaAssignment: [[2]] });
    await createTopic(ref(), {
      name: rf3,
      replicaAssignment: [
        [2, 1, 3],
        [1, 2, 4],
      ],
      configs: { 'min.insync.replicas': 2 },
    });
    await produceOnePerBatch(lab!.workDir, rf1, 20);
    await produceOnePerBatch(lab!.workDir, rf3, 10, 0);
    original = new Map(
      (await r.snapshot()).zookeeper!.partitions.map((p) => [`${p.topic}/${p.partition}`, p.replicas]),
    );
  });

  afterAll(async () => {
    try {
      await healLab(ref());
      // Put the other topics (the channels...) back where they were, with the same handlers.
      const now = (await r.snapshot()).zookeeper!.partitions;
      const back = now
        .filter((p) => p.topic !== rf1 && p.topic !== rf3 && p.topic !== slow)
        .filter((p) => original.get(`${p.topic}/${p.partition}`)?.join(',') !== p.replicas.join(','))
        .map((p) => ({
          topic: p.topic,
          partition: p.partition,
          replicas: original.get(`${p.topic}/${p.partition}`)!,
        }));
      if (back.length > 0) {
        const plan = {
          kind: 'restore',
          cluster: 'lab',
          args: {},
          preconditions: [],
          steps: [
            { action: 'reassign-partitions' as const, partitions: back },
            { action: 'wait' as const, for: 'the restore', timeoutMs: 120_000 },
            {
              action: 'preferred-leader-election' as const,
              partitions: back.map(({ topic, partition }) => ({ topic, partition })),
              optional: true,
            },
          ],
          expected: {},
          refusal: null,
        };
        const res = await r.execute(plan);
        expect(res.status, res.message).toBe('done');
      }
      for (const t of [rf1, rf3, slow]) await deleteTopic(ref(), t).catch(() => undefined);
    } finally {
      await r?.close();
    }
  }, 300_000);

  it('plans, runs and verifies the drain; killing broker 2 afterwards takes nothing offline (seed 002)', async () => {
    const before = await r.snapshot();
    expect(whatIfStopBroker(before, 2).safe).toBe(false);
    const hw = await getHighWatermark(ref(), rf1, 0);

    const t0 = performance.now();
    const plan = await r.plan('drain-broker', ['2']);
    const planMs = Math.round(performance.now() - t0);
    expect(plan.refusal, JSON.stringify(plan.preconditions)).toBeNull();
    const step = plan.steps[0]!;
    if (step.action !== 'reassign-partitions') throw new Error('first step');
    expect(step.throttleBytes).toBe(r.config.repairs.reassignThrottleBytes);
    const mine = step.partitions.filter((p) => p.topic === rf1 || p.topic === rf3);
    expect(mine.map((p) => `${p.topic}/${p.partition}`).sort()).toEqual(
      [`${rf1}/0`, `${rf3}/0`, `${rf3}/1`].sort(),
    );
    for (const p of step.partitions) expect(p.replicas).not.toContain(2);
    expect(mine.find((p) => p.topic === rf1)!.replicas).toHaveLength(1);
    expect(mine.find((p) => p.topic === rf3 && p.partition === 0)!.replicas.slice(0, 2)).toEqual([1, 3]);
    expect(plan.preconditions.find((p) => p.check === 'reassignment path')?.detail).toMatch(
      lab!.kafkaVersion.startsWith('1.') ? /ZooKeeper/ : /Admin API/,
    );

    const { result, ms } = await r.run('drain-broker', ['2'], plan);
    expect(result.status, `${result.message} ${JSON.stringify(result.steps)}`).toBe('done');
    expect(result.verification?.detail).toMatch(/broker 2 holds no replica; Stopping broker 2 is safe/);
    expect(result.steps.map((s) => s.status)).toEqual(['done', 'done', 'done']);
    expect(result.steps[1]!.detail).toMatch(/throttle removed/);
    console.log(
      `drain-broker on Kafka ${lab!.kafkaVersion}: plan ${planMs} ms, execute+verify ${ms} ms;`,
      result.steps.map((s) => s.detail).join(' | '),
    );

    expect(await throttlesLeft(r, [rf1, rf3, ...new Set(step.partitions.map((p) => p.topic))])).toEqual([]);
    expect(await r.zkJson('/admin/reassign_partitions')).toBeNull();
    expect(await getHighWatermark(ref(), rf1, 0)).toBe(hw);

    await killBroker(ref(), 2, { waitUnregistered: true });
    const { report } = await diagnoseJson();
    expect(report.findings.filter((f) => f.code === 'PARTITION_OFFLINE')).toEqual([]);
    for (const t of [rf1, rf3]) {
      const st = await getPartitionState(ref(), t, 0);
      expect(st?.leader).toBeGreaterThan(0);
    }
  }, 240_000);

  it('a throttled reassignment in progress: the broker applies the throttle; another repair that reassigns is refused at execution; the first one resumes and completes', async () => {
    // 16 MB on broker 4, moved to broker 1 at 3000 B/s: the follower's first fetch takes at most
    // replica.fetch.response.max.bytes (10 MB), then the quota holds it back for a long time.
    await createTopic(ref(), { name: slow, replicaAssignment: [[4]] });
    const producer = kafkaFor(lab!.workDir).producer();
    await producer.connect();
    const value = Buffer.alloc(1_000_000, 'x');
    for (let i = 0; i < 16; i++) await producer.send({ topic: slow, acks: -1, messages: [{ value }] });
    await producer.disconnect();
    const reassignSlow: RepairPlan = {
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
    const submitted = await r.execute(reassignSlow);
    expect(submitted.status, submitted.message).toBe('done');

    // The broker applied the rate written in ZooKeeper (dynamic broker config), and the topic lists the replicas.
    const admin = kafkaFor(lab!.workDir).admin();
    await admin.connect();
    try {
      // The broker picks the rate up from a ZooKeeper change notification, a moment after the write.
      const rate = await waitFor(
        async () => {
          const d = await admin.describeConfigs({
            includeSynonyms: false,
            resources: [
              {
                type: ConfigResourceTypes.BROKER,
                name: '1',
                configNames: ['follower.replication.throttled.rate'],
              },
            ],
          });
          const v = d.resources[0]?.configEntries.find(
            (e) => e.configName === 'follower.replication.throttled.rate',
          )?.configValue;
          return v === '3000' ? v : undefined;
        },
        {
          timeoutMs: 15_000,
          intervalMs: 200,
          what: 'broker 1 to apply follower.replication.throttled.rate=3000',
        },
      );
      expect(rate).toBe('3000');
      const t = await r.zkJson<{ config: Record<string, string> }>(`/config/topics/${slow}`);
      expect(t?.config).toMatchObject({
        'leader.replication.throttled.replicas': '0:4',
        'follower.replication.throttled.replicas': '0:1',
      });
      const inProgress = await admin.listPartitionReassignments({});
      // kafkajs decodes `name` (its typings say `topic`).
      expect(inProgress.topics.map((x) => (x as unknown as { name: string }).name)).toContain(slow);
    } finally {
      await admin.disconnect();
    }

    // Another repair that reassigns: its plan cannot see an Admin API reassignment, its execution does.
    await createTopic(ref(), { name: `${slow}-b`, replicaAssignment: [[3, 4]] });
    try {
      const { result } = await r.run('raise-replication', [`${slow}-b`, '3']);
      expect(result.status).toBe('failed');
      expect(result.steps[0]!.detail).toMatch(
        new RegExp(
          `refused: another reassignment is running: ${slow}/0 -> \\[1\\] \\(ListPartitionReassignments\\)`,
        ),
      );
    } finally {
      await deleteTopic(ref(), `${slow}-b`).catch(() => undefined);
    }

    // Lift the throttle; the same step again (idempotent: already in progress, nothing resubmitted) and its wait.
    const zk = await ZkSession.open(r.zkConnect, { connectTimeoutMs: 5000, sessionTimeoutMs: 10_000 });
    try {
      await removeThrottle(
        zk,
        reassignSlow.steps[0]!.action === 'reassign-partitions' ? reassignSlow.steps[0]!.partitions : [],
        3000,
      );
    } finally {
      zk.close();
    }
    const finish = await r.execute({
      ...reassignSlow,
      steps: [...reassignSlow.steps, { action: 'wait', for: 'slow', timeoutMs: 60_000 }],
    });
    expect(finish.status, finish.message).toBe('done');
    expect(finish.steps[0]!.detail).toMatch(
      /submitted 0 partition reassignment\(s\).*\(1 already in progress\)|already have their target/,
    );
    expect((await getPartitionState(ref(), slow, 0))?.isr).toEqual([1]);
    expect(await throttlesLeft(r, [slow])).toEqual([]);
  }, 180_000);
});
