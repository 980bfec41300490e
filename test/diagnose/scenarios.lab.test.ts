/**
 * Issue 3 on the real lab: one scenario per seed, through the CLI exactly as an operator runs it
 * (`diagnose --json` / `status` / `whatif`), checking findings, the contract's JSON and the Nagios exit codes.
 */
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { probeTcp } from '../../src/gather/reachability.js';
import type { CliIo } from '../../src/cli/context.js';
import {
  createTopic,
  deleteTopic,
  getPartitionState,
  healLab,
  killBroker,
  restartBrokerWithAdvertisedListener,
  waitFor,
} from '../../src/lab/index.js';
import type { Finding, Report } from '../../src/model/index.js';

const lab = inject('lab');
const ref = () => ({ workDir: lab!.workDir });

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (s) => (out += s),
    err: (s) => (err += s),
    env: {},
    cwd: process.cwd(),
    isTTY: false,
  };
  const code = await main([...argv, '--config', lab!.inventory], io);
  return { code, out, err };
}

async function diagnoseJson(...extra: string[]): Promise<{ code: number; report: Report }> {
  const r = await cli('diagnose', '--json', ...extra);
  expect(r.err).toBe('');
  return { code: r.code, report: JSON.parse(r.out) as Report };
}

const codes = (findings: Finding[]) => findings.map((f) => f.code);
const find = (r: Report, code: string, pred: (f: Finding) => boolean = () => true) =>
  r.findings.filter((f) => f.code === code && pred(f));

describe.skipIf(!lab)('diagnose on the lab', () => {
  const topics: string[] = [];
  beforeAll(async () => {
    await healLab(ref());
  });
  afterEach(async () => {
    await healLab(ref());
    for (const t of topics.splice(0)) await deleteTopic(ref(), t).catch(() => undefined);
  });

  it('a healthy lab: every broker registered and reachable, no finding above info, exit 0', async () => {
    const { code, report } = await diagnoseJson();
    expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(code).toBe(0);
    // The contract's shape.
    expect(Object.keys(report)).toEqual(
      expect.arrayContaining([
        'cluster',
        'generatedAt',
        'scope',
        'sources',
        'controller',
        'brokers',
        'partitions',
        'orderers',
        'findings',
      ]),
    );
    expect(report.sources.kafka?.ok).toBe(true);
    expect(report.sources.zookeeper?.ok).toBe(true);
    expect(report.brokers.map((b) => [b.id, b.registered, b.reachable])).toEqual([
      [1, true, true],
      [2, true, true],
      [3, true, true],
      [4, true, true],
    ]);
    const pubchain = report.partitions.find((p) => p.topic === 'pubchain');
    expect(pubchain).toMatchObject({ partition: 0, minIsr: 2, logStartOffset: 0 });
    expect(pubchain?.replicas).toHaveLength(3);
    expect([...(pubchain?.isr ?? [])].sort()).toEqual([...(pubchain?.replicas ?? [])].sort());
    expect(pubchain?.replicas).toContain(pubchain?.leader);
  });

  it('seed 002: whatif warns before, and killing the only replica of an RF=1 topic takes it offline', async () => {
    topics.push('rf1-seed002');
    await createTopic(ref(), { name: 'rf1-seed002', replicaAssignment: [[3]] });

    const before = await cli('whatif', 'stop-broker', '3', '--json');
    expect(before.code).toBe(2);
    const w = JSON.parse(before.out) as { safe: boolean; goOffline: { topic: string; partition: number }[] };
    expect(w.safe).toBe(false);
    expect(w.goOffline).toContainEqual(expect.objectContaining({ topic: 'rf1-seed002', partition: 0 }));

    await killBroker(ref(), 3);
    await waitFor(async () => (await getPartitionState(ref(), 'rf1-seed002', 0))?.leader === -1, {
      timeoutMs: 30_000,
      what: 'rf1-seed002/0 to lose its leader',
    });
    const { code, report } = await diagnoseJson();
    expect(code).toBe(2);
    const offline = find(report, 'PARTITION_OFFLINE', (f) => f.subject.topic === 'rf1-seed002');
    expect(offline).toHaveLength(1);
    expect(offline[0]!.severity).toBe('critical');
    expect(offline[0]!.summary).toMatch(/broker 3/);
    expect(offline[0]!.explanation).toMatch(/no failover/i);
    expect(offline[0]!.repairs.map((r) => r.kind)).toContain('raise-replication');
    expect(find(report, 'BROKER_NOT_REGISTERED', (f) => f.subject.broker === 3)).toHaveLength(1);
    const p = report.partitions.find((x) => x.topic === 'rf1-seed002');
    expect(p?.leader === null || p?.leader === -1).toBe(true);
  });

  it('seed 001: a broker advertising an address nobody can reach', async () => {
    const advertised = await restartBrokerWithAdvertisedListener(ref(), 4);
    // The broker registers in ZooKeeper a moment before its listener accepts: wait for the real port.
    const port = lab!.status.brokers.find((b) => b.id === 4)!.port;
    await waitFor(async () => (await probeTcp('127.0.0.1', port, 500)).ok, {
      timeoutMs: 30_000,
      what: `broker 4 on ${port}`,
    });
    const { code, report } = await diagnoseJson();
    expect(code).toBe(2);
    const unreachable = find(report, 'BROKER_UNREACHABLE', (f) => f.subject.broker === 4);
    expect(unreachable).toHaveLength(1);
    expect(unreachable[0]!.summary).toContain(advertised.replace('PLAINTEXT://', ''));
    expect(unreachable[0]!.explanation).toMatch(/kafka-topics/);
    expect(report.brokers.find((b) => b.id === 4)).toMatchObject({ registered: true, reachable: false });
    // ZooKeeper still looks healthy for broker 4's partitions; what the brokers say diverges from it.
    const divergence = find(report, 'METADATA_DIVERGENCE');
    expect(divergence.length, JSON.stringify(report.findings.map((f) => f.summary))).toBeGreaterThan(0);
  });

  it('in-sync replicas below min.insync.replicas after two replicas are killed', async () => {
    topics.push('minisr-probe');
    await createTopic(ref(), {
      name: 'minisr-probe',
      replicaAssignment: [[1, 2, 3]],
      configs: { 'min.insync.replicas': 2 },
    });
    await killBroker(ref(), 2);
    await killBroker(ref(), 3);
    await waitFor(async () => (await getPartitionState(ref(), 'minisr-probe', 0))?.isr.length === 1, {
      timeoutMs: 30_000,
      what: 'minisr-probe/0 ISR to shrink to one',
    });
    const { code, report } = await diagnoseJson();
    expect(code).toBe(2);
    const under = find(report, 'UNDER_MIN_ISR', (f) => f.subject.topic === 'minisr-probe');
    expect(under).toHaveLength(1);
    expect(under[0]!.summary).toMatch(/1 in-sync replica/);
    expect(under[0]!.explanation).toMatch(/fewer in-sync replicas than required/);
    expect(under[0]!.explanation).toMatch(/2/);
    // The worst finding for the partition only: not also "under-replicated".
    expect(find(report, 'UNDER_REPLICATED', (f) => f.subject.topic === 'minisr-probe')).toEqual([]);
  });

  it('unclean leader election switched on for a channel topic', async () => {
    const setUnclean = async (value: string) => {
      const kafka = new Kafka({
        clientId: 'opsbot-test',
        brokers: lab!.status.brokers.map((b) => `127.0.0.1:${b.port}`),
        logLevel: logLevel.NOTHING,
      });
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: ConfigResourceTypes.TOPIC,
              name: 'pubchain',
              configEntries: [
                { name: 'unclean.leader.election.enable', value },
                { name: 'min.insync.replicas', value: '2' },
                { name: 'retention.ms', value: '-1' },
              ],
            },
          ],
        });
      } finally {
        await admin.disconnect();
      }
    };
    await setUnclean('true');
    try {
      const { code, report } = await diagnoseJson();
      const unclean = find(report, 'CONFIG_UNCLEAN_ELECTION', (f) => f.subject.topic === 'pubchain');
      expect(unclean).toHaveLength(1);
      expect(unclean[0]!.severity).toBe('critical');
      expect(unclean[0]!.repairs).toContainEqual(
        expect.objectContaining({
          kind: 'set-topic-config',
          args: expect.objectContaining({ topic: 'pubchain' }),
        }),
      );
      expect(code).toBe(2);
    } finally {
      await setUnclean('false');
    }
    const after = await diagnoseJson();
    expect(find(after.report, 'CONFIG_UNCLEAN_ELECTION')).toEqual([]);
  });

  it('status <channel> is scoped to the channel, and an unknown channel is a usage error', async () => {
    const r = await cli('status', 'pubchain', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as Report;
    expect(report.scope).toEqual({ channel: 'pubchain' });
    expect(new Set(report.partitions.map((p) => p.topic))).toEqual(new Set(['pubchain']));

    const bad = await cli('status', 'nosuchchannel');
    expect(bad.code).toBe(64);
    expect(bad.err).toMatch(
      /unknown channel "nosuchchannel" for cluster lab \(known: testchainid, pubchain\)/,
    );
    expect(bad.out).toBe('');
  });

  it('nothing reachable: exit 3 and the report says which sources failed', async () => {
    let out = '';
    const io: CliIo = {
      out: (s) => (out += s),
      err: () => undefined,
      env: {},
      cwd: process.cwd(),
      isTTY: false,
    };
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'opsbot-')), 'inv.yaml');
    writeFileSync(
      file,
      'clusters:\n  dead:\n    kafka: { brokers: ["127.0.0.1:1"], connectTimeoutMs: 500 }\n    zookeeper: { connect: "127.0.0.1:2", connectTimeoutMs: 500 }\n',
    );
    const code = await main(['diagnose', '--json', '--config', file], io);
    expect(code).toBe(3);
    const report = JSON.parse(out) as Report;
    expect(report.sources.kafka).toMatchObject({ ok: false, error: expect.stringMatching(/127\.0\.0\.1:1/) });
    expect(report.sources.zookeeper).toMatchObject({
      ok: false,
      error: expect.stringMatching(/127\.0\.0\.1:2/),
    });
    expect(codes(report.findings)).toContain('SOURCE_UNAVAILABLE');
  });
});
