/**
 * set-topic-config <topic> <key> <value>: set one topic override, limited to the keys Fabric's channels depend
 * on, and only to values that make the channel safer (Fabric's docs/source/kafka.rst and seed 003):
 *
 * | key | allowed |
 * |---|---|
 * | min.insync.replicas | 2 <= value < the topic's replication factor, and not above the ISR it has now |
 * | unclean.leader.election.enable | false |
 * | retention.ms, retention.bytes | -1 (the orderer may replay the channel from offset 0) |
 * | flush.messages | 1 .. the current value (flush at least as often as now; 1 is seed 000's prevention) |
 * | cleanup.policy | delete (compaction keeps only the last message of key "0") |
 *
 * Executed with AlterConfigs (API 33, Kafka 0.11+, so also Fabric's 1.0.2): AlterConfigs replaces all of a
 * topic's overrides, so the handler re-reads the current overrides from ZooKeeper and sends them all with the
 * change. Brokers without AlterConfigs: the override is written to /config/topics/<topic> (versioned) with a
 * /config/changes notification, as kafka-configs.sh --zookeeper did. See actions/topic-config.ts.
 */
import { indexSnapshot } from '../checks/context.js';
import { UsageError } from '../errors/index.js';
import type { ClusterSnapshot, RepairPlan } from '../model/index.js';
import { checkedTopic, checkList, type Verification } from './drain-broker.js';
import { refuseArguments, shown, topicProblem } from './args.js';

/** AlterConfigs. */
export const API_ALTER_CONFIGS = 33;

export const FABRIC_TOPIC_KEYS = [
  'min.insync.replicas',
  'unclean.leader.election.enable',
  'retention.ms',
  'retention.bytes',
  'flush.messages',
  'cleanup.policy',
] as const;

export type FabricTopicKey = (typeof FABRIC_TOPIC_KEYS)[number];

export function isFabricTopicKey(key: string): key is FabricTopicKey {
  return (FABRIC_TOPIC_KEYS as readonly string[]).includes(key);
}

/** Throws UsageError for a key this repair does not set. */
export function assertFabricTopicKey(key: string): FabricTopicKey {
  if (!isFabricTopicKey(key)) {
    throw new UsageError(
      `set-topic-config sets only the keys Fabric's channels depend on (${FABRIC_TOPIC_KEYS.join(', ')}), not "${key}"`,
    );
  }
  return key;
}

const INT = /^-?\d+$/;

interface SafetyInput {
  key: FabricTopicKey;
  value: string;
  /** Smallest replication factor among the topic's partitions. */
  minRf: number;
  /** Smallest ISR among the topic's partitions. */
  minIsrSize: number;
  /** The current effective value, when known. */
  current: string | undefined;
}

/** Whether the value makes the topic safer (or at least not worse); the reason either way. */
export function valueSafety(i: SafetyInput): { ok: boolean; detail: string } {
  const { key, value } = i;
  switch (key) {
    case 'min.insync.replicas': {
      if (!INT.test(value)) return { ok: false, detail: `${key} must be an integer, not "${value}"` };
      const n = Number(value);
      if (n < 1) return { ok: false, detail: `${key}=${n} is meaningless (at least 1)` };
      if (n < 2) {
        return {
          ok: false,
          detail:
            `${key}=1 acknowledges writes held by a single broker; Fabric requires 1 < ${key} < replication ` +
            'factor (raise the replication factor instead of lowering this)',
        };
      }
      if (n >= i.minRf) {
        return {
          ok: false,
          detail: `${key}=${n} is not below the replication factor ${i.minRf}: one broker down would block writes (raise-replication first)`,
        };
      }
      if (n > i.minIsrSize) {
        return {
          ok: false,
          detail: `a partition has only ${i.minIsrSize} in-sync replica(s) now: ${key}=${n} would reject the orderers' writes at once`,
        };
      }
      return {
        ok: true,
        detail: `${key}=${n}: 1 < ${n} < replication factor ${i.minRf}, ISR has at least ${i.minIsrSize}`,
      };
    }
    case 'unclean.leader.election.enable':
      return value === 'false'
        ? { ok: true, detail: 'unclean leader election off: an out-of-sync replica never becomes leader' }
        : {
            ok: false,
            detail: `${key}=${value}: only "false" is allowed (an unclean election can rewrite the chain)`,
          };
    case 'retention.ms':
    case 'retention.bytes':
      return value === '-1'
        ? { ok: true, detail: `${key}=-1: Kafka never deletes the channel's messages` }
        : {
            ok: false,
            detail: `${key}=${value}: only -1 is allowed (an orderer may replay its channel from offset 0)`,
          };
    case 'flush.messages': {
      if (!INT.test(value) || BigInt(value) < 1n) {
        return { ok: false, detail: `${key} must be a positive integer, not "${value}"` };
      }
      if (i.current !== undefined && INT.test(i.current) && BigInt(value) > BigInt(i.current)) {
        return {
          ok: false,
          detail: `${key}=${value} flushes less often than now (${i.current}): unflushed writes can be lost on power failure (seed 000)`,
        };
      }
      return {
        ok: true,
        detail: `${key}=${value}${value === '1' ? ': every message is flushed (seed 000)' : ''}`,
      };
    }
    case 'cleanup.policy':
      return value === 'delete'
        ? { ok: true, detail: 'cleanup.policy=delete (with retention -1 nothing is deleted)' }
        : {
            ok: false,
            detail: `${key}=${value}: only "delete" is allowed (compaction keeps only the last message of key "0")`,
          };
  }
}

/** How the change will be written, from the ApiVersions the brokers answered in the snapshot. */
export function configWritePath(snapshot: ClusterSnapshot): string {
  const answers = Object.values(snapshot.kafka?.apiVersions ?? {});
  if (answers.length === 0) {
    return 'broker API versions not read: decided at execution (AlterConfigs if the brokers have it, else ZooKeeper /config/topics)';
  }
  return answers.every((v) => v[API_ALTER_CONFIGS] !== undefined)
    ? `AlterConfigs (API ${API_ALTER_CONFIGS}): the topic's other overrides are re-read from ZooKeeper and sent with it`
    : 'ZooKeeper /config/topics with a /config/changes notification (the brokers lack AlterConfigs)';
}

export function planSetTopicConfig(
  snapshot: ClusterSnapshot,
  clusterName: string,
  topic: string,
  key: FabricTopicKey | string,
  value: string,
): RepairPlan {
  const badArgs = refuseArguments('set-topic-config', clusterName, { topic, key, value }, [
    topicProblem(topic),
    isFabricTopicKey(key)
      ? undefined
      : `key ${shown(key)} is not one set-topic-config sets (${FABRIC_TOPIC_KEYS.join(', ')})`,
    typeof value === 'string' && value.length > 0 && value.length <= 64
      ? undefined
      : `value ${shown(value)} is not a config value (text of 1 to 64 characters)`,
  ]);
  if (badArgs || !isFabricTopicKey(key)) return badArgs!;
  const c = checkList();
  const base = { kind: 'set-topic-config', cluster: clusterName, args: { topic, key, value } };
  const checked = checkedTopic(snapshot, c, topic, 'topic overrides unknown');
  if (checked === null) {
    return { ...base, preconditions: c.preconditions, steps: [], expected: {}, refusal: c.refusal() };
  }
  const { parts } = checked;
  // Unscoped: the index of the whole snapshot (a channel-scoped snapshot would hide other topics).
  const ix = indexSnapshot({ ...snapshot, scope: {} });
  const leader = parts[0]!.leader ?? undefined;
  const current = ix.topicConfig(topic, key, leader !== undefined && leader >= 0 ? leader : undefined);
  const minRf = Math.min(...parts.map((p) => p.replicas.length));
  const minIsrSize = Math.min(...parts.map((p) => p.isr.length));
  const safety = valueSafety({ key, value, minRf, minIsrSize, current: current?.value });
  c.check('value is safe for a Fabric channel', safety.ok, safety.detail);
  const override = snapshot.zookeeper?.topicConfigs[topic]?.[key];
  c.check(
    'value differs from the override',
    override !== value,
    override === value
      ? `${topic} already has the override ${key}=${value}: nothing to do`
      : override !== undefined
        ? `override ${key}=${override} -> ${value}`
        : current !== undefined && current.from === 'broker'
          ? `no override; ${current.value} inherited${current.brokerKey ? ` from the broker's ${current.brokerKey}` : ''} -> override ${value}`
          : current !== undefined
            ? `no override in ZooKeeper; the brokers report ${current.value} -> override ${value}`
            : `no override, effective value unknown -> override ${value}`,
  );
  c.check('write path', true, configWritePath(snapshot));
  const refusal = c.refusal();
  return {
    ...base,
    preconditions: c.preconditions,
    steps: refusal === null ? [{ action: 'set-topic-config', topic, configs: { [key]: value } }] : [],
    expected: refusal === null ? { topic, configs: { [key]: value } } : {},
    rollback:
      override !== undefined
        ? `Set ${key} back to ${override} on ${topic} (set-topic-config allows only safer values: by hand with kafka-configs.sh).`
        : `Remove the override ${key} from ${topic} (kafka-configs.sh --alter --delete-config ${key}); it then inherits the broker default` +
          (current !== undefined && current.from === 'broker' ? ` (${current.value} now).` : '.'),
    refusal,
  };
}

/** On a fresh snapshot: the override is in ZooKeeper and the brokers report it as the effective value. */
export function verifySetTopicConfig(snapshot: ClusterSnapshot, plan: RepairPlan): Verification {
  const topic = String(plan.args.topic);
  const configs = (plan.expected.configs ?? {}) as Record<string, string>;
  const bad: string[] = [];
  const zk = snapshot.zookeeper;
  if (!zk) return { ok: false, detail: 'ZooKeeper could not be read: overrides unknown' };
  if (!zk.partitions.some((p) => p.topic === topic)) return { ok: false, detail: `topic ${topic} not found` };
  for (const [key, value] of Object.entries(configs)) {
    const override = zk.topicConfigs[topic]?.[key];
    if (override !== value) bad.push(`override ${key} is ${override ?? 'absent'} in ZooKeeper, not ${value}`);
    const effective = snapshot.kafka?.topicConfigs[topic]?.[key];
    if (effective !== undefined && effective !== value)
      bad.push(`the brokers report ${key}=${effective}, not ${value}`);
  }
  const shown = Object.entries(configs)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return bad.length > 0
    ? { ok: false, detail: `${topic}: ${bad.join('; ')}` }
    : { ok: true, detail: `${topic} has ${shown} (ZooKeeper override and the brokers' effective config)` };
}
