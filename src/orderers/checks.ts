/**
 * Checks on the orderers' positions against their channels' partitions, and on their logs. Pure functions of a
 * snapshot.
 *
 * - ORDERER_OFFSET_AHEAD: an orderer resumes at lastOffsetPersisted + 1; when that is past the partition's high
 *   watermark, Kafka lost messages the orderer had already cut into blocks (seed 000). It retries
 *   ConsumePartition with "offset outside the range" until padded.
 * - ORDERER_OFFSET_BEHIND_RETENTION: the offset it resumes at was deleted by retention.
 * - ORDERERS_DISAGREE: orderers of one channel persisted different offsets or heights. A healthy orderer may sit
 *   below the high watermark (CONNECT and time-to-cut messages, a pending batch), so orderers are compared with
 *   each other, not with the high watermark.
 * - ORDERER_LOG_ERROR: known failure signatures in an orderer's log.
 */
import { compareText } from '../order.js';
import { offsetsProblem } from '../checks/sources.js';
import type {
  ClusterSnapshot,
  Finding,
  LogMatch,
  OrdererChannelPosition,
  PartitionOffsets,
} from '../model/index.js';
import { logSignature, parseLogLine } from './logs.js';

/** "orderer1", "orderer1 and orderer2", "orderer1, orderer2 and orderer3" */
function names(list: readonly string[]): string {
  if (list.length <= 1) return list.join('');
  return `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
}

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** "2018-08-15 01:30:36 UTC" */
export function humanTime(iso: string): string {
  return iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
}

/** Signatures that say the channel is stuck on this orderer: the earliest one dates the outage. */
const STUCK_SIGNATURES = new Set([
  'orderer.kafka.offset-out-of-range',
  'orderer.cannot-setup-channel-consumer',
  'orderer.deliver-rejected',
  'orderer.broadcast-rejected',
]);

function offsetsOf(snapshot: ClusterSnapshot, topic: string): PartitionOffsets | undefined {
  return snapshot.kafka?.offsets.find((o) => o.topic === topic && o.partition === 0);
}

function stuckSince(
  logs: readonly LogMatch[],
  channel: string,
  orderers: ReadonlySet<string>,
): string | undefined {
  let first: string | undefined;
  for (const m of logs) {
    if (m.channel !== channel || !orderers.has(m.origin) || !STUCK_SIGNATURES.has(m.signature)) continue;
    const t = m.firstAt ?? m.at;
    if (t !== undefined && (first === undefined || t < first)) first = t;
  }
  return first;
}

function positionEvidence(p: OrdererChannelPosition): Record<string, unknown> {
  return {
    orderer: p.orderer,
    lastOffsetPersisted: p.lastOffsetPersisted,
    expectedStartOffset: p.expectedStartOffset,
    ...(p.startFromOldest ? { startFromOldest: true } : {}),
    ...(p.blockHeight !== undefined ? { blockHeight: p.blockHeight } : {}),
    source: p.source,
  };
}

function groupByChannel(positions: readonly OrdererChannelPosition[]): Map<string, OrdererChannelPosition[]> {
  const out = new Map<string, OrdererChannelPosition[]>();
  for (const p of positions) {
    let list = out.get(p.channel);
    if (!list) out.set(p.channel, (list = []));
    list.push(p);
  }
  return new Map([...out.entries()].sort(([a], [b]) => compareText(a, b)));
}

function aheadFinding(
  channel: string,
  hw: number,
  offsets: PartitionOffsets,
  ahead: OrdererChannelPosition[],
  all: OrdererChannelPosition[],
  logs: readonly LogMatch[],
): Finding {
  const expected = Math.max(...ahead.map((p) => p.expectedStartOffset as number));
  const missing = expected - hw;
  const orderers = ahead.map((p) => p.orderer).sort();
  const distinct = [...new Set(ahead.map((p) => p.expectedStartOffset as number))].sort((a, b) => a - b);
  const since = stuckSince(logs, channel, new Set(orderers));
  const want = distinct.length === 1 ? `offset ${expected}` : `offsets ${names(distinct.map(String))}`;
  const summary =
    `${channel} is stuck: ${names(orderers)} ${orderers.length === 1 ? 'wants' : 'want'} to resume at ${want} ` +
    `but Kafka's ${channel}/0 ends at ${hw}: ${plural(missing, 'message')} missing` +
    (since !== undefined ? `, stuck since ${humanTime(since)}` : '');
  const others = all.filter((p) => !orderers.includes(p.orderer));
  return {
    code: 'ORDERER_OFFSET_AHEAD',
    severity: 'critical',
    subject: { channel, topic: channel, partition: 0 },
    summary,
    explanation:
      `The newest block of ${names(orderers)} records that Kafka offset ${expected - 1} was already consumed, ` +
      `but the partition now holds only offsets below ${hw}: Kafka lost messages it had acknowledged (typically ` +
      'unflushed writes lost in a crash or power cut). The orderer retries "ConsumePartition" at that offset and ' +
      'fails with "The requested offset is outside the range of offsets"; meanwhile it rejects Deliver and peers ' +
      `get SERVICE_UNAVAILABLE. Producing ${plural(missing, 'CONNECT message')} (value 1a00, ignored by every ` +
      `orderer) brings the partition back to offset ${expected}; the orderer then resumes on its next retry or ` +
      'restart. Padding only fixes the offset arithmetic: an orderer that had not yet processed the lost ' +
      'messages can never get them, so all orderers of the channel must agree first. Prevent it with ' +
      'log.flush.interval.messages=1 on the brokers.',
    evidence: {
      channel,
      highWatermark: hw,
      ...(offsets.logStartOffset !== undefined ? { logStartOffset: offsets.logStartOffset } : {}),
      expectedStartOffset: expected,
      missingMessages: missing,
      orderers: ahead.map(positionEvidence),
      ...(others.length > 0 ? { otherOrderers: others.map(positionEvidence) } : {}),
      ...(since !== undefined ? { stuckSince: since } : {}),
    },
    repairs: [
      {
        kind: 'pad-channel',
        args: { channel },
        title: `Pad ${channel} with ${plural(missing, 'CONNECT message')} to offset ${expected}`,
      },
    ],
  };
}

function behindFinding(
  channel: string,
  lso: number,
  offsets: PartitionOffsets,
  behind: OrdererChannelPosition[],
): Finding {
  const orderers = behind.map((p) => p.orderer).sort();
  const fromOldest = behind.filter((p) => p.startFromOldest);
  const numeric = behind.filter((p) => p.expectedStartOffset !== null);
  const lowest = numeric.length > 0 ? Math.min(...numeric.map((p) => p.expectedStartOffset as number)) : 0;
  const deleted = lso - lowest;
  const summary =
    numeric.length > 0
      ? `${channel}: ${names(orderers)} ${orderers.length === 1 ? 'needs' : 'need'} Kafka offset ${lowest} but ` +
        `${channel}/0 now starts at ${lso}: retention deleted ${plural(deleted, 'message')} ` +
        `${orderers.length === 1 ? 'it has' : 'they have'} not processed`
      : `${channel}: ${names(orderers)} would replay ${channel} from its oldest offset, but ${channel}/0 now ` +
        `starts at ${lso}: retention deleted the first ${plural(lso, 'message')} of the channel`;
  return {
    code: 'ORDERER_OFFSET_BEHIND_RETENTION',
    severity: 'critical',
    subject: { channel, topic: channel, partition: 0 },
    summary,
    explanation:
      'Fabric needs every message of a channel kept forever (log.retention.ms=-1): an orderer that restarts or ' +
      'joins replays the partition from the offset in its newest block' +
      (fromOldest.length > 0 ? ' (from the very beginning when its ledger has only the genesis block)' : '') +
      '. Those messages were deleted, so this orderer cannot rebuild the blocks it lacks from Kafka. Stop the ' +
      "deletion (retention.ms=-1 on the topic) and restore this orderer's ledger from an orderer of the same " +
      'channel that is up to date.',
    evidence: {
      channel,
      logStartOffset: lso,
      ...(offsets.highWatermark !== undefined ? { highWatermark: offsets.highWatermark } : {}),
      orderers: behind.map(positionEvidence),
    },
    repairs: [
      {
        kind: 'set-topic-config',
        args: { topic: channel, key: 'retention.ms', value: '-1' },
        title: `Set retention.ms=-1 on ${channel} so no more of it is deleted`,
      },
    ],
  };
}

function fmtOffset(p: OrdererChannelPosition): string {
  const off = p.lastOffsetPersisted === null ? 'no offset persisted' : `offset ${p.lastOffsetPersisted}`;
  return `${p.orderer} ${off}${p.blockHeight !== undefined ? ` (height ${p.blockHeight})` : ''}`;
}

function disagreeFinding(
  channel: string,
  live: OrdererChannelPosition[],
  hw: number | undefined,
): Finding | null {
  if (live.length < 2) return null;
  const offsets = new Set(
    live.map((p) => (p.lastOffsetPersisted === null ? 'none' : String(p.lastOffsetPersisted))),
  );
  const heights = new Set(
    live.filter((p) => p.blockHeight !== undefined).map((p) => p.blockHeight as number),
  );
  if (offsets.size <= 1 && heights.size <= 1) return null;
  const sorted = [...live].sort(
    (a, b) =>
      (b.lastOffsetPersisted ?? -Infinity) - (a.lastOffsetPersisted ?? -Infinity) ||
      compareText(a.orderer, b.orderer),
  );
  const what =
    offsets.size > 1 && heights.size > 1 ? 'offsets and heights' : offsets.size > 1 ? 'offsets' : 'heights';
  const hs = [...heights];
  const heightSpread = hs.length > 0 ? Math.max(...hs) - Math.min(...hs) : 0;
  return {
    code: 'ORDERERS_DISAGREE',
    severity: 'warning',
    subject: { channel },
    summary: `${channel}: orderers disagree on ${what}: ${sorted.map(fmtOffset).join(', ')}`,
    explanation:
      'Every orderer of a channel consumes the same partition and cuts the same blocks, so they should hold the ' +
      'same offset and height. Being below the high watermark is normal (CONNECT and time-to-cut messages, a ' +
      'pending batch); being apart from each other is not, unless it is one block under load (check again). An ' +
      'orderer that is behind catches up only if Kafka still has the messages it needs; before padding a channel ' +
      'they must agree.',
    evidence: {
      channel,
      ...(hw !== undefined ? { highWatermark: hw } : {}),
      orderers: sorted.map(positionEvidence),
      ...(heights.size > 1 ? { heightSpread } : {}),
    },
    repairs: [],
  };
}

const RANK = { critical: 2, warning: 1, info: 0 } as const;

/** The message of a log line without its time/level prefix and `[channel: X]` (both said elsewhere), shortened. */
function quote(line: string, max = 200): string {
  const t = parseLogLine(line)
    .message.replace(/^\[channel:? [^\]]+\](\[partition: \d+\])? ?/, '')
    .trim();
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}

function logFindings(logs: readonly LogMatch[]): Finding[] {
  const groups = new Map<string, LogMatch[]>();
  for (const m of logs) {
    const sig = logSignature(m.signature);
    if (!sig || sig.component !== 'orderer' || m.severity === 'info') continue;
    const key = `${m.origin}\u0000${m.channel ?? ''}`;
    let list = groups.get(key);
    if (!list) groups.set(key, (list = []));
    list.push(m);
  }
  const out: Finding[] = [];
  for (const list of groups.values()) {
    list.sort(
      (a, b) =>
        RANK[b.severity] - RANK[a.severity] ||
        (logSignature(b.signature)?.priority ?? 0) - (logSignature(a.signature)?.priority ?? 0) ||
        b.count - a.count,
    );
    const top = list[0] as LogMatch;
    const sig = logSignature(top.signature);
    const severity = top.severity === 'critical' ? 'critical' : 'warning';
    const first = list
      .map((m) => m.firstAt)
      .filter((t): t is string => t !== undefined)
      .sort()[0];
    const when =
      top.firstAt !== undefined && top.at !== undefined && top.firstAt !== top.at
        ? ` ${plural(top.count, 'time')} from ${humanTime(top.firstAt)} to ${humanTime(top.at)}`
        : top.at !== undefined
          ? ` at ${humanTime(top.at)}${top.count > 1 ? ` (${plural(top.count, 'time')})` : ''}`
          : top.count > 1
            ? ` (${plural(top.count, 'time')})`
            : '';
    const others =
      list.length > 1
        ? `; also ${list
            .slice(1)
            .map((m) => `${m.signature} ×${m.count}`)
            .join(', ')}`
        : '';
    out.push({
      code: 'ORDERER_LOG_ERROR',
      severity,
      subject: { orderer: top.origin, ...(top.channel !== undefined ? { channel: top.channel } : {}) },
      summary: `${top.origin}${top.channel !== undefined ? ` on ${top.channel}` : ''}: "${quote(top.line)}"${when}${others}`,
      ...(sig ? { explanation: `${sig.meaning} ${sig.action}` } : {}),
      evidence: {
        signature: top.signature,
        line: top.line,
        count: top.count,
        ...(top.firstAt !== undefined ? { firstAt: top.firstAt } : {}),
        ...(top.at !== undefined ? { lastAt: top.at } : {}),
        ...(first !== undefined ? { earliest: first } : {}),
        matches: list.map((m) => ({
          signature: m.signature,
          severity: m.severity,
          count: m.count,
          ...(m.firstAt !== undefined ? { firstAt: m.firstAt } : {}),
          ...(m.at !== undefined ? { lastAt: m.at } : {}),
          line: m.line,
        })),
      },
      repairs: [],
    });
  }
  return out;
}

/** The orderer findings of a snapshot. Never throws on partial data: what is unknown is not judged. */
export function ordererChecks(snapshot: ClusterSnapshot): Finding[] {
  const out: Finding[] = [];
  const positions = snapshot.orderers?.positions ?? [];
  for (const [channel, list] of groupByChannel(positions)) {
    const known = list.filter((p) => p.source !== null);
    // Offsets no healthy broker reports (negative, log start above the high watermark) are SOURCE_UNAVAILABLE
    // (src/checks/sources.ts); nothing about the orderers is judged from them, padding least of all.
    const reported = offsetsOf(snapshot, channel);
    const offsets = reported && offsetsProblem(reported) === undefined ? reported : undefined;
    const hw = offsets?.highWatermark;
    const lso = offsets?.logStartOffset;

    if (offsets && hw !== undefined) {
      const ahead = known.filter((p) => p.expectedStartOffset !== null && p.expectedStartOffset > hw);
      if (ahead.length > 0) out.push(aheadFinding(channel, hw, offsets, ahead, known, snapshot.logs));
    }
    if (offsets && lso !== undefined) {
      const behind = known.filter(
        (p) =>
          (p.expectedStartOffset !== null && p.expectedStartOffset < lso) ||
          (p.startFromOldest === true && p.expectedStartOffset === null && lso > 0),
      );
      if (behind.length > 0) out.push(behindFinding(channel, lso, offsets, behind));
    }
    // Only live sources are compared: a log line says where an orderer started, not where it is now.
    const live = known.filter((p) => p.source === 'metrics' || p.source === 'ledger');
    const d = disagreeFinding(channel, live, hw);
    if (d) out.push(d);
  }
  out.push(...logFindings(snapshot.logs));
  return out;
}
