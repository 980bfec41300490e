/**
 * Helpers for tests that use the shared lab brought up by test/global-setup.ts.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { inject } from 'vitest';
import type { ProvidedLab } from '../global-setup.js';
import { labStatus, loadLabState } from '../../src/lab/index.js';
import { listSegments, scanBatches } from '../../src/lab/kafka-log.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

/** The shared lab (throws when the run has none, e.g. FABRIC_OPSBOT_TEST_NO_LAB=1). */
export function sharedLab(): ProvidedLab {
  const lab = inject('lab');
  if (!lab) throw new Error('no test lab in this run (FABRIC_OPSBOT_TEST_NO_LAB=1?)');
  return lab;
}

/** A topic name no other test uses: `<prefix>-<random>` (Kafka topic chars only). */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A kafkajs client on the lab's running, reachable brokers. */
export function kafkaFor(workDir: string): InstanceType<typeof Kafka> {
  const state = loadLabState({ workDir });
  return new Kafka({
    clientId: 'lab-test',
    brokers: state.brokers.filter((b) => b.advertisedOverride === null).map((b) => `127.0.0.1:${b.port}`),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 15_000,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

/**
 * Produces `count` messages to topic/partition, one request (so one record batch) per message, acks=all,
 * like Fabric's orderer (key "0"). Returns the offsets.
 */
export async function produceOnePerBatch(
  workDir: string,
  topic: string,
  count: number,
  partition = 0,
): Promise<number[]> {
  const producer = kafkaFor(workDir).producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.LegacyPartitioner,
  });
  await producer.connect();
  try {
    const offsets: number[] = [];
    for (let i = 0; i < count; i++) {
      const [r] = await producer.send({
        topic,
        acks: -1,
        messages: [{ key: '0', value: `message ${i}`, partition }],
      });
      offsets.push(Number(r?.baseOffset));
    }
    return offsets;
  } finally {
    await producer.disconnect();
  }
}

/** Ports of the shared lab (the defaults 12181.../19092.../16379 unless the run shifted them). */
export function labPorts(lab: ProvidedLab = sharedLab()) {
  const b = lab.options.basePorts;
  return {
    /** ZooKeeper client port of node n (1-based). */
    zk: (n: number) => b.zookeeper + n - 1,
    /** Broker `id`'s listener. */
    kafka: (id: number) => b.kafka + id - 1,
    /** Where the unreachable-listener fault makes broker `id` advertise itself. */
    unreachable: (id: number) => b.kafka + id - 1 + 1000,
    redis: b.redis,
    /** "127.0.0.1:<zk1>,127.0.0.1:<zk2>,127.0.0.1:<zk3>" */
    zkConnect: Array.from(
      { length: lab.options.zookeeperNodes },
      (_, i) => `127.0.0.1:${b.zookeeper + i}`,
    ).join(','),
    /** How far this run shifted the default ports. */
    offset: b.kafka - 19092,
  };
}

/**
 * First offsets of the record batches in a broker's files for topic/partition (read from the segment files of
 * the running broker: what it has written, flushed or not).
 */
export function batchOffsetsOnDisk(
  workDir: string,
  brokerId: number,
  topic: string,
  partition = 0,
): number[] {
  const dir = join(brokerDataDir(workDir, brokerId), `${topic}-${partition}`);
  return listSegments(dir).flatMap((s) =>
    scanBatches(readFileSync(s.log)).batches.map((b) => Number(b.firstOffset)),
  );
}

function brokerDataDir(workDir: string, id: number): string {
  const b = labStatus({ workDir }).brokers.find((x) => x.id === id);
  if (!b) throw new Error(`no broker ${id} in the lab`);
  return b.logDir;
}
