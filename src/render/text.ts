/**
 * Terminal text for a report and for `whatif stop-broker`. Readable at 100 columns; ANSI colour only when asked
 * (the CLI passes `process.stdout.isTTY && !NO_COLOR`).
 */
import type { WhatIfMinIsr, WhatIfStopBroker } from '../checks/whatif.js';
import type { Finding, RepairSuggestion, Report, Severity } from '../model/index.js';
import { printable } from '../checks/words.js';
import { reportView, type OrdererRow, type PartitionRow, type TopicView, type ViewOptions } from './view.js';

export interface TextOptions extends ViewOptions {
  color: boolean;
  /** Line width to wrap prose at; tables may be wider when a replica list is long. */
  width?: number;
}

const WIDTH = 100;

type Style = 'bold' | 'dim' | 'red' | 'yellow' | 'cyan' | 'green';
const SGR: Record<Style, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  yellow: [33, 39],
  cyan: [36, 39],
  green: [32, 39],
};

type Paint = (text: string, ...styles: Style[]) => string;

function painter(color: boolean): Paint {
  if (!color) return (text) => text;
  return (text, ...styles) => styles.reduce((t, s) => `\u001b[${SGR[s][0]}m${t}\u001b[${SGR[s][1]}m`, text);
}

const SEVERITY_STYLE: Record<Severity, Style> = { critical: 'red', warning: 'yellow', info: 'cyan' };

/** Word-wrap `text` to `width`, every line prefixed with `indent` (the first with `first`, if given). */
export function wrap(text: string, width: number, indent: string, first = indent): string[] {
  if (first.length + text.length <= width && !text.includes('\n')) return [first + text]; // keeps its spacing
  const out: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    if (!empty && line.length + 1 + word.length > width) {
      out.push(line);
      line = indent + word;
    } else {
      line += (empty ? '' : ' ') + word;
    }
    empty = false;
  }
  if (!empty) out.push(line);
  return out;
}

function time(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function repairText(r: RepairSuggestion): string {
  const args = Object.entries(r.args)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${r.title} [${r.kind}${args ? ` ${args}` : ''}]`;
}

// ------------------------------------------------------------------ report

/**
 * The report with every string it will print made printable: names come from the cluster, and a topic named
 * "\u001b[2J" or "a\nb" must neither drive the operator's terminal nor break a table row.
 */
function printableReport(r: Report): Report {
  const p = printable;
  return {
    ...r,
    cluster: p(r.cluster),
    generatedAt: p(r.generatedAt),
    scope: r.scope.channel !== undefined ? { channel: p(r.scope.channel) } : {},
    sources: Object.fromEntries(
      Object.entries(r.sources).map(([name, s]) => [
        name,
        s && {
          ...s,
          ...(s.error !== undefined ? { error: p(s.error) } : {}),
          ...(s.notChecked !== undefined ? { notChecked: s.notChecked.map(p) } : {}),
        },
      ]),
    ),
    brokers: r.brokers.map((b) => ({ ...b, host: b.host === null ? null : p(b.host) })),
    partitions: r.partitions.map((x) => ({ ...x, topic: p(x.topic) })),
    orderers: r.orderers.map((o) => ({
      ...o,
      name: p(o.name),
      channel: p(o.channel),
      source: o.source === null ? null : p(o.source),
    })),
    findings: r.findings.map((f) => ({
      ...f,
      subject: Object.fromEntries(
        Object.entries(f.subject).map(([k, v]) => [k, typeof v === 'string' ? p(v) : v]),
      ) as Finding['subject'],
      summary: p(f.summary),
      ...(f.explanation !== undefined ? { explanation: p(f.explanation) } : {}),
      repairs: f.repairs.map((x) => ({
        ...x,
        title: p(x.title),
        kind: p(x.kind),
        args: Object.fromEntries(
          Object.entries(x.args).map(([k, v]) => [p(k), typeof v === 'string' ? p(v) : v]),
        ),
      })),
    })),
  };
}

export function renderText(report: Report, opts: TextOptions): string {
  const paint = painter(opts.color);
  const width = opts.width ?? WIDTH;
  const v = reportView(printableReport(report), opts);
  const lines: string[] = [];

  // Header
  lines.push(
    paint(`fabric-opsbot: cluster ${v.cluster}`, 'bold') +
      ` at ${time(v.generatedAt)}` +
      (v.channel !== undefined ? `, channel ${paint(v.channel, 'bold')}` : ''),
  );
  const brokerBits = [`Brokers: ${v.brokers.ids.length > 0 ? v.brokers.ids.join(' ') : 'none known'}`];
  if (v.brokers.notRegistered.length > 0) {
    brokerBits.push(paint(`not registered: ${v.brokers.notRegistered.join(' ')}`, 'red'));
  }
  if (v.brokers.unreachable.length > 0)
    brokerBits.push(paint(`unreachable: ${v.brokers.unreachable.join(' ')}`, 'red'));
  lines.push(
    `Controller: ${v.controller === null ? paint('none', 'red') : `broker ${v.controller}`}   ${brokerBits.join('; ')}`,
  );
  const sourceBits = v.sources.map((s) =>
    s.ok
      ? `${s.name} ok${s.ms !== undefined ? ` (${s.ms} ms)` : ''}`
      : paint(`${s.name} FAILED`, 'red') + (s.error !== undefined ? ` (${s.error})` : ''),
  );
  lines.push(
    ...wrap(sourceBits.length > 0 ? sourceBits.join(', ') : 'none', width, '         ', 'Sources: '),
  );
  const verdict =
    v.worst === null
      ? paint('OK', 'green', 'bold') + ': no findings'
      : paint(v.worst.toUpperCase(), SEVERITY_STYLE[v.worst], 'bold') +
        `: ${v.counts.critical} critical, ${v.counts.warning} warning, ${v.counts.info} info`;
  lines.push(`Result: ${verdict}`);

  // Topics
  lines.push('');
  if (v.detailed.length === 0 && v.compact.length === 0) {
    lines.push(
      paint('No partitions to show', 'dim') + ' (partition state could not be read or no topic in scope)',
    );
  }
  if (v.compactNote !== undefined) lines.push(paint(v.compactNote, 'dim'));
  let marks = false;
  for (const t of v.detailed) {
    lines.push(...topicBlock(t, paint));
    marks ||= t.rows.some((r) => !r.leaderOk || r.replicas.some((c) => !c.inSync || !c.registered));
    lines.push('');
  }
  if (v.compact.length > 0) {
    lines.push(paint('Topics', 'bold'));
    const nameWidth = Math.min(40, Math.max(...v.compact.map((t) => t.topic.length)));
    for (const t of v.compact) {
      const state = t.healthy
        ? 'all in sync'
        : paint(
            `${t.outOfSync} not fully in sync` + (t.worst !== null ? ` (${t.worst.toUpperCase()})` : ''),
            t.worst !== null ? SEVERITY_STYLE[t.worst] : 'yellow',
          );
      lines.push(
        `  ${t.topic.padEnd(nameWidth)}  ${plural(t.partitionCount, 'partition')}, RF ${t.replicationFactors.join('/')}` +
          `${t.minIsr.length > 0 ? `, min ISR ${t.minIsr.join('/')}` : ''}: ${state}`,
      );
    }
    lines.push('');
  }
  if (marks) {
    lines.push(paint('  * out of sync   ! broker not registered   NONE no leader', 'dim'));
    lines.push('');
  }
  for (const o of v.strayOrderers) {
    lines.push(
      `Orderer ${o.name} on channel ${o.channel} (no partition in this report): ${ordererText(o, paint)}`,
    );
  }
  if (v.strayOrderers.length > 0) lines.push('');

  // Findings
  if (v.findingGroups.length === 0) {
    lines.push(paint('No findings.', 'green'));
  } else {
    lines.push(paint('Findings', 'bold'));
    for (const g of v.findingGroups) {
      lines.push(
        paint(`${g.severity.toUpperCase()} (${g.findings.length})`, SEVERITY_STYLE[g.severity], 'bold'),
      );
      g.findings.forEach((f, i) => {
        if (i > 0 && g.severity !== 'info') lines.push('');
        lines.push(...findingLines(f, paint, width));
      });
    }
  }
  return `${lines.join('\n')}\n`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function topicBlock(t: TopicView, paint: Paint): string[] {
  const lines: string[] = [];
  const title =
    `Topic ${paint(t.topic, 'bold')}${t.channel ? ' (channel)' : ''}: ${plural(t.partitionCount, 'partition')}, ` +
    `RF ${t.replicationFactors.join('/')}` +
    (t.minIsr.length > 0 ? `, min ISR ${t.minIsr.join('/')}` : '') +
    (t.worst !== null ? `  ${paint(t.worst.toUpperCase(), SEVERITY_STYLE[t.worst])}` : '');
  lines.push(title);
  const header = ['PART', 'LEADER', 'REPLICAS', 'ISR', 'MIN ISR', 'HIGH WATERMARK', 'LOG START'];
  const rows = t.rows.map((r) => rowCells(r));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((c) => c[i]!.text.length)));
  lines.push(paint(`  ${header.map((h, i) => h.padEnd(widths[i]!)).join('  ')}`.trimEnd(), 'dim'));
  t.rows.forEach((r, ri) => {
    const cells = rows[ri]!;
    lines.push(
      `  ${cells
        .map((c, i) => {
          const padded = c.text.padEnd(widths[i]!);
          return c.bad ? paint(padded, 'red') : padded;
        })
        .join('  ')}`.trimEnd(),
    );
    for (const o of r.orderers) lines.push(`      orderer ${o.name}: ${ordererText(o, paint)}`);
  });
  const hidden = [
    t.hiddenUnhealthy > 0 ? `${t.hiddenUnhealthy} more unhealthy` : '',
    t.hiddenHealthy > 0 ? `${t.hiddenHealthy} healthy` : '',
  ].filter((x) => x !== '');
  if (hidden.length > 0) lines.push(paint(`  ... and ${hidden.join(' and ')} partitions not shown`, 'dim'));
  return lines;
}

function rowCells(r: PartitionRow): { text: string; bad: boolean }[] {
  const leader = r.leader === null ? 'NONE' : `${r.leader}${r.leaderOk ? '' : '!'}`;
  const replicas = r.replicas.map((c) => `${c.id}${!c.registered ? '!' : !c.inSync ? '*' : ''}`).join(' ');
  const isr = r.isr.length === 0 ? '(empty)' : r.isr.join(' ');
  const short = r.minIsr !== null && r.replicas.filter((c) => c.inSync && c.registered).length < r.minIsr;
  return [
    { text: String(r.partition), bad: false },
    { text: leader, bad: !r.leaderOk },
    { text: replicas || '(none)', bad: r.replicas.some((c) => !c.inSync || !c.registered) },
    { text: isr + (r.strayIsr.length > 0 ? ` (not replicas: ${r.strayIsr.join(' ')})` : ''), bad: short },
    { text: r.minIsr === null ? '?' : String(r.minIsr), bad: false },
    { text: r.highWatermark === null ? '?' : String(r.highWatermark), bad: false },
    { text: r.logStartOffset === null ? '?' : String(r.logStartOffset), bad: false },
  ];
}

function ordererText(o: OrdererRow, paint: Paint): string {
  const details = [
    o.lastOffsetPersisted !== null ? `last persisted ${o.lastOffsetPersisted}` : null,
    o.blockHeight !== undefined ? `height ${o.blockHeight}` : null,
    o.source !== null ? `from ${o.source}` : null,
  ].filter((s): s is string => s !== null);
  const base =
    (o.expectedStartOffset === null ? 'expected offset unknown' : `expects offset ${o.expectedStartOffset}`) +
    (details.length > 0 ? ` (${details.join(', ')})` : '');
  if (o.position === 'ahead') return `${base}  ${paint('PAST THE HIGH WATERMARK', 'red', 'bold')}`;
  if (o.position === 'behind') return `${base}  ${paint('BELOW THE LOG START OFFSET', 'red', 'bold')}`;
  return base;
}

function findingLines(f: Finding, paint: Paint, width: number): string[] {
  const lines: string[] = [];
  // Wrap on the plain text, then colour the code at the start of the first line.
  const wrapped = wrap(f.summary, width, '      ', `  ${f.code}  `);
  wrapped[0] = wrapped[0]!.replace(f.code, paint(f.code, SEVERITY_STYLE[f.severity], 'bold'));
  lines.push(...wrapped);
  if (f.explanation) lines.push(...wrap(f.explanation, width, '      ').map((l) => paint(l, 'dim')));
  for (const r of f.repairs) lines.push(...wrap(repairText(r), width, '        ', '      -> '));
  return lines;
}

// ------------------------------------------------------------------ whatif

const LIST_LIMIT = 20;

function printableWhatIf(w: WhatIfStopBroker): WhatIfStopBroker {
  const p = printable;
  const tp = <T extends { topic: string }>(x: T): T => ({ ...x, topic: p(x.topic) });
  return {
    ...w,
    cluster: p(w.cluster),
    goOffline: w.goOffline.map((o) => ({ ...tp(o), reason: p(o.reason) })),
    fallUnderMinIsr: w.fallUnderMinIsr.map(tp),
    reachMinIsr: w.reachMinIsr.map(tp),
    loseLeader: w.loseLeader.map(tp),
    alreadyOffline: w.alreadyOffline.map(tp),
    reasons: w.reasons.map(p),
    repairs: w.repairs.map((x) => ({
      ...x,
      title: p(x.title),
      args: Object.fromEntries(
        Object.entries(x.args).map(([k, v]) => [p(k), typeof v === 'string' ? p(v) : v]),
      ),
    })),
  };
}

export function renderWhatIf(input: WhatIfStopBroker, opts: TextOptions): string {
  const w = printableWhatIf(input);
  const paint = painter(opts.color);
  const width = opts.width ?? WIDTH;
  const lines: string[] = [];
  lines.push(paint(`What if broker ${w.broker} stops? (cluster ${w.cluster})`, 'bold'));
  const verdict = w.safe
    ? paint('SAFE', 'green', 'bold')
    : !w.complete && w.goOffline.length === 0 && w.fallUnderMinIsr.length === 0
      ? paint('CANNOT TELL', 'yellow', 'bold')
      : paint('NOT SAFE', 'red', 'bold');
  const facts = [
    w.registered === null ? 'registration unknown' : w.registered ? 'registered' : 'not registered',
    `${plural(w.replicaCount, 'replica')} on it`,
    ...(w.controller ? ['it is the controller'] : []),
  ];
  lines.push(`${verdict}  (${facts.join(', ')})`);
  for (const r of w.reasons) lines.push(...wrap(r, width, '    ', '  - '));

  const section = <T>(
    title: string,
    items: readonly T[],
    style: Style | null,
    line: (i: T) => string,
  ): void => {
    if (items.length === 0) return;
    lines.push('');
    lines.push(
      style
        ? paint(`${title} (${items.length})`, style, 'bold')
        : paint(`${title} (${items.length})`, 'bold'),
    );
    for (const i of items.slice(0, LIST_LIMIT)) lines.push(...wrap(line(i), width, '      ', '  '));
    if (items.length > LIST_LIMIT) lines.push(paint(`  ... and ${items.length - LIST_LIMIT} more`, 'dim'));
  };
  const minIsrLine = (m: WhatIfMinIsr) =>
    `${m.topic}/${m.partition}  ISR ${m.isrBefore.join(' ')} -> ${m.isrAfter.length > 0 ? m.isrAfter.join(' ') : '(none)'}` +
    `, min.insync.replicas ${m.minIsr}`;
  section('Would go offline', w.goOffline, 'red', (o) => `${o.topic}/${o.partition}  ${o.reason}`);
  section(
    'Would fall under min.insync.replicas (acks=all writes rejected)',
    w.fallUnderMinIsr,
    'red',
    minIsrLine,
  );
  section('Would be left at min.insync.replicas', w.reachMinIsr, 'yellow', minIsrLine);
  section(
    'Would move their leader',
    w.loseLeader,
    null,
    (m) =>
      `${m.topic}/${m.partition}  new leader ${m.newLeader}${m.unclean ? ' (UNCLEAN: out of sync, messages lost)' : ''}`,
  );
  section('Already offline', w.alreadyOffline, 'dim', (o) => `${o.topic}/${o.partition}`);
  if (w.repairs.length > 0) {
    lines.push('');
    lines.push(paint('Suggested', 'bold'));
    for (const r of w.repairs) lines.push(...wrap(repairText(r), width, '      ', '  -> '));
  }
  return `${lines.join('\n')}\n`;
}
