/**
 * Issue #9, bad input from the cluster: checks and renderers over hostile snapshots, as a broken cluster can
 * report them (unknown broker ids, a leader outside its replicas, empty ISRs, negative offsets, a log start
 * offset above the high watermark, duplicated partitions, thousands of partitions, names with every legal Kafka
 * character and with characters Kafka forbids: Slack markup, backticks, newlines, terminal escapes, unicode).
 *
 * - No check throws (each core check, the orderer and the container checks, called on their own).
 * - Each hostile fact is reported as a finding about what it concerns (never silently dropped).
 * - The JSON report keeps the contract's shape and survives a JSON round trip; the terminal text carries no
 *   control character; Block Kit stays within Slack's limits and no name can become a mention or a link.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { CORE_CHECKS, runChecks } from '../../src/checks/index.js';
import { containerChecks } from '../../src/checks/containers.js';
import { whatIfExitCode, whatIfStopBroker } from '../../src/checks/whatif.js';
import { NotFoundError } from '../../src/errors/index.js';
import {
  FINDING_CODES,
  type ClusterSnapshot,
  type ContainerObservation,
  type Finding,
  type LogMatch,
  type Report,
  type ZkPartitionState,
} from '../../src/model/index.js';
import { ordererChecks } from '../../src/orderers/checks.js';
import { buildReport } from '../../src/render/report.js';
import { renderText, renderWhatIf } from '../../src/render/text.js';
import {
  changesBlocks,
  checkBlockLimits,
  findingBlock,
  incidentBlocks,
  incidentChangeText,
  reportBlocks,
  SLACK_LIMITS,
  whatIfBlocks,
  type KnownBlock,
} from '../../src/slack/blocks.js';
import { blocksToText } from '../../src/slack/blocks-text.js';
import { addTopic, BROKERS, healthy } from '../fixtures/snapshots/builder.js';

// Property tests run a few seconds alone; on a loaded 2-core machine give them room.
vi.setConfig({ testTimeout: 60_000 });

const SEED = 909;

// ------------------------------------------------------------------ names

/** Every character Kafka allows in a topic name, up to its 249-character limit. */
const legalName = fc
  .stringMatching(/^[A-Za-z0-9._-]{1,249}$/)
  .filter((n) => n !== '.' && n !== '..' && n !== 'pubchain' && n !== 'testchainid');

/** Names a broken cluster (or a hand-edited ZooKeeper) could report. */
const oddName = fc.oneof(
  fc.constantFrom(
    '*_~',
    '<!channel>',
    '<!here|here>',
    '<@U012ALICE>',
    '<#C0123|general>',
    '<https://evil.example/x|click me>',
    'a&amp;b&lt;',
    '`rm -rf /`',
    '```',
    'x```\n*bold*',
    'line\nbreak',
    'carriage\rreturn',
    '\u001b[2J\u001b[31mred',
    '\u202eevil\u202c',
    'zero\u200bwidth',
    'ünï©ødé',
    '频道',
    '👩‍👩‍👧‍👦',
    ' ',
    'tab\there',
    'x'.repeat(600),
    `${'y'.repeat(249)}`,
  ),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
);

const topicName = fc.oneof(legalName, oddName);

// ------------------------------------------------------------------ hostile facts

const brokerId = fc.oneof(
  fc.constantFrom(1, 2, 3, 4),
  fc.constantFrom(0, 5, 99, 1001, -1, -7, 2 ** 31 - 1, 2 ** 53 - 1),
  fc.integer({ min: -5, max: 20 }),
);
const unknownId = fc.oneof(
  fc.constantFrom(99, 1001, -7, 2 ** 31 - 1),
  fc.integer({ min: 5, max: 1_000_000 }),
);
const offset = fc.oneof(
  fc.constantFrom(-1, -2, -1000, 0, 2 ** 53 - 1, 9_007_199_254_740_991),
  fc.integer({ min: -100, max: 1_000_000 }),
);
/** An index into the snapshot's partitions (taken modulo their number). */
const at = fc.nat(50);

type Hostile =
  | { k: 'unknownReplica'; at: number; id: number }
  | { k: 'unknownIsr'; at: number; id: number }
  | { k: 'unknownLeader'; at: number; id: number }
  | { k: 'leaderOutside'; at: number }
  | { k: 'emptyIsr'; at: number }
  | { k: 'emptyReplicas'; at: number }
  | { k: 'dupReplicas'; at: number }
  | { k: 'nullLeader'; at: number }
  | { k: 'offsets'; at: number; hw: number; lso: number }
  | { k: 'lsoAboveHw'; at: number; by: number }
  | { k: 'dupPartition'; at: number; leader: number; isr: number[] }
  | { k: 'addTopic'; topic: string; n: number; rf: number; channel: boolean }
  | { k: 'rename'; which: number; to: string }
  | {
      k: 'orderer';
      channel: string | null;
      orderer: string;
      expected: number | null;
      persisted: number | null;
    }
  | { k: 'view'; at: number; broker: number; leader: number; errorCode: number; replicas: number[] }
  | { k: 'registration'; id: number; host: string; port: number }
  | { k: 'controller'; id: number | null }
  | { k: 'log'; origin: string; line: string; channel: string | null }
  | { k: 'container'; name: string; role: ContainerObservation['role']; runs: string | number; state: string }
  | { k: 'config'; topic: string | null; key: string; value: string }
  | { k: 'brokerConfig'; id: number; key: string; value: string }
  | { k: 'probe'; id: number; from: string; host: string }
  | { k: 'partitionNumber'; at: number; partition: number }
  | { k: 'sourceError'; source: 'kafka' | 'zookeeper' | 'docker' | 'orderers'; error: string }
  | { k: 'malformed'; path: string; error: string }
  | { k: 'zkMember'; address: string; ok: boolean; mode: string };

const CONFIG_KEYS = [
  'min.insync.replicas',
  'unclean.leader.election.enable',
  'retention.ms',
  'retention.bytes',
  'cleanup.policy',
  'max.message.bytes',
  'flush.messages',
  'default.replication.factor',
  'message.max.bytes',
  'replica.fetch.max.bytes',
  'log.retention.hours',
  'log.flush.interval.messages',
];
const configValue = fc.oneof(
  fc.constantFrom(
    '-1',
    '0',
    '1',
    '2',
    '3',
    '99',
    'true',
    'false',
    'compact',
    'abc',
    '',
    ' ',
    '1e400',
    'NaN',
    '-0',
  ),
  fc.string({ maxLength: 10 }),
);

const hostile: fc.Arbitrary<Hostile> = fc.oneof(
  fc.record({ k: fc.constant('unknownReplica' as const), at, id: unknownId }),
  fc.record({ k: fc.constant('unknownIsr' as const), at, id: unknownId }),
  fc.record({ k: fc.constant('unknownLeader' as const), at, id: unknownId }),
  fc.record({ k: fc.constant('leaderOutside' as const), at }),
  fc.record({ k: fc.constant('emptyIsr' as const), at }),
  fc.record({ k: fc.constant('emptyReplicas' as const), at }),
  fc.record({ k: fc.constant('dupReplicas' as const), at }),
  fc.record({ k: fc.constant('nullLeader' as const), at }),
  fc.record({ k: fc.constant('offsets' as const), at, hw: offset, lso: offset }),
  fc.record({ k: fc.constant('lsoAboveHw' as const), at, by: fc.integer({ min: 1, max: 10_000 }) }),
  fc.record({
    k: fc.constant('dupPartition' as const),
    at,
    leader: brokerId,
    isr: fc.array(brokerId, { maxLength: 4 }),
  }),
  fc.record({
    k: fc.constant('addTopic' as const),
    topic: topicName,
    n: fc.integer({ min: 1, max: 30 }),
    rf: fc.integer({ min: 0, max: 6 }),
    channel: fc.boolean(),
  }),
  fc.record({ k: fc.constant('rename' as const), which: fc.nat(1), to: topicName }),
  fc.record({
    k: fc.constant('orderer' as const),
    channel: fc.option(topicName, { nil: null }),
    orderer: fc.oneof(fc.constant('orderer1.example.com'), oddName),
    expected: fc.option(offset, { nil: null }),
    persisted: fc.option(offset, { nil: null }),
  }),
  fc.record({
    k: fc.constant('view' as const),
    at,
    broker: brokerId,
    leader: brokerId,
    errorCode: fc.oneof(fc.constantFrom(0, 3, 5, 6, 9), fc.integer({ min: -1, max: 200 })),
    replicas: fc.array(brokerId, { maxLength: 5 }),
  }),
  fc.record({
    k: fc.constant('registration' as const),
    id: brokerId,
    host: fc.oneof(fc.constant('127.0.0.1'), oddName),
    port: fc.oneof(fc.constantFrom(0, 19092, 65535, 70000, -1), fc.integer()),
  }),
  fc.record({ k: fc.constant('controller' as const), id: fc.option(brokerId, { nil: null }) }),
  fc.record({
    k: fc.constant('log' as const),
    origin: fc.oneof(fc.constant('orderer1.example.com'), oddName),
    line: fc.oneof(
      oddName,
      fc.constantFrom(
        '2018-08-15 01:30:36.123 UTC [orderer/consensus/kafka] try -> ERRO 0a5 [channel: pubchain] Cannot set up channel consumer: kafka server: The requested offset is outside the range of offsets maintained by the server for the given topic/partition.',
        '[2024-01-01 00:00:00,000] WARN [Controller id=1, targetBrokerId=2] Connection to node 2 (/10.0.0.9:9092) could not be established. Broker may not be available. (org.apache.kafka.clients.NetworkClient)',
        '{"log":"<!channel> ```\\n","time":"not a time"}',
      ),
    ),
    channel: fc.option(fc.oneof(fc.constant('pubchain'), oddName), { nil: null }),
  }),
  fc.record({
    k: fc.constant('container' as const),
    name: oddName,
    role: fc.constantFrom('broker' as const, 'zookeeper' as const, 'orderer' as const, 'other' as const),
    runs: fc.oneof(brokerId, oddName),
    state: fc.oneof(fc.constantFrom('running', 'exited', 'restarting', 'paused', 'dead'), oddName),
  }),
  fc.record({
    k: fc.constant('config' as const),
    topic: fc.option(topicName, { nil: null }),
    key: fc.constantFrom(...CONFIG_KEYS),
    value: configValue,
  }),
  fc.record({
    k: fc.constant('brokerConfig' as const),
    id: brokerId,
    key: fc.constantFrom(...CONFIG_KEYS),
    value: configValue,
  }),
  fc.record({
    k: fc.constant('probe' as const),
    id: brokerId,
    from: fc.oneof(fc.constant('opsbot'), oddName),
    host: oddName,
  }),
  fc.record({
    k: fc.constant('partitionNumber' as const),
    at,
    partition: fc.constantFrom(-1, -2147483648, 2147483647, 9_007_199_254_740_991),
  }),
  fc.record({
    k: fc.constant('sourceError' as const),
    source: fc.constantFrom('kafka' as const, 'zookeeper' as const, 'docker' as const, 'orderers' as const),
    error: oddName,
  }),
  fc.record({ k: fc.constant('malformed' as const), path: oddName, error: oddName }),
  fc.record({
    k: fc.constant('zkMember' as const),
    address: oddName,
    ok: fc.boolean(),
    mode: fc.oneof(fc.constantFrom('leader', 'follower', 'standalone', 'unknown'), oddName),
  }),
);

function pick(s: ClusterSnapshot, i: number): ZkPartitionState | undefined {
  const parts = s.zookeeper?.partitions ?? [];
  return parts.length === 0 ? undefined : parts[i % parts.length];
}

/** Rename a topic everywhere the snapshot names it (ZooKeeper, metadata, offsets, configs, orderers, channels). */
function renameTopic(s: ClusterSnapshot, from: string, to: string): void {
  for (const p of s.zookeeper?.partitions ?? []) if (p.topic === from) p.topic = to;
  for (const v of s.kafka?.views ?? [])
    for (const p of v.partitions ?? []) if (p.topic === from) p.topic = to;
  for (const o of s.kafka?.offsets ?? []) if (o.topic === from) o.topic = to;
  if (s.kafka?.topicConfigs[from]) {
    s.kafka.topicConfigs[to] = s.kafka.topicConfigs[from]!;
    delete s.kafka.topicConfigs[from];
  }
  for (const o of s.orderers?.positions ?? []) if (o.channel === from) o.channel = to;
  s.expected.channels = s.expected.channels.map((c) => (c === from ? to : c));
  if (s.scope.channel === from) s.scope.channel = to;
}

function applyHostile(s: ClusterSnapshot, h: Hostile): void {
  const zk = s.zookeeper!;
  switch (h.k) {
    case 'unknownReplica': {
      const p = pick(s, h.at);
      if (p) p.replicas = [...p.replicas, h.id];
      break;
    }
    case 'unknownIsr': {
      const p = pick(s, h.at);
      if (p) p.isr = [...p.isr, h.id];
      break;
    }
    case 'unknownLeader': {
      const p = pick(s, h.at);
      if (p) p.leader = h.id;
      break;
    }
    case 'leaderOutside': {
      const p = pick(s, h.at);
      const outside = BROKERS.find((b) => p && !p.replicas.includes(b));
      if (p && outside !== undefined) p.leader = outside;
      break;
    }
    case 'emptyIsr': {
      const p = pick(s, h.at);
      if (p) p.isr = [];
      break;
    }
    case 'emptyReplicas': {
      const p = pick(s, h.at);
      if (p) p.replicas = [];
      break;
    }
    case 'dupReplicas': {
      const p = pick(s, h.at);
      if (p) p.replicas = [...p.replicas, ...p.replicas];
      break;
    }
    case 'nullLeader': {
      const p = pick(s, h.at);
      if (p) p.leader = null;
      break;
    }
    case 'offsets': {
      const o = s.kafka?.offsets[h.at % Math.max(1, s.kafka.offsets.length)];
      if (o) {
        o.highWatermark = h.hw;
        o.logStartOffset = h.lso;
      }
      break;
    }
    case 'lsoAboveHw': {
      const o = s.kafka?.offsets[h.at % Math.max(1, s.kafka.offsets.length)];
      if (o) o.logStartOffset = (o.highWatermark ?? 0) + h.by;
      break;
    }
    case 'dupPartition': {
      const p = pick(s, h.at);
      if (p) zk.partitions.push({ ...p, leader: h.leader, isr: h.isr, replicas: [...p.replicas] });
      break;
    }
    case 'addTopic':
      addTopic(s, h.topic, h.n, h.rf, { channel: h.channel });
      break;
    case 'rename':
      renameTopic(s, ['pubchain', 'testchainid'][h.which]!, h.to);
      break;
    case 'orderer':
      s.orderers!.positions.push({
        orderer: h.orderer,
        channel: h.channel ?? 'pubchain',
        lastOffsetPersisted: h.persisted,
        expectedStartOffset: h.expected,
        source: h.expected === null ? null : 'metrics',
        bySource: {},
        errors: [],
      });
      break;
    case 'view': {
      const v = s.kafka?.views[h.broker % 4 < 0 ? 0 : Math.abs(h.broker) % 4];
      const p = pick(s, h.at);
      const mp = v?.partitions?.find((x) => p && x.topic === p.topic && x.partition === p.partition);
      if (mp) {
        mp.leader = h.leader;
        mp.errorCode = h.errorCode;
        mp.replicas = h.replicas;
      }
      break;
    }
    case 'registration':
      zk.brokers.push({
        id: h.id,
        host: h.host,
        port: h.port,
        endpoints: [`PLAINTEXT://${h.host}:${h.port}`],
      });
      break;
    case 'controller':
      zk.controller = h.id === null ? null : { brokerId: h.id };
      break;
    case 'log': {
      const m: LogMatch = {
        origin: h.origin,
        signature: 'orderer.kafka.offset-out-of-range',
        severity: 'critical',
        line: h.line,
        count: 3,
        at: '2026-11-21T09:59:00.000Z',
        firstAt: 'not a time',
      };
      if (h.channel !== null) m.channel = h.channel;
      s.logs.push(m, { ...m, signature: 'kafka.controller.cannot-connect', container: h.origin });
      break;
    }
    case 'container':
      (s.containers ??= []).push({
        name: h.name,
        role: h.role,
        runs: h.runs,
        endpoint: 'host1',
        found: true,
        state: h.state,
        running: h.state === 'running',
        restartCount: 3,
        exitCode: 137,
        startedAt: '2026-11-21T09:58:00.000Z',
        finishedAt: 'garbage',
        previousRestartCount: 1,
      });
      break;
    case 'config': {
      const topic = h.topic ?? 'pubchain';
      if (s.kafka) s.kafka.topicConfigs[topic] = { ...(s.kafka.topicConfigs[topic] ?? {}), [h.key]: h.value };
      zk.topicConfigs[topic] = { ...(zk.topicConfigs[topic] ?? {}), [h.key]: h.value };
      break;
    }
    case 'brokerConfig':
      if (s.kafka)
        s.kafka.brokerConfigs[String(h.id)] = {
          ...(s.kafka.brokerConfigs[String(h.id)] ?? {}),
          [h.key]: h.value,
        };
      break;
    case 'partitionNumber': {
      const p = pick(s, h.at);
      if (!p) break;
      for (const v of s.kafka?.views ?? [])
        for (const mp of v.partitions ?? [])
          if (mp.topic === p.topic && mp.partition === p.partition) mp.partition = h.partition;
      for (const o of s.kafka?.offsets ?? [])
        if (o.topic === p.topic && o.partition === p.partition) o.partition = h.partition;
      p.partition = h.partition;
      break;
    }
    case 'sourceError':
      s.sources[h.source] = { ok: false, error: h.error, notChecked: [h.error] };
      if (h.source === 'docker') s.containers = [];
      break;
    case 'malformed':
      zk.malformed.push({ path: h.path, error: h.error });
      break;
    case 'zkMember':
      zk.members.push({ address: h.address, ok: h.ok, mode: h.mode as 'leader' });
      break;
    case 'probe':
      s.reachability.push({
        brokerId: h.id,
        endpoint: `PLAINTEXT://${h.host}:1`,
        host: h.host,
        port: 1,
        from: h.from,
        ok: false,
        ms: 3,
        error: `connect ECONNREFUSED ${h.host}`,
      });
      break;
  }
}

const scopeArb = fc.option(fc.oneof(fc.constantFrom('pubchain', 'testchainid'), topicName), {
  nil: undefined,
});

/** Hostile facts and a scope: the counterexample fast-check prints is this list, not the whole snapshot. */
const snapshotArb = fc.tuple(fc.array(hostile, { maxLength: 6 }), scopeArb);

function build([facts, scope]: [Hostile[], string | undefined]): ClusterSnapshot {
  const s = healthy();
  for (const h of facts) applyHostile(s, h);
  if (scope !== undefined) s.scope = { channel: scope };
  return s;
}

// ------------------------------------------------------------------ properties of the output

const SUBJECT_KEYS = [
  'topic',
  'partition',
  'broker',
  'orderer',
  'channel',
  'container',
  'zookeeper',
  'source',
];

function controlIn(s: string, allowNewline: boolean): string | undefined {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (allowNewline && ch === '\n') continue;
    if (
      cp < 0x20 ||
      (cp >= 0x7f && cp < 0xa0) ||
      (cp >= 0x202a && cp <= 0x202e) ||
      (cp >= 0x2066 && cp <= 0x2069)
    )
      return `U+${cp.toString(16)}`;
  }
  return undefined;
}

function expectFinding(f: Finding): void {
  expect(FINDING_CODES).toContain(f.code);
  expect(['critical', 'warning', 'info']).toContain(f.severity);
  for (const [k, v] of Object.entries(f.subject)) {
    expect(SUBJECT_KEYS).toContain(k);
    if (k === 'partition' || k === 'broker') expect(typeof v).toBe('number');
    else expect(typeof v).toBe('string');
  }
  expect(typeof f.summary).toBe('string');
  expect(f.summary.length).toBeGreaterThan(0);
  expect(f.evidence !== null && typeof f.evidence === 'object').toBe(true);
  for (const r of f.repairs) {
    expect(typeof r.kind).toBe('string');
    expect(typeof r.title).toBe('string');
    for (const v of Object.values(r.args)) expect(['string', 'number']).toContain(typeof v);
  }
}

const nullableNumber = (v: unknown) => v === null || typeof v === 'number';
const ints = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'number');

/** The contract's JSON shape (shared/contracts/interface.md), and nothing that does not survive JSON. */
function expectContract(r: Report): void {
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
  expect(typeof r.cluster).toBe('string');
  expect(typeof r.generatedAt).toBe('string');
  expect(Object.keys(r.scope).every((k) => k === 'channel')).toBe(true);
  expect(nullableNumber(r.controller)).toBe(true);
  for (const b of r.brokers) {
    expect(
      Object.keys(b).every((k) => ['id', 'host', 'port', 'registered', 'reachable', 'rack'].includes(k)),
    ).toBe(true);
    expect(typeof b.id).toBe('number');
    expect(b.host === null || typeof b.host === 'string').toBe(true);
    expect(nullableNumber(b.port)).toBe(true);
    expect(typeof b.registered).toBe('boolean');
    expect(b.reachable === null || typeof b.reachable === 'boolean').toBe(true);
  }
  const seen = new Set<string>();
  for (const p of r.partitions) {
    expect(Object.keys(p).sort()).toEqual(
      ['highWatermark', 'isr', 'leader', 'logStartOffset', 'minIsr', 'partition', 'replicas', 'topic'].sort(),
    );
    expect(typeof p.topic).toBe('string');
    expect(typeof p.partition).toBe('number');
    expect(nullableNumber(p.leader) && nullableNumber(p.minIsr)).toBe(true);
    expect(nullableNumber(p.highWatermark) && nullableNumber(p.logStartOffset)).toBe(true);
    expect(ints(p.replicas) && ints(p.isr)).toBe(true);
    // One row per partition: scripts key the table by topic and partition.
    const key = JSON.stringify([p.topic, p.partition]);
    expect(seen.has(key), `partition ${key} listed twice`).toBe(false);
    seen.add(key);
  }
  for (const o of r.orderers) {
    expect(typeof o.name).toBe('string');
    expect(typeof o.channel).toBe('string');
    expect(nullableNumber(o.lastOffsetPersisted) && nullableNumber(o.expectedStartOffset)).toBe(true);
  }
  for (const f of r.findings) expectFinding(f);
  expect(JSON.parse(JSON.stringify(r))).toEqual(r);
}

/** Every mrkdwn text of a message (section texts, fields, context elements). */
function mrkdwnTexts(blocks: readonly KnownBlock[]): string[] {
  const out: string[] = [];
  for (const b of blocks) {
    if (b.type === 'section') {
      if (b.text?.type === 'mrkdwn') out.push(b.text.text);
      for (const f of b.fields ?? []) if (f.type === 'mrkdwn') out.push(f.text);
    } else if (b.type === 'context') {
      for (const e of b.elements) if (e.type === 'mrkdwn') out.push(e.text);
    }
  }
  return out;
}

/** Within Slack's limits; no `<` `>` of the data's (no mention, no link), `&` only in entities; headers set. */
function expectSlackSafe(blocks: readonly KnownBlock[], label: string): void {
  expect(checkBlockLimits(blocks), label).toEqual([]);
  expect(blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  for (const t of mrkdwnTexts(blocks)) {
    const show = JSON.stringify(t.slice(0, 300));
    expect(t, `${label}: raw < or > in ${show}`).not.toMatch(/[<>]/);
    expect(t.replace(/&(amp|lt|gt);/g, ''), `${label}: bare & in ${show}`).not.toContain('&');
    expect(t.length).toBeGreaterThan(0);
    // Code formatting opened is closed: a name cannot swallow the rest of the message into a code block.
    expect((t.match(/```/g) ?? []).length % 2, `${label}: unbalanced code block in ${show}`).toBe(0);
    expect((t.match(/`/g) ?? []).length % 2, `${label}: unbalanced backtick in ${show}`).toBe(0);
    expect(controlIn(t, true), `${label}: control character in ${show}`).toBeUndefined();
    expect(t, `${label}: half a surrogate pair`).not.toMatch(/\p{Cs}/u);
  }
  for (const b of blocks) {
    if (b.type === 'header') {
      expect(b.text.text.trim().length).toBeGreaterThan(0);
      expect(controlIn(b.text.text, false)).toBeUndefined();
    }
  }
  expect(() => blocksToText(blocks)).not.toThrow();
}

function expectRendered(s: ClusterSnapshot, findings: Finding[]): Report {
  const report = buildReport(s, findings);
  expectContract(report);
  const text = renderText(report, { color: false });
  expect(controlIn(text, true), 'control character in terminal text').toBeUndefined();
  expectSlackSafe(reportBlocks(report).blocks, 'report');
  expectSlackSafe(reportBlocks(report, { view: 'brokers' }).blocks, 'brokers');
  expectSlackSafe(
    changesBlocks(
      report.cluster,
      report.findings.map((f) => ({ change: 'new' as const, finding: f })),
    ).blocks,
    'changes',
  );
  for (const f of report.findings.slice(0, 5)) {
    const msg = incidentBlocks({ cluster: report.cluster, finding: f, openedAt: 'x', lastSeenAt: 'y' });
    expectSlackSafe(msg.blocks, `incident ${f.code}`);
    const change = incidentChangeText({ ...f, severity: 'info' }, f);
    expect(change, 'incident thread reply').not.toMatch(/[<>]/);
    expect(change.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
  }
  return report;
}

// ------------------------------------------------------------------ the tests

const extraChecks = [ordererChecks, containerChecks];

describe('checks over hostile snapshots', () => {
  it('no check throws; runChecks reports no failed check; every finding has the contract shape', () => {
    fc.assert(
      fc.property(snapshotArb, (input) => {
        const s = build(input);
        for (const c of CORE_CHECKS) {
          let out: Finding[] = [];
          expect(() => (out = c.run(s, {})), c.name).not.toThrow();
          for (const f of out) expectFinding(f);
        }
        expect(() => ordererChecks(s)).not.toThrow();
        expect(() => containerChecks(s)).not.toThrow();
        const findings = runChecks(s, { extraChecks });
        const failed = findings.filter((f) => f.subject.source?.startsWith('check:'));
        expect(failed.map((f) => f.summary)).toEqual([]);
        for (const f of findings) {
          expectFinding(f);
          // One line each, whatever the names: a summary is what a pager or a log line shows.
          expect(controlIn(f.summary, false), f.summary).toBeUndefined();
          if (f.explanation !== undefined) expect(controlIn(f.explanation, false)).toBeUndefined();
        }
      }),
      { seed: SEED, numRuns: 250 },
    );
  });

  it('each hostile fact is a finding about what it concerns', () => {
    const facts = fc.oneof(
      fc.record({ k: fc.constant('unknownReplica' as const), at, id: unknownId }),
      fc.record({ k: fc.constant('unknownIsr' as const), at, id: unknownId }),
      fc.record({ k: fc.constant('unknownLeader' as const), at, id: unknownId }),
      fc.record({ k: fc.constant('leaderOutside' as const), at }),
      fc.record({ k: fc.constant('emptyIsr' as const), at }),
      fc.record({ k: fc.constant('emptyReplicas' as const), at }),
      fc.record({ k: fc.constant('nullLeader' as const), at }),
      fc.record({
        k: fc.constant('offsets' as const),
        at,
        hw: fc.integer({ min: -1000, max: -1 }),
        lso: fc.nat(10),
      }),
      fc.record({ k: fc.constant('lsoAboveHw' as const), at, by: fc.integer({ min: 1, max: 10_000 }) }),
      fc.record({
        k: fc.constant('dupPartition' as const),
        at,
        leader: fc.constantFrom(1, 2, 3, 4),
        isr: fc.constant([] as number[]),
      }),
    );
    fc.assert(
      fc.property(facts, (h) => {
        const s = healthy();
        const target =
          h.k === 'offsets' || h.k === 'lsoAboveHw'
            ? s.kafka!.offsets[h.at % s.kafka!.offsets.length]!
            : pick(s, h.at)!;
        applyHostile(s, h);
        const findings = runChecks(s, { extraChecks });
        const about = findings.filter(
          (f) =>
            f.subject.topic === target.topic &&
            (f.subject.partition === undefined || f.subject.partition === target.partition) &&
            f.severity !== 'info',
        );
        expect(
          about.map((f) => f.code),
          `${h.k}: ${JSON.stringify(findings.map((f) => f.summary))}`,
        ).not.toEqual([]);
        if (h.k === 'unknownReplica' || h.k === 'unknownIsr' || h.k === 'unknownLeader') {
          expect(JSON.stringify(about.map((f) => [f.summary, f.evidence]))).toContain(String(h.id));
        }
        expectRendered(s, findings);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('a topic name Kafka does not allow is reported as such', () => {
    fc.assert(
      fc.property(
        oddName.filter((n) => !/^[A-Za-z0-9._-]{1,249}$/.test(n) || n === '.' || n === '..'),
        (name) => {
          const s = healthy();
          addTopic(s, name, 2, 3);
          const findings = runChecks(s, { extraChecks });
          const f = findings.find((x) => x.subject.topic === name && x.code === 'METADATA_DIVERGENCE');
          expect(f, JSON.stringify(findings.map((x) => x.summary))).toBeDefined();
          expect(f!.summary).toMatch(/not a valid Kafka topic name/);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });
});

describe('renderers over hostile snapshots', () => {
  it('JSON keeps the contract, text has no control characters, Block Kit is within limits and inert', () => {
    fc.assert(
      fc.property(snapshotArb, (input) => {
        const s = build(input);
        expectRendered(s, runChecks(s, { extraChecks }));
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('whatif stop-broker on any id: an answer or NotFoundError, rendered safely', () => {
    fc.assert(
      fc.property(snapshotArb, brokerId, (input, id) => {
        const s = build(input);
        let w;
        try {
          w = whatIfStopBroker(s, id);
        } catch (err) {
          expect(err).toBeInstanceOf(NotFoundError);
          return;
        }
        const code = whatIfExitCode(w);
        expect([0, 1, 2, 3]).toContain(code);
        expect(controlIn(renderWhatIf(w, { color: false }), true)).toBeUndefined();
        expectSlackSafe(whatIfBlocks(w, code).blocks, 'whatif');
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('a topic with thousands of partitions: checks and every renderer stay bounded and fast', () => {
    fc.assert(
      fc.property(
        topicName,
        fc.integer({ min: 1000, max: 5000 }),
        fc.constantFrom<'healthy' | 'leaderless' | 'unknown' | 'offsets'>(
          'healthy',
          'leaderless',
          'unknown',
          'offsets',
        ),
        (name, n, how) => {
          const s = healthy();
          addTopic(s, name, n, 3);
          for (const p of s.zookeeper!.partitions) {
            if (p.topic !== name) continue;
            if (how === 'leaderless') p.leader = -1;
            if (how === 'unknown') p.replicas = [...p.replicas, 4000 + (p.partition % 7)];
          }
          if (how === 'offsets') for (const o of s.kafka!.offsets) if (o.topic === name) o.highWatermark = -1;
          const t0 = performance.now();
          const findings = runChecks(s, { extraChecks });
          const report = expectRendered(s, findings);
          const ms = performance.now() - t0;
          expect(ms).toBeLessThan(5000);
          expect(report.partitions.filter((p) => p.topic === name)).toHaveLength(n);
          // Findings about one topic collapse instead of flooding.
          expect(findings.filter((f) => f.subject.topic === name).length).toBeLessThanOrEqual(40);
        },
      ),
      { seed: SEED, numRuns: 8 },
    );
  });
});

describe('pinned examples (each failed before the fix)', () => {
  const finding = (over: Partial<Finding>): Finding => ({
    code: 'UNDER_REPLICATED',
    severity: 'warning',
    subject: { topic: 'pubchain', partition: 0 },
    summary: 'x',
    evidence: {},
    repairs: [],
    ...over,
  });

  it("a topic named ``` does not close the partition table's code block", () => {
    const s = healthy();
    renameTopic(s, 'pubchain', '```');
    expectRendered(s, runChecks(s, { extraChecks }));
  });

  it('a terminal escape or a newline in a name reaches neither the terminal nor a summary as such', () => {
    const s = healthy();
    renameTopic(s, 'pubchain', '\u001b[2Jevil\nname');
    s.zookeeper!.partitions.find((p) => p.topic !== 'testchainid')!.isr = [2];
    const findings = runChecks(s, { extraChecks });
    expect(findings.some((f) => f.summary.includes('\\u001b[2Jevil\\nname'))).toBe(true);
    const text = renderText(buildReport(s, findings), { color: true });
    const ESC = String.fromCharCode(27);
    expect(
      controlIn(
        text
          .split(ESC)
          .join('')
          .replace(/\[\d+m/g, ''),
        true,
      ),
    ).toBeUndefined();
  });

  it('an incident thread reply cannot ping the channel', () => {
    const f = finding({ summary: 'topic <!channel> is down', evidence: { name: '<@U012ALICE>' } });
    const text = incidentChangeText({ ...f, severity: 'critical' }, f);
    expect(text).not.toMatch(/<[!@]/);
    expect(text).toContain('&lt;!channel&gt;');
  });

  it('cutting a summary never leaves half an emoji or half an entity', () => {
    const emoji = findingBlock('lab', finding({ summary: `${'a'.repeat(598)}😀😀` }), { buttons: false });
    expect(emoji.text!.text).not.toMatch(/\p{Cs}/u);
    const amps = findingBlock('lab', finding({ summary: '&'.repeat(600), explanation: '<'.repeat(700) }), {
      buttons: false,
    });
    expectSlackSafe([amps], 'entities');
  });

  it('a container that says it runs broker "x" gets no NaN broker argument', () => {
    const s = healthy();
    s.containers = [
      {
        name: 'kafka-x',
        role: 'broker',
        runs: 'x',
        endpoint: 'host1',
        found: true,
        state: 'exited',
        running: false,
      },
    ];
    const f = containerChecks(s).find((x) => x.code === 'CONTAINER_DOWN')!;
    expect(f.repairs[0]!.args).toEqual({ container: 'kafka-x' });
  });

  it('a partition ZooKeeper lists twice is reported once in the JSON, and as a finding', () => {
    const s = healthy();
    s.zookeeper!.partitions.push({
      topic: 'pubchain',
      partition: 0,
      replicas: [2, 3, 4],
      leader: 3,
      isr: [3],
    });
    const r = buildReport(s, runChecks(s, { extraChecks }));
    expect(r.partitions.filter((p) => p.topic === 'pubchain')).toHaveLength(1);
    expect(r.findings.map((f) => f.summary)).toContainEqual(
      expect.stringMatching(/^pubchain\/0: ZooKeeper's state lists it 2 times, with different states/),
    );
  });

  it('a negative high watermark is unknown in the JSON and a finding says what Kafka reported', () => {
    const s = healthy();
    s.kafka!.offsets[0]!.highWatermark = -1;
    const r = buildReport(s, runChecks(s, { extraChecks }));
    expect(r.partitions.find((p) => p.topic === 'pubchain')).toMatchObject({ highWatermark: null });
    expect(r.findings.map((f) => f.summary)).toContainEqual(
      expect.stringMatching(/impossible offsets for pubchain\/0 \(broker 2\): high watermark -1/),
    );
  });
});
