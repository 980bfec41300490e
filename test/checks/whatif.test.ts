import { describe, expect, it } from 'vitest';
import { whatIfExitCode, whatIfStopBroker } from '../../src/checks/index.js';
import { NotFoundError } from '../../src/errors/index.js';
import {
  addTopic,
  setBrokerConfig,
  setPartition,
  setTopicConfig,
  snap,
  stopBroker,
} from '../fixtures/snapshots/builder.js';

describe('whatIfStopBroker', () => {
  it('a healthy cluster: safe; leadership moves to the first live in-sync replica; ISRs left at min', () => {
    const w = whatIfStopBroker(snap(), 2);
    expect(w.safe).toBe(true);
    expect(w.complete).toBe(true);
    expect(w.goOffline).toEqual([]);
    expect(w.fallUnderMinIsr).toEqual([]);
    expect(w.loseLeader).toEqual([{ topic: 'pubchain', partition: 0, newLeader: 3, unclean: false }]);
    expect(w.reachMinIsr.map((m) => `${m.topic} ${m.isrAfter.join(',')}`)).toEqual([
      'pubchain 3,4',
      'testchainid 1,3',
    ]);
    expect(w.reasons[0]).toBe(
      'Stopping broker 2 is safe: no partition goes offline or under min.insync.replicas',
    );
    expect(whatIfExitCode(w)).toBe(1);
  });

  it('assignment order decides the new leader, not ISR order', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { replicas: [2, 4, 3], isr: [3, 2, 4] }));
    expect(whatIfStopBroker(s, 2).loseLeader[0]!.newLeader).toBe(4);
  });

  it('a broker holding an RF=1 partition: that partition goes offline, not safe, drain suggested', () => {
    const s = snap((s) => addTopic(s, 'solo', 1, 1, { brokers: [3] }));
    const w = whatIfStopBroker(s, 3);
    expect(w.safe).toBe(false);
    expect(w.goOffline).toEqual([
      {
        topic: 'solo',
        partition: 0,
        replicas: [3],
        isr: [3],
        reason: 'broker 3 is its only replica (replication factor 1)',
      },
    ]);
    expect(w.repairs.map((r) => r.kind)).toEqual(['drain-broker', 'raise-replication']);
    expect(w.reasons[0]).toBe('Stopping broker 3 is NOT safe');
    expect(w.reasons[1]).toMatch(/solo\/0 \(broker 3 is its only replica/);
    expect(whatIfExitCode(w)).toBe(2);
  });

  it('an at-min-ISR partition falls under min ISR', () => {
    const s = snap((s) => stopBroker(s, 4));
    const w = whatIfStopBroker(s, 3);
    expect(w.safe).toBe(false);
    expect(w.fallUnderMinIsr).toEqual([
      { topic: 'pubchain', partition: 0, isrBefore: [2, 3], isrAfter: [2], minIsr: 2 },
    ]);
    expect(w.reachMinIsr.map((m) => m.topic)).toEqual(['testchainid']);
  });

  it('the leader with no other in-sync replica: offline (unclean election off)', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { isr: [2] }));
    const w = whatIfStopBroker(s, 2);
    expect(w.goOffline[0]).toMatchObject({
      topic: 'pubchain',
      reason: expect.stringMatching(/no other replica is in sync/),
    });
    expect(w.loseLeader).toEqual([]);
  });

  it('with unclean election on, an out-of-sync replica would lead: flagged, not safe', () => {
    const s = snap((s) => {
      setPartition(s, 'pubchain', 0, { isr: [2] });
      setTopicConfig(s, 'pubchain', 'unclean.leader.election.enable', 'true');
    });
    const w = whatIfStopBroker(s, 2);
    expect(w.loseLeader).toEqual([{ topic: 'pubchain', partition: 0, newLeader: 3, unclean: true }]);
    expect(w.safe).toBe(false);
    expect(whatIfExitCode(w)).toBe(2);
  });

  it('partitions already offline are listed apart and do not make it unsafe', () => {
    const s = snap((s) => {
      addTopic(s, 'solo', 1, 1, { brokers: [4] });
      stopBroker(s, 4);
    });
    const w = whatIfStopBroker(s, 4);
    expect(w.registered).toBe(false);
    expect(w.alreadyOffline).toEqual([{ topic: 'solo', partition: 0 }]);
    expect(w.safe).toBe(true);
    expect(w.reasons[0]).toMatch(/not registered now/);
    expect(whatIfExitCode(w)).toBe(0);
  });

  it('the controller is named', () => {
    const w = whatIfStopBroker(snap(), 1);
    expect(w.controller).toBe(true);
    expect(w.reasons.join('\n')).toMatch(/Broker 1 is the controller/);
  });

  it('respects the scope', () => {
    const s = snap((s) => {
      s.scope = { channel: 'testchainid' };
    });
    const w = whatIfStopBroker(s, 2);
    expect(w.loseLeader).toEqual([]);
    expect(w.reachMinIsr.map((m) => m.topic)).toEqual(['testchainid']);
  });

  it('unknown broker id: NotFoundError naming the known ones', () => {
    expect(() => whatIfStopBroker(snap(), 9)).toThrow(NotFoundError);
    expect(() => whatIfStopBroker(snap(), 9)).toThrow(
      /broker 9 is unknown to cluster lab.*known: 1, 2, 3, 4/,
    );
  });

  it('without ZooKeeper: cannot tell', () => {
    const s = snap((s) => {
      s.zookeeper = null;
      s.sources.zookeeper = { ok: false, error: 'x' };
    });
    const w = whatIfStopBroker(s, 2);
    expect(w).toMatchObject({ safe: false, complete: false, registered: null });
    expect(w.reasons[0]).toMatch(/ZooKeeper could not be read/);
    expect(whatIfExitCode(w)).toBe(3);
  });

  it('without min.insync.replicas: not confirmed safe', () => {
    const s = snap((s) => {
      s.kafka!.brokerConfigs = {};
      s.kafka!.topicConfigs = {};
      setBrokerConfig(s, 'min.insync.replicas', undefined);
    });
    const w = whatIfStopBroker(s, 2);
    expect(w.safe).toBe(false);
    expect(w.complete).toBe(false);
    expect(w.reasons[0]).toMatch(/cannot be confirmed safe/);
    expect(w.reasons.join('\n')).toMatch(/min.insync.replicas is unknown for 2 partitions/);
  });
});
