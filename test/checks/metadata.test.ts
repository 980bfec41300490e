/** METADATA_DIVERGENCE: ZooKeeper against each broker's Metadata answer (seed 001). */
import { describe, expect, it } from 'vitest';
import { metadataDivergenceChecks, runChecks } from '../../src/checks/index.js';
import { setBrokerView, setPartition, snap } from '../fixtures/snapshots/builder.js';

describe('METADATA_DIVERGENCE', () => {
  it('seed 001: ZooKeeper shows a leader, every broker answers LEADER_NOT_AVAILABLE (grouped in one sentence)', () => {
    const s = snap((s) => {
      for (const b of [1, 2, 3, 4]) setBrokerView(s, b, 'pubchain', 0, { errorCode: 5, leader: -1, isr: [] });
    });
    const f = metadataDivergenceChecks(s);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ severity: 'critical', subject: { topic: 'pubchain', partition: 0 } });
    expect(f[0]!.summary).toBe(
      'pubchain/0: ZooKeeper says leader 2, ISR [2,3,4], but brokers 1, 2, 3 and 4 answer LEADER_NOT_AVAILABLE (5)',
    );
    expect(f[0]!.explanation).toMatch(/kafka-topics.sh --describe reads ZooKeeper/);
    expect(f[0]!.explanation).toMatch(/seed 001/);
    expect(f[0]!.evidence['brokers']).toMatchObject({ '1': { errorCode: 5, leader: -1 } });
  });

  it('one broker with a stale leader', () => {
    const s = snap((s) => setBrokerView(s, 4, 'testchainid', 0, { leader: 2 }));
    const f = metadataDivergenceChecks(s);
    expect(f.map((x) => x.summary)).toEqual([
      'testchainid/0: ZooKeeper says leader 1, ISR [1,2,3], but broker 4 says leader 2',
    ]);
    expect(f[0]!.severity).toBe('critical');
  });

  it('an ISR-only difference is a warning (it can be propagation lag)', () => {
    const s = snap((s) => setBrokerView(s, 4, 'testchainid', 0, { isr: [1, 2] }));
    const f = metadataDivergenceChecks(s);
    expect(f.map((x) => x.severity)).toEqual(['warning']);
    expect(f[0]!.explanation).toMatch(/transient/);
  });

  it('no divergence when ZooKeeper has no leader and the brokers say LEADER_NOT_AVAILABLE', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { leader: -1, isr: [2] }));
    expect(metadataDivergenceChecks(s)).toEqual([]);
  });

  it('REPLICA_NOT_AVAILABLE (9) with the right leader is not a divergence', () => {
    const s = snap((s) => setBrokerView(s, 1, 'pubchain', 0, { errorCode: 9 }));
    expect(metadataDivergenceChecks(s)).toEqual([]);
  });

  it('a broker that does not know the topic, or answers a topic error', () => {
    const s = snap((s) => {
      const v = s.kafka!.views[2]!;
      v.partitions = v.partitions!.filter((p) => p.topic !== 'pubchain');
      const w = s.kafka!.views[3]!;
      w.partitions = w.partitions!.filter((p) => p.topic !== 'pubchain');
      w.topicErrors = { pubchain: 3 };
    });
    expect(metadataDivergenceChecks(s).map((f) => f.summary)).toEqual([
      'pubchain/0: ZooKeeper says leader 2, ISR [2,3,4], but broker 3 does not know the topic; broker 4 answers ' +
        'UNKNOWN_TOPIC_OR_PARTITION (3) for the topic',
    ]);
  });

  it('topics no broker was asked about are not compared (a gatherer may ask for the channels only)', () => {
    const s = snap((s) => {
      for (const v of s.kafka!.views) v.partitions = v.partitions!.filter((p) => p.topic !== 'pubchain');
    });
    expect(metadataDivergenceChecks(s)).toEqual([]);
  });

  it('a replica list difference during a reassignment is expected', () => {
    const s = snap((s) => {
      setBrokerView(s, 1, 'pubchain', 0, { replicas: [2, 3, 4, 1] });
      s.zookeeper!.reassignment = [{ topic: 'pubchain', partition: 0, replicas: [2, 3, 1] }];
    });
    expect(metadataDivergenceChecks(s)).toEqual([]);
  });

  it("brokers missing from a broker's metadata", () => {
    const s = snap((s) => {
      const v = s.kafka!.views[0]!;
      v.brokers = v.brokers!.filter((b) => b.id !== 3 && b.id !== 4);
    });
    const f = metadataDivergenceChecks(s);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ severity: 'critical', subject: { broker: 1 } });
    expect(f[0]!.summary).toBe(
      "Broker 1's metadata lacks registered brokers 3 and 4 (ZooKeeper has [1,2,3,4])",
    );
  });

  it('brokers disagreeing on the controller', () => {
    const s = snap((s) => {
      s.kafka!.views[2]!.controllerId = 3;
      s.kafka!.views[3]!.controllerId = -1;
    });
    const f = metadataDivergenceChecks(s);
    expect(f.map((x) => x.summary)).toEqual([
      'Brokers disagree on the controller: ZooKeeper says broker 1; broker 3 says 3, broker 4 says none (-1)',
    ]);
  });

  it('ZooKeeper inconsistent with itself: ISR outside the replicas, leader not in the ISR', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { isr: [3, 4, 7] }));
    const f = metadataDivergenceChecks(s);
    expect(f).toHaveLength(1);
    expect(f[0]!.summary).toMatch(
      /^pubchain\/0: ZooKeeper's state is inconsistent: it has broker 7 in the ISR/,
    );
    expect(f[0]!.summary).toMatch(/names leader 2, which is not in the ISR \[3,4,7\]/);
  });

  it('the same broker asked twice (bootstrap and advertised address) is named once', () => {
    const s = snap((s) => {
      setBrokerView(s, 1, 'pubchain', 0, { leader: 3 });
      s.kafka!.views.push({ ...structuredClone(s.kafka!.views[0]!), address: 'localhost:19092' });
    });
    expect(metadataDivergenceChecks(s)[0]!.summary).toBe(
      'pubchain/0: ZooKeeper says leader 2, ISR [2,3,4], but broker 1 says leader 3',
    );
  });

  it('nothing is compared without ZooKeeper or without Kafka', () => {
    const noZk = snap((s) => {
      setBrokerView(s, 1, 'pubchain', 0, { leader: 3 });
      s.zookeeper = null;
      s.sources.zookeeper = { ok: false, error: 'x' };
    });
    expect(runChecks(noZk).map((f) => f.code)).toEqual(['SOURCE_UNAVAILABLE']);
    const noKafka = snap((s) => {
      s.kafka = null;
      s.sources.kafka = { ok: false, error: 'x' };
    });
    expect(metadataDivergenceChecks(noKafka)).toEqual([]);
  });
});
