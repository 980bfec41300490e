/**
 * The `/fabric` text parser: `help | status <channel> | diagnose | brokers | whatif stop-broker <id> |
 * repair <kind> [args] | audit [n]`, with `--cluster NAME` (or `--cluster=NAME`) anywhere. Pure: it knows
 * nothing of the inventory (whether a cluster or channel exists is checked by the handler), but every name it
 * returns has the shape Kafka, Fabric and the inventory allow, so nothing odd travels further.
 *
 * Slack sends the text with its own markup: `<#C123|pubchain>` for a channel the user typed as #pubchain,
 * `<http://orderer1.example.com|orderer1.example.com>` for anything that looks like a domain, `<@U123|bob>` and
 * `<!here>` for mentions, and `&lt;` `&gt;` `&amp;` for the characters a user typed. Channel links and links
 * become the names they show; mentions are refused (no command takes a user). Errors quote what was wrong
 * escaped for Slack (a name in an error can never ping anyone), shortened, with control characters made visible.
 */
import { invisible } from '../checks/words.js';
import type { Permission } from './roles.js';

export type FabricCommand =
  | { sub: 'help' }
  | { sub: 'status'; channel: string }
  | { sub: 'diagnose' }
  | { sub: 'brokers' }
  | { sub: 'whatif'; action: 'stop-broker'; brokerId: number }
  | { sub: 'repair'; kind: string; args: Record<string, string | number> }
  | { sub: 'audit'; n: number };

export type Subcommand = FabricCommand['sub'];

export type ParseResult =
  { ok: true; command: FabricCommand; cluster?: string } | { ok: false; error: string; sub?: Subcommand };

export interface SubcommandInfo {
  sub: Subcommand;
  usage: string;
  does: string;
  /** null: anyone may ask (help). */
  permission: Permission | null;
}

export const SUBCOMMANDS: readonly SubcommandInfo[] = [
  { sub: 'help', usage: 'help', does: 'what you can do here', permission: null },
  {
    sub: 'status',
    usage: 'status <channel>',
    does: "one Fabric channel: its partition's leader, replicas and ISR, offsets against what the orderers expect",
    permission: 'view',
  },
  { sub: 'diagnose', usage: 'diagnose', does: 'full check of the cluster', permission: 'view' },
  {
    sub: 'brokers',
    usage: 'brokers',
    does: 'the brokers: registered, reachable, controller',
    permission: 'view',
  },
  {
    sub: 'whatif',
    usage: 'whatif stop-broker <id>',
    does: 'what stopping that broker would do (offline partitions, under min ISR, leaders lost)',
    permission: 'view',
  },
  {
    sub: 'repair',
    usage: 'repair <kind> [key=value ...]',
    does: 'propose a repair: the plan is posted with Approve/Deny for an approver',
    permission: 'request-repair',
  },
  { sub: 'audit', usage: 'audit [n]', does: 'the last n audit entries (default 10)', permission: 'view' },
];

/** Positional arguments of known repair kinds: `/fabric repair pad-channel pubchain` = channel=pubchain. */
export const REPAIR_POSITIONALS: Readonly<Record<string, readonly string[]>> = {
  'pad-channel': ['channel'],
  'drain-broker': ['broker'],
  /** A broker id, a container name or an orderer name. */
  'restart-container': ['target'],
  'start-container': ['target'],
  'raise-replication': ['topic', 'rf'],
  'preferred-leader-election': ['topic', 'partition'],
  'set-topic-config': ['topic', 'key', 'value'],
};

/**
 * Every argument name a known repair kind takes (positional names, and the names a finding's suggestion uses:
 * `restart-container container=kafka2` or `broker=2`). The worker maps them to the kind's parameters.
 */
export const REPAIR_ARG_NAMES: Readonly<Record<string, readonly string[]>> = {
  ...REPAIR_POSITIONALS,
  'restart-container': ['target', 'container', 'broker'],
  'start-container': ['target', 'container', 'broker'],
};

/** Arguments a known kind cannot do without (any one of each group). */
const REPAIR_REQUIRED: Readonly<Record<string, readonly (readonly string[])[]>> = {
  'pad-channel': [['channel']],
  'drain-broker': [['broker']],
  'restart-container': [['target', 'container', 'broker']],
  'start-container': [['target', 'container', 'broker']],
  'raise-replication': [['topic']],
  'preferred-leader-election': [['topic']],
  'set-topic-config': [['topic'], ['key'], ['value']],
};

export const AUDIT_DEFAULT = 10;
export const AUDIT_MAX = 50;
/** Longer command texts are refused before anything else is looked at. */
export const MAX_COMMAND_LENGTH = 4000;

/** Fabric's channel name rule (configtx: lowercase, digits, dot, dash, starting with a letter, < 250). */
export const FABRIC_CHANNEL_NAME = /^[a-z][a-z0-9.-]{0,248}$/;
/** Kafka's topic name rule (Topic.validate): 1-249 of [a-zA-Z0-9._-], not "." or "..". */
export const KAFKA_TOPIC_NAME = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,249}$/;
/** Cluster names of the inventory. */
export const CLUSTER_NAME = /^[A-Za-z0-9_.-]{1,255}$/;
export const REPAIR_KIND = /^[a-z][a-z0-9-]{0,63}$/;
export const ARG_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
/** A topic config key (retention.ms, min.insync.replicas...). */
const CONFIG_KEY = /^[a-z][a-z0-9.]{0,127}$/;
/** A container name, an orderer name or a ZooKeeper member address (host:port). */
const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,254}$/;
/** Any other argument value: a conservative set of printable characters (no Slack markup, no spaces). */
export const PLAIN_VALUE = /^[A-Za-z0-9._:,+/@=-]{1,249}$/;
/** Broker ids, partitions, replication factors. */
const WHOLE = /^\d{1,9}$/;
/** An integer as a person writes it (no leading zeros, no "-0"): such values travel as numbers. */
const CANONICAL_INT = /^(0|-?[1-9]\d{0,14})$/;

const NUMERIC_ARGS = new Set(['broker', 'partition', 'rf']);

/** A subcommand's usage as Slack mrkdwn: `<channel>` escaped, or Slack would take it for a link. */
const usageOf = (sub: Subcommand): string =>
  `\`/fabric ${(SUBCOMMANDS.find((s) => s.sub === sub)?.usage ?? sub).replace(/</g, '&lt;').replace(/>/g, '&gt;')}\``;

function fail(error: string, sub?: Subcommand): ParseResult {
  return sub === undefined ? { ok: false, error } : { ok: false, error, sub };
}

// ------------------------------------------------------------------ quoting what the user typed

const SHOW_MAX = 40;

/**
 * A piece of user input as an error shows it, inside backticks: at most 40 characters (then "…"), Slack's
 * control characters escaped (`<` `>` `&`), backticks replaced by ', invisible characters as \uXXXX.
 */
export function showToken(s: string): string {
  const cps = Array.from(s);
  const cut = cps.length > SHOW_MAX ? [...cps.slice(0, SHOW_MAX - 1), '…'] : cps;
  const body = cut
    .map((ch) => {
      const cp = ch.codePointAt(0)!;
      if (invisible(cp)) return `\\u${cp.toString(16).padStart(4, '0')}`;
      if (ch === '&') return '&amp;';
      if (ch === '<') return '&lt;';
      if (ch === '>') return '&gt;';
      if (ch === '`') return "'";
      return ch;
    })
    .join('');
  return `\`${body}\``;
}

// ------------------------------------------------------------------ Slack markup and tokens

interface Token {
  text: string;
  /** Why this token cannot be an argument at all (a mention), as an error sentence. */
  problem?: string;
}

const ENTITY: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&' };

function decodeEntities(s: string): string {
  return s.replace(/&(lt|gt|amp);/g, (_, e: string) => ENTITY[e]!);
}

/** One `<...>` of Slack markup (without the brackets) as the text it stands for, or why it cannot be used. */
function decodeMarkup(inner: string): Token {
  const bar = inner.indexOf('|');
  const target = bar === -1 ? inner : inner.slice(0, bar);
  const label = bar === -1 ? undefined : decodeEntities(inner.slice(bar + 1));
  if (/^#[CG][A-Z0-9]+$/.test(target)) {
    if (label !== undefined && label !== '') return { text: `#${label}` };
    return {
      text: target,
      problem:
        `${showToken(target)} is a link to a Slack channel whose name Slack did not send: type the Fabric ` +
        'channel name without #',
    };
  }
  if (/^@[UWB][A-Z0-9]+$/.test(target) || target.startsWith('!')) {
    const who =
      label !== undefined && label !== ''
        ? label.startsWith('@')
          ? label
          : `@${label}`
        : target.startsWith('!')
          ? `@${target.slice(1).replace(/\^.*$/, '')}`
          : target;
    return {
      text: who,
      problem: `${showToken(who)} is a Slack mention: /fabric takes no user or group names`,
    };
  }
  if (/^(https?:\/\/|mailto:)/i.test(target)) {
    // Slack turns anything that looks like a domain into a link: the label is what the user typed.
    return { text: label !== undefined && label !== '' ? label : decodeEntities(target) };
  }
  // Not markup Slack writes (Slack sends a typed "<" as "&lt;"): the characters as they are.
  return { text: `<${decodeEntities(inner)}>` };
}

/** A raw token: its `<...>` markup decoded, then the entities of the text around it. */
function decodeToken(raw: string): Token {
  let text = '';
  let problem: string | undefined;
  let i = 0;
  while (i < raw.length) {
    const open = raw.indexOf('<', i);
    const close = open === -1 ? -1 : raw.indexOf('>', open + 1);
    if (open === -1 || close === -1) {
      text += decodeEntities(raw.slice(i));
      break;
    }
    text += decodeEntities(raw.slice(i, open));
    const m = decodeMarkup(raw.slice(open + 1, close));
    text += m.text;
    problem ??= m.problem;
    i = close + 1;
  }
  return problem === undefined ? { text } : { text, problem };
}

function normalise(text: string): string {
  return (
    text
      .replace(/[\u201c\u201d]/g, '"')
      .replace(/[\u2018\u2019]/g, "'")
      // Slack clients (macOS) turn "--" into an em dash: "—cluster" means "--cluster".
      .replace(/(^|\s)[\u2014\u2013](?=\S)/g, '$1--')
  );
}

const SPACE = /\s/;

/**
 * Split on whitespace (any Unicode space); "double" or 'single' quotes at the start of a word group words, and
 * Slack's `<...>` markup stays in one piece (a mention's label may hold spaces).
 */
function lex(text: string): Token[] {
  const s = normalise(text);
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && SPACE.test(s[i]!)) i++;
    if (i >= s.length) break;
    const q = s[i]!;
    if (q === '"' || q === "'") {
      const end = s.indexOf(q, i + 1);
      if (end !== -1) {
        out.push(decodeToken(s.slice(i + 1, end)));
        i = end + 1;
        continue;
      }
    }
    let j = i;
    while (j < s.length && !SPACE.test(s[j]!)) {
      if (s[j] === '<') {
        const close = s.indexOf('>', j + 1);
        const next = s.indexOf('<', j + 1);
        if (close !== -1 && (next === -1 || next > close)) {
          j = close + 1;
          continue;
        }
      }
      j++;
    }
    out.push(decodeToken(s.slice(i, j)));
    i = j;
  }
  return out;
}

/** The words of a command text, with Slack's markup decoded (see the module comment). */
export function tokenize(text: string): string[] {
  return lex(text).map((t) => t.text);
}

// ------------------------------------------------------------------ suggestions

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The closest of `candidates` to `word`, when close enough to be a typo. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  // A word much longer than every candidate is no typo of one (and would cost a long comparison).
  const longest = Math.max(0, ...candidates.map((c) => c.length));
  if (word.length > longest + 3) return undefined;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = distance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestD) {
      best = c;
      bestD = dist;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

// ------------------------------------------------------------------ names and values

type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** A Fabric channel name (a leading # is dropped), or why not. */
export function checkChannelName(raw: string): Checked<string> {
  const name = raw.replace(/^#/, '');
  if (FABRIC_CHANNEL_NAME.test(name)) return { ok: true, value: name };
  const lower = name.toLowerCase();
  const hint =
    lower !== name && FABRIC_CHANNEL_NAME.test(lower)
      ? ` (did you mean ${showToken(lower)}? channel names are lowercase)`
      : '';
  return {
    ok: false,
    error:
      `${showToken(raw)} is not a Fabric channel name: lowercase letters, digits, . and -, starting with a ` +
      `letter, at most 249 characters${hint}`,
  };
}

function checkTopicName(raw: string): Checked<string> {
  const name = raw.replace(/^#/, '');
  if (KAFKA_TOPIC_NAME.test(name)) return { ok: true, value: name };
  return {
    ok: false,
    error: `${showToken(raw)} is not a Kafka topic name: 1 to 249 of a-z A-Z 0-9 . _ - (not "." or "..")`,
  };
}

/** A plain value as it travels: a number when it is an integer written as such, else the string. */
function plainValue(name: string, raw: string): Checked<string | number> {
  if (!PLAIN_VALUE.test(raw)) {
    return {
      ok: false,
      error:
        `${showToken(raw)} is not a valid value for ${name}: use letters, digits and . _ : , + / @ = - ` +
        '(no spaces), at most 249 characters',
    };
  }
  return { ok: true, value: CANONICAL_INT.test(raw) ? Number(raw) : raw };
}

/** The value of a repair argument, checked by what the name means. */
function repairValue(kind: string, name: string, raw: string): Checked<string | number> {
  if (name === 'channel') return checkChannelName(raw);
  if (name === 'topic') return checkTopicName(raw);
  if (NUMERIC_ARGS.has(name)) {
    return WHOLE.test(raw)
      ? { ok: true, value: Number(raw) }
      : { ok: false, error: `${name} must be a whole number (0 or more), got ${showToken(raw)}` };
  }
  if (name === 'key' && kind === 'set-topic-config') {
    return CONFIG_KEY.test(raw)
      ? { ok: true, value: raw }
      : { ok: false, error: `${showToken(raw)} is not a topic config key (like retention.ms)` };
  }
  if ((name === 'target' || name === 'container') && REPAIR_ARG_NAMES[kind] !== undefined) {
    if (name === 'target' && CANONICAL_INT.test(raw) && !raw.startsWith('-')) {
      return { ok: true, value: Number(raw) };
    }
    return CONTAINER_NAME.test(raw)
      ? { ok: true, value: raw }
      : {
          ok: false,
          error:
            `${showToken(raw)} is not a container, orderer or broker: a broker id, or a name of letters, ` +
            'digits and _ . : @ -',
        };
  }
  return plainValue(name, raw);
}

function parseRepair(rest: readonly string[]): ParseResult {
  const kind = rest[0];
  if (kind === undefined) {
    return fail(
      `which repair? usage: ${usageOf('repair')}; kinds: ${Object.keys(REPAIR_POSITIONALS).join(', ')}`,
      'repair',
    );
  }
  if (!REPAIR_KIND.test(kind)) {
    const known = Object.keys(REPAIR_POSITIONALS);
    const s = suggest(kind, known);
    return fail(
      `${showToken(kind)} is not a repair kind` +
        (s ? ` (did you mean \`${s}\`?)` : `; kinds: ${known.join(', ')}`),
      'repair',
    );
  }
  const positional = REPAIR_POSITIONALS[kind] ?? [];
  const names = REPAIR_ARG_NAMES[kind];
  const args: Record<string, string | number> = {};
  const given: Record<string, string> = {};
  let pos = 0;
  for (const a of rest.slice(1)) {
    const eq = a.indexOf('=');
    let name: string;
    let raw: string;
    if (eq > 0) {
      name = a.slice(0, eq);
      raw = a.slice(eq + 1);
      if (!ARG_NAME.test(name)) return fail(`${showToken(name)} is not an argument name`, 'repair');
      if (names !== undefined && !names.includes(name)) {
        const s = suggest(name, names);
        return fail(
          `${kind} takes ${names.join(', ')}, not ${showToken(name)}${s ? ` (did you mean \`${s}\`?)` : ''}`,
          'repair',
        );
      }
    } else {
      // The next positional slot not already given by name: `topic=t 0` is partition 0.
      while (pos < positional.length && given[positional[pos]!] !== undefined) pos++;
      const next = positional[pos++];
      if (next === undefined) {
        return fail(
          `unexpected argument ${showToken(a)} for ${kind}: use key=value` +
            (positional.length ? ` (positionals: ${positional.join(', ')})` : ''),
          'repair',
        );
      }
      name = next;
      raw = a;
    }
    if (raw === '') return fail(`${name}= needs a value`, 'repair');
    if (given[name] !== undefined) {
      return fail(`${name} given twice (${showToken(given[name]!)} and ${showToken(raw)})`, 'repair');
    }
    const v = repairValue(kind, name, raw);
    if (!v.ok) return fail(`repair ${kind}: ${v.error}`, 'repair');
    given[name] = raw;
    args[name] = v.value;
  }
  if (names?.includes('target')) {
    const how = ['target', 'container', 'broker'].filter((n) => args[n] !== undefined);
    if (how.length > 1) {
      return fail(
        `${kind}: name the container one way, not ${how.map((n) => (n === 'target' ? 'positionally' : `${n}=`)).join(' and ')}`,
        'repair',
      );
    }
  }
  for (const group of REPAIR_REQUIRED[kind] ?? []) {
    if (group.some((n) => args[n] !== undefined)) continue;
    return fail(
      `repair ${kind} needs ${group[0]}: \`/fabric repair ${kind} ${positional.map((p) => `<${p}>`).join(' ')}\``,
      'repair',
    );
  }
  return { ok: true, command: { sub: 'repair', kind, args } };
}

// ------------------------------------------------------------------ the command

export function parseFabricText(text: string): ParseResult {
  if (text.length > MAX_COMMAND_LENGTH) {
    return fail(
      `the command is too long (${text.length} characters; at most ${MAX_COMMAND_LENGTH}). Try \`/fabric help\`.`,
    );
  }
  const tokens = lex(text);
  let cluster: string | undefined;
  const words: string[] = [];
  const setCluster = (v: string): string | undefined => {
    if (!CLUSTER_NAME.test(v)) return `${showToken(v)} is not a cluster name (letters, digits, _ . -)`;
    if (cluster !== undefined && cluster !== v) {
      return `\`--cluster\` given twice (${showToken(cluster)} and ${showToken(v)})`;
    }
    cluster = v;
    return undefined;
  };
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (tok.problem !== undefined) return fail(tok.problem);
    const t = tok.text;
    if (t === '') {
      return fail(
        'an empty argument ("" or \'\') is not allowed: remove the quotes or put a value between them',
      );
    }
    if (t === '--cluster' || t === '-c') {
      const next = tokens[i + 1];
      if (next === undefined || next.text.startsWith('-') || next.text === '')
        return fail('`--cluster` needs a cluster name: `--cluster NAME`');
      if (next.problem !== undefined) return fail(next.problem);
      const bad = setCluster(next.text);
      if (bad !== undefined) return fail(bad);
      i++;
    } else if (t.startsWith('--cluster=')) {
      const v = t.slice('--cluster='.length);
      if (v === '') return fail('`--cluster=` needs a cluster name: `--cluster NAME`');
      const bad = setCluster(v);
      if (bad !== undefined) return fail(bad);
    } else if (t.startsWith('--')) {
      return fail(`unknown option ${showToken(t)} (the only option is \`--cluster NAME\`)`);
    } else {
      words.push(t);
    }
  }
  const ok = (command: FabricCommand): ParseResult =>
    cluster === undefined ? { ok: true, command } : { ok: true, command, cluster };

  const [first, ...rest] = words;
  if (first === undefined) return ok({ sub: 'help' });
  const sub = first.toLowerCase();
  const extra = (n: number, s: Subcommand): ParseResult | undefined =>
    rest.length > n
      ? fail(
          `too many arguments for ${s}: ${rest
            .slice(n, n + 3)
            .map(showToken)
            .join(' ')}${rest.length > n + 3 ? ' …' : ''} (usage: ${usageOf(s)})`,
          s,
        )
      : undefined;

  switch (sub) {
    case 'help':
      return ok({ sub: 'help' });
    case 'status': {
      const channel = rest[0];
      if (channel === undefined) return fail(`which channel? usage: ${usageOf('status')}`, 'status');
      const more = extra(1, 'status');
      if (more) return more;
      const c = checkChannelName(channel);
      return c.ok ? ok({ sub: 'status', channel: c.value }) : fail(c.error, 'status');
    }
    case 'diagnose':
      return extra(0, 'diagnose') ?? ok({ sub: 'diagnose' });
    case 'brokers':
      return extra(0, 'brokers') ?? ok({ sub: 'brokers' });
    case 'whatif': {
      const action = rest[0];
      if (action === undefined) return fail(`what if what? usage: ${usageOf('whatif')}`, 'whatif');
      if (action.toLowerCase() !== 'stop-broker') {
        const s = suggest(action, ['stop-broker']);
        return fail(
          `unknown whatif ${showToken(action)}${s ? ` (did you mean \`${s}\`?)` : ''}; usage: ${usageOf('whatif')}`,
          'whatif',
        );
      }
      const id = rest[1];
      if (id === undefined) return fail(`which broker? usage: ${usageOf('whatif')}`, 'whatif');
      if (!WHOLE.test(id)) return fail(`broker id must be a whole number, got ${showToken(id)}`, 'whatif');
      return extra(2, 'whatif') ?? ok({ sub: 'whatif', action: 'stop-broker', brokerId: Number(id) });
    }
    case 'repair': {
      const r = parseRepair(rest);
      return r.ok ? ok(r.command) : r;
    }
    case 'audit': {
      const n = rest[0];
      if (n === undefined) return ok({ sub: 'audit', n: AUDIT_DEFAULT });
      if (!/^\d{1,4}$/.test(n) || Number(n) < 1 || Number(n) > AUDIT_MAX) {
        return fail(`audit takes a count from 1 to ${AUDIT_MAX}, got ${showToken(n)}`, 'audit');
      }
      return extra(1, 'audit') ?? ok({ sub: 'audit', n: Number(n) });
    }
    default: {
      const s = suggest(
        sub,
        SUBCOMMANDS.map((c) => c.sub),
      );
      return fail(
        `unknown subcommand ${showToken(first)}${s ? ` (did you mean \`${s}\`?)` : ''}. Try \`/fabric help\`.`,
      );
    }
  }
}
