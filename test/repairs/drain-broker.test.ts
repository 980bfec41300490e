import { describe, expect, it } from 'vitest';
import type { ClusterSnapshot } from '../../src/model/index.js';
import { planDrainBroker, verifyDrainBroker } from '../../src/repairs/drain-broker.js';
import { repairKind } from '../../src/repairs/registry.js';
import { diffPlans } from '../../src/repairs/steps.js';
import { addTopic, large, setPartition, snap, stopBroker } from '../fixtures/snapshots/builder.js';

const OPTS = { throttleBytes: 10_000_000 };

/** The snapshot after a plan's reassignment completed: every partition on its target, all in sync. */
function applied(s: ClusterSnapshot, assignment: Record<string, number[]>): ClusterSnapshot {
  const out = structuredClone(s);
  for (const [key, replicas] of Object.entries(assignment)) {
    const [topic, partition] = [
      key.slice(0, key.lastIndexOf('/')),
      Number(key.slice(key.lastIndexOf('/') + 1)),
    ];
    setPartition(out, topic, partition, { replicas, isr: [...replicas], leader: replicas[0]! });
  }
  return out;
}

describe('drain-broker planner', () => {
  it('moves every replica off the broker: the broker leaves, the replacement goes last, fewest replicas first', () => {
    const plan = planDrainBroker(snap(), 'lab', 2, OPTS);
    expect(plan.refusal).toBeNull();
    expect(plan.preconditions.every((p) => p.ok)).toBe(true);
    // pubchain [2,3,4] -> [3,4,1] (broker 1 had 1 replica), then testchainid [1,2,3] -> [1,3,4].
    expect(plan.steps).toEqual([
      {
        action: 'reassign-partitions',
        partitions: [
          { topic: 'pubchain', partition: 0, replicas: [3, 4, 1] },
          { topic: 'testchainid', partition: 0, replicas: [1, 3, 4] },
        ],
        throttleBytes: 10_000_000,
      },
      expect.objectContaining({ action: 'wait', timeoutMs: 30 * 60_000 }),
      {
        action: 'preferred-leader-election',
        partitions: [
          { topic: 'pubchain', partition: 0 },
          { topic: 'testchainid', partition: 0 },
        ],
        optional: true,
      },
    ]);
    expect(plan.expected).toEqual({
      broker: 2,
      replicasOnBroker: 0,
      stopBrokerSafe: true,
      assignment: { 'pubchain/0': [3, 4, 1], 'testchainid/0': [1, 3, 4] },
      previous: { 'pubchain/0': [2, 3, 4], 'testchainid/0': [1, 2, 3] },
    });
    expect(plan.rollback).toMatch(/pubchain\/0 \[2,3,4\]/);
    expect(plan.preconditions.find((p) => p.check === 'reassignment path')?.detail).toMatch(
      /not read: decided at execution/,
    );
  });

  it('is deterministic: the plan rebuilt from the same snapshot compares equal (the executor re-plans)', () => {
    const s = snap((x) => addTopic(x, 'orders', 6, 3));
    const a = planDrainBroker(s, 'lab', 3, OPTS);
    const b = planDrainBroker(structuredClone(s), 'lab', 3, OPTS);
    expect(diffPlans(a, b)).toEqual([]);
    expect(a.refusal).toBeNull();
    // Replication factor kept, broker 3 gone, no duplicates, spread: no broker gets more than its share.
    const step = a.steps[0]!;
    if (step.action !== 'reassign-partitions') throw new Error('first step');
    for (const p of step.partitions) {
      expect(p.replicas).toHaveLength(3);
      expect(p.replicas).not.toContain(3);
      expect(new Set(p.replicas).size).toBe(3);
    }
    const counts = new Map<number, number>();
    for (const p of step.partitions) for (const r of p.replicas) counts.set(r, (counts.get(r) ?? 0) + 1);
    expect(Math.max(...counts.values()) - Math.min(...counts.values())).toBeLessThanOrEqual(
      step.partitions.length,
    );
  });

  it('the leader is never the drained broker: a partition it led gets its next replica as preferred leader', () => {
    const plan = planDrainBroker(snap(), 'lab', 2, OPTS);
    const step = plan.steps[0]!;
    if (step.action !== 'reassign-partitions') throw new Error('first step');
    // pubchain was led by 2: its new first replica (3) is an in-sync replica, not the newcomer.
    expect(step.partitions[0]!.replicas[0]).toBe(3);
  });

  it('an RF=1 topic on the broker moves whole to the least loaded live broker (seed 002)', () => {
    const s = snap((x) => addTopic(x, 'solo', 1, 1, { brokers: [2] }));
    const plan = planDrainBroker(s, 'lab', 2, OPTS);
    expect(plan.refusal).toBeNull();
    const step = plan.steps[0]!;
    if (step.action !== 'reassign-partitions') throw new Error('first step');
    // In topic order: pubchain took broker 1 (then 2 replicas), so solo goes to broker 4 (1 replica).
    expect(step.partitions.map((p) => [p.topic, p.replicas])).toEqual([
      ['pubchain', [3, 4, 1]],
      ['solo', [4]],
      ['testchainid', [1, 3, 4]],
    ]);
  });

  it('prefers a rack the partition does not use over a less loaded broker on a used rack', () => {
    const withRacks = (racks: boolean) =>
      snap((x) => {
        x.zookeeper!.brokers.push({
          id: 5,
          host: '127.0.0.1',
          port: 19096,
          endpoints: ['PLAINTEXT://127.0.0.1:19096'],
        });
        x.expected.brokerIds.push(5);
        addTopic(x, 'heavy', 3, 1, { brokers: [5] });
        if (racks) {
          const r: Record<number, string> = { 1: 'a', 2: 'b', 3: 'c', 4: 'a', 5: 'b' };
          for (const b of x.zookeeper!.brokers) b.rack = r[b.id];
        }
      });
    const pick = (s: ClusterSnapshot) => {
      const step = planDrainBroker(s, 'lab', 2, OPTS).steps[0]!;
      if (step.action !== 'reassign-partitions') throw new Error('first step');
      return step.partitions.find((p) => p.topic === 'pubchain')!.replicas;
    };
    // pubchain [2,3,4] keeps 3 (rack c) and 4 (rack a): broker 1 is rack a again, broker 5 is rack b.
    expect(pick(withRacks(false))).toEqual([3, 4, 1]);
    expect(pick(withRacks(true))).toEqual([3, 4, 5]);
    expect(
      planDrainBroker(withRacks(true), 'lab', 2, OPTS).preconditions.find((p) => p.check === 'racks')?.detail,
    ).toMatch(/racks known \(a, b, c\)/);
  });

  it('never places a replica on a broker nobody can reach (seed 001)', () => {
    const s = snap((x) => {
      x.reachability = x.reachability.map((r) =>
        r.brokerId === 1 ? { ...r, ok: false, error: 'ETIMEDOUT' } : r,
      );
    });
    const plan = planDrainBroker(s, 'lab', 2, OPTS);
    expect(plan.refusal).toMatch(/enough live brokers/);
    expect(plan.preconditions.find((p) => p.check === 'enough live brokers')?.detail).toMatch(
      /not counting unreachable 1/,
    );
  });

  it('says which path it will take from the ApiVersions in the snapshot', () => {
    const s = snap((x) => {
      x.kafka!.apiVersions = { 1: { 45: [0, 0] }, 2: { 45: [0, 0] } };
    });
    expect(
      planDrainBroker(s, 'lab', 2, OPTS).preconditions.find((p) => p.check === 'reassignment path')?.detail,
    ).toMatch(/Admin API AlterPartitionReassignments/);
    s.kafka!.apiVersions = { 1: { 32: [0, 0] } };
    expect(
      planDrainBroker(s, 'lab', 2, OPTS).preconditions.find((p) => p.check === 'reassignment path')?.detail,
    ).toMatch(/ZooKeeper \/admin\/reassign_partitions/);
  });

  describe('refusals', () => {
    it('an unknown broker', () => {
      const plan = planDrainBroker(snap(), 'lab', 9, OPTS);
      expect(plan.refusal).toMatch(/broker known - broker 9 is not in the inventory.*known: 1, 2, 3, 4/);
      expect(plan.steps).toEqual([]);
    });

    it('a broker that holds nothing', () => {
      const s = snap((x) =>
        setPartition(x, 'pubchain', 0, { replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1 }),
      );
      expect(planDrainBroker(s, 'lab', 4, OPTS).refusal).toMatch(/holds no replica: nothing to drain/);
    });

    it('a reassignment already running', () => {
      const s = snap((x) => {
        x.zookeeper!.reassignment = [{ topic: 'other', partition: 0, replicas: [1, 3, 4] }];
      });
      const plan = planDrainBroker(s, 'lab', 2, OPTS);
      expect(plan.refusal).toMatch(
        /no reassignment running - \/admin\/reassign_partitions lists 1 partition\(s\) \(other\/0\)/,
      );
      expect(plan.steps).toEqual([]);
    });

    it('fewer live brokers than the replication factor would remain', () => {
      const s = snap((x) => stopBroker(x, 4));
      const plan = planDrainBroker(s, 'lab', 2, OPTS);
      expect(plan.refusal).toMatch(
        /enough live brokers - 2 live broker\(s\) besides 2 \(1, 3\).*largest replication factor to keep is 3/,
      );
    });

    it('offline partitions on the broker (an RF=1 topic on a dead broker: nothing to copy from)', () => {
      const s = snap((x) => {
        addTopic(x, 'solo', 1, 1, { brokers: [2] });
        stopBroker(x, 2);
      });
      const plan = planDrainBroker(s, 'lab', 2, OPTS);
      expect(plan.refusal).toMatch(/partitions to move have a live leader - 1 offline .*solo\/0/);
    });

    it('a replica that stays is dead: the reassignment could never complete', () => {
      const s = snap((x) => stopBroker(x, 4));
      x5(s);
      const plan = planDrainBroker(s, 'lab', 2, OPTS);
      expect(plan.refusal).toMatch(
        /replicas that stay are live - pubchain\/0 keeps broker 4, which is not registered/,
      );
    });

    it('ZooKeeper could not be read', () => {
      const s = snap((x) => {
        x.zookeeper = null;
        x.sources.zookeeper = { ok: false, error: 'no session within 3000 ms' };
      });
      expect(planDrainBroker(s, 'lab', 2, OPTS).refusal).toMatch(
        /ZooKeeper read - partition assignments unknown: no session/,
      );
    });
  });

  it('verification: the broker holds nothing and stopping it is safe', () => {
    const s = snap();
    const plan = planDrainBroker(s, 'lab', 2, OPTS);
    const before = verifyDrainBroker(s, plan);
    expect(before.ok).toBe(false);
    expect(before.detail).toMatch(/broker 2 still holds 2 replica\(s\)/);
    const after = verifyDrainBroker(applied(s, plan.expected.assignment as Record<string, number[]>), plan);
    expect(after).toEqual({
      ok: true,
      detail: expect.stringMatching(/^broker 2 holds no replica; Stopping broker 2 is safe/),
    });
  });

  it('10,002 partitions: plan and verification stay fast (measured ~120 ms each on 2 vCPUs)', () => {
    const s = large(200, 50);
    const t0 = performance.now();
    const plan = planDrainBroker(s, 'lab', 2, OPTS);
    const planMs = performance.now() - t0;
    const t1 = performance.now();
    verifyDrainBroker(s, plan);
    const verifyMs = performance.now() - t1;
    const step = plan.steps[0]!;
    if (step.action !== 'reassign-partitions') throw new Error('first step');
    expect(step.partitions.length).toBe(7602);
    expect(planMs).toBeLessThan(2000);
    expect(verifyMs).toBeLessThan(2000);
  });

  it('the registry parses <broker id> and plans with the inventory throttle', () => {
    const k = repairKind('drain-broker');
    expect(k.parseArgs(['2'])).toEqual({ broker: 2 });
    expect(() => k.parseArgs(['two'])).toThrow(/must be a non-negative integer/);
    expect(() => k.parseArgs([])).toThrow(/takes <broker id>/);
    const plan = k.plan(snap(), 'lab', { repairs: { reassignThrottleBytes: 1234 } } as never, { broker: 2 });
    expect(plan.steps[0]).toMatchObject({ action: 'reassign-partitions', throttleBytes: 1234 });
    expect(k.verify).toBeDefined();
  });
});

/** A fifth live broker (so that enough remain) while broker 4, a replica of pubchain, stays dead. */
function x5(s: ClusterSnapshot): void {
  s.zookeeper!.brokers.push({
    id: 5,
    host: '127.0.0.1',
    port: 19096,
    endpoints: ['PLAINTEXT://127.0.0.1:19096'],
  });
  s.zookeeper!.brokers.push({
    id: 6,
    host: '127.0.0.1',
    port: 19097,
    endpoints: ['PLAINTEXT://127.0.0.1:19097'],
  });
}
