import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  channelOf,
  extractOffsetEvents,
  LOG_SIGNATURES,
  logSignature,
  matchLogLines,
  parseLogLine,
  positionsFromLog,
  signaturesOf,
  unescapeGoProtoText,
} from '../../src/orderers/logs.js';

const fixture = (name: string): string[] =>
  readFileSync(new URL(`../fixtures/orderers/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);

/** The three docker json-file lines quoted in seed 000 (Fabric 1.0). */
const SEED000 = fixture('seed000-orderer.docker-json.txt');
/** A Fabric 1.4 orderer stuck as in seed 000, built from the format strings of release-1.4. */
const STUCK14 = fixture('fabric14-stuck-orderer.txt');

describe('parseLogLine', () => {
  it('reads a docker json-file line of Fabric 1.0 with ANSI colours (seed 000)', () => {
    const p = parseLogLine(SEED000[0]!);
    expect(p.format).toBe('fabric');
    expect(p.at).toBe('2018-08-15T01:49:02.363Z');
    expect(p.printedTime).toBe('2018-08-15 01:49:02.363 UTC');
    expect(p.module).toBe('orderer/multichain');
    expect(p.func).toBe('newChainSupport');
    expect(p.level).toBe('DEBUG');
    expect(p.channel).toBe('pubchain');
    expect(p.text).not.toContain('\u001b');
    expect(p.message).toBe(
      '[channel: pubchain] Retrieved metadata for tip of chain (blockNumber=9, lastConfig=1, lastConfigSeq=2): value:"\\010\\024" ',
    );
  });

  it('reads the seed 000 start-offset line (colour reset without colour start)', () => {
    const p = parseLogLine(SEED000[1]!);
    expect(p).toMatchObject({
      format: 'fabric',
      at: '2018-08-15T01:30:26.824Z',
      level: 'INFO',
      module: 'orderer/kafka',
      func: 'setupChannelConsumerForChannel',
      channel: 'pubchain',
    });
    expect(p.message).toMatch(/^\[channel: pubchain\]\[partition: 0\] Setting up the channel consumer/);
  });

  it('reads Fabric 1.4 lines (dotted modules)', () => {
    const p = parseLogLine(STUCK14[11]!);
    expect(p).toMatchObject({
      format: 'fabric',
      at: '2019-03-01T22:10:00.300Z',
      level: 'PANIC',
      module: 'orderer.consensus.kafka',
      func: 'startThread',
      channel: 'pubchain',
    });
  });

  it('reads the Fabric 2.4+ layout, with colours and bold function names', () => {
    const raw =
      '\u001b[34m2024-01-01 10:00:00.000 UTC 0042 WARN\u001b[0m [orderer.consensus.kafka] \u001b[1mprocessMessagesToBlocks\u001b[0m -> [channel: mychannel] Error during consumption: kafka: error while consuming mychannel/0: kafka server: In the middle of a leadership election, there is currently no leader for this partition and hence it is unavailable for writes.';
    const p = parseLogLine(raw);
    expect(p).toMatchObject({
      format: 'fabric-2.4',
      at: '2024-01-01T10:00:00.000Z',
      level: 'WARN',
      module: 'orderer.consensus.kafka',
      func: 'processMessagesToBlocks',
      channel: 'mychannel',
    });
    expect(p.message.startsWith('[channel: mychannel] Error during consumption')).toBe(true);
  });

  it('takes the time from `docker logs --timestamps` and compose prefixes', () => {
    const ts = parseLogLine(
      '2024-05-02T08:09:10.123456789Z 2024-05-02 08:09:10.120 UTC [common.deliver] deliverBlocks -> WARN 0a3 [channel: c1] Rejecting deliver request for 10.0.0.1:1 because of consenter error',
    );
    expect(ts.format).toBe('fabric');
    expect(ts.at).toBe('2024-05-02T08:09:10.120Z'); // the printed time (UTC) wins over the transport's
    const cst = parseLogLine(
      '2024-05-02T00:09:10.500Z 2024-05-02 08:09:10.120 CST [common.deliver] deliverBlocks -> WARN 0a3 [channel: c1] x',
    );
    expect(cst.at).toBe('2024-05-02T00:09:10.500Z'); // "CST" is ambiguous: the transport time is used
    expect(cst.printedTime).toBe('2024-05-02 08:09:10.120 CST');
    const compose = parseLogLine(
      'orderer.example.com    | 2019-03-01 10:00:00.300 UTC [orderer.consensus.kafka] setupChannelConsumerForChannel -> INFO 014 [channel: pubchain] Setting up the channel consumer for this channel (start offset: 21)...',
    );
    expect(compose.format).toBe('fabric');
    expect(compose.channel).toBe('pubchain');
  });

  it('reads numeric zones and zap JSON (FABRIC_LOGGING_FORMAT=json)', () => {
    expect(
      parseLogLine('2019-03-01 18:00:00.000 +08 [orderer.consensus.kafka] f -> INFO 001 [channel: a] x').at,
    ).toBe('2019-03-01T10:00:00.000Z');
    const z = parseLogLine(
      '{"level":"warn","ts":1551434400.5,"name":"common.deliver","caller":"deliver/deliver.go:251","msg":"[channel: a] Rejecting deliver request for 1.2.3.4:5 because of consenter error"}',
    );
    expect(z).toMatchObject({ format: 'fabric-json', level: 'WARN', module: 'common.deliver', channel: 'a' });
    expect(z.at).toBe('2019-03-01T10:00:00.500Z');
  });

  it('reads Kafka log4j lines (time taken as UTC, flagged) and ZooKeeper lines', () => {
    const k = parseLogLine(
      "[2018-08-15 01:30:26,824] WARN [Controller-1-to-broker-2-send-thread]: Controller 1's connection to broker kafka2:9092 (id: 2 rack: null) was unsuccessful (kafka.controller.RequestSendThread)",
    );
    expect(k).toMatchObject({
      format: 'kafka',
      level: 'WARN',
      module: 'kafka.controller.RequestSendThread',
      at: '2018-08-15T01:30:26.824Z',
      assumedUtc: true,
    });
    const isr = parseLogLine(
      '[2018-08-15 01:31:00,001] INFO [Partition pubchain-0 broker=1] Shrinking ISR from 1,2,3 to 1 (kafka.cluster.Partition)',
    );
    expect(isr.channel).toBe('pubchain');
    const zk = parseLogLine(
      '2018-08-15 01:30:26,824 [myid:2] - WARN  [QuorumPeer[myid=2]/0.0.0.0:2181:Follower@87] - Exception when following the leader',
    );
    expect(zk).toMatchObject({ format: 'zookeeper', level: 'WARN', at: '2018-08-15T01:30:26.824Z' });
    expect(zk.module).toBe('QuorumPeer[myid=2]/0.0.0.0:2181:Follower@87');
  });

  it('never throws: unknown lines come back as "unknown" with their text', () => {
    for (const raw of ['', '{', '{"log":', 'java.net.ConnectException: Connection refused', '\u001b[0m']) {
      const p = parseLogLine(raw);
      expect(p.format).toBe('unknown');
      expect(p.at).toBeUndefined();
    }
  });

  it('finds the channel in the spellings Fabric and Kafka use', () => {
    expect(channelOf('[channel: pubchain] x')).toBe('pubchain');
    expect(channelOf('[channel pubchain] Cannot post CONNECT message = x')).toBe('pubchain'); // HealthCheck's
    expect(channelOf('Error processing fetch operation on partition pubchain-0, offset 21')).toBe('pubchain');
    expect(channelOf('[Partition my.chan-0 broker=1] Shrinking ISR')).toBe('my.chan');
    expect(channelOf('nothing here')).toBeUndefined();
  });
});

describe('offset lines', () => {
  it('decodes Go-escaped protobuf text: value:"\\010\\024" is KafkaMetadata{20}', () => {
    expect([...unescapeGoProtoText('\\010\\024')]).toEqual([8, 20]);
    expect([...unescapeGoProtoText('a\\"\\\\\\n\\x7f\\0')]).toEqual([97, 34, 92, 10, 127, 0]);
    expect(() => unescapeGoProtoText('\\q')).toThrow();
  });

  it('seed 000: the tip of chain says offset 20 (block 9) and the consumer starts at 21', () => {
    const events = extractOffsetEvents(SEED000);
    expect(events).toEqual([
      {
        kind: 'tip-metadata',
        channel: 'pubchain',
        blockNumber: 9,
        lastOffsetPersisted: 20,
        at: '2018-08-15T01:49:02.363Z',
      },
      { kind: 'start-offset', channel: 'pubchain', startOffset: 21, at: '2018-08-15T01:30:26.824Z' },
    ]);
    const pos = positionsFromLog(events).get('pubchain');
    // the greps of the seed are out of time order: the later line (the restart at 01:49) wins
    expect(pos).toEqual({
      channel: 'pubchain',
      lastOffsetPersisted: 20,
      blockHeight: 10,
      from: 'tip-metadata',
      at: '2018-08-15T01:49:02.363Z',
    });
  });

  it('Fabric 1.4: "Starting chain" gives offset and height; -3 / -2 mean none persisted (start from oldest)', () => {
    const events = extractOffsetEvents(STUCK14);
    expect(events.map((e) => e.kind)).toEqual([
      'starting-chain',
      'starting-chain',
      'start-offset',
      'start-offset',
    ]);
    const pos = positionsFromLog(events);
    expect(pos.get('pubchain')).toMatchObject({
      lastOffsetPersisted: 20,
      blockHeight: 10,
      from: 'start-offset',
    });
    expect(pos.get('testchainid')).toMatchObject({ lastOffsetPersisted: null, blockHeight: 1 });
  });

  it('Fabric 1.0 "last recorded block N" without brackets, and an empty tip metadata', () => {
    const events = extractOffsetEvents([
      '2017-09-01 10:00:00.000 UTC [orderer/kafka] newChain -> INFO 001 [channel: c] Starting chain with last persisted offset 41 and last recorded block 12',
      '2017-09-01 10:00:00.000 UTC [orderer/multichain] newChainSupport -> DEBU 002 [channel: d] Retrieved metadata for tip of chain (blockNumber=0, lastConfig=0, lastConfigSeq=0): ',
    ]);
    expect(positionsFromLog(events).get('c')).toMatchObject({ lastOffsetPersisted: 41, blockHeight: 13 });
    expect(positionsFromLog(events).get('d')).toMatchObject({ lastOffsetPersisted: null, blockHeight: 1 });
  });

  it('the newest line wins', () => {
    const lines = [
      '2019-03-01 10:00:00.100 UTC [orderer.consensus.kafka] newChain -> INFO 00f [channel: p] Starting chain with last persisted offset 20 and last recorded block [9]',
      '2019-03-02 10:00:00.100 UTC [orderer.consensus.kafka] newChain -> INFO 00f [channel: p] Starting chain with last persisted offset 57 and last recorded block [30]',
    ];
    expect(positionsFromLog(extractOffsetEvents(lines)).get('p')).toMatchObject({
      lastOffsetPersisted: 57,
      blockHeight: 31,
      at: '2019-03-02T10:00:00.100Z',
    });
  });
});

describe('the signature catalogue', () => {
  it('has unique ids, and each says what it means and what to do', () => {
    const ids = LOG_SIGNATURES.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const s of LOG_SIGNATURES) {
      expect(s.meaning.length, s.id).toBeGreaterThan(10);
      expect(s.action.length, s.id).toBeGreaterThan(3);
      expect(s.id.startsWith(`${s.component}.`), s.id).toBe(true);
    }
  });

  it.each([
    [
      '[channel: pubchain] Cannot set up channel consumer = kafka server: The requested offset is outside the range of offsets maintained by the server for the given topic/partition.',
      ['orderer.kafka.offset-out-of-range', 'orderer.cannot-setup-channel-consumer'],
    ],
    [
      '[channel: pubchain] Error during consumption: kafka: error while consuming pubchain/0: kafka server: In the middle of a leadership election, there is currently no leader for this partition and hence it is unavailable for writes.',
      ['orderer.kafka.no-leader', 'orderer.consumption-error'],
    ],
    [
      '[channel: pubchain] cannot enqueue envelope = kafka server: Messages are rejected since there are fewer in-sync replicas than required.',
      ['orderer.kafka.not-enough-replicas', 'orderer.cannot-enqueue'],
    ],
    [
      '[channel: pubchain] Rejecting deliver request because of consenter error',
      ['orderer.deliver-rejected'],
    ],
    [
      '[channel: pubchain] Rejecting deliver request for 172.18.0.9:51234 because of consenter error',
      ['orderer.deliver-rejected'],
    ],
    [
      "[Controller-1-to-broker-2-send-thread]: Controller 1's connection to broker kafka2:9092 (id: 2 rack: null) was unsuccessful",
      ['kafka.controller-cannot-reach-broker'],
    ],
    [
      'java.io.IOException: Connection to kafka2:9092 (id: 2 rack: null) failed.',
      ['kafka.connect-exception'],
    ],
    ['java.net.ConnectException: Connection refused', ['kafka.connect-exception']],
    [
      'org.apache.kafka.common.errors.NotEnoughReplicasException: Number of insync replicas for partition pubchain-0 is [1], below required minimum [2]',
      ['kafka.not-enough-replicas'],
    ],
    [
      '[ReplicaManager broker=1] Error processing fetch operation on partition pubchain-0, offset 21 (kafka.server.ReplicaManager) org.apache.kafka.common.errors.OffsetOutOfRangeException: ...',
      ['kafka.offset-out-of-range'],
    ],
    ['[Partition pubchain-0 broker=1] Shrinking ISR from 1,2,3 to 1', ['kafka.shrinking-isr']],
    [
      '[channel: pubchain] Starting chain with last persisted offset 20 and last recorded block [9]',
      ['orderer.starting-chain'],
    ],
    ['just an ordinary line', []],
  ])('%s', (text, ids) => {
    expect(signaturesOf(parseLogLine(text)).map((m) => m.signature.id)).toEqual(ids);
  });

  it('the same text is critical at PANIC and a warning at WARN (CONNECT from a health probe)', () => {
    const panic = parseLogLine(
      '2019-03-01 10:00:00.000 UTC [orderer.consensus.kafka] startThread -> PANI 001 [channel: a] Cannot post CONNECT message = kafka: x',
    );
    const warn = parseLogLine(
      '2019-03-01 10:00:00.000 UTC [orderer.consensus.kafka] HealthCheck -> WARN 001 [channel a] Cannot post CONNECT message = kafka server: Messages are rejected since there are fewer in-sync replicas than required.',
    );
    const sev = (p: ReturnType<typeof parseLogLine>) =>
      signaturesOf(p).find((s) => s.signature.id === 'orderer.cannot-post-connect')?.severity;
    expect(sev(panic)).toBe('critical');
    expect(sev(warn)).toBe('warning');
    expect(logSignature('orderer.cannot-post-connect')?.severity).toBe('warning');
  });
});

describe('matchLogLines', () => {
  it('aggregates the stuck orderer of seed 000 (Fabric 1.4 layout): counts, first and last time, last line', () => {
    const matches = matchLogLines('orderer1.example.com', STUCK14);
    const by = (id: string) => matches.find((m) => m.signature === id && m.channel === 'pubchain');
    expect(by('orderer.deliver-rejected')).toMatchObject({
      origin: 'orderer1.example.com',
      severity: 'critical',
      count: 2,
      firstAt: '2019-03-01T10:00:05.000Z',
      at: '2019-03-01T10:00:15.000Z',
    });
    expect(by('orderer.deliver-rejected')?.line).toContain('172.18.0.9:51240');
    expect(by('orderer.kafka.offset-out-of-range')).toMatchObject({
      count: 1,
      at: '2019-03-01T22:10:00.300Z',
    });
    expect(by('orderer.cannot-setup-channel-consumer')?.severity).toBe('critical');
    expect(by('orderer.broadcast-rejected')?.count).toBe(1);
    expect(by('orderer.start-offset')?.severity).toBe('info');
    expect(matches.find((m) => m.signature === 'orderer.consumer-ready')?.channel).toBe('testchainid');
  });

  it('reads the seed 000 docker lines: offset out of range on pubchain at 01:30:36', () => {
    const m = matchLogLines('orderer0', SEED000).find(
      (x) => x.signature === 'orderer.kafka.offset-out-of-range',
    );
    expect(m).toMatchObject({ channel: 'pubchain', count: 1, at: '2018-08-15T01:30:36.825Z' });
  });

  it('skips lines before `since`, keeps lines without a time', () => {
    const since = '2019-03-01T10:00:10.000Z';
    const m = matchLogLines('o', STUCK14, since);
    expect(m.find((x) => x.signature === 'orderer.deliver-rejected')).toMatchObject({
      count: 1,
      firstAt: '2019-03-01T10:00:15.000Z',
    });
    expect(m.find((x) => x.signature === 'orderer.starting-chain')).toBeUndefined();
    const timeless = matchLogLines(
      'o',
      ['[channel: x] Rejecting deliver request because of consenter error'],
      since,
    );
    expect(timeless).toHaveLength(1);
    expect(timeless[0]?.at).toBeUndefined();
  });

  it('a stack-trace line takes the time of the line before it', () => {
    const m = matchLogLines('kafka1', [
      "[2018-08-15 01:30:26,824] WARN [Controller-1-to-broker-2-send-thread]: Controller 1's connection to broker kafka2:9092 (id: 2 rack: null) was unsuccessful (kafka.controller.RequestSendThread)",
      'java.io.IOException: Connection to kafka2:9092 (id: 2 rack: null) failed.',
      '\tat org.apache.kafka.clients.NetworkClientUtils.awaitReady(NetworkClientUtils.java:68)',
    ]);
    expect(m.map((x) => [x.signature, x.at])).toEqual([
      ['kafka.controller-cannot-reach-broker', '2018-08-15T01:30:26.824Z'],
      ['kafka.connect-exception', '2018-08-15T01:30:26.824Z'],
    ]);
  });
});
