/** The incident channel: one message per incident, updates in its thread, closed when it clears. Real Redis. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Finding, Report } from '../../src/model/index.js';
import { createIncidentTracker, type IncidentTracker } from '../../src/slack/incidents.js';
import { createSlackPoster } from '../../src/slack/poster.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startSlackRecorder, type SlackRecorder } from '../helpers/slack.js';
import { finding, pubchainReport } from './fixtures.js';

let redis: TestRedis;
let rec: SlackRecorder;
let tracker: IncidentTracker;

const offline = (evidence: Record<string, unknown> = { isr: [] }): Finding =>
  finding({
    code: 'PARTITION_OFFLINE',
    severity: 'critical',
    subject: { topic: 'pubchain', partition: 0 },
    summary: 'pubchain/0 has no live leader',
    evidence,
  });

function report(findings: Finding[], over: Partial<Report> = {}): Report {
  return { ...pubchainReport(), scope: {}, findings, ...over };
}

beforeAll(async () => {
  redis = await startRedis();
  rec = await startSlackRecorder();
  tracker = createIncidentTracker({
    redis: redis.client(),
    prefix: 'inc',
    slack: createSlackPoster({ token: 'xoxb-t', apiUrl: rec.apiUrl, retries: 0 }),
    channelFor: (c) => (c === 'lab' ? 'CINC' : undefined),
  });
});
afterAll(async () => {
  await rec?.close();
  await redis?.stop();
});
beforeEach(async () => {
  await redis.flush();
  rec.clear();
});

const posts = () => rec.find((c) => c.method === 'chat.postMessage');
const updates = () => rec.find((c) => c.method === 'chat.update');

describe('incidents', () => {
  it('opens once, updates in the thread on change, closes with a reply and an update', async () => {
    expect(await tracker.reconcile(report([offline()]))).toMatchObject({
      opened: [expect.stringMatching(/^PARTITION_OFFLINE\|/)],
    });
    expect(posts()).toHaveLength(1);
    const parent = posts()[0]!;
    expect(parent.args['channel']).toBe('CINC');
    expect(parent.args['thread_ts']).toBeUndefined();

    // Same finding: nothing posted.
    expect(await tracker.reconcile(report([offline()]))).toEqual({ opened: [], updated: [], closed: [] });
    expect(posts()).toHaveLength(1);

    // Changed evidence: a thread reply and an update of the parent.
    const changed = await tracker.reconcile(report([offline({ isr: [], replicas: [1, 2, 3] })]));
    expect(changed.updated).toHaveLength(1);
    expect(posts()).toHaveLength(2);
    expect(posts()[1]!.args['thread_ts']).toBe('1700000000.000001');
    expect(updates()).toHaveLength(1);
    expect(updates()[0]!.args['ts']).toBe('1700000000.000001');

    // Warnings do not open incidents; the critical one is gone: closed.
    const closed = await tracker.reconcile(report([finding({ code: 'AT_MIN_ISR', severity: 'warning' })]));
    expect(closed.closed).toHaveLength(1);
    expect(posts()).toHaveLength(3);
    expect(String(posts()[2]!.args['text'])).toMatch(/Cleared/);
    expect(posts()[2]!.args['thread_ts']).toBe('1700000000.000001');
    expect(JSON.stringify(updates()[1]!.args['blocks'])).toContain('RESOLVED');
    expect(await tracker.open('lab')).toEqual([]);

    // It comes back: a new incident.
    await tracker.reconcile(report([offline()]));
    expect(posts()).toHaveLength(4);
    expect(posts()[3]!.args['thread_ts']).toBeUndefined();
  });

  it('does not close an incident the report could not see (source down, or out of scope)', async () => {
    await tracker.reconcile(report([offline()]));
    const kafkaDown = report([], {
      sources: { kafka: { ok: false, error: 'down' }, zookeeper: { ok: true } },
    });
    expect((await tracker.reconcile(kafkaDown)).closed).toEqual([]);
    const otherChannel = report([], { scope: { channel: 'testchainid' } });
    expect((await tracker.reconcile(otherChannel)).closed).toEqual([]);
    expect(await tracker.open('lab')).toHaveLength(1);
    const sameChannel = report([], { scope: { channel: 'pubchain' } });
    expect((await tracker.reconcile(sameChannel)).closed).toHaveLength(1);
  });

  it('posts one message when many workers see the same incident at once', async () => {
    await Promise.all(Array.from({ length: 8 }, () => tracker.reconcile(report([offline()]))));
    expect(posts()).toHaveLength(1);
  });

  it('posts nothing for a cluster without an incident channel', async () => {
    await tracker.reconcile(report([offline()], { cluster: 'prod' }));
    expect(posts()).toHaveLength(0);
  });
});

describe('which findings a channel-scoped report can close', () => {
  const brokerDown: Finding = finding({
    code: 'BROKER_NOT_REGISTERED',
    severity: 'critical',
    subject: { broker: 2 },
    summary: 'Broker 2 is not registered in ZooKeeper',
    evidence: {},
  });
  const scoped = (findings: Finding[], brokerIds: number[]) =>
    report(findings, {
      scope: { channel: 'pubchain' },
      brokers: brokerIds.map((id) => ({
        id,
        host: '127.0.0.1',
        port: 19091 + id,
        registered: true,
        reachable: true,
      })),
    });

  it('closes a broker incident it opened, once the broker (one of the channel replicas it lists) is back', async () => {
    await tracker.reconcile(scoped([brokerDown], [1, 2, 3]));
    expect(posts()).toHaveLength(1);
    expect(await tracker.reconcile(scoped([], [1, 2, 3]))).toMatchObject({
      closed: [expect.stringMatching(/^BROKER_NOT_REGISTERED\|/)],
    });
  });

  it('does not close an incident about a broker it did not look at', async () => {
    await tracker.reconcile(report([brokerDown]));
    expect(await tracker.reconcile(scoped([], [1, 3, 4]))).toMatchObject({ closed: [] });
  });
});
