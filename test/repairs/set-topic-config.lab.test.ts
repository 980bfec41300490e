/**
 * set-topic-config on the shared lab: one override set through AlterConfigs with the topic's other overrides
 * kept (AlterConfigs replaces them all), read back from ZooKeeper and the brokers; an unsafe value refused by
 * `repair plan` with exit 2.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/context.js';
import { createTopic, deleteTopic, healLab } from '../../src/lab/index.js';
import type { RepairPlan } from '../../src/model/index.js';
import { uniqueTopic } from '../lab/helpers.js';
import { repairLab, type RepairLab } from './repair-lab.js';

const lab = inject('lab');
const ref = () => ({ workDir: lab!.workDir });

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (s) => (out += s),
    err: (s) => (err += s),
    env: {},
    cwd: process.cwd(),
    isTTY: false,
  };
  const code = await main([...argv, '--config', lab!.inventory], io);
  return { code, out, err };
}

describe.skipIf(!lab)('set-topic-config on the lab', () => {
  let r: RepairLab;
  const topic = uniqueTopic('cfg');

  beforeAll(async () => {
    await healLab(ref());
    r = repairLab(lab!.inventory);
    await createTopic(ref(), {
      name: topic,
      replicaAssignment: [[1, 2, 3]],
      configs: { 'min.insync.replicas': 2, 'retention.ms': 86_400_000, 'max.message.bytes': 2_000_000 },
    });
  });
  afterAll(async () => {
    await deleteTopic(ref(), topic).catch(() => undefined);
    await r?.close();
  });

  it('sets retention.ms=-1 keeping the other overrides, verified by reading back', async () => {
    const plan = await r.plan('set-topic-config', [topic, 'retention.ms', '-1']);
    expect(plan.refusal, JSON.stringify(plan.preconditions)).toBeNull();
    expect(plan.preconditions.find((p) => p.check === 'write path')?.detail).toMatch(
      /^AlterConfigs \(API 33\)/,
    );
    const { result, ms } = await r.run('set-topic-config', [topic, 'retention.ms', '-1'], plan);
    expect(result.status, `${result.message} ${JSON.stringify(result.steps)}`).toBe('done');
    expect(result.steps[0]!.detail).toMatch(
      /set retention.ms=-1 on .* through AlterConfigs \(API 33\) with the topic's 3 other override\(s\) re-sent; read back/,
    );
    console.log(`set-topic-config on Kafka ${lab!.kafkaVersion}: execute+verify ${ms} ms`);
    const cfg = await r.zkJson<{ config: Record<string, string> }>(`/config/topics/${topic}`);
    expect(cfg?.config).toEqual({
      'min.insync.replicas': '2',
      'retention.ms': '-1',
      'max.message.bytes': '2000000',
    });

    // The step again (a resumed attempt): nothing written.
    const again: RepairPlan = { ...plan, kind: 'test-again' };
    const res = await r.execute(again);
    expect(res.steps[0]!.detail).toMatch(/already had retention.ms=-1: nothing written/);
  }, 60_000);

  it('`repair plan` refuses a value that makes the channel less safe (exit 2, refusal)', async () => {
    const res = await cli(
      'repair',
      'plan',
      'set-topic-config',
      topic,
      'unclean.leader.election.enable',
      'true',
      '--json',
    );
    expect(res.code).toBe(2);
    const plan = JSON.parse(res.out) as RepairPlan;
    expect(plan.refusal).toMatch(/only "false" is allowed/);
    expect(plan.steps).toEqual([]);
    const unknown = await cli('repair', 'plan', 'set-topic-config', topic, 'segment.bytes', '1000');
    expect(unknown.code).toBe(64);
    expect(unknown.err).toMatch(/sets only the keys Fabric's channels depend on/);
  }, 60_000);
});
