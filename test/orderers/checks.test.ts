import { describe, expect, it } from 'vitest';

import type { Finding } from '../../src/model/index.js';
import { humanTime, ordererChecks } from '../../src/orderers/checks.js';
import { logMatch, position, scenario } from './snapshots.js';

const codes = (fs: Finding[]) => fs.map((f) => f.code);
const only = (fs: Finding[], code: string) => fs.filter((f) => f.code === code);

describe('ORDERER_OFFSET_AHEAD (seed 000)', () => {
  it.each([[{ highWatermark: -1 }], [{ highWatermark: 11, logStartOffset: 15 }], [{ highWatermark: 1.5 }]])(
    'judges nothing from offsets no healthy broker reports (%j): no gap, no padding',
    (offsets) => {
      const fs = ordererChecks(scenario({ offsets }));
      expect(codes(fs)).not.toContain('ORDERER_OFFSET_AHEAD');
      expect(codes(fs)).not.toContain('ORDERER_OFFSET_BEHIND_RETENTION');
    },
  );

  it('flags the channel when the orderers resume past the high watermark, with the gap and a pad repair', () => {
    const fs = ordererChecks(scenario());
    expect(codes(fs)).toEqual(['ORDERER_OFFSET_AHEAD']);
    const f = fs[0]!;
    expect(f.severity).toBe('critical');
    expect(f.subject).toEqual({ channel: 'pubchain', topic: 'pubchain', partition: 0 });
    expect(f.summary).toBe(
      'pubchain is stuck: orderer0.example.com, orderer1.example.com and orderer2.example.com want to resume at ' +
        "offset 21 but Kafka's pubchain/0 ends at 11: 10 messages missing",
    );
    expect(f.evidence).toMatchObject({
      highWatermark: 11,
      logStartOffset: 0,
      expectedStartOffset: 21,
      missingMessages: 10,
    });
    expect(f.evidence.orderers).toHaveLength(3);
    expect(f.repairs).toEqual([
      {
        kind: 'pad-channel',
        args: { channel: 'pubchain' },
        title: 'Pad pubchain with 10 CONNECT messages to offset 21',
      },
    ]);
    expect(f.explanation).toMatch(/CONNECT/);
    expect(f.explanation).toMatch(/log\.flush\.interval\.messages=1/);
  });

  it('says since when it has been stuck when the logs say so (earliest stuck signature of those orderers)', () => {
    const logs = [
      logMatch({
        origin: 'orderer1.example.com',
        signature: 'orderer.deliver-rejected',
        channel: 'pubchain',
        firstAt: '2019-03-01T10:00:05.000Z',
        at: '2019-03-01T11:00:00.000Z',
        count: 40,
      }),
      logMatch({
        origin: 'orderer0.example.com',
        signature: 'orderer.kafka.offset-out-of-range',
        channel: 'pubchain',
        firstAt: '2019-03-01T09:59:00.000Z',
      }),
      // not this channel, not a stuck signature, not one of the stuck orderers: ignored
      logMatch({
        origin: 'orderer0.example.com',
        signature: 'orderer.deliver-rejected',
        channel: 'other',
        firstAt: '2019-01-01T00:00:00.000Z',
      }),
      logMatch({
        origin: 'orderer0.example.com',
        signature: 'orderer.halted',
        channel: 'pubchain',
        firstAt: '2019-01-01T00:00:00.000Z',
      }),
      logMatch({
        origin: 'someone-else',
        signature: 'orderer.deliver-rejected',
        channel: 'pubchain',
        firstAt: '2019-01-01T00:00:00.000Z',
      }),
    ];
    const f = only(ordererChecks(scenario({ logs })), 'ORDERER_OFFSET_AHEAD')[0]!;
    expect(f.summary.endsWith(', stuck since 2019-03-01 09:59:00 UTC')).toBe(true);
    expect(f.evidence.stuckSince).toBe('2019-03-01T09:59:00.000Z');
  });

  it('one orderer ahead, the others healthy below the high watermark: names only the stuck one', () => {
    const snap = scenario({
      offsets: { highWatermark: 30 },
      positions: [
        position('o1', 'pubchain', 35),
        position('o2', 'pubchain', 27),
        position('o3', 'pubchain', 29),
      ],
    });
    const f = only(ordererChecks(snap), 'ORDERER_OFFSET_AHEAD')[0]!;
    expect(f.summary).toBe(
      "pubchain is stuck: o1 wants to resume at offset 36 but Kafka's pubchain/0 ends at 30: 6 messages missing",
    );
    expect((f.evidence.otherOrderers as unknown[]).length).toBe(2);
  });

  it('orderers ahead by different amounts: the gap is to the furthest', () => {
    const snap = scenario({ positions: [position('o1', 'pubchain', 20), position('o2', 'pubchain', 14)] });
    const f = only(ordererChecks(snap), 'ORDERER_OFFSET_AHEAD')[0]!;
    expect(f.summary).toContain('want to resume at offsets 15 and 21');
    expect(f.evidence.missingMessages).toBe(10);
  });

  it('is silent when the orderers resume at or below the high watermark (normal)', () => {
    for (const hw of [21, 25]) {
      expect(codes(ordererChecks(scenario({ offsets: { highWatermark: hw } })))).toEqual([]);
    }
  });

  it('cannot judge without the high watermark or with positions that were not read', () => {
    expect(ordererChecks(scenario({ offsets: null }))).toEqual([]);
    expect(ordererChecks(scenario({ offsets: { highWatermark: undefined } }))).toEqual([]);
    const unread = scenario({ positions: [position('o1', 'pubchain', 20, { source: null })] });
    expect(ordererChecks(unread)).toEqual([]);
  });
});

describe('ORDERER_OFFSET_BEHIND_RETENTION', () => {
  it('flags an orderer that needs offsets retention deleted', () => {
    const snap = scenario({
      offsets: { highWatermark: 500, logStartOffset: 100 },
      positions: [position('o1', 'pubchain', 4), position('o2', 'pubchain', 499)],
    });
    const fs = ordererChecks(snap);
    const f = only(fs, 'ORDERER_OFFSET_BEHIND_RETENTION')[0]!;
    expect(f.severity).toBe('critical');
    expect(f.summary).toBe(
      'pubchain: o1 needs Kafka offset 5 but pubchain/0 now starts at 100: retention deleted 95 messages it has not processed',
    );
    expect(f.repairs[0]).toMatchObject({
      kind: 'set-topic-config',
      args: { topic: 'pubchain', key: 'retention.ms', value: '-1' },
    });
    // the two orderers also disagree
    expect(codes(fs)).toContain('ORDERERS_DISAGREE');
  });

  it('an orderer with only the genesis block replays from the oldest offset: flagged when that was deleted', () => {
    const snap = scenario({
      offsets: { highWatermark: 50, logStartOffset: 7 },
      positions: [position('o1', 'pubchain', null)],
    });
    const f = only(ordererChecks(snap), 'ORDERER_OFFSET_BEHIND_RETENTION')[0]!;
    expect(f.summary).toBe(
      'pubchain: o1 would replay pubchain from its oldest offset, but pubchain/0 now starts at 7: retention deleted the first 7 messages of the channel',
    );
    expect(
      ordererChecks(
        scenario({ offsets: { logStartOffset: 0 }, positions: [position('o1', 'pubchain', null)] }),
      ),
    ).toEqual([]);
  });

  it('is silent when the expected offset is at the log start', () => {
    const snap = scenario({
      offsets: { highWatermark: 500, logStartOffset: 100 },
      positions: [position('o1', 'pubchain', 99)],
    });
    expect(ordererChecks(snap)).toEqual([]);
  });
});

describe('ORDERERS_DISAGREE', () => {
  it('warns when orderers of a channel persisted different offsets, naming each', () => {
    const snap = scenario({
      offsets: { highWatermark: 40 },
      positions: [
        position('o1', 'pubchain', 20, { height: 10 }),
        position('o2', 'pubchain', 31, { height: 14, source: 'ledger' }),
      ],
    });
    const f = only(ordererChecks(snap), 'ORDERERS_DISAGREE')[0]!;
    expect(f.severity).toBe('warning');
    expect(f.subject).toEqual({ channel: 'pubchain' });
    expect(f.summary).toBe(
      'pubchain: orderers disagree on offsets and heights: o2 offset 31 (height 14), o1 offset 20 (height 10)',
    );
    expect(f.evidence).toMatchObject({ highWatermark: 40, heightSpread: 4 });
  });

  it('heights alone can disagree; "none persisted" is a value too', () => {
    const h = scenario({
      offsets: { highWatermark: 40 },
      positions: [
        position('o1', 'pubchain', 20, { height: 10 }),
        position('o2', 'pubchain', 20, { height: 11 }),
      ],
    });
    expect(only(ordererChecks(h), 'ORDERERS_DISAGREE')[0]?.summary).toContain('disagree on heights');
    const n = scenario({
      offsets: { highWatermark: 40 },
      positions: [position('o1', 'pubchain', null), position('o2', 'pubchain', 20)],
    });
    expect(only(ordererChecks(n), 'ORDERERS_DISAGREE')[0]?.summary).toBe(
      'pubchain: orderers disagree on offsets: o2 offset 20, o1 no offset persisted',
    );
  });

  it('healthy orderers below the high watermark that agree: nothing', () => {
    const snap = scenario({
      offsets: { highWatermark: 40 },
      positions: [
        position('o1', 'pubchain', 33, { height: 12 }),
        position('o2', 'pubchain', 33, { height: 12 }),
      ],
    });
    expect(ordererChecks(snap)).toEqual([]);
  });

  it('does not compare a position read from a log (it says where the orderer started, not where it is)', () => {
    const snap = scenario({
      offsets: { highWatermark: 40 },
      positions: [position('o1', 'pubchain', 33), position('o2', 'pubchain', 12, { source: 'log' })],
    });
    expect(codes(ordererChecks(snap))).toEqual([]);
  });

  it('channels are judged separately', () => {
    const snap = scenario({
      offsets: { highWatermark: 40 },
      positions: [position('o1', 'pubchain', 33), position('o1', 'other', 2), position('o2', 'other', 2)],
    });
    expect(ordererChecks(snap)).toEqual([]);
  });
});

describe('ORDERER_LOG_ERROR', () => {
  const logs = [
    logMatch({
      origin: 'orderer1.example.com',
      signature: 'orderer.deliver-rejected',
      severity: 'critical',
      channel: 'pubchain',
      count: 42,
      firstAt: '2019-03-01T10:00:05.000Z',
      at: '2019-03-01T11:00:00.000Z',
      line: '2019-03-01 11:00:00.000 UTC [common.deliver] deliverBlocks -> WARN 0ff [channel: pubchain] Rejecting deliver request for 172.18.0.9:51240 because of consenter error',
    }),
    logMatch({
      origin: 'orderer1.example.com',
      signature: 'orderer.kafka.offset-out-of-range',
      severity: 'critical',
      channel: 'pubchain',
      count: 1,
      firstAt: '2019-03-01T22:10:00.300Z',
      at: '2019-03-01T22:10:00.300Z',
      line: '2019-03-01 22:10:00.300 UTC [orderer.consensus.kafka] startThread -> PANI 0a1 [channel: pubchain] Cannot set up channel consumer = kafka server: The requested offset is outside the range of offsets maintained by the server for the given topic/partition.',
    }),
    logMatch({
      origin: 'orderer1.example.com',
      signature: 'orderer.start-offset',
      severity: 'info',
      channel: 'pubchain',
    }),
    logMatch({
      origin: 'orderer2.example.com',
      signature: 'orderer.consumption-error',
      severity: 'warning',
      channel: 'pubchain',
      count: 3,
    }),
    logMatch({
      origin: 'kafka0',
      signature: 'kafka.shrinking-isr',
      severity: 'warning',
      channel: 'pubchain',
    }),
    logMatch({ origin: 'orderer2.example.com', signature: 'no.such.signature', severity: 'critical' }),
  ];

  it('one finding per orderer and channel, headed by the worst and most specific signature, quoting line and time', () => {
    const fs = only(ordererChecks(scenario({ offsets: { highWatermark: 21 }, logs })), 'ORDERER_LOG_ERROR');
    expect(fs).toHaveLength(2);
    const o1 = fs.find((f) => f.subject.orderer === 'orderer1.example.com')!;
    expect(o1.severity).toBe('critical');
    expect(o1.subject).toEqual({ orderer: 'orderer1.example.com', channel: 'pubchain' });
    expect(o1.evidence.signature).toBe('orderer.kafka.offset-out-of-range'); // outranks the deliver rejections
    expect(o1.summary).toBe(
      'orderer1.example.com on pubchain: "Cannot set up channel consumer = kafka server: The requested offset is ' +
        'outside the range of offsets maintained by the server for the given topic/partition." at ' +
        '2019-03-01 22:10:00 UTC; also orderer.deliver-rejected ×42',
    );
    expect(o1.explanation).toMatch(/pad-channel/);
    expect((o1.evidence.matches as unknown[]).length).toBe(2); // the info line is not evidence of an error
    expect(o1.evidence.earliest).toBe('2019-03-01T10:00:05.000Z');

    const o2 = fs.find((f) => f.subject.orderer === 'orderer2.example.com')!;
    expect(o2.severity).toBe('warning');
    expect(o2.summary).toBe('orderer2.example.com on pubchain: "a line" (3 times)');
  });

  it('a repeated line shows its first and last time', () => {
    const fs = ordererChecks(scenario({ offsets: { highWatermark: 21 }, logs: [logs[0]!] }));
    expect(fs[0]?.summary).toContain('42 times from 2019-03-01 10:00:05 UTC to 2019-03-01 11:00:00 UTC');
  });

  it('ignores info lines, Kafka signatures and unknown ids', () => {
    const fs = ordererChecks(
      scenario({ offsets: { highWatermark: 21 }, logs: [logs[2]!, logs[4]!, logs[5]!] }),
    );
    expect(fs).toEqual([]);
  });
});

describe('robustness', () => {
  it('a snapshot without orderers or Kafka gives no orderer finding and does not throw', () => {
    const s = scenario();
    expect(ordererChecks({ ...s, orderers: null, kafka: null, zookeeper: null })).toEqual([]);
  });

  it('humanTime', () => {
    expect(humanTime('2019-03-01T10:00:05.123Z')).toBe('2019-03-01 10:00:05 UTC');
  });
});
