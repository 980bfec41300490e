/**
 * Approval-gated repairs: a request for a repair plan is a small state machine stored in one Redis hash.
 *
 *   pending --approve (enough distinct approvers)--> approved --(enqueue once)--> executed by a worker
 *   pending --deny (an approver, or the requester withdrawing)--> denied
 *   pending --(expiresAt passed; noticed by approve/deny or by expireDue())--> expired
 *
 * Every transition runs in one Lua script (check and change together, with Redis' clock), so two approvers
 * clicking at the same instant, a double click or a Slack retry give exactly one transition to `approved`,
 * and only the caller that made that transition enqueues the execution. Every transition and every refusal
 * is written to the audit log.
 *
 * Keys: `<prefix>:approval:<id>` (hash), `<prefix>:approvals:pending` (zset id -> expiresAt ms),
 * `<prefix>:approvals:to-enqueue` (zset id -> approvedAt ms, until the enqueue succeeded).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AuditLog } from '../audit/index.js';
import type { Role } from '../config/index.js';
import type { RepairPlan } from '../model/index.js';
import { luaScript, redisKeys, withRedis } from '../redis.js';
import { createLogger } from '../log.js';

const log = createLogger('approvals');

export type EffectiveRole = Role | 'none';
/** Who may do what: the inventory's slack.users / defaultRole, or anything else. */
export type RoleLookup = (userId: string) => EffectiveRole | Promise<EffectiveRole>;

const RANK: Record<EffectiveRole, number> = { none: 0, viewer: 1, operator: 2, approver: 3 };

export function hasRole(role: EffectiveRole, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

export type RequestStatus = 'pending' | 'approved' | 'denied' | 'expired';

export interface Approval {
  who: string;
  /** ISO time (Redis clock). */
  at: string;
  where: string;
}

export interface RepairRequest {
  id: string;
  status: RequestStatus;
  kind: string;
  cluster: string;
  plan: RepairPlan;
  requester: string;
  /** Where it was asked: "slack:C0123", "cli". */
  where: string;
  createdAt: string;
  expiresAt: string;
  /** 1, or 2 for dangerous kinds (slack.dangerousRepairs). */
  approvalsNeeded: number;
  approvers: Approval[];
  decidedAt: string | null;
  /** The approver whose approval completed it, or who denied it. */
  decidedBy: string | null;
  /** Why it was denied. */
  reason: string | null;
  /** When the execution was enqueued (null until then). */
  enqueuedAt: string | null;
}

export type RequestRefusal = 'not-operator' | 'plan-refused' | 'no-steps' | 'cluster-mismatch';
export type ApproveRefusal =
  'not-found' | 'not-approver' | 'self-approval' | 'expired' | 'already-decided' | 'already-approved-by-you';
export type DenyRefusal = 'not-found' | 'not-allowed' | 'expired' | 'already-decided';

export type RequestResult =
  { ok: true; id: string; request: RepairRequest } | { ok: false; code: RequestRefusal; message: string };

export type ApproveResult =
  /** This approval completed the request; `enqueued` says whether the execution was queued. */
  | { ok: true; status: 'approved'; request: RepairRequest; enqueued: boolean; enqueueError?: string }
  /** Recorded; more approvals are needed (dangerous kinds). */
  | { ok: true; status: 'recorded'; request: RepairRequest; approvals: number; needed: number }
  | { ok: false; code: ApproveRefusal; message: string; status?: RequestStatus };

export type DenyResult =
  | { ok: true; status: 'denied'; request: RepairRequest }
  | { ok: false; code: DenyRefusal; message: string; status?: RequestStatus };

export interface ApprovalsOptions {
  redis: Redis;
  prefix: string;
  audit: AuditLog;
  roleOf: RoleLookup;
  /** Kinds that need two distinct approvers (slack.dangerousRepairs). */
  dangerousKinds?: readonly string[];
  /** clusters.<name>.repairs.approvalTtlMinutes (default 15); fractions are fine (tests). */
  ttlMinutes?: number | ((cluster: string) => number);
  /** Queue the execution (e.g. a BullMQ job whose id is the request id). Called once per approved request. */
  enqueue?: (request: RepairRequest) => Promise<void>;
  /** How long a decided request is kept (default 30 days). */
  keepDays?: number;
}

export const DEFAULT_DANGEROUS_KINDS = ['drain-broker', 'set-topic-config'] as const;
export const DEFAULT_TTL_MINUTES = 15;

/** Request ids are valid BullMQ job ids (no ":", not an integer) and safe in keys. */
export function newRequestId(): string {
  return `rq-${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`;
}

export function isRequestId(id: string): boolean {
  return /^rq-[a-z0-9]+-[0-9a-f]{10}$/.test(id);
}

const LUA_NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS hash, pending; ARGV id, ttlMs, keepMs, then field/value pairs. Returns {createdAt, expiresAt}. */
const CREATE = luaScript(`${LUA_NOW}
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('request id already exists') end
local expiresAt = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'createdAt', now, 'expiresAt', expiresAt, 'status', 'pending')
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], expiresAt, ARGV[1])
return {now, expiresAt}
`);

/** Shared start of approve/deny: exists, pending, not expired (expiring it if due). */
const LUA_GATE = `${LUA_NOW}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not-found'} end
local st = redis.call('HMGET', KEYS[1], 'status', 'requester', 'expiresAt', 'approvers', 'needed')
if st[1] ~= 'pending' then return {'already-decided', st[1]} end
if now >= tonumber(st[3]) then
  redis.call('HSET', KEYS[1], 'status', 'expired', 'decidedAt', now)
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'expired', 'now'}
end
`;

/**
 * KEYS hash, pending, to-enqueue; ARGV id, approver, where.
 * Returns {'approved'|'recorded', count, needed} or a refusal {code, detail}.
 */
const APPROVE = luaScript(`${LUA_GATE}
if ARGV[2] == st[2] then return {'self-approval'} end
local approvers = cjson.decode(st[4] or '[]')
for _, a in ipairs(approvers) do
  if a.who == ARGV[2] then return {'already-approved-by-you'} end
end
table.insert(approvers, { who = ARGV[2], at = now, where = ARGV[3] })
redis.call('HSET', KEYS[1], 'approvers', cjson.encode(approvers))
local needed = tonumber(st[5])
if #approvers >= needed then
  redis.call('HSET', KEYS[1], 'status', 'approved', 'decidedAt', now, 'decidedBy', ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZADD', KEYS[3], now, ARGV[1])
  return {'approved', #approvers, needed}
end
return {'recorded', #approvers, needed}
`);

/** KEYS hash, pending; ARGV id, who, reason, mayDeny ('1' approver role). */
const DENY = luaScript(`${LUA_GATE}
if ARGV[4] ~= '1' and ARGV[2] ~= st[2] then return {'not-allowed'} end
redis.call('HSET', KEYS[1], 'status', 'denied', 'decidedAt', now, 'decidedBy', ARGV[2], 'reason', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return {'denied'}
`);

/** KEYS pending; ARGV prefix of approval keys, max. Expires due pending requests; returns their ids. */
const EXPIRE_DUE = luaScript(`${LUA_NOW}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  redis.call('ZREM', KEYS[1], id)
  if redis.call('HGET', key, 'status') == 'pending' then
    redis.call('HSET', key, 'status', 'expired', 'decidedAt', now)
    table.insert(out, id)
  end
end
return out
`);

/** KEYS hash, to-enqueue; ARGV id. Marks the enqueue done once. */
const MARK_ENQUEUED = luaScript(`${LUA_NOW}
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HSETNX', KEYS[1], 'enqueuedAt', now)
`);

function iso(ms: string | undefined): string | null {
  if (ms === undefined || ms === '') return null;
  return new Date(Number(ms)).toISOString();
}

function parseRequest(id: string, h: Record<string, string>): RepairRequest | null {
  if (h.status === undefined || h.plan === undefined) return null;
  const approvers = (JSON.parse(h.approvers ?? '[]') as { who: string; at: number; where: string }[]).map(
    (a) => ({
      who: a.who,
      at: new Date(a.at).toISOString(),
      where: a.where,
    }),
  );
  return {
    id,
    status: h.status as RequestStatus,
    kind: h.kind ?? '',
    cluster: h.cluster ?? '',
    plan: JSON.parse(h.plan) as RepairPlan,
    requester: h.requester ?? '',
    where: h.where ?? '',
    createdAt: iso(h.createdAt) ?? '',
    expiresAt: iso(h.expiresAt) ?? '',
    approvalsNeeded: Number(h.needed ?? 1),
    approvers,
    decidedAt: iso(h.decidedAt),
    decidedBy: h.decidedBy ?? null,
    reason: h.reason ?? null,
    enqueuedAt: iso(h.enqueuedAt),
  };
}

const MESSAGES = {
  'not-operator': (who: string, role: EffectiveRole) =>
    `${who} may not request repairs: that needs the operator role (has: ${role})`,
  'not-approver': (who: string, role: EffectiveRole) =>
    `${who} may not approve repairs: that needs the approver role (has: ${role})`,
  'self-approval': (who: string) => `${who} requested this repair and cannot approve it: someone else must`,
  'already-approved-by-you': (who: string, needed: number) =>
    `${who} already approved this repair; it needs ${needed} different approvers`,
  expired: (id: string, at: string) => `request ${id} expired at ${at}: request the repair again`,
  'already-decided': (id: string, status: string) => `request ${id} is already ${status}`,
  'not-found': (id: string) => `no repair request ${id} (never existed, or too old)`,
  'not-allowed': (who: string) => `${who} may not deny this repair: only an approver or the requester can`,
};

export class Approvals {
  private readonly keys;
  private readonly toEnqueueKey: string;

  constructor(readonly options: ApprovalsOptions) {
    this.keys = redisKeys(options.prefix);
    this.toEnqueueKey = `${options.prefix}:approvals:to-enqueue`;
  }

  private get redis(): Redis {
    return this.options.redis;
  }

  private ttlMs(cluster: string): number {
    const t = this.options.ttlMinutes;
    const minutes = typeof t === 'function' ? t(cluster) : (t ?? DEFAULT_TTL_MINUTES);
    return Math.max(1, Math.round(minutes * 60_000));
  }

  isDangerous(kind: string): boolean {
    return (this.options.dangerousKinds ?? DEFAULT_DANGEROUS_KINDS).includes(kind);
  }

  async get(id: string): Promise<RepairRequest | null> {
    if (!isRequestId(id)) return null;
    return withRedis(this.redis, async () =>
      parseRequest(id, await this.redis.hgetall(this.keys.approval(id))),
    );
  }

  /** Pending requests, soonest to expire first. */
  async pending(): Promise<RepairRequest[]> {
    return withRedis(this.redis, async () => {
      const ids = await this.redis.zrange(this.keys.approvalsPending, '0', '-1');
      const out: RepairRequest[] = [];
      for (const id of ids) {
        const r = parseRequest(id, await this.redis.hgetall(this.keys.approval(id)));
        if (r?.status === 'pending') out.push(r);
      }
      return out;
    });
  }

  /** Propose a plan for approval. The requester needs the operator role; the plan must not be a refusal. */
  async requestRepair(input: {
    plan: RepairPlan;
    requester: string;
    cluster: string;
    where: string;
  }): Promise<RequestResult> {
    const { plan, requester, cluster, where } = input;
    const refuse = async (code: RequestRefusal, message: string): Promise<RequestResult> => {
      await this.audit('refuse', requester, cluster, where, null, `refused:${code}`, {
        action: 'request',
        kind: plan.kind,
        message,
      });
      return { ok: false, code, message };
    };
    const role = await this.options.roleOf(requester);
    if (!hasRole(role, 'operator')) return refuse('not-operator', MESSAGES['not-operator'](requester, role));
    if (plan.cluster !== cluster) {
      return refuse('cluster-mismatch', `the plan is for cluster ${plan.cluster}, not ${cluster}`);
    }
    if (plan.refusal !== null) return refuse('plan-refused', `the plan refuses to run: ${plan.refusal}`);
    if (plan.steps.length === 0) return refuse('no-steps', 'the plan has no steps: nothing to approve');

    const id = newRequestId();
    const needed = this.isDangerous(plan.kind) ? 2 : 1;
    const ttl = this.ttlMs(cluster);
    const keepMs = (this.options.keepDays ?? 30) * 86_400_000;
    await withRedis(this.redis, () =>
      CREATE.run(
        this.redis,
        [this.keys.approval(id), this.keys.approvalsPending],
        [
          id,
          ttl,
          keepMs,
          'kind',
          plan.kind,
          'cluster',
          cluster,
          'requester',
          requester,
          'where',
          where,
          'plan',
          JSON.stringify(plan),
          'needed',
          needed,
          'approvers',
          '[]',
        ],
      ),
    );
    const request = (await this.get(id))!;
    await this.audit('request', requester, cluster, where, id, 'pending', {
      kind: plan.kind,
      args: plan.args,
      steps: plan.steps.length,
      approvalsNeeded: needed,
      expiresAt: request.expiresAt,
    });
    return { ok: true, id, request };
  }

  /**
   * Approve: the approver needs the approver role and must not be the requester; before expiry; once.
   * Dangerous kinds need two distinct approvers. The call that completes the approval enqueues the execution.
   */
  async approve(id: string, approver: string, where = 'slack'): Promise<ApproveResult> {
    const role = await this.options.roleOf(approver);
    const before = await this.get(id);
    const cluster = before?.cluster ?? null;
    const refuse = async (
      code: ApproveRefusal,
      message: string,
      status?: RequestStatus,
    ): Promise<ApproveResult> => {
      await this.audit('refuse', approver, cluster, where, id, `refused:${code}`, {
        action: 'approve',
        message,
      });
      return { ok: false, code, message, ...(status ? { status } : {}) };
    };
    if (before === null) return refuse('not-found', MESSAGES['not-found'](id));
    // (Checked again in the script; here first so that a requester hears the more useful reason.)
    if (approver === before.requester) return refuse('self-approval', MESSAGES['self-approval'](approver));
    if (!hasRole(role, 'approver')) return refuse('not-approver', MESSAGES['not-approver'](approver, role));

    const r = (await withRedis(this.redis, () =>
      APPROVE.run(
        this.redis,
        [this.keys.approval(id), this.keys.approvalsPending, this.toEnqueueKey],
        [id, approver, where],
      ),
    )) as [string, (string | number)?, number?];
    const code = r[0];
    if (code === 'approved' || code === 'recorded') {
      const request = (await this.get(id))!;
      const count = Number(r[1]);
      const needed = Number(r[2]);
      if (code === 'recorded') {
        await this.audit('approve', approver, cluster, where, id, `recorded:${count}/${needed}`, {
          kind: request.kind,
          approvals: count,
          needed,
        });
        return { ok: true, status: 'recorded', request, approvals: count, needed };
      }
      await this.audit('approved', approver, cluster, where, id, 'approved', {
        kind: request.kind,
        requester: request.requester,
        approvers: request.approvers.map((a) => a.who),
      });
      const enq = await this.enqueueOnce(request, approver, where);
      const fresh = (await this.get(id)) ?? request;
      return {
        ok: true,
        status: 'approved',
        request: fresh,
        enqueued: enq.ok,
        ...(enq.error !== undefined ? { enqueueError: enq.error } : {}),
      };
    }
    if (code === 'expired') {
      if (r[1] === 'now') await this.auditExpiry(before, `noticed by ${approver}`);
      return refuse('expired', MESSAGES.expired(id, before.expiresAt), 'expired');
    }
    if (code === 'already-decided') {
      const status = String(r[1]) as RequestStatus;
      if (status === 'expired') return refuse('expired', MESSAGES.expired(id, before.expiresAt), status);
      return refuse('already-decided', MESSAGES['already-decided'](id, status), status);
    }
    if (code === 'self-approval') return refuse('self-approval', MESSAGES['self-approval'](approver));
    if (code === 'already-approved-by-you') {
      return refuse(
        'already-approved-by-you',
        MESSAGES['already-approved-by-you'](approver, before.approvalsNeeded),
      );
    }
    return refuse('not-found', MESSAGES['not-found'](id));
  }

  /** Deny (an approver) or withdraw (the requester). */
  async deny(id: string, who: string, reason: string, where = 'slack'): Promise<DenyResult> {
    const role = await this.options.roleOf(who);
    const before = await this.get(id);
    const cluster = before?.cluster ?? null;
    const refuse = async (
      code: DenyRefusal,
      message: string,
      status?: RequestStatus,
    ): Promise<DenyResult> => {
      await this.audit('refuse', who, cluster, where, id, `refused:${code}`, { action: 'deny', message });
      return { ok: false, code, message, ...(status ? { status } : {}) };
    };
    if (before === null) return refuse('not-found', MESSAGES['not-found'](id));
    const r = (await withRedis(this.redis, () =>
      DENY.run(
        this.redis,
        [this.keys.approval(id), this.keys.approvalsPending],
        [id, who, reason, hasRole(role, 'approver') ? '1' : '0'],
      ),
    )) as [string, string?];
    switch (r[0]) {
      case 'denied': {
        const request = (await this.get(id))!;
        await this.audit(
          'deny',
          who,
          cluster,
          where,
          id,
          who === request.requester ? 'withdrawn' : 'denied',
          {
            kind: request.kind,
            reason,
          },
        );
        return { ok: true, status: 'denied', request };
      }
      case 'expired':
        if (r[1] === 'now') await this.auditExpiry(before, `noticed by ${who}`);
        return refuse('expired', MESSAGES.expired(id, before.expiresAt), 'expired');
      case 'already-decided': {
        const status = String(r[1]) as RequestStatus;
        if (status === 'expired') return refuse('expired', MESSAGES.expired(id, before.expiresAt), status);
        return refuse('already-decided', MESSAGES['already-decided'](id, status), status);
      }
      case 'not-allowed':
        return refuse('not-allowed', MESSAGES['not-allowed'](who));
      default:
        return refuse('not-found', MESSAGES['not-found'](id));
    }
  }

  /** Expire every pending request past its time (run it periodically from a worker). Returns their ids. */
  async expireDue(max = 1000): Promise<string[]> {
    const ids = (await withRedis(this.redis, () =>
      EXPIRE_DUE.run(this.redis, [this.keys.approvalsPending], [this.keys.approval(''), max]),
    )) as string[];
    for (const id of ids) {
      const r = await this.get(id);
      if (r) await this.auditExpiry(r, 'expiry sweep');
    }
    return ids;
  }

  /**
   * Enqueue approved requests whose enqueue did not happen (the approving process died, or the queue was
   * down) and that were approved more than `graceMs` ago. Safe to repeat: with the request id as job id, a
   * queue ignores a second add.
   */
  async enqueueStranded(graceMs = 30_000): Promise<string[]> {
    const ids = await withRedis(this.redis, async () => {
      const t = await this.redis.time();
      const now = Number(t[0]) * 1000 + Math.floor(Number(t[1]) / 1000);
      return this.redis.zrangebyscore(this.toEnqueueKey, '-inf', now - graceMs);
    });
    const done: string[] = [];
    for (const id of ids) {
      const r = await this.get(id);
      if (r === null || r.status !== 'approved') {
        await this.redis.zrem(this.toEnqueueKey, id);
        continue;
      }
      if ((await this.enqueueOnce(r, 'sweeper', 'worker')).ok) done.push(id);
    }
    return done;
  }

  private async enqueueOnce(
    request: RepairRequest,
    who: string,
    where: string,
  ): Promise<{ ok: boolean; error?: string }> {
    const enqueue = this.options.enqueue;
    if (!enqueue) return { ok: false, error: 'no queue configured' };
    try {
      await enqueue(request);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.warn({ id: request.id, err: error }, 'enqueue failed; enqueueStranded() will retry');
      await this.audit('enqueue', who, request.cluster, where, request.id, 'error', { error });
      return { ok: false, error };
    }
    await withRedis(this.redis, () =>
      MARK_ENQUEUED.run(this.redis, [this.keys.approval(request.id), this.toEnqueueKey], [request.id]),
    );
    await this.audit('enqueue', who, request.cluster, where, request.id, 'ok', { kind: request.kind });
    return { ok: true };
  }

  private async auditExpiry(r: RepairRequest, how: string): Promise<void> {
    await this.audit('expire', 'system', r.cluster, 'approvals', r.id, 'expired', {
      kind: r.kind,
      requester: r.requester,
      expiresAt: r.expiresAt,
      approvals: r.approvers.length,
      how,
    });
  }

  private async audit(
    what: string,
    who: string,
    cluster: string | null,
    where: string,
    jobId: string | null,
    outcome: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.options.audit.append({ who, what, cluster, where, jobId, outcome, details });
  }
}
