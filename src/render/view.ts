/**
 * The presentation model of a report: what to show and how to mark it, independent of the output format. The
 * terminal renderer (text.ts) prints it; the Slack Block Kit renderer can build its blocks from the same view.
 */
import {
  SEVERITY_RANK,
  type Finding,
  type Report,
  type ReportOrderer,
  type ReportPartition,
  type Severity,
  type SourceName,
} from '../model/index.js';

export interface ReplicaCell {
  id: number;
  leader: boolean;
  inSync: boolean;
  /** Registered in ZooKeeper (false also when the broker is unknown to the report). */
  registered: boolean;
}

export type OrdererPosition = 'ok' | 'ahead' | 'behind' | 'unknown';

export interface OrdererRow {
  name: string;
  expectedStartOffset: number | null;
  lastOffsetPersisted: number | null;
  blockHeight?: number;
  source: string | null;
  /** ahead: expects an offset past the high watermark; behind: below the log start offset. */
  position: OrdererPosition;
}

export interface PartitionRow {
  partition: number;
  leader: number | null;
  /** There is a leader and it is a registered broker. */
  leaderOk: boolean;
  replicas: ReplicaCell[];
  /** ISR ids that are not among the replicas (ZooKeeper inconsistency). */
  strayIsr: number[];
  isr: number[];
  minIsr: number | null;
  highWatermark: number | null;
  logStartOffset: number | null;
  orderers: OrdererRow[];
  healthy: boolean;
}

export interface TopicView {
  topic: string;
  /** A Fabric channel: scoped to it, or some orderer serves it. */
  channel: boolean;
  partitionCount: number;
  /** Distinct replication factors (usually one). */
  replicationFactors: number[];
  minIsr: number[];
  healthy: boolean;
  /** Worst finding about this topic or one of its partitions. */
  worst: Severity | null;
  /** Partitions without a live leader, and with a replica out of sync or down. */
  leaderless: number;
  outOfSync: number;
  /** Rows to show: all of them, or (compact mode) only unhealthy ones, at most maxRowsPerTopic. */
  rows: PartitionRow[];
  /** Rows left out in compact mode. */
  hiddenHealthy: number;
  hiddenUnhealthy: number;
}

export interface SourceLine {
  name: SourceName;
  ok: boolean;
  ms?: number;
  error?: string;
  notChecked: string[];
}

export interface ReportView {
  cluster: string;
  generatedAt: string;
  channel?: string;
  controller: number | null;
  brokers: { ids: number[]; notRegistered: number[]; unreachable: number[] };
  sources: SourceLine[];
  counts: Record<Severity, number>;
  /** Worst severity of the findings, null when there are none. */
  worst: Severity | null;
  /** Topics shown with a table. */
  detailed: TopicView[];
  /** Topics shown one line each (compact mode): healthy ones, and others with warnings only. */
  compact: TopicView[];
  /** Set in compact mode: one line that says how the topics are listed. */
  compactNote?: string;
  /** Orderers whose channel has no partition in the report. */
  strayOrderers: (OrdererRow & { channel: string })[];
  /** Findings grouped by severity, worst first; empty groups left out. */
  findingGroups: { severity: Severity; findings: Finding[] }[];
}

export interface ViewOptions {
  /**
   * Above this many partitions the view is compact: channel topics and topics with a critical problem get a
   * table of their unhealthy partitions; every other topic gets one line.
   */
  maxDetailedPartitions?: number;
  /** In compact mode, at most this many rows per table. */
  maxRowsPerTopic?: number;
}

export const DEFAULT_MAX_DETAILED_PARTITIONS = 50;
export const DEFAULT_MAX_ROWS_PER_TOPIC = 20;

function worstOf(a: Severity | null, b: Severity): Severity {
  return a === null || SEVERITY_RANK[b] > SEVERITY_RANK[a] ? b : a;
}

function ordererRow(o: ReportOrderer, p: ReportPartition | undefined): OrdererRow {
  let position: OrdererPosition = 'unknown';
  const e = o.expectedStartOffset;
  if (e !== null && p) {
    if (p.highWatermark !== null && e > p.highWatermark) position = 'ahead';
    else if (p.logStartOffset !== null && e < p.logStartOffset) position = 'behind';
    else if (p.highWatermark !== null) position = 'ok';
  }
  const row: OrdererRow = {
    name: o.name,
    expectedStartOffset: o.expectedStartOffset,
    lastOffsetPersisted: o.lastOffsetPersisted,
    source: o.source,
    position,
  };
  if (o.blockHeight !== undefined) row.blockHeight = o.blockHeight;
  return row;
}

export function reportView(report: Report, opts: ViewOptions = {}): ReportView {
  const maxDetailed = opts.maxDetailedPartitions ?? DEFAULT_MAX_DETAILED_PARTITIONS;
  const maxRows = opts.maxRowsPerTopic ?? DEFAULT_MAX_ROWS_PER_TOPIC;
  const registered = new Set(report.brokers.filter((b) => b.registered).map((b) => b.id));

  // Worst finding per topic (by subject.topic or subject.channel).
  const topicWorst = new Map<string, Severity>();
  for (const f of report.findings) {
    if (f.severity === 'info') continue;
    const t = f.subject.topic ?? f.subject.channel;
    if (t !== undefined) topicWorst.set(t, worstOf(topicWorst.get(t) ?? null, f.severity));
  }

  const orderersByChannel = new Map<string, ReportOrderer[]>();
  for (const o of report.orderers) {
    const list = orderersByChannel.get(o.channel);
    if (list) list.push(o);
    else orderersByChannel.set(o.channel, [o]);
  }

  // Rows by topic, in report order.
  const byTopic = new Map<string, PartitionRow[]>();
  for (const p of report.partitions) {
    const isr = new Set(p.isr);
    const assigned = new Set(p.replicas);
    const replicas: ReplicaCell[] = p.replicas.map((id) => ({
      id,
      leader: p.leader === id,
      inSync: isr.has(id),
      registered: registered.has(id),
    }));
    const leaderOk = p.leader !== null && registered.has(p.leader);
    const orderers =
      p.partition === 0 ? (orderersByChannel.get(p.topic) ?? []).map((o) => ordererRow(o, p)) : [];
    const row: PartitionRow = {
      partition: p.partition,
      leader: p.leader,
      leaderOk,
      replicas,
      strayIsr: p.isr.filter((id) => !assigned.has(id)),
      isr: p.isr,
      minIsr: p.minIsr,
      highWatermark: p.highWatermark,
      logStartOffset: p.logStartOffset,
      orderers,
      healthy:
        leaderOk &&
        replicas.every((r) => r.inSync && r.registered) &&
        orderers.every((o) => o.position === 'ok' || o.position === 'unknown'),
    };
    const list = byTopic.get(p.topic);
    if (list) list.push(row);
    else byTopic.set(p.topic, [row]);
  }

  const compactMode = report.partitions.length > maxDetailed;
  const topics: TopicView[] = [];
  for (const [topic, rows] of byTopic) {
    const worst = topicWorst.get(topic) ?? null;
    const healthy = worst === null && rows.every((r) => r.healthy);
    const unhealthyRows = rows.filter((r) => !r.healthy);
    const channel = report.scope.channel === topic || orderersByChannel.has(topic);
    // Compact mode: a channel shows its partitions (usually one) with its orderers; other topics their
    // unhealthy partitions only.
    const shown = !compactMode ? rows : channel ? rows.slice(0, maxRows) : unhealthyRows.slice(0, maxRows);
    topics.push({
      topic,
      channel,
      partitionCount: rows.length,
      replicationFactors: [...new Set(rows.map((r) => r.replicas.length))].sort((a, b) => a - b),
      minIsr: [...new Set(rows.map((r) => r.minIsr).filter((n): n is number => n !== null))].sort(
        (a, b) => a - b,
      ),
      healthy,
      worst,
      leaderless: rows.filter((r) => !r.leaderOk).length,
      outOfSync: rows.filter((r) => r.replicas.some((c) => !c.inSync || !c.registered)).length,
      rows: shown,
      hiddenHealthy: rows.length - unhealthyRows.length - shown.filter((r) => r.healthy).length,
      hiddenUnhealthy: unhealthyRows.length - shown.filter((r) => !r.healthy).length,
    });
  }
  const inDetail = (t: TopicView): boolean =>
    !compactMode || t.channel || (!t.healthy && (t.worst === 'critical' || t.leaderless > 0));
  const detailed = topics.filter(inDetail);
  const compact = topics.filter((t) => !inDetail(t));

  const counts: Record<Severity, number> = { critical: 0, warning: 0, info: 0 };
  let worst: Severity | null = null;
  for (const f of report.findings) {
    counts[f.severity]++;
    worst = worstOf(worst, f.severity);
  }
  const findingGroups = (['critical', 'warning', 'info'] as const)
    .map((severity) => ({ severity, findings: report.findings.filter((f) => f.severity === severity) }))
    .filter((g) => g.findings.length > 0);

  const strayOrderers = report.orderers
    .filter((o) => !byTopic.has(o.channel))
    .map((o) => ({ ...ordererRow(o, undefined), channel: o.channel }));

  const view: ReportView = {
    cluster: report.cluster,
    generatedAt: report.generatedAt,
    controller: report.controller,
    brokers: {
      ids: report.brokers.map((b) => b.id),
      notRegistered: report.brokers.filter((b) => !b.registered).map((b) => b.id),
      unreachable: report.brokers.filter((b) => b.reachable === false).map((b) => b.id),
    },
    sources: (
      Object.entries(report.sources) as [SourceName, NonNullable<Report['sources'][SourceName]>][]
    ).map(([name, s]) => {
      const line: SourceLine = { name, ok: s.ok, notChecked: s.notChecked ?? [] };
      if (s.ms !== undefined) line.ms = s.ms;
      if (s.error !== undefined) line.error = s.error;
      return line;
    }),
    counts,
    worst,
    detailed,
    compact,
    strayOrderers,
    findingGroups,
  };
  if (report.scope.channel !== undefined) view.channel = report.scope.channel;
  if (compactMode) {
    const healthyCount = compact.filter((t) => t.healthy).length;
    view.compactNote =
      `${report.partitions.length} partitions in ${topics.length} topics: ${compact.length} listed one line each ` +
      `(${healthyCount} healthy), ${detailed.length} in detail (channels, and topics with critical problems: ` +
      `their unhealthy partitions, at most ${maxRows} each)`;
  }
  return view;
}
