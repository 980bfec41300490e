import { describe, expect, it } from 'vitest';
import { runChecks } from '../../src/checks/index.js';
import type { Report } from '../../src/model/index.js';
import { buildReport } from '../../src/render/report.js';
import { addTopic, healthy, setPartition, snap, stopBroker } from '../fixtures/snapshots/builder.js';

const report = (s = healthy()): Report => buildReport(s, runChecks(s));

describe('buildReport: the contract JSON', () => {
  it('has exactly the contract keys, in every part', () => {
    const r = report(snap((s) => setPartition(s, 'pubchain', 0, { isr: [2, 3] })));
    expect(Object.keys(r).sort()).toEqual(
      [
        'brokers',
        'cluster',
        'controller',
        'findings',
        'generatedAt',
        'orderers',
        'partitions',
        'scope',
        'sources',
      ].sort(),
    );
    expect(Object.keys(r.brokers[0]!).sort()).toEqual(
      ['host', 'id', 'port', 'reachable', 'registered'].sort(),
    );
    expect(Object.keys(r.partitions[0]!).sort()).toEqual(
      ['highWatermark', 'isr', 'leader', 'logStartOffset', 'minIsr', 'partition', 'replicas', 'topic'].sort(),
    );
    expect(Object.keys(r.orderers[0]!).sort()).toEqual(
      ['blockHeight', 'channel', 'expectedStartOffset', 'lastOffsetPersisted', 'name', 'source'].sort(),
    );
    expect(Object.keys(r.findings[0]!).sort()).toEqual(
      ['code', 'evidence', 'explanation', 'repairs', 'severity', 'subject', 'summary'].sort(),
    );
    // JSON round trip: nothing undefined or unserialisable.
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it('the healthy cluster', () => {
    const r = report();
    expect(r).toMatchObject({
      cluster: 'lab',
      generatedAt: '2026-11-21T10:00:00.000Z',
      scope: {},
      sources: { kafka: { ok: true, ms: 14 }, zookeeper: { ok: true, ms: 6 } },
      controller: 1,
      findings: [],
    });
    expect(r.brokers).toEqual(
      [1, 2, 3, 4].map((id) => ({
        id,
        host: '127.0.0.1',
        port: 19091 + id,
        registered: true,
        reachable: true,
      })),
    );
    expect(r.partitions).toEqual([
      {
        topic: 'pubchain',
        partition: 0,
        leader: 2,
        replicas: [2, 3, 4],
        isr: [2, 3, 4],
        minIsr: 2,
        highWatermark: 32,
        logStartOffset: 0,
      },
      {
        topic: 'testchainid',
        partition: 0,
        leader: 1,
        replicas: [1, 2, 3],
        isr: [1, 2, 3],
        minIsr: 2,
        highWatermark: 120,
        logStartOffset: 0,
      },
    ]);
    expect(r.orderers).toEqual([
      {
        name: 'orderer1.example.com',
        channel: 'pubchain',
        lastOffsetPersisted: 20,
        expectedStartOffset: 21,
        blockHeight: 9,
        source: 'metrics',
      },
      {
        name: 'orderer1.example.com',
        channel: 'testchainid',
        lastOffsetPersisted: 118,
        expectedStartOffset: 119,
        blockHeight: 30,
        source: 'metrics',
      },
    ]);
  });

  it('a stopped broker: not registered, not reachable; leader -1 becomes null; offsets unknown', () => {
    const r = report(
      snap((s) => {
        addTopic(s, 'solo', 1, 1, { brokers: [4] });
        stopBroker(s, 4);
      }),
    );
    expect(r.brokers.find((b) => b.id === 4)).toEqual({
      id: 4,
      host: null,
      port: null,
      registered: false,
      reachable: false,
    });
    expect(r.partitions.find((p) => p.topic === 'solo')).toEqual({
      topic: 'solo',
      partition: 0,
      leader: null,
      replicas: [4],
      isr: [4],
      minIsr: 2,
      highWatermark: null,
      logStartOffset: null,
    });
    expect(r.findings[0]!.severity).toBe('critical');
  });

  it('brokers: the union of the inventory, ZooKeeper and metadata', () => {
    const r = report(
      snap((s) => {
        s.expected.brokerIds = [1, 2, 3, 4, 5];
        s.zookeeper!.brokers.push({
          id: 6,
          host: '10.0.0.6',
          port: 9092,
          endpoints: ['PLAINTEXT://10.0.0.6:9092'],
          rack: 'r2',
        });
      }),
    );
    expect(r.brokers.map((b) => [b.id, b.registered])).toEqual([
      [1, true],
      [2, true],
      [3, true],
      [4, true],
      [5, false],
      [6, true],
    ]);
    expect(r.brokers.find((b) => b.id === 6)).toEqual({
      id: 6,
      host: '10.0.0.6',
      port: 9092,
      registered: true,
      reachable: null,
      rack: 'r2',
    });
  });

  it('scoped to a channel: its partition, its orderers, the brokers holding it', () => {
    const r = report(
      snap((s) => {
        s.scope = { channel: 'testchainid' };
        setPartition(s, 'pubchain', 0, { isr: [2] });
      }),
    );
    expect(r.scope).toEqual({ channel: 'testchainid' });
    expect(r.partitions.map((p) => p.topic)).toEqual(['testchainid']);
    expect(r.orderers.map((o) => o.channel)).toEqual(['testchainid']);
    expect(r.brokers.map((b) => b.id)).toEqual([1, 2, 3]);
    expect(r.findings).toEqual([]);
  });

  it('ZooKeeper down: controller and partitions from the brokers, findings say what was not checked', () => {
    const r = report(
      snap((s) => {
        s.zookeeper = null;
        s.sources.zookeeper = { ok: false, error: 'ECONNREFUSED' };
      }),
    );
    expect(r.sources.zookeeper).toEqual({ ok: false, error: 'ECONNREFUSED' });
    expect(r.controller).toBe(1);
    expect(r.partitions.map((p) => `${p.topic} ${p.leader} ${p.isr.join(',')}`)).toEqual([
      'pubchain 2 2,3,4',
      'testchainid 1 1,2,3',
    ]);
    expect(r.brokers.every((b) => b.registered)).toBe(true);
    expect(r.findings.map((f) => f.code)).toEqual(['SOURCE_UNAVAILABLE']);
  });

  it('Kafka down: no offsets, reachability unknown', () => {
    const r = report(
      snap((s) => {
        s.kafka = null;
        s.reachability = [];
        s.sources.kafka = { ok: false, error: 'no broker answered' };
      }),
    );
    expect(r.partitions[0]).toMatchObject({ highWatermark: null, logStartOffset: null, minIsr: null });
    expect(r.brokers[0]!.reachable).toBeNull();
  });
});
