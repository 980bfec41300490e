/**
 * The incident channel. A critical finding opens an incident: one message, posted once while the incident lasts
 * (identity: cluster + code + subject). When it changes (severity, summary or evidence), a reply goes to its
 * thread and the message is updated; when a later check no longer finds it, a closing reply goes to the thread
 * and the message is updated to RESOLVED.
 *
 * State lives in Redis (a hash per cluster, field = CODE|subject), so any number of workers share it; each
 * reconcile of a cluster runs under a short per-cluster lock, so two workers never open the same incident twice.
 *
 * An incident is closed only when the report could have seen it: the sources its finding comes from were read,
 * and the report's scope covers it (a `status pubchain` report closes nothing about other channels).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { describeError } from '../errors/index.js';
import type { Logger } from '../log.js';
import type { Finding, Report, SourceName } from '../model/index.js';
import { withLock } from '../queue/lock.js';
import { findingKey, incidentBlocks, incidentChangeText, type KnownBlock } from './blocks.js';
import type { SlackPoster } from './poster.js';

export interface IncidentRecord {
  key: string;
  channel: string;
  /** The parent message. */
  ts: string;
  openedAt: string;
  lastSeenAt: string;
  fingerprint: string;
  finding: Finding;
}

export interface IncidentChanges {
  opened: string[];
  updated: string[];
  closed: string[];
  /**
   * Incidents whose message could not be posted this time (key: why). Nothing about them was recorded, so the
   * next check tries again; the others went ahead. Absent when there were none.
   */
  failed?: Record<string, string>;
}

export interface IncidentTracker {
  reconcile(report: Report): Promise<IncidentChanges>;
  /** Open incidents of a cluster (for tests and status pages). */
  open(cluster: string): Promise<IncidentRecord[]>;
}

export interface IncidentTrackerOptions {
  redis: Redis;
  prefix: string;
  slack: SlackPoster;
  /** The incident channel of a cluster (clusters.X.slack.incidentChannel, else slack.incidentChannel). */
  channelFor(cluster: string): string | undefined;
  now?: () => Date;
  logger?: Logger;
  lockMs?: number;
}

/** What makes an incident "change": severity, summary, evidence. */
export function fingerprint(f: Finding): string {
  return createHash('sha256')
    .update(JSON.stringify([f.severity, f.summary, f.evidence]))
    .digest('hex')
    .slice(0, 16);
}

/** The sources a finding's absence can be trusted from. */
function sourcesOf(f: Finding): SourceName[] {
  if (f.code === 'SOURCE_UNAVAILABLE') return [];
  if (f.code.startsWith('ORDERER')) return ['orderers'];
  if (f.code === 'CONTAINER_DOWN') return ['docker'];
  if (f.code === 'ZK_QUORUM') return ['zookeeper'];
  return ['zookeeper', 'kafka'];
}

/** Could this report have seen `f` if it were still there? */
export function reportCovers(report: Report, f: Finding): boolean {
  const scope = report.scope.channel;
  if (scope !== undefined) {
    const { topic, channel, broker } = f.subject;
    if (topic !== undefined || channel !== undefined) {
      if (topic !== scope && channel !== scope) return false;
    } else if (broker !== undefined && !report.brokers.some((b) => b.id === broker)) {
      // A scoped report lists the channel's replicas and the controller: it saw only those brokers.
      return false;
    }
    // Cluster-wide findings (ZooKeeper, controller) are in every scoped report too.
  }
  return sourcesOf(f).every((s) => report.sources[s]?.ok === true);
}

export function createIncidentTracker(opts: IncidentTrackerOptions): IncidentTracker {
  const { redis, slack } = opts;
  const now = () => (opts.now?.() ?? new Date()).toISOString();
  const hashKey = (cluster: string) => `${opts.prefix}:incidents:${cluster}`;
  const lockKey = (cluster: string) => `${opts.prefix}:incidents:${cluster}:lock`;
  const lockMs = opts.lockMs ?? 30_000;

  async function load(cluster: string): Promise<Map<string, IncidentRecord>> {
    const raw = await redis.hgetall(hashKey(cluster));
    const out = new Map<string, IncidentRecord>();
    for (const [k, v] of Object.entries(raw)) {
      try {
        out.set(k, JSON.parse(v) as IncidentRecord);
      } catch {
        await redis.hdel(hashKey(cluster), k);
      }
    }
    return out;
  }

  return {
    async open(cluster) {
      return [...(await load(cluster)).values()];
    },
    async reconcile(report) {
      const changes: IncidentChanges = { opened: [], updated: [], closed: [] };
      const channel = opts.channelFor(report.cluster);
      if (!channel) return changes;
      const cluster = report.cluster;
      const result = await withLock(
        redis,
        lockKey(cluster),
        async () => {
          const known = await load(cluster);
          const current = new Map<string, Finding>();
          for (const f of report.findings) if (f.severity === 'critical') current.set(findingKey(f), f);
          const at = now();

          // Each incident on its own: one that cannot be posted (Slack away after the poster's retries) is
          // left as it was (the next check tries again) and the others go ahead. What is recorded follows what
          // was posted, so that nothing is said twice: the thread reply of a change or a close is recorded as
          // soon as it is posted; the update of the parent message after it is best effort.
          const failed: Record<string, string> = {};
          const attempt = async (key: string, fn: () => Promise<void>) => {
            try {
              await fn();
            } catch (err) {
              failed[key] = describeError(err);
              opts.logger?.warn({ cluster, key, err: failed[key] }, 'incident message not posted');
            }
          };
          const updateParent = async (rec: IncidentRecord, msg: { text: string; blocks: KnownBlock[] }) => {
            try {
              await slack.update({ channel: rec.channel, ts: rec.ts, text: msg.text, blocks: msg.blocks });
            } catch (err) {
              opts.logger?.warn(
                { cluster, key: rec.key, err: describeError(err) },
                'incident message not updated (its thread has the news)',
              );
            }
          };

          for (const [key, f] of current) {
            await attempt(key, async () => {
              const rec = known.get(key);
              const fp = fingerprint(f);
              if (!rec) {
                const msg = incidentBlocks({ cluster, finding: f, openedAt: at, lastSeenAt: at });
                const posted = await slack.post({ channel, text: msg.text, blocks: msg.blocks });
                const record: IncidentRecord = {
                  key,
                  channel: posted.channel,
                  ts: posted.ts,
                  openedAt: at,
                  lastSeenAt: at,
                  fingerprint: fp,
                  finding: f,
                };
                await redis.hset(hashKey(cluster), key, JSON.stringify(record));
                changes.opened.push(key);
                return;
              }
              const next: IncidentRecord = { ...rec, lastSeenAt: at, fingerprint: fp, finding: f };
              if (rec.fingerprint !== fp) {
                await slack.post({
                  channel: rec.channel,
                  thread_ts: rec.ts,
                  text: incidentChangeText(rec.finding, f),
                });
                await redis.hset(hashKey(cluster), key, JSON.stringify(next));
                changes.updated.push(key);
                const msg = incidentBlocks({ cluster, finding: f, openedAt: rec.openedAt, lastSeenAt: at });
                await updateParent(rec, msg);
                return;
              }
              await redis.hset(hashKey(cluster), key, JSON.stringify(next));
            });
          }

          for (const [key, rec] of known) {
            if (current.has(key) || !reportCovers(report, rec.finding)) continue;
            await attempt(key, async () => {
              await slack.post({
                channel: rec.channel,
                thread_ts: rec.ts,
                text: `:white_check_mark: Cleared: the check at ${at} no longer finds ${rec.finding.code} (${rec.finding.summary}).`,
              });
              await redis.hdel(hashKey(cluster), key);
              changes.closed.push(key);
              const msg = incidentBlocks({
                cluster,
                finding: rec.finding,
                openedAt: rec.openedAt,
                lastSeenAt: rec.lastSeenAt,
                resolvedAt: at,
              });
              await updateParent(rec, msg);
            });
          }
          if (Object.keys(failed).length > 0) changes.failed = failed;
          return changes;
        },
        // Another worker reconciling (a burst of incidents at Slack's pace can take minutes, under a renewed
        // lock): this check's report is skipped, not queued behind it; the next check reconciles afresh.
        { ttlMs: lockMs, waitMs: 2000 },
      );
      if (result === undefined)
        opts.logger?.warn({ cluster }, 'incident reconcile skipped: another worker holds the lock');
      return result ?? changes;
    },
  };
}
