/**
 * Commands end to end without a cluster: signed slash command -> Bolt -> BullMQ (real Redis) -> a real worker
 * in this process whose operations are injected -> Block Kit posted to the local Web API recorder.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SelectedCluster } from '../../src/config/index.js';
import { NotFoundError, SourceError } from '../../src/errors/index.js';
import type { ClusterSnapshot, RepairPlan, Report } from '../../src/model/index.js';
import type { DiagnoseResult } from '../../src/ops/diagnose.js';
import { QUEUES } from '../../src/queue/index.js';
import { ACTIONS, type KnownBlock } from '../../src/slack/blocks.js';
import type { Operations } from '../../workers/ops.js';
import { postSlashCommand, type RecordedCall } from '../helpers/slack.js';
import { pubchainReport, USERS } from './fixtures.js';
import { SIGNING_SECRET, startHarness, type Harness } from './harness.js';

/** What the injected diagnose does next: a report, an error, or hang. */
let behaviour: Array<'ok' | 'retryable' | 'fatal' | 'hang'> = [];
let calls: { cluster: string; channel?: string }[] = [];

function result(report: Report): DiagnoseResult {
  return { snapshot: {} as ClusterSnapshot, findings: report.findings, report, exitCode: 2 };
}

const ops: Partial<Operations> = {
  async diagnose({ cluster, channel }: { cluster: SelectedCluster; channel?: string }) {
    calls.push({ cluster: cluster.name, ...(channel !== undefined ? { channel } : {}) });
    const next = behaviour.shift() ?? 'ok';
    if (next === 'retryable')
      throw new SourceError('kafka', 'broker 127.0.0.1:19092 did not answer (timeout)');
    if (next === 'fatal')
      throw new NotFoundError('unknown channel "pubchain" for cluster lab (known: other)');
    if (next === 'hang') return new Promise<DiagnoseResult>(() => undefined);
    const report = pubchainReport();
    return result({ ...report, cluster: cluster.name, scope: channel !== undefined ? { channel } : {} });
  },
  async planRepair({ kind, cluster, args }) {
    if (kind !== 'pad-channel') {
      const { PlanNotAvailableError } = await import('../../workers/ops.js');
      throw new PlanNotAvailableError(kind, ['pad-channel']);
    }
    const plan: RepairPlan = {
      kind,
      cluster: cluster.name,
      args,
      preconditions: [{ check: 'orderers agree', ok: true, detail: '1 orderer expects offset 28' }],
      steps: [{ action: 'produce', topic: 'pubchain', partition: 0, count: 8, value: '1a00', key: '0' }],
      expected: { highWatermark: 28 },
      refusal: null,
    };
    return plan;
  },
  async audit() {
    // not under test here
  },
};

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ workers: { ops, timeoutsMs: { status: 1500 } } });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  behaviour = [];
  calls = [];
  await h.queue(QUEUES.commands).obliterate({ force: true });
  await h.redis.client().del('t:incidents:lab');
  h.recorder.clear();
});

/** The failed jobs, once there is one (the user is told just before the job moves to failed). */
async function failedJobs() {
  const deadline = Date.now() + 5000;
  let failed = await h.queue(QUEUES.commands).getJobs(['failed']);
  while (failed.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    failed = await h.queue(QUEUES.commands).getJobs(['failed']);
  }
  return failed;
}

function textOf(c: RecordedCall): string {
  return JSON.stringify(c.args['blocks'] ?? '') + String(c.args['text'] ?? '');
}

async function fabric(text: string, user: string = USERS.viewer, channel = 'COPS') {
  const responseUrl = h.recorder.responseUrl();
  const res = await postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
    text,
    user_id: user,
    channel_id: channel,
    response_url: responseUrl,
  });
  expect(res.status).toBe(200);
  return { res, responseUrl, path: new URL(responseUrl).pathname };
}

describe('/fabric status pubchain through a real worker', () => {
  it('posts the report in the channel it was asked in, and opens an incident for the critical finding', async () => {
    const { res } = await fabric('status pubchain', USERS.viewer, 'CPUB');
    expect(res.ms).toBeLessThan(1000);
    const post = await h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CPUB',
    );
    expect(post.token).toBe('xoxb-test-token');
    expect(calls).toEqual([{ cluster: 'lab', channel: 'pubchain' }]);
    const text = textOf(post);
    expect(text).toContain('ORDERER_OFFSET_AHEAD');
    expect(text).toContain('AT_MIN_ISR');
    expect(text).toContain(`asked by <@${USERS.viewer}>`);
    const blocks = post.args['blocks'] as KnownBlock[];
    expect(blocks.length).toBeLessThanOrEqual(50);
    const button = blocks.flatMap((b) =>
      b.type === 'section' && b.accessory?.type === 'button' ? [b.accessory] : [],
    )[0];
    expect(button?.action_id).toBe(ACTIONS.repairRequest);
    expect(JSON.parse(button?.value ?? '{}')).toEqual({
      cluster: 'lab',
      kind: 'pad-channel',
      args: { channel: 'pubchain' },
    });

    const incident = await h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CINCIDENTS',
    );
    expect(textOf(incident)).toContain('INCIDENT');
    expect(textOf(incident)).toContain('ORDERER_OFFSET_AHEAD');

    // The same critical finding again: no second incident message.
    await fabric('status pubchain', USERS.viewer, 'CPUB');
    await h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CPUB' && c !== post,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(
      h.recorder.find((c) => c.args['channel'] === 'CINCIDENTS' && c.method === 'chat.postMessage'),
    ).toHaveLength(1);
  });

  it('retries a retryable failure and posts once', async () => {
    behaviour = ['retryable', 'ok'];
    await fabric('status pubchain');
    await h.recorder.waitFor((c) => c.method === 'chat.postMessage' && c.args['channel'] === 'COPS', 15_000);
    expect(calls).toHaveLength(2);
    expect(
      h.recorder.find((c) => c.method === 'chat.postMessage' && c.args['channel'] === 'COPS'),
    ).toHaveLength(1);
    expect(h.recorder.find((c) => c.method === 'response_url')).toHaveLength(0);
  }, 20_000);

  it('does not retry what cannot succeed: one attempt, an ephemeral error to the user', async () => {
    behaviour = ['fatal'];
    const { path } = await fabric('status pubchain');
    const err = await h.recorder.waitFor((c) => c.method === 'response_url' && c.path === path);
    expect(err.args['response_type']).toBe('ephemeral');
    expect(String(err.args['text'])).toMatch(/status of channel pubchain on lab failed: unknown channel/);
    expect(calls).toHaveLength(1);
    const [failed] = await failedJobs();
    expect(failed?.attemptsMade).toBe(1);
  });

  it('times a job out (AbortSignal) and tells the user, without retrying', async () => {
    behaviour = ['hang'];
    const { path } = await fabric('status pubchain');
    const err = await h.recorder.waitFor((c) => c.method === 'response_url' && c.path === path, 10_000);
    expect(String(err.args['text'])).toMatch(/failed: timed out after 2 s/);
    expect(calls).toHaveLength(1);
    const failed = await failedJobs();
    expect(failed[0]?.failedReason).toMatch(/timed out/);
    expect(failed[0]?.attemptsMade).toBe(1);
  });

  it('answers through the response_url when the bot is not in the channel', async () => {
    h.recorder.failNext('chat.postMessage', 'not_in_channel');
    const { path } = await fabric('diagnose', USERS.viewer, 'CPRIVATE');
    const r = await h.recorder.waitFor((c) => c.method === 'response_url' && c.path === path);
    expect(r.args['response_type']).toBe('in_channel');
    expect(textOf(r)).toContain('ORDERER_OFFSET_AHEAD');
  });
});

describe('repair plans', () => {
  it('posts a pad-channel plan with Approve/Deny buttons carrying a request id', async () => {
    await fabric('repair pad-channel pubchain', USERS.operator);
    const post = await h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'COPS',
    );
    const blocks = post.args['blocks'] as KnownBlock[];
    const actions = blocks.find((b) => b.type === 'actions');
    expect(actions?.type).toBe('actions');
    const ids =
      actions?.type === 'actions' ? actions.elements.map((e) => ('action_id' in e ? e.action_id : '')) : [];
    expect(ids).toEqual([ACTIONS.repairApprove, ACTIONS.repairDeny]);
    const values =
      actions?.type === 'actions' ? actions.elements.map((e) => ('value' in e ? e.value : '')) : [];
    expect(values[0]).toMatch(/^rq-[0-9a-f]{24}$/);
    expect(values[0]).toBe(values[1]);
    expect(textOf(post)).toContain('produce 8 CONNECT messages to pubchain/0');
  });

  it('says plainly when a plan kind is not available', async () => {
    const { path } = await fabric('repair drain-broker 3', USERS.operator);
    const r = await h.recorder.waitFor((c) => c.method === 'response_url' && c.path === path);
    expect(String(r.args['text'])).toMatch(
      /plan kind "drain-broker" is not available in this build \(available: pad-channel\)/,
    );
  });
});

describe('audit', () => {
  it('posts the newest audit entries from the real audit log', async () => {
    const { auditLogFor } = await import('../../src/audit/index.js');
    const log = auditLogFor(h.redis.client(), h.inventory);
    await log.append({
      who: USERS.approver,
      what: 'approve',
      cluster: 'lab',
      where: 'slack:COPS',
      jobId: 'rq-1',
    });
    await fabric('audit 5');
    const post = await h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'COPS',
    );
    const text = textOf(post);
    expect(text).toContain('Audit log');
    expect(text).toContain(USERS.approver);
    expect(text).toContain('approve');
  });
});
