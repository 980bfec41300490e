/**
 * The `/fabric` text parser: `help | status <channel> | diagnose | brokers | whatif stop-broker <id> |
 * repair <kind> [args] | audit [n]`, with `--cluster NAME` (or `--cluster=NAME`) anywhere. Pure: it knows
 * nothing of the inventory (cluster and channel names are checked by the handler).
 */
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

export const AUDIT_DEFAULT = 10;
export const AUDIT_MAX = 50;

const usageOf = (sub: Subcommand): string =>
  `\`/fabric ${SUBCOMMANDS.find((s) => s.sub === sub)?.usage ?? sub}\``;

function fail(error: string, sub?: Subcommand): ParseResult {
  return sub === undefined ? { ok: false, error } : { ok: false, error, sub };
}

/** Split on whitespace; "double" or 'single' quotes group words. Smart quotes and dashes are normalised. */
export function tokenize(text: string): string[] {
  const norm = text
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/\u00a0/g, ' ')
    // Slack clients (macOS) turn "--" into an em dash: "—cluster" means "--cluster".
    .replace(/(^|\s)[\u2014\u2013](?=\S)/g, '$1--');
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(norm); m !== null; m = re.exec(norm)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

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

function value(raw: string): string | number {
  return /^-?\d{1,15}$/.test(raw) ? Number(raw) : raw;
}

export function parseFabricText(text: string): ParseResult {
  const tokens = tokenize(text);
  let cluster: string | undefined;
  const words: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '--cluster' || t === '-c') {
      const v = tokens[i + 1];
      if (v === undefined || v.startsWith('-'))
        return fail('`--cluster` needs a cluster name: `--cluster NAME`');
      cluster = v;
      i++;
    } else if (t.startsWith('--cluster=')) {
      cluster = t.slice('--cluster='.length);
      if (cluster === '') return fail('`--cluster=` needs a cluster name: `--cluster NAME`');
    } else if (t.startsWith('--')) {
      return fail(`unknown option \`${t}\` (the only option is \`--cluster NAME\`)`);
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
      ? fail(`too many arguments for ${s}: \`${rest.slice(n).join(' ')}\` (usage: ${usageOf(s)})`, s)
      : undefined;

  switch (sub) {
    case 'help':
      return ok({ sub: 'help' });
    case 'status': {
      const channel = rest[0];
      if (channel === undefined) return fail(`which channel? usage: ${usageOf('status')}`, 'status');
      return extra(1, 'status') ?? ok({ sub: 'status', channel: channel.replace(/^#/, '') });
    }
    case 'diagnose':
      return extra(0, 'diagnose') ?? ok({ sub: 'diagnose' });
    case 'brokers':
      return extra(0, 'brokers') ?? ok({ sub: 'brokers' });
    case 'whatif': {
      const action = rest[0];
      if (action === undefined) return fail(`what if what? usage: ${usageOf('whatif')}`, 'whatif');
      if (action !== 'stop-broker') {
        const s = suggest(action, ['stop-broker']);
        return fail(
          `unknown whatif \`${action}\`${s ? ` (did you mean \`${s}\`?)` : ''}; usage: ${usageOf('whatif')}`,
          'whatif',
        );
      }
      const id = rest[1];
      if (id === undefined) return fail(`which broker? usage: ${usageOf('whatif')}`, 'whatif');
      if (!/^\d{1,9}$/.test(id)) return fail(`broker id must be a whole number, got \`${id}\``, 'whatif');
      return extra(2, 'whatif') ?? ok({ sub: 'whatif', action: 'stop-broker', brokerId: Number(id) });
    }
    case 'repair': {
      const kind = rest[0];
      if (kind === undefined) {
        return fail(
          `which repair? usage: ${usageOf('repair')}; kinds: ${Object.keys(REPAIR_POSITIONALS).join(', ')}`,
          'repair',
        );
      }
      if (!/^[a-z][a-z0-9-]{0,63}$/.test(kind)) return fail(`\`${kind}\` is not a repair kind`, 'repair');
      const positional = REPAIR_POSITIONALS[kind] ?? [];
      const args: Record<string, string | number> = {};
      let pos = 0;
      for (const a of rest.slice(1)) {
        const eq = a.indexOf('=');
        if (eq > 0) {
          const k = a.slice(0, eq);
          if (!/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(k))
            return fail(`\`${k}\` is not an argument name`, 'repair');
          args[k] = value(a.slice(eq + 1));
        } else {
          const name = positional[pos++];
          if (name === undefined) {
            return fail(
              `unexpected argument \`${a}\` for ${kind}: use key=value` +
                (positional.length ? ` (positionals: ${positional.join(', ')})` : ''),
              'repair',
            );
          }
          args[name] = value(a.replace(/^#/, ''));
        }
      }
      return ok({ sub: 'repair', kind, args });
    }
    case 'audit': {
      const n = rest[0];
      if (n === undefined) return ok({ sub: 'audit', n: AUDIT_DEFAULT });
      if (!/^\d{1,4}$/.test(n) || Number(n) < 1 || Number(n) > AUDIT_MAX) {
        return fail(`audit takes a count from 1 to ${AUDIT_MAX}, got \`${n}\``, 'audit');
      }
      return extra(1, 'audit') ?? ok({ sub: 'audit', n: Number(n) });
    }
    default: {
      const s = suggest(
        sub,
        SUBCOMMANDS.map((c) => c.sub),
      );
      return fail(
        `unknown subcommand \`${first}\`${s ? ` (did you mean \`${s}\`?)` : ''}. Try \`/fabric help\`.`,
      );
    }
  }
}
