/**
 * preferred-leader-election on the shared lab: a partition whose preferred replica changed (a reassignment that
 * only reorders replicas keeps the leader) is led by its first replica after the repair, through
 * /admin/preferred_replica_election.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTopic, deleteTopic, getPartitionState, healLab, waitFor } from '../../src/lab/index.js';
import type { RepairPlan } from '../../src/model/index.js';
import { uniqueTopic } from '../lab/helpers.js';
import { repairLab, type RepairLab } from './repair-lab.js';

const lab = inject('lab');
const ref = () => ({ workDir: lab!.workDir });

describe.skipIf(!lab)('preferred-leader-election on the lab', () => {
  let r: RepairLab;
  const topic = uniqueTopic('ple');

  beforeAll(async () => {
    await healLab(ref());
    r = repairLab(lab!.inventory);
    await createTopic(ref(), {
      name: topic,
      replicaAssignment: [
        [1, 2, 3],
        [2, 3, 4],
      ],
    });
  });
  afterAll(async () => {
    await deleteTopic(ref(), topic).catch(() => undefined);
    await r?.close();
  });

  it('refused while nothing is to do; after a reorder, elects the new preferred replica', async () => {
    expect((await r.plan('preferred-leader-election', [topic])).refusal).toMatch(/nothing to do/);

    const reorder: RepairPlan = {
      kind: 'test-reorder',
      cluster: 'lab',
      args: {},
      preconditions: [],
      steps: [
        { action: 'reassign-partitions', partitions: [{ topic, partition: 0, replicas: [3, 1, 2] }] },
        { action: 'wait', for: 'reorder', timeoutMs: 30_000 },
      ],
      expected: {},
      refusal: null,
    };
    expect((await r.execute(reorder)).status).toBe('done');
    await waitFor(async () => (await getPartitionState(ref(), topic, 0))?.leader === 1, {
      timeoutMs: 10_000,
      what: 'leader still 1',
    });

    const plan = await r.plan('preferred-leader-election', [topic, '0']);
    expect(plan.refusal, JSON.stringify(plan.preconditions)).toBeNull();
    expect(plan.steps).toEqual([
      { action: 'preferred-leader-election', partitions: [{ topic, partition: 0 }] },
    ]);
    const { result, ms } = await r.run('preferred-leader-election', [topic, '0'], plan);
    expect(result.status, `${result.message} ${JSON.stringify(result.steps)}`).toBe('done');
    expect(result.steps[0]!.detail).toMatch(
      new RegExp(
        `elected the preferred leader of 1 partition\\(s\\) through /admin/preferred_replica_election in .*: ${topic}/0 1 -> 3`,
      ),
    );
    expect(result.verification?.detail).toBe('1 partition(s) led by their preferred replica');
    console.log(`preferred-leader-election on Kafka ${lab!.kafkaVersion}: execute+verify ${ms} ms`);
    expect((await getPartitionState(ref(), topic, 0))?.leader).toBe(3);
    expect(await r.zkJson('/admin/preferred_replica_election')).toBeNull();
  }, 120_000);
});
