/**
 * Labs other than the shared one, each in its own work folder and ports: Fabric 1.4's Kafka 1.0.2 (with the
 * ZooKeeper 3.4 it bundles) through the same faults, and the smallest lab (1 standalone ZooKeeper, 1 broker).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  brokerMetadata,
  createTopic,
  fourLetter,
  getBrokerRegistration,
  getHighWatermark,
  getPartitionState,
  healLab,
  killBroker,
  labDown,
  labStatus,
  labUp,
  repoRoot,
  restartBrokerWithAdvertisedListener,
  startBroker,
  truncatePartition,
  waitFor,
  withZk,
  zkMode,
} from '../../src/lab/index.js';
import { produceOnePerBatch, sharedLab, uniqueTopic } from './helpers.js';

const shared = sharedLab();

describe.skipIf(shared.kafkaVersion === '1.0.2')('Kafka 1.0.2 (Fabric 1.4) on this JDK', () => {
  const workDir = join(repoRoot(), '.lab', 'test-1.0.2');
  const ref = { workDir };
  const basePorts = {
    zookeeper: 22181,
    zookeeperPeer: 22888,
    zookeeperElection: 23888,
    kafka: 29092,
    redis: 26379,
  };

  beforeAll(async () => {
    await labUp({ workDir, kafkaVersion: '1.0.2', basePorts, redis: false });
  });
  afterAll(async () => {
    await labDown({ workDir, purge: true });
    expect(labStatus(ref).brokers).toEqual([]);
  });

  it('runs ZooKeeper 3.4 in a quorum of 3 and 4 brokers of Kafka 1.0.2', async () => {
    const srvr = await fourLetter('127.0.0.1', 22181, 'srvr');
    expect(srvr).toMatch(/Zookeeper version: 3\.4\./);
    const modes = await Promise.all([22181, 22182, 22183].map((p) => zkMode(p)));
    expect(modes.filter((m) => m === 'leader')).toHaveLength(1);
    const reg = await getBrokerRegistration(ref, 1);
    expect(reg?.version).toBe(4); // Kafka 1.0's registration format (3.9 writes 5)
    const md = await brokerMetadata(29092, ['testchainid', 'pubchain']);
    expect(md.brokers).toHaveLength(4);
    expect(md.topics.map((t) => [t.name, t.errorCode, t.partitions[0]?.replicas.length])).toEqual([
      ['testchainid', 0, 3],
      ['pubchain', 0, 3],
    ]);
    const cfg = await withZk('127.0.0.1:22181', (zk) =>
      zk.getJson<{ config: Record<string, string> }>('/config/topics/pubchain'),
    );
    expect(cfg?.config).toMatchObject({
      'min.insync.replicas': '2',
      'unclean.leader.election.enable': 'false',
    });
  });

  it('seed 002: RF=1 partition goes offline when its broker is killed', async () => {
    const topic = uniqueTopic('old-rf1');
    await createTopic(ref, { name: topic, replicaAssignment: [[2]], configs: { 'min.insync.replicas': 1 } });
    await killBroker(ref, 2);
    const st = await waitFor(
      async () => {
        const s = await getPartitionState(ref, topic, 0);
        return s && s.leader === -1 ? s : null;
      },
      { timeoutMs: 30_000, what: 'leader -1' },
    );
    expect(st.isr).toEqual([2]);
    await startBroker(ref, 2);
    await healLab(ref);
  });

  it('seed 000: the unflushed-crash truncation works on the 1.0.2 log format', async () => {
    const topic = uniqueTopic('old-unflushed');
    await createTopic(ref, { name: topic, replicaAssignment: [[1, 3, 4]] });
    await produceOnePerBatch(workDir, topic, 8);
    expect(await getHighWatermark(ref, topic, 0)).toBe(8);
    await truncatePartition(ref, topic, 0, 5);
    expect(await getHighWatermark(ref, topic, 0)).toBe(5);
    const [next] = await produceOnePerBatch(workDir, topic, 1);
    expect(next).toBe(5);
  });

  it('seed 001: the unreachable advertised listener shows in /brokers/ids', async () => {
    const target = await restartBrokerWithAdvertisedListener(ref, 4);
    expect(target).toBe('PLAINTEXT://127.0.0.1:30095');
    expect((await getBrokerRegistration(ref, 4))?.endpoints).toEqual([target]);
    await healLab(ref);
    expect((await getBrokerRegistration(ref, 4))?.endpoints).toEqual(['PLAINTEXT://127.0.0.1:29095']);
  });
});

describe('the smallest lab: 1 standalone ZooKeeper, 1 broker, no Redis', () => {
  const workDir = join(repoRoot(), '.lab', 'test-small');
  const basePorts = {
    zookeeper: 32181,
    zookeeperPeer: 32888,
    zookeeperElection: 33888,
    kafka: 39092,
    redis: 36379,
  };

  afterAll(async () => {
    await labDown({ workDir, purge: true });
  });

  it('comes up with replication scaled down to 1', async () => {
    const st = await labUp({ workDir, zookeeperNodes: 1, brokers: 1, basePorts, redis: false });
    expect(st.running).toBe(true);
    expect(st.zookeeper).toHaveLength(1);
    expect(st.redis).toBeNull();
    expect(await zkMode(32181)).toBe('standalone');
    const md = await brokerMetadata(39092, ['pubchain']);
    expect(md.topics[0]?.partitions[0]?.replicas).toEqual([1]);
  });
});
