/**
 * Issue #9, security: roles on every action and button. Every slash subcommand and every interaction the bot
 * listens to (src/slack/listeners: `/fabric`, the buttons repair_request / repair_approve / repair_deny, and the
 * catch-all for any other command, action id, shortcut, view or options request) is sent correctly signed by
 * each kind of user: nobody (no role, and an unknown user under `defaultRole: viewer`), a viewer, an operator,
 * an approver. Whatever the role does not allow changes nothing: no job in any queue, no change to the approval
 * state in Redis; the user gets an ephemeral refusal, and the refusal is in the audit log.
 *
 * Then the approval rules through the buttons, on requests in the real store: approving one's own request,
 * approving twice, an expired or already denied request, a button value naming another request, an unknown
 * one, or a request of a cluster whose commands are taken only in another channel.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseInventory, type Inventory } from '../../src/config/index.js';
import type { RepairPlan } from '../../src/model/index.js';
import { repairApprovals } from '../../src/ops/repair-run.js';
import { QUEUES, type QueueName } from '../../src/queue/index.js';
import { ACTIONS } from '../../src/slack/blocks.js';
import { postButtonPress, postSlashCommand, signedHeaders } from '../helpers/slack.js';
import { USERS } from '../slack/fixtures.js';
import { SIGNING_SECRET, startHarness, type Harness } from '../slack/harness.js';

const CHANNEL = 'COPS';
const PROD_CHANNEL = 'CPROD';

function inventory(redisUrl: string, defaultRole: 'none' | 'viewer'): Inventory {
  return parseInventory(
    `
defaultCluster: lab
clusters:
  lab:
    kafka: { brokers: ["127.0.0.1:19092"], brokerIds: [1, 2, 3] }
    zookeeper: { connect: "127.0.0.1:12181" }
    orderers: [{ name: orderer1.example.com, channels: [testchainid, pubchain] }]
    checks: { everySeconds: 0 }
  prod:
    kafka: { brokers: ["10.0.0.1:9092"] }
    zookeeper: { connect: "10.0.0.1:2181" }
    channels: [mychannel]
    checks: { everySeconds: 0 }
    slack: { commandChannels: [${PROD_CHANNEL}] }
redis: { url: "${redisUrl}", prefix: t }
slack:
  mode: http
  defaultRole: ${defaultRole}
  users:
    ${USERS.viewer}: viewer
    ${USERS.operator}: operator
    ${USERS.approver}: approver
    ${USERS.approver2}: approver
`,
    'roles-inventory.yaml',
  );
}

let h: Harness; // defaultRole: none
let open: Harness; // defaultRole: viewer

beforeAll(async () => {
  h = await startHarness({ repairs: {}, inventory: (url) => inventory(url, 'none') });
  open = await startHarness({ repairs: {}, inventory: (url) => inventory(url, 'viewer') });
});
afterAll(async () => {
  await h?.close();
  await open?.close();
});
beforeEach(async () => {
  for (const x of [h, open]) {
    await x.redis.flush();
    x.recorder.clear();
  }
});

// ------------------------------------------------------------------ what changed

/** Jobs in every queue, and every approval key with its content. */
async function state(x: Harness) {
  let jobs = 0;
  for (const q of Object.values(QUEUES) as QueueName[]) jobs += await x.jobCount(q);
  const r = x.redis.client();
  const approvals: Record<string, unknown> = {};
  for (const key of (await r.keys('t:approval*')).sort()) {
    const type = await r.type(key);
    approvals[key] =
      type === 'hash' ? await r.hgetall(key) : type === 'zset' ? await r.zrange(key, '0', '-1') : type;
  }
  return { jobs, approvals };
}

/**
 * The newest audit entries, once the newest is by `who` (presses are audited right after their answer is sent,
 * so the test may see the answer first).
 */
async function lastAudit(x: Harness, n = 1, who?: string) {
  const read = async () => (await x.audit!.tail(n)).map((r) => r.entry!).reverse();
  if (who !== undefined) await expect.poll(async () => (await read())[0]?.who, { timeout: 3000 }).toBe(who);
  return read();
}

// ------------------------------------------------------------------ sending

interface Answer {
  status: number;
  /** The ephemeral/in-channel answer: ack body for commands, the response_url POST for presses. */
  reply: { response_type?: string; text?: string } | null;
}

async function command(x: Harness, user: string, text: string, channel = CHANNEL): Promise<Answer> {
  const res = await postSlashCommand(x.eventsUrl, SIGNING_SECRET, {
    text,
    user_id: user,
    channel_id: channel,
  });
  return { status: res.status, reply: (res.body || null) as Answer['reply'] };
}

async function press(
  x: Harness,
  user: string,
  actionId: string,
  value: string,
  channel = CHANNEL,
): Promise<Answer> {
  const url = x.recorder.responseUrl();
  const res = await postButtonPress(x.eventsUrl, SIGNING_SECRET, {
    user_id: user,
    action_id: actionId,
    value,
    channel_id: channel,
    response_url: url,
  });
  const call = await x.recorder
    .waitFor((c) => c.method === 'response_url' && url.endsWith(c.path), 2000)
    .catch(() => null);
  return { status: res.status, reply: (call?.args ?? null) as Answer['reply'] };
}

/** Any interaction payload (shortcut, view...), signed. */
async function interaction(x: Harness, payload: Record<string, unknown>): Promise<Answer> {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const res = await fetch(x.eventsUrl, {
    method: 'POST',
    headers: signedHeaders(SIGNING_SECRET, body),
    body,
  });
  const text = await res.text();
  return { status: res.status, reply: text ? (JSON.parse(text) as Answer['reply']) : null };
}

// ------------------------------------------------------------------ plans and requests

function plan(kind: string, cluster: string): RepairPlan {
  return {
    kind,
    cluster,
    args:
      kind === 'drain-broker' ? { broker: 2 } : { channel: cluster === 'prod' ? 'mychannel' : 'pubchain' },
    preconditions: [{ check: 'safe', ok: true, detail: 'yes' }],
    steps: [{ action: 'wait', for: 'nothing', timeoutMs: 10 }],
    expected: {},
    refusal: null,
  };
}

async function requestBy(x: Harness, requester: string, kind = 'pad-channel', cluster = 'lab') {
  const r = await x.store!.requestRepair({
    plan: plan(kind, cluster),
    requester,
    cluster,
    where: `slack:${cluster === 'prod' ? PROD_CHANNEL : CHANNEL}`,
  });
  if (!r.ok) throw new Error(r.message);
  return r.id;
}

// ------------------------------------------------------------------ the table

type Role = 'none' | 'viewer' | 'operator' | 'approver';
const WHO: Record<Exclude<Role, 'none'>, string> = {
  viewer: USERS.viewer,
  operator: USERS.operator,
  approver: USERS.approver,
};
const RANK: Record<Role, number> = { none: 0, viewer: 1, operator: 2, approver: 3 };

const SUBCOMMANDS: { text: string; needs: Role }[] = [
  { text: 'status pubchain', needs: 'viewer' },
  { text: 'diagnose', needs: 'viewer' },
  { text: 'diagnose --cluster lab', needs: 'viewer' },
  { text: 'brokers', needs: 'viewer' },
  { text: 'whatif stop-broker 2', needs: 'viewer' },
  { text: 'audit 5', needs: 'viewer' },
  { text: 'repair pad-channel pubchain', needs: 'operator' },
  { text: 'repair drain-broker 2', needs: 'operator' },
  { text: 'repair set-topic-config pubchain min.insync.replicas 2', needs: 'operator' },
];

const REPAIR_VALUE = JSON.stringify({ cluster: 'lab', kind: 'pad-channel', args: { channel: 'pubchain' } });

/** Users of each role on each bot: the unknown user is "none" on h and "viewer" on open. */
const USERS_BY_ROLE: { label: string; bot: () => Harness; user: string; role: Role }[] = [
  { label: 'unknown user, no defaultRole', bot: () => h, user: USERS.stranger, role: 'none' },
  { label: 'unknown user, defaultRole viewer', bot: () => open, user: USERS.stranger, role: 'viewer' },
  ...(['viewer', 'operator', 'approver'] as const).map((role) => ({
    label: role,
    bot: () => h,
    user: WHO[role],
    role,
  })),
];

describe.each(USERS_BY_ROLE)('$label', ({ bot, user, role }) => {
  it.each(SUBCOMMANDS)('/fabric $text (needs $needs)', async ({ text, needs }) => {
    const x = bot();
    const before = await state(x);
    const a = await command(x, user, text);
    expect(a.status).toBe(200);
    expect(a.reply?.response_type).toBe('ephemeral');
    const after = await state(x);
    const [entry] = await lastAudit(x, 1, user);
    expect(entry).toMatchObject({ who: user, what: 'command', details: { text: `/fabric ${text}` } });
    if (RANK[role] >= RANK[needs]) {
      expect(a.reply?.text).toMatch(/^:hourglass_flowing_sand: Queued/);
      expect(after.jobs).toBe(before.jobs + 1);
      expect(entry?.outcome).toBe('queued');
    } else {
      expect(a.reply?.text).toMatch(new RegExp(`needs the ${needs} role`));
      expect(after).toEqual(before);
      expect(entry?.outcome).toBe(`refused:role:${role}`);
    }
  });

  it('/fabric help answers anyone, queues nothing, and tells nobody the cluster names', async () => {
    const x = bot();
    const before = await state(x);
    const a = await command(x, user, 'help');
    expect(a.reply?.text).toContain(`Your role: *${role}*`);
    if (role === 'none') expect(a.reply?.text).not.toMatch(/lab|prod/);
    expect(await state(x)).toEqual(before);
  });

  it('repair_request button (needs operator)', async () => {
    const x = bot();
    const before = await state(x);
    const a = await press(x, user, ACTIONS.repairRequest, REPAIR_VALUE);
    expect(a.status).toBe(200);
    expect(a.reply?.response_type).toBe('ephemeral');
    const [entry] = await lastAudit(x, 1, user);
    expect(entry).toMatchObject({ who: user, what: 'button', details: { action: ACTIONS.repairRequest } });
    if (RANK[role] >= RANK.operator) {
      expect(a.reply?.text).toMatch(/Queued a pad-channel repair plan/);
      expect((await state(x)).jobs).toBe(before.jobs + 1);
    } else {
      expect(a.reply?.text).toMatch(/needs the operator role/);
      expect(await state(x)).toEqual(before);
      expect(entry?.outcome).toBe(`refused:role:${role}`);
    }
  });

  it.each([ACTIONS.repairApprove, ACTIONS.repairDeny])(
    '%s button on a pending request of someone else (needs approver)',
    async (actionId) => {
      const x = bot();
      const id = await requestBy(x, USERS.approver2);
      const before = await state(x);
      const a = await press(x, user, actionId, id);
      expect(a.status).toBe(200);
      const [entry] = await lastAudit(x, 1, user);
      expect(entry).toMatchObject({ who: user, what: 'button', details: { action: actionId, value: id } });
      if (role === 'approver') {
        expect(entry?.outcome).toBe(actionId === ACTIONS.repairApprove ? 'approved' : 'denied');
        expect((await x.store!.get(id))?.status).toBe(
          actionId === ACTIONS.repairApprove ? 'approved' : 'denied',
        );
      } else {
        expect(a.reply?.response_type).toBe('ephemeral');
        expect(a.reply?.text).toMatch(/needs the approver role/);
        expect(await state(x)).toEqual(before);
        expect(entry?.outcome).toBe(`refused:role:${role}`);
      }
    },
  );

  it('interactions the bot never offered: acknowledged, nothing done, audited as refused', async () => {
    const x = bot();
    const base = {
      team: { id: 'T0TEST', domain: 'test' },
      user: { id: user, username: 'x', team_id: 'T0TEST' },
      api_app_id: 'A0TEST',
      token: 'deprecated',
      trigger_id: '1.2.3',
    };
    const before = await state(x);
    const payloads: [string, Record<string, unknown>][] = [
      [
        'button',
        {
          ...base,
          type: 'block_actions',
          channel: { id: CHANNEL, name: 'ops' },
          container: { type: 'message', message_ts: '1.0', channel_id: CHANNEL },
          response_url: x.recorder.responseUrl(),
          actions: [
            {
              type: 'button',
              action_id: 'repair_run',
              block_id: 'b',
              value: 'rq-1',
              action_ts: '1.0',
              text: { type: 'plain_text', text: 'Run' },
            },
          ],
        },
      ],
      ['shortcut', { ...base, type: 'shortcut', callback_id: 'drain_everything', action_ts: '1.0' }],
      [
        'view',
        {
          ...base,
          type: 'view_submission',
          view: { id: 'V1', callback_id: 'approve_modal', type: 'modal', state: { values: {} }, hash: 'h' },
        },
      ],
    ];
    for (const [what, payload] of payloads) {
      const t0 = Date.now();
      const a = await interaction(x, payload);
      expect(a.status, what).toBe(200);
      expect(Date.now() - t0).toBeLessThan(2000); // acknowledged, not left to Bolt's 3 s timeout
      const [entry] = await lastAudit(x, 1, user);
      expect(entry).toMatchObject({ who: user, what, outcome: 'refused:unknown' });
    }
    const other = await postSlashCommand(x.eventsUrl, SIGNING_SECRET, {
      text: 'repair drain-broker 1',
      user_id: user,
      command: '/fabric-admin',
    });
    expect((other.body as { text?: string }).text).toMatch(/only `\/fabric`/);
    expect((await lastAudit(x, 1, user))[0]).toMatchObject({
      who: user,
      what: 'command',
      outcome: 'refused:unknown',
    });
    expect(await state(x)).toEqual(before);
    expect(x.recorder.find((c) => c.method !== 'response_url')).toEqual([]);
  });
});

// ------------------------------------------------------------------ approval rules through the buttons

describe('approver presses that the approval rules refuse change nothing', () => {
  async function refusedPress(actionId: string, id: string, user: string, channel = CHANNEL) {
    const before = await state(h);
    const a = await press(h, user, actionId, id, channel);
    expect(a.reply?.response_type).toBe('ephemeral');
    expect(await state(h)).toEqual(before);
    return { text: a.reply?.text ?? '', entries: await lastAudit(h, 2, user) };
  }

  it('approving one own request', async () => {
    const id = await requestBy(h, USERS.approver);
    const r = await refusedPress(ACTIONS.repairApprove, id, USERS.approver);
    expect(r.text).toMatch(/requested this repair and cannot approve it/);
    expect(r.entries.map((e) => `${e.what}:${e.outcome}`)).toEqual([
      'button:refused',
      'refuse:refused:self-approval',
    ]);
  });

  it('approving twice: a second press of the same approver, on a one- and a two-approver kind', async () => {
    const one = await requestBy(h, USERS.operator);
    expect((await press(h, USERS.approver, ACTIONS.repairApprove, one)).reply?.text).toMatch(/Approved by/);
    const queued = (await state(h)).jobs;
    const again = await refusedPress(ACTIONS.repairApprove, one, USERS.approver);
    expect(again.text).toMatch(/is already approved/);
    expect((await state(h)).jobs).toBe(queued); // the execution was queued once

    const two = await requestBy(h, USERS.operator, 'drain-broker');
    expect((await press(h, USERS.approver, ACTIONS.repairApprove, two)).reply?.text).toMatch(/1 of 2/);
    const twice = await refusedPress(ACTIONS.repairApprove, two, USERS.approver);
    expect(twice.text).toMatch(/already approved this repair; it needs 2 different approvers/);
    expect((await h.store!.get(two))?.status).toBe('pending');
  });

  it('approving or denying an expired request', async () => {
    // A store on the same Redis whose requests live 30 ms.
    const quick = repairApprovals(h.inventory, h.producerConnection, h.audit!, undefined, {
      ttlMinutes: 0.0005,
    });
    const r = await quick.requestRepair({
      plan: plan('pad-channel', 'lab'),
      requester: USERS.operator,
      cluster: 'lab',
      where: 'slack:COPS',
    });
    if (!r.ok) throw new Error(r.message);
    await new Promise((res) => setTimeout(res, 100));
    // The first press notices the expiry (the request becomes "expired": that is the store's own transition).
    await press(h, USERS.approver, ACTIONS.repairApprove, r.id);
    expect((await h.store!.get(r.id))?.status).toBe('expired');
    for (const action of [ACTIONS.repairApprove, ACTIONS.repairDeny]) {
      const x = await refusedPress(action, r.id, USERS.approver2);
      expect(x.text).toMatch(/expired at/);
    }
  });

  it('approving a denied request', async () => {
    const id = await requestBy(h, USERS.operator);
    expect((await press(h, USERS.approver2, ACTIONS.repairDeny, id)).reply?.text).toMatch(/Denied by/);
    const r = await refusedPress(ACTIONS.repairApprove, id, USERS.approver);
    expect(r.text).toMatch(/is already denied/);
    expect((await h.store!.get(id))?.status).toBe('denied');
  });

  it('a button value naming an unknown request, or not a request id at all', async () => {
    const unknown = await refusedPress(ACTIONS.repairApprove, 'rq-zzzz-0123456789', USERS.approver);
    expect(unknown.text).toMatch(/no repair request rq-zzzz-0123456789/);
    for (const value of ['', '../../etc', 'rq-1 OR 1=1', JSON.stringify({ id: 'rq-x' })]) {
      const r = await refusedPress(ACTIONS.repairApprove, value, USERS.approver);
      expect(r.text).toMatch(/carries no request id|no repair request/);
    }
  });

  it("a button value naming another cluster's request, pressed outside that cluster's channel", async () => {
    const id = await requestBy(h, USERS.operator, 'pad-channel', 'prod');
    for (const action of [ACTIONS.repairApprove, ACTIONS.repairDeny]) {
      const r = await refusedPress(action, id, USERS.approver, CHANNEL);
      expect(r.text).toMatch(
        new RegExp(`for cluster prod, whose repairs are decided only in <#${PROD_CHANNEL}>`),
      );
      expect(r.entries[0]).toMatchObject({ what: 'button', outcome: 'refused:channel', cluster: 'prod' });
    }
    expect((await h.store!.get(id))?.status).toBe('pending');
    // In its own channel the same press is an approval.
    expect((await press(h, USERS.approver, ACTIONS.repairApprove, id, PROD_CHANNEL)).reply?.text).toMatch(
      /Approved by/,
    );
  });

  it('a repair_request button naming a cluster the channel may not command, or junk', async () => {
    const before = await state(h);
    const prod = JSON.stringify({ cluster: 'prod', kind: 'pad-channel', args: { channel: 'mychannel' } });
    expect((await press(h, USERS.operator, ACTIONS.repairRequest, prod)).reply?.text).toMatch(
      /repairs for prod are taken only in <#CPROD>/,
    );
    for (const junk of ['', '{}', 'null', JSON.stringify({ cluster: 'nosuch', kind: 'x', args: {} })]) {
      expect((await press(h, USERS.operator, ACTIONS.repairRequest, junk)).reply?.response_type).toBe(
        'ephemeral',
      );
    }
    // Values shaped unlike anything the bot posts: refused as not a repair, before any lookup.
    for (const odd of [
      { cluster: 'lab', kind: 'pad-channel', args: ['pubchain'] },
      { cluster: 'lab\n<!here>', kind: 'pad-channel', args: { channel: 'pubchain' } },
      { cluster: 'lab', kind: 'Pad Channel', args: { channel: 'pubchain' } },
      { cluster: 'lab', kind: 'pad-channel', args: { '<!channel>': 'pubchain' } },
      { cluster: 'lab', kind: 'pad-channel', args: { channel: 'x'.repeat(300) } },
      { cluster: 'lab', kind: 'drain-broker', args: { broker: 1e300 } },
    ]) {
      expect(
        (await press(h, USERS.operator, ACTIONS.repairRequest, JSON.stringify(odd))).reply?.text,
      ).toMatch(/this button carries no valid repair/);
    }
    expect(await state(h)).toEqual(before);
  });
});
