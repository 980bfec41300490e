/**
 * Read Kafka's state from ZooKeeper: registered brokers, controller, every partition's assignment and state,
 * config overrides, a reassignment in progress. Three rounds of reads, each issued at once on one session
 * (folded into multiRead requests on ZooKeeper 3.6+, pipelined one request each on older servers), so
 * thousands of partitions cost three round trips plus transfer, not one each.
 */
import { parseEndpoint } from './reachability.js';
import { compareText } from '../order.js';
import type { ClusterConfig } from '../config/index.js';
import { describeError } from '../errors/index.js';
import type {
  BrokerRegistration,
  SourceStatus,
  ZkMemberStatus,
  ZkPartitionState,
  ZkView,
} from '../model/index.js';
import { probeMember } from '../zookeeper/fourletter.js';
import { ZkReader } from '../zookeeper/reader.js';
import { parseConnectString } from '../zookeeper/connect-string.js';

export interface ZookeeperGatherOptions {
  /** Only these topics' partitions (a channel scope); all topics when absent. */
  topics?: string[];
  /** Start the session at a random member (default) or at the first one listed. */
  shuffleMembers?: boolean;
}

export interface ZookeeperGathered {
  view: ZkView | null;
  members: ZkMemberStatus[];
  status: SourceStatus;
}

type Json = Record<string, unknown>;

function parseJson(path: string, data: Buffer | null, malformed: ZkView['malformed']): Json | null {
  if (!data || data.length === 0) {
    malformed.push({ path, error: 'empty znode' });
    return null;
  }
  try {
    const v: unknown = JSON.parse(data.toString('utf8'));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Json;
  } catch (err) {
    malformed.push({ path, error: describeError(err) });
    return null;
  }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const intArray = (v: unknown): number[] | null =>
  Array.isArray(v) && v.every(isInt) ? (v as number[]) : null;

export function parseBrokerRegistration(id: number, json: Json): BrokerRegistration | string {
  const endpoints = Array.isArray(json.endpoints) ? json.endpoints.filter((e) => typeof e === 'string') : [];
  let host = typeof json.host === 'string' ? json.host : null;
  let port = isInt(json.port) && json.port > 0 ? json.port : null;
  if ((host === null || port === null) && endpoints.length > 0) {
    const first = parseEndpoint(endpoints[0] as string);
    if (first) ({ host, port } = first);
  }
  if (host === null || port === null) return 'no host/port and no parsable endpoint';
  if (host.trim() === '') return 'empty host';
  if (!Number.isSafeInteger(port) || port < 1 || port > 65_535) return `port ${port} is not a TCP port`;
  const reg: BrokerRegistration = { id, host, port, endpoints: endpoints as string[] };
  const map = json.listener_security_protocol_map;
  if (map && typeof map === 'object' && !Array.isArray(map)) {
    const protocols = Object.entries(map as Json).filter(
      (e): e is [string, string] => typeof e[1] === 'string',
    );
    if (protocols.length > 0) reg.securityProtocols = Object.fromEntries(protocols);
  }
  if (typeof json.rack === 'string') reg.rack = json.rack;
  const ts = Number(json.timestamp);
  if (Number.isFinite(ts) && ts > 0) reg.timestamp = ts;
  return reg;
}

export async function gatherZookeeper(
  cfg: ClusterConfig['zookeeper'],
  opts: ZookeeperGatherOptions = {},
): Promise<ZookeeperGathered> {
  const started = Date.now();
  const { members: addresses } = parseConnectString(cfg.connect);
  const membersP = Promise.all(addresses.map((a) => probeMember(a, cfg.connectTimeoutMs)));
  let session: ZkReader;
  try {
    session = await ZkReader.open(cfg.connect, {
      connectTimeoutMs: cfg.connectTimeoutMs,
      sessionTimeoutMs: cfg.sessionTimeoutMs,
      requestTimeoutMs: cfg.sessionTimeoutMs,
      ...(opts.shuffleMembers === false ? { shuffle: false } : {}),
    });
  } catch (err) {
    const members = await membersP;
    return {
      view: null,
      members,
      status: { ok: false, ms: Date.now() - started, error: describeError(err) },
    };
  }
  try {
    const malformed: ZkView['malformed'] = [];
    const [members, ids, controllerNode, epochNode, topicNames, reassignNode, brokerConfigIds] =
      await Promise.all([
        membersP,
        session.getChildren('/brokers/ids'),
        session.getData('/controller'),
        session.getData('/controller_epoch'),
        opts.topics ? Promise.resolve(opts.topics) : session.getChildren('/brokers/topics'),
        session.getData('/admin/reassign_partitions'),
        session.getChildren('/config/brokers'),
      ]);
    const notChecked: string[] = [];
    if (ids === null)
      notChecked.push('/brokers/ids does not exist: is this the right ZooKeeper (and chroot) for Kafka?');

    const brokerIds = (ids ?? []).filter((s) => /^\d+$/.test(s)).map(Number);
    const topics = [...(topicNames ?? [])].sort();

    // Everything else depends only on the names above: issue it all at once.
    const configBrokers = brokerConfigIds ?? [];
    const round2 = await session.getDataMany([
      ...brokerIds.map((id) => `/brokers/ids/${id}`),
      ...topics.map((t) => `/brokers/topics/${t}`),
      ...topics.map((t) => `/config/topics/${t}`),
      ...configBrokers.map((b) => `/config/brokers/${b}`),
    ]);
    let at = 0;
    const take = (n: number) => round2.slice(at, (at += n));
    const brokerNodes = take(brokerIds.length);
    const topicNodes = take(topics.length);
    const topicConfigNodes = take(topics.length);
    const brokerConfigNodes = take(configBrokers.length);

    const brokers: BrokerRegistration[] = [];
    brokerIds.forEach((id, i) => {
      const node = brokerNodes[i];
      if (!node) return; // went away between the two reads
      const path = `/brokers/ids/${id}`;
      const json = parseJson(path, node.data, malformed);
      if (!json) return;
      const reg = parseBrokerRegistration(id, json);
      if (typeof reg === 'string') malformed.push({ path, error: reg });
      else brokers.push(reg);
    });
    brokers.sort((a, b) => a.id - b.id);

    const assignments: { topic: string; partition: number; replicas: number[] }[] = [];
    topics.forEach((topic, i) => {
      const node = topicNodes[i];
      if (!node) return; // a scoped topic that does not exist: checks say so from `expected`
      const path = `/brokers/topics/${topic}`;
      const json = parseJson(path, node.data, malformed);
      const parts = json?.partitions;
      if (!json) return;
      if (parts === null || typeof parts !== 'object') {
        malformed.push({ path, error: 'no "partitions" map' });
        return;
      }
      for (const [p, replicas] of Object.entries(parts as Json)) {
        const list = intArray(replicas);
        if (!/^\d+$/.test(p) || !list) {
          malformed.push({ path, error: `partition "${p}" has no valid replica list` });
          continue;
        }
        assignments.push({ topic, partition: Number(p), replicas: list });
      }
    });
    assignments.sort((a, b) => compareText(a.topic, b.topic) || a.partition - b.partition);

    const stateNodes = await session.getDataMany(
      assignments.map((a) => `/brokers/topics/${a.topic}/partitions/${a.partition}/state`),
    );
    const partitions: ZkPartitionState[] = assignments.map((a, i) => {
      const node = stateNodes[i];
      const state: ZkPartitionState = { ...a, leader: null, isr: [] };
      if (!node) return state;
      const path = `/brokers/topics/${a.topic}/partitions/${a.partition}/state`;
      const json = parseJson(path, node.data, malformed);
      if (!json) return state;
      const isr = intArray(json.isr);
      if (!isInt(json.leader) || !isr) {
        malformed.push({ path, error: 'no integer "leader" or "isr" list' });
        return state;
      }
      state.leader = json.leader;
      state.isr = isr;
      if (isInt(json.leader_epoch)) state.leaderEpoch = json.leader_epoch;
      if (isInt(json.controller_epoch)) state.controllerEpoch = json.controller_epoch;
      return state;
    });

    const configMap = (path: string, node: { data: Buffer | null } | null): Record<string, string> | null => {
      if (!node) return null;
      const json = parseJson(path, node.data, malformed);
      const cfgs = json?.config;
      if (!cfgs || typeof cfgs !== 'object') return null;
      return Object.fromEntries(Object.entries(cfgs as Json).map(([k, v]) => [k, String(v)]));
    };
    const topicConfigs: ZkView['topicConfigs'] = {};
    topics.forEach((t, i) => {
      const c = configMap(`/config/topics/${t}`, topicConfigNodes[i] ?? null);
      if (c) topicConfigs[t] = c;
    });
    const brokerConfigOverrides: ZkView['brokerConfigOverrides'] = {};
    configBrokers.forEach((b, i) => {
      const c = configMap(`/config/brokers/${b}`, brokerConfigNodes[i] ?? null);
      if (c) brokerConfigOverrides[b] = c;
    });

    let controller: ZkView['controller'] = null;
    if (controllerNode) {
      const json = parseJson('/controller', controllerNode.data, malformed);
      if (json && isInt(json.brokerid)) {
        controller = { brokerId: json.brokerid };
        const ts = Number(json.timestamp);
        if (Number.isFinite(ts) && ts > 0) controller.timestamp = ts;
      } else if (json) malformed.push({ path: '/controller', error: 'no integer "brokerid"' });
    }
    let controllerEpoch: number | undefined;
    if (epochNode?.data) {
      const n = Number(epochNode.data.toString('utf8').trim());
      if (Number.isInteger(n)) controllerEpoch = n;
      else malformed.push({ path: '/controller_epoch', error: 'not an integer' });
    }

    let reassignment: ZkView['reassignment'] = null;
    if (reassignNode) {
      const json = parseJson('/admin/reassign_partitions', reassignNode.data, malformed);
      const list = Array.isArray(json?.partitions) ? (json.partitions as Json[]) : [];
      reassignment = list
        .filter((p) => typeof p.topic === 'string' && isInt(p.partition) && intArray(p.replicas))
        .map((p) => ({
          topic: p.topic as string,
          partition: p.partition as number,
          replicas: p.replicas as number[],
        }));
    }

    for (const m of malformed) notChecked.push(`${m.path}: ${m.error}`);
    const view: ZkView = {
      members,
      controller,
      brokers,
      partitions,
      topicConfigs,
      brokerConfigOverrides,
      reassignment,
      malformed,
    };
    if (controllerEpoch !== undefined) view.controllerEpoch = controllerEpoch;
    view.readFrom = session.membersUsed;
    const status: SourceStatus = { ok: true, ms: Date.now() - started };
    if (notChecked.length) status.notChecked = notChecked;
    return { view, members, status };
  } catch (err) {
    const members = await membersP;
    return {
      view: null,
      members,
      status: { ok: false, ms: Date.now() - started, error: describeError(err) },
    };
  } finally {
    session.close();
  }
}
