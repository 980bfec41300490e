/**
 * raise-replication on the shared lab: an RF=1 topic with data gets 3 replicas through a throttled
 * reassignment; the leader and the data stay; the throttle is gone afterwards.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  deleteTopic,
  createTopic,
  getHighWatermark,
  getPartitionState,
  healLab,
} from '../../src/lab/index.js';
import { produceOnePerBatch, uniqueTopic } from '../lab/helpers.js';
import { repairLab, throttlesLeft, type RepairLab } from './repair-lab.js';

const lab = inject('lab');
const ref = () => ({ workDir: lab!.workDir });

describe.skipIf(!lab)('raise-replication on the lab', () => {
  let r: RepairLab;
  const topic = uniqueTopic('raise-rf1');

  beforeAll(async () => {
    await healLab(ref());
    r = repairLab(lab!.inventory);
    await createTopic(ref(), { name: topic, replicaAssignment: [[3], [4]] });
    await produceOnePerBatch(lab!.workDir, topic, 15, 0);
    await produceOnePerBatch(lab!.workDir, topic, 5, 1);
  });
  afterAll(async () => {
    await deleteTopic(ref(), topic).catch(() => undefined);
    await r?.close();
  });

  it('RF 1 -> 3: plan, run, verify; leaders and high watermarks unchanged', async () => {
    const plan = await r.plan('raise-replication', [topic]);
    expect(plan.refusal, JSON.stringify(plan.preconditions)).toBeNull();
    expect(plan.args).toEqual({ topic, rf: 3 });
    const step = plan.steps[0]!;
    if (step.action !== 'reassign-partitions') throw new Error('first step');
    expect(step.partitions.map((p) => [p.partition, p.replicas[0], p.replicas.length])).toEqual([
      [0, 3, 3],
      [1, 4, 3],
    ]);

    const { result, ms } = await r.run('raise-replication', [topic], plan);
    expect(result.status, `${result.message} ${JSON.stringify(result.steps)}`).toBe('done');
    expect(result.verification?.detail).toBe(`every partition of ${topic} (2) has 3+ replicas, all in sync`);
    console.log(
      `raise-replication on Kafka ${lab!.kafkaVersion}: execute+verify ${ms} ms;`,
      result.steps.map((s) => s.detail).join(' | '),
    );

    for (const [p, leader, hw] of [
      [0, 3, 15],
      [1, 4, 5],
    ] as const) {
      const st = await getPartitionState(ref(), topic, p);
      expect(st?.leader).toBe(leader);
      expect(st?.isr).toHaveLength(3);
      expect(await getHighWatermark(ref(), topic, p)).toBe(hw);
    }
    expect(await throttlesLeft(r, [topic])).toEqual([]);

    // Done is done: the same plan again is refused (nothing to do).
    expect((await r.plan('raise-replication', [topic])).refusal).toMatch(/nothing to do/);
  }, 120_000);
});
