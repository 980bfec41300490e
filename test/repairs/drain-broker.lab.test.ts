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
} from '../../src/lab/index.js';
import type { Report } from '../../src/model/index.js';
import { repairLab, throttlesLeft, type RepairLab } from './repair-lab.js';
import { produceOnePerBatch, uniqueTopic } from '../lab/helpers.js';

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
        .filter((p) => p.topic !== rf1 && p.topic !== rf3)
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
      for (const t of [rf1, rf3]) await deleteTopic(ref(), t).catch(() => undefined);
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
});
