/**
 * Scheduled checks: compare each result with the previous one (kept in Redis, read-compare-written under a
 * per-cluster lock so concurrent checks of one cluster each compare against the one just before) and report
 * only what changed. Critical findings are the incident tracker's; this covers warnings and infos.
 *
 * A finding the report could not have seen (its source was unreadable, or out of scope) is neither "cleared"
 * nor forgotten: it is carried over to the next comparison.
 */
import type { Redis } from 'ioredis';
import type { Finding, Report } from '../src/model/index.js';
import { withLock } from '../src/queue/lock.js';
import { findingKey, type FindingChange } from '../src/slack/blocks.js';
import { reportCovers } from '../src/slack/incidents.js';

/** What is remembered of a finding between checks. */
export interface FindingDigest {
  code: Finding['code'];
  severity: Finding['severity'];
  subject: Finding['subject'];
  summary: string;
}

export function digest(findings: readonly Finding[]): Record<string, FindingDigest> {
  const out: Record<string, FindingDigest> = {};
  for (const f of findings) {
    out[findingKey(f)] = { code: f.code, severity: f.severity, subject: f.subject, summary: f.summary };
  }
  return out;
}

function undigest(d: FindingDigest): Finding {
  return {
    code: d.code,
    severity: d.severity,
    subject: d.subject,
    summary: d.summary,
    evidence: {},
    repairs: [],
  };
}

export interface FindingDiff {
  changes: FindingChange[];
  /** What to remember for the next check: this report's findings plus those it could not see. */
  next: Record<string, FindingDigest>;
}

/**
 * new / changed (severity or summary) / cleared, against the previous check. `previous` null (first check):
 * every finding is new.
 */
export function diffFindings(previous: Record<string, FindingDigest> | null, report: Report): FindingDiff {
  const changes: FindingChange[] = [];
  const next = digest(report.findings);
  const seen = new Set<string>();
  for (const f of report.findings) {
    const key = findingKey(f);
    seen.add(key);
    const before = previous?.[key];
    if (!before) changes.push({ change: 'new', finding: f });
    else if (before.severity !== f.severity || before.summary !== f.summary)
      changes.push({ change: 'changed', finding: f });
  }
  for (const [key, d] of Object.entries(previous ?? {})) {
    if (seen.has(key)) continue;
    if (reportCovers(report, undigest(d))) changes.push({ change: 'cleared', finding: undigest(d) });
    else next[key] = d;
  }
  return { changes, next };
}

/** Changes the incident tracker does not already report: anything not critical now and not critical before. */
export function nonIncidentChanges(
  changes: readonly FindingChange[],
  previous: Record<string, FindingDigest> | null,
): FindingChange[] {
  return changes.filter((c) => {
    if (c.finding.severity === 'critical') return false;
    const before = previous?.[findingKey(c.finding)];
    return !(c.change === 'cleared' && before?.severity === 'critical');
  });
}

/**
 * Compare this report with the previous check of its cluster and remember it. Returns the changes and the
 * previous digest (null the first time); undefined when another check of the cluster held the lock too long.
 *
 * `announce` (posting the changes) runs under the lock before this report is remembered: when it throws (Slack
 * would not take the post), nothing is remembered and the next check finds the same changes again, instead of
 * their being lost.
 */
export async function compareWithLast(
  redis: Redis,
  prefix: string,
  report: Report,
  announce?: (cmp: {
    changes: FindingChange[];
    previous: Record<string, FindingDigest> | null;
  }) => Promise<void>,
): Promise<{ changes: FindingChange[]; previous: Record<string, FindingDigest> | null } | undefined> {
  const key = `${prefix}:checks:last:${report.cluster}`;
  return withLock(
    redis,
    `${key}:lock`,
    async () => {
      const raw = await redis.get(key);
      let previous: Record<string, FindingDigest> | null = null;
      if (raw !== null) {
        try {
          previous = JSON.parse(raw) as Record<string, FindingDigest>;
        } catch {
          previous = null;
        }
      }
      const { changes, next } = diffFindings(previous, report);
      await announce?.({ changes, previous });
      await redis.set(key, JSON.stringify(next));
      return { changes, previous };
    },
    // Long enough for a post that waits out Slack's rate limit and retries (the poster's own bounds).
    { ttlMs: 120_000 },
  );
}
