/**
 * Each fault of src/lab/faults.ts does what it says on the shared lab, and healLab puts the lab back.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  brokerMetadata,
  createTopic,
  deleteTopic,
  getBrokerRegistration,
  getControllerId,
  getHighWatermark,
  getPartitionState,
  healLab,
  killBroker,
  labStatus,
  restartBrokerWithAdvertisedListener,
  restoreAdvertisedListener,
  startBroker,
  startZookeeper,
  stopZookeeper,
  truncatePartition,
  waitFor,
  withZk,
  zkMode,
} from '../../src/lab/index.js';
import {
  batchOffsetsOnDisk,
  kafkaFor,
  labPorts,
  produceOnePerBatch,
  sharedLab,
  uniqueTopic,
} from './helpers.js';

const lab = sharedLab();
const ref = { workDir: lab.workDir };
const P = labPorts(lab);

afterEach(async () => {
  await healLab(ref);
  const st = labStatus(ref);
  expect(st.running).toBe(true);
  expect(st.brokers.every((b) => b.advertisedListener === `PLAINTEXT://127.0.0.1:${b.port}`)).toBe(true);
});

describe('createTopic', () => {
  it('creates a topic with the chosen replica assignment and configs', async () => {
    const topic = uniqueTopic('assigned');
    await createTopic(ref, {
      name: topic,
      replicaAssignment: [
        [4, 1, 2],
        [2, 3, 4],
      ],
      configs: { 'min.insync.replicas': 2, 'retention.ms': -1 },
    });
    const { assignment, config } = await withZk(P.zkConnect, async (zk) => ({
      assignment: await zk.getJson<{ partitions: Record<string, number[]> }>(`/brokers/topics/${topic}`),
      config: await zk.getJson<{ config: Record<string, string> }>(`/config/topics/${topic}`),
    }));
    expect(assignment?.partitions).toEqual({ '0': [4, 1, 2], '1': [2, 3, 4] });
    expect(config?.config).toMatchObject({ 'min.insync.replicas': '2', 'retention.ms': '-1' });
    expect((await getPartitionState(ref, topic, 0))?.leader).toBe(4);
    expect((await getPartitionState(ref, topic, 1))?.leader).toBe(2);
    await deleteTopic(ref, topic);
  });
});

describe('killBroker / startBroker (seed 002)', () => {
  it('killing the only replica of an RF=1 partition leaves it offline (leader -1) until the broker returns', async () => {
    const topic = uniqueTopic('rf1');
    // Not the controller: see versions.test.ts for what Kafka 1.0 does when the controller dies with it.
    const controller = await getControllerId(ref);
    const victim = [4, 3, 2, 1].find((id) => id !== controller)!;
    await createTopic(ref, {
      name: topic,
      replicaAssignment: [[victim]],
      configs: { 'min.insync.replicas': 1 },
    });
    await produceOnePerBatch(lab.workDir, topic, 3);
    expect(await getHighWatermark(ref, topic, 0)).toBe(3);

    const pid = await killBroker(ref, victim);
    expect(pid).toEqual(expect.any(Number));
    expect(labStatus(ref).brokers[victim - 1]?.running).toBe(false);
    const offline = await waitFor(
      async () => {
        const st = await getPartitionState(ref, topic, 0);
        return st && st.leader === -1 ? st : null;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: `${topic}/0 to lose its leader` },
    );
    expect(offline.leader).toBe(-1);
    expect(offline.isr).toEqual([victim]); // the dead broker stays the last ISR member: no failover possible
    expect(await getBrokerRegistration(ref, victim)).toBeNull();
    // The brokers' metadata agrees: LEADER_NOT_AVAILABLE (5) for the partition.
    await waitFor(
      async () =>
        (await brokerMetadata(P.kafka(1), [topic])).topics[0]?.partitions[0]?.errorCode === 5 || null,
      { timeoutMs: 15_000, what: 'broker 1 to report LEADER_NOT_AVAILABLE' },
    );

    await startBroker(ref, victim);
    const back = await waitFor(
      async () => {
        const st = await getPartitionState(ref, topic, 0);
        return st && st.leader === victim ? st : null;
      },
      { timeoutMs: 30_000, what: `${topic}/0 to get broker ${victim} back as leader` },
    );
    expect(back.isr).toEqual([victim]);
    expect(await getHighWatermark(ref, topic, 0)).toBe(3);
    await deleteTopic(ref, topic);
  });

  it('killing a broker of an RF=3 partition shrinks its ISR within seconds and keeps a leader', async () => {
    const topic = uniqueTopic('rf3');
    await createTopic(ref, { name: topic, replicaAssignment: [[1, 2, 3]] });
    await produceOnePerBatch(lab.workDir, topic, 2);
    await killBroker(ref, 2, { waitUnregistered: true });
    const st = await waitFor(
      async () => {
        const s = await getPartitionState(ref, topic, 0);
        return s && !s.isr.includes(2) ? s : null;
      },
      { timeoutMs: 30_000, what: 'broker 2 to leave the ISR' },
    );
    expect(st.leader).toBe(1);
    expect([...st.isr].sort()).toEqual([1, 3]);
    await startBroker(ref, 2);
    await deleteTopic(ref, topic);
  });
});

describe('truncatePartition (seed 000: unflushed crash)', () => {
  it('cuts the partition back to offset N: the high watermark ends at N, below what consumers saw', async () => {
    const topic = uniqueTopic('unflushed');
    await createTopic(ref, { name: topic, replicaAssignment: [[2, 3, 4]] });
    const offsets = await produceOnePerBatch(lab.workDir, topic, 10);
    expect(offsets).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await getHighWatermark(ref, topic, 0)).toBe(10);

    const result = await truncatePartition(ref, topic, 0, 6);
    expect(result.replicas).toEqual([2, 3, 4]);
    expect(result.previousEnds).toEqual({ 2: 10, 3: 10, 4: 10 });
    expect(await getHighWatermark(ref, topic, 0)).toBe(6);
    const st = await getPartitionState(ref, topic, 0);
    expect([...(st?.isr ?? [])].sort()).toEqual([2, 3, 4]);

    // What is left is readable, and the next message gets offset 6 again.
    const admin = kafkaFor(lab.workDir).admin();
    await admin.connect();
    try {
      expect(await admin.fetchTopicOffsets(topic)).toEqual([
        { partition: 0, offset: '6', high: '6', low: '0' },
      ]);
    } finally {
      await admin.disconnect();
    }
    for (const id of [2, 3, 4])
      expect(batchOffsetsOnDisk(lab.workDir, id, topic)).toEqual([0, 1, 2, 3, 4, 5]);
    const [next] = await produceOnePerBatch(lab.workDir, topic, 1);
    // 6; or 7 when a busy machine made the (non-idempotent) producer retry a write that had landed.
    expect([6, 7]).toContain(next);
    const leader = (await getPartitionState(ref, topic, 0))!.leader;
    expect(batchOffsetsOnDisk(lab.workDir, leader, topic).slice(0, 7)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await deleteTopic(ref, topic);
  });

  it('refuses an offset inside a batch or past the end, changing nothing', async () => {
    const topic = uniqueTopic('batched');
    await createTopic(ref, { name: topic, replicaAssignment: [[1, 2, 3]] });
    const producer = kafkaFor(lab.workDir).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      // One request with 4 messages = one record batch holding offsets 0..3.
      await producer.send({
        topic,
        acks: -1,
        messages: [0, 1, 2, 3].map((i) => ({ key: '0', value: `m${i}`, partition: 0 })),
      });
    } finally {
      await producer.disconnect();
    }
    const pids = labStatus(ref).brokers.map((b) => b.pid);
    await expect(truncatePartition(ref, topic, 0, 2)).rejects.toThrow(
      /inside a batch holding offsets 0\.\.3; cut at 0 or 4/,
    );
    await expect(truncatePartition(ref, topic, 0, 9)).rejects.toThrow(/the log ends at 4/);
    expect(labStatus(ref).brokers.map((b) => b.pid)).toEqual(pids); // no broker was touched
    expect(await getHighWatermark(ref, topic, 0)).toBe(4);
    await deleteTopic(ref, topic);
  });
});

describe('restartBrokerWithAdvertisedListener (seed 001)', () => {
  it('registers an endpoint nobody can reach; the controller fails to connect; restoring fixes it', async () => {
    const id = 3;
    const controllerBefore = await getControllerId(ref);
    const target = await restartBrokerWithAdvertisedListener(ref, id);
    expect(target).toBe(`PLAINTEXT://127.0.0.1:${P.unreachable(3)}`);

    const reg = await getBrokerRegistration(ref, id);
    expect(reg?.endpoints).toEqual([target]);
    expect(reg?.port).toBe(P.unreachable(3));
    // The broker still listens on its real port (that is how the lab reads it), but advertises the dead one.
    expect(labStatus(ref).brokers[2]).toMatchObject({ running: true, advertisedListener: target });

    // The controller tries to reach broker 3 at the advertised endpoint and fails.
    const controller = (await getControllerId(ref)) ?? controllerBefore;
    expect(controller).not.toBeNull();
    const serverLog = labStatus(ref).brokers.find((b) => b.id === controller)!.serverLog;
    await waitFor(
      () =>
        new RegExp(
          `Controller \\d+'s connection to broker 127\\.0\\.0\\.1:${P.unreachable(3)} \\(id: 3 rack: null\\) was unsuccessful`,
        ).test(readFileSync(serverLog, 'utf8')),
      {
        timeoutMs: 30_000,
        intervalMs: 250,
        what: `controller ${controller} to log its failure to reach broker 3`,
      },
    );
    // Other brokers' metadata hands clients the unreachable endpoint.
    await waitFor(
      async () => {
        const md = await brokerMetadata(P.kafka(1), null);
        return md.brokers.find((b) => b.id === 3)?.port === P.unreachable(3) || null;
      },
      { timeoutMs: 15_000, what: 'broker 1 to advertise broker 3 at the unreachable port' },
    );

    await restoreAdvertisedListener(ref, id);
    expect((await getBrokerRegistration(ref, id))?.endpoints).toEqual([
      `PLAINTEXT://127.0.0.1:${P.kafka(3)}`,
    ]);
  });

  it('refuses a non-loopback advertised address', async () => {
    await expect(
      restartBrokerWithAdvertisedListener(ref, 2, 'PLAINTEXT://10.255.255.1:9092'),
    ).rejects.toThrow(/only ever uses loopback/);
    expect((await getBrokerRegistration(ref, 2))?.endpoints).toEqual([`PLAINTEXT://127.0.0.1:${P.kafka(2)}`]);
  });
});

describe('stopZookeeper / startZookeeper', () => {
  it('stops one ensemble member (quorum stays), then brings it back into the quorum', async () => {
    await stopZookeeper(ref, 3);
    expect(await zkMode(P.zk(3))).toBeNull();
    expect(labStatus(ref).zookeeper[2]?.running).toBe(false);
    const modes = await Promise.all([zkMode(P.zk(1)), zkMode(P.zk(2))]);
    expect(modes.sort()).toEqual(['follower', 'leader']);
    // Still serving: 2 of 3.
    expect(
      await withZk(
        `127.0.0.1:${P.zk(1)},127.0.0.1:${P.zk(2)}`,
        async (zk) => (await zk.children('/brokers/ids'))?.length,
      ),
    ).toBe(4);

    await startZookeeper(ref, 3);
    expect(await zkMode(P.zk(3))).toMatch(/^(leader|follower)$/);
  });

  it('losing 2 of 3 members loses the quorum; starting them restores it', async () => {
    await stopZookeeper(ref, 1);
    await stopZookeeper(ref, 2, { kill: true });
    await waitFor(async () => (await zkMode(P.zk(3))) === null, {
      timeoutMs: 15_000,
      what: 'ZooKeeper 3 to stop serving',
    });
    await startZookeeper(ref, 1);
    await startZookeeper(ref, 2);
    const modes = await Promise.all([zkMode(P.zk(1)), zkMode(P.zk(2)), zkMode(P.zk(3))]);
    expect(modes.filter((m) => m === 'leader')).toHaveLength(1);
  });
});
