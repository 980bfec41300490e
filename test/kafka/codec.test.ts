import { describe, expect, it } from 'vitest';
import { Reader, Writer } from '../../src/kafka/codec.js';
import { listOffsetsRequest, metadataRequest, LATEST } from '../../src/kafka/requests.js';

describe('Kafka wire codec', () => {
  it('encodes a Metadata v1 request for all topics as a null array', () => {
    expect(metadataRequest(null).body.toString('hex')).toBe('ffffffff');
    expect(metadataRequest(['pubchain']).body.toString('hex')).toBe(
      '000000010008' + Buffer.from('pubchain').toString('hex'),
    );
  });

  it('groups ListOffsets partitions by topic', () => {
    const req = listOffsetsRequest(
      [
        { topic: 'a', partition: 0 },
        { topic: 'b', partition: 0 },
        { topic: 'a', partition: 1 },
      ],
      LATEST,
    );
    const r = new Reader(req.body);
    expect(r.int32()).toBe(-1);
    const topics = r.array((t) => ({ name: t.string(), parts: t.array((p) => [p.int32(), p.int64()]) }));
    expect(topics).toEqual([
      {
        name: 'a',
        parts: [
          [0, -1n],
          [1, -1n],
        ],
      },
      { name: 'b', parts: [[0, -1n]] },
    ]);
  });

  it('decodes a Metadata v1 answer with a leaderless partition instead of throwing', () => {
    const body = new Writer()
      .array([{ id: 1 }], (w, b) => w.int32(b.id).string('127.0.0.1').int32(19092).string(null))
      .int32(1)
      .array(['pubchain'], (w, t) =>
        w
          .int16(0)
          .string(t)
          .int8(0)
          .array([0], (pw, p) =>
            pw
              .int16(5)
              .int32(p)
              .int32(-1)
              .array([2], (x, n) => x.int32(n))
              .array([], (x, n: number) => x.int32(n)),
          ),
      )
      .toBuffer();
    const md = metadataRequest(null).decode(new Reader(body));
    expect(md.controllerId).toBe(1);
    expect(md.topics[0]?.partitions[0]).toEqual({
      errorCode: 5,
      partition: 0,
      leader: -1,
      replicas: [2],
      isr: [],
    });
  });

  it('refuses a truncated answer with a clear error', () => {
    expect(() => new Reader(Buffer.from([0, 0, 0])).int32()).toThrow(/truncated Kafka response/);
  });
});
