/** The JSON snapshots in test/fixtures/snapshots (generate.ts writes them) still mean what they say. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runChecks, whatIfStopBroker } from '../../src/checks/index.js';
import type { ClusterSnapshot } from '../../src/model/index.js';

const load = (name: string): ClusterSnapshot =>
  JSON.parse(
    readFileSync(new URL(`../fixtures/snapshots/${name}.json`, import.meta.url), 'utf8'),
  ) as ClusterSnapshot;

describe('JSON snapshot fixtures', () => {
  it('healthy: no finding', () => {
    expect(runChecks(load('healthy'))).toEqual([]);
  });

  it('seed 001: the unreachable advertised address and the divergence it causes', () => {
    const f = runChecks(load('seed-001-advertised-unreachable'));
    expect(f.map((x) => `${x.severity} ${x.code} ${JSON.stringify(x.subject)}`)).toEqual([
      'critical BROKER_UNREACHABLE {"broker":3}',
      'critical METADATA_DIVERGENCE {"topic":"pubchain","partition":0}',
    ]);
    expect(f[0]!.summary).toContain('192.168.9.21:9092');
  });

  it('seed 002: the RF=1 partitions of the killed broker are offline, the rest degraded', () => {
    const s = load('seed-002-rf1-broker-killed');
    const f = runChecks(s);
    const offline = f.filter((x) => x.code === 'PARTITION_OFFLINE');
    expect(offline.map((x) => x.subject)).toEqual([{ topic: 'dw_test_kafka_0816000', partition: 2 }]);
    expect(offline[0]!.summary).toMatch(/only replica, broker 3, is down/);
    expect(f.map((x) => x.code)).toContain('BROKER_NOT_REGISTERED');
    expect(f.map((x) => x.code)).toContain('SINGLE_REPLICA');
    expect(whatIfStopBroker(s, 1).goOffline.map((o) => `${o.topic}/${o.partition}`)).toEqual([
      'dw_test_kafka_0816000/0',
    ]);
  });
});
