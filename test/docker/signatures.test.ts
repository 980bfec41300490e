import { describe, expect, it } from 'vitest';
import {
  CONTAINER_SIGNATURES,
  combineMatchers,
  defaultContainerMatcher,
  parseControllerConnectionLine,
  signatureMatcher,
} from '../../src/docker/signatures.js';

const CONTROLLER_LINE =
  "[2026-11-21 05:23:28,123] WARN [Controller-1-to-broker-3-send-thread]: Controller 1's connection to broker " +
  '10.0.0.3:9092 (id: 3 rack: null) was unsuccessful (kafka.controller.RequestSendThread)';

describe('container log signatures', () => {
  it('recognises the controller failing to reach a broker (seed 001) and groups by target broker', () => {
    const lines = [
      { at: '2026-11-21T05:23:28.000Z', text: CONTROLLER_LINE },
      { at: '2026-11-21T05:23:29.000Z', text: 'java.net.ConnectException: Connection refused' },
      { at: '2026-11-21T05:23:31.000Z', text: CONTROLLER_LINE },
      {
        at: '2026-11-21T05:23:32.000Z',
        text: CONTROLLER_LINE.replace('10.0.0.3:9092 (id: 3', '10.0.0.4:9092 (id: 4'),
      },
    ];
    const matches = defaultContainerMatcher('kafka1', lines);
    const ctl = matches.filter((m) => m.signature === 'kafka.controller.broker-connection-failed');
    expect(ctl).toHaveLength(2);
    expect(ctl[0]).toMatchObject({
      origin: 'kafka1',
      severity: 'critical',
      count: 2,
      firstAt: '2026-11-21T05:23:28.000Z',
      at: '2026-11-21T05:23:31.000Z',
      line: CONTROLLER_LINE,
    });
    expect(matches.find((m) => m.signature === 'java.connection-refused')?.count).toBe(1);
    expect(parseControllerConnectionLine(CONTROLLER_LINE)).toEqual({
      controller: 1,
      broker: 3,
      address: '10.0.0.3:9092',
    });
    expect(
      parseControllerConnectionLine(
        '[Controller id=2, targetBrokerId=1] Connection to node 1 could not be established. Broker may not be available.',
      ),
    ).toEqual({ controller: 2, broker: 1 });
    expect(parseControllerConnectionLine('hello')).toBeNull();
  });

  it('recognises ZooKeeper session expiry, ISR shrinks (1.0 and 0.10 formats), OOM and fatal startup', () => {
    const texts = [
      'INFO zookeeper state changed (Expired) (org.I0Itec.zkclient.ZkClient)',
      'INFO Expiring session 0x16fa1b2c3d40000, timeout of 6000ms exceeded (org.apache.zookeeper.server.ZooKeeperServer)',
      'INFO [Partition pubchain-0 broker=1] Shrinking ISR from 1,2,3 to 1,2 (kafka.cluster.Partition)',
      'INFO Partition [testchainid,0] on broker 2: Shrinking ISR for partition [testchainid,0] from 2,3 to 2 (kafka.cluster.Partition)',
      'java.lang.OutOfMemoryError: Java heap space',
      'FATAL Fatal error during KafkaServer startup. Prepare to shutdown (kafka.server.KafkaServer)',
      'WARN Cannot open channel to 2 at election address zk2/10.0.0.12:3888',
    ];
    const m = defaultContainerMatcher(
      'x',
      texts.map((text) => ({ text })),
    );
    const bySig = Object.fromEntries(m.map((x) => [`${x.signature}:${x.channel ?? ''}`, x]));
    expect(bySig['zookeeper.session-expired:']?.count).toBe(2);
    expect(bySig['kafka.isr.shrink:pubchain']?.severity).toBe('warning');
    expect(bySig['kafka.isr.shrink:testchainid']).toBeDefined();
    expect(bySig['java.out-of-memory:']?.severity).toBe('critical');
    expect(bySig['kafka.fatal-startup:']?.severity).toBe('critical');
    expect(bySig['zookeeper.election-channel:']).toBeDefined();
    expect(m.every((x) => x.at === undefined)).toBe(true);
  });

  it('ignores ordinary lines and combines catalogues', () => {
    expect(defaultContainerMatcher('x', [{ text: 'INFO [KafkaServer id=1] started' }])).toEqual([]);
    const mine = signatureMatcher([{ id: 'mine', severity: 'info', pattern: /started/, meaning: 'up' }]);
    const both = combineMatchers(defaultContainerMatcher, mine);
    expect(both('x', [{ text: 'INFO [KafkaServer id=1] started' }]).map((m) => m.signature)).toEqual([
      'mine',
    ]);
    expect(new Set(CONTAINER_SIGNATURES.map((s) => s.id)).size).toBe(CONTAINER_SIGNATURES.length);
  });
});
