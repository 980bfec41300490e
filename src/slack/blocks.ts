/**
 * Block Kit rendering: pure functions from the report (and plans, incidents, changes) to Slack messages that
 * always fit Slack's limits: 50 blocks a message, 3000 characters a section text, 10 fields a section (2000
 * characters each), 150 characters a header, 75 a button label, 2000 a button value.
 *
 * Long tables are summarised worst first in the message itself (no file upload): the partitions that are
 * offline / under min ISR / under-replicated come first, healthy ones are counted, not listed. The full table
 * is one `fabric-opsbot diagnose --json` away, and the message says so.
 */
import { describeStep } from '../repairs/steps.js';
import type { types } from '@slack/bolt';
import {
  compareFindings,
  subjectKey,
  type Finding,
  type RepairPlan,
  type Report,
  type ReportOrderer,
  type ReportPartition,
  type Severity,
  type Subject,
} from '../model/index.js';
import type { WhatIfStopBroker } from '../checks/whatif.js';
import { printable } from '../checks/words.js';
import { SUBCOMMANDS, type SubcommandInfo } from './parse.js';
import { allows, type EffectiveRole } from './roles.js';

export type KnownBlock = types.KnownBlock;
type SectionBlock = types.SectionBlock;
type Button = types.Button;

export interface SlackMessage {
  /** Notification / fallback text (kept short). */
  text: string;
  blocks: KnownBlock[];
}

export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  headerText: 150,
  contextElements: 10,
  contextText: 2000,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  confirmTitle: 100,
  confirmText: 300,
  fallbackText: 3000,
} as const;

/** Action ids of the buttons this bot posts (listeners/actions routes them). */
export const ACTIONS = {
  repairRequest: 'repair_request',
  repairApprove: 'repair_approve',
  repairDeny: 'repair_deny',
} as const;

/** The value of a `repair_request` button. */
export interface RepairButtonValue {
  cluster: string;
  kind: string;
  args: Record<string, string | number>;
}

// ------------------------------------------------------------------ text helpers

/** Escape the three characters Slack's mrkdwn treats as control characters. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Data from the cluster or a user (names, summaries, errors) as one line of mrkdwn: Slack's control characters
 * escaped (so no name becomes a mention or a link), control characters written as \n or \uXXXX (so none
 * breaks a line or a table), backticks as ' (so none opens or closes code formatting around it).
 */
export function inline(s: string): string {
  return esc(printable(s)).replace(/`/g, "'");
}

/** At most `max` UTF-16 units, "…" last when cut; never half of a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = Math.max(0, max - 1);
  const last = s.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

const SEVERITY_ICON: Record<Severity, string> = {
  critical: ':red_circle:',
  warning: ':large_orange_circle:',
  info: ':large_blue_circle:',
};

const num = (v: number): string => v.toLocaleString('en-US');

function plural(n: number, one: string, many = `${one}s`): string {
  return `${num(n)} ${n === 1 ? one : many}`;
}

/**
 * mrkdwn cut to `max`: never inside an entity (`&amp;`), and code formatting that the cut left open is closed
 * (so the rest of the message is not swallowed into it).
 */
function fit(text: string, max: number): string {
  if (text.length <= max) return text;
  let t = truncate(text, max - 4).replace(/&[a-z]{0,4}…$/, '…');
  if ((t.match(/```/g) ?? []).length % 2 === 1) t += '\n```';
  else if ((t.match(/`/g) ?? []).length % 2 === 1) t += '`';
  return t;
}

function section(text: string): SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: fit(text, SLACK_LIMITS.sectionText) } };
}

function context(...texts: string[]): KnownBlock {
  return {
    type: 'context',
    elements: texts
      .slice(0, SLACK_LIMITS.contextElements)
      .map((t) => ({ type: 'mrkdwn' as const, text: fit(t, SLACK_LIMITS.contextText) })),
  };
}

function header(text: string): KnownBlock {
  return {
    type: 'header',
    text: { type: 'plain_text', text: truncate(printable(text), SLACK_LIMITS.headerText), emoji: true },
  };
}

const DIVIDER: KnownBlock = { type: 'divider' };

/** "topic=pubchain, partition=0" -> "pubchain/0 · broker 3" for people. */
export function describeSubject(s: Subject): string {
  const parts: string[] = [];
  if (s.topic !== undefined)
    parts.push(s.partition !== undefined ? `${s.topic}/${s.partition}` : `topic ${s.topic}`);
  else if (s.partition !== undefined) parts.push(`partition ${s.partition}`);
  if (s.channel !== undefined && s.channel !== s.topic) parts.push(`channel ${s.channel}`);
  if (s.broker !== undefined) parts.push(`broker ${s.broker}`);
  if (s.orderer !== undefined) parts.push(s.orderer);
  if (s.container !== undefined) parts.push(`container ${s.container}`);
  if (s.zookeeper !== undefined) parts.push(`zookeeper ${s.zookeeper}`);
  if (s.source !== undefined) parts.push(s.source);
  return parts.join(' · ') || 'cluster';
}

function compactJson(v: unknown, max: number): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? 'null';
  } catch {
    s = String(v);
  }
  return truncate(s, max);
}

/** Lines in a code block, split into as few section texts as fit 3000 characters each. */
function codeSections(title: string, lines: readonly string[], maxSections: number): SectionBlock[] {
  const out: SectionBlock[] = [];
  const limit = SLACK_LIMITS.sectionText;
  let cur: string[] = [];
  let curLen = 0;
  const overhead = (t: string) => t.length + 9; // "```\n" + "\n```" + "\n"
  let first = true;
  const flush = () => {
    const t = first ? `${title}\n` : '';
    out.push(section(`${t}\`\`\`\n${cur.join('\n')}\n\`\`\``));
    first = false;
    cur = [];
    curLen = 0;
  };
  for (const raw of lines) {
    const line = esc(truncate(cell(raw), 200));
    const head = first ? overhead(title) : 8;
    if (cur.length > 0 && head + curLen + line.length + 1 > limit) {
      if (out.length + 1 >= maxSections) break;
      flush();
    }
    cur.push(line);
    curLen += line.length + 1;
  }
  if (cur.length > 0 || out.length === 0) flush();
  return out;
}

/** A table cell or a code line from data: printable, and no backtick that could close the code block. */
function cell(s: string): string {
  return printable(s).replace(/`/g, "'");
}

function table(headers: readonly string[], rawRows: readonly (readonly string[])[]): string[] {
  const rows = rawRows.map((r) => r.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [fmt(headers), ...rows.map(fmt)];
}

// ------------------------------------------------------------------ budget

class Budget {
  readonly blocks: KnownBlock[] = [];
  constructor(private readonly max: number) {}
  get left(): number {
    return this.max - this.blocks.length;
  }
  push(...b: KnownBlock[]): boolean {
    if (b.length > this.left) return false;
    this.blocks.push(...b);
    return true;
  }
}

// ------------------------------------------------------------------ partitions and orderers

export type PartitionState = 'OFFLINE' | 'UNDER-MIN-ISR' | 'AT-MIN-ISR' | 'UNDER-REPL' | 'NO-FAILOVER' | 'OK';
const PARTITION_RANK: Record<PartitionState, number> = {
  OFFLINE: 5,
  'UNDER-MIN-ISR': 4,
  'AT-MIN-ISR': 3,
  'UNDER-REPL': 2,
  'NO-FAILOVER': 1,
  OK: 0,
};

export function partitionState(p: ReportPartition): PartitionState {
  if (p.leader === null || p.leader < 0) return 'OFFLINE';
  if (p.minIsr !== null && p.isr.length < p.minIsr) return 'UNDER-MIN-ISR';
  if (p.minIsr !== null && p.isr.length === p.minIsr && p.replicas.length > p.minIsr) return 'AT-MIN-ISR';
  if (p.isr.length < p.replicas.length) return 'UNDER-REPL';
  if (p.replicas.length === 1) return 'NO-FAILOVER';
  return 'OK';
}

/** Partitions worst first, then by topic and partition number. */
export function partitionsWorstFirst(partitions: readonly ReportPartition[]): ReportPartition[] {
  return partitions
    .map((p) => ({ p, rank: PARTITION_RANK[partitionState(p)] }))
    .sort((a, b) => b.rank - a.rank || a.p.topic.localeCompare(b.p.topic) || a.p.partition - b.p.partition)
    .map((x) => x.p);
}

const n = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : String(v));
const list = (v: readonly number[]): string => (v.length ? v.join(',') : '-');

function partitionBlocks(report: Report, maxRows: number, maxSections: number): SectionBlock[] {
  const parts = report.partitions;
  if (parts.length === 0) return [section('*Partitions* — none read (see sources and findings)')];
  const sorted = partitionsWorstFirst(parts);
  const shown = sorted.slice(0, maxRows);
  const healthy = parts.filter((p) => partitionState(p) === 'OK').length;
  const notShown = parts.length - shown.length;
  const rows = shown.map((p) => [
    truncate(p.topic, 24),
    String(p.partition),
    n(p.leader),
    list(p.replicas),
    list(p.isr),
    n(p.minIsr),
    n(p.highWatermark),
    n(p.logStartOffset),
    partitionState(p),
  ]);
  const lines = table(['TOPIC', 'P', 'LEADER', 'REPLICAS', 'ISR', 'MIN', 'HW', 'LSO', 'STATE'], rows);
  const title =
    notShown > 0
      ? `*Partitions* — ${plural(parts.length, 'partition')}, worst first; ${shown.length} shown, ` +
        `${num(notShown)} not shown (${num(healthy)} healthy in all). ` +
        'Full table: `fabric-opsbot diagnose --json`'
      : `*Partitions* — ${plural(parts.length, 'partition')}, ${num(healthy)} healthy`;
  return codeSections(title, lines, maxSections);
}

function ordererState(o: ReportOrderer, p: ReportPartition | undefined): string {
  if (o.expectedStartOffset === null) return o.source === null ? 'UNREAD' : 'FROM-OLDEST';
  if (
    p?.highWatermark !== null &&
    p?.highWatermark !== undefined &&
    o.expectedStartOffset > p.highWatermark
  ) {
    return 'AHEAD';
  }
  if (
    p?.logStartOffset !== null &&
    p?.logStartOffset !== undefined &&
    o.expectedStartOffset < p.logStartOffset
  ) {
    return 'BEHIND-LSO';
  }
  return 'OK';
}

const ORDERER_RANK: Record<string, number> = {
  AHEAD: 4,
  'BEHIND-LSO': 3,
  UNREAD: 2,
  'FROM-OLDEST': 1,
  OK: 0,
};

function ordererBlocks(report: Report, maxRows: number, maxSections: number): SectionBlock[] {
  if (report.orderers.length === 0) return [];
  const byTopic = new Map<string, ReportPartition>();
  for (const p of report.partitions) if (p.partition === 0) byTopic.set(p.topic, p);
  const rows = report.orderers
    .map((o) => {
      const p = byTopic.get(o.channel);
      return { o, p, state: ordererState(o, p) };
    })
    .sort(
      (a, b) =>
        (ORDERER_RANK[b.state] ?? 0) - (ORDERER_RANK[a.state] ?? 0) ||
        a.o.channel.localeCompare(b.o.channel) ||
        a.o.name.localeCompare(b.o.name),
    );
  const shown = rows
    .slice(0, maxRows)
    .map(({ o, p, state }) => [
      truncate(o.name, 28),
      truncate(o.channel, 20),
      n(o.lastOffsetPersisted),
      n(o.expectedStartOffset),
      n(p?.highWatermark),
      o.source ?? '-',
      state,
    ]);
  const lines = table(['ORDERER', 'CHANNEL', 'PERSISTED', 'EXPECTS', 'HW', 'SOURCE', 'STATE'], shown);
  const more = rows.length - shown.length;
  const title =
    `*Orderers* — the offset each one resumes at vs. the partition's high watermark` +
    (more > 0 ? ` (${shown.length} of ${rows.length}, worst first)` : '');
  return codeSections(title, lines, maxSections);
}

// ------------------------------------------------------------------ findings

function repairCommand(r: { kind: string; args: Record<string, string | number> }): string {
  const args = Object.entries(r.args).map(([k, v]) => `${k}=${v}`);
  return `/fabric repair ${[r.kind, ...args].join(' ')}`;
}

function repairButton(cluster: string, f: Finding): Button | undefined {
  const r = f.repairs[0];
  if (!r) return undefined;
  const value: RepairButtonValue = { cluster, kind: r.kind, args: r.args };
  const v = JSON.stringify(value);
  if (v.length > SLACK_LIMITS.buttonValue) return undefined;
  return {
    type: 'button',
    action_id: ACTIONS.repairRequest,
    text: {
      type: 'plain_text',
      text: truncate(`Plan: ${printable(r.title)}`, SLACK_LIMITS.buttonText),
      emoji: true,
    },
    value: v,
  };
}

export function findingBlock(cluster: string, f: Finding, opts: { buttons: boolean }): SectionBlock {
  const lines = [
    `${SEVERITY_ICON[f.severity]} *${f.code}* — ${inline(describeSubject(f.subject))}`,
    inline(truncate(f.summary, 600)),
  ];
  if (f.explanation) lines.push(`_${inline(truncate(f.explanation, 700))}_`);
  const ev = Object.keys(f.evidence).length ? compactJson(f.evidence, 600) : '';
  if (ev) lines.push(`Evidence: \`${inline(ev)}\``);
  if (f.repairs.length > 0) {
    const cmds = f.repairs.slice(0, 3).map((r) => `\`${inline(truncate(repairCommand(r), 200))}\``);
    lines.push(`Repair: ${cmds.join(' · ')}${f.repairs.length > 3 ? ` (+${f.repairs.length - 3})` : ''}`);
  }
  const block = section(lines.join('\n'));
  const button = opts.buttons ? repairButton(cluster, f) : undefined;
  if (button) block.accessory = button;
  return block;
}

interface FindingGroup {
  severity: Severity;
  code: string;
  findings: Finding[];
}

function groupFindings(findings: readonly Finding[]): FindingGroup[] {
  const groups: FindingGroup[] = [];
  for (const f of [...findings].sort(compareFindings)) {
    const last = groups[groups.length - 1];
    if (last && last.code === f.code && last.severity === f.severity) last.findings.push(f);
    else groups.push({ severity: f.severity, code: f.code, findings: [f] });
  }
  return groups;
}

export function countBySeverity(findings: readonly Finding[]): Record<Severity, number> {
  const c: Record<Severity, number> = { critical: 0, warning: 0, info: 0 };
  for (const f of findings) c[f.severity]++;
  return c;
}

/**
 * Findings worst first, at most `perCode` individually for each code (then one line for the rest of that code),
 * within `budget` blocks; whatever does not fit is summed up in one last block.
 */
function findingBlocks(
  cluster: string,
  findings: readonly Finding[],
  budget: number,
  opts: { perCode: number; buttons: boolean },
): KnownBlock[] {
  if (findings.length === 0) return [section(':white_check_mark: *No findings* — nothing to report.')];
  const out: KnownBlock[] = [];
  const groups = groupFindings(findings);
  const room = () => budget - out.length - 1; // keep one for the "not shown" line
  const leftover = new Map<string, number>();
  for (const g of groups) {
    const individual = g.findings.slice(0, opts.perCode);
    const rest = g.findings.slice(opts.perCode);
    for (const f of individual) {
      if (room() < 1) {
        leftover.set(g.code, (leftover.get(g.code) ?? 0) + 1);
        continue;
      }
      out.push(findingBlock(cluster, f, opts));
    }
    if (rest.length > 0) {
      if (room() >= 1) {
        const subjects = rest.slice(0, 30).map((f) => describeSubject(f.subject));
        out.push(
          context(
            `${SEVERITY_ICON[g.severity]} …and ${plural(rest.length, `more ${g.code}`, `more ${g.code}`)}: ` +
              inline(truncate(subjects.join(', '), 1500)) +
              (rest.length > subjects.length ? ', …' : ''),
          ),
        );
      } else {
        leftover.set(g.code, (leftover.get(g.code) ?? 0) + rest.length);
      }
    }
  }
  if (leftover.size > 0) {
    const total = [...leftover.values()].reduce((a, b) => a + b, 0);
    const parts = [...leftover.entries()].map(([code, c]) => `${code} ×${num(c)}`);
    out.push(
      context(
        `${plural(total, 'more finding')} not shown (${inline(truncate(parts.join(', '), 1500))}). ` +
          'All of them: `fabric-opsbot diagnose --json`',
      ),
    );
  }
  return out;
}

// ------------------------------------------------------------------ the report

export type ReportView = 'full' | 'brokers';

export interface ReportBlocksOptions {
  view?: ReportView;
  /** A line for the context block (e.g. who asked, job id). */
  footer?: string;
  maxPartitionRows?: number;
  maxOrdererRows?: number;
  /** Findings of one code shown individually before the rest are listed in one line. */
  perCode?: number;
  /** Repair buttons on findings (off for scheduled-check summaries). Default true. */
  buttons?: boolean;
}

function verdict(c: Record<Severity, number>): { icon: string; word: string } {
  if (c.critical > 0) return { icon: ':red_circle:', word: 'CRITICAL' };
  if (c.warning > 0) return { icon: ':large_orange_circle:', word: 'WARNING' };
  return { icon: ':large_green_circle:', word: 'OK' };
}

function countsLine(c: Record<Severity, number>): string {
  return `${plural(c.critical, 'critical', 'critical')}, ${plural(c.warning, 'warning')}, ${plural(c.info, 'info', 'info')}`;
}

function sourcesLine(report: Report): string {
  const parts = Object.entries(report.sources).map(([name, s]) => {
    if (!s) return `${name} ?`;
    return s.ok ? `${name} :white_check_mark:${s.ms !== undefined ? ` ${s.ms} ms` : ''}` : `${name} :x:`;
  });
  return parts.join(' · ') || 'none';
}

function glance(report: Report, view: ReportView): SectionBlock {
  const reg = report.brokers.filter((b) => b.registered).length;
  const reach = report.brokers.filter((b) => b.reachable === true).length;
  const states = report.partitions.map(partitionState);
  const count = (s: PartitionState) => states.filter((x) => x === s).length;
  const pParts = [
    plural(report.partitions.length, 'partition'),
    count('OFFLINE') ? `${num(count('OFFLINE'))} offline` : '',
    count('UNDER-MIN-ISR') ? `${num(count('UNDER-MIN-ISR'))} under min ISR` : '',
    count('AT-MIN-ISR') ? `${num(count('AT-MIN-ISR'))} at min ISR` : '',
    count('UNDER-REPL') ? `${num(count('UNDER-REPL'))} under-replicated` : '',
  ].filter(Boolean);
  const channels = [...new Set(report.orderers.map((o) => o.channel))];
  const ordererNames = new Set(report.orderers.map((o) => o.name));
  const fields = [
    `*Scope*\n${report.scope.channel ? `channel ${inline(truncate(report.scope.channel, 300))}` : view === 'brokers' ? 'brokers' : 'whole cluster'}`,
    `*Controller*\n${report.controller === null ? ':x: none' : `broker ${report.controller}`}`,
    `*Brokers*\n${reg} registered, ${reach} reachable of ${report.brokers.length}`,
    `*Partitions*\n${pParts.join(' · ')}`,
    `*Orderers*\n${ordererNames.size}${channels.length ? ` (${inline(truncate(channels.join(', '), 300))})` : ''}`,
    `*Sources*\n${sourcesLine(report)}`,
  ];
  return {
    type: 'section',
    fields: fields
      .slice(0, SLACK_LIMITS.fields)
      .map((t) => ({ type: 'mrkdwn' as const, text: fit(t, SLACK_LIMITS.fieldText) })),
  };
}

function brokerTable(report: Report): SectionBlock[] {
  if (report.brokers.length === 0) return [section('*Brokers* — none known')];
  const rows = [...report.brokers]
    .sort(
      (a, b) =>
        Number(a.registered && a.reachable !== false) - Number(b.registered && b.reachable !== false) ||
        a.id - b.id,
    )
    .map((b) => [
      String(b.id),
      b.host === null ? '-' : `${truncate(b.host, 40)}:${n(b.port)}`,
      b.registered ? 'yes' : 'NO',
      b.reachable === null ? '?' : b.reachable ? 'yes' : 'NO',
      report.controller === b.id ? 'controller' : '',
      b.rack ?? '',
    ]);
  return codeSections(
    '*Brokers*',
    table(['ID', 'ENDPOINT', 'REGISTERED', 'REACHABLE', 'ROLE', 'RACK'], rows),
    2,
  );
}

const BROKER_CODES = new Set([
  'BROKER_NOT_REGISTERED',
  'BROKER_UNREACHABLE',
  'CONTROLLER_MISSING',
  'METADATA_DIVERGENCE',
]);

function isBrokerFinding(f: Finding): boolean {
  return (
    BROKER_CODES.has(f.code) ||
    (f.subject.broker !== undefined && f.subject.topic === undefined) ||
    (f.code === 'SOURCE_UNAVAILABLE' && f.subject.source === 'kafka') ||
    f.code === 'CONFIG_REPLICATION'
  );
}

/** The report as a Slack message: glance, tables, findings with repair buttons. Always within Slack's limits. */
export function reportBlocks(report: Report, opts: ReportBlocksOptions = {}): SlackMessage {
  const view = opts.view ?? 'full';
  const findings = view === 'brokers' ? report.findings.filter(isBrokerFinding) : report.findings;
  const counts = countBySeverity(report.findings);
  const v = verdict(counts);
  const scope = report.scope.channel ? ` · ${report.scope.channel}` : view === 'brokers' ? ' · brokers' : '';
  const b = new Budget(SLACK_LIMITS.blocks);
  b.push(header(`${v.word}: ${report.cluster}${scope} — ${countsLine(counts)}`));
  b.push(glance(report, view));
  const errors = Object.entries(report.sources)
    .filter(([, s]) => s && !s.ok)
    .map(([name, s]) => `*${inline(name)}*: ${inline(truncate(s?.error ?? 'not read', 300))}`);
  b.push(
    context(
      `Generated ${inline(truncate(report.generatedAt, 100))}${opts.footer ? ` · ${opts.footer}` : ''}`,
      ...(errors.length ? [`:warning: ${truncate(errors.join(' · '), 1800)}`] : []),
    ),
  );
  b.push(DIVIDER);
  if (view === 'brokers') {
    b.push(...brokerTable(report));
  } else {
    b.push(...partitionBlocks(report, opts.maxPartitionRows ?? 30, 3));
    b.push(...ordererBlocks(report, opts.maxOrdererRows ?? 20, 2));
  }
  b.push(DIVIDER);
  b.push(
    section(
      `*Findings* — ${countsLine(countBySeverity(findings))}` +
        (view === 'brokers' && findings.length < report.findings.length
          ? ` (broker findings only; ${report.findings.length} in all: \`/fabric diagnose\`)`
          : ''),
    ),
  );
  b.push(
    ...findingBlocks(report.cluster, findings, b.left, {
      perCode: opts.perCode ?? 3,
      buttons: opts.buttons ?? true,
    }),
  );
  // The notification text is mrkdwn too (mentions in it would notify): names escaped.
  const text = fit(
    `${v.icon} ${inline(report.cluster)}${inline(scope)}: ${v.word} — ${countsLine(counts)}`,
    SLACK_LIMITS.fallbackText,
  );
  return { text, blocks: b.blocks };
}

// ------------------------------------------------------------------ repair plans

export interface PlanBlocksOptions {
  requestId: string;
  requestedBy?: string;
  /** Approve/Deny buttons (off when the plan is refused or nobody can approve). Default: when not refused. */
  buttons?: boolean;
  /** A line under the plan (e.g. why it cannot be approved). */
  note?: string;
}

/** A repair plan with Approve/Deny buttons (value = the request id). */
export function planBlocks(plan: RepairPlan, opts: PlanBlocksOptions): SlackMessage {
  const b = new Budget(SLACK_LIMITS.blocks);
  const args = Object.entries(plan.args)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  b.push(header(`Repair plan: ${plan.kind}${args ? ` ${args}` : ''} on ${plan.cluster}`));
  b.push(
    context(
      `Request \`${inline(opts.requestId)}\`` +
        // A mention only of what is a Slack user id: anything else is shown as text.
        (opts.requestedBy === undefined
          ? ''
          : /^[UW][A-Z0-9]{2,20}$/.test(opts.requestedBy)
            ? ` · asked by <@${opts.requestedBy}>`
            : ` · asked by ${inline(opts.requestedBy)}`) +
        ' · dry run: nothing has changed',
    ),
  );
  if (plan.refusal !== null)
    b.push(section(`:no_entry: *Refused* — ${inline(truncate(plan.refusal, 2500))}`));
  const pre = plan.preconditions.map(
    (p) => `${p.ok ? ':white_check_mark:' : ':x:'} *${inline(p.check)}* — ${inline(truncate(p.detail, 300))}`,
  );
  if (pre.length) b.push(section(`*Preconditions*\n${truncate(pre.join('\n'), 2900)}`));
  if (plan.steps.length) {
    const steps = plan.steps.map((s, i) => `${i + 1}. ${describeStep(s)}`);
    b.push(...codeSections('*Steps*', steps, 2));
  }
  const expected = Object.keys(plan.expected).length ? compactJson(plan.expected, 800) : '';
  const tail = [
    expected ? `*Expected*: \`${inline(expected)}\`` : '',
    plan.rollback ? `*Rollback*: ${inline(truncate(plan.rollback, 800))}` : '',
  ].filter(Boolean);
  if (tail.length) b.push(section(tail.join('\n')));
  const buttons = opts.buttons ?? plan.refusal === null;
  if (buttons) {
    b.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: ACTIONS.repairApprove,
          style: 'primary',
          text: { type: 'plain_text', text: 'Approve' },
          value: opts.requestId,
          confirm: {
            title: { type: 'plain_text', text: 'Approve this repair?' },
            text: {
              type: 'mrkdwn',
              text: truncate(
                `It will run against ${inline(plan.cluster)} after every precondition is checked again.`,
                SLACK_LIMITS.confirmText,
              ),
            },
            confirm: { type: 'plain_text', text: 'Approve' },
            deny: { type: 'plain_text', text: 'Cancel' },
          },
        },
        {
          type: 'button',
          action_id: ACTIONS.repairDeny,
          style: 'danger',
          text: { type: 'plain_text', text: 'Deny' },
          value: opts.requestId,
        },
      ],
    });
  }
  if (opts.note) b.push(context(inline(opts.note)));
  const verdictText =
    plan.refusal !== null ? `refused: ${plan.refusal}` : `${plan.steps.length} step(s), awaiting approval`;
  return {
    text: fit(inline(`Repair plan ${plan.kind} on ${plan.cluster}: ${verdictText}`), 300),
    blocks: b.blocks,
  };
}

// ------------------------------------------------------------------ incidents and changes

export interface IncidentView {
  cluster: string;
  finding: Finding;
  openedAt: string;
  lastSeenAt: string;
  resolvedAt?: string;
}

/** The parent message of an incident in the incident channel (posted once, then chat.update'd). */
export function incidentBlocks(i: IncidentView): SlackMessage {
  const f = i.finding;
  const resolved = i.resolvedAt !== undefined;
  const title = resolved
    ? `:white_check_mark: *RESOLVED* · ${inline(i.cluster)} · *${f.code}* — ${inline(describeSubject(f.subject))}`
    : `:rotating_light: *INCIDENT* · ${inline(i.cluster)} · *${f.code}* — ${inline(describeSubject(f.subject))}`;
  const body = findingBlock(i.cluster, f, { buttons: !resolved });
  const bodyText = body.text?.text ?? '';
  const block = section(`${title}\n${bodyText.split('\n').slice(1).join('\n')}`);
  if (body.accessory) block.accessory = body.accessory;
  const times = inline(
    `Opened ${i.openedAt} · last seen ${i.lastSeenAt}${resolved ? ` · resolved ${i.resolvedAt}` : ''}`,
  );
  return {
    text: fit(inline(`${resolved ? 'RESOLVED' : 'INCIDENT'} ${i.cluster} ${f.code}: ${f.summary}`), 300),
    blocks: [block, context(times)],
  };
}

/** A thread reply when an open incident changes. */
export function incidentChangeText(before: Finding, after: Finding): string {
  const parts = [`:arrows_counterclockwise: Changed: ${inline(truncate(after.summary, 1000))}`];
  if (before.severity !== after.severity) parts.push(`severity ${before.severity} → ${after.severity}`);
  const ev = compactJson(after.evidence, 1500);
  if (ev !== '{}') parts.push(`Evidence: \`${inline(ev)}\``);
  return truncate(parts.join('\n'), SLACK_LIMITS.sectionText);
}

export interface FindingChange {
  change: 'new' | 'changed' | 'cleared';
  finding: Finding;
}

/** What a scheduled check found different from the previous one. */
export function changesBlocks(
  cluster: string,
  changes: readonly FindingChange[],
  footer?: string,
): SlackMessage {
  const order = { new: 0, changed: 1, cleared: 2 } as const;
  const sorted = [...changes].sort(
    (a, b) => order[a.change] - order[b.change] || compareFindings(a.finding, b.finding),
  );
  const count = (c: FindingChange['change']) => changes.filter((x) => x.change === c).length;
  const summary = `${count('new')} new, ${count('changed')} changed, ${count('cleared')} cleared`;
  const icon = { new: ':new:', changed: ':arrows_counterclockwise:', cleared: ':white_check_mark:' } as const;
  const lines = sorted.map(
    (c) =>
      `${icon[c.change]} ${SEVERITY_ICON[c.finding.severity]} *${c.finding.code}* — ${inline(describeSubject(c.finding.subject))}: ` +
      inline(truncate(c.finding.summary, 250)),
  );
  const b = new Budget(SLACK_LIMITS.blocks);
  b.push(section(`*${inline(cluster)}* — scheduled check: ${summary}`));
  let chunk: string[] = [];
  let len = 0;
  let i = 0;
  for (; i < lines.length; i++) {
    const l = lines[i]!;
    if (len + l.length + 1 > 2900) {
      if (b.left <= 2) break;
      b.push(section(chunk.join('\n')));
      chunk = [];
      len = 0;
    }
    chunk.push(l);
    len += l.length + 1;
  }
  if (chunk.length) b.push(section(chunk.join('\n')));
  if (i < lines.length) b.push(context(`${plural(lines.length - i, 'more change')} not shown`));
  if (footer) b.push(context(footer));
  return { text: fit(`${inline(cluster)}: ${summary}`, 300), blocks: b.blocks };
}

// ------------------------------------------------------------------ whatif, audit, help, errors

/** `whatif stop-broker`: the verdict, then what goes offline / under min ISR / loses its leader, worst first. */
export function whatIfBlocks(
  w: WhatIfStopBroker,
  exitCode: number,
  opts: { footer?: string } = {},
): SlackMessage {
  const verdictText =
    exitCode === 0
      ? ':large_green_circle: Safe to stop'
      : exitCode === 1
        ? ':large_orange_circle: Leaders move; nothing goes offline'
        : exitCode === 2
          ? ':red_circle: Not safe: partitions go offline or under min ISR'
          : ':grey_question: Could not tell';
  const b = new Budget(SLACK_LIMITS.blocks);
  b.push(header(`What if broker ${w.broker} stops? (${w.cluster})`));
  b.push(section(`*${verdictText}*\n${truncate(w.reasons.map((r) => inline(r)).join('\n'), 2500)}`));
  b.push({
    type: 'section',
    fields: [
      `*Replicas on it*\n${num(w.replicaCount)}`,
      `*Controller*\n${w.controller ? 'yes (a new one is elected)' : 'no'}`,
      `*Registered*\n${w.registered === null ? 'unknown' : w.registered ? 'yes' : 'no'}`,
      `*Complete answer*\n${w.complete ? 'yes' : 'no: some state could not be read'}`,
    ].map((t) => ({ type: 'mrkdwn' as const, text: t })),
  });
  if (opts.footer) b.push(context(opts.footer));
  const tp = (x: { topic: string; partition: number }) => [truncate(x.topic, 24), String(x.partition)];
  if (w.goOffline.length) {
    const rows = w.goOffline.map((x) => [...tp(x), list(x.replicas), list(x.isr), truncate(x.reason, 60)]);
    b.push(
      ...codeSections(
        `*Would go offline* (${num(w.goOffline.length)})`,
        table(['TOPIC', 'P', 'REPLICAS', 'ISR', 'WHY'], rows),
        2,
      ),
    );
  }
  if (w.fallUnderMinIsr.length) {
    const rows = w.fallUnderMinIsr.map((x) => [
      ...tp(x),
      list(x.isrBefore),
      list(x.isrAfter),
      String(x.minIsr),
    ]);
    b.push(
      ...codeSections(
        `*Would fall under min ISR* (${num(w.fallUnderMinIsr.length)}): acks=all writes rejected`,
        table(['TOPIC', 'P', 'ISR NOW', 'ISR AFTER', 'MIN'], rows),
        2,
      ),
    );
  }
  if (w.reachMinIsr.length) {
    b.push(
      context(
        `${plural(w.reachMinIsr.length, 'partition')} would be left exactly at min ISR: ` +
          inline(truncate(w.reachMinIsr.map((x) => `${x.topic}/${x.partition}`).join(', '), 1500)),
      ),
    );
  }
  if (w.loseLeader.length) {
    const rows = w.loseLeader.map((x) => [
      ...tp(x),
      String(x.newLeader),
      x.unclean ? 'UNCLEAN: messages lost' : '',
    ]);
    b.push(
      ...codeSections(
        `*Leaders that move* (${num(w.loseLeader.length)})`,
        table(['TOPIC', 'P', 'NEW LEADER', ''], rows),
        2,
      ),
    );
  }
  for (const r of w.repairs.slice(0, Math.max(0, b.left))) {
    const value: RepairButtonValue = { cluster: w.cluster, kind: r.kind, args: r.args };
    const block = section(
      `Suggested: ${inline(truncate(r.title, 500))} — \`${inline(truncate(repairCommand(r), 300))}\``,
    );
    const v = JSON.stringify(value);
    if (v.length <= SLACK_LIMITS.buttonValue) {
      block.accessory = {
        type: 'button',
        action_id: ACTIONS.repairRequest,
        text: {
          type: 'plain_text',
          text: truncate(`Plan: ${printable(r.title)}`, SLACK_LIMITS.buttonText),
          emoji: true,
        },
        value: v,
      };
    }
    b.push(block);
  }
  return {
    text: fit(`What if broker ${w.broker} stops on ${inline(w.cluster)}: ${verdictText}`, 300),
    blocks: b.blocks,
  };
}

/** One audit entry as the audit log returns it. */
export interface AuditLineView {
  id: string;
  entry: {
    who: string;
    what: string;
    cluster: string | null;
    where: string;
    when: string;
    outcome: string;
  } | null;
}

export function auditBlocks(records: readonly AuditLineView[], n: number): SlackMessage {
  if (records.length === 0)
    return { text: 'The audit log is empty.', blocks: [section('The audit log is empty.')] };
  const rows = records.map((r) =>
    r.entry
      ? [
          r.entry.when,
          truncate(r.entry.who, 16),
          truncate(r.entry.what, 14),
          r.entry.cluster ?? '-',
          truncate(r.entry.where, 20),
          truncate(r.entry.outcome, 24),
        ]
      : [r.id, '?', '(unreadable entry)', '', '', ''],
  );
  return {
    text: `The last ${records.length} audit entries`,
    blocks: codeSections(
      `*Audit log* — the last ${records.length}${records.length < n ? ` (all there are)` : ''}; verify the chain with \`fabric-opsbot audit verify\``,
      table(['WHEN', 'WHO', 'WHAT', 'CLUSTER', 'WHERE', 'OUTCOME'], rows),
      5,
    ),
  };
}

/** The subcommands a role may use, for `/fabric help`. */
export function allowedSubcommands(role: EffectiveRole): SubcommandInfo[] {
  return SUBCOMMANDS.filter((s) => s.permission === null || allows(role, s.permission));
}

export function helpText(role: EffectiveRole, clusters: readonly string[], defaultCluster?: string): string {
  const lines = [`*/fabric* — chat-ops for the Kafka/ZooKeeper ordering service. Your role: *${role}*.`];
  if (role === 'none') {
    lines.push(
      'You have no role in this bot, so only `help` is open to you. Ask an admin to add you to `slack.users`.',
    );
  } else {
    for (const s of allowedSubcommands(role)) lines.push(`• \`/fabric ${esc(s.usage)}\` — ${esc(s.does)}`);
    if (allows(role, 'approve'))
      lines.push('• Approve or deny repair plans with their buttons (not your own).');
    lines.push(
      `Add \`--cluster NAME\` anywhere to pick a cluster (${clusters.map((c) => (c === defaultCluster ? `*${c}* (default)` : c)).join(', ')}).`,
    );
  }
  return truncate(lines.join('\n'), SLACK_LIMITS.sectionText);
}

// ------------------------------------------------------------------ limits

/** Every way `blocks` break Slack's limits (empty when they fit). Used by tests and as a last guard. */
export function checkBlockLimits(blocks: readonly KnownBlock[]): string[] {
  const problems: string[] = [];
  if (blocks.length > SLACK_LIMITS.blocks) problems.push(`${blocks.length} blocks > ${SLACK_LIMITS.blocks}`);
  const checkButton = (where: string, el: Button) => {
    if (el.text.text.length > SLACK_LIMITS.buttonText)
      problems.push(`${where}: button text ${el.text.text.length} chars`);
    if ((el.value ?? '').length > SLACK_LIMITS.buttonValue) problems.push(`${where}: button value too long`);
    if ((el.action_id ?? '').length > SLACK_LIMITS.actionId) problems.push(`${where}: action_id too long`);
  };
  blocks.forEach((block, i) => {
    const where = `block ${i} (${block.type})`;
    if (block.type === 'section') {
      const t = block.text?.text;
      if (t !== undefined && (t.length > SLACK_LIMITS.sectionText || t.length === 0)) {
        problems.push(`${where}: text ${t.length} chars`);
      }
      if (block.fields) {
        if (block.fields.length > SLACK_LIMITS.fields)
          problems.push(`${where}: ${block.fields.length} fields`);
        for (const f of block.fields) {
          if (f.text.length > SLACK_LIMITS.fieldText) problems.push(`${where}: field ${f.text.length} chars`);
        }
      }
      if (t === undefined && !block.fields) problems.push(`${where}: neither text nor fields`);
      if (block.accessory?.type === 'button') checkButton(where, block.accessory);
    } else if (block.type === 'header') {
      if (block.text.text.length > SLACK_LIMITS.headerText)
        problems.push(`${where}: ${block.text.text.length} chars`);
    } else if (block.type === 'context') {
      if (block.elements.length > SLACK_LIMITS.contextElements)
        problems.push(`${where}: ${block.elements.length} elements`);
      for (const e of block.elements) {
        if ('text' in e && typeof e.text === 'string' && e.text.length > SLACK_LIMITS.contextText) {
          problems.push(`${where}: element ${e.text.length} chars`);
        }
      }
    } else if (block.type === 'actions') {
      if (block.elements.length > SLACK_LIMITS.actionsElements)
        problems.push(`${where}: ${block.elements.length} elements`);
      const ids = new Set<string>();
      for (const e of block.elements) {
        if (e.type === 'button') checkButton(where, e);
        const id = 'action_id' in e ? e.action_id : undefined;
        if (id !== undefined) {
          if (ids.has(id)) problems.push(`${where}: duplicate action_id ${id}`);
          ids.add(id);
        }
      }
    }
  });
  return problems;
}

/** Finding identity for incidents and change detection: cluster-independent `CODE|subject`. */
export function findingKey(f: Pick<Finding, 'code' | 'subject'>): string {
  return `${f.code}|${subjectKey(f.subject)}`;
}
