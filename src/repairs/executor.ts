/**
 * Runs an approved RepairPlan, step by step, so that a worker killed at any point can be replaced by another
 * without any step running twice (unless its handler is idempotent).
 *
 * 1. Lock: `<prefix>:repair:<id>:lock` = a token, SET NX PX, renewed every lockTtl/3. Only the holder runs the
 *    request. Every state write is fenced: a Lua script writes only while the lock still holds this token,
 *    so a worker that stalled past its lock cannot overwrite the state of the worker that took over.
 * 2. A request whose execution already ended (done, failed, changed, needs-operator, verify-failed) is not run
 *    again: the recorded result is returned.
 * 3. First run only: `replan()` rebuilds the plan from a fresh snapshot; any difference in steps or
 *    preconditions (or a precondition that does not hold) stops with "the cluster changed since the plan: ...".
 *    (On a resume the snapshot reflects the steps already done, so the plan is not compared again.)
 * 4. Steps in order, each recorded in `<prefix>:repair:<id>:step:<i>` (status started -> done | failed) and in
 *    the audit log. Done steps are skipped on a resume; a step started but not done is run again only when
 *    its handler is idempotent, else the repair stops in "needs-operator" (see resolveStep()).
 * 5. `verify()` checks the end state; the result is recorded in `<prefix>:repair:<id>` and audited.
 *
 * An aborted `signal` means "this process is going away": the executor stops at once and writes nothing more
 * (exactly like a kill); the lock lapses after lockTtlMs and another worker resumes.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AuditLog } from '../audit/index.js';
import type { Approvals } from '../approvals/index.js';
import { describeError } from '../errors/index.js';
import { createLogger, type Logger } from '../log.js';
import type { RepairPlan } from '../model/index.js';
import { luaScript, redisKeys, withRedis } from '../redis.js';
import { describeStep, diffPlans, handlerFor, type StepHandlers, type StepOutcome } from './steps.js';

export type ExecutionStatus =
  /** All steps done and verified (or no verification asked for). */
  | 'done'
  /** A step failed; later steps were not run. */
  | 'failed'
  /** The fresh plan differs from the approved one; nothing was run. */
  | 'changed'
  /** A step was interrupted and cannot safely be repeated: a person must look (then resolveStep()). */
  | 'needs-operator'
  /** Steps done, but the end state is not the expected one. */
  | 'verify-failed'
  /** Another worker holds the lock. Not recorded. */
  | 'locked'
  /** This worker lost its lock mid-run and stopped. Not recorded. */
  | 'lock-lost'
  /** Not started: no handler for a step here, or the request is not approved. Not recorded. */
  | 'refused'
  /** The signal was aborted: stopped at once, nothing more written. */
  | 'aborted';

const TERMINAL: ReadonlySet<string> = new Set([
  'done',
  'failed',
  'changed',
  'needs-operator',
  'verify-failed',
]);

export type StepStatus = 'pending' | 'started' | 'done' | 'failed';

export interface StepRecord {
  index: number;
  action: string;
  description: string;
  status: StepStatus;
  attempts: number;
  worker?: string;
  startedAt?: string;
  endedAt?: string;
  detail?: string;
}

export interface VerifyOutcome {
  ok: boolean;
  detail: string;
}

export interface ExecutionResult {
  requestId: string;
  status: ExecutionStatus;
  /** One line for people. */
  message: string;
  steps: StepRecord[];
  /** This run continued an earlier, interrupted one. */
  resumed: boolean;
  verification?: VerifyOutcome;
}

export type StepEvent = { index: number; phase: 'start' | 'done' | 'failed' | 'skip'; step: StepRecord };

export interface ExecuteInput {
  requestId: string;
  /** The approved plan. */
  plan: RepairPlan;
  /** Build the same kind of plan again from a fresh snapshot. */
  replan: () => Promise<RepairPlan>;
  /** Check the end state against plan.expected. */
  verify?: (plan: RepairPlan, signal: AbortSignal) => Promise<VerifyOutcome>;
  /** Aborted = the process is going away (see the module comment). */
  signal?: AbortSignal;
  /** Progress (e.g. to update a Slack message). Errors thrown here are ignored. */
  onStep?: (event: StepEvent) => void | Promise<void>;
}

export interface ExecutorOptions {
  redis: Redis;
  prefix: string;
  audit: AuditLog;
  handlers: StepHandlers;
  /** Who this worker is: "host-1234". */
  workerId: string;
  /** Lock lifetime; renewed every third of it (default 30 s). */
  lockTtlMs?: number;
  log?: Logger;
}

/** KEYS lock; ARGV token, ttlMs. */
const RENEW = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);
/** KEYS lock; ARGV token. */
const RELEASE = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);
/**
 * Fenced write. KEYS lock, hash; ARGV token, field to increment ('' for none), then field/value pairs.
 * Returns 1 when written, 0 when the lock is not ours.
 */
const FENCED = luaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[2], 1) end
if #ARGV > 2 then redis.call('HSET', KEYS[2], unpack(ARGV, 3)) end
return 1
`);

class LockLost extends Error {}
class Aborted extends Error {}

export class RepairExecutor {
  private readonly keys;
  private readonly log: Logger;
  private readonly lockTtlMs: number;

  constructor(readonly options: ExecutorOptions) {
    this.keys = redisKeys(options.prefix);
    this.log = options.log ?? createLogger('executor');
    this.lockTtlMs = options.lockTtlMs ?? 30_000;
  }

  private get redis(): Redis {
    return this.options.redis;
  }

  /** The recorded state of a request's execution (steps as far as known from the plan). */
  async state(
    requestId: string,
    plan: RepairPlan,
  ): Promise<{ status: string | null; message: string | null; steps: StepRecord[] }> {
    return withRedis(this.redis, async () => {
      const h = await this.redis.hgetall(this.keys.repair(requestId));
      return {
        status: h.status ?? null,
        message: h.message ?? null,
        steps: await this.readSteps(requestId, plan),
      };
    });
  }

  private async readSteps(requestId: string, plan: RepairPlan): Promise<StepRecord[]> {
    const p = this.redis.pipeline();
    plan.steps.forEach((_, i) => p.hgetall(this.keys.repairStep(requestId, i)));
    const rows = (await p.exec()) ?? [];
    return plan.steps.map((step, i) => {
      const h = (rows[i]?.[1] ?? {}) as Record<string, string>;
      return {
        index: i,
        action: step.action,
        description: describeStep(step),
        status: (h.status as StepStatus | undefined) ?? 'pending',
        attempts: Number(h.attempts ?? 0),
        ...(h.worker !== undefined ? { worker: h.worker } : {}),
        ...(h.startedAt !== undefined ? { startedAt: h.startedAt } : {}),
        ...(h.endedAt !== undefined ? { endedAt: h.endedAt } : {}),
        ...(h.detail !== undefined ? { detail: h.detail } : {}),
      };
    });
  }

  async execute(input: ExecuteInput): Promise<ExecutionResult> {
    const { requestId, plan } = input;
    const external = input.signal;
    const token = `${this.options.workerId}/${randomBytes(6).toString('hex')}`;
    const lockKey = this.keys.repairLock(requestId);
    const base = { requestId, resumed: false };

    // Handlers first: a worker that cannot run every step does not start.
    const missing = [
      ...new Set(plan.steps.filter((s) => !handlerFor(this.options.handlers, s)).map((s) => s.action)),
    ];
    if (missing.length > 0) {
      const message = `this worker has no handler for ${missing.join(', ')}: not started`;
      await this.audit('result', plan, requestId, 'refused', { message });
      return {
        ...base,
        status: 'refused',
        message,
        steps: await this.state(requestId, plan).then((s) => s.steps),
      };
    }

    const got = await withRedis(this.redis, () => this.redis.set(lockKey, token, 'PX', this.lockTtlMs, 'NX'));
    if (got !== 'OK') {
      const holder = await this.redis.get(lockKey);
      return {
        ...base,
        status: 'locked',
        message: `request ${requestId} is being executed by ${holder?.split('/')[0] ?? 'another worker'}`,
        steps: (await this.state(requestId, plan)).steps,
      };
    }

    // Our own signal: aborted by the caller (going away) or when the lock is lost.
    const inner = new AbortController();
    let lockLost = false;
    const onExternalAbort = () => inner.abort(new Aborted('aborted'));
    if (external?.aborted) onExternalAbort();
    external?.addEventListener('abort', onExternalAbort, { once: true });
    const renew = setInterval(
      () => {
        RENEW.run(this.redis, [lockKey], [token, this.lockTtlMs])
          .then((r) => {
            if (r !== 1 && !inner.signal.aborted) {
              lockLost = true;
              inner.abort(new LockLost('lock lost'));
            }
          })
          .catch((err: unknown) =>
            this.log.warn({ requestId, err: describeError(err) }, 'lock renewal failed'),
          );
      },
      Math.max(50, Math.floor(this.lockTtlMs / 3)),
    );

    const fenced = async (key: string, incr: string, fields: Record<string, string | number>) => {
      if (external?.aborted) throw new Aborted('aborted');
      const args: (string | number)[] = [token, incr];
      for (const [k, v] of Object.entries(fields)) args.push(k, v);
      const r = await withRedis(this.redis, () => FENCED.run(this.redis, [lockKey, key], args));
      if (r !== 1) {
        lockLost = true;
        throw new LockLost('lock lost');
      }
    };

    let released = false;
    const finish = async (): Promise<void> => {
      clearInterval(renew);
      external?.removeEventListener('abort', onExternalAbort);
      if (released || external?.aborted) return;
      released = true;
      await RELEASE.run(this.redis, [lockKey], [token]).catch(() => undefined);
    };

    try {
      return await this.run(input, inner.signal, fenced);
    } catch (err) {
      if (err instanceof Aborted || external?.aborted) {
        return { ...base, status: 'aborted', message: 'stopped: the worker is going away', steps: [] };
      }
      if (err instanceof LockLost || lockLost) {
        const message = `lost the lock on request ${requestId} (stalled past ${this.lockTtlMs} ms?): stopped`;
        this.log.warn({ requestId }, message);
        await this.audit('result', plan, requestId, 'lock-lost', { message }).catch(() => undefined);
        return { ...base, status: 'lock-lost', message, steps: (await this.state(requestId, plan)).steps };
      }
      throw err;
    } finally {
      await finish();
    }
  }

  private async run(
    input: ExecuteInput,
    signal: AbortSignal,
    fenced: (key: string, incr: string, fields: Record<string, string | number>) => Promise<void>,
  ): Promise<ExecutionResult> {
    const { requestId, plan } = input;
    const repairKey = this.keys.repair(requestId);
    const external = input.signal;
    const checkAbort = () => {
      if (external?.aborted) throw new Aborted('aborted');
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new LockLost('lock lost');
    };

    const h = await withRedis(this.redis, () => this.redis.hgetall(repairKey));
    if (h.status !== undefined && TERMINAL.has(h.status)) {
      return {
        requestId,
        resumed: false,
        status: h.status as ExecutionStatus,
        message: `already ended: ${h.message ?? h.status}`,
        steps: await this.readSteps(requestId, plan),
        ...(h.verification ? { verification: JSON.parse(h.verification) as VerifyOutcome } : {}),
      };
    }
    let steps = await this.readSteps(requestId, plan);
    const resumed = h.status !== undefined || steps.some((s) => s.status !== 'pending');
    const end = async (status: ExecutionStatus, message: string, extra: Record<string, string> = {}) => {
      checkAbort();
      await fenced(repairKey, '', { status, message, endedAt: new Date().toISOString(), ...extra });
      await this.audit('result', plan, requestId, status, { message, ...extra });
      return { requestId, resumed, status, message, steps: await this.readSteps(requestId, plan) };
    };

    if (!resumed) {
      const fresh = await input.replan();
      checkAbort();
      const diffs = diffPlans(plan, fresh);
      if (diffs.length > 0) {
        return end('changed', `the cluster changed since the plan: ${diffs.join('; ')}`);
      }
    }

    checkAbort();
    await fenced(repairKey, 'runs', {
      status: 'running',
      worker: this.options.workerId,
      kind: plan.kind,
      cluster: plan.cluster,
      steps: plan.steps.length,
      ...(h.startedAt === undefined ? { startedAt: new Date().toISOString() } : {}),
    });
    const firstOpen = steps.findIndex((s) => s.status !== 'done');
    await this.audit(resumed ? 'repair-resume' : 'repair-start', plan, requestId, 'running', {
      kind: plan.kind,
      steps: plan.steps.length,
      ...(resumed ? { from: firstOpen + 1 } : {}),
    });

    const emit = async (event: StepEvent) => {
      try {
        await input.onStep?.(event);
      } catch (err) {
        this.log.debug({ err: describeError(err) }, 'onStep failed');
      }
    };

    for (let i = 0; i < plan.steps.length; i++) {
      checkAbort();
      const step = plan.steps[i]!;
      const rec = steps[i]!;
      const stepKey = this.keys.repairStep(requestId, i);
      const handler = handlerFor(this.options.handlers, step)!;
      if (rec.status === 'done' || (rec.status === 'failed' && step.optional)) {
        await this.audit('step-skip', plan, requestId, `already ${rec.status}`, {
          step: i + 1,
          description: rec.description,
        });
        await emit({ index: i, phase: 'skip', step: rec });
        continue;
      }
      const interrupted = rec.status === 'started' || rec.status === 'failed';
      if (interrupted && !handler.idempotent) {
        const message =
          `step ${i + 1} (${rec.description}) was started by ${rec.worker ?? 'a worker'}` +
          `${rec.startedAt ? ` at ${rec.startedAt}` : ''} and did not finish; it is not safe to repeat ` +
          `automatically. Check the cluster, then mark the step done or to be re-run (resolveStep) and run the ` +
          `request again.`;
        return end('needs-operator', message, { step: String(i + 1) });
      }
      const now = new Date().toISOString();
      await fenced(stepKey, 'attempts', {
        status: 'started',
        worker: this.options.workerId,
        startedAt: now,
        action: step.action,
      });
      const attempt = rec.attempts + 1;
      await this.audit('step-start', plan, requestId, interrupted ? 'resumed' : 'started', {
        step: i + 1,
        description: rec.description,
        attempt,
      });
      await emit({ index: i, phase: 'start', step: { ...rec, status: 'started', attempts: attempt } });

      let outcome: StepOutcome;
      try {
        outcome = await raceAbort(
          handler(step, {
            requestId,
            plan,
            index: i,
            attempt,
            resumed: interrupted,
            workerId: this.options.workerId,
            signal,
            log: this.log,
          }),
          signal,
        );
      } catch (err) {
        checkAbort();
        outcome = { ok: false, detail: describeError(err) };
      }
      checkAbort();
      const status: StepStatus = outcome.ok ? 'done' : 'failed';
      await fenced(stepKey, '', {
        status,
        endedAt: new Date().toISOString(),
        ...(outcome.detail !== undefined ? { detail: outcome.detail } : {}),
      });
      await this.audit('step-end', plan, requestId, status, {
        step: i + 1,
        description: rec.description,
        ...(outcome.detail !== undefined ? { detail: outcome.detail } : {}),
        ...(outcome.data ? { data: outcome.data } : {}),
      });
      steps = await this.readSteps(requestId, plan);
      await emit({ index: i, phase: outcome.ok ? 'done' : 'failed', step: steps[i]! });
      if (!outcome.ok && !step.optional) {
        return end('failed', `step ${i + 1} (${rec.description}) failed: ${outcome.detail ?? 'no detail'}`, {
          step: String(i + 1),
        });
      }
    }

    checkAbort();
    if (input.verify) {
      let v: VerifyOutcome;
      try {
        v = await input.verify(plan, signal);
      } catch (err) {
        checkAbort();
        v = { ok: false, detail: `verification could not run: ${describeError(err)}` };
      }
      checkAbort();
      await this.audit('verify', plan, requestId, v.ok ? 'ok' : 'failed', { detail: v.detail });
      const r = await end(
        v.ok ? 'done' : 'verify-failed',
        v.ok ? `done and verified: ${v.detail}` : `steps done but verification failed: ${v.detail}`,
        {
          verification: JSON.stringify(v),
        },
      );
      return { ...r, verification: v };
    }
    return end('done', `done: ${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}`);
  }

  /**
   * After "needs-operator": a person checked the cluster and says the interrupted step is `done` (it completed)
   * or `rerun` (it did not happen: safe to run). The request becomes runnable again; audited.
   */
  async resolveStep(
    requestId: string,
    plan: RepairPlan,
    index: number,
    resolution: 'done' | 'rerun',
    who: string,
    where = 'cli',
  ): Promise<{ ok: boolean; message: string }> {
    const steps = await this.readSteps(requestId, plan);
    const rec = steps[index];
    if (rec === undefined) return { ok: false, message: `the plan has no step ${index + 1}` };
    const h = await withRedis(this.redis, () => this.redis.hgetall(this.keys.repair(requestId)));
    if (h.status !== 'needs-operator') {
      return {
        ok: false,
        message: `request ${requestId} is ${h.status ?? 'not started'}, not waiting for an operator`,
      };
    }
    const stepKey = this.keys.repairStep(requestId, index);
    await withRedis(this.redis, async () => {
      const m = this.redis.multi();
      if (resolution === 'done')
        m.hset(stepKey, {
          status: 'done',
          endedAt: new Date().toISOString(),
          detail: `marked done by ${who}`,
        });
      else m.hset(stepKey, { status: 'pending', detail: `marked for a re-run by ${who}` });
      m.hset(this.keys.repair(requestId), {
        status: 'running',
        message: `resolved by ${who}: step ${index + 1} ${resolution}`,
      });
      await m.exec();
    });
    await this.options.audit.append({
      who,
      what: 'step-resolve',
      cluster: plan.cluster,
      where,
      jobId: requestId,
      outcome: resolution,
      details: { step: index + 1, description: rec.description },
    });
    return {
      ok: true,
      message: `step ${index + 1} (${rec.description}) marked ${resolution === 'done' ? 'done' : 'for a re-run'}`,
    };
  }

  private async audit(
    what: string,
    plan: RepairPlan,
    requestId: string,
    outcome: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.options.audit.append({
      who: this.options.workerId,
      what,
      cluster: plan.cluster,
      where: `worker:${this.options.workerId}`,
      jobId: requestId,
      outcome,
      details,
    });
  }
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Run an approved request: loads it, refuses unless its status is "approved", then executes its stored plan.
 * This is what a worker's repair job calls (job id = request id).
 */
export async function executeApproved(
  approvals: Approvals,
  executor: RepairExecutor,
  requestId: string,
  rest: Omit<ExecuteInput, 'requestId' | 'plan'>,
): Promise<ExecutionResult> {
  const request = await approvals.get(requestId);
  if (request === null || request.status !== 'approved') {
    const message =
      request === null
        ? `no repair request ${requestId}`
        : `request ${requestId} is ${request.status}, not approved: not run`;
    return { requestId, status: 'refused', message, steps: [], resumed: false };
  }
  return executor.execute({ requestId, plan: request.plan, ...rest });
}
