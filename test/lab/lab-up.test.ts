/**
 * The shared lab is up and shaped as promised: 3 ZooKeeper nodes in quorum, 4 brokers registered and serving,
 * the Fabric channel topics, Redis with AOF, an inventory the config loader accepts; labUp is idempotent and
 * restarts dead processes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { inventorySchema } from '../../src/config/schema.js';
import {
  brokerMetadata,
  getPartitionState,
  healLab,
  labStatus,
  labUp,
  loadLabState,
  runKafkaTool,
  sleep,
  waitFor,
  withZk,
  zkMode,
} from '../../src/lab/index.js';
import { labPorts, sharedLab } from './helpers.js';

const lab = sharedLab();
const ref = { workDir: lab.workDir };
const P = labPorts(lab);

afterEach(async () => {
  await healLab(ref);
});

describe('the shared lab', () => {
  it('is provided to test files by global setup (inject and env)', () => {
    expect(lab.workDir).toMatch(/\.lab\//);
    expect(lab.options.brokers).toBe(4);
    expect(existsSync(lab.inventory)).toBe(true);
    expect(process.env['FABRIC_OPSBOT_TEST_LAB_DIR']).toBe(lab.workDir);
    console.log(`labUp took ${lab.upMs} ms (Kafka ${lab.kafkaVersion})`);
  });

  it('has a ZooKeeper ensemble of 3 with one leader, 4lw whitelisted', async () => {
    const st = labStatus(ref);
    expect(st.zookeeper.map((z) => z.port)).toEqual([P.zk(1), P.zk(2), P.zk(3)]);
    const modes = await Promise.all(st.zookeeper.map((z) => zkMode(z.port)));
    expect(modes.filter((m) => m === 'leader')).toHaveLength(1);
    expect(modes.filter((m) => m === 'follower')).toHaveLength(2);
  });

  it('has 4 brokers registered in ZooKeeper, each answering metadata with the whole cluster', async () => {
    const st = labStatus(ref);
    expect(st.brokers.map((b) => [b.id, b.port])).toEqual([1, 2, 3, 4].map((id) => [id, P.kafka(id)]));
    const ids = await withZk(P.zkConnect, async (zk) => (await zk.children('/brokers/ids')) ?? []);
    expect(ids.map(Number).sort()).toEqual([1, 2, 3, 4]);
    for (const b of st.brokers) {
      const md = await brokerMetadata(b.port, null);
      expect(md.brokers.map((x) => `${x.id}@${x.host}:${x.port}`).sort()).toEqual(
        [1, 2, 3, 4].map((id) => `${id}@127.0.0.1:${P.kafka(id)}`),
      );
      expect([1, 2, 3, 4]).toContain(md.controllerId);
      expect(existsSync(b.serverLog)).toBe(true);
      expect(existsSync(b.logDir)).toBe(true);
    }
  });

  it('has the channel topics as Fabric creates them: 1 partition, RF 3, min ISR 2, no unclean election, keep forever', async () => {
    for (const ch of ['testchainid', 'pubchain']) {
      const { topic, config } = await withZk(P.zkConnect, async (zk) => ({
        topic: await zk.getJson<{ partitions: Record<string, number[]> }>(`/brokers/topics/${ch}`),
        config: await zk.getJson<{ config: Record<string, string> }>(`/config/topics/${ch}`),
      }));
      expect(Object.keys(topic?.partitions ?? {})).toEqual(['0']);
      expect(topic?.partitions['0']).toHaveLength(3);
      expect(config?.config).toMatchObject({
        'min.insync.replicas': '2',
        'unclean.leader.election.enable': 'false',
        'retention.ms': '-1',
      });
      const state = await getPartitionState(ref, ch, 0);
      expect(state?.leader).toBeGreaterThan(0);
      expect([...(state?.isr ?? [])].sort()).toEqual([...(topic?.partitions['0'] ?? [])].sort());
      const md = await brokerMetadata(P.kafka(1), [ch]);
      expect(md.topics[0]?.errorCode).toBe(0);
      expect(md.topics[0]?.partitions[0]?.leader).toBe(state?.leader);
    }
  });

  it('runs brokers with Fabric’s recommended settings', () => {
    const props = readFileSync(
      labStatus(ref).brokers[0]!.logDir.replace(/data$/, 'server.properties'),
      'utf8',
    );
    for (const line of [
      'broker.id=1',
      `listeners=PLAINTEXT://127.0.0.1:${P.kafka(1)}`,
      'unclean.leader.election.enable=false',
      'min.insync.replicas=2',
      'default.replication.factor=3',
      'log.retention.ms=-1',
      'message.max.bytes=103809024',
      'replica.fetch.max.bytes=103809024',
      'socket.request.max.bytes=104857600',
      'auto.create.topics.enable=false',
      'offsets.topic.replication.factor=3',
    ]) {
      expect(props.split('\n')).toContain(line);
    }
  });

  it('writes an inventory the config loader accepts', () => {
    const raw = parse(readFileSync(lab.inventory, 'utf8')) as Record<string, unknown>;
    const inv = inventorySchema.parse(raw);
    expect(inv.defaultCluster).toBe('lab');
    const c = inv.clusters['lab']!;
    expect(c.kafka.brokers).toEqual([1, 2, 3, 4].map((id) => `127.0.0.1:${P.kafka(id)}`));
    expect(c.kafka.brokerIds).toEqual([1, 2, 3, 4]);
    expect(c.kafka.version).toBe(lab.kafkaVersion);
    expect(c.zookeeper.connect).toBe(P.zkConnect);
    expect(c.orderers).toEqual([]);
    expect(inv.redis.url).toBe(`redis://127.0.0.1:${P.redis}`);
  });

  it('has Redis (16379) with AOF and noeviction', async () => {
    const redis = new Redis(P.redis, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      expect(await redis.ping()).toBe('PONG');
      expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    } finally {
      redis.disconnect();
    }
    expect(labStatus(ref).redis?.running).toBe(true);
  });

  it('labStatus has the contract shape', () => {
    const st = labStatus(ref);
    expect(st.inventory).toBe(lab.inventory);
    expect(st.running).toBe(true);
    for (const z of st.zookeeper)
      expect(z).toMatchObject({ id: expect.any(Number), port: expect.any(Number), pid: expect.any(Number) });
    for (const b of st.brokers) {
      expect(b).toMatchObject({
        id: expect.any(Number),
        port: expect.any(Number),
        pid: expect.any(Number),
        logDir: expect.any(String),
      });
    }
    expect(st.redis).toMatchObject({ port: P.redis, pid: expect.any(Number) });
  });

  it('has Kafka’s own tools on the class path (TopicCommand, GetOffsetShell)', async () => {
    const old = lab.kafkaVersion.startsWith('0.') || lab.kafkaVersion.startsWith('1.');
    const describe = await runKafkaTool(ref, 'TopicCommand', [
      ...(old ? ['--zookeeper', P.zkConnect] : ['--bootstrap-server', `127.0.0.1:${P.kafka(1)}`]),
      '--describe',
      '--topic',
      'pubchain',
    ]);
    expect(describe).toMatch(/Topic:\s*pubchain/);
    expect(describe).toMatch(/ReplicationFactor:\s*3/);
    const offsets = await runKafkaTool(ref, 'GetOffsetShell', [
      old ? '--broker-list' : '--bootstrap-server',
      `127.0.0.1:${P.kafka(1)}`,
      '--topic',
      'pubchain',
      '--time',
      '-1',
    ]);
    expect(offsets.trim()).toMatch(/^pubchain:0:\d+$/);
  });

  it('labUp again changes nothing and is quick', async () => {
    const before = labStatus(ref);
    const t0 = Date.now();
    const after = await labUp(ref);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(after.brokers.map((b) => b.pid)).toEqual(before.brokers.map((b) => b.pid));
    expect(after.zookeeper.map((z) => z.pid)).toEqual(before.zookeeper.map((z) => z.pid));
    expect(after.redis?.pid).toBe(before.redis?.pid);
  });

  it('labUp restarts a process that died (a ZooKeeper node and a broker killed behind its back)', async () => {
    const state = loadLabState(ref);
    const zkPid = state.zookeeper[2]!.pid!;
    const brokerPid = state.brokers[1]!.pid!;
    process.kill(zkPid, 'SIGKILL');
    process.kill(brokerPid, 'SIGKILL');
    // Both processes gone (a SIGKILLed JVM may hold its port for a moment), and the lab notices.
    const gone = (pid: number) => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    };
    await waitFor(() => gone(zkPid) && gone(brokerPid) && !labStatus(ref).running, {
      timeoutMs: 10_000,
      what: 'the killed processes to be gone and the lab to notice',
    });
    const st = await labUp(ref);
    expect(st.running).toBe(true);
    expect(st.zookeeper[2]!.pid).not.toBe(zkPid);
    expect(st.brokers[1]!.pid).not.toBe(brokerPid);
    expect(await zkMode(P.zk(3))).toMatch(/leader|follower/);
    const md = await brokerMetadata(P.kafka(2), null);
    expect(md.brokers).toHaveLength(4);
    await sleep(0);
  });
});
