/**
 * Issue #9, never a partial action: repair plans with odd arguments (unknown channels, illegal topic names,
 * negative, fractional or huge numbers, broker ids that do not exist, a replication factor of 0 or above the
 * broker count, keys and values a Fabric channel must not get) are refused with a specific reason and no step;
 * whatever plan() returns for any arguments is either that refusal or steps that are all well-formed and
 * name only what exists.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import type { ClusterConfig } from '../../src/config/index.js';
import { UsageError } from '../../src/errors/index.js';
import type { ClusterSnapshot, ContainerObservation, RepairPlan, RepairStep } from '../../src/model/index.js';
import { planContainerAction } from '../../src/repairs/containers.js';
import { planDrainBroker } from '../../src/repairs/drain-broker.js';
import { planPadChannel } from '../../src/repairs/pad-channel.js';
import { planPreferredLeaderElection } from '../../src/repairs/preferred-leader.js';
import { MAX_RF, planRaiseReplication } from '../../src/repairs/raise-replication.js';
import { REPAIR_KINDS, repairKind } from '../../src/repairs/registry.js';
import { FABRIC_TOPIC_KEYS, planSetTopicConfig } from '../../src/repairs/set-topic-config.js';
import { renderPlan } from '../../src/render/plan.js';
import { checkBlockLimits, planBlocks } from '../../src/slack/blocks.js';
import { addTopic, healthy, setPartition, stopBroker } from '../fixtures/snapshots/builder.js';

// Property tests run a few seconds alone; on a loaded 2-core machine give them room.
vi.setConfig({ testTimeout: 60_000 });

const SEED = 9094;
const CLUSTER = 'lab';

function config(): ClusterConfig {
  return {
    kafka: {
      brokers: ['127.0.0.1:19092'],
      clientId: 'fabric-opsbot',
      connectTimeoutMs: 1000,
      requestTimeoutMs: 1000,
      containers: { '2': { name: 'kafka2' }, '3': { name: 'kafka3' } },
    },
    zookeeper: {
      connect: '127.0.0.1:12181,127.0.0.1:12182,127.0.0.1:12183',
      sessionTimeoutMs: 1000,
      connectTimeoutMs: 500,
      containers: { '127.0.0.1:12181': { name: 'zk1' } },
    },
    orderers: [
      {
        name: 'orderer1.example.com',
        channels: ['pubchain', 'testchainid'],
        container: { name: 'orderer1' },
      },
    ],
    docker: { endpoints: { lab: { socketPath: '/run/docker.sock', timeoutMs: 5000 } } },
    checks: { everySeconds: 300, logWindowMinutes: 60 },
    repairs: { padMaxMessages: 10_000, approvalTtlMinutes: 15, reassignThrottleBytes: 10_000_000 },
  };
}

const obs = (name: string, role: ContainerObservation['role'], runs: string | number, running = true) => ({
  name,
  role,
  runs,
  endpoint: 'lab',
  found: true,
  running,
  state: running ? 'running' : 'exited',
});

interface Shape {
  single: boolean;
  stopped: number | undefined;
  stuck: number | undefined;
  preferredMoved: boolean;
  containers: boolean;
}

/** Snapshots a plan may meet: healthy, with a single-replica topic, a stopped broker, a stuck channel. */
const shapeArb: fc.Arbitrary<Shape> = fc.record({
  single: fc.boolean(),
  stopped: fc.option(fc.constantFrom(1, 2, 3, 4), { nil: undefined }),
  stuck: fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: undefined }),
  preferredMoved: fc.boolean(),
  containers: fc.boolean(),
});

function build(o: Shape): ClusterSnapshot {
  const s = healthy();
  if (o.single) addTopic(s, 'single', 3, 1);
  if (o.preferredMoved) setPartition(s, 'testchainid', 0, { leader: 2 });
  if (o.stuck !== undefined) s.orderers!.positions[0]!.expectedStartOffset = 32 + o.stuck;
  if (o.containers) {
    s.sources.docker = { ok: true, ms: 5 };
    s.containers = [
      obs('kafka2', 'broker', 2),
      obs('kafka3', 'broker', 3, o.stopped !== 3),
      obs('zk1', 'zookeeper', '127.0.0.1:12181'),
      obs('orderer1', 'orderer', 'orderer1.example.com'),
    ];
  }
  if (o.stopped !== undefined) stopBroker(s, o.stopped);
  return s;
}

// ------------------------------------------------------------------ odd arguments

const oddString = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '.',
    '..',
    'nochain',
    'PubChain',
    'pub chain',
    '<!channel>',
    '`x`',
    'a\nb',
    '../../etc/passwd',
    '__proto__',
    'x'.repeat(250),
    '-1',
    'NaN',
    'Infinity',
  ),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
);
const oddNumber = fc.oneof(
  fc.constantFrom(-1, -0, 0, 0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, 1e20, Number.MAX_VALUE),
  fc.integer({ min: -10, max: 100 }),
);
const anyArg = fc.oneof(
  oddString,
  oddNumber,
  fc.constantFrom('pubchain', 'testchainid', 'single', 2, 3, 5, 99),
);

const argsArb = fc.dictionary(
  fc.constantFrom(
    'channel',
    'topic',
    'rf',
    'partition',
    'broker',
    'key',
    'value',
    'container',
    'target',
    'x',
  ),
  fc.oneof(
    anyArg,
    fc.constantFrom(...FABRIC_TOPIC_KEYS),
    fc.constantFrom('-1', 'false', 'delete', '1', '2', 'compact', '99999999999999999999'),
  ),
  { maxKeys: 4 },
);

// ------------------------------------------------------------------ well-formed steps

const LEGAL_TOPIC = (t: unknown) =>
  typeof t === 'string' && /^[A-Za-z0-9._-]{1,249}$/.test(t) && t !== '.' && t !== '..';
const WHOLE = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** A step a handler can run as it is, naming only what exists in the snapshot and the inventory. */
function expectWellFormed(step: RepairStep, s: ClusterSnapshot, cfg: ClusterConfig): void {
  const live = new Set(s.zookeeper?.brokers.map((b) => b.id) ?? []);
  const partitions = new Set(s.zookeeper?.partitions.map((p) => `${p.topic}/${p.partition}`) ?? []);
  const containers = new Set([
    ...Object.values(cfg.kafka.containers ?? {}).map((c) => c.name),
    ...Object.values(cfg.zookeeper.containers ?? {}).map((c) => c.name),
    ...cfg.orderers.map((o) => o.container?.name),
    ...(s.containers ?? []).map((c) => c.name),
  ]);
  switch (step.action) {
    case 'produce':
      expect(LEGAL_TOPIC(step.topic)).toBe(true);
      expect(partitions.has(`${step.topic}/${step.partition}`)).toBe(true);
      expect(WHOLE(step.count) && step.count >= 1 && step.count <= cfg.repairs.padMaxMessages).toBe(true);
      expect(step.value).toBe('1a00');
      expect(step.key).toBe('0');
      break;
    case 'restart-container':
    case 'start-container':
    case 'stop-container':
      expect(containers.has(step.container)).toBe(true);
      break;
    case 'reassign-partitions':
      expect(step.partitions.length).toBeGreaterThan(0);
      for (const p of step.partitions) {
        expect(LEGAL_TOPIC(p.topic)).toBe(true);
        expect(partitions.has(`${p.topic}/${p.partition}`)).toBe(true);
        expect(p.replicas.length).toBeGreaterThan(0);
        expect(new Set(p.replicas).size).toBe(p.replicas.length);
        for (const r of p.replicas) expect(live.has(r), `replica ${r} is not a live broker`).toBe(true);
      }
      if (step.throttleBytes !== undefined)
        expect(WHOLE(step.throttleBytes) && step.throttleBytes > 0).toBe(true);
      break;
    case 'preferred-leader-election':
      expect(step.partitions.length).toBeGreaterThan(0);
      for (const p of step.partitions) expect(partitions.has(`${p.topic}/${p.partition}`)).toBe(true);
      break;
    case 'set-topic-config':
      expect(LEGAL_TOPIC(step.topic)).toBe(true);
      for (const [k, v] of Object.entries(step.configs)) {
        expect(FABRIC_TOPIC_KEYS as readonly string[]).toContain(k);
        expect(typeof v).toBe('string');
      }
      break;
    case 'wait':
      expect(step.for.length).toBeGreaterThan(0);
      expect(WHOLE(step.timeoutMs) && step.timeoutMs > 0).toBe(true);
      break;
  }
}

/** A plan is a refusal with a reason and no step, or all its preconditions hold and its steps are well-formed. */
function expectPlan(plan: RepairPlan, s: ClusterSnapshot, cfg: ClusterConfig): void {
  if (plan.refusal !== null) {
    expect(plan.steps).toEqual([]);
    expect(plan.refusal).toMatch(/^refused: \S/);
    expect(plan.preconditions.some((p) => !p.ok)).toBe(true);
  } else {
    expect(plan.steps.length).toBeGreaterThan(0);
    expect(plan.preconditions.every((p) => p.ok)).toBe(true);
    for (const step of plan.steps) expectWellFormed(step, s, cfg);
  }
  // What it says survives JSON (the contract's `repair plan --json`), and it renders for a terminal and Slack.
  expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  expect(() => renderPlan(plan)).not.toThrow();
  const msg = planBlocks(plan, { requestId: 'r1', requestedBy: '<!channel>' });
  expect(checkBlockLimits(msg.blocks)).toEqual([]);
  // Slack reads mrkdwn (section and context texts, the notification text): nothing there may mention or link.
  const mrkdwn = [msg.text];
  for (const b of msg.blocks) {
    if (b.type === 'section' && b.text) mrkdwn.push(b.text.text);
    if (b.type === 'context') for (const e of b.elements) if ('text' in e) mrkdwn.push(e.text);
  }
  for (const t of mrkdwn) expect(t).not.toMatch(/[<>]/);
}

describe('repair plans over arbitrary arguments', () => {
  it('plan() of every kind never throws: a refusal with a reason, or only well-formed steps', () => {
    fc.assert(
      fc.property(fc.constantFrom(...REPAIR_KINDS.keys()), argsArb, shapeArb, (kind, args, shape) => {
        const s = build(shape);
        const cfg = config();
        let plan: RepairPlan | undefined;
        expect(() => (plan = repairKind(kind).plan(s, CLUSTER, cfg, args))).not.toThrow();
        expectPlan(plan!, s, cfg);
      }),
      { seed: SEED, numRuns: 600 },
    );
  });

  it('the planners themselves, with odd values of their own parameters', () => {
    fc.assert(
      fc.property(shapeArb, anyArg, anyArg, oddString, (shape, a, b, text) => {
        const s = build(shape);
        const cfg = config();
        const plans = [
          planPadChannel(s, CLUSTER, a as string, { padMaxMessages: 10_000 }),
          planDrainBroker(s, CLUSTER, a as number, { throttleBytes: 1_000_000 }),
          planRaiseReplication(s, CLUSTER, a as string, b as number, { throttleBytes: 1_000_000 }),
          planPreferredLeaderElection(s, CLUSTER, a as string, b as number),
          planSetTopicConfig(s, CLUSTER, a as string, text as 'retention.ms', b as string),
          planContainerAction(s, CLUSTER, cfg, 'restart', { broker: a as number }),
          planContainerAction(s, CLUSTER, cfg, 'start', { container: text }),
        ];
        for (const p of plans) expectPlan(p, s, cfg);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('each odd argument is refused before any other check, naming the argument and why', () => {
    const s = healthy();
    const cfg = config();
    const cases: [string, Record<string, string | number>, RegExp][] = [
      ['pad-channel', { channel: 'nochain' }, /no orderer position known for nochain/],
      ['pad-channel', { channel: 'Pub Chain' }, /channel "Pub Chain" is not a Fabric channel name/],
      ['pad-channel', {}, /channel is missing/],
      [
        'drain-broker',
        { broker: -1 },
        /broker -1 is not a broker id \(a whole number from 0 to 2147483647\)/,
      ],
      ['drain-broker', { broker: 1.5 }, /broker 1\.5 is not a broker id/],
      ['drain-broker', { broker: NaN }, /broker NaN is not a broker id/],
      ['drain-broker', { broker: 2 ** 53 }, /broker 9007199254740992 is not a broker id/],
      [
        'drain-broker',
        { broker: 99 },
        /broker 99 is not in the inventory, not registered and holds no replica/,
      ],
      ['drain-broker', { broker: '2' }, /^(?!.*arguments)/], // a numeric string (the CLI's) is the same broker
      ['raise-replication', { topic: 'pubchain', rf: 0 }, /rf 0 is not a replication factor \(2 to 16;/],
      ['raise-replication', { topic: 'pubchain', rf: 1 }, /rf 1 is not a replication factor/],
      ['raise-replication', { topic: 'pubchain', rf: 17 }, /rf 17 is not a replication factor/],
      [
        'raise-replication',
        { topic: 'pubchain', rf: 5 },
        /enough live brokers - 4 live broker\(s\).* for 5 replicas/,
      ],
      ['raise-replication', { topic: 'a/b', rf: 3 }, /topic "a\/b" is not a Kafka topic name/],
      ['raise-replication', { topic: '..', rf: 3 }, /topic "\.\." is not a Kafka topic name/],
      ['raise-replication', { topic: 'nosuch', rf: 3 }, /no topic nosuch in ZooKeeper/],
      [
        'preferred-leader-election',
        { topic: 'pubchain', partition: -1 },
        /partition -1 is not a partition number/,
      ],
      [
        'preferred-leader-election',
        { topic: 'pubchain', partition: 7 },
        /pubchain\/7 not found in ZooKeeper/,
      ],
      [
        'set-topic-config',
        { topic: 'pubchain', key: 'segment.bytes', value: '1' },
        /key "segment.bytes" is not one set-topic-config sets/,
      ],
      [
        'set-topic-config',
        { topic: 'pubchain', key: 'retention.ms', value: '604800000' },
        /only -1 is allowed/,
      ],
      [
        'set-topic-config',
        { topic: 'pubchain', key: 'flush.messages', value: '1e3' },
        /must be a positive integer/,
      ],
      [
        'set-topic-config',
        { topic: 'pubchain', key: 'min.insync.replicas', value: '3' },
        /not below the replication factor 3/,
      ],
      ['restart-container', { broker: 99 }, /broker 99 is not a container of cluster lab's inventory/],
      [
        'restart-container',
        { container: '<!channel>' },
        /<!channel> is not a container of cluster lab's inventory/,
      ],
      ['restart-container', { broker: -3 }, /broker -3 is not a broker id/],
      ['start-container', {}, /name a container, a broker id or an orderer/],
    ];
    for (const [kind, args, pattern] of cases) {
      const plan = repairKind(kind).plan(s, CLUSTER, cfg, args);
      const label = `${kind} ${JSON.stringify(args)}`;
      if (pattern.source.startsWith('^(?!')) {
        expect(
          plan.preconditions.find((p) => p.check === 'arguments'),
          label,
        ).toBeUndefined();
        continue;
      }
      expect(plan.refusal, label).toMatch(pattern);
      expect(plan.steps, label).toEqual([]);
      if (plan.preconditions[0]?.check === 'arguments') expect(plan.preconditions, label).toHaveLength(1);
    }
  });

  it("the command line's argument parser refuses what the planners would refuse, with a usage error", () => {
    const cases: [string, string[], RegExp][] = [
      ['drain-broker', ['99999999999'], /broker id> must be a non-negative integer \(0 to 2147483647\)/],
      ['drain-broker', ['-1'], /must be a non-negative integer/],
      ['raise-replication', ['..'], /".." is not a valid topic name/],
      ['raise-replication', ['pubchain', '0'], /rf must be 2\.\.16, not 0/],
      [
        'preferred-leader-election',
        ['pubchain', '99999999999'],
        /partition> must be a non-negative integer \(0 to/,
      ],
      ['set-topic-config', ['pubchain', 'segment.bytes', '1'], /not "segment.bytes"/],
      ['restart-container', ['99999999999'], /must be a non-negative integer \(0 to 2147483647\)/],
    ];
    for (const [kind, args, pattern] of cases) {
      expect(() => repairKind(kind).parseArgs(args), `${kind} ${args.join(' ')}`).toThrow(UsageError);
      expect(() => repairKind(kind).parseArgs(args)).toThrow(pattern);
    }
  });

  it('MAX_RF bounds the replication factor a plan may ask for', () => {
    expect(MAX_RF).toBe(16);
  });
});
