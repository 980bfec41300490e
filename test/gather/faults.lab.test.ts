/**
 * A broker dying while the tool is reading the cluster, on the shared lab. ZooKeeper keeps a killed broker's
 * registration (and its leaderships) until its session times out, so for a few seconds the cluster says a dead
 * broker leads partitions: the report must say so, name the broker, and still be complete for the rest.
 * (ZooKeeper members going away mid-read: test/zookeeper/reader.lab.test.ts.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory, selectCluster, readSecrets } from '../../src/config/index.js';
import { gatherKafka, wireOptionsFor } from '../../src/gather/kafka.js';
import { gatherZookeeper } from '../../src/gather/zookeeper.js';
import {
  createTopic,
  deleteTopic,
  getBrokerRegistration,
  getPartitionState,
  healLab,
  killBroker,
  sleep,
  waitFor,
} from '../../src/lab/index.js';
import { diagnose } from '../../src/ops/diagnose.js';
import { sharedLab, uniqueTopic } from '../lab/helpers.js';

const lab = sharedLab();
const ref = { workDir: lab.workDir };
const inventory = loadInventory(lab.inventory);
const cluster = selectCluster(inventory, undefined);
const VICTIM = 4;

const topics: string[] = [];
/** A topic whose partitions broker 4 leads (its preferred replica), created while broker 4 is up. */
async function topicLedByVictim(): Promise<string> {
  const name = uniqueTopic('gather-faults');
  topics.push(name);
  await createTopic(ref, {
    name,
    replicaAssignment: [
      [VICTIM, 1, 2],
      [VICTIM, 2, 3],
    ],
  });
  await waitFor(
    async () =>
      (await getPartitionState(ref, name, 0))?.leader === VICTIM &&
      (await getPartitionState(ref, name, 1))?.leader === VICTIM,
    { timeoutMs: 30_000, what: `broker ${VICTIM} to lead ${name}` },
  );
  return name;
}

afterAll(async () => {
  await healLab(ref);
  for (const t of topics) await deleteTopic(ref, t).catch(() => undefined);
}, 120_000);

describe('a broker dying mid-gather', () => {
  it('killed after it answered metadata, before its offsets are read: those offsets name it, the rest are read', async () => {
    await topicLedByVictim();
    const zk = await gatherZookeeper(cluster.config.zookeeper);
    expect(zk.status.ok).toBe(true);
    const led = zk
      .view!.partitions.filter((p) => p.leader === VICTIM)
      .map((p) => `${p.topic}/${p.partition}`);
    expect(led.length).toBeGreaterThan(0);

    const wire = wireOptionsFor(cluster.config.kafka, readSecrets(inventory, process.env).byEnv);
    // Every broker is asked for metadata at once; ZooKeeper's answer (which the offsets wait for) is held back
    // until broker 4 has been killed, so the offsets go to a broker that answered a moment ago and is gone.
    const gathered = await gatherKafka(cluster.config.kafka.brokers, {
      wire,
      zookeeper: (async () => {
        await sleep(500);
        await killBroker(ref, VICTIM);
        return { registrations: zk.view!.brokers, partitions: zk.view!.partitions };
      })(),
    });

    expect(gathered.status.ok, gathered.status.error).toBe(true);
    const offsets = new Map(gathered.view!.offsets.map((o) => [`${o.topic}/${o.partition}`, o]));
    for (const key of led) {
      const o = offsets.get(key);
      expect(o?.broker, key).toBe(VICTIM);
      expect(o?.highWatermark, key).toBeUndefined();
      expect(o?.error, key).toMatch(new RegExp(`^leader broker ${VICTIM}: broker 127\\.0\\.0\\.1:\\d+: `));
    }
    const others = zk.view!.partitions.filter(
      (p) => p.leader !== VICTIM && p.leader !== null && p.leader >= 0,
    );
    expect(others.length).toBeGreaterThan(0);
    for (const p of others) {
      const o = offsets.get(`${p.topic}/${p.partition}`);
      expect(o?.error, `${p.topic}/${p.partition}`).toBeUndefined();
      expect(o?.highWatermark, `${p.topic}/${p.partition}`).toBeGreaterThanOrEqual(0);
    }
  }, 60_000);

  it('killed and still registered in ZooKeeper: diagnose names it unreachable, says which offsets it could not read, and reports everything else', async () => {
    await healLab(ref);
    const topic = await topicLedByVictim();
    await killBroker(ref, VICTIM);
    // Its ZooKeeper session lives on for zookeeper.session.timeout.ms (6 s in the lab): still registered.
    expect(await getBrokerRegistration(ref, VICTIM)).not.toBeNull();
    const result = await diagnose({ inventory, cluster, env: process.env });
    const { report, snapshot } = result;
    expect(snapshot.zookeeper?.brokers.map((b) => b.id)).toContain(VICTIM);
    expect(report.sources.kafka?.ok).toBe(true);
    expect(report.sources.kafka?.notChecked?.join('\n')).toMatch(
      new RegExp(`metadata from broker ${VICTIM} at 127\\.0\\.0\\.1:\\d+: .*ECONNREFUSED`),
    );
    const unreachable = report.findings.find((f) => f.code === 'BROKER_UNREACHABLE');
    expect(unreachable?.severity).toBe('critical');
    expect(unreachable?.subject).toEqual({ broker: VICTIM });
    const missing = report.findings.find(
      (f) => f.code === 'SOURCE_UNAVAILABLE' && f.subject.source === 'kafka',
    );
    expect(missing?.summary, missing?.summary).toMatch(
      new RegExp(`offsets of \\d+ partitions?: .*\\(leader broker ${VICTIM} could not be reached\\)`),
    );
    for (const partition of [0, 1]) {
      expect(
        snapshot.kafka!.offsets.find((o) => o.topic === topic && o.partition === partition),
      ).toMatchObject({
        broker: VICTIM,
        error: `leader broker ${VICTIM} could not be reached`,
      });
    }
    // Everything the other brokers lead was read.
    const readable = snapshot.kafka!.offsets.filter((o) => o.broker !== VICTIM);
    expect(readable.length).toBeGreaterThan(0);
    expect(readable.every((o) => o.error === undefined && (o.highWatermark ?? -1) >= 0)).toBe(true);
    expect(result.exitCode).toBe(2);
  }, 60_000);
});
