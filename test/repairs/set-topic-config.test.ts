import { describe, expect, it } from 'vitest';
import { repairKind } from '../../src/repairs/registry.js';
import { planSetTopicConfig, valueSafety, verifySetTopicConfig } from '../../src/repairs/set-topic-config.js';
import {
  addTopic,
  setBrokerConfig,
  setPartition,
  setTopicConfig,
  snap,
} from '../fixtures/snapshots/builder.js';

const refusalOf = (...a: Parameters<typeof planSetTopicConfig>) => planSetTopicConfig(...a).refusal;

describe('set-topic-config planner', () => {
  it('plans one set-topic-config step with the value read back as the expected result', () => {
    const s = snap((x) => setBrokerConfig(x, 'log.flush.interval.messages', '9223372036854775807'));
    const plan = planSetTopicConfig(s, 'lab', 'pubchain', 'flush.messages', '1');
    expect(plan.refusal).toBeNull();
    expect(plan.steps).toEqual([
      { action: 'set-topic-config', topic: 'pubchain', configs: { 'flush.messages': '1' } },
    ]);
    expect(plan.expected).toEqual({ topic: 'pubchain', configs: { 'flush.messages': '1' } });
    expect(plan.preconditions.find((p) => p.check === 'value differs from the override')?.detail).toMatch(
      /no override; 9223372036854775807 inherited from the broker's log.flush.interval.messages -> override 1/,
    );
    expect(plan.rollback).toMatch(/Remove the override flush.messages from pubchain/);
  });

  it('refuses values that make a channel less safe', () => {
    const s = snap();
    expect(refusalOf(s, 'lab', 'pubchain', 'unclean.leader.election.enable', 'true')).toMatch(
      /only "false" is allowed/,
    );
    expect(refusalOf(s, 'lab', 'pubchain', 'min.insync.replicas', '3')).toMatch(
      /not below the replication factor 3/,
    );
    expect(refusalOf(s, 'lab', 'pubchain', 'min.insync.replicas', '1')).toMatch(
      /single broker; Fabric requires 1 </,
    );
    expect(refusalOf(s, 'lab', 'pubchain', 'min.insync.replicas', '0')).toMatch(/meaningless/);
    expect(refusalOf(s, 'lab', 'pubchain', 'min.insync.replicas', 'two')).toMatch(/must be an integer/);
    expect(refusalOf(s, 'lab', 'pubchain', 'retention.ms', '604800000')).toMatch(/only -1 is allowed/);
    expect(refusalOf(s, 'lab', 'pubchain', 'retention.bytes', '1073741824')).toMatch(/only -1 is allowed/);
    expect(refusalOf(s, 'lab', 'pubchain', 'cleanup.policy', 'compact')).toMatch(/only "delete" is allowed/);
    // The brokers flush every message (log.flush.interval.messages=1): 10 would be worse.
    expect(refusalOf(s, 'lab', 'pubchain', 'flush.messages', '10')).toMatch(
      /flushes less often than now \(1\)/,
    );
  });

  it('refuses a min.insync.replicas the current ISR does not meet (writes would stop at once)', () => {
    const s = snap((x) => {
      addTopic(x, 'wide', 1, 4);
      setPartition(x, 'wide', 0, { isr: [1, 2] });
    });
    expect(refusalOf(s, 'lab', 'wide', 'min.insync.replicas', '3')).toMatch(
      /only 2 in-sync replica\(s\) now/,
    );
    expect(refusalOf(s, 'lab', 'wide', 'min.insync.replicas', '2')).toBeNull();
  });

  it('nothing to do when the override is already there; unknown topic', () => {
    const s = snap((x) => setTopicConfig(x, 'pubchain', 'min.insync.replicas', '2'));
    expect(refusalOf(s, 'lab', 'pubchain', 'min.insync.replicas', '2')).toMatch(
      /already has the override min.insync.replicas=2: nothing to do/,
    );
    expect(refusalOf(s, 'lab', 'nope', 'retention.ms', '-1')).toMatch(/no topic nope/);
    const noZk = snap((x) => {
      x.zookeeper = null;
      x.sources.zookeeper = { ok: false, error: 'ZooKeeper 127.0.0.1:2181: no session within 3000 ms' };
    });
    expect(refusalOf(noZk, 'lab', 'pubchain', 'retention.ms', '-1')).toMatch(
      /topic overrides unknown: ZooKeeper 127\.0\.0\.1:2181: no session/,
    );
  });

  it('says how it will write: AlterConfigs when every broker has API 33, else ZooKeeper', () => {
    const s = snap((x) => {
      x.kafka!.apiVersions = { 1: { 33: [0, 1] }, 2: { 33: [0, 1] } };
    });
    const path = (p: ReturnType<typeof planSetTopicConfig>) =>
      p.preconditions.find((c) => c.check === 'write path')?.detail;
    expect(path(planSetTopicConfig(s, 'lab', 'pubchain', 'retention.ms', '-1'))).toMatch(
      /^AlterConfigs \(API 33\)/,
    );
    s.kafka!.apiVersions = { 1: { 32: [0, 0] } };
    expect(path(planSetTopicConfig(s, 'lab', 'pubchain', 'retention.ms', '-1'))).toMatch(
      /^ZooKeeper \/config\/topics/,
    );
  });

  it('verification reads the override in ZooKeeper and the effective value from the brokers', () => {
    const s = snap();
    const plan = planSetTopicConfig(s, 'lab', 'pubchain', 'min.insync.replicas', '2');
    expect(verifySetTopicConfig(s, plan)).toMatchObject({
      ok: false,
      detail: /override min.insync.replicas is absent/,
    });
    setTopicConfig(s, 'pubchain', 'min.insync.replicas', '2');
    expect(verifySetTopicConfig(s, plan).ok).toBe(true);
    s.kafka!.topicConfigs['pubchain']!['min.insync.replicas'] = '1';
    expect(verifySetTopicConfig(s, plan)).toMatchObject({
      ok: false,
      detail: /the brokers report min.insync.replicas=1/,
    });
  });

  it('valueSafety on its own', () => {
    expect(
      valueSafety({ key: 'flush.messages', value: '1', minRf: 3, minIsrSize: 3, current: undefined }).ok,
    ).toBe(true);
    expect(
      valueSafety({ key: 'min.insync.replicas', value: '2', minRf: 2, minIsrSize: 2, current: undefined })
        .detail,
    ).toMatch(/raise-replication first/);
  });

  it('parses <topic> <key> <value> and only the keys Fabric depends on', () => {
    const k = repairKind('set-topic-config');
    expect(k.parseArgs(['pubchain', 'retention.ms', '-1'])).toEqual({
      topic: 'pubchain',
      key: 'retention.ms',
      value: '-1',
    });
    expect(() => k.parseArgs(['pubchain', 'max.message.bytes', '1'])).toThrow(
      /sets only the keys Fabric's channels depend on/,
    );
    expect(() => k.parseArgs(['pubchain', 'retention.ms'])).toThrow(/takes <topic> <key> <value>/);
  });
});
