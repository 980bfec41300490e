/**
 * The append-only audit log: a Redis Stream `<prefix>:audit` whose entries form one hash chain (see chain.ts),
 * plus a hash `<prefix>:audit:meta` holding the chain's head (lastId, lastHash), the trim anchor (anchorId,
 * anchorHash: the last entry removed by retention) and the export mark (exportedId, exportedAt).
 *
 * Atomicity: an appender hashes its entry over the head it believes current and runs one Lua script that
 * compares that head with the meta (compare-and-swap), and only if it matches XADDs the entry and moves the
 * head. On a mismatch the script returns the current head and the appender hashes again. Any number of
 * processes therefore extend one chain; a single writer needs one round trip per entry (it caches the head).
 *
 * Retention (maxEntries / maxAgeDays) trims only entries at or before the export mark, in a Lua script that
 * also records the last removed entry as the anchor, so verify() still starts from a known hash.
 */
import type { Redis } from 'ioredis';
import type { Inventory } from '../config/index.js';
import { luaScript, redisKeys, withRedis } from '../redis.js';
import {
  CHAIN_VERSION,
  ChainVerifier,
  GENESIS_HASH,
  GENESIS_ID,
  canonicalJson,
  compareIds,
  entryHash,
  isStreamId,
  type ChainBreak,
  type ChainPoint,
  type RawRecord,
} from './chain.js';
import { scrubSecrets } from './scrub.js';

/** Event types written by this project; other strings are allowed. */
export type AuditWhat =
  | 'command'
  | 'plan'
  | 'request'
  | 'approve'
  | 'approved'
  | 'deny'
  | 'expire'
  | 'refuse'
  | 'enqueue'
  | 'repair-start'
  | 'repair-resume'
  | 'step-start'
  | 'step-end'
  | 'step-skip'
  | 'verify'
  | 'result'
  | 'export'
  | 'retention'
  | (string & {});

export interface AuditInput {
  /** Slack user id, OS user, or worker id. */
  who: string;
  what: AuditWhat;
  cluster?: string | null;
  /** "slack:C0123", "cli", "worker:host-1234"... */
  where: string;
  /** "ok", "refused:self-approval", "error", "pending"... (default "ok"). */
  outcome?: string;
  /** BullMQ job id or repair request id. */
  jobId?: string | null;
  /** Scrubbed of secrets before it is stored. */
  details?: Record<string, unknown>;
  /** Default: now. */
  when?: Date | string;
}

export interface AuditEntry {
  who: string;
  what: string;
  cluster: string | null;
  where: string;
  when: string;
  outcome: string;
  jobId: string | null;
  details: Record<string, unknown>;
}

export interface AuditRecord {
  id: string;
  prevId: string;
  prev: string;
  hash: string;
  /** null when the stored entry is not a readable audit entry (verify says more). */
  entry: AuditEntry | null;
}

export interface AppendResult {
  id: string;
  hash: string;
  /** Head conflicts with other appenders that were retried. */
  retries: number;
}

export type VerifyResult = {
  ok: boolean;
  /** Entries checked and found linked. */
  entries: number;
  firstId: string | null;
  lastId: string | null;
  /** Where verification started: the last entry removed by retention, or null (the genesis). */
  anchorId: string | null;
  ms: number;
  /** The first broken link (null when ok). */
  broken: ChainBreak | null;
};

export interface ExportOptions {
  /** Export entries after this id; "0" = from the oldest kept. Default: after the export mark. */
  sinceId?: string;
  /** Receives each batch of JSON lines (each ending in "\n"); without it the lines are returned. */
  write?: (lines: string) => void | Promise<void>;
  batchSize?: number;
  /** Export at most this many entries. */
  limit?: number;
  /** Move the export mark to the last exported id (default true). Retention trims only up to the mark. */
  record?: boolean;
}

export interface ExportResult {
  count: number;
  firstId: string | null;
  lastId: string | null;
  /** Where the export started ("-" = from the oldest kept). */
  from: string;
  /** True when `sinceId` is older than the trim anchor: entries in between were already removed. */
  gap: boolean;
  lines?: string[];
}

export interface RetainResult {
  trimmed: number;
  /** The last removed entry (the new anchor), when something was removed. */
  anchorId: string | null;
  /** Entries the policy would remove but that are not exported yet. */
  blockedByExport: boolean;
  length: number;
}

export interface AuditMeta {
  lastId: string | null;
  lastHash: string | null;
  anchorId: string | null;
  anchorHash: string | null;
  exportedId: string | null;
  exportedAt: string | null;
  length: number;
}

export interface AuditLogOptions {
  prefix: string;
  maxEntries?: number;
  maxAgeDays?: number;
  /** Run retention after every N appends of this process (0 = never; default 1000). */
  retainEvery?: number;
  /** Entries per XRANGE while verifying/exporting (default 2000). */
  batchSize?: number;
}

const LUA_HELPERS = `
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function gt(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  if am ~= bm then return am > bm end
  return as > bs
end
`;

/** CAS append: KEYS stream, meta; ARGV prevHash, prevId, hash, e, version, genesisHash. */
const APPEND = luaScript(`
local cur = redis.call('HMGET', KEYS[2], 'lastHash', 'lastId')
local lastHash = cur[1] or ARGV[6]
local lastId = cur[2] or '0-0'
if lastHash ~= ARGV[1] or lastId ~= ARGV[2] then
  return {0, lastHash, lastId}
end
local id = redis.call('XADD', KEYS[1], '*', 'v', ARGV[5], 'prevId', ARGV[2], 'prev', ARGV[1], 'h', ARGV[3], 'e', ARGV[4])
redis.call('HSET', KEYS[2], 'lastHash', ARGV[3], 'lastId', id)
return {1, id}
`);

/** Move the export mark forward only. KEYS meta; ARGV id, isoTime. */
const MARK_EXPORTED = luaScript(`${LUA_HELPERS}
local cur = redis.call('HGET', KEYS[1], 'exportedId')
if (not cur) or gt(ARGV[1], cur) then
  redis.call('HSET', KEYS[1], 'exportedId', ARGV[1], 'exportedAt', ARGV[2])
  return 1
end
return 0
`);

/**
 * Retention, one batch: KEYS stream, meta; ARGV maxEntries (0 = no limit), maxAgeMs (0 = no limit), batch.
 * Removes the oldest entries the policy allows, never past the export mark; records the anchor.
 * Returns {removed, blockedByExport, lengthAfter, anchorId|false}.
 */
const RETAIN = luaScript(`${LUA_HELPERS}
local maxEntries = tonumber(ARGV[1])
local maxAge = tonumber(ARGV[2])
local batch = tonumber(ARGV[3])
local len = redis.call('XLEN', KEYS[1])
local over = 0
if maxEntries > 0 and len > maxEntries then over = len - maxEntries end
local cutoff = nil
if maxAge > 0 then
  local t = redis.call('TIME')
  cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - maxAge
end
if over == 0 and cutoff == nil then return {0, 0, len, false} end
local exported = redis.call('HGET', KEYS[2], 'exportedId')
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', batch)
local lastDrop = nil
local lastHash = ''
local n = 0
local blocked = 0
for i, ent in ipairs(entries) do
  local id = ent[1]
  local ms = parse(id)
  local byLen = i <= over
  local byAge = (cutoff ~= nil) and (ms < cutoff)
  if not (byLen or byAge) then break end
  if (not exported) or gt(id, exported) then blocked = 1; break end
  lastDrop = id
  lastHash = ''
  local f = ent[2]
  for j = 1, #f, 2 do if f[j] == 'h' then lastHash = f[j + 1] end end
  n = i
end
if lastDrop then
  local ms, seq = parse(lastDrop)
  redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', ms, seq + 1))
  redis.call('HSET', KEYS[2], 'anchorId', lastDrop, 'anchorHash', lastHash)
  return {n, blocked, len - n, lastDrop}
end
return {0, blocked, len, false}
`);

type StreamReply = [string, string[]][];

function toRaw(reply: StreamReply): RawRecord[] {
  return reply.map(([id, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
    return { id, fields };
  });
}

function parseEntry(e: string | undefined): AuditEntry | null {
  if (e === undefined) return null;
  try {
    const v = JSON.parse(e) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
    const o = v as Record<string, unknown>;
    if (typeof o.who !== 'string' || typeof o.what !== 'string') return null;
    return o as unknown as AuditEntry;
  } catch {
    return null;
  }
}

function toRecord(r: RawRecord): AuditRecord {
  return {
    id: r.id,
    prevId: r.fields.prevId ?? '',
    prev: r.fields.prev ?? '',
    hash: r.fields.h ?? '',
    entry: parseEntry(r.fields.e),
  };
}

/** The stored form of an input: defaults filled in, details scrubbed, canonical key order. */
export function normalizeEntry(input: AuditInput): AuditEntry {
  const when =
    input.when === undefined
      ? new Date().toISOString()
      : typeof input.when === 'string'
        ? input.when
        : input.when.toISOString();
  const details = scrubSecrets(input.details ?? {}) as Record<string, unknown>;
  return {
    who: String(input.who),
    what: String(input.what),
    cluster: input.cluster ?? null,
    where: String(input.where),
    when,
    outcome: input.outcome ?? 'ok',
    jobId: input.jobId ?? null,
    details,
  };
}

const ENTRY_KEYS = ['who', 'what', 'cluster', 'where', 'when', 'outcome', 'jobId', 'details'] as const;

/** One exported JSON line: the chain fields and the entry, flat. Verifiable with verifyExport(). */
export function exportLine(r: RawRecord): string {
  const { e, v, prevId, prev, h } = r.fields;
  const entry = parseEntry(e);
  if (entry === null || e === undefined || !e.startsWith('{"') || !ENTRY_KEYS.every((k) => k in entry)) {
    const base = { id: r.id, prevId: prevId ?? null, prev: prev ?? null, hash: h ?? null };
    return JSON.stringify({ ...base, v: v ?? null, malformed: true, raw: e ?? null });
  }
  // The stored entry is already the canonical JSON of an object: splice it in rather than re-serialise it.
  const j = JSON.stringify;
  return `{"id":${j(r.id)},"prevId":${j(prevId ?? null)},"prev":${j(prev ?? null)},"hash":${j(h ?? null)},"v":${j(v ?? null)},${e.slice(1)}`;
}

/**
 * Verify exported JSON lines (in order) offline. `anchor`: the chain point before the first line (the entry
 * before it: its id and hash), or null when the export starts at the genesis.
 */
export function verifyExport(lines: Iterable<string>, anchor: ChainPoint | null = null): VerifyResult {
  const t0 = Date.now();
  const v = new ChainVerifier(anchor);
  let lastId: string | null = null;
  for (const line of lines) {
    if (line.trim() === '') continue;
    const o = JSON.parse(line) as Record<string, unknown>;
    const fields: Record<string, string> = {};
    for (const k of ['v', 'prevId', 'prev'] as const) if (typeof o[k] === 'string') fields[k] = o[k];
    if (typeof o.hash === 'string') fields.h = o.hash;
    if (o.malformed === true) {
      if (typeof o.raw === 'string') fields.e = o.raw;
    } else {
      const entry: Record<string, unknown> = {};
      for (const k of ENTRY_KEYS) entry[k] = o[k];
      fields.e = canonicalJson(entry);
    }
    const id = String(o.id);
    lastId = id;
    if (v.push({ id, fields })) break;
  }
  return {
    ok: v.broken === null,
    entries: v.checked,
    firstId: v.firstId,
    lastId: v.broken ? lastId : v.head.id === GENESIS_ID ? null : v.head.id,
    anchorId: anchor?.id ?? null,
    ms: Date.now() - t0,
    broken: v.broken,
  };
}

export class AuditLog {
  readonly keys: { stream: string; meta: string };
  private head: ChainPoint | null = null;
  private appendsSinceRetain = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly batch: number;

  constructor(
    readonly redis: Redis,
    readonly options: AuditLogOptions,
  ) {
    const k = redisKeys(options.prefix);
    this.keys = { stream: k.audit, meta: k.auditMeta };
    this.batch = options.batchSize ?? 2000;
  }

  /**
   * Append one entry to the chain. Safe from any number of processes at once; within this instance appends are
   * sent one at a time (in call order), so that they do not compete with each other for the head.
   */
  append(input: AuditInput): Promise<AppendResult> {
    const e = canonicalJson(normalizeEntry(input));
    const run = this.queue.then(() => this.appendNow(e));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async appendNow(e: string): Promise<AppendResult> {
    return withRedis(this.redis, async () => {
      let head = this.head ?? { id: GENESIS_ID, hash: GENESIS_HASH };
      for (let retries = 0; ; retries++) {
        const h = entryHash(CHAIN_VERSION, head.id, head.hash, e);
        const r = (await APPEND.run(
          this.redis,
          [this.keys.stream, this.keys.meta],
          [head.hash, head.id, h, e, CHAIN_VERSION, GENESIS_HASH],
        )) as [number, string, string?];
        if (r[0] === 1) {
          this.head = { id: r[1], hash: h };
          await this.maybeRetain();
          return { id: r[1], hash: h, retries };
        }
        head = { hash: r[1], id: r[2] ?? GENESIS_ID };
        // Many appenders at once: back off a little so the round trips do not all collide again.
        if (retries > 8) await new Promise((res) => setTimeout(res, Math.random() * Math.min(retries, 20)));
        if (retries > 10_000) throw new Error('audit append: the chain head keeps moving (10000 conflicts)');
      }
    });
  }

  private async maybeRetain(): Promise<void> {
    const every = this.options.retainEvery ?? 1000;
    if (every <= 0 || (this.options.maxEntries === undefined && this.options.maxAgeDays === undefined))
      return;
    if (++this.appendsSinceRetain < every) return;
    this.appendsSinceRetain = 0;
    await this.retain();
  }

  async meta(): Promise<AuditMeta> {
    return withRedis(this.redis, async () => {
      const [m, len] = await Promise.all([
        this.redis.hgetall(this.keys.meta),
        this.redis.xlen(this.keys.stream),
      ]);
      return {
        lastId: m.lastId ?? null,
        lastHash: m.lastHash ?? null,
        anchorId: m.anchorId ?? null,
        anchorHash: m.anchorHash ?? null,
        exportedId: m.exportedId ?? null,
        exportedAt: m.exportedAt ?? null,
        length: len,
      };
    });
  }

  /** The newest n entries, oldest first. */
  async tail(n = 20): Promise<AuditRecord[]> {
    return withRedis(this.redis, async () => {
      const reply = (await this.redis.xrevrange(this.keys.stream, '+', '-', 'COUNT', n)) as StreamReply;
      return toRaw(reply).reverse().map(toRecord);
    });
  }

  /** Entries after `afterId` (exclusive; "-" for the oldest), at most `count`. */
  async read(afterId = '-', count = 100): Promise<AuditRecord[]> {
    return withRedis(this.redis, async () => (await this.readRaw(afterId, count)).map(toRecord));
  }

  private async readRaw(afterId: string, count: number): Promise<RawRecord[]> {
    const start = afterId === '-' ? '-' : `(${afterId}`;
    return toRaw((await this.redis.xrange(this.keys.stream, start, '+', 'COUNT', count)) as StreamReply);
  }

  /**
   * Walk the whole stream from the trim anchor and report the first broken link. Appends and retention may go
   * on meanwhile: the anchor is read atomically with the first batch and the head atomically with the last.
   */
  async verify(): Promise<VerifyResult> {
    const t0 = Date.now();
    return withRedis(this.redis, async () => {
      for (let attempt = 0; ; attempt++) {
        const r = await this.verifyOnce(t0);
        // A "missing" entry that retention removed meanwhile is not a break: start again.
        if (r.broken?.reason === 'missing' && attempt < 3) {
          const anchorNow = await this.redis.hget(this.keys.meta, 'anchorId');
          if (anchorNow !== null && anchorNow !== r.anchorId && compareIds(anchorNow, r.broken.id) >= 0)
            continue;
        }
        return r;
      }
    });
  }

  private async verifyOnce(t0: number): Promise<VerifyResult> {
    const first = await this.redis
      .multi()
      .hmget(this.keys.meta, 'anchorId', 'anchorHash')
      .xrange(this.keys.stream, '-', '+', 'COUNT', this.batch)
      .exec();
    const [anchorId, anchorHash] = (first?.[0]?.[1] ?? [null, null]) as [string | null, string | null];
    const anchor = anchorId !== null ? { id: anchorId, hash: anchorHash ?? '' } : null;
    const v = new ChainVerifier(anchor);
    let batch = toRaw((first?.[1]?.[1] ?? []) as StreamReply);
    let last: string | null = null;
    const result = (): VerifyResult => ({
      ok: v.broken === null,
      entries: v.checked,
      firstId: v.firstId,
      lastId: last,
      anchorId,
      ms: Date.now() - t0,
      broken: v.broken,
    });
    for (;;) {
      for (const rec of batch) {
        last = rec.id;
        if (v.push(rec)) return result();
      }
      if (batch.length === this.batch && last !== null) {
        batch = await this.readRaw(last, this.batch);
        continue;
      }
      // Possibly the end: read what follows together with the head, atomically.
      const after = last ?? anchorId;
      const end = await this.redis
        .multi()
        .xrange(this.keys.stream, after === null ? '-' : `(${after}`, '+', 'COUNT', this.batch)
        .hmget(this.keys.meta, 'lastId', 'lastHash')
        .exec();
      const more = toRaw((end?.[0]?.[1] ?? []) as StreamReply);
      if (more.length > 0) {
        batch = more;
        continue;
      }
      const [lastId, lastHash] = (end?.[1]?.[1] ?? [null, null]) as [string | null, string | null];
      const head = lastId !== null ? { id: lastId, hash: lastHash ?? '' } : null;
      let firstAfter: string | undefined;
      if (head !== null && compareIds(v.head.id, head.id) > 0) {
        const x = await this.readRaw(head.id, 1);
        firstAfter = x[0]?.id;
      }
      v.finish(head, firstAfter);
      return result();
    }
  }

  /**
   * Export entries as JSON lines (see exportLine) in batches; after each batch is written, the export mark moves
   * to its last id (unless record is false). Retention never removes entries after the mark.
   */
  async export(options: ExportOptions = {}): Promise<ExportResult> {
    const batchSize = options.batchSize ?? this.batch;
    const record = options.record ?? true;
    return withRedis(this.redis, async () => {
      const m = await this.redis.hmget(this.keys.meta, 'exportedId', 'anchorId');
      const [exportedId, anchorId] = m as [string | null, string | null];
      let from: string;
      if (options.sinceId === undefined) from = exportedId ?? '-';
      else if (options.sinceId === '0' || options.sinceId === '0-0' || options.sinceId === '-') from = '-';
      else if (isStreamId(options.sinceId)) from = options.sinceId;
      else throw new Error(`--since: "${options.sinceId}" is not a stream id (like 1700000000000-0) or 0`);
      const gap = from === '-' ? anchorId !== null : anchorId !== null && compareIds(from, anchorId) < 0;
      const lines: string[] | undefined = options.write ? undefined : [];
      let count = 0;
      let firstId: string | null = null;
      let lastId: string | null = null;
      let cursor = from;
      const limit = options.limit ?? Infinity;
      for (;;) {
        const want = Math.min(batchSize, limit - count);
        if (want <= 0) break;
        const batch = await this.readRaw(cursor, want);
        if (batch.length === 0) break;
        const out = batch.map(exportLine);
        if (options.write) await options.write(out.map((l) => `${l}\n`).join(''));
        else lines?.push(...out);
        count += batch.length;
        firstId ??= batch[0]?.id ?? null;
        lastId = batch[batch.length - 1]?.id ?? lastId;
        cursor = lastId ?? cursor;
        if (record && lastId !== null) {
          await MARK_EXPORTED.run(this.redis, [this.keys.meta], [lastId, new Date().toISOString()]);
        }
        if (batch.length < want) break;
      }
      return { count, firstId, lastId, from, gap, ...(lines ? { lines } : {}) };
    });
  }

  /**
   * Apply maxEntries / maxAgeDays: remove the oldest entries, but never one after the export mark. The last
   * removed entry becomes the anchor verify() starts from.
   */
  async retain(): Promise<RetainResult> {
    const maxEntries = this.options.maxEntries ?? 0;
    const maxAgeMs = (this.options.maxAgeDays ?? 0) * 86_400_000;
    return withRedis(this.redis, async () => {
      let trimmed = 0;
      let anchorId: string | null = null;
      for (;;) {
        const r = (await RETAIN.run(
          this.redis,
          [this.keys.stream, this.keys.meta],
          [maxEntries, maxAgeMs, this.batch],
        )) as [number, number, number, string | null];
        trimmed += r[0];
        if (r[3]) anchorId = r[3];
        if (r[0] < this.batch || r[1] === 1) {
          return { trimmed, anchorId, blockedByExport: r[1] === 1, length: r[2] };
        }
      }
    });
  }
}

/** The audit log of an inventory (retention from its `audit` section). */
export function auditLogFor(
  redis: Redis,
  inventory: Pick<Inventory, 'redis' | 'audit'>,
  retainEvery?: number,
): AuditLog {
  return new AuditLog(redis, {
    prefix: inventory.redis.prefix,
    maxEntries: inventory.audit.maxEntries,
    ...(inventory.audit.maxAgeDays !== undefined ? { maxAgeDays: inventory.audit.maxAgeDays } : {}),
    ...(retainEvery !== undefined ? { retainEvery } : {}),
  });
}
