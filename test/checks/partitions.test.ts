import { describe, expect, it } from 'vitest';
import { COLLAPSE_AT, partitionStateChecks, runChecks } from '../../src/checks/index.js';
import type { Finding } from '../../src/model/index.js';
import { addTopic, setPartition, setTopicConfig, snap, stopBroker } from '../fixtures/snapshots/builder.js';

const about = (findings: Finding[], topic: string, partition?: number) =>
  findings.filter(
    (f) => f.subject.topic === topic && (partition === undefined || f.subject.partition === partition),
  );

describe('PARTITION_OFFLINE', () => {
  it('RF=1 topic whose broker was killed (seed 002): names the dead broker, no failover, drain first', () => {
    const s = snap((s) => {
      addTopic(s, 'solo', 1, 1, { brokers: [3] });
      stopBroker(s, 3);
    });
    const f = about(runChecks(s), 'solo', 0);
    expect(f.map((x) => x.code)).toEqual(['PARTITION_OFFLINE']);
    const offline = f[0]!;
    expect(offline.severity).toBe('critical');
    expect(offline.summary).toContain('solo/0');
    expect(offline.summary).toContain('broker 3');
    expect(offline.explanation).toMatch(/no failover/);
    expect(offline.explanation).toMatch(/until broker 3 returns/);
    expect(offline.explanation).toMatch(/drain-broker/);
    expect(offline.explanation).toMatch(/seed 002/);
    expect(offline.repairs.map((r) => r.kind)).toEqual(['restart-container', 'raise-replication']);
    expect(offline.repairs[1]!.args).toEqual({ topic: 'solo' });
  });

  it('does not also report SINGLE_REPLICA when every RF=1 partition of the topic is offline', () => {
    const s = snap((s) => {
      addTopic(s, 'solo', 1, 1, { brokers: [3] });
      stopBroker(s, 3);
    });
    expect(runChecks(s).filter((f) => f.code === 'SINGLE_REPLICA')).toEqual([]);
  });

  it('all in-sync replicas down: names the brokers that must return, ISR kept by Kafka', () => {
    const s = snap((s) => {
      setPartition(s, 'pubchain', 0, { isr: [2] }); // 3 and 4 fell out of sync earlier
      stopBroker(s, 2);
    });
    const f = about(runChecks(s), 'pubchain', 0);
    expect(f.map((x) => x.code)).toEqual(['PARTITION_OFFLINE']);
    expect(f[0]!.summary).toMatch(/broker 2 is down/);
    expect(f[0]!.explanation).toMatch(/brokers 3 and 4 are out of sync/);
    expect(f[0]!.explanation).toMatch(/[Uu]nclean/);
    expect(f[0]!.repairs).toEqual([
      expect.objectContaining({ kind: 'restart-container', args: { broker: 2 } }),
    ]);
  });

  it('leader not registered while an in-sync replica is up: the controller did not elect, suggest an election', () => {
    const s = snap((s) => {
      setPartition(s, 'pubchain', 0, { leader: 9, isr: [2, 3, 4] }, { zkOnly: true });
    });
    const f = about(partitionStateChecks(s), 'pubchain', 0);
    expect(f[0]!.code).toBe('PARTITION_OFFLINE');
    expect(f[0]!.explanation).toMatch(/would elect broker 2/);
    expect(f[0]!.repairs[0]).toMatchObject({
      kind: 'preferred-leader-election',
      args: { topic: 'pubchain', partition: 0 },
    });
  });

  it('leader -1 with an empty ISR', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { leader: -1, isr: [] }));
    const f = about(partitionStateChecks(s), 'pubchain', 0);
    expect(f.map((x) => x.code)).toEqual(['PARTITION_OFFLINE']);
    expect(f[0]!.summary).toMatch(/empty ISR/);
  });

  it('missing state znode (leader null)', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { leader: null, isr: [] }, { zkOnly: true }));
    const f = about(partitionStateChecks(s), 'pubchain', 0);
    expect(f[0]!.code).toBe('PARTITION_OFFLINE');
    expect(f[0]!.summary).toMatch(/no partition state/);
  });

  it('an offline partition is not also reported under min ISR or under-replicated', () => {
    const s = snap((s) => {
      stopBroker(s, 2);
      stopBroker(s, 3);
      stopBroker(s, 4);
    });
    const codes = about(runChecks(s), 'pubchain', 0).map((f) => f.code);
    expect(codes).toEqual(['PARTITION_OFFLINE']);
  });
});

describe('UNDER_MIN_ISR / AT_MIN_ISR / UNDER_REPLICATED', () => {
  it('under min ISR: quotes the producer error and says which brokers must come back', () => {
    const s = snap((s) => {
      stopBroker(s, 3);
      stopBroker(s, 4);
    });
    const f = about(runChecks(s), 'pubchain', 0);
    expect(f.map((x) => x.code)).toEqual(['UNDER_MIN_ISR']);
    expect(f[0]!.severity).toBe('critical');
    expect(f[0]!.summary).toMatch(/1 in-sync replica \(broker 2\) but min.insync.replicas is 2/);
    expect(f[0]!.explanation).toContain(
      'Messages are rejected since there are fewer in-sync replicas than required',
    );
    expect(f[0]!.explanation).toMatch(/acks=all/);
    expect(f[0]!.explanation).toMatch(/start one of brokers 3 and 4/);
    expect(f[0]!.repairs.map((r) => r.args['broker'])).toEqual([3, 4]);
  });

  it('min ISR above the replication factor: writes can never succeed, a config error to fix, not brokers to wait for', () => {
    const s = snap((s) => addTopic(s, 'solo', 1, 1, { brokers: [3] })); // inherits min.insync.replicas=2
    const f = about(partitionStateChecks(s), 'solo', 0);
    expect(f.map((x) => x.code)).toEqual(['UNDER_MIN_ISR']);
    expect(f[0]!.summary).toBe(
      'solo/0 has 1 in-sync replica (broker 3) but min.insync.replicas is 2: acks=all writes are rejected ' +
        '(replication factor 1)',
    );
    expect(f[0]!.explanation).toMatch(/above the replication factor \(1\): even with every replica in sync/);
    expect(f[0]!.explanation).not.toMatch(/Do not lower/);
    expect(f[0]!.repairs.map((r) => r.kind)).toEqual(['raise-replication']);
  });

  it('a live but lagging replica is named as lagging, not down', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { isr: [2] }));
    const f = about(runChecks(s), 'pubchain', 0);
    expect(f[0]!.code).toBe('UNDER_MIN_ISR');
    expect(f[0]!.summary).toMatch(/brokers 3 and 4 lagging/);
    expect(f[0]!.repairs).toEqual([]);
  });

  it('min ISR comes from the topic override before the broker default', () => {
    const s = snap((s) => {
      setTopicConfig(s, 'pubchain', 'min.insync.replicas', '3');
      setPartition(s, 'pubchain', 0, { isr: [2, 3] });
    });
    const f = about(partitionStateChecks(s), 'pubchain', 0);
    expect(f[0]!.code).toBe('UNDER_MIN_ISR');
    expect(f[0]!.evidence['minIsr']).toBe(3);
  });

  it('min ISR from ZooKeeper overrides alone (no Kafka topic configs)', () => {
    const s = snap((s) => {
      delete s.kafka!.topicConfigs['pubchain'];
      s.zookeeper!.topicConfigs['pubchain'] = { 'min.insync.replicas': '3' };
      setPartition(s, 'pubchain', 0, { isr: [2, 3] });
    });
    expect(about(partitionStateChecks(s), 'pubchain', 0)[0]!.code).toBe('UNDER_MIN_ISR');
  });

  it('at min ISR: one more loss blocks writes (reported once, not also under-replicated)', () => {
    const s = snap((s) => stopBroker(s, 4));
    const f = about(runChecks(s), 'pubchain', 0);
    expect(f.map((x) => x.code)).toEqual(['AT_MIN_ISR']);
    expect(f[0]!.summary).toMatch(/losing broker 2 or 3 blocks writes/);
  });

  it('under-replicated above min ISR', () => {
    const s = snap((s) => {
      setTopicConfig(s, 'pubchain', 'min.insync.replicas', '2');
      setPartition(s, 'pubchain', 0, { replicas: [2, 3, 4, 1], isr: [2, 3, 4] });
    });
    const f = about(runChecks(s), 'pubchain', 0);
    expect(f.map((x) => x.code)).toEqual(['UNDER_REPLICATED']);
    expect(f[0]!.summary).toBe('pubchain/0 has 3 of 4 replicas in sync (broker 1 out)');
  });

  it('without known min ISR, only UNDER_REPLICATED is possible', () => {
    const s = snap((s) => {
      s.kafka!.brokerConfigs = {};
      s.kafka!.topicConfigs = {};
      setPartition(s, 'pubchain', 0, { isr: [2] });
    });
    const f = about(partitionStateChecks(s), 'pubchain', 0);
    expect(f.map((x) => x.code)).toEqual(['UNDER_REPLICATED']);
    expect(f[0]!.evidence['minIsr']).toBeNull();
  });

  it('an ISR member that is not registered does not count as in sync', () => {
    const s = snap((s) => {
      s.zookeeper!.brokers = s.zookeeper!.brokers.filter((b) => b.id !== 4 && b.id !== 3);
    });
    const f = about(partitionStateChecks(s), 'pubchain', 0);
    expect(f[0]!.code).toBe('UNDER_MIN_ISR');
    expect(f[0]!.evidence['isr']).toEqual([2, 3, 4]);
    expect(f[0]!.evidence['inSync']).toEqual([2]);
  });
});

describe('odd partition state', () => {
  it('unknown broker id in a replica list: named in the explanation and evidence', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { replicas: [2, 3, 9], isr: [2, 3] }));
    const f = about(partitionStateChecks(s), 'pubchain', 0);
    expect(f[0]!.code).toBe('AT_MIN_ISR');
    expect(f[0]!.evidence['unknownBrokers']).toEqual([9]);
    expect(f[0]!.explanation).toMatch(/Broker 9 is not in the inventory/);
  });

  it('leader outside the replicas: not offline when the leader is live, reported as divergence', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { leader: 1 }, { zkOnly: true }));
    const f = about(runChecks(s), 'pubchain', 0);
    expect(f.map((x) => x.code)).toContain('METADATA_DIVERGENCE');
    expect(f.map((x) => x.code)).not.toContain('PARTITION_OFFLINE');
    const d = f.find((x) => x.code === 'METADATA_DIVERGENCE')!;
    expect(d.summary).toMatch(/leader 1, which is not one of the replicas \[2,3,4\]/);
  });
});

describe('SINGLE_REPLICA', () => {
  it('one finding per topic, naming partitions and brokers, suggesting raise-replication', () => {
    const s = snap((s) => addTopic(s, 'solo', 3, 1));
    const f = runChecks(s).filter((x) => x.code === 'SINGLE_REPLICA');
    expect(f).toHaveLength(1);
    expect(f[0]!.subject).toEqual({ topic: 'solo' });
    expect(f[0]!.summary).toMatch(/partition 0 on broker 1, 1 on broker 2, 2 on broker 3/);
    expect(f[0]!.repairs).toEqual([
      expect.objectContaining({ kind: 'raise-replication', args: { topic: 'solo' } }),
    ]);
  });
});

describe('many partitions', () => {
  it(`collapses more than ${COLLAPSE_AT} partitions of one topic into one finding`, () => {
    const s = snap((s) => {
      addTopic(s, 'wide', 40, 3);
      stopBroker(s, 4);
    });
    const f = runChecks(s).filter((x) => x.subject.topic === 'wide');
    expect(f).toHaveLength(1);
    expect(f[0]!.code).toBe('AT_MIN_ISR');
    expect(f[0]!.subject).toEqual({ topic: 'wide' });
    expect(f[0]!.evidence['count']).toBe(30);
    expect(f[0]!.summary).toMatch(
      /^wide: 30 partitions at min.insync.replicas \(e\.g\. wide\/\d+ is at its minimum/,
    );
    expect(f[0]!.repairs).toEqual([
      expect.objectContaining({ kind: 'restart-container', args: { broker: 4 } }),
    ]);
  });

  it('10,000 partitions with a broker down: a handful of findings, channels kept apart', () => {
    const s = snap((s) => {
      for (let t = 0; t < 100; t++) addTopic(s, `bulk-${t}`, 100, 3);
      stopBroker(s, 3);
    });
    expect(s.zookeeper!.partitions.length).toBe(10_002);
    const f = runChecks(s);
    expect(f.length).toBeLessThan(10);
    const cluster = f.find((x) => x.code === 'AT_MIN_ISR' && x.subject.topic === undefined)!;
    expect(cluster.evidence['count']).toBe(7500);
    expect(Object.keys(cluster.evidence['topics'] as object)).toHaveLength(100);
    expect(f.some((x) => x.code === 'AT_MIN_ISR' && x.subject.topic === 'testchainid')).toBe(true);
  });
});
