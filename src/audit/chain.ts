/**
 * The hash chain of the audit log, as pure functions (used on the Redis stream and on exported JSON lines).
 *
 * Every entry stores `prevId` and `prev` (the stream id and hash of the entry before it; "0-0" and 64 zeros
 * for the first one) and its own `hash` = sha256("1\n" + prevId + "\n" + prev + "\n" + e), where `e` is the
 * entry's canonical JSON (sorted keys, no spaces). Own ids are bound by the next entry's `prevId` (and the
 * newest by the audit meta's `lastId`), so an entry deleted, edited, re-added (new id) or inserted breaks a link.
 */
import { createHash } from 'node:crypto';

export const CHAIN_VERSION = '1';
export const GENESIS_ID = '0-0';
export const GENESIS_HASH = '0'.repeat(64);

/** JSON with keys sorted at every level: the exact bytes that are hashed. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function entryHash(version: string, prevId: string, prevHash: string, e: string): string {
  return createHash('sha256').update(`${version}\n${prevId}\n${prevHash}\n${e}`).digest('hex');
}

/** Compare two stream ids ("ms-seq"): negative, 0, positive. */
export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

export function isStreamId(id: string): boolean {
  return /^\d+-\d+$/.test(id);
}

/** One stored entry as read back: the raw fields of the stream entry. */
export interface RawRecord {
  id: string;
  fields: Record<string, string>;
}

export type BreakReason =
  /** An entry's content no longer matches its hash, or an entry was replaced by one with a recomputed hash. */
  | 'edited'
  /** An entry the chain links to is not there: deleted, or moved (deleted and added again at the end). */
  | 'missing'
  /** An entry is in the log that the chain does not go through: forged or copied in. */
  | 'inserted'
  /** An entry without the chain fields, or with unreadable content. */
  | 'malformed'
  /** The newest entries are gone. */
  | 'truncated'
  /** The chain starts again from the beginning (the audit meta was lost or reset). */
  | 'restarted';

export interface ChainBreak {
  /** The entry at fault (the deleted, edited or inserted one) as far as it can be told. */
  id: string;
  /** The entry at which the break was noticed. */
  at: string;
  reason: BreakReason;
  message: string;
}

export interface ChainPoint {
  id: string;
  hash: string;
}

/**
 * Walks a chain in stream order, one record at a time, and stops at the first broken link.
 * Start it at the trim anchor (the last entry removed by retention) or at the genesis.
 */
export class ChainVerifier {
  private expected: ChainPoint;
  private beforeExpected: string | null = null;
  private readonly anchored: boolean;
  checked = 0;
  firstId: string | null = null;
  broken: ChainBreak | null = null;

  constructor(anchor: ChainPoint | null) {
    this.anchored = anchor !== null;
    this.expected = anchor ?? { id: GENESIS_ID, hash: GENESIS_HASH };
  }

  /** The last good entry (or the anchor / genesis). */
  get head(): ChainPoint {
    return this.expected;
  }

  private fail(b: ChainBreak): ChainBreak {
    this.broken = b;
    return b;
  }

  /** Check one record; returns the break (and keeps returning it) once the chain is broken. */
  push(rec: RawRecord): ChainBreak | null {
    if (this.broken) return this.broken;
    const f = rec.fields;
    const { v, prevId, prev, h, e } = f;
    if (
      v === undefined ||
      prevId === undefined ||
      prev === undefined ||
      h === undefined ||
      e === undefined ||
      !isStreamId(prevId) ||
      !/^[0-9a-f]{64}$/.test(prev)
    ) {
      return this.fail({
        id: rec.id,
        at: rec.id,
        reason: 'malformed',
        message: `entry ${rec.id} is not an audit entry (no chain fields: forged or corrupted)`,
      });
    }
    if (entryHash(v, prevId, prev, e) !== h) {
      return this.fail({
        id: rec.id,
        at: rec.id,
        reason: 'edited',
        message: `entry ${rec.id} was altered: its content does not match its hash`,
      });
    }
    const exp = this.expected;
    const where =
      exp.id === GENESIS_ID
        ? 'the start of the log'
        : this.isAnchor(exp)
          ? `the trim anchor ${exp.id}`
          : exp.id;
    if (prevId !== exp.id || prev !== exp.hash) {
      if (prevId === exp.id) {
        return this.fail({
          id: exp.id,
          at: rec.id,
          reason: 'edited',
          message: this.isAnchor(exp)
            ? `entry ${rec.id} does not match the trim anchor ${exp.id}: the anchor or the entry was altered`
            : `entry ${exp.id} was altered: entry ${rec.id}, which follows it, recorded a different hash for it`,
        });
      }
      const c = compareIds(prevId, exp.id);
      if (c > 0) {
        return this.fail({
          id: prevId,
          at: rec.id,
          reason: 'missing',
          message: `entry ${prevId} is missing (deleted or moved): entry ${rec.id} follows it in the chain, but the log has ${where} before it`,
        });
      }
      if (prevId === GENESIS_ID) {
        return this.fail({
          id: rec.id,
          at: rec.id,
          reason: 'restarted',
          message: `the chain starts again at entry ${rec.id} (after ${where}): the audit meta was lost or reset`,
        });
      }
      if (this.isAnchor(exp)) {
        return this.fail({
          id: rec.id,
          at: rec.id,
          reason: 'inserted',
          message: `entry ${rec.id} links to ${prevId}, before the trim anchor ${exp.id}: the anchor or the entry was altered`,
        });
      }
      if (prevId === this.beforeExpected) {
        // A fork: the entry we hold and this one both follow prevId; the chain goes on from this one.
        return this.fail({
          id: exp.id,
          at: rec.id,
          reason: 'inserted',
          message: `entry ${exp.id} is not part of the chain (inserted): entry ${rec.id} links to ${prevId}, before it`,
        });
      }
      return this.fail({
        id: rec.id,
        at: rec.id,
        reason: 'inserted',
        message: `entry ${rec.id} is a copy or a forgery: it links to ${prevId}, far back in the chain (the log has ${exp.id} before it)`,
      });
    }
    this.beforeExpected = exp.id;
    this.expected = { id: rec.id, hash: h };
    if (this.firstId === null) this.firstId = rec.id;
    this.checked++;
    return null;
  }

  private isAnchor(p: ChainPoint): boolean {
    return this.anchored && this.checked === 0 && p === this.expected && p.id !== GENESIS_ID;
  }

  /**
   * After the last record: compare with what the appenders recorded as the newest entry. `firstAfterLast` is the
   * id of the first record after `last.id`, when the log has records past it (inserted at the end).
   */
  finish(last: ChainPoint | null, firstAfterLast?: string): ChainBreak | null {
    if (this.broken) return this.broken;
    const exp = this.expected;
    if (last === null) {
      if (exp.id === GENESIS_ID || this.checked === 0) return null;
      return this.fail({
        id: exp.id,
        at: exp.id,
        reason: 'truncated',
        message: `the audit meta (newest entry id and hash) is missing although the log has entries up to ${exp.id}`,
      });
    }
    if (last.id === exp.id) {
      if (last.hash === exp.hash) return null;
      return this.fail({
        id: exp.id,
        at: exp.id,
        reason: 'edited',
        message: `entry ${exp.id} was altered: its hash differs from the one recorded when it was appended`,
      });
    }
    if (compareIds(last.id, exp.id) > 0) {
      return this.fail({
        id: last.id,
        at: exp.id,
        reason: 'truncated',
        message: `the newest entries are missing: the log ends at ${exp.id === GENESIS_ID ? 'nothing' : exp.id} but the last appended entry was ${last.id}`,
      });
    }
    const id = firstAfterLast ?? exp.id;
    return this.fail({
      id,
      at: id,
      reason: 'inserted',
      message: `entry ${id} is not part of the chain (inserted after the newest appended entry ${last.id})`,
    });
  }
}
