import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Approvals } from '../../src/approvals/index.js';
import { AuditLog } from '../../src/audit/index.js';
import type { RepairPlan, RepairStep } from '../../src/model/index.js';
import { RepairExecutor, executeApproved, type ExecuteInput } from '../../src/repairs/executor.js';
import {
  describeStep,
  diffPlans,
  idempotent,
  type StepHandlers,
  type StepOutcome,
} from '../../src/repairs/steps.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const prefix = 'ex';
const LOCK_TTL = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let srv: TestRedis;
let r1: Redis;
let r2: Redis;

beforeAll(async () => {
  srv = await startRedis();
  r1 = srv.client();
  r2 = srv.client();
});
afterAll(async () => srv?.stop());
beforeEach(async () => srv.flush());

const STEPS: RepairStep[] = [
  { action: 'produce', topic: 'pubchain', partition: 0, count: 7, value: '1a00', key: '0' },
  { action: 'restart-container', container: 'orderer1.example.com' },
  { action: 'wait', for: 'orderer1 healthy', timeoutMs: 30_000 },
  { action: 'set-topic-config', topic: 'pubchain', configs: { 'min.insync.replicas': '2' } },
];

function plan(over: Partial<RepairPlan> = {}): RepairPlan {
  return {
    kind: 'pad-channel',
    cluster: 'lab',
    args: { channel: 'pubchain' },
    preconditions: [{ check: 'orderers agree', ok: true, detail: '3 orderers expect offset 21' }],
    steps: STEPS,
    expected: { highWatermark: 21 },
    refusal: null,
    ...over,
  };
}

/**
 * A simulated cluster: the partition's high watermark lives in Redis (`sim:hw`, starting at 14), and every
 * handler call is counted per step index. The produce handler is idempotent the way padding is: it re-reads the
 * high watermark and produces only what is still missing.
 */
function world(
  redis: Redis,
  hooks: {
    duringProduce?: (produced: number) => Promise<void> | void;
    inStep?: (i: number) => Promise<void> | void;
  } = {},
) {
  const calls: number[] = [0, 0, 0, 0];
  const count = async (i: number): Promise<StepOutcome> => {
    calls[i] = (calls[i] ?? 0) + 1;
    await hooks.inStep?.(i);
    return { ok: true, detail: `step ${i + 1} ran` };
  };
  const handlers: StepHandlers = {
    produce: idempotent(async (step, ctx) => {
      calls[ctx.index] = (calls[ctx.index] ?? 0) + 1;
      const target = 14 + step.count;
      let hw = Number(await redis.get('sim:hw'));
      let produced = 0;
      while (hw < target) {
        hw = await redis.incr('sim:hw');
        produced++;
        await hooks.duringProduce?.(produced);
        if (ctx.signal.aborted) return { ok: false, detail: 'aborted' };
      }
      return {
        ok: true,
        detail: `produced ${produced} (high watermark now ${hw})`,
        data: { produced, resumed: ctx.resumed },
      };
    }),
    'restart-container': async (_s, ctx) => count(ctx.index),
    wait: async (_s, ctx) => count(ctx.index),
    'set-topic-config': async (_s, ctx) => count(ctx.index),
  };
  return { calls, handlers };
}

function executor(redis: Redis, handlers: StepHandlers, workerId: string): RepairExecutor {
  return new RepairExecutor({
    redis,
    prefix,
    audit: new AuditLog(redis, { prefix }),
    handlers,
    workerId,
    lockTtlMs: LOCK_TTL,
  });
}

function input(over: Partial<ExecuteInput> = {}): ExecuteInput {
  return {
    requestId: 'rq-test-0000000001',
    plan: plan(),
    replan: async () => plan(),
    verify: async () => ({
      ok: Number(await r1.get('sim:hw')) === 21,
      detail: `high watermark ${await r1.get('sim:hw')}`,
    }),
    ...over,
  };
}

async function audit(
  what?: string,
): Promise<{ what: string; outcome: string; details: Record<string, unknown> }[]> {
  const all = (await new AuditLog(r1, { prefix }).read('-', 10_000)).map((r) => r.entry!);
  return what ? all.filter((e) => e.what === what) : all;
}

describe('executor', () => {
  beforeEach(async () => {
    await r1.set('sim:hw', 14);
  });

  it('runs every step once, records each in Redis and the audit log, verifies, and never runs twice', async () => {
    const w = world(r1);
    const ex = executor(r1, w.handlers, 'w1');
    const r = await ex.execute(input());
    expect(r).toMatchObject({
      status: 'done',
      resumed: false,
      verification: { ok: true, detail: 'high watermark 21' },
    });
    expect(w.calls).toEqual([1, 1, 1, 1]);
    expect(r.steps.map((s) => s.status)).toEqual(['done', 'done', 'done', 'done']);
    expect(await r1.hgetall(`${prefix}:repair:rq-test-0000000001:step:0`)).toMatchObject({
      status: 'done',
      worker: 'w1',
      attempts: '1',
      detail: 'produced 7 (high watermark now 21)',
    });
    expect(await r1.hget(`${prefix}:repair:rq-test-0000000001`, 'status')).toBe('done');
    expect(await r1.exists(`${prefix}:repair:rq-test-0000000001:lock`)).toBe(0);
    const whats = (await audit()).map((e) => `${e.what}:${e.outcome}`);
    expect(whats).toEqual([
      'repair-start:running',
      'step-start:started',
      'step-end:done',
      'step-start:started',
      'step-end:done',
      'step-start:started',
      'step-end:done',
      'step-start:started',
      'step-end:done',
      'verify:ok',
      'result:done',
    ]);
    // Usable once: a second run (a retried job) returns the recorded result.
    const again = await executor(r2, w.handlers, 'w2').execute(input());
    expect(again).toMatchObject({ status: 'done', message: /^already ended/ });
    expect(w.calls).toEqual([1, 1, 1, 1]);
    expect((await new AuditLog(r1, { prefix }).verify()).ok).toBe(true);
  });

  it('stops before any step when the cluster changed since the plan', async () => {
    const w = world(r1);
    const fresh = plan({
      steps: [{ ...STEPS[0]!, count: 5 } as RepairStep, ...STEPS.slice(1)],
      preconditions: [{ check: 'orderers agree', ok: true, detail: '3 orderers expect offset 19' }],
      expected: { highWatermark: 19 },
    });
    const r = await executor(r1, w.handlers, 'w1').execute(input({ replan: async () => fresh }));
    expect(r.status).toBe('changed');
    expect(r.message).toMatch(/^the cluster changed since the plan: /);
    expect(r.message).toContain(
      'step 1 was "produce 7 CONNECT messages to pubchain/0", now "produce 5 CONNECT messages',
    );
    expect(r.message).toContain(
      'precondition "orderers agree": was "3 orderers expect offset 21", now "3 orderers expect offset 19"',
    );
    expect(w.calls).toEqual([0, 0, 0, 0]);
    expect(Number(await r1.get('sim:hw'))).toBe(14);
    const failing = plan({
      preconditions: [{ check: 'orderers agree', ok: false, detail: 'orderer2 expects 25' }],
    });
    const r3 = await executor(r1, w.handlers, 'w1').execute(
      input({ requestId: 'rq-test-0000000002', replan: async () => failing }),
    );
    expect(r3).toMatchObject({
      status: 'changed',
      message: /precondition "orderers agree" does not hold: orderer2 expects 25/,
    });
    expect((await audit('result')).map((e) => e.outcome)).toEqual(['changed', 'changed']);
  });

  for (const k of [0, 1, 2]) {
    it(`a worker killed after step ${k + 1}: the next worker resumes and no step runs twice`, async () => {
      const w = world(r1);
      const kill = new AbortController();
      const first = await executor(r1, w.handlers, 'w1').execute(
        input({
          signal: kill.signal,
          onStep: (e) => {
            if (e.phase === 'done' && e.index === k) kill.abort();
          },
        }),
      );
      expect(first.status).toBe('aborted');
      expect(w.calls.slice(0, k + 1)).toEqual(Array(k + 1).fill(1));
      expect(w.calls.slice(k + 1)).toEqual(Array(3 - k).fill(0));
      // The dead worker's lock is still there until it lapses.
      const w2 = executor(r2, w.handlers, 'w2');
      expect(await w2.execute(input())).toMatchObject({ status: 'locked', message: /being executed by w1/ });
      await sleep(LOCK_TTL + 60);
      const second = await w2.execute(input());
      expect(second).toMatchObject({ status: 'done', resumed: true });
      expect(w.calls).toEqual([1, 1, 1, 1]);
      expect(Number(await r1.get('sim:hw'))).toBe(21);
      expect((await audit('step-skip')).length).toBe(k + 1);
      expect((await audit('repair-resume'))[0]?.details).toMatchObject({ from: k + 2 });
    });
  }

  it('a worker killed inside a step that is not idempotent: the next one stops in needs-operator', async () => {
    const kill = new AbortController();
    const w = world(r1, {
      inStep: async (i) => {
        if (i === 1 && !kill.signal.aborted) {
          kill.abort();
          await sleep(20);
        }
      },
    });
    const first = await executor(r1, w.handlers, 'w1').execute(input({ signal: kill.signal }));
    expect(first.status).toBe('aborted');
    await sleep(LOCK_TTL + 60);
    const ex2 = executor(r2, w.handlers, 'w2');
    const second = await ex2.execute(input());
    expect(second.status).toBe('needs-operator');
    expect(second.message).toMatch(
      /^step 2 \(restart container orderer1\.example\.com\) was started by w1 at .* and did not finish; it is not safe to repeat automatically/,
    );
    expect(w.calls).toEqual([1, 1, 0, 0]);
    // Stays stopped until a person says what happened.
    expect((await ex2.execute(input())).status).toBe('needs-operator');
    expect(w.calls).toEqual([1, 1, 0, 0]);
    expect(await ex2.resolveStep('rq-test-0000000001', plan(), 1, 'done', 'U2')).toMatchObject({ ok: true });
    const third = await ex2.execute(input());
    expect(third.status).toBe('done');
    expect(w.calls).toEqual([1, 1, 1, 1]);
    expect((await audit('step-resolve'))[0]).toMatchObject({ outcome: 'done' });
  });

  it('a worker killed in the middle of padding: the idempotent handler runs again and produces only the rest', async () => {
    const kill = new AbortController();
    const w = world(r1, {
      duringProduce: (n) => {
        if (n === 3 && !kill.signal.aborted) kill.abort();
      },
    });
    const first = await executor(r1, w.handlers, 'w1').execute(input({ signal: kill.signal }));
    expect(first.status).toBe('aborted');
    expect(Number(await r1.get('sim:hw'))).toBe(17);
    await sleep(LOCK_TTL + 60);
    const second = await executor(r2, w.handlers, 'w2').execute(input());
    expect(second).toMatchObject({ status: 'done', verification: { ok: true } });
    expect(Number(await r1.get('sim:hw'))).toBe(21); // 7 messages in all, not 3 + 7
    expect(w.calls).toEqual([2, 1, 1, 1]);
    expect(second.steps[0]).toMatchObject({
      status: 'done',
      attempts: 2,
      detail: 'produced 4 (high watermark now 21)',
    });
    const ends = await audit('step-end');
    expect(ends[0]?.details).toMatchObject({ data: { produced: 4, resumed: true } });
  });

  it('two workers on the same request at once: one runs it, the other is told it is locked', async () => {
    const w = world(r1, { inStep: async () => void (await sleep(10)) });
    const [a, b] = await Promise.all([
      executor(r1, w.handlers, 'w1').execute(input()),
      executor(r2, w.handlers, 'w2').execute(input()),
    ]);
    expect([a.status, b.status].sort()).toEqual(['done', 'locked']);
    expect(w.calls).toEqual([1, 1, 1, 1]);
  });

  it('a worker that loses its lock stops and cannot write over the new holder', async () => {
    const w = world(r1, {
      inStep: async (i) => {
        if (i === 1) {
          await r2.set(`${prefix}:repair:rq-test-0000000001:lock`, 'w9/intruder', 'PX', 10_000);
          await sleep(LOCK_TTL);
        }
      },
    });
    const r = await executor(r1, w.handlers, 'w1').execute(input());
    expect(r.status).toBe('lock-lost');
    expect(w.calls).toEqual([1, 1, 0, 0]);
    expect(await r1.hget(`${prefix}:repair:rq-test-0000000001:step:1`, 'status')).toBe('started');
    expect(await r1.get(`${prefix}:repair:rq-test-0000000001:lock`)).toBe('w9/intruder');
  });

  it('a failed step stops the repair; an optional one does not', async () => {
    const w = world(r1);
    const failing: StepHandlers = {
      ...w.handlers,
      wait: async () => ({ ok: false, detail: 'orderer1 not healthy after 30 s' }),
    };
    const r = await executor(r1, failing, 'w1').execute(input());
    expect(r).toMatchObject({
      status: 'failed',
      message: 'step 3 (wait for orderer1 healthy (up to 30 s)) failed: orderer1 not healthy after 30 s',
    });
    expect(w.calls).toEqual([1, 1, 0, 0]);
    const throwing: StepHandlers = {
      ...w.handlers,
      'restart-container': async () => Promise.reject(new Error('no such container')),
    };
    const optional = plan({ steps: STEPS.map((s, i) => (i === 1 ? { ...s, optional: true } : s)) });
    const r2x = await executor(r1, throwing, 'w1').execute(
      input({
        requestId: 'rq-test-0000000002',
        plan: optional,
        replan: async () => optional,
        verify: async () => ({ ok: true, detail: 'fine' }),
      }),
    );
    expect(r2x.status).toBe('done');
    expect(r2x.steps.map((s) => s.status)).toEqual(['done', 'failed', 'done', 'done']);
  });

  it('a failed verification is recorded as verify-failed', async () => {
    const w = world(r1);
    const r = await executor(r1, w.handlers, 'w1').execute(
      input({ verify: async () => ({ ok: false, detail: 'high watermark 20, expected 21' }) }),
    );
    expect(r).toMatchObject({ status: 'verify-failed', message: /verification failed: high watermark 20/ });
  });

  it('does not start without a handler for every step', async () => {
    const w = world(r1);
    const { wait: _wait, ...fewer } = w.handlers;
    const r = await executor(r1, fewer, 'w1').execute(input());
    expect(r).toMatchObject({ status: 'refused', message: /no handler for wait/ });
    expect(w.calls).toEqual([0, 0, 0, 0]);
    expect(await r1.exists(`${prefix}:repair:rq-test-0000000001`)).toBe(0);
  });

  it('executeApproved runs only approved requests, with the stored plan', async () => {
    const w = world(r1);
    const ap = new Approvals({
      redis: r1,
      prefix,
      audit: new AuditLog(r1, { prefix }),
      roleOf: (u) => (u === 'U1' ? 'operator' : 'approver'),
    });
    const req = await ap.requestRepair({ plan: plan(), requester: 'U1', cluster: 'lab', where: 'cli' });
    if (!req.ok) throw new Error(req.message);
    const ex = executor(r1, w.handlers, 'w1');
    const rest = { replan: async () => plan() };
    expect(await executeApproved(ap, ex, req.id, rest)).toMatchObject({
      status: 'refused',
      message: /pending, not approved/,
    });
    await ap.approve(req.id, 'U2');
    expect(await executeApproved(ap, ex, req.id, rest)).toMatchObject({ status: 'done' });
    expect(w.calls).toEqual([1, 1, 1, 1]);
  });
});

describe('steps', () => {
  it('describes steps in one line', () => {
    expect(STEPS.map(describeStep)).toEqual([
      'produce 7 CONNECT messages to pubchain/0',
      'restart container orderer1.example.com',
      'wait for orderer1 healthy (up to 30 s)',
      'set min.insync.replicas=2 on topic pubchain',
    ]);
    expect(
      describeStep({
        action: 'reassign-partitions',
        partitions: [{ topic: 't', partition: 0, replicas: [1, 2] }],
        throttleBytes: 1000,
        optional: true,
      }),
    ).toBe('reassign t/0 -> [1,2] (throttle 1000 B/s) (optional)');
  });

  it('finds no difference between equal plans (key order does not matter)', () => {
    const p = plan();
    const q = JSON.parse(JSON.stringify(p)) as RepairPlan;
    q.steps = q.steps.map((s) => Object.fromEntries(Object.entries(s).reverse()) as RepairStep);
    expect(diffPlans(p, q)).toEqual([]);
  });

  it('names every difference', () => {
    const d = diffPlans(
      plan(),
      plan({ steps: STEPS.slice(0, 3), refusal: 'orderers disagree', preconditions: [] }),
    );
    expect(d).toEqual([
      'the plan would now be refused: orderers disagree',
      'precondition "orderers agree" is no longer checked',
      'the plan now has 3 steps, not 4',
    ]);
  });
});
