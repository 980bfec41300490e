import { describe, expect, it } from 'vitest';
import { planRaiseReplication, verifyRaiseReplication } from '../../src/repairs/raise-replication.js';
import { repairKind } from '../../src/repairs/registry.js';
import { diffPlans } from '../../src/repairs/steps.js';
import { addTopic, setPartition, snap, stopBroker } from '../fixtures/snapshots/builder.js';

const OPTS = { throttleBytes: 5_000_000 };

describe('raise-replication planner', () => {
  it('adds replicas after the existing ones (the leader stays), on the least loaded brokers', () => {
    const s = snap((x) => addTopic(x, 'solo', 2, 1, { brokers: [3, 4] }));
    const plan = planRaiseReplication(s, 'lab', 'solo', 3, OPTS);
    expect(plan.refusal).toBeNull();
    // Replicas per broker before: 1:1, 2:2, 3:3, 4:2. Least loaded first, the lowest id on a tie.
    expect(plan.steps[0]).toEqual({
      action: 'reassign-partitions',
      partitions: [
        { topic: 'solo', partition: 0, replicas: [3, 1, 2] },
        { topic: 'solo', partition: 1, replicas: [4, 1, 2] },
      ],
      throttleBytes: 5_000_000,
    });
    expect(plan.steps[1]).toMatchObject({ action: 'wait' });
    expect(plan.steps).toHaveLength(2);
    expect(plan.expected).toEqual({
      topic: 'solo',
      replicationFactor: 3,
      assignment: { 'solo/0': [3, 1, 2], 'solo/1': [4, 1, 2] },
      previous: { 'solo/0': [3], 'solo/1': [4] },
    });
    expect(plan.rollback).toMatch(
      /deletes the extra copies. To undo, reassign .*solo\/0 \[3\], solo\/1 \[4\]/,
    );
    expect(diffPlans(plan, planRaiseReplication(structuredClone(s), 'lab', 'solo', 3, OPTS))).toEqual([]);
  });

  it('refuses when there is nothing to do, when lowering would be needed, and with too few brokers', () => {
    expect(planRaiseReplication(snap(), 'lab', 'pubchain', 3, OPTS).refusal).toMatch(
      /already has 3 replicas: nothing to do|already have 3 replicas: nothing to do/,
    );
    expect(planRaiseReplication(snap(), 'lab', 'pubchain', 2, OPTS).refusal).toMatch(
      /more than 2 replicas .*lowering is not offered/,
    );
    expect(planRaiseReplication(snap(), 'lab', 'pubchain', 5, OPTS).refusal).toMatch(
      /enough live brokers - 4 live broker\(s\) \(1, 2, 3, 4\) for 5 replicas/,
    );
    expect(planRaiseReplication(snap(), 'lab', 'nope', 3, OPTS).refusal).toMatch(
      /topic exists - no topic nope/,
    );
    const noZk = snap((x) => {
      x.zookeeper = null;
      x.sources.zookeeper = { ok: false, error: 'ZooKeeper 127.0.0.1:2181: no session within 3000 ms' };
    });
    const plan = planRaiseReplication(noZk, 'lab', 'pubchain', 3, OPTS);
    expect(plan.refusal).toMatch(
      /ZooKeeper read - partition assignments unknown: ZooKeeper 127\.0\.0\.1:2181: no session/,
    );
    expect(plan.steps).toEqual([]);
  });

  it('refuses an offline partition (seed 002 after the fact: its only replica is gone, nothing to copy)', () => {
    const s = snap((x) => {
      addTopic(x, 'solo', 1, 1, { brokers: [3] });
      stopBroker(x, 3);
    });
    const plan = planRaiseReplication(s, 'lab', 'solo', 3, OPTS);
    expect(plan.refusal).toMatch(/partitions to move have a live leader - 1 offline/);
    expect(plan.refusal).toMatch(
      /replicas that stay are live - solo\/0 keeps broker 3, which is not registered/,
    );
  });

  it('refuses while a reassignment runs', () => {
    const s = snap((x) => {
      addTopic(x, 'solo', 1, 1, { brokers: [3] });
      x.zookeeper!.reassignment = [{ topic: 'pubchain', partition: 0, replicas: [1, 3, 4] }];
    });
    expect(planRaiseReplication(s, 'lab', 'solo', 3, OPTS).refusal).toMatch(/no reassignment running/);
  });

  it('verification wants every replica in the ISR', () => {
    const s = snap((x) => addTopic(x, 'solo', 1, 1, { brokers: [3] }));
    const plan = planRaiseReplication(s, 'lab', 'solo', 3, OPTS);
    expect(verifyRaiseReplication(s, plan)).toMatchObject({ ok: false, detail: 'solo/0 has 1 replicas [3]' });
    setPartition(s, 'solo', 0, { replicas: [3, 1, 2], isr: [3, 1] });
    expect(verifyRaiseReplication(s, plan)).toMatchObject({
      ok: false,
      detail: 'solo/0: broker 2 not in the ISR [3,1]',
    });
    setPartition(s, 'solo', 0, { isr: [3, 1, 2] });
    expect(verifyRaiseReplication(s, plan).ok).toBe(true);
  });

  it('parses <topic> [rf=3] and takes the suggestion from findings ({ topic }) with rf 3', () => {
    const k = repairKind('raise-replication');
    expect(k.parseArgs(['solo'])).toEqual({ topic: 'solo', rf: 3 });
    expect(k.parseArgs(['solo', 'rf=2'])).toEqual({ topic: 'solo', rf: 2 });
    expect(k.parseArgs(['solo', '4'])).toEqual({ topic: 'solo', rf: 4 });
    expect(() => k.parseArgs(['solo', '1'])).toThrow(/rf must be 2/);
    expect(() => k.parseArgs(['bad topic'])).toThrow(/not a valid topic name/);
    const s = snap((x) => addTopic(x, 'solo', 1, 1, { brokers: [3] }));
    const plan = k.plan(s, 'lab', { repairs: { reassignThrottleBytes: 7 } } as never, { topic: 'solo' });
    expect(plan.args).toEqual({ topic: 'solo', rf: 3 });
    expect(plan.refusal).toBeNull();
  });
});
