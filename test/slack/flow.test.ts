/**
 * The approval-gated repair flow through signed Slack requests, without a cluster: `/fabric repair` (Bolt over
 * HTTP) -> repair-plan job (real BullMQ, real Redis) -> plan posted with Approve/Deny carrying a real request id
 * (src/approvals) -> button presses -> the approval queues `repair-<id>` -> a real worker runs it with a
 * RepairExecutor (injected plans and step handlers: the lab version is test/repairs/flow.lab.test.ts) -> the
 * result in the plan's thread. The bot and the workers have their own store, connection and audit log, as in
 * production; the audit chain must stay intact.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RepairPlan } from '../../src/model/index.js';
import { QUEUES, repairJobId } from '../../src/queue/index.js';
import { idempotent, type StepHandlers } from '../../src/repairs/steps.js';
import { ACTIONS, type KnownBlock } from '../../src/slack/blocks.js';
import type { Operations } from '../../workers/ops.js';
import { postButtonPress, postSlashCommand, type RecordedCall } from '../helpers/slack.js';
import { USERS } from './fixtures.js';
import { SIGNING_SECRET, startHarness, type Harness } from './harness.js';

// ------------------------------------------------------------------ a fake cluster

/** Handler calls, in order: "produce", "restart-container", "wait". */
let calls: string[] = [];
/** The next plan differs from the approved one ("the cluster changed"). */
let drift = false;
/** Make a step fail. */
let failAction: string | null = null;
/** When set, the first `wait` call resolves `entered` and then blocks until the worker aborts it. */
let holdWait: { entered: () => void } | null = null;

function planFor(kind: string, cluster: string, args: Record<string, string | number>): RepairPlan {
  if (kind === 'drain-broker') {
    return {
      kind,
      cluster,
      args,
      preconditions: [{ check: 'stopping is safe', ok: true, detail: 'no partition goes offline' }],
      steps: [{ action: 'wait', for: 'replicas to move', timeoutMs: 1000 }],
      expected: { replicasOnBroker: 0 },
      refusal: null,
    };
  }
  const count = drift ? 9 : 8;
  return {
    kind,
    cluster,
    args,
    preconditions: [
      { check: 'orderers agree', ok: true, detail: '1 orderer expects offset 28' },
      {
        check: 'gap > 0',
        ok: true,
        detail: `high watermark ${28 - count}, orderers expect 28: ${count} missing`,
      },
    ],
    steps: [
      { action: 'produce', topic: 'pubchain', partition: 0, count, value: '1a00', key: '0' },
      { action: 'restart-container', container: 'orderer1.example.com' },
      { action: 'wait', for: 'orderer1 healthy', timeoutMs: 1000 },
    ],
    expected: { highWatermark: 28 },
    refusal: null,
  };
}

const ops: Partial<Operations> = {
  async planRepair({ kind, cluster, args }) {
    return planFor(kind, cluster.name, args);
  },
  async verifyRepair() {
    return { ok: true, detail: 'pubchain/0 high watermark 28, the orderers expect 28' };
  },
};

const handlers: StepHandlers = {
  produce: idempotent<'produce'>(async (step) => {
    calls.push('produce');
    if (failAction === 'produce') return { ok: false, detail: 'NOT_ENOUGH_REPLICAS' };
    return { ok: true, detail: `produced ${step.count} CONNECT messages` };
  }),
  'restart-container': async (step) => {
    calls.push('restart-container');
    return { ok: true, detail: `restarted ${step.container}` };
  },
  wait: idempotent<'wait'>(async (_step, ctx) => {
    calls.push('wait');
    const hold = holdWait;
    if (hold) {
      holdWait = null;
      hold.entered();
      await new Promise<never>((_, reject) => {
        ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
    }
    return { ok: true, detail: 'healthy' };
  }),
};

// ------------------------------------------------------------------ helpers

let h: Harness;

const workerOptions = {
  ops,
  stepHandlers: () => handlers,
  repairLockTtlMs: 1000,
  repairGraceMs: 0,
  repairSweepMs: 200,
};

async function requestPlan(
  user: string,
  text = 'repair pad-channel pubchain',
  channel = 'COPS',
): Promise<{ id: string; ts: string; blocks: KnownBlock[]; post: RecordedCall }> {
  const res = await postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
    text,
    user_id: user,
    channel_id: channel,
    response_url: h.recorder.responseUrl(),
  });
  expect(res.status).toBe(200);
  const post = await h.recorder.waitFor(
    (c) =>
      c.method === 'chat.postMessage' &&
      c.args['channel'] === channel &&
      c.args['thread_ts'] === undefined &&
      /Repair plan/.test(String(c.args['text'])),
  );
  const blocks = post.args['blocks'] as KnownBlock[];
  const actions = blocks.find((b) => b.type === 'actions');
  const id = actions?.type === 'actions' ? ((actions.elements[0] as { value?: string }).value ?? '') : '';
  return { id, ts: String(post.result?.['ts']), blocks, post };
}

interface PressOptions {
  actionTs?: string;
  triggerId?: string;
  retryNum?: number;
  channel?: string;
}

async function press(user: string, action: string, id: string, o: PressOptions = {}) {
  const url = h.recorder.responseUrl();
  const res = await postButtonPress(
    h.eventsUrl,
    SIGNING_SECRET,
    {
      user_id: user,
      action_id: action,
      value: id,
      response_url: url,
      channel_id: o.channel ?? 'COPS',
      ...(o.actionTs ? { action_ts: o.actionTs } : {}),
      ...(o.triggerId ? { trigger_id: o.triggerId } : {}),
    },
    o.retryNum !== undefined ? { retryNum: o.retryNum, retryReason: 'http_timeout' } : {},
  );
  expect(res.status).toBe(200);
  const reply = await h.recorder.waitFor((c) => c.method === 'response_url' && url.endsWith(c.path));
  return reply.args as { text?: string; response_type?: string; blocks?: KnownBlock[] };
}

const inThread = (ts: string) => (c: RecordedCall) =>
  c.method === 'chat.postMessage' && c.args['thread_ts'] === ts;

function waitThread(ts: string, re: RegExp, timeoutMs = 15_000): Promise<RecordedCall> {
  return h.recorder.waitFor((c) => inThread(ts)(c) && re.test(String(c.args['text'])), timeoutMs);
}

async function auditEntries() {
  const records = await h.audit!.tail(1000);
  return records.map((r) => r.entry!).filter(Boolean);
}

const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  h = await startHarness({ repairs: {}, workers: workerOptions });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  calls = [];
  drift = false;
  failAction = null;
  holdWait = null;
  h.recorder.clear();
});

// ------------------------------------------------------------------ the flow

describe('an approved repair runs once, in a worker, and the result goes in the thread', () => {
  it('operator requests, approver approves, worker runs, result in the thread; audit intact', async () => {
    const t0 = Date.now();
    const plan = await requestPlan(USERS.operator);
    expect(plan.id).toMatch(/^rq-[a-z0-9]+-[0-9a-f]{10}$/);
    expect(JSON.stringify(plan.blocks)).toContain('Preconditions');
    expect(JSON.stringify(plan.blocks)).toContain('Expected');

    const reply = await press(USERS.approver, ACTIONS.repairApprove, plan.id);
    expect(reply.text).toMatch(/Approved by <@UAPPROVER1>.*queued/);

    const result = await waitThread(plan.ts, /^Done/);
    expect(String(result.args['channel'])).toBe('COPS');
    expect(JSON.stringify(result.args['blocks'])).toContain('Verification');
    expect(calls).toEqual(['produce', 'restart-container', 'wait']);
    // In the thread, in order: the approval, the start, the result.
    await waitThread(plan.ts, /Approved by/);
    const thread = h.recorder.find(inThread(plan.ts)).map((c) => String(c.args['text']));
    expect(thread.filter((t) => /^Done/.test(t))).toHaveLength(1);
    expect(thread.some((t) => /Running pad-channel channel=pubchain on lab/.test(t))).toBe(true);
    // The buttons came off the plan.
    const update = await h.recorder.waitFor((c) => c.method === 'chat.update' && c.args['ts'] === plan.ts);
    expect(JSON.stringify(update.args['blocks'])).not.toContain('"actions"');

    const job = await h.queue(QUEUES.repairs).getJob(repairJobId(plan.id));
    expect(job?.returnvalue?.note).toMatch(/^done: done and verified/);
    const request = await h.store!.get(plan.id);
    expect(request).toMatchObject({
      status: 'approved',
      requester: USERS.operator,
      decidedBy: USERS.approver,
    });

    const entries = await auditEntries();
    const mine = entries.filter(
      (e) => e.jobId === plan.id || e.details['text'] === '/fabric repair pad-channel pubchain',
    );
    const whats = mine.map((e) => `${e.what}:${e.outcome}`);
    expect(whats).toEqual(
      expect.arrayContaining([
        'command:queued',
        'plan:ok',
        'request:pending',
        'button:approved',
        'approved:approved',
        'enqueue:ok',
        'repair-start:running',
        'step-end:done',
        'verify:ok',
        'result:done',
      ]),
    );
    const command = entries.find((e) => e.what === 'command' && e.outcome === 'queued');
    expect(command).toMatchObject({ who: USERS.operator, cluster: 'lab', where: 'slack:COPS' });
    expect(command?.jobId).toMatch(/^cmd-/);
    expect((await h.audit!.verify()).ok).toBe(true);
    console.log(`[flow] request -> result in thread: ${Date.now() - t0} ms`);
  });

  it('refuses self-approval: nothing runs', async () => {
    const plan = await requestPlan(USERS.approver);
    const self = await press(USERS.approver, ACTIONS.repairApprove, plan.id);
    expect(self.response_type).toBe('ephemeral');
    expect(self.text).toMatch(/requested this repair and cannot approve it/);
    await settle();
    expect((await h.store!.get(plan.id))?.status).toBe('pending');
    expect(await h.queue(QUEUES.repairs).getJob(repairJobId(plan.id))).toBeUndefined();
    expect(calls).toEqual([]);
    const refusal = (await auditEntries()).find(
      (e) => e.jobId === plan.id && e.what === 'refuse' && e.outcome === 'refused:self-approval',
    );
    expect(refusal?.who).toBe(USERS.approver);
  });

  it("a viewer's (or operator's) press does nothing", async () => {
    const plan = await requestPlan(USERS.operator);
    for (const user of [USERS.viewer, USERS.operator, USERS.stranger]) {
      for (const action of [ACTIONS.repairApprove, ACTIONS.repairDeny]) {
        const r = await press(user, action, plan.id);
        expect(r.response_type).toBe('ephemeral');
        expect(r.text).toMatch(/needs the approver role/);
      }
    }
    await settle();
    const request = await h.store!.get(plan.id);
    expect(request).toMatchObject({ status: 'pending', approvers: [] });
    expect(await h.queue(QUEUES.repairs).getJob(repairJobId(plan.id))).toBeUndefined();
    expect(h.recorder.find(inThread(plan.ts))).toEqual([]);
    const presses = (await auditEntries()).filter((e) => e.what === 'button' && e.jobId === plan.id);
    expect(presses.map((e) => e.outcome)).toEqual(
      expect.arrayContaining(['refused:role:viewer', 'refused:role:operator', 'refused:role:none']),
    );
  });

  it('two approvers pressing at the same instant, plus a Slack retry: one approval, one execution', async () => {
    const plan = await requestPlan(USERS.operator);
    const first = { actionTs: `${Date.now() / 1000}`, triggerId: `${Date.now()}.1.trigger` };
    const replies = await Promise.all([
      press(USERS.approver, ACTIONS.repairApprove, plan.id, first),
      press(USERS.approver2, ACTIONS.repairApprove, plan.id),
      press(USERS.approver, ACTIONS.repairApprove, plan.id, { ...first, retryNum: 1 }),
    ]);
    const texts = replies.map((r) => String(r.text));
    expect(texts.filter((t) => /Approved by/.test(t))).toHaveLength(1);
    expect(texts.filter((t) => /already approved/.test(t))).toHaveLength(2);
    await waitThread(plan.ts, /^Done/);
    await settle(1000);
    expect(calls).toEqual(['produce', 'restart-container', 'wait']);
    expect(h.recorder.find((c) => inThread(plan.ts)(c) && /^Done/.test(String(c.args['text'])))).toHaveLength(
      1,
    );
    const jobs = (
      await h.queue(QUEUES.repairs).getJobs(['completed', 'failed', 'delayed', 'waiting', 'active'])
    ).filter(
      (j) => j.data.kind === 'repair-execute' && 'requestId' in j.data && j.data.requestId === plan.id,
    );
    expect(jobs.map((j) => j.id)).toEqual([repairJobId(plan.id)]);
    const entries = (await auditEntries()).filter((e) => e.jobId === plan.id);
    expect(entries.filter((e) => e.what === 'approved')).toHaveLength(1);
    expect(entries.filter((e) => e.what === 'enqueue' && e.outcome === 'ok')).toHaveLength(1);
    expect(entries.filter((e) => e.what === 'repair-start')).toHaveLength(1);
    expect((await h.audit!.verify()).ok).toBe(true);
  });

  it('a dangerous kind needs two approvers; each approval is told in the thread', async () => {
    const plan = await requestPlan(USERS.operator, 'repair drain-broker 3');
    const one = await press(USERS.approver, ACTIONS.repairApprove, plan.id);
    expect(one.text).toMatch(/approval 1 of 2 recorded/);
    await waitThread(plan.ts, /Approval 1 of 2 by <@UAPPROVER1>/);
    const again = await press(USERS.approver, ACTIONS.repairApprove, plan.id);
    expect(again.text).toMatch(/already approved this repair; it needs 2 different approvers/);
    expect(calls).toEqual([]);
    const two = await press(USERS.approver2, ACTIONS.repairApprove, plan.id);
    expect(two.text).toMatch(/approved: the repair is queued/);
    await waitThread(plan.ts, /^Done/);
    expect(calls).toEqual(['wait']);
  });

  it('a denial is told in the thread, takes the buttons off and is audited', async () => {
    const plan = await requestPlan(USERS.operator);
    const denied = await press(USERS.approver2, ACTIONS.repairDeny, plan.id);
    expect(denied.text).toMatch(/Denied by <@UAPPROVER2>/);
    await waitThread(plan.ts, /Denied by <@UAPPROVER2>: denied in Slack/);
    const update = await h.recorder.waitFor((c) => c.method === 'chat.update' && c.args['ts'] === plan.ts);
    expect(JSON.stringify(update.args['blocks'])).toContain('Denied by');
    const late = await press(USERS.approver, ACTIONS.repairApprove, plan.id);
    expect(late.text).toMatch(/is already denied/);
    await settle();
    expect(calls).toEqual([]);
    const entries = (await auditEntries()).filter((e) => e.jobId === plan.id);
    expect(entries.find((e) => e.what === 'deny')).toMatchObject({ who: USERS.approver2, outcome: 'denied' });
  });

  it('a failed step is told in the thread (and audited) like a success', async () => {
    failAction = 'produce';
    const plan = await requestPlan(USERS.operator);
    await press(USERS.approver, ACTIONS.repairApprove, plan.id);
    const r = await waitThread(plan.ts, /^Failed/);
    expect(String(r.args['text'])).toMatch(/step 1 .* failed: NOT_ENOUGH_REPLICAS/);
    expect(calls).toEqual(['produce']);
    const result = (await auditEntries()).find((e) => e.jobId === plan.id && e.what === 'result');
    expect(result?.outcome).toBe('failed');
  });

  it('a cluster that changed since the approval stops the repair before any step', async () => {
    const plan = await requestPlan(USERS.operator);
    drift = true;
    await press(USERS.approver, ACTIONS.repairApprove, plan.id);
    const r = await waitThread(plan.ts, /^Not run: the cluster changed/);
    expect(String(r.args['text'])).toMatch(/step 1 was "produce 8 CONNECT messages.*now "produce 9/);
    expect(calls).toEqual([]);
  });

  it('a worker closed mid-repair is replaced and finishes without repeating a step', async () => {
    let entered!: () => void;
    const inWait = new Promise<void>((resolve) => (entered = resolve));
    holdWait = { entered };
    const plan = await requestPlan(USERS.operator);
    await press(USERS.approver, ACTIONS.repairApprove, plan.id);
    await inWait; // steps 1 and 2 are done, step 3 is running
    const t0 = Date.now();
    await h.restartWorkers(); // the old worker stops at once (its repair goes back to the queue)
    const result = await waitThread(plan.ts, /^Done/, 20_000);
    console.log(`[flow] worker restarted mid-repair: resumed and done ${Date.now() - t0} ms later`);
    // The non-idempotent restart ran once; the interrupted (idempotent) wait ran again.
    expect(calls).toEqual(['produce', 'restart-container', 'wait', 'wait']);
    expect(JSON.stringify(result.args['blocks'])).toContain('resumed after an interruption');
    const entries = (await auditEntries()).filter((e) => e.jobId === plan.id);
    expect(entries.filter((e) => e.what === 'step-skip').map((e) => e.details['step'])).toEqual([1, 2]);
    expect(entries.filter((e) => e.what === 'repair-resume')).toHaveLength(1);
    expect(h.recorder.find((c) => inThread(plan.ts)(c) && /^Done/.test(String(c.args['text'])))).toHaveLength(
      1,
    );
    expect((await h.audit!.verify()).ok).toBe(true);
  });
});

describe('expiry', () => {
  let e: Harness;
  beforeAll(async () => {
    e = await startHarness({ repairs: { ttlMinutes: 1 / 60 }, workers: workerOptions });
  });
  afterAll(async () => {
    await e?.close();
  });

  it('an approval after the expiry is refused; the sweep tells the thread and takes the buttons off', async () => {
    const saved = h;
    h = e;
    try {
      const plan = await requestPlan(USERS.operator);
      await waitThread(plan.ts, /^:hourglass: Expired at/, 10_000);
      const late = await press(USERS.approver, ACTIONS.repairApprove, plan.id);
      expect(late.response_type).toBe('ephemeral');
      expect(late.text).toMatch(/expired at .*: request the repair again/);
      const update = await e.recorder.waitFor((c) => c.method === 'chat.update' && c.args['ts'] === plan.ts);
      expect(JSON.stringify(update.args['blocks'])).not.toContain('"actions"');
      expect(await e.queue(QUEUES.repairs).getJob(repairJobId(plan.id))).toBeUndefined();
      expect(calls).toEqual([]);
      const entries = (await e.audit!.tail(200)).map((r) => r.entry!).filter((x) => x.jobId === plan.id);
      expect(entries.find((x) => x.what === 'expire')).toMatchObject({ outcome: 'expired', who: 'system' });
      expect(entries.find((x) => x.what === 'refuse')?.outcome).toBe('refused:expired');
    } finally {
      h = saved;
    }
  });
});
