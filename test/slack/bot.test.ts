/**
 * The Bolt app over HTTP with signed requests, a real Redis and the local Web API recorder. No cluster: nothing
 * here runs a job (no workers), it checks what the bot answers and what it queues.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { QUEUES } from '../../src/queue/index.js';
import type { Approvals } from '../../src/slack/approvals.js';
import { ACTIONS } from '../../src/slack/blocks.js';
import { postButtonPress, postSlashCommand, slackSignature, slashCommandBody } from '../helpers/slack.js';
import { USERS } from './fixtures.js';
import { SIGNING_SECRET, startHarness, type Harness } from './harness.js';

interface AckBody {
  response_type?: string;
  text?: string;
}

const approvals = {
  approve: vi.fn<Approvals['approve']>(async () => ({ ok: true, message: 'approved: the repair is queued' })),
  deny: vi.fn<Approvals['deny']>(async () => ({ ok: true, message: 'denied' })),
};

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ approvals });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  await h.queue(QUEUES.commands).obliterate({ force: true });
  h.recorder.clear();
  approvals.approve.mockClear();
  approvals.deny.mockClear();
});

async function command(text: string, user: string = USERS.viewer, extra: Record<string, string> = {}) {
  const res = await postSlashCommand(h.eventsUrl, SIGNING_SECRET, { text, user_id: user, ...extra });
  return { ...res, ack: res.body as AckBody };
}

describe('request verification', () => {
  it('refuses a forged signature with 401 and queues nothing', async () => {
    const res = await postSlashCommand(
      h.eventsUrl,
      SIGNING_SECRET,
      { text: 'status pubchain', user_id: USERS.approver },
      { signature: slackSignature('not-the-secret', Math.floor(Date.now() / 1000), 'x') },
    );
    expect(res.status).toBe(401);
    expect(await h.jobCount()).toBe(0);
  });

  it('refuses a correctly signed request that is 10 minutes old (replay) with 401', async () => {
    const res = await postSlashCommand(
      h.eventsUrl,
      SIGNING_SECRET,
      { text: 'status pubchain', user_id: USERS.approver },
      { timestamp: Math.floor(Date.now() / 1000) - 600 },
    );
    expect(res.status).toBe(401);
    expect(await h.jobCount()).toBe(0);
  });

  it('refuses a body changed after signing', async () => {
    const body = slashCommandBody({ text: 'status pubchain', user_id: USERS.viewer });
    const ts = Math.floor(Date.now() / 1000);
    const res = await postSlashCommand(
      h.eventsUrl,
      SIGNING_SECRET,
      { text: '', user_id: USERS.viewer },
      {
        body: body.replace('UVIEWER1', 'UAPPROVER1'),
        signature: slackSignature(SIGNING_SECRET, ts, body),
        timestamp: ts,
      },
    );
    expect(res.status).toBe(401);
    expect(await h.jobCount()).toBe(0);
  });
});

describe('/fabric: helpful errors, nothing queued', () => {
  it.each([
    ['stauts pubchain', /unknown subcommand `stauts` \(did you mean `status`\?\)/],
    ['status', /which channel\? usage: `\/fabric status &lt;channel&gt;`/],
    ['status nochain', /unknown channel `nochain` for cluster lab \(known: pubchain, testchainid\)/],
    [
      'status pubchain --cluster nosuch',
      /unknown cluster "nosuch" \(have: lab, prod\)\. Use `--cluster NAME`/,
    ],
    ['status pubchain --cluster prod', /unknown channel `pubchain` for cluster prod \(known: mychannel\)/],
    ['whatif stop-broker three', /broker id must be a whole number/],
    ['diagnose --verbose', /unknown option `--verbose`/],
    ['audit 5000', /audit takes a count from 1 to 50/],
  ])('%s', async (text, pattern) => {
    const res = await command(text);
    expect(res.status).toBe(200);
    expect(res.ack.response_type).toBe('ephemeral');
    expect(res.ack.text).toMatch(pattern);
    expect(await h.jobCount()).toBe(0);
  });

  it('tells a user without a role what to do, and queues nothing', async () => {
    const res = await command('status pubchain', USERS.stranger);
    expect(res.ack.text).toMatch(/needs the viewer role; you have no role/);
    expect(await h.jobCount()).toBe(0);
  });

  it('does not let a viewer request a repair', async () => {
    const res = await command('repair pad-channel pubchain', USERS.viewer);
    expect(res.ack.response_type).toBe('ephemeral');
    expect(res.ack.text).toMatch(/`\/fabric repair` needs the operator role; you are a viewer/);
    expect(await h.jobCount()).toBe(0);
  });

  it('lists in help only what the role allows', async () => {
    const viewer = await command('help', USERS.viewer);
    expect(viewer.ack.text).toContain('/fabric status &lt;channel&gt;');
    expect(viewer.ack.text).not.toMatch(/<(?![#@!]|https?:)/); // no raw < that Slack would read as a link
    expect(viewer.ack.text).not.toContain('/fabric repair');
    const op = await command('', USERS.operator);
    expect(op.ack.text).toContain('/fabric repair');
    const none = await command('help', USERS.stranger);
    expect(none.ack.text).toMatch(/no role/);
    expect(await h.jobCount()).toBe(0);
  });
});

describe('/fabric: queueing', () => {
  it('acknowledges at once with what was queued, and queues exactly that', async () => {
    const res = await command('status pubchain', USERS.viewer, { channel_id: 'CPUB' });
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(1000);
    expect(res.ack.response_type).toBe('ephemeral');
    expect(res.ack.text).toMatch(/Queued status of channel pubchain on lab \(job `cmd-[0-9a-f]{40}`\)/);
    const jobs = await h.queue(QUEUES.commands).getJobs(['waiting']);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.name).toBe('status');
    expect(jobs[0]!.data).toMatchObject({
      kind: 'status',
      channel: 'pubchain',
      cluster: 'lab',
      requester: { userId: USERS.viewer, channelId: 'CPUB', role: 'viewer' },
    });
    expect(jobs[0]!.opts.attempts).toBe(3);
  });

  it('queues a request Slack sends again (x-slack-retry-num) only once', async () => {
    const body = slashCommandBody({
      text: 'diagnose --cluster lab',
      user_id: USERS.viewer,
      trigger_id: '123.456.abc',
    });
    const first = await postSlashCommand(h.eventsUrl, SIGNING_SECRET, { text: '', user_id: '' }, { body });
    // Slack re-signs a retry: new timestamp and signature, same body.
    const retry = await postSlashCommand(
      h.eventsUrl,
      SIGNING_SECRET,
      { text: '', user_id: '' },
      { body, timestamp: Math.floor(Date.now() / 1000) + 1, retryNum: 1, retryReason: 'http_timeout' },
    );
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    expect((first.body as AckBody).text).toMatch(/^:hourglass_flowing_sand: Queued full diagnosis of lab/);
    expect((retry.body as AckBody).text).toMatch(/Already queued/);
    expect(await h.jobCount()).toBe(1);
  });

  it('queues the same command typed twice (two trigger_ids) twice', async () => {
    await command('brokers');
    await command('brokers');
    expect(await h.jobCount()).toBe(2);
  });

  it('lets an operator request a repair plan', async () => {
    const res = await command('repair pad-channel pubchain', USERS.operator);
    expect(res.ack.text).toMatch(/Queued a pad-channel repair plan \(channel=pubchain\) for lab/);
    const [job] = await h.queue(QUEUES.commands).getJobs(['waiting']);
    expect(job?.data).toMatchObject({
      kind: 'repair-plan',
      repair: { kind: 'pad-channel', args: { channel: 'pubchain' } },
    });
  });

  it('with Redis down, says so at once and queues nothing; heals when Redis is back', async () => {
    await h.redis.pause();
    try {
      const res = await command('status pubchain');
      expect(res.status).toBe(200);
      expect(res.ms).toBeLessThan(1500);
      expect(res.ack.text).toMatch(
        /Nothing was queued: the job queue is unavailable \(cannot reach Redis at 127\.0\.0\.1:\d+/,
      );
    } finally {
      await h.redis.start();
    }
    // The producer reconnects by itself.
    const deadline = Date.now() + 10_000;
    while (h.producerConnection.status !== 'ready' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const again = await command('status pubchain');
    expect(again.ack.text).toMatch(/Queued status/);
  });
});

describe('buttons', () => {
  const repairValue = JSON.stringify({ cluster: 'lab', kind: 'pad-channel', args: { channel: 'pubchain' } });

  async function press(
    user: string,
    actionId: string,
    value: string,
    message?: { ts: string; text: string; blocks: unknown[] },
  ) {
    const url = h.recorder.responseUrl();
    const res = await postButtonPress(h.eventsUrl, SIGNING_SECRET, {
      user_id: user,
      action_id: actionId,
      value,
      response_url: url,
      ...(message ? { message } : {}),
    });
    expect(res.status).toBe(200);
    const reply = await h.recorder.waitFor((c) => c.method === 'response_url' && url.endsWith(c.path));
    return reply.args as {
      response_type?: string;
      text?: string;
      replace_original?: boolean;
      blocks?: unknown[];
    };
  }

  it("refuses a viewer's repair_request with an ephemeral note and queues nothing", async () => {
    const reply = await press(USERS.viewer, ACTIONS.repairRequest, repairValue);
    expect(reply.response_type).toBe('ephemeral');
    expect(reply.text).toMatch(/needs the operator role; you are a viewer/);
    expect(await h.jobCount()).toBe(0);
    expect(h.recorder.find((c) => c.method === 'chat.postMessage')).toHaveLength(0);
  });

  it("refuses a viewer's and an operator's Approve/Deny without calling approvals", async () => {
    for (const user of [USERS.viewer, USERS.operator]) {
      for (const action of [ACTIONS.repairApprove, ACTIONS.repairDeny]) {
        const reply = await press(user, action, 'rq-123');
        expect(reply.response_type).toBe('ephemeral');
        expect(reply.text).toMatch(/needs the approver role/);
      }
    }
    expect(approvals.approve).not.toHaveBeenCalled();
    expect(approvals.deny).not.toHaveBeenCalled();
  });

  it('queues a repair plan for an operator', async () => {
    const reply = await press(USERS.operator, ACTIONS.repairRequest, repairValue);
    expect(reply.text).toMatch(/Queued a pad-channel repair plan/);
    const [job] = await h.queue(QUEUES.commands).getJobs(['waiting']);
    expect(job?.id).toMatch(/^act-[0-9a-f]{40}$/);
    expect(job?.data).toMatchObject({
      kind: 'repair-plan',
      requester: { userId: USERS.operator, channelId: 'COPS' },
    });
  });

  it('passes an approver to approvals.approve and replaces the buttons with the decision', async () => {
    const plan = {
      ts: '1.5',
      text: 'Repair plan',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: 'plan' } },
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              action_id: 'repair_approve',
              text: { type: 'plain_text', text: 'Approve' },
              value: 'rq-9',
            },
          ],
        },
      ],
    };
    const reply = await press(USERS.approver, ACTIONS.repairApprove, 'rq-9', plan);
    expect(approvals.approve).toHaveBeenCalledWith('rq-9', USERS.approver, 'slack:COPS');
    expect(reply.replace_original).toBe(true);
    expect(JSON.stringify(reply.blocks)).not.toContain('"actions"');
    expect(JSON.stringify(reply.blocks)).toContain(`Approved by <@${USERS.approver}>`);
    const denied = await press(USERS.approver2, ACTIONS.repairDeny, 'rq-9');
    expect(approvals.deny).toHaveBeenCalledWith(
      'rq-9',
      USERS.approver2,
      expect.stringContaining('denied in Slack'),
      'slack:COPS',
    );
    expect(denied.text).toMatch(/Denied by/);
  });

  it('shows the approval flow refusing (e.g. self-approval) as an ephemeral note', async () => {
    approvals.approve.mockResolvedValueOnce({ ok: false, message: 'you cannot approve your own request' });
    const reply = await press(USERS.approver, ACTIONS.repairApprove, 'rq-10');
    expect(reply.response_type).toBe('ephemeral');
    expect(reply.text).toMatch(/you cannot approve your own request/);
  });
});
