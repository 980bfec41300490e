import { describe, expect, it } from 'vitest';

import { decodeKafkaMessage } from '../../src/fabric/protos.js';
import type { RepairPlan } from '../../src/model/index.js';
import { CONNECT_HEX, planPadChannel } from '../../src/repairs/pad-channel.js';
import { position, scenario } from './snapshots.js';

const OPTS = { padMaxMessages: 10_000 };
const failed = (p: RepairPlan) => p.preconditions.filter((c) => !c.ok).map((c) => c.check);
const pre = (p: RepairPlan, check: string) => p.preconditions.find((c) => c.check === check);

describe('planPadChannel: the happy path (seed 000)', () => {
  it('produces expected - HW CONNECT messages, then offers to restart the stuck orderers that have containers', () => {
    const plan = planPadChannel(scenario(), 'lab', 'pubchain', {
      ...OPTS,
      ordererContainers: { 'orderer0.example.com': 'orderer0', 'orderer2.example.com': 'orderer2' },
    });
    expect(plan.refusal).toBeNull();
    expect(plan.kind).toBe('pad-channel');
    expect(plan.cluster).toBe('lab');
    expect(plan.args).toEqual({ channel: 'pubchain' });
    expect(plan.preconditions.every((c) => c.ok)).toBe(true);
    expect(plan.preconditions.map((c) => c.check)).toEqual([
      'orderers agree',
      'partition has a live leader',
      'ISR >= min.insync.replicas',
      'gap > 0',
      'gap <= padMaxMessages',
    ]);
    expect(pre(plan, 'orderers agree')?.detail).toBe('3 orderers expect offset 21 (height 10)');
    expect(pre(plan, 'partition has a live leader')?.detail).toBe(
      'pubchain/0 leader is broker 0 (ZooKeeper)',
    );
    expect(pre(plan, 'ISR >= min.insync.replicas')?.detail).toBe(
      'ISR [3,1,0] has 3 of 3 replicas, min.insync.replicas = 2 (broker 0)',
    );
    expect(pre(plan, 'gap > 0')?.detail).toBe('high watermark 11, orderers expect 21: 10 missing');
    expect(plan.steps).toEqual([
      { action: 'produce', topic: 'pubchain', partition: 0, count: 10, value: '1a00', key: '0' },
      { action: 'restart-container', container: 'orderer0', optional: true },
      { action: 'restart-container', container: 'orderer2', optional: true },
    ]);
    expect(plan.expected).toEqual({ highWatermark: 21 });
    expect(plan.rollback).toMatch(/^cannot be undone: /);
  });

  it('the filler is a CONNECT message, nothing else', () => {
    expect(CONNECT_HEX).toBe('1a00');
    expect(decodeKafkaMessage(Buffer.from(CONNECT_HEX, 'hex')).type).toBe('connect');
  });

  it('without containers there are no restart steps; a one-message gap is fine', () => {
    const plan = planPadChannel(scenario({ offsets: { highWatermark: 20 } }), 'lab', 'pubchain', OPTS);
    expect(plan.refusal).toBeNull();
    expect(plan.steps).toEqual([
      { action: 'produce', topic: 'pubchain', partition: 0, count: 1, value: '1a00', key: '0' },
    ]);
  });

  it('reads ISR and leader from the brokers when ZooKeeper was not read', () => {
    const plan = planPadChannel(scenario({ zookeeper: false }), 'lab', 'pubchain', OPTS);
    expect(plan.refusal).toBeNull();
    expect(pre(plan, 'partition has a live leader')?.detail).toBe(
      "pubchain/0 leader is broker 0 (broker 0's metadata)",
    );
  });

  it('takes min.insync.replicas from the topic before the broker', () => {
    const plan = planPadChannel(
      scenario({ topicConfig: { 'min.insync.replicas': '3' }, partition: { isr: [0, 1, 3] } }),
      'lab',
      'pubchain',
      OPTS,
    );
    expect(plan.refusal).toBeNull();
    expect(pre(plan, 'ISR >= min.insync.replicas')?.detail).toMatch(
      /min.insync.replicas = 3 \(topic pubchain\)$/,
    );
  });
});

describe('planPadChannel: refusals', () => {
  it('refuses when the orderers disagree on the offset', () => {
    const snap = scenario({
      positions: [
        position('o1', 'pubchain', 20),
        position('o2', 'pubchain', 17),
        position('o3', 'pubchain', 20),
      ],
    });
    const plan = planPadChannel(snap, 'lab', 'pubchain', OPTS);
    expect(failed(plan)).toContain('orderers agree');
    expect(pre(plan, 'orderers agree')?.detail).toBe(
      'orderers disagree: o1 expects 21, o2 expects 18, o3 expects 21',
    );
    expect(plan.refusal).toMatch(/^refused: orderers agree - orderers disagree/);
    expect(plan.steps).toEqual([]);
    expect(plan.expected).toEqual({});
  });

  it('refuses when an orderer of the channel could not be read', () => {
    const snap = scenario({
      positions: [position('o1', 'pubchain', 20), position('o2', 'pubchain', 20, { source: null })],
    });
    const plan = planPadChannel(snap, 'lab', 'pubchain', OPTS);
    expect(pre(plan, 'orderers agree')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^o2 could not be read/),
    });
    expect(plan.refusal).not.toBeNull();
  });

  it('refuses when no orderer position is known, or none persisted an offset', () => {
    expect(failed(planPadChannel(scenario({ positions: [] }), 'lab', 'pubchain', OPTS))).toContain(
      'orderers agree',
    );
    const none = planPadChannel(
      scenario({ positions: [position('o1', 'pubchain', null)] }),
      'lab',
      'pubchain',
      OPTS,
    );
    expect(pre(none, 'orderers agree')?.detail).toMatch(/no orderer has persisted a Kafka offset/);
    expect(none.refusal).not.toBeNull();
    // positions of another channel do not count
    const other = planPadChannel(scenario(), 'lab', 'otherchannel', OPTS);
    expect(pre(other, 'orderers agree')?.detail).toMatch(/no orderer position known for otherchannel/);
  });

  it('refuses when the partition has no leader', () => {
    const plan = planPadChannel(scenario({ partition: { leader: -1, isr: [0] } }), 'lab', 'pubchain', OPTS);
    expect(failed(plan)).toEqual(['partition has a live leader', 'ISR >= min.insync.replicas']);
    expect(pre(plan, 'partition has a live leader')?.detail).toBe('pubchain/0 has no leader (ZooKeeper)');
    expect(plan.steps).toEqual([]);
  });

  it('refuses when the leader is not a live broker', () => {
    const plan = planPadChannel(scenario({ registered: [1, 2, 3] }), 'lab', 'pubchain', OPTS);
    expect(failed(plan)).toEqual(['partition has a live leader']);
    expect(pre(plan, 'partition has a live leader')?.detail).toBe(
      'pubchain/0 leader broker 0 is not registered in /brokers/ids',
    );
  });

  it('refuses when the partition is unknown', () => {
    const plan = planPadChannel(scenario({ partition: null }), 'lab', 'pubchain', OPTS);
    expect(failed(plan)).toEqual(['partition has a live leader', 'ISR >= min.insync.replicas']);
  });

  it('refuses when the ISR is below min.insync.replicas (acks=all writes would fail)', () => {
    const plan = planPadChannel(scenario({ partition: { isr: [0] } }), 'lab', 'pubchain', OPTS);
    expect(failed(plan)).toEqual(['ISR >= min.insync.replicas']);
    expect(plan.refusal).toBe(
      'refused: ISR >= min.insync.replicas - ISR [0] has 1 of 3 replicas, min.insync.replicas = 2 (broker 0)',
    );
  });

  it("falls back to Kafka's default min.insync.replicas of 1 when no config was read", () => {
    const plan = planPadChannel(
      scenario({ partition: { isr: [0] }, brokerConfigs: {} }),
      'lab',
      'pubchain',
      OPTS,
    );
    expect(plan.refusal).toBeNull();
    expect(pre(plan, 'ISR >= min.insync.replicas')?.detail).toMatch(/= 1 \(Kafka's default/);
  });

  it('refuses when there is no gap (already padded, or the orderers are behind)', () => {
    for (const hw of [21, 30]) {
      const plan = planPadChannel(scenario({ offsets: { highWatermark: hw } }), 'lab', 'pubchain', OPTS);
      expect(failed(plan)).toEqual(['gap > 0', 'gap <= padMaxMessages']);
      expect(pre(plan, 'gap > 0')?.detail).toBe(
        `high watermark ${hw} is already at or past the expected offset 21: nothing to pad`,
      );
      expect(plan.steps).toEqual([]);
    }
  });

  it('refuses when the high watermark is unknown', () => {
    const plan = planPadChannel(
      scenario({ offsets: { highWatermark: undefined, error: 'broker 0: NOT_LEADER_FOR_PARTITION' } }),
      'lab',
      'pubchain',
      OPTS,
    );
    expect(pre(plan, 'gap > 0')?.detail).toBe(
      'high watermark of pubchain/0 unknown: broker 0: NOT_LEADER_FOR_PARTITION',
    );
    expect(plan.refusal).not.toBeNull();
  });

  it('refuses a gap larger than padMaxMessages', () => {
    const plan = planPadChannel(scenario(), 'lab', 'pubchain', { padMaxMessages: 9 });
    expect(failed(plan)).toEqual(['gap <= padMaxMessages']);
    expect(pre(plan, 'gap <= padMaxMessages')?.detail).toBe(
      '10 messages to produce; the limit (repairs.padMaxMessages) is 9',
    );
    expect(plan.steps).toEqual([]);
    // exactly at the limit is allowed
    expect(planPadChannel(scenario(), 'lab', 'pubchain', { padMaxMessages: 10 }).refusal).toBeNull();
  });

  it('lists every failed precondition in the refusal', () => {
    const plan = planPadChannel(
      scenario({ partition: { leader: -1, isr: [] }, offsets: { highWatermark: 25 } }),
      'lab',
      'pubchain',
      OPTS,
    );
    expect(failed(plan)).toEqual([
      'partition has a live leader',
      'ISR >= min.insync.replicas',
      'gap > 0',
      'gap <= padMaxMessages',
    ]);
    expect(plan.refusal?.split('; ')).toHaveLength(4);
  });
});
