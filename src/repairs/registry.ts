/**
 * Every repair kind in one place: how its arguments are read (from the CLI or Slack), and how its plan is
 * built from a snapshot. Plans are dry runs; the executor re-plans right before running and refuses if
 * anything changed.
 */
import type { ClusterConfig } from '../config/index.js';
import { UsageError } from '../errors/index.js';
import type { ClusterSnapshot, RepairPlan } from '../model/index.js';
import { planPadChannel } from './pad-channel.js';
import { planContainerAction, verifyContainerAction } from './containers.js';
import { planDrainBroker, verifyDrainBroker, type Verification } from './drain-broker.js';
import { planPreferredLeaderElection, verifyPreferredLeader } from './preferred-leader.js';
import {
  DEFAULT_TARGET_RF,
  MAX_RF,
  planRaiseReplication,
  verifyRaiseReplication,
} from './raise-replication.js';
import { assertFabricTopicKey, planSetTopicConfig, verifySetTopicConfig } from './set-topic-config.js';
import { isKafkaTopicName, MAX_INT32, wholeNumber } from './args.js';

/**
 * A numeric argument as the planner gets it: a whole number from a number or a string of digits, else the value
 * as it came, for the planner to refuse by name (Number('') would be 0 and Number(true) 1: never guessed).
 */
const numberArg = (v: string | number | undefined): number => (wholeNumber(v) ?? v) as number;

export interface RepairKind {
  kind: string;
  /** e.g. "<channel>" */
  usage: string;
  summary: string;
  /** Parse positional arguments; throws UsageError with a one-line reason. */
  parseArgs(args: string[]): Record<string, string | number>;
  /** Which channel the snapshot may be scoped to (faster), if any. */
  scope(args: Record<string, string | number>): { channel?: string };
  plan(
    snapshot: ClusterSnapshot,
    clusterName: string,
    config: ClusterConfig,
    args: Record<string, string | number>,
  ): RepairPlan;
  /**
   * Check the end state on a fresh snapshot taken after the steps (the executor's `verify`). Kinds without it
   * are verified by their steps only.
   */
  verify?(snapshot: ClusterSnapshot, plan: RepairPlan): Verification;
}

function exactly(kind: string, names: string[], args: string[]): string[] {
  if (args.length !== names.length) {
    throw new UsageError(
      `repair ${kind} takes ${names.map((n) => `<${n}>`).join(' ')}, got ${args.length} argument(s)`,
    );
  }
  return args;
}

const padChannel: RepairKind = {
  kind: 'pad-channel',
  usage: '<channel>',
  summary:
    "produce CONNECT messages until the channel's partition reaches the offset its orderers expect (seed 000)",
  parseArgs(args) {
    const [channel] = exactly('pad-channel', ['channel'], args);
    return { channel: channel! };
  },
  scope: (args) => ({ channel: String(args.channel) }),
  plan(snapshot, clusterName, config, args) {
    const ordererContainers: Record<string, string> = {};
    for (const o of config.orderers) if (o.container?.name) ordererContainers[o.name] = o.container.name;
    return planPadChannel(snapshot, clusterName, args.channel as string, {
      padMaxMessages: config.repairs.padMaxMessages,
      ordererContainers,
    });
  },
};

function nonNegativeInt(kind: string, name: string, value: string): number {
  const n = wholeNumber(value);
  if (n === undefined) {
    throw new UsageError(
      `repair ${kind}: <${name}> must be a non-negative integer (0 to ${MAX_INT32}), not ${JSON.stringify(value)}`,
    );
  }
  return n;
}

function between(kind: string, usage: string, args: string[], min: number, max: number): void {
  if (args.length < min || args.length > max) {
    throw new UsageError(`repair ${kind} takes ${usage}, got ${args.length} argument(s)`);
  }
}

/** A topic name as Kafka allows it. */
function topicName(kind: string, value: string): string {
  if (!isKafkaTopicName(value)) {
    throw new UsageError(
      `repair ${kind}: ${JSON.stringify(value)} is not a valid topic name (1 to 249 of a-z A-Z 0-9 . _ -, not "." or "..")`,
    );
  }
  return value;
}

const drainBroker: RepairKind = {
  kind: 'drain-broker',
  usage: '<broker id>',
  summary:
    'move every replica off a broker before maintenance (throttled reassignment keeping the replication factor and rack spread, seed 002)',
  parseArgs(args) {
    const [id] = exactly('drain-broker', ['broker id'], args);
    return { broker: nonNegativeInt('drain-broker', 'broker id', id!) };
  },
  scope: () => ({}),
  plan: (snapshot, clusterName, config, args) =>
    planDrainBroker(snapshot, clusterName, numberArg(args.broker), {
      throttleBytes: config.repairs.reassignThrottleBytes,
    }),
  verify: verifyDrainBroker,
};

const raiseReplication: RepairKind = {
  kind: 'raise-replication',
  usage: '<topic> [rf=3]',
  summary:
    "add replicas to a topic's partitions up to a replication factor (default 3) by a throttled reassignment",
  parseArgs(args) {
    between('raise-replication', '<topic> [rf=3]', args, 1, 2);
    const topic = topicName('raise-replication', args[0]!);
    const raw = args[1]?.replace(/^rf=/, '');
    const rf = raw === undefined ? DEFAULT_TARGET_RF : nonNegativeInt('raise-replication', 'rf', raw);
    if (rf < 2 || rf > MAX_RF)
      throw new UsageError(`repair raise-replication: rf must be 2..${MAX_RF}, not ${rf}`);
    return { topic, rf };
  },
  scope: () => ({}),
  plan: (snapshot, clusterName, config, args) =>
    planRaiseReplication(
      snapshot,
      clusterName,
      args.topic as string,
      args.rf === undefined ? DEFAULT_TARGET_RF : numberArg(args.rf),
      { throttleBytes: config.repairs.reassignThrottleBytes },
    ),
  verify: verifyRaiseReplication,
};

const preferredLeader: RepairKind = {
  kind: 'preferred-leader-election',
  usage: '<topic> [partition]',
  summary: "move leadership back to each partition's preferred (first) replica, when it is in sync",
  parseArgs(args) {
    between('preferred-leader-election', '<topic> [partition]', args, 1, 2);
    const out: Record<string, string | number> = { topic: topicName('preferred-leader-election', args[0]!) };
    if (args[1] !== undefined)
      out.partition = nonNegativeInt('preferred-leader-election', 'partition', args[1]);
    return out;
  },
  scope: () => ({}),
  plan: (snapshot, clusterName, _config, args) =>
    planPreferredLeaderElection(
      snapshot,
      clusterName,
      args.topic as string,
      args.partition === undefined ? undefined : numberArg(args.partition),
    ),
  verify: verifyPreferredLeader,
};

const setTopicConfig: RepairKind = {
  kind: 'set-topic-config',
  usage: '<topic> <key> <value>',
  summary:
    'set a topic override Fabric depends on (min.insync.replicas, unclean.leader.election.enable=false, retention.ms=-1, retention.bytes=-1, flush.messages, cleanup.policy=delete), only to safer values',
  parseArgs(args) {
    const [topic, key, value] = exactly('set-topic-config', ['topic', 'key', 'value'], args);
    return { topic: topicName('set-topic-config', topic!), key: assertFabricTopicKey(key!), value: value! };
  },
  scope: () => ({}),
  plan: (snapshot, clusterName, _config, args) =>
    // The planner refuses a key it does not set (no throw: a plan is a refusal or steps).
    planSetTopicConfig(
      snapshot,
      clusterName,
      args.topic as string,
      args.key as string,
      typeof args.value === 'number' ? String(args.value) : (args.value as string),
    ),
  verify: verifySetTopicConfig,
};

/** "<container|broker id|orderer name>" -> { broker } or { container } (a name: container, orderer, ZooKeeper member). */
function containerArgs(kind: string, args: string[]): Record<string, string | number> {
  const [what] = exactly(kind, ['container|broker id|orderer name'], args);
  return /^\d+$/.test(what!) ? { broker: nonNegativeInt(kind, 'broker id', what!) } : { container: what! };
}

function containerKind(action: 'restart' | 'start'): RepairKind {
  const kind = `${action}-container`;
  return {
    kind,
    usage: '<container|broker id|orderer name>',
    summary:
      action === 'restart'
        ? "restart a broker's, orderer's or ZooKeeper member's container and wait until it is back (broker: registered and in sync)"
        : 'start a stopped container of the inventory and wait until what it runs is back',
    parseArgs: (args) => containerArgs(kind, args),
    scope: () => ({}),
    plan: (snapshot, clusterName, config, args) =>
      planContainerAction(snapshot, clusterName, config, action, {
        ...(args.broker !== undefined ? { broker: numberArg(args.broker) } : {}),
        ...(args.container !== undefined ? { container: args.container as string } : {}),
        // `target` (Slack's positional name): a broker id when it is one, else a container name.
        ...(args.broker === undefined && args.container === undefined && args.target !== undefined
          ? wholeNumber(args.target) !== undefined
            ? { broker: wholeNumber(args.target)! }
            : { container: args.target as string }
          : {}),
      }),
    verify: verifyContainerAction,
  };
}

export const REPAIR_KINDS: ReadonlyMap<string, RepairKind> = new Map(
  [
    padChannel,
    drainBroker,
    raiseReplication,
    preferredLeader,
    setTopicConfig,
    containerKind('restart'),
    containerKind('start'),
  ].map((k) => [k.kind, k]),
);

/** The verification of a plan's kind on a fresh snapshot; null when the kind has none. */
export function verifyRepair(snapshot: ClusterSnapshot, plan: RepairPlan): Verification | null {
  const k = REPAIR_KINDS.get(plan.kind);
  return k?.verify ? k.verify(snapshot, plan) : null;
}

export function repairKind(kind: string): RepairKind {
  const k = REPAIR_KINDS.get(kind);
  if (!k) {
    throw new UsageError(`unknown repair kind "${kind}" (known: ${[...REPAIR_KINDS.keys()].join(', ')})`);
  }
  return k;
}
