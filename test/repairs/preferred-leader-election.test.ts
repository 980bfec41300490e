import { describe, expect, it } from 'vitest';
import { planPreferredLeaderElection, verifyPreferredLeader } from '../../src/repairs/preferred-leader.js';
import { repairKind } from '../../src/repairs/registry.js';
import { addTopic, setPartition, snap, stopBroker } from '../fixtures/snapshots/builder.js';

describe('preferred-leader-election planner', () => {
  it('elects the partitions led by another replica while the preferred one is in sync', () => {
    const s = snap((x) => {
      addTopic(x, 'orders', 3, 3);
      setPartition(x, 'orders', 1, { leader: 3 });
      setPartition(x, 'pubchain', 0, { leader: 4 });
    });
    const plan = planPreferredLeaderElection(s, 'lab', 'orders', undefined);
    expect(plan.refusal).toBeNull();
    expect(plan.steps).toEqual([
      { action: 'preferred-leader-election', partitions: [{ topic: 'orders', partition: 1 }] },
    ]);
    expect(plan.expected).toEqual({ leaders: { 'orders/1': 2 } });
    expect(plan.args).toEqual({ topic: 'orders' });
    expect(plan.preconditions.find((p) => p.check === 'election path')?.detail).toMatch(
      /\/admin\/preferred_replica_election/,
    );
    expect(plan.rollback).toMatch(/orders\/1 was led by 3/);

    const one = planPreferredLeaderElection(s, 'lab', 'pubchain', 0);
    expect(one.args).toEqual({ topic: 'pubchain', partition: 0 });
    expect(one.expected).toEqual({ leaders: { 'pubchain/0': 2 } });
  });

  it('refuses when the preferred replica is out of sync or down (electing it could lose messages)', () => {
    const outOfSync = snap((x) => setPartition(x, 'pubchain', 0, { leader: 3, isr: [3, 4] }));
    expect(planPreferredLeaderElection(outOfSync, 'lab', 'pubchain', 0).refusal).toMatch(
      /preferred replica in ISR - pubchain\/0: preferred broker 2 is not in the ISR \[3,4\]/,
    );
    const down = snap((x) => stopBroker(x, 2));
    expect(planPreferredLeaderElection(down, 'lab', 'pubchain', 0).refusal).toMatch(
      /preferred broker 2 is not registered/,
    );
  });

  it('refuses when every leader already is the preferred replica, and an unknown partition', () => {
    expect(planPreferredLeaderElection(snap(), 'lab', 'pubchain', undefined).refusal).toMatch(
      /already led by its preferred replica: nothing to do/,
    );
    expect(planPreferredLeaderElection(snap(), 'lab', 'pubchain', 7).refusal).toMatch(
      /pubchain\/7 not found/,
    );
  });

  it('verification: leader == first replica', () => {
    const s = snap((x) => setPartition(x, 'pubchain', 0, { leader: 4 }));
    const plan = planPreferredLeaderElection(s, 'lab', 'pubchain', 0);
    expect(verifyPreferredLeader(s, plan)).toEqual({
      ok: false,
      detail: 'pubchain/0 is led by 4, not its preferred replica 2',
    });
    setPartition(s, 'pubchain', 0, { leader: 2 });
    expect(verifyPreferredLeader(s, plan)).toEqual({
      ok: true,
      detail: '1 partition(s) led by their preferred replica',
    });
  });

  it('parses <topic> [partition], as the findings suggest it ({ topic, partition })', () => {
    const k = repairKind('preferred-leader-election');
    expect(k.parseArgs(['pubchain'])).toEqual({ topic: 'pubchain' });
    expect(k.parseArgs(['pubchain', '0'])).toEqual({ topic: 'pubchain', partition: 0 });
    expect(() => k.parseArgs(['pubchain', 'x'])).toThrow(/non-negative integer/);
    expect(() => k.parseArgs([])).toThrow(/takes <topic> \[partition\]/);
  });
});
