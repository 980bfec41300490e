/**
 * A ZooKeeper that holds garbage where Kafka's state should be (a hand edit gone wrong, a half-finished tool,
 * a chroot shared with something else), on the shared lab's real ensemble under a chroot of its own: the
 * gatherer reads what it can, names every znode it could not use and why, and the checks and renderers turn
 * that into findings and reports, never a crash.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadInventory, selectCluster } from '../../src/config/index.js';
import { gatherZookeeper } from '../../src/gather/zookeeper.js';
import { withZk } from '../../src/lab/zk.js';
import { diagnose } from '../../src/ops/diagnose.js';
import { renderText } from '../../src/render/text.js';
import { reportBlocks } from '../../src/slack/blocks.js';
import { labPorts, sharedLab } from '../lab/helpers.js';

const lab = sharedLab();
const ports = labPorts(lab);
const ensemble = [1, 2, 3].map((n) => `127.0.0.1:${ports.zk(n)}`).join(',');
const root = `/malformed-${randomBytes(4).toString('hex')}`;
const ODD = `odd.name_with-dots.and_underscores-${'x'.repeat(200)}`; // legal, 236 characters
const registration = (port: number) =>
  JSON.stringify({ version: 4, host: '127.0.0.1', port, endpoints: [`PLAINTEXT://127.0.0.1:${port}`] });

const TREE: [string, string][] = [
  ['/brokers', ''],
  ['/brokers/ids', ''],
  ['/brokers/ids/1', registration(ports.kafka(1))],
  ['/brokers/ids/2', 'garbage{'],
  ['/brokers/ids/3', '{"host":"127.0.0.1"}'],
  ['/brokers/ids/abc', '{}'],
  ['/brokers/ids/7', registration(ports.kafka(1) + 77)],
  ['/brokers/topics', ''],
  ['/brokers/topics/good', '{"version":1,"partitions":{"0":[1,7],"1":[1]}}'],
  ['/brokers/topics/good/partitions', ''],
  ['/brokers/topics/good/partitions/0', ''],
  [
    '/brokers/topics/good/partitions/0/state',
    '{"controller_epoch":1,"leader":1,"leader_epoch":0,"isr":[1,7]}',
  ],
  ['/brokers/topics/good/partitions/1', ''],
  ['/brokers/topics/good/partitions/1/state', '{"controller_epoch":1,"leader":-1,"leader_epoch":3,"isr":[]}'],
  ['/brokers/topics/bad-json', 'not json at all'],
  [`/brokers/topics/${ODD}`, '{"partitions":{"0":[1,"x"],"-1":[1],"1":[1]}}'],
  [`/brokers/topics/${ODD}/partitions`, ''],
  [`/brokers/topics/${ODD}/partitions/1`, ''],
  [`/brokers/topics/${ODD}/partitions/1/state`, '{"leader":"1","isr":"all"}'],
  ['/brokers/topics/nostate', '{"partitions":{"0":[1]}}'],
  ['/brokers/topics/array', '[1,2,3]'],
  ['/controller', '{}'],
  ['/controller_epoch', 'x'],
  ['/config', ''],
  ['/config/topics', ''],
  ['/config/topics/good', '{"version":1,"config":{"min.insync.replicas":"-5"}}'],
  ['/admin', ''],
  ['/admin/reassign_partitions', '{"partitions":[{"topic":"good","partition":"zero","replicas":[1]}]}'],
];

beforeAll(async () => {
  await withZk(ensemble, async (zk) => {
    await zk.create(root, '');
    for (const [path, data] of TREE) await zk.create(`${root}${path}`, data);
  });
}, 60_000);

const zkConfig = () => ({ connect: `${ensemble}${root}`, connectTimeoutMs: 5000, sessionTimeoutMs: 10_000 });

describe('garbage in ZooKeeper', () => {
  it('is read around: every unusable znode named with its reason, everything usable kept', async () => {
    const { view, status } = await gatherZookeeper(zkConfig());
    expect(status.ok, status.error).toBe(true);
    expect(view!.brokers.map((b) => b.id)).toEqual([1, 7]);
    const malformed = Object.fromEntries(view!.malformed.map((m) => [m.path, m.error]));
    expect(malformed).toMatchObject({
      '/brokers/ids/2': expect.stringMatching(/JSON/),
      '/brokers/ids/3': 'no host/port and no parsable endpoint',
      '/brokers/topics/bad-json': expect.stringMatching(/JSON/),
      '/brokers/topics/array': 'not a JSON object',
      [`/brokers/topics/${ODD}/partitions/1/state`]: 'no integer "leader" or "isr" list',
      '/controller': 'no integer "brokerid"',
      '/controller_epoch': 'not an integer',
    });
    expect(view!.malformed.filter((m) => m.path === `/brokers/topics/${ODD}`).map((m) => m.error)).toEqual([
      'partition "0" has no valid replica list',
      'partition "-1" has no valid replica list',
    ]);
    // Every malformed znode is also in what could not be checked.
    for (const m of view!.malformed) expect(status.notChecked).toContain(`${m.path}: ${m.error}`);

    const parts = view!.partitions.map((p) => [p.topic, p.partition, p.leader, p.isr]);
    expect(parts).toEqual([
      ['good', 0, 1, [1, 7]],
      ['good', 1, -1, []],
      ['nostate', 0, null, []],
      [ODD, 1, null, []],
    ]);
    expect(view!.controller).toBeNull();
    expect(view!.topicConfigs['good']).toEqual({ 'min.insync.replicas': '-5' });
    expect(view!.reassignment).toEqual([]); // its one entry has a partition that is not a number
  });

  it('diagnose over it: findings for what it means, text, JSON and Block Kit all rendered', async () => {
    const inventory = loadInventory(lab.inventory);
    const cluster = selectCluster(inventory, undefined);
    const result = await diagnose({
      inventory,
      cluster: { ...cluster, config: { ...cluster.config, zookeeper: zkConfig() } },
      env: process.env,
    });
    const { report } = result;
    const codes = new Set(report.findings.map((f) => `${f.code} ${JSON.stringify(f.subject)}`));
    expect(codes).toContain('PARTITION_OFFLINE {"topic":"good","partition":1}');
    expect(codes).toContain(`PARTITION_OFFLINE {"topic":"nostate","partition":0}`);
    expect(codes).toContain('CONTROLLER_MISSING {}');
    // Broker 2's registration exists but is garbage: said so, not "missing".
    const broker2 = report.findings.find((f) => f.code === 'BROKER_NOT_REGISTERED' && f.subject.broker === 2);
    expect(broker2?.summary).toMatch(
      /^Broker 2's registration \/brokers\/ids\/2 exists but cannot be read \(.*JSON/,
    );
    const broker4 = report.findings.find((f) => f.code === 'BROKER_NOT_REGISTERED' && f.subject.broker === 4);
    expect(broker4?.summary).toMatch(/\(\/brokers\/ids\/4 missing\)/);
    // A DescribeConfigs error without a message still says what it was.
    expect(report.sources.kafka?.notChecked?.join('\n')).toMatch(
      /topic good configs: UNKNOWN_TOPIC_OR_PARTITION/,
    );
    const zkNotChecked = report.findings.find(
      (f) => f.code === 'SOURCE_UNAVAILABLE' && f.subject.source === 'zookeeper',
    );
    expect(zkNotChecked?.summary).toMatch(/\/brokers\/ids\/2/);
    expect(result.exitCode).toBe(2);

    const text = renderText(report, { color: false });
    expect(text).toContain('good/1');
    expect(text).toContain(ODD.slice(0, 40));
    const json = JSON.parse(JSON.stringify(report)) as typeof report;
    expect(json.findings.length).toBe(report.findings.length);
    const message = reportBlocks(report);
    expect(message.blocks.length).toBeGreaterThan(0);
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    expect(JSON.stringify(message.blocks)).toContain('good/1');
  });
});
