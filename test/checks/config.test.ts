/** CONFIG_*: Fabric's Kafka recommendations, for the channel topics and the broker defaults. */
import { describe, expect, it } from 'vitest';
import { configChecks } from '../../src/checks/index.js';
import type { Finding } from '../../src/model/index.js';
import {
  addTopic,
  setBrokerConfig,
  setPartition,
  setTopicConfig,
  snap,
} from '../fixtures/snapshots/builder.js';

const codes = (f: Finding[]) => f.map((x) => `${x.code} ${JSON.stringify(x.subject)}`);

describe('CONFIG_UNCLEAN_ELECTION', () => {
  it('broker level true: one critical finding, set-topic-config suggested for the channels that inherit it', () => {
    const s = snap((s) => {
      setBrokerConfig(s, 'unclean.leader.election.enable', 'true');
      for (const t of ['pubchain', 'testchainid']) {
        setTopicConfig(s, t, 'unclean.leader.election.enable', 'true', { inherit: true });
      }
    });
    const f = configChecks(s);
    expect(codes(f)).toEqual(['CONFIG_UNCLEAN_ELECTION {}']);
    expect(f[0]!.severity).toBe('critical');
    expect(f[0]!.summary).toMatch(/on every broker/);
    expect(f[0]!.explanation).toMatch(/rewrite|diverge/);
    expect(f[0]!.repairs.map((r) => r.args)).toEqual([
      { topic: 'pubchain', key: 'unclean.leader.election.enable', value: 'false' },
      { topic: 'testchainid', key: 'unclean.leader.election.enable', value: 'false' },
    ]);
  });

  it('one broker only: subject names it', () => {
    const s = snap((s) => setBrokerConfig(s, 'unclean.leader.election.enable', 'true', [3]));
    expect(codes(configChecks(s))).toEqual(['CONFIG_UNCLEAN_ELECTION {"broker":3}']);
  });

  it('topic level override true on a channel', () => {
    const s = snap((s) => setTopicConfig(s, 'pubchain', 'unclean.leader.election.enable', 'true'));
    const f = configChecks(s);
    expect(codes(f)).toEqual(['CONFIG_UNCLEAN_ELECTION {"topic":"pubchain"}']);
    expect(f[0]!.summary).toMatch(/set on the topic/);
  });

  it('a non-channel topic with unclean election is none of Fabric business', () => {
    const s = snap((s) => {
      addTopic(s, 'logs', 1, 3);
      setTopicConfig(s, 'logs', 'unclean.leader.election.enable', 'true');
    });
    expect(configChecks(s)).toEqual([]);
  });
});

describe('CONFIG_MIN_ISR', () => {
  it('broker default 1: a warning listing the channels that inherit it', () => {
    const s = snap((s) => {
      setBrokerConfig(s, 'min.insync.replicas', '1');
      for (const t of ['pubchain', 'testchainid'])
        setTopicConfig(s, t, 'min.insync.replicas', '1', { inherit: true });
    });
    const f = configChecks(s);
    expect(codes(f)).toEqual(['CONFIG_MIN_ISR {}']);
    expect(f[0]!.summary).toMatch(/min.insync.replicas=1 on every broker.*\(2 channels inherit it\)/);
    expect(f[0]!.repairs).toHaveLength(2);
  });

  it('topic override 1 on a channel', () => {
    const s = snap((s) => setTopicConfig(s, 'pubchain', 'min.insync.replicas', '1'));
    const f = configChecks(s);
    expect(codes(f)).toEqual(['CONFIG_MIN_ISR {"topic":"pubchain"}']);
    expect(f[0]!.repairs[0]!.args).toEqual({ topic: 'pubchain', key: 'min.insync.replicas', value: '2' });
  });

  it('min ISR equal to the replication factor', () => {
    const s = snap((s) => setTopicConfig(s, 'pubchain', 'min.insync.replicas', '3'));
    const f = configChecks(s);
    expect(f.map((x) => x.summary)).toEqual([
      expect.stringMatching(/min.insync.replicas=3 with replication factor 3/),
    ]);
    expect(f[0]!.repairs[0]!.args).toEqual({ topic: 'pubchain', key: 'min.insync.replicas', value: '2' });
  });

  it('broker min ISR not below default.replication.factor', () => {
    const s = snap((s) => setBrokerConfig(s, 'min.insync.replicas', '3'));
    expect(configChecks(s).map((x) => x.summary)).toEqual([
      expect.stringMatching(/not below default.replication.factor \(3\)/),
    ]);
  });
});

describe('CONFIG_REPLICATION', () => {
  it('default.replication.factor < 3', () => {
    const s = snap((s) => setBrokerConfig(s, 'default.replication.factor', '1'));
    expect(codes(configChecks(s))).toEqual(['CONFIG_REPLICATION {}']);
  });

  it('default.replication.factor not below the broker count', () => {
    const s = snap((s) => setBrokerConfig(s, 'default.replication.factor', '4'));
    expect(configChecks(s)[0]!.summary).toMatch(/not below the broker count \(4\)/);
  });

  it('fewer than 4 brokers', () => {
    const s = snap((s) => {
      s.expected.brokerIds = [1, 2, 3];
      setBrokerConfig(s, 'default.replication.factor', '2');
      setBrokerConfig(s, 'min.insync.replicas', '1');
    });
    expect(configChecks(s).map((x) => x.summary)).toContain(
      'The cluster has 3 brokers: Fabric needs at least 4 to survive one broker down',
    );
  });

  it('a channel with replication factor 2 (RF 1 is SINGLE_REPLICA)', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { replicas: [2, 3], isr: [2, 3] }));
    const f = configChecks(s).filter((x) => x.code === 'CONFIG_REPLICATION');
    expect(codes(f)).toEqual(['CONFIG_REPLICATION {"topic":"pubchain"}']);
    expect(f[0]!.repairs[0]).toMatchObject({ kind: 'raise-replication', args: { topic: 'pubchain' } });
  });
});

describe('CONFIG_RETENTION', () => {
  it('a channel inheriting 7 days from log.retention.hours (no log.retention.ms)', () => {
    const s = snap((s) => {
      s.kafka!.topicConfigs = {};
      setBrokerConfig(s, 'log.retention.ms', undefined);
    });
    const f = configChecks(s);
    expect(codes(f)).toEqual([
      'CONFIG_RETENTION {"topic":"pubchain"}',
      'CONFIG_RETENTION {"topic":"testchainid"}',
    ]);
    expect(f[0]!.severity).toBe('critical');
    expect(f[0]!.summary).toBe(
      "Channel pubchain can lose messages to retention: retention.ms=604800000 (7 days, inherited from the broker's " +
        'log.retention.hours)',
    );
    expect(f[0]!.repairs[0]!.args).toEqual({ topic: 'pubchain', key: 'retention.ms', value: '-1' });
  });

  it('retention.bytes and compaction on a channel topic', () => {
    const s = snap((s) => {
      setTopicConfig(s, 'pubchain', 'retention.bytes', '1073741824');
      setTopicConfig(s, 'pubchain', 'cleanup.policy', 'compact,delete');
    });
    const f = configChecks(s);
    expect(f).toHaveLength(1);
    expect(f[0]!.summary).toMatch(/retention.bytes=1073741824 \(1 GiB, set on the topic\)/);
    expect(f[0]!.summary).toMatch(/cleanup.policy=compact,delete/);
    expect(f[0]!.repairs.map((r) => r.args['key'])).toEqual(['retention.bytes', 'cleanup.policy']);
  });

  it('channels overridden to -1 but a finite broker default: a warning for new channels', () => {
    const s = snap((s) => {
      setBrokerConfig(s, 'log.retention.ms', undefined);
      for (const t of ['pubchain', 'testchainid']) setTopicConfig(s, t, 'retention.ms', '-1');
    });
    const f = configChecks(s);
    expect(f.map((x) => [x.code, x.severity, x.subject])).toEqual([['CONFIG_RETENTION', 'warning', {}]]);
    expect(f[0]!.summary).toMatch(/log.retention.hours gives 7 days/);
  });

  it('a non-channel topic with retention is fine', () => {
    const s = snap((s) => {
      addTopic(s, 'logs', 1, 3);
      setTopicConfig(s, 'logs', 'retention.ms', '3600000');
    });
    expect(configChecks(s)).toEqual([]);
  });
});

describe('CONFIG_MESSAGE_SIZE', () => {
  it('replica.fetch.max.bytes above message.max.bytes', () => {
    const s = snap((s) => setBrokerConfig(s, 'replica.fetch.max.bytes', '209715200'));
    const f = configChecks(s);
    expect(codes(f)).toEqual(['CONFIG_MESSAGE_SIZE {}']);
    expect(f[0]!.summary).toMatch(/replica.fetch.max.bytes 200 MiB is above message.max.bytes 99 MiB/);
  });

  it('message.max.bytes not below socket.request.max.bytes', () => {
    const s = snap((s) => setBrokerConfig(s, 'message.max.bytes', '104857600'));
    expect(configChecks(s)[0]!.summary).toMatch(
      /message.max.bytes 100 MiB is not below socket.request.max.bytes/,
    );
  });

  it("values left at Kafka's ~1 MB defaults", () => {
    const s = snap((s) => {
      setBrokerConfig(s, 'message.max.bytes', '1000012');
      setBrokerConfig(s, 'replica.fetch.max.bytes', '1048576', [1, 2]);
    });
    const f = configChecks(s);
    expect(f.map((x) => x.subject)).toEqual([{ broker: 1 }, { broker: 3 }]);
    expect(f[0]!.summary).toMatch(/on brokers 1 and 2: .*Kafka's default/);
  });

  it("with Orderer.AbsoluteMaxBytes known, Fabric's exact rule", () => {
    const s = snap();
    expect(configChecks(s, { absoluteMaxBytes: 98 * 1024 * 1024 })).toEqual([]);
    // Fabric's sample network sets all three to 99 MiB: no room left for the headers the guide asks for.
    const f = configChecks(s, { absoluteMaxBytes: 99 * 1024 * 1024 });
    expect(f[0]!.summary).toMatch(
      /replica.fetch.max.bytes 99 MiB is not above Orderer.AbsoluteMaxBytes 99 MiB/,
    );
  });

  it('a channel topic whose max.message.bytes is above replica.fetch.max.bytes', () => {
    const s = snap((s) => setTopicConfig(s, 'pubchain', 'max.message.bytes', '209715200'));
    const f = configChecks(s);
    expect(codes(f)).toEqual(['CONFIG_MESSAGE_SIZE {"topic":"pubchain"}']);
    expect(f[0]!.repairs[0]!.args).toEqual({
      topic: 'pubchain',
      key: 'max.message.bytes',
      value: '103809024',
    });
  });
});

describe('CONFIG_FLUSH', () => {
  it("info when channels flush at Kafka's default", () => {
    const s = snap((s) => {
      setTopicConfig(s, 'pubchain', 'flush.messages', '9223372036854775807', { inherit: true });
    });
    const f = configChecks(s);
    expect(f.map((x) => [x.code, x.severity, x.subject])).toEqual([
      ['CONFIG_FLUSH', 'info', { topic: 'pubchain' }],
    ]);
    expect(f[0]!.explanation).toMatch(/seed 000/);
    expect(f[0]!.repairs[0]!.args).toEqual({ topic: 'pubchain', key: 'flush.messages', value: '1' });
  });
});

describe('configs unknown', () => {
  it('without broker configs nothing is reported (and SOURCE_UNAVAILABLE says why)', () => {
    const s = snap((s) => {
      s.kafka!.brokerConfigs = {};
      setTopicConfig(s, 'pubchain', 'retention.ms', '1000');
    });
    expect(configChecks(s)).toEqual([]);
  });
});
