/**
 * CONFIG_*: the broker and topic settings Fabric's Kafka guide (docs/source/kafka.rst) requires, checked for the
 * Fabric channel topics (snapshot.expected.channels) and for the broker defaults new channels inherit.
 * Needs Kafka's effective broker configs (DescribeConfigs); without them nothing is reported here and
 * SOURCE_UNAVAILABLE says so.
 */
import type { ClusterSnapshot, Finding, RepairSuggestion, Subject } from '../model/index.js';
import { indexSnapshot, num, type CheckContext, type SnapshotIndex } from './context.js';
import { raiseReplication, setTopicConfig } from './repairs.js';
import { andList, brokers, bytes, duration, plural } from './words.js';

/** Kafka's defaults for the size settings: a value at or below them was most likely never set. */
const KAFKA_DEFAULT_MESSAGE_MAX_BYTES = 1_000_012;
const KAFKA_DEFAULT_REPLICA_FETCH_MAX_BYTES = 1_048_576;
/** Orderer.AbsoluteMaxBytes of Fabric's sample configtx.yaml. */
const FABRIC_SAMPLE_ABSOLUTE_MAX_BYTES = 10 * 1024 * 1024;

const MAX_REPAIRS = 5;

interface TopicInfo {
  topic: string;
  /** Largest replica count over its partitions; null without ZooKeeper. */
  rf: number | null;
  /** A broker whose defaults the topic inherits (its first partition's leader or first replica). */
  broker: number | undefined;
}

export function configChecks(snapshot: ClusterSnapshot, ctx: CheckContext = {}): Finding[] {
  const ix = indexSnapshot(snapshot, ctx);
  if (snapshot.kafka === null || ix.brokersWithConfig.length === 0) return [];
  const kafkaTopics = snapshot.kafka.topicConfigs;
  const channels: TopicInfo[] = [];
  for (const topic of [...ix.channels].sort()) {
    const parts = ix.topics.get(topic);
    if (!parts && kafkaTopics[topic] === undefined) continue; // no such topic yet: nothing to configure
    const first = parts?.[0];
    channels.push({
      topic,
      rf: parts ? Math.max(...parts.map((p) => p.replicas.length)) : null,
      broker: first
        ? first.leader !== null && first.leader >= 0
          ? first.leader
          : first.replicas[0]
        : undefined,
    });
  }
  return [
    ...uncleanElection(ix, channels),
    ...minIsr(ix, channels),
    ...replication(ix, channels),
    ...retention(ix, channels),
    ...messageSize(ix, channels, ctx),
    ...flush(ix, channels),
  ];
}

/** Broker ids with each distinct value of a key (brokers without the key are left out). */
function byValue(ix: SnapshotIndex, key: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const id of ix.brokersWithConfig) {
    const v = ix.brokerConfig(id, key);
    if (v === undefined) continue;
    const list = out.get(v);
    if (list) list.push(id);
    else out.set(v, [id]);
  }
  return out;
}

function brokerSubject(ix: SnapshotIndex, ids: readonly number[]): Subject {
  return ids.length === 1 && ix.brokersWithConfig.length > 1 ? { broker: ids[0]! } : {};
}

function onBrokers(ix: SnapshotIndex, ids: readonly number[]): string {
  return ids.length === ix.brokersWithConfig.length && ids.length > 1
    ? 'on every broker'
    : `on ${brokers(ids)}`;
}

function byBrokerEvidence(
  ix: SnapshotIndex,
  keys: readonly string[],
): Record<string, Record<string, string | null>> {
  const out: Record<string, Record<string, string | null>> = {};
  for (const id of ix.brokersWithConfig) {
    out[String(id)] = Object.fromEntries(keys.map((k) => [k, ix.brokerConfig(id, k) ?? null]));
  }
  return out;
}

function inheritedText(from: 'topic' | 'broker', brokerKey: string | undefined): string {
  return from === 'topic' ? 'set on the topic' : `inherited from the broker's ${brokerKey ?? 'default'}`;
}

// ------------------------------------------------------------------ unclean leader election

function uncleanElection(ix: SnapshotIndex, channels: readonly TopicInfo[]): Finding[] {
  const key = 'unclean.leader.election.enable';
  const findings: Finding[] = [];
  const on = byValue(ix, key).get('true') ?? [];
  const why =
    'An out-of-sync replica could become leader after a failure, dropping messages the orderers already ' +
    "consumed; the next messages then reuse those offsets and the orderers' chains diverge (Fabric requires " +
    `${key}=false).`;
  const inheriting = channels.filter((c) => ix.topicConfig(c.topic, key, c.broker)?.from === 'broker');
  if (on.length > 0 && (ix.scopeChannel === undefined || inheriting.length > 0)) {
    findings.push({
      code: 'CONFIG_UNCLEAN_ELECTION',
      severity: 'critical',
      subject: brokerSubject(ix, on),
      summary: `${key}=true ${onBrokers(ix, on)}: an out-of-sync replica can become leader and rewrite the chain`,
      explanation:
        `${why} Set ${key}=false in the brokers' server.properties (KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE) and ` +
        'restart them one at a time; a topic override fixes a channel at once.',
      evidence: { brokers: on, byBroker: byBrokerEvidence(ix, [key]) },
      repairs: inheriting.slice(0, MAX_REPAIRS).map((c) => setTopicConfig(c.topic, key, 'false')),
    });
  }
  for (const c of channels) {
    const r = ix.topicConfig(c.topic, key, c.broker);
    if (r?.value !== 'true' || (r.from === 'broker' && on.length > 0)) continue;
    findings.push({
      code: 'CONFIG_UNCLEAN_ELECTION',
      severity: 'critical',
      subject: { topic: c.topic },
      summary: `Channel ${c.topic} has ${key}=true (${inheritedText(r.from, r.brokerKey)}): it can rewrite the chain`,
      explanation: why,
      evidence: { topic: c.topic, value: r.value, from: r.from },
      repairs: [setTopicConfig(c.topic, key, 'false')],
    });
  }
  return findings;
}

// ------------------------------------------------------------------ min.insync.replicas

function minIsr(ix: SnapshotIndex, channels: readonly TopicInfo[]): Finding[] {
  const key = 'min.insync.replicas';
  const findings: Finding[] = [];
  const drf = num(ix.anyBrokerConfig('default.replication.factor')?.value);
  const low: number[] = [];
  const high: number[] = [];
  for (const [value, ids] of byValue(ix, key)) {
    const n = num(value);
    if (n === undefined) continue;
    if (n < 2) low.push(...ids);
    else if (drf !== undefined && drf > 1 && n >= drf) high.push(...ids);
  }
  const inheriting = channels.filter((c) => ix.topicConfig(c.topic, key, c.broker)?.from === 'broker');
  const relevant = ix.scopeChannel === undefined || inheriting.length > 0;
  if (low.length > 0 && relevant) {
    const values = [...new Set(low.map((id) => ix.brokerConfig(id, key)))].join('/');
    findings.push({
      code: 'CONFIG_MIN_ISR',
      severity: 'warning',
      subject: brokerSubject(ix, low),
      summary:
        `${key}=${values} ${onBrokers(ix, low)}: a channel accepts writes held by a single broker` +
        (inheriting.length > 0 ? ` (${plural(inheriting.length, 'channel')} inherit it)` : ''),
      explanation:
        'With one in-sync replica enough, a write acknowledged by the leader alone is lost if that broker fails ' +
        `before the followers copy it. Fabric requires 1 < ${key} < default.replication.factor (2 with RF 3). ` +
        'Set it in server.properties (KAFKA_MIN_INSYNC_REPLICAS), or per channel topic.',
      evidence: { brokers: low, byBroker: byBrokerEvidence(ix, [key, 'default.replication.factor']) },
      repairs: inheriting.slice(0, MAX_REPAIRS).map((c) => setTopicConfig(c.topic, key, '2')),
    });
  }
  // Channels that inherit a too-high broker default with the default replication factor: said once, there.
  const coveredHigh =
    high.length > 0
      ? inheriting.filter((c) => {
          const n = num(ix.topicConfig(c.topic, key, c.broker)?.value);
          return n !== undefined && c.rf !== null && c.rf === drf && n >= c.rf;
        })
      : [];
  if (high.length > 0 && relevant) {
    findings.push({
      code: 'CONFIG_MIN_ISR',
      severity: 'warning',
      subject: brokerSubject(ix, high),
      summary:
        `${key} is not below default.replication.factor (${drf}) ${onBrokers(ix, high)}: ` +
        'one broker down blocks writes to channels' +
        (coveredHigh.length > 0 ? ` (${andList(coveredHigh.map((c) => c.topic))} inherit it)` : ''),
      explanation:
        `A channel created with ${drf} replicas and ${key} >= ${drf} stops accepting writes as soon as one ` +
        `replica is out of sync. Fabric requires 1 < ${key} < default.replication.factor.`,
      evidence: { brokers: high, byBroker: byBrokerEvidence(ix, [key, 'default.replication.factor']) },
      repairs: coveredHigh
        .slice(0, MAX_REPAIRS)
        .map((c) => setTopicConfig(c.topic, key, String(Math.max(2, (c.rf ?? 3) - 1)))),
    });
  }
  for (const c of channels) {
    const r = ix.topicConfig(c.topic, key, c.broker);
    const n = num(r?.value);
    if (r === undefined || n === undefined) continue;
    const lowTopic = n < 2 && r.from === 'topic';
    const highTopic = c.rf !== null && c.rf > 1 && n >= c.rf && !coveredHigh.includes(c);
    if (!lowTopic && !highTopic) continue;
    const repairs: RepairSuggestion[] = [];
    if (lowTopic) repairs.push(setTopicConfig(c.topic, key, '2'));
    else if (c.rf !== null && c.rf >= 3) repairs.push(setTopicConfig(c.topic, key, String(c.rf - 1)));
    else repairs.push(raiseReplication(c.topic));
    findings.push({
      code: 'CONFIG_MIN_ISR',
      severity: 'warning',
      subject: { topic: c.topic },
      summary: lowTopic
        ? `Channel ${c.topic} has ${key}=${n} (set on the topic): writes held by a single broker are acknowledged`
        : `Channel ${c.topic} has ${key}=${n} with replication factor ${c.rf} (${inheritedText(r.from, r.brokerKey)}): ` +
          'one replica out of sync blocks writes',
      explanation: lowTopic
        ? 'A write acknowledged by the leader alone is lost if that broker fails before the followers copy it. ' +
          `Fabric requires 1 < ${key} < replication factor.`
        : `With ${key} >= replication factor the channel has no replica to spare: any broker restart stops the ` +
          `orderers' writes. Fabric requires 1 < ${key} < replication factor (2 with RF 3).`,
      evidence: { topic: c.topic, value: n, from: r.from, replicationFactor: c.rf },
      repairs,
    });
  }
  return findings;
}

// ------------------------------------------------------------------ replication

function replication(ix: SnapshotIndex, channels: readonly TopicInfo[]): Finding[] {
  const findings: Finding[] = [];
  const snapshot = ix.snapshot;
  const brokerCount =
    snapshot.expected.brokerIds.length > 0
      ? snapshot.expected.brokerIds.length
      : ix.registered !== null
        ? ix.registered.size
        : ix.brokersWithConfig.length;
  if (brokerCount > 0 && brokerCount < 4) {
    findings.push({
      code: 'CONFIG_REPLICATION',
      severity: 'warning',
      subject: {},
      summary: `The cluster has ${plural(brokerCount, 'broker')}: Fabric needs at least 4 to survive one broker down`,
      explanation:
        'With replication factor 3 and min.insync.replicas 2, a fourth broker is what lets new channels be ' +
        'created (they need 3 live brokers) while one broker is down for maintenance or a failure.',
      evidence: { brokers: brokerCount, expected: snapshot.expected.brokerIds },
      repairs: [],
    });
  }
  const key = 'default.replication.factor';
  for (const [value, ids] of byValue(ix, key)) {
    const n = num(value);
    if (n === undefined) continue;
    const tooLow = n < 3;
    const tooHigh = brokerCount > 0 && n >= brokerCount;
    if (!tooLow && !tooHigh) continue;
    findings.push({
      code: 'CONFIG_REPLICATION',
      severity: 'warning',
      subject: brokerSubject(ix, ids),
      summary: tooLow
        ? `${key}=${n} ${onBrokers(ix, ids)}: new channels get fewer than 3 copies`
        : `${key}=${n} ${onBrokers(ix, ids)} is not below the broker count (${brokerCount}): ` +
          'no channel can be created while a broker is down',
      explanation: tooLow
        ? 'Channels created from now on (the orderer creates a topic per channel) get this replication factor. ' +
          'Fabric requires N >= 3 with 1 < min.insync.replicas < N < brokers. Set it in server.properties and ' +
          "the orderers' Kafka.Topic.ReplicationFactor."
        : `Creating a topic needs ${n} live brokers; with ${brokerCount} brokers one failure blocks channel ` +
          'creation. Fabric requires default.replication.factor < number of brokers.',
      evidence: { brokers: ids, value: n, brokerCount },
      repairs: [],
    });
  }
  for (const c of channels) {
    if (c.rf !== 2) continue; // RF 1 is SINGLE_REPLICA
    findings.push({
      code: 'CONFIG_REPLICATION',
      severity: 'warning',
      subject: { topic: c.topic },
      summary: `Channel ${c.topic} has replication factor 2: Fabric needs 3`,
      explanation:
        'With 2 replicas, min.insync.replicas can be either 1 (a write held by one broker is acknowledged) or 2 ' +
        '(any broker restart stops writes): neither is safe. Raise the replication factor to 3.',
      evidence: { topic: c.topic, replicationFactor: c.rf },
      repairs: [raiseReplication(c.topic)],
    });
  }
  return findings;
}

// ------------------------------------------------------------------ retention

function retention(ix: SnapshotIndex, channels: readonly TopicInfo[]): Finding[] {
  const findings: Finding[] = [];
  let anyInherits = false;
  for (const c of channels) {
    const problems: string[] = [];
    const repairs: RepairSuggestion[] = [];
    const evidence: Record<string, unknown> = { topic: c.topic };
    const ms = ix.topicConfig(c.topic, 'retention.ms', c.broker);
    const msN = num(ms?.value);
    if (ms && msN !== undefined && msN >= 0) {
      problems.push(`retention.ms=${msN} (${duration(msN)}, ${inheritedText(ms.from, ms.brokerKey)})`);
      repairs.push(setTopicConfig(c.topic, 'retention.ms', '-1'));
      evidence['retention.ms'] = { value: msN, from: ms.from, brokerKey: ms.brokerKey };
      if (ms.from === 'broker') anyInherits = true;
    }
    const by = ix.topicConfig(c.topic, 'retention.bytes', c.broker);
    const byN = num(by?.value);
    if (by && byN !== undefined && byN >= 0) {
      problems.push(`retention.bytes=${byN} (${bytes(byN)}, ${inheritedText(by.from, by.brokerKey)})`);
      repairs.push(setTopicConfig(c.topic, 'retention.bytes', '-1'));
      evidence['retention.bytes'] = { value: byN, from: by.from };
      if (by.from === 'broker') anyInherits = true;
    }
    const policy = ix.topicConfig(c.topic, 'cleanup.policy', c.broker);
    if (policy && policy.value.split(',').some((s) => s.trim() === 'compact')) {
      problems.push(
        `cleanup.policy=${policy.value} (every Fabric message has key "0": compaction keeps only the last)`,
      );
      repairs.push(setTopicConfig(c.topic, 'cleanup.policy', 'delete'));
      evidence['cleanup.policy'] = { value: policy.value, from: policy.from };
      if (policy.from === 'broker') anyInherits = true;
    }
    if (problems.length === 0) continue;
    findings.push({
      code: 'CONFIG_RETENTION',
      severity: 'critical',
      subject: { topic: c.topic },
      summary: `Channel ${c.topic} can lose messages to retention: ${problems.join('; ')}`,
      explanation:
        'An orderer that restarts or joins replays the channel from its stored offset, and a new orderer from ' +
        'offset 0: messages deleted by retention are gone for it (expected offset below the log start offset) ' +
        'and it cannot serve the channel. Fabric needs log.retention.ms=-1 and no size limit; set the topic ' +
        'override now and the broker default for future channels.',
      evidence,
      repairs,
    });
  }
  // Future channels: the broker default, when no existing channel already reports it.
  if (!anyInherits && ix.scopeChannel === undefined) {
    const ms = ix.inherited('retention.ms');
    const msN = num(ms?.value);
    const by = ix.inherited('retention.bytes');
    const byN = num(by?.value);
    const parts: string[] = [];
    if (ms && msN !== undefined && msN >= 0) parts.push(`${ms.brokerKey} gives ${duration(msN)}`);
    if (by && byN !== undefined && byN >= 0) parts.push(`log.retention.bytes=${byN} (${bytes(byN)})`);
    if (parts.length > 0) {
      findings.push({
        code: 'CONFIG_RETENTION',
        severity: channels.length === 0 ? 'critical' : 'warning',
        subject: {},
        summary: `Broker default retention deletes messages (${parts.join('; ')}): new channels inherit it`,
        explanation:
          'Existing channel topics override it, but every channel created from now on gets this retention. ' +
          'Set log.retention.ms=-1 (KAFKA_LOG_RETENTION_MS=-1) and leave log.retention.bytes at -1.',
        evidence: byBrokerEvidence(ix, [
          'log.retention.ms',
          'log.retention.minutes',
          'log.retention.hours',
          'log.retention.bytes',
        ]),
        repairs: [],
      });
    }
  }
  return findings;
}

// ------------------------------------------------------------------ message sizes

function messageSize(ix: SnapshotIndex, channels: readonly TopicInfo[], ctx: CheckContext): Finding[] {
  const findings: Finding[] = [];
  const A = ctx.absoluteMaxBytes;
  const keys = ['message.max.bytes', 'replica.fetch.max.bytes', 'socket.request.max.bytes'] as const;
  // Group brokers with the same three values.
  const groups = new Map<string, { ids: number[]; mmb?: number; rfmb?: number; srmb?: number }>();
  for (const id of ix.brokersWithConfig) {
    const [mmb, rfmb, srmb] = keys.map((k) => num(ix.brokerConfig(id, k)));
    const gk = `${mmb}|${rfmb}|${srmb}`;
    const g = groups.get(gk);
    if (g) g.ids.push(id);
    else groups.set(gk, { ids: [id], mmb, rfmb, srmb });
  }
  let minFetch: number | undefined;
  for (const g of groups.values()) {
    const { mmb, rfmb, srmb } = g;
    if (rfmb !== undefined) minFetch = minFetch === undefined ? rfmb : Math.min(minFetch, rfmb);
    const problems: string[] = [];
    if (rfmb !== undefined && mmb !== undefined && rfmb > mmb) {
      problems.push(`replica.fetch.max.bytes ${bytes(rfmb)} is above message.max.bytes ${bytes(mmb)}`);
    }
    if (mmb !== undefined && srmb !== undefined && mmb >= srmb) {
      problems.push(`message.max.bytes ${bytes(mmb)} is not below socket.request.max.bytes ${bytes(srmb)}`);
    }
    if (A !== undefined) {
      if (rfmb !== undefined && rfmb <= A) {
        problems.push(
          `replica.fetch.max.bytes ${bytes(rfmb)} is not above Orderer.AbsoluteMaxBytes ${bytes(A)}`,
        );
      }
      if (mmb !== undefined && mmb <= A) {
        problems.push(`message.max.bytes ${bytes(mmb)} is not above Orderer.AbsoluteMaxBytes ${bytes(A)}`);
      }
    } else {
      if (mmb !== undefined && mmb <= KAFKA_DEFAULT_MESSAGE_MAX_BYTES) {
        problems.push(
          `message.max.bytes ${bytes(mmb)} is Kafka's default, below Fabric's sample AbsoluteMaxBytes ` +
            `(${bytes(FABRIC_SAMPLE_ABSOLUTE_MAX_BYTES)})`,
        );
      }
      if (rfmb !== undefined && rfmb <= KAFKA_DEFAULT_REPLICA_FETCH_MAX_BYTES) {
        problems.push(
          `replica.fetch.max.bytes ${bytes(rfmb)} is Kafka's default, too small for Fabric's blocks`,
        );
      }
    }
    if (problems.length === 0) continue;
    findings.push({
      code: 'CONFIG_MESSAGE_SIZE',
      severity: 'warning',
      // Several groups: each names its first broker so that their subjects differ.
      subject: groups.size === 1 ? {} : { broker: g.ids[0]! },
      summary: `Message size settings ${onBrokers(ix, g.ids)}: ${problems.join('; ')}`,
      explanation:
        'Fabric requires Orderer.AbsoluteMaxBytes < replica.fetch.max.bytes <= message.max.bytes < ' +
        'socket.request.max.bytes, with about 1 MiB to spare for headers. A transaction within ' +
        'AbsoluteMaxBytes but above message.max.bytes is accepted by the orderer and then rejected by Kafka. ' +
        "Fabric's Kafka images use 103809024 (99 MiB) for both." +
        (A === undefined
          ? ' (AbsoluteMaxBytes of the channels is not known here: checked against defaults.)'
          : ''),
      evidence: {
        brokers: g.ids,
        'message.max.bytes': mmb ?? null,
        'replica.fetch.max.bytes': rfmb ?? null,
        'socket.request.max.bytes': srmb ?? null,
        ...(A !== undefined ? { absoluteMaxBytes: A } : {}),
      },
      repairs: [],
    });
  }
  for (const c of channels) {
    const r = ix.topicConfig(c.topic, 'max.message.bytes', c.broker);
    const n = num(r?.value);
    if (r === undefined || n === undefined || r.from !== 'topic') continue;
    const problems: string[] = [];
    if (minFetch !== undefined && n > minFetch) {
      problems.push(`max.message.bytes ${bytes(n)} is above replica.fetch.max.bytes ${bytes(minFetch)}`);
    }
    if (A !== undefined && n <= A)
      problems.push(`max.message.bytes ${bytes(n)} is not above AbsoluteMaxBytes ${bytes(A)}`);
    if (problems.length === 0) continue;
    findings.push({
      code: 'CONFIG_MESSAGE_SIZE',
      severity: 'warning',
      subject: { topic: c.topic },
      summary: `Channel ${c.topic}: ${problems.join('; ')}`,
      explanation:
        'The topic override decides what the channel accepts. It must stay within what followers fetch ' +
        '(replica.fetch.max.bytes) and above what the orderers send (Orderer.AbsoluteMaxBytes).',
      evidence: { topic: c.topic, 'max.message.bytes': n, 'replica.fetch.max.bytes': minFetch ?? null },
      repairs:
        minFetch !== undefined && n > minFetch
          ? [setTopicConfig(c.topic, 'max.message.bytes', String(minFetch))]
          : [],
    });
  }
  return findings;
}

// ------------------------------------------------------------------ flush

function flush(ix: SnapshotIndex, channels: readonly TopicInfo[]): Finding[] {
  const unflushed: { topic: string; value: string; from: string }[] = [];
  for (const c of channels) {
    const r = ix.topicConfig(c.topic, 'flush.messages', c.broker);
    if (r === undefined || num(r.value) === 1) continue;
    unflushed.push({ topic: c.topic, value: r.value, from: r.from });
  }
  const explanation =
    'Kafka acknowledges a write once the in-sync replicas have it in memory, and leaves flushing to the OS. If ' +
    'every replica loses power at once, the unflushed tail is lost while the orderers already cut blocks from it: ' +
    'they then expect offsets past the high watermark and stop serving the channel (seed 000). ' +
    'log.flush.interval.messages=1 (or flush.messages=1 per channel topic) trades throughput for that safety; ' +
    'racks or power domains that do not fail together are the alternative.';
  if (channels.length === 0) {
    if (ix.scopeChannel !== undefined) return [];
    const ids = ix.brokersWithConfig.filter(
      (id) => num(ix.brokerConfig(id, 'log.flush.interval.messages')) !== 1,
    );
    const known = ids.filter((id) => ix.brokerConfig(id, 'log.flush.interval.messages') !== undefined);
    if (known.length === 0) return [];
    return [
      {
        code: 'CONFIG_FLUSH',
        severity: 'info',
        subject: brokerSubject(ix, known),
        summary: `log.flush.interval.messages is not 1 ${onBrokers(ix, known)}: unflushed writes can be lost on power failure`,
        explanation,
        evidence: { byBroker: byBrokerEvidence(ix, ['log.flush.interval.messages']) },
        repairs: [],
      },
    ];
  }
  if (unflushed.length === 0) return [];
  const values = [...new Set(unflushed.map((u) => u.value))];
  return [
    {
      code: 'CONFIG_FLUSH',
      severity: 'info',
      subject: unflushed.length === 1 ? { topic: unflushed[0]!.topic } : {},
      summary:
        `${unflushed.length === 1 ? 'Channel' : 'Channels'} ${andList(unflushed.map((u) => u.topic))} ` +
        `${unflushed.length === 1 ? 'does' : 'do'} not flush every message (flush.messages=` +
        `${values.map((v) => (v === '9223372036854775807' ? `${v}, Kafka's default` : v)).join('/')})` +
        ': unflushed writes can be lost on power failure',
      explanation,
      evidence: { topics: unflushed, byBroker: byBrokerEvidence(ix, ['log.flush.interval.messages']) },
      repairs: unflushed.slice(0, MAX_REPAIRS).map((u) => setTopicConfig(u.topic, 'flush.messages', '1')),
    },
  ];
}
