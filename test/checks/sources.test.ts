/** SOURCE_UNAVAILABLE and what the checks do when a source is missing. */
import { describe, expect, it } from 'vitest';
import { runChecks, sourceChecks } from '../../src/checks/index.js';
import { setPartition, snap, stopBroker } from '../fixtures/snapshots/builder.js';

describe('SOURCE_UNAVAILABLE', () => {
  it('ZooKeeper down, Kafka up: a warning that says what was not checked; no finding from absence', () => {
    const s = snap((s) => {
      // The brokers' metadata says the partition has no leader; without ZooKeeper the partition checks do not
      // run (the rule is: no ZooKeeper view, no partition-state findings).
      setPartition(s, 'pubchain', 0, { leader: -1 });
      s.zookeeper = null;
      s.sources.zookeeper = { ok: false, ms: 3001, error: 'connect ECONNREFUSED 127.0.0.1:12181' };
    });
    const f = runChecks(s);
    expect(f.map((x) => [x.code, x.severity, x.subject])).toEqual([
      ['SOURCE_UNAVAILABLE', 'warning', { source: 'zookeeper' }],
    ]);
    expect(f[0]!.summary).toMatch(
      /^ZooKeeper \(127.0.0.1:12181,127.0.0.1:12182,127.0.0.1:12183\) could not be read/,
    );
    expect(f[0]!.explanation).toMatch(/Partition state .* were not checked/);
    expect(f[0]!.evidence).toMatchObject({ error: 'connect ECONNREFUSED 127.0.0.1:12181', ms: 3001 });
  });

  it('Kafka down, ZooKeeper up: a warning; ZooKeeper findings still reported', () => {
    const s = snap((s) => {
      s.kafka = null;
      s.reachability = [];
      s.sources.kafka = { ok: false, error: 'no broker answered: 127.0.0.1:19092 (ECONNREFUSED)' };
      stopBroker(s, 4);
    });
    const codes = runChecks(s).map((x) => `${x.severity} ${x.code}`);
    expect(codes).toContain('warning SOURCE_UNAVAILABLE');
    expect(codes).toContain('critical BROKER_NOT_REGISTERED');
    expect(codes.filter((c) => c.includes('CONFIG_'))).toEqual([]);
  });

  it('ZooKeeper and Kafka both down: critical', () => {
    const s = snap((s) => {
      s.kafka = null;
      s.zookeeper = null;
      s.reachability = [];
      s.orderers = null;
      s.sources = {
        kafka: { ok: false, error: 'no broker answered' },
        zookeeper: { ok: false, error: 'ECONNREFUSED' },
      };
    });
    const f = runChecks(s);
    expect(f.map((x) => [x.severity, x.subject])).toEqual([
      ['critical', { source: 'kafka' }],
      ['critical', { source: 'zookeeper' }],
    ]);
  });

  it('a missing part with no status is treated as unavailable ("no data was gathered")', () => {
    const s = snap((s) => {
      s.kafka = null;
      delete s.sources.kafka;
    });
    expect(sourceChecks(s).map((x) => x.summary)).toEqual([expect.stringMatching(/no data was gathered/)]);
  });

  it('Docker or orderers not configured (no status) say nothing; failed they are warnings', () => {
    expect(sourceChecks(snap())).toEqual([]);
    const s = snap((s) => {
      s.sources.docker = { ok: false, error: 'connect ENOENT /var/run/docker.sock' };
    });
    expect(sourceChecks(s).map((x) => [x.severity, x.summary])).toEqual([
      ['warning', 'Docker could not be read: connect ENOENT /var/run/docker.sock'],
    ]);
  });

  it('notChecked of a source that answered: one info finding listing them', () => {
    const s = snap((s) => {
      s.sources.kafka = {
        ok: true,
        ms: 20,
        notChecked: ['broker 3 configs: the broker lacks DescribeConfigs'],
      };
    });
    const f = sourceChecks(s);
    expect(f.map((x) => [x.severity, x.subject])).toEqual([['info', { source: 'kafka' }]]);
    expect(f[0]!.summary).toMatch(/not checked: broker 3 configs/);
    expect(f[0]!.evidence['notChecked']).toEqual(['broker 3 configs: the broker lacks DescribeConfigs']);
  });

  it('says when broker configs could not be read (CONFIG_* skipped) and when offsets could not', () => {
    const s = snap((s) => {
      s.kafka!.brokerConfigs = {};
      const o = s.kafka!.offsets[0]!;
      delete o.highWatermark;
      o.error = 'request timed out';
    });
    const items = sourceChecks(s)[0]!.evidence['notChecked'] as string[];
    expect(items).toEqual([
      expect.stringMatching(/broker configs .* CONFIG_\* checks were skipped/),
      'offsets of 1 partition: pubchain/0 (request timed out)',
    ]);
  });

  it('offsets of an offline partition are not reported as unreadable (there is no leader to ask)', () => {
    const s = snap((s) => {
      setPartition(s, 'pubchain', 0, { leader: -1 });
      const o = s.kafka!.offsets[0]!;
      o.error = 'no leader: offsets cannot be read';
    });
    expect(sourceChecks(s)).toEqual([]);
  });

  it('ZooKeeper nodes that did not parse', () => {
    const s = snap((s) => {
      s.zookeeper!.malformed = [{ path: '/brokers/topics/x', error: 'Unexpected token' }];
    });
    expect(sourceChecks(s).map((x) => [x.severity, x.summary])).toEqual([
      ['warning', 'ZooKeeper: 1 node did not parse: /brokers/topics/x (Unexpected token)'],
    ]);
  });

  it('an expected channel without a topic is said', () => {
    const s = snap((s) => s.expected.channels.push('newchannel'));
    expect(sourceChecks(s)[0]!.summary).toMatch(/channel newchannel: no topic newchannel in ZooKeeper/);
  });
});
