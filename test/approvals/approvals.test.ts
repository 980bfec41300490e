import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  Approvals,
  approvalsFor,
  type ApprovalsOptions,
  type RepairRequest,
} from '../../src/approvals/index.js';
import { AuditLog } from '../../src/audit/index.js';
import { parseInventory } from '../../src/config/index.js';
import type { RepairPlan } from '../../src/model/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const prefix = 'ap';
const ROLES: Record<string, 'viewer' | 'operator' | 'approver'> = {
  U1: 'operator',
  U2: 'approver',
  U3: 'approver',
  U4: 'approver',
  U5: 'viewer',
  U6: 'operator',
};

function plan(kind = 'pad-channel', over: Partial<RepairPlan> = {}): RepairPlan {
  return {
    kind,
    cluster: 'lab',
    args: { channel: 'pubchain' },
    preconditions: [{ check: 'orderers agree', ok: true, detail: '3 orderers expect offset 21' }],
    steps: [{ action: 'produce', topic: 'pubchain', partition: 0, count: 7, value: '1a00', key: '0' }],
    expected: { highWatermark: 21 },
    refusal: null,
    ...over,
  };
}

let srv: TestRedis;
let c1: Redis;
let c2: Redis;
let c3: Redis;

beforeAll(async () => {
  srv = await startRedis();
  c1 = srv.client();
  c2 = srv.client();
  c3 = srv.client();
});
afterAll(async () => srv?.stop());
beforeEach(async () => srv.flush());

/** An Approvals instance on its own connection (as in another process). */
function approvals(redis: Redis, over: Partial<ApprovalsOptions> = {}): Approvals {
  return new Approvals({
    redis,
    prefix,
    audit: new AuditLog(redis, { prefix }),
    roleOf: (u) => ROLES[u] ?? 'none',
    ...over,
  });
}

async function request(a: Approvals, p = plan()): Promise<RepairRequest> {
  const r = await a.requestRepair({ plan: p, requester: 'U1', cluster: 'lab', where: 'slack:C1' });
  if (!r.ok) throw new Error(r.message);
  return r.request;
}

async function auditWhats(): Promise<string[]> {
  return (await new AuditLog(c1, { prefix }).read('-', 10_000)).map(
    (r) => `${r.entry?.what}:${r.entry?.outcome}`,
  );
}

describe('repair requests', () => {
  it('need the operator role and a plan that may run', async () => {
    const a = approvals(c1);
    const v = await a.requestRepair({ plan: plan(), requester: 'U5', cluster: 'lab', where: 'cli' });
    expect(v).toMatchObject({ ok: false, code: 'not-operator' });
    const refused = await a.requestRepair({
      plan: plan('pad-channel', { refusal: 'orderers disagree', steps: [] }),
      requester: 'U1',
      cluster: 'lab',
      where: 'cli',
    });
    expect(refused).toMatchObject({ ok: false, code: 'plan-refused', message: /orderers disagree/ });
    const other = await a.requestRepair({ plan: plan(), requester: 'U1', cluster: 'prod', where: 'cli' });
    expect(other).toMatchObject({ ok: false, code: 'cluster-mismatch' });
    const ok = await a.requestRepair({ plan: plan(), requester: 'U1', cluster: 'lab', where: 'slack:C1' });
    expect(ok.ok).toBe(true);
    if (!ok.ok) return;
    expect(ok.id).toMatch(/^rq-[a-z0-9]+-[0-9a-f]{10}$/);
    expect(ok.request).toMatchObject({
      status: 'pending',
      requester: 'U1',
      approvalsNeeded: 1,
      approvers: [],
    });
    const ttl = Date.parse(ok.request.expiresAt) - Date.parse(ok.request.createdAt);
    expect(ttl).toBe(15 * 60_000);
    expect((await a.pending()).map((r) => r.id)).toEqual([ok.id]);
    expect(await auditWhats()).toEqual([
      'refuse:refused:not-operator',
      'refuse:refused:plan-refused',
      'refuse:refused:cluster-mismatch',
      'request:pending',
    ]);
  });
});

describe('approving', () => {
  it('refuses self-approval and people without the approver role; approves once', async () => {
    const enqueued: string[] = [];
    const a = approvals(c1, { enqueue: async (r) => void enqueued.push(r.id) });
    const r = await request(a);
    expect(await a.approve(r.id, 'U1')).toMatchObject({ ok: false, code: 'self-approval' });
    expect(await a.approve(r.id, 'U6')).toMatchObject({
      ok: false,
      code: 'not-approver',
      message: /operator/,
    });
    expect(await a.approve(r.id, 'U5')).toMatchObject({ ok: false, code: 'not-approver' });
    expect(await a.approve(r.id, 'nobody')).toMatchObject({
      ok: false,
      code: 'not-approver',
      message: /none/,
    });
    const ok = await a.approve(r.id, 'U2', 'slack:C1');
    expect(ok).toMatchObject({ ok: true, status: 'approved', enqueued: true });
    if (ok.ok && ok.status === 'approved') {
      expect(ok.request.approvers.map((x) => x.who)).toEqual(['U2']);
      expect(ok.request.enqueuedAt).not.toBeNull();
    }
    expect(await a.approve(r.id, 'U3')).toMatchObject({
      ok: false,
      code: 'already-decided',
      status: 'approved',
    });
    expect(await a.approve(r.id, 'U2')).toMatchObject({ ok: false, code: 'already-decided' });
    expect(await a.deny(r.id, 'U3', 'too late')).toMatchObject({ ok: false, code: 'already-decided' });
    expect(await a.approve('rq-nope-0000000000', 'U2')).toMatchObject({ ok: false, code: 'not-found' });
    expect(await a.approve('../../etc', 'U2')).toMatchObject({ ok: false, code: 'not-found' });
    expect(enqueued).toEqual([r.id]);
    expect(await a.pending()).toEqual([]);
  });

  it('an approver who requested a repair cannot approve it either', async () => {
    const a = approvals(c1);
    const r = await a.requestRepair({ plan: plan(), requester: 'U2', cluster: 'lab', where: 'cli' });
    if (!r.ok) throw new Error(r.message);
    expect(await a.approve(r.id, 'U2')).toMatchObject({
      ok: false,
      code: 'self-approval',
      message: /someone else/,
    });
    expect(await a.approve(r.id, 'U3')).toMatchObject({ ok: true, status: 'approved' });
  });

  it('refuses an approval after expiry (and audits the expiry once)', async () => {
    const enqueued: string[] = [];
    const a = approvals(c1, { ttlMinutes: 0.002, enqueue: async (r) => void enqueued.push(r.id) });
    const r = await request(a);
    await new Promise((res) => setTimeout(res, 200));
    const x = await a.approve(r.id, 'U2');
    expect(x).toMatchObject({ ok: false, code: 'expired', message: /expired at .*request the repair again/ });
    expect(await a.approve(r.id, 'U3')).toMatchObject({ ok: false, code: 'expired' });
    expect(await a.deny(r.id, 'U3', 'x')).toMatchObject({ ok: false, code: 'expired' });
    expect((await a.get(r.id))?.status).toBe('expired');
    expect(enqueued).toEqual([]);
    expect((await auditWhats()).filter((w) => w.startsWith('expire:'))).toHaveLength(1);
  });

  it('expireDue() expires overdue requests once, across processes', async () => {
    const a = approvals(c1, { ttlMinutes: 0.002 });
    const b = approvals(c2, { ttlMinutes: 0.002 });
    const long = approvals(c1);
    const due = [await request(a), await request(a), await request(b)];
    const keep = await request(long);
    await new Promise((res) => setTimeout(res, 200));
    const [x, y] = await Promise.all([a.expireDue(), b.expireDue()]);
    expect([...x, ...y].sort()).toEqual(due.map((r) => r.id).sort());
    expect(await a.expireDue()).toEqual([]);
    expect((await a.pending()).map((r) => r.id)).toEqual([keep.id]);
    expect((await auditWhats()).filter((w) => w.startsWith('expire:'))).toHaveLength(3);
  });

  it('two approvers at the same instant, a double click and a Slack retry: one approval, one job', async () => {
    const queue = new Queue('repair-exec', {
      connection: srv.client({ maxRetriesPerRequest: null }),
      prefix,
    });
    try {
      const calls = new Map<string, number>();
      const enqueue = async (r: RepairRequest) => {
        calls.set(r.id, (calls.get(r.id) ?? 0) + 1);
        await queue.add('execute', { requestId: r.id }, { jobId: r.id });
      };
      // Three "processes", each with its own connection.
      const procs = [approvals(c1, { enqueue }), approvals(c2, { enqueue }), approvals(c3, { enqueue })];
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) ids.push((await request(procs[0]!)).id);
      const results = await Promise.all(
        ids.map((id) =>
          Promise.all([
            procs[0]!.approve(id, 'U2'), // approver A
            procs[1]!.approve(id, 'U3'), // approver B, same instant
            procs[2]!.approve(id, 'U2'), // A's double click
            procs[1]!.approve(id, 'U2'), // Slack retrying A's click
          ]),
        ),
      );
      for (const rs of results) {
        expect(rs.filter((r) => r.ok && r.status === 'approved')).toHaveLength(1);
        for (const r of rs.filter((x) => !x.ok)) expect(r).toMatchObject({ code: 'already-decided' });
      }
      for (const id of ids) expect(calls.get(id)).toBe(1);
      const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'completed');
      expect(counts.waiting).toBe(ids.length);
      expect((await auditWhats()).filter((w) => w.startsWith('approved:'))).toHaveLength(ids.length);
      expect((await new AuditLog(c1, { prefix }).verify()).ok).toBe(true);
    } finally {
      await queue.close();
    }
  });

  it('dangerous kinds need two distinct approvers, neither of them the requester', async () => {
    const enqueued: string[] = [];
    const a = approvals(c1, { enqueue: async (r) => void enqueued.push(r.id) });
    const r = await request(a, plan('drain-broker', { args: { broker: 3 } }));
    expect(r.approvalsNeeded).toBe(2);
    expect(await a.approve(r.id, 'U2')).toMatchObject({
      ok: true,
      status: 'recorded',
      approvals: 1,
      needed: 2,
    });
    expect(await a.approve(r.id, 'U2')).toMatchObject({ ok: false, code: 'already-approved-by-you' });
    expect(await a.approve(r.id, 'U1')).toMatchObject({ ok: false, code: 'self-approval' });
    expect(enqueued).toEqual([]);
    expect((await a.get(r.id))?.status).toBe('pending');
    const done = await a.approve(r.id, 'U3');
    expect(done).toMatchObject({ ok: true, status: 'approved', enqueued: true });
    expect((await a.get(r.id))?.approvers.map((x) => x.who)).toEqual(['U2', 'U3']);
    expect(enqueued).toEqual([r.id]);
  });

  it('dangerous kinds under a race: three approvers at once give one approval and one enqueue', async () => {
    for (let round = 0; round < 15; round++) {
      let n = 0;
      const enqueue = async () => void n++;
      const procs = [approvals(c1, { enqueue }), approvals(c2, { enqueue }), approvals(c3, { enqueue })];
      const r = await request(procs[0]!, plan('set-topic-config'));
      const rs = await Promise.all([
        procs[0]!.approve(r.id, 'U2'),
        procs[1]!.approve(r.id, 'U3'),
        procs[2]!.approve(r.id, 'U4'),
      ]);
      expect(rs.filter((x) => x.ok && x.status === 'approved')).toHaveLength(1);
      expect(rs.filter((x) => x.ok && x.status === 'recorded')).toHaveLength(1);
      expect(rs.filter((x) => !x.ok)).toMatchObject([{ code: 'already-decided' }]);
      expect(n).toBe(1);
      expect((await procs[0]!.get(r.id))?.approvers).toHaveLength(2);
    }
  });
});

describe('denying', () => {
  it('an approver denies with a reason; the requester may withdraw; others may not', async () => {
    const a = approvals(c1);
    const r1 = await request(a);
    expect(await a.deny(r1.id, 'U6', 'no')).toMatchObject({ ok: false, code: 'not-allowed' });
    expect(await a.deny(r1.id, 'U5', 'no')).toMatchObject({ ok: false, code: 'not-allowed' });
    const d = await a.deny(r1.id, 'U2', 'orderers are being upgraded');
    expect(d).toMatchObject({
      ok: true,
      status: 'denied',
      request: { decidedBy: 'U2', reason: 'orderers are being upgraded' },
    });
    expect(await a.approve(r1.id, 'U3')).toMatchObject({
      ok: false,
      code: 'already-decided',
      status: 'denied',
    });
    const r2 = await request(a);
    expect(await a.deny(r2.id, 'U1', 'wrong channel')).toMatchObject({ ok: true, status: 'denied' });
    expect(await auditWhats()).toEqual(
      expect.arrayContaining(['deny:denied', 'deny:withdrawn', 'refuse:refused:not-allowed']),
    );
  });

  it('an approve and a deny at the same instant: exactly one wins', async () => {
    for (let i = 0; i < 15; i++) {
      let n = 0;
      const a = approvals(c1, { enqueue: async () => void n++ });
      const b = approvals(c2);
      const r = await request(a);
      const [x, y] = await Promise.all([a.approve(r.id, 'U2'), b.deny(r.id, 'U3', 'no')]);
      expect([x.ok, y.ok].filter(Boolean)).toHaveLength(1);
      const status = (await a.get(r.id))!.status;
      expect(status).toBe(x.ok ? 'approved' : 'denied');
      expect(n).toBe(x.ok ? 1 : 0);
    }
  });
});

describe('enqueue failures', () => {
  it('a failed enqueue leaves the request approved; enqueueStranded() enqueues it once later', async () => {
    let fail = true;
    const jobs: string[] = [];
    const a = approvals(c1, {
      enqueue: async (r) => {
        if (fail) throw new Error('queue unavailable');
        jobs.push(r.id);
      },
    });
    const r = await request(a);
    const x = await a.approve(r.id, 'U2');
    expect(x).toMatchObject({
      ok: true,
      status: 'approved',
      enqueued: false,
      enqueueError: 'queue unavailable',
    });
    fail = false;
    expect(await a.enqueueStranded(60_000)).toEqual([]); // still in its grace period
    expect(await a.enqueueStranded(0)).toEqual([r.id]);
    expect(await a.enqueueStranded(0)).toEqual([]);
    expect(jobs).toEqual([r.id]);
    expect((await a.get(r.id))?.enqueuedAt).not.toBeNull();
  });
});

describe('from an inventory', () => {
  it('takes roles, dangerous kinds and the approval TTL from the inventory', async () => {
    const inv = parseInventory(
      [
        'clusters:',
        '  lab:',
        '    kafka: { brokers: ["127.0.0.1:19092"] }',
        '    zookeeper: { connect: "127.0.0.1:12181" }',
        '    repairs: { approvalTtlMinutes: 5 }',
        `redis: { prefix: ${prefix} }`,
        'slack:',
        '  users: { U0AAA: operator, U0BBB: approver }',
        '  dangerousRepairs: [pad-channel]',
      ].join('\n'),
    );
    const a = approvalsFor(inv, c1, new AuditLog(c1, { prefix }));
    const r = await a.requestRepair({ plan: plan(), requester: 'U0AAA', cluster: 'lab', where: 'cli' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.request.approvalsNeeded).toBe(2);
    expect(Date.parse(r.request.expiresAt) - Date.parse(r.request.createdAt)).toBe(5 * 60_000);
    expect(await a.approve(r.id, 'U0CCC')).toMatchObject({ ok: false, code: 'not-approver' });
    expect(await a.approve(r.id, 'U0BBB')).toMatchObject({ ok: true, status: 'recorded' });
  });
});
