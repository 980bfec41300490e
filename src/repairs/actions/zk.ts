/**
 * ZooKeeper reads and writes for step handlers, in the layout of ZooKeeper-mode Kafka (1.0.2 through 3.9):
 * assignments, partition state, the admin znodes, and entity configs with their change notification (what
 * kafka-configs.sh --zookeeper did: write /config/<type>/<name>, then a sequential /config/changes node that
 * tells every broker to re-read it). Errors name the path.
 */
import zookeeper from 'node-zookeeper-client';
import { SourceError } from '../../errors/index.js';
import type { ZkSession } from '../../zookeeper/session.js';

export const REASSIGN_ZNODE = '/admin/reassign_partitions';
export const ELECTION_ZNODE = '/admin/preferred_replica_election';

type Json = Record<string, unknown>;

/** ZkSession errors carry the client's exception text: NODE_EXISTS[-110], BAD_VERSION[-103], NO_NODE[-101]. */
export function zkErrorIs(err: unknown, code: 'NODE_EXISTS' | 'BAD_VERSION' | 'NO_NODE'): boolean {
  return err instanceof Error && err.message.includes(code);
}

export async function readJson(zk: ZkSession, path: string): Promise<{ json: Json; version: number } | null> {
  const node = await zk.getData(path);
  if (node === null) return null;
  const text = node.data?.toString('utf8') ?? '';
  if (text.trim() === '') return { json: {}, version: node.stat.version };
  try {
    return { json: JSON.parse(text) as Json, version: node.stat.version };
  } catch (err) {
    throw new SourceError('zookeeper', `ZooKeeper ${path}: not JSON (${(err as Error).message})`);
  }
}

function intList(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.every((x) => Number.isInteger(x)) ? (v as number[]) : undefined;
}

export interface TopicAssignment {
  /** partition -> replicas (during a 2.4+ reassignment: target plus the replicas being removed). */
  partitions: Map<number, number[]>;
  /** Kafka 2.4+: replicas being added/removed by a reassignment in progress, by partition. */
  adding: Map<number, number[]>;
  removing: Map<number, number[]>;
}

/** /brokers/topics/<topic>, or null when the topic does not exist. */
export async function readAssignment(zk: ZkSession, topic: string): Promise<TopicAssignment | null> {
  const path = `/brokers/topics/${topic}`;
  const node = await readJson(zk, path);
  if (node === null) return null;
  const out: TopicAssignment = { partitions: new Map(), adding: new Map(), removing: new Map() };
  const parts = node.json.partitions;
  if (parts === null || typeof parts !== 'object') {
    throw new SourceError('zookeeper', `ZooKeeper ${path}: no "partitions" map`);
  }
  for (const [p, replicas] of Object.entries(parts as Json)) {
    const list = intList(replicas);
    if (list) out.partitions.set(Number(p), list);
  }
  for (const [field, map] of [
    ['adding_replicas', out.adding],
    ['removing_replicas', out.removing],
  ] as const) {
    const m = node.json[field];
    if (m && typeof m === 'object') {
      for (const [p, replicas] of Object.entries(m as Json)) {
        const list = intList(replicas);
        if (list && list.length > 0) map.set(Number(p), list);
      }
    }
  }
  return out;
}

export interface PartitionStateNode {
  leader: number;
  isr: number[];
  leaderEpoch?: number;
}

export async function readPartitionState(
  zk: ZkSession,
  topic: string,
  partition: number,
): Promise<PartitionStateNode | null> {
  const path = `/brokers/topics/${topic}/partitions/${partition}/state`;
  const node = await readJson(zk, path);
  if (node === null) return null;
  const isr = intList(node.json.isr);
  if (!Number.isInteger(node.json.leader) || !isr) {
    throw new SourceError('zookeeper', `ZooKeeper ${path}: no integer "leader" or "isr" list`);
  }
  return {
    leader: node.json.leader as number,
    isr,
    ...(Number.isInteger(node.json.leader_epoch) ? { leaderEpoch: node.json.leader_epoch as number } : {}),
  };
}

/** Broker ids registered in /brokers/ids. */
export async function registeredBrokers(zk: ZkSession): Promise<Set<number>> {
  const ids = await zk.getChildren('/brokers/ids');
  return new Set((ids ?? []).filter((s) => /^\d+$/.test(s)).map(Number));
}

export interface AdminPartition {
  topic: string;
  partition: number;
  replicas?: number[];
}

/** The partitions listed in an admin znode (/admin/reassign_partitions, /admin/preferred_replica_election). */
export async function readAdminNode(zk: ZkSession, path: string): Promise<AdminPartition[] | null> {
  const node = await readJson(zk, path);
  if (node === null) return null;
  const list = Array.isArray(node.json.partitions) ? (node.json.partitions as Json[]) : [];
  return list
    .filter((p) => typeof p.topic === 'string' && Number.isInteger(p.partition))
    .map((p) => ({
      topic: p.topic as string,
      partition: p.partition as number,
      ...(intList(p.replicas) ? { replicas: p.replicas as number[] } : {}),
    }));
}

/**
 * Create an admin znode: {"version":1,"partitions":[...]}. Returns false when it already exists (another
 * reassignment or election is running: Kafka handles one at a time).
 */
export async function createAdminNode(
  zk: ZkSession,
  path: string,
  partitions: AdminPartition[],
): Promise<boolean> {
  const data = Buffer.from(JSON.stringify({ version: 1, partitions }), 'utf8');
  try {
    await zk.create(path, data);
    return true;
  } catch (err) {
    if (zkErrorIs(err, 'NODE_EXISTS')) return false;
    throw err;
  }
}

export type EntityType = 'topics' | 'brokers';

/** The config overrides of an entity (/config/<type>/<name>): {} when there are none. */
export async function readEntityConfig(
  zk: ZkSession,
  type: EntityType,
  name: string,
): Promise<{ config: Record<string, string>; version: number | null }> {
  const node = await readJson(zk, `/config/${type}/${name}`);
  if (node === null) return { config: {}, version: null };
  const cfg = node.json.config;
  const config: Record<string, string> = {};
  if (cfg && typeof cfg === 'object') for (const [k, v] of Object.entries(cfg as Json)) config[k] = String(v);
  return { config, version: node.version };
}

/**
 * Change an entity's config overrides in ZooKeeper: `change` gets the current overrides and returns the new
 * ones (or null for no change). Written with the znode's version (a concurrent writer makes us read again, up
 * to 5 times), then a change notification (`{"version":2,"entity_path":"<type>/<name>"}`, understood by Kafka
 * 0.10.1 through 3.9 in ZooKeeper mode). Returns the config before and after.
 */
export async function alterEntityConfig(
  zk: ZkSession,
  type: EntityType,
  name: string,
  change: (current: Record<string, string>) => Record<string, string> | null,
): Promise<{ before: Record<string, string>; after: Record<string, string>; changed: boolean }> {
  const path = `/config/${type}/${name}`;
  for (let attempt = 1; ; attempt++) {
    const { config, version } = await readEntityConfig(zk, type, name);
    const next = change({ ...config });
    if (next === null || sameConfig(config, next)) return { before: config, after: config, changed: false };
    const data = Buffer.from(JSON.stringify({ version: 1, config: next }), 'utf8');
    try {
      if (version === null) {
        // Kafka 1.0 creates /config/brokers only when a broker config is first written.
        await ensurePath(zk, `/config/${type}`);
        await zk.create(path, data);
      } else await zk.setData(path, data, version);
    } catch (err) {
      if (
        (zkErrorIs(err, 'BAD_VERSION') || zkErrorIs(err, 'NODE_EXISTS') || zkErrorIs(err, 'NO_NODE')) &&
        attempt < 5
      ) {
        continue;
      }
      throw err;
    }
    await zk.create(
      '/config/changes/config_change_',
      Buffer.from(JSON.stringify({ version: 2, entity_path: `${type}/${name}` }), 'utf8'),
      zookeeper.CreateMode.PERSISTENT_SEQUENTIAL,
    );
    return { before: config, after: next, changed: true };
  }
}

/** Create a persistent path and its parents where missing (empty data). */
export async function ensurePath(zk: ZkSession, path: string): Promise<void> {
  let at = '';
  for (const part of path.split('/').filter(Boolean)) {
    at += `/${part}`;
    if (await zk.exists(at)) continue;
    try {
      await zk.create(at, Buffer.alloc(0));
    } catch (err) {
      if (!zkErrorIs(err, 'NODE_EXISTS')) throw err;
    }
  }
}

function sameConfig(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}
