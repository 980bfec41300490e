/**
 * METADATA_DIVERGENCE: ZooKeeper's partition state against what each broker answers to a Metadata request
 * (seed 001: kafka-topics.sh reads ZooKeeper and looks healthy while clients get LEADER_NOT_AVAILABLE), plus
 * ZooKeeper's own partition state being inconsistent, brokers missing from a broker's metadata and brokers
 * disagreeing on the controller.
 */
import type {
  BrokerMetadataView,
  ClusterSnapshot,
  Finding,
  MetadataPartition,
  ZkPartitionState,
} from '../model/index.js';
import { indexSnapshot, partKey, type CheckContext, type SnapshotIndex } from './context.js';
import { collapse, pendingOf } from './partitions.js';
import {
  andList,
  brokers,
  idList,
  isLegalTopicName,
  kafkaError,
  printable,
  sameSet,
  tp,
  uniqSorted,
} from './words.js';

/** Partition error codes that do not contradict a live leader: 9 = a replica (not the leader) is offline. */
const BENIGN_ERRORS = new Set([0, 9]);

const SEED_001 =
  'Clients (the orderers) ask the brokers, not ZooKeeper: kafka-topics.sh --describe reads ZooKeeper and shows ' +
  "this as healthy, but the brokers' answers are what producers and consumers act on. The controller pushes " +
  'leader and ISR changes to every broker at its advertised address; when it cannot reach a broker there, that ' +
  "broker's metadata never updates (seed 001). Look for connection errors in the controller's controller.log, " +
  'check advertised.listeners of every broker from the controller and the orderers, then restart the ' +
  'controller broker to force a new controller to resend the state.';

const ISR_LAG =
  "ISR changes reach the brokers' metadata within seconds (up to a minute on Kafka 1.x, which batches ISR " +
  'change notifications), so this can be transient. If it persists across runs, the controller is not ' +
  'updating these brokers: see the controller log.';

function who(v: BrokerMetadataView): string {
  return v.brokerId !== null ? `broker ${v.brokerId}` : v.address;
}

interface Issue {
  /** "ZooKeeper", "broker 2" or an address. */
  by: string;
  byId: number | null;
  /** The verb for one and for several (issues that say the same thing are grouped). */
  verb: readonly [string, string];
  rest: string;
  critical: boolean;
}

const ANSWERS = ['answers', 'answer'] as const;
const SAYS = ['says', 'say'] as const;
const DOES_NOT = ['does not', 'do not'] as const;

function issue(
  v: BrokerMetadataView,
  verb: readonly [string, string],
  rest: string,
  critical: boolean,
): Issue {
  return { by: who(v), byId: v.brokerId, verb, rest, critical };
}

function zkIssue(rest: string): Issue {
  return { by: 'ZooKeeper', byId: null, verb: ['', ''], rest, critical: true };
}

/** Issues that say the same thing, grouped: "brokers 1, 3 and 4 answer LEADER_NOT_AVAILABLE (5)". */
function sentences(issues: readonly Issue[]): string[] {
  const groups = new Map<string, Issue[]>();
  for (const i of issues) {
    const key = `${i.verb[0]}|${i.rest}`;
    const list = groups.get(key);
    if (list) {
      if (!list.some((x) => x.by === i.by)) list.push(i);
    } else groups.set(key, [i]);
  }
  return [...groups.values()].map((list) => {
    const first = list[0]!;
    const ids = list.map((i) => i.byId);
    const subject = ids.every((id): id is number => id !== null)
      ? brokers(uniqSorted(ids))
      : andList(list.map((i) => i.by));
    const verb = list.length === 1 ? first.verb[0] : first.verb[1];
    return [subject, verb, first.rest].filter((x) => x !== '').join(' ');
  });
}

export function metadataDivergenceChecks(snapshot: ClusterSnapshot, ctx: CheckContext = {}): Finding[] {
  const ix = indexSnapshot(snapshot, ctx);
  const zk = snapshot.zookeeper;
  const findings: Finding[] = [];
  if (zk) findings.push(...zookeeperListing(ix));
  if (zk) findings.push(...partitionDivergence(ix));
  if (zk) findings.push(...brokerListDivergence(ix));
  findings.push(...controllerDivergence(ix));
  return findings;
}

/**
 * What ZooKeeper lists that Kafka itself never writes: a partition listed twice (the checks use the first), and
 * topic names Kafka does not allow (created by hand or by a broken tool: clients cannot use them, and tools
 * that expect legal names may choke on them).
 */
function zookeeperListing(ix: SnapshotIndex): Finding[] {
  const zk = ix.snapshot.zookeeper!;
  const listed = new Map<string, ZkPartitionState[]>();
  for (const p of zk.partitions) {
    if (!ix.inScope(p.topic)) continue;
    const key = partKey(p.topic, p.partition);
    const list = listed.get(key);
    if (list) list.push(p);
    else listed.set(key, [p]);
  }
  const twice: Finding[] = [];
  for (const list of listed.values()) {
    if (list.length < 2) continue;
    const first = list[0]!;
    const states = list.map(
      (p) => `leader ${p.leader ?? 'none'}, replicas ${idList(p.replicas)}, ISR ${idList(p.isr)}`,
    );
    const same = new Set(states).size === 1;
    twice.push({
      code: 'METADATA_DIVERGENCE',
      severity: same ? 'warning' : 'critical',
      subject: { topic: first.topic, partition: first.partition },
      summary:
        `${tp(printable(first.topic), first.partition)}: ZooKeeper's state lists it ${list.length} times` +
        (same
          ? ' (the same state each time)'
          : `, with different states: ${states.slice(0, 3).join(' / ')}`) +
        '; the first is used',
      explanation:
        'Kafka writes one state per partition. Two entries come from a hand edit or a broken tool writing ' +
        `/brokers/topics/${printable(first.topic)}; which one the controller acts on is not certain. Compare with ` +
        '`zkCli.sh get` of the topic and its partition state, and correct it with a reassignment.',
      evidence: { listed: list.map((p) => ({ leader: p.leader, replicas: p.replicas, isr: p.isr })) },
      repairs: [],
    });
  }
  const out = collapse(twice.map(pendingOf), ix.channels);
  for (const topic of ix.topics.keys()) {
    if (isLegalTopicName(topic)) continue;
    out.push({
      code: 'METADATA_DIVERGENCE',
      severity: 'warning',
      subject: { topic },
      summary:
        `ZooKeeper lists topic "${printable(topic.length > 120 ? `${topic.slice(0, 119)}…` : topic)}", which is ` +
        `not a valid Kafka topic name (${topic.length} characters)`,
      explanation:
        'Kafka allows 1 to 249 of a-z A-Z 0-9 . _ - in a topic name. This one was written into ZooKeeper by hand ' +
        'or by a tool that skipped the check: clients cannot produce to or consume from it by name, and scripts ' +
        'that expect legal names may misread it. Delete it, or recreate its data under a legal name.',
      evidence: { topic, length: topic.length },
      repairs: [],
    });
  }
  return out;
}

function partitionDivergence(ix: SnapshotIndex): Finding[] {
  const views = ix.okViews.filter((v) => v.partitions !== undefined || v.topicErrors !== undefined);
  // Per view: its partitions in scope by key, and the topics it mentions at all.
  const viewMaps = views.map((v) => {
    const parts = new Map<string, MetadataPartition>();
    const topics = new Set<string>();
    for (const mp of v.partitions ?? []) {
      if (!ix.inScope(mp.topic)) continue;
      parts.set(partKey(mp.topic, mp.partition), mp);
      topics.add(mp.topic);
    }
    for (const t of Object.keys(v.topicErrors ?? {})) if (ix.inScope(t)) topics.add(t);
    return { v, parts, topics };
  });
  // Only topics some broker was asked about: a gatherer may ask for the channels only.
  const mentioned = new Set<string>();
  for (const m of viewMaps) for (const t of m.topics) mentioned.add(t);
  const reassigning = new Set(
    (ix.snapshot.zookeeper?.reassignment ?? []).map((r) => partKey(r.topic, r.partition)),
  );

  const perPartition: Finding[] = [];
  for (const p of ix.partitions) {
    const key = partKey(p.topic, p.partition);
    const name = tp(p.topic, p.partition);
    const issues: Issue[] = [];
    const zkLeader = p.leader ?? -1;
    const leaderLive = zkLeader >= 0 && ix.isLive(zkLeader);

    // ZooKeeper against itself.
    if (p.replicas.length === 0) {
      issues.push(zkIssue(`has no replica assignment in /brokers/topics/${p.topic}`));
    } else {
      if (zkLeader >= 0 && !p.replicas.includes(zkLeader)) {
        issues.push(
          zkIssue(`names leader ${zkLeader}, which is not one of the replicas ${idList(p.replicas)}`),
        );
      }
      const strangers = p.isr.filter((id) => !p.replicas.includes(id));
      if (strangers.length > 0) {
        issues.push(
          zkIssue(
            `has ${brokers(uniqSorted(strangers))} in the ISR but not among the replicas ${idList(p.replicas)}`,
          ),
        );
      }
    }
    if (leaderLive && !p.isr.includes(zkLeader)) {
      issues.push(zkIssue(`names leader ${zkLeader}, which is not in the ISR ${idList(p.isr)}`));
    }

    // ZooKeeper against each broker's answer.
    if (mentioned.has(p.topic)) {
      for (const { v, parts, topics } of viewMaps) {
        const mp = parts.get(key);
        if (!mp) {
          const topicError = v.topicErrors?.[p.topic];
          if (topicError !== undefined && topicError !== 0) {
            issues.push(issue(v, ANSWERS, `${kafkaError(topicError)} for the topic`, true));
          } else {
            issues.push(
              issue(v, DOES_NOT, topics.has(p.topic) ? 'list the partition' : 'know the topic', true),
            );
          }
          continue;
        }
        if (!BENIGN_ERRORS.has(mp.errorCode)) {
          // With no live leader in ZooKeeper, LEADER_NOT_AVAILABLE is the truth, not a divergence.
          if (leaderLive || mp.errorCode !== 5)
            issues.push(issue(v, ANSWERS, kafkaError(mp.errorCode), true));
          continue;
        }
        if (mp.leader !== zkLeader && !(zkLeader < 0 && mp.leader < 0)) {
          issues.push(issue(v, SAYS, `leader ${mp.leader}`, true));
        }
        if (!reassigning.has(key) && !sameSet(mp.replicas, p.replicas)) {
          issues.push(issue(v, SAYS, `replicas ${idList(mp.replicas)}`, true));
        }
        if (!sameSet(mp.isr, p.isr)) issues.push(issue(v, SAYS, `ISR ${idList(mp.isr)}`, false));
      }
    }
    if (issues.length === 0) continue;
    // Grouped by what they say; the same broker asked twice (bootstrap and advertised address) counts once.
    const said = sentences(issues);
    const critical = issues.some((i) => i.critical);
    const shown = said.slice(0, 3);
    const more = said.length - shown.length;
    const zkSays =
      p.leader === null
        ? 'no state'
        : `leader ${zkLeader}${leaderLive ? '' : ' (down)'}, ISR ${idList(p.isr)}`;
    const onlyZk = issues.every((i) => i.by === 'ZooKeeper');
    perPartition.push({
      code: 'METADATA_DIVERGENCE',
      severity: critical ? 'critical' : 'warning',
      subject: { topic: p.topic, partition: p.partition },
      summary: onlyZk
        ? `${name}: ZooKeeper's state is inconsistent: it ${issues.map((i) => i.rest).join('; ')}`
        : `${name}: ZooKeeper says ${zkSays}, but ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
      explanation: onlyZk
        ? 'The partition state in ZooKeeper contradicts itself (edited by hand, or a tool wrote a bad ' +
          'reassignment). Brokers act on what the controller derives from it. Compare with `zkCli.sh get ' +
          `/brokers/topics/${p.topic}/partitions/${p.partition}/state\` and correct it with a reassignment.`
        : critical
          ? SEED_001
          : ISR_LAG,
      evidence: {
        zookeeper: { leader: p.leader, replicas: p.replicas, isr: p.isr },
        brokers: mentioned.has(p.topic)
          ? Object.fromEntries(
              viewMaps.map(({ v, parts }) => {
                const mp = parts.get(key);
                return [
                  v.brokerId ?? v.address,
                  mp
                    ? { errorCode: mp.errorCode, leader: mp.leader, replicas: mp.replicas, isr: mp.isr }
                    : null,
                ];
              }),
            )
          : {},
        issues: said,
      },
      repairs: [],
    });
  }
  return collapse(perPartition.map(pendingOf), ix.channels);
}

function brokerListDivergence(ix: SnapshotIndex): Finding[] {
  const registered = ix.registered;
  if (registered === null) return [];
  const findings: Finding[] = [];
  const reg = [...registered].sort((a, b) => a - b);
  for (const v of ix.okViews) {
    if (v.brokers === undefined) continue;
    const listed = new Set(v.brokers.map((b) => b.id));
    const missing = reg.filter((id) => !listed.has(id));
    const extra = uniqSorted([...listed].filter((id) => !registered.has(id)));
    if (missing.length === 0 && extra.length === 0) continue;
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`lacks registered ${brokers(missing)}`);
    if (extra.length > 0) parts.push(`lists ${brokers(extra)}, not registered in ZooKeeper`);
    findings.push({
      code: 'METADATA_DIVERGENCE',
      severity: 'critical',
      subject: v.brokerId !== null ? { broker: v.brokerId } : { source: v.address },
      summary: `${cap(who(v))}'s metadata ${parts.join(' and ')} (ZooKeeper has ${idList(reg)})`,
      explanation:
        'The controller sends every broker the list of live brokers. A broker with a different list has not ' +
        `received the controller's updates; clients that ask it cannot find partitions led by the brokers it ` +
        `lacks, or are sent to brokers that are gone. ${SEED_001}`,
      evidence: { registered: reg, listed: uniqSorted(listed), missing, extra, address: v.address },
      repairs: [],
    });
  }
  return findings;
}

function controllerDivergence(ix: SnapshotIndex): Finding[] {
  const said = ix.okViews.filter((v) => v.controllerId !== undefined);
  if (said.length === 0) return [];
  const zkController = ix.controllerId;
  // With ZooKeeper read but no controller there, CONTROLLER_MISSING says it all.
  if (ix.registered !== null && zkController === null) return [];
  const values = new Set<number>(said.map((v) => v.controllerId!));
  if (zkController !== null) values.add(zkController);
  if (values.size <= 1) return [];
  const reference = zkController ?? mostCommon(said.map((v) => v.controllerId!));
  const disagreeing = said.filter(
    (v, i) => v.controllerId !== reference && said.findIndex((w) => who(w) === who(v)) === i,
  );
  const refText =
    zkController !== null ? `ZooKeeper says broker ${zkController}` : `most brokers say ${reference}`;
  return [
    {
      code: 'METADATA_DIVERGENCE',
      severity: 'critical',
      subject: {},
      summary:
        `Brokers disagree on the controller: ${refText}; ` +
        disagreeing
          .map((v) => `${who(v)} says ${v.controllerId === -1 ? 'none (-1)' : v.controllerId}`)
          .join(', '),
      explanation:
        'Every broker learns the controller from the controller itself. A broker that names another one, or ' +
        `none, has not heard from the current controller. ${SEED_001}`,
      evidence: {
        zookeeper: zkController,
        brokers: Object.fromEntries(said.map((v) => [v.brokerId ?? v.address, v.controllerId])),
      },
      repairs: [],
    },
  ];
}

function mostCommon(values: number[]): number {
  const counts = new Map<number, number>();
  let best = values[0] ?? -1;
  for (const v of values) {
    const c = (counts.get(v) ?? 0) + 1;
    counts.set(v, c);
    if (c > (counts.get(best) ?? 0)) best = v;
  }
  return best;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
