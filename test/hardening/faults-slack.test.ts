/**
 * Slack's Web API failing under the workers (issue #9, faults during work): HTTP 429 with Retry-After, 500 and
 * 503, and a Slack that takes the request and never answers, scripted on the local Web API recorder.
 *
 * - the poster waits what Retry-After says (never less), retries 5xx a bounded number of times with a backoff,
 *   then fails with an error naming the method and the channel; nothing is posted twice when a retry succeeds;
 *   the 1 message/s/channel pacing holds through it;
 * - a command whose report cannot be posted ends there (no second diagnose), the user is told through the
 *   response_url, and the audit says the report could not be posted;
 * - incident messages are not duplicated when Slack fails half way through an incident's update.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SelectedCluster } from '../../src/config/index.js';
import type { ClusterSnapshot, Finding, Report } from '../../src/model/index.js';
import type { DiagnoseResult } from '../../src/ops/diagnose.js';
import { QUEUES } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { createIncidentTracker } from '../../src/slack/incidents.js';
import {
  createSlackPoster,
  SlackRefusedError,
  SlackUnavailableError,
  type SlackPoster,
} from '../../src/slack/poster.js';
import type { Operations } from '../../workers/ops.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { postSlashCommand, startSlackRecorder, type SlackRecorder } from '../helpers/slack.js';
import { finding, pubchainReport, USERS } from '../slack/fixtures.js';
import { ENV, SIGNING_SECRET, startHarness, type Harness } from '../slack/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the poster against a failing Web API', () => {
  let rec: SlackRecorder;
  let redis: TestRedis;
  beforeAll(async () => {
    rec = await startSlackRecorder();
    redis = await startRedis();
  });
  afterAll(async () => {
    await rec?.close();
    await redis?.stop();
  });
  beforeEach(async () => {
    rec.clear();
    await redis.flush();
  });

  const poster = (over: Partial<Parameters<typeof createSlackPoster>[0]> = {}): SlackPoster =>
    createSlackPoster({ token: 'xoxb-t', apiUrl: rec.apiUrl, retries: 2, backoffMs: 100, ...over });
  const attempts = (channel: string) =>
    rec.find((c) => c.method === 'chat.postMessage' && c.args['channel'] === channel);
  const delivered = (channel: string) =>
    rec.delivered((c) => c.method === 'chat.postMessage' && c.args['channel'] === channel);

  it('waits Retry-After (not less) after a 429, then posts once', async () => {
    rec.failHttp('chat.postMessage', { status: 429, retryAfter: 1 });
    const p = await poster().post({ channel: 'C429', text: 'report' });
    expect(p.ts).toMatch(/^1700000000\./);
    const [first, second] = attempts('C429');
    expect(first).toMatchObject({ status: 429 });
    expect(second!.status).toBeUndefined();
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1000);
    expect(delivered('C429')).toHaveLength(1);
  });

  it('retries 500 and 503 with a growing backoff and posts once', async () => {
    rec.failHttp('chat.postMessage', { status: 500 }, { status: 503 });
    await poster().post({ channel: 'C5XX', text: 'report' });
    const a = attempts('C5XX');
    expect(a.map((c) => c.status)).toEqual([500, 503, undefined]);
    expect(a[1]!.at - a[0]!.at).toBeGreaterThanOrEqual(100);
    expect(a[2]!.at - a[1]!.at).toBeGreaterThanOrEqual(200);
    expect(delivered('C5XX')).toHaveLength(1);
  });

  it('gives up after a bounded number of 5xx, naming the method and the channel', async () => {
    rec.failHttp('chat.postMessage', { status: 503 }, { status: 503 }, { status: 503 }, { status: 503 });
    const err = await poster()
      .post({ channel: 'CDOWN', text: 'report' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlackUnavailableError);
    expect((err as Error).message).toBe(
      'Slack chat.postMessage to channel CDOWN failed: HTTP 503 (3 attempts)',
    );
    expect(attempts('CDOWN')).toHaveLength(3);
    expect(delivered('CDOWN')).toHaveLength(0);
    rec.clear(); // the fourth 503 was not asked for
    // What Slack refuses is not retried.
    rec.failNext('chat.postMessage', 'channel_not_found');
    const refused = await poster()
      .post({ channel: 'CGONE', text: 'x' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SlackRefusedError);
    expect((refused as Error).message).toBe(
      'Slack refused chat.postMessage to channel CGONE: channel_not_found',
    );
    expect(attempts('CGONE')).toHaveLength(1);
  });

  it('does not wait for a rate limit longer than a call may', async () => {
    rec.failHttp('chat.postMessage', { status: 429, retryAfter: 30 });
    const t0 = Date.now();
    const err = await poster({ maxRateLimitWaitMs: 5000 })
      .post({ channel: 'CSLOW', text: 'x' })
      .catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((err as Error).message).toBe(
      'Slack chat.postMessage to channel CSLOW failed: rate-limited: Slack asks to retry after 30 s, more than the 5 s a call may wait',
    );
  });

  it('times out on a Slack that never answers, and says so', async () => {
    rec.failHttp('chat.postMessage', 'hang', 'hang');
    const t0 = Date.now();
    const err = await poster({ timeoutMs: 300, retries: 1 })
      .post({ channel: 'CHUNG', text: 'x', thread_ts: '1.2' })
      .catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((err as Error).message).toBe(
      'Slack chat.postMessage to channel CHUNG (thread 1.2) failed: no answer within 300 ms (2 attempts)',
    );
    rec.failHttp('chat.update', 'hang');
    const upd = await poster({ timeoutMs: 300, retries: 0 })
      .update({ channel: 'CHUNG', ts: '1.2', text: 'x' })
      .catch((e: unknown) => e);
    expect((upd as Error).message).toBe(
      'Slack chat.update to channel CHUNG, message 1.2 failed: no answer within 300 ms',
    );
  });

  it('retries a response_url on 429/5xx and not on 404, without showing the URL', async () => {
    rec.failHttp('response_url', { status: 429, retryAfter: 1 }, { status: 502 });
    const url = rec.responseUrl('secret-token-123');
    await poster().respond(url, { text: 'hello' });
    const calls = rec.find((c) => c.method === 'response_url');
    expect(calls.map((c) => c.status)).toEqual([429, 502, undefined]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(1000);
    rec.failHttp('response_url', { status: 404 });
    const err = await poster()
      .respond(url, { text: 'again' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlackRefusedError);
    expect((err as Error).message).toBe(
      `Slack refused response_url to response_url at 127.0.0.1:${rec.port}: HTTP 404`,
    );
    expect((err as Error).message).not.toContain('secret-token');
  });

  it('keeps one message per second per channel across workers, through a 429', async () => {
    const pacing = { redis: redis.client(), prefix: 'p' };
    const a = poster({ pacing });
    const b = poster({ pacing: { redis: redis.client(), prefix: 'p' } });
    rec.failHttp('chat.postMessage', { status: 429, retryAfter: 2 });
    await Promise.all([
      a.post({ channel: 'CPACE', text: '1' }),
      b.post({ channel: 'CPACE', text: '2' }),
      a.post({ channel: 'CPACE', text: '3' }),
    ]);
    const d = delivered('CPACE');
    expect(d.map((c) => c.args['text']).sort()).toEqual(['1', '2', '3']);
    for (let i = 1; i < d.length; i++) expect(d[i]!.at - d[i - 1]!.at).toBeGreaterThanOrEqual(900);
    // The 429 held the channel for everyone: nothing reached Slack for 2 s after it.
    const limited = attempts('CPACE').find((c) => c.status === 429)!;
    expect(d[0]!.at - limited.at).toBeGreaterThanOrEqual(1900);
  }, 20_000);
});

describe('a command whose report Slack will not take', () => {
  let h: Harness;
  let diagnoses = 0;
  let warningsOnly = false;
  const ops: Partial<Operations> = {
    async diagnose({ cluster, channel }: { cluster: SelectedCluster; channel?: string }) {
      diagnoses++;
      const report = pubchainReport();
      const r: Report = {
        ...report,
        cluster: cluster.name,
        scope: channel !== undefined ? { channel } : {},
        findings: report.findings.filter((f) => !warningsOnly || f.severity !== 'critical'),
      };
      return {
        snapshot: {} as ClusterSnapshot,
        findings: r.findings,
        report: r,
        exitCode: 2,
      } as DiagnoseResult;
    },
  };
  beforeAll(async () => {
    h = await startHarness({ repairs: {}, workers: { ops } });
    const pacing = createRedis(h.inventory.redis, { flavour: 'worker', env: ENV });
    await h.restartWorkers({
      slack: createSlackPoster({
        token: ENV.SLACK_BOT_TOKEN,
        apiUrl: h.recorder.apiUrl,
        retries: 2,
        backoffMs: 50,
        pacing: { redis: pacing, prefix: h.inventory.redis.prefix },
      }),
    });
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(async () => {
    diagnoses = 0;
    h.recorder.clear();
    await h.queue(QUEUES.commands).obliterate({ force: true });
  });

  const ask = (channel: string) =>
    postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
      text: 'status pubchain',
      user_id: USERS.viewer,
      channel_id: channel,
      response_url: h.recorder.responseUrl(),
    });

  it('posts the report once when a 429 is followed by success', async () => {
    h.recorder.failHttp('chat.postMessage', { status: 429, retryAfter: 1 });
    await ask('CRATE');
    const report = await h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CRATE' && c.status === undefined,
    );
    expect(String(report.args['text'])).toContain('pubchain');
    await sleep(500);
    expect(
      h.recorder.delivered((c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CRATE'),
    ).toHaveLength(1);
    const [job] = await h.queue(QUEUES.commands).getJobs(['completed']);
    expect(job?.returnvalue.posted).toMatchObject({ channel: 'CRATE' });
    expect(diagnoses).toBe(1);
  });

  it('fails the job once, tells the user and audits that the report could not be posted', async () => {
    h.recorder.failHttp('chat.postMessage', { status: 503 }, { status: 503 }, { status: 503 });
    await ask('CFAIL');
    const told = await h.recorder.waitFor((c) => c.method === 'response_url', 15_000);
    const expected =
      'the report could not be posted: Slack chat.postMessage to channel CFAIL failed: HTTP 503 (3 attempts)';
    expect(String(told.args['text'])).toContain(expected);
    expect(told.args['response_type']).toBe('ephemeral');
    let failed = await h.queue(QUEUES.commands).getJobs(['failed']);
    for (let i = 0; i < 50 && failed.length === 0; i++) {
      await sleep(50);
      failed = await h.queue(QUEUES.commands).getJobs(['failed']);
    }
    expect(failed).toHaveLength(1);
    expect(failed[0]!.failedReason).toBe(expected);
    expect(failed[0]!.attemptsMade).toBe(1);
    expect(diagnoses).toBe(1);
    const entries = (await h.audit!.tail(20)).map((x) => x.entry!);
    const e = entries.find((x) => x.what === 'command' && x.outcome === 'error' && x.jobId === failed[0]!.id);
    expect(e?.details['error']).toBe(expected);
    expect(
      h.recorder.delivered((c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CFAIL'),
    ).toHaveLength(0);
  });

  it('a scheduled check whose changes Slack will not take posts them at the next check', async () => {
    warningsOnly = true; // no incident: the only post is the changes
    const checks = h.queue(QUEUES.checks);
    await checks.obliterate({ force: true });
    h.recorder.failHttp('chat.postMessage', { status: 503 }, { status: 503 }, { status: 503 });
    const check = () => ({ kind: 'scheduled-check' as const, cluster: 'lab', requestedAt: 'scheduled' });
    await h.producer.enqueue(check(), 'check-lab-1');
    let failed = await checks.getJobs(['failed']);
    for (let i = 0; i < 100 && failed.length === 0; i++) {
      await sleep(50);
      failed = await checks.getJobs(['failed']);
    }
    expect(failed[0]?.failedReason).toBe(
      'the changes could not be posted (the next check tries again): Slack chat.postMessage to channel ' +
        'CINCIDENTS failed: HTTP 503 (3 attempts)',
    );
    await h.producer.enqueue(check(), 'check-lab-2');
    const posted = await h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CINCIDENTS' && c.status === undefined,
    );
    expect(JSON.stringify(posted.args['blocks'])).toContain('AT_MIN_ISR');
    warningsOnly = false;
  });
});

describe('incident messages when Slack fails half way', () => {
  let redis: TestRedis;
  let rec: SlackRecorder;
  beforeAll(async () => {
    redis = await startRedis();
    rec = await startSlackRecorder();
  });
  afterAll(async () => {
    await rec?.close();
    await redis?.stop();
  });

  const offline = (evidence: Record<string, unknown>): Finding =>
    finding({
      code: 'PARTITION_OFFLINE',
      severity: 'critical',
      subject: { topic: 'pubchain', partition: 0 },
      summary: 'pubchain/0 has no live leader',
      evidence,
    });
  const other: Finding = finding({
    code: 'UNDER_MIN_ISR',
    severity: 'critical',
    subject: { topic: 'testchainid', partition: 0 },
    summary: 'testchainid/0 has 1 in sync, min 2',
  });
  const report = (findings: Finding[]): Report => ({ ...pubchainReport(), scope: {}, findings });

  it('says each change and each close once, and one failing incident does not stop the others', async () => {
    const tracker = createIncidentTracker({
      redis: redis.client(),
      prefix: 'inc',
      slack: createSlackPoster({ token: 'xoxb-t', apiUrl: rec.apiUrl, retries: 0 }),
      channelFor: () => 'CINC',
    });
    const posts = () => rec.delivered((c) => c.method === 'chat.postMessage');

    // Opening: the first incident's post fails, the second opens anyway; the next check opens the first.
    rec.failHttp('chat.postMessage', { status: 503 });
    const first = await tracker.reconcile(report([offline({ isr: [] }), other]));
    expect(first.opened).toEqual([expect.stringMatching(/^UNDER_MIN_ISR\|/)]);
    expect(Object.values(first.failed ?? {})).toEqual([
      'Slack chat.postMessage to channel CINC failed: HTTP 503',
    ]);
    const again = await tracker.reconcile(report([offline({ isr: [] }), other]));
    expect(again.opened).toEqual([expect.stringMatching(/^PARTITION_OFFLINE\|/)]);
    expect(posts()).toHaveLength(2);

    // A change: the thread reply goes out, the update of the parent fails. The next check does not say the
    // change again.
    rec.failHttp('chat.update', { status: 500 });
    const changed = await tracker.reconcile(report([offline({ isr: [], replicas: [1, 2, 3] }), other]));
    expect(changed.updated).toHaveLength(1);
    expect(changed.failed).toBeUndefined();
    expect(posts()).toHaveLength(3);
    const same = await tracker.reconcile(report([offline({ isr: [], replicas: [1, 2, 3] }), other]));
    expect(same).toEqual({ opened: [], updated: [], closed: [] });
    expect(posts()).toHaveLength(3);

    // Closing: the "Cleared" reply goes out, the update fails: closed once, not again.
    rec.failHttp('chat.update', { status: 500 });
    const closed = await tracker.reconcile(report([]));
    expect(closed.closed).toHaveLength(2);
    expect(posts().filter((c) => /Cleared/.test(String(c.args['text'])))).toHaveLength(2);
    expect(await tracker.reconcile(report([]))).toEqual({ opened: [], updated: [], closed: [] });
    expect(posts().filter((c) => /Cleared/.test(String(c.args['text'])))).toHaveLength(2);
  });
});
