/**
 * Issue #9, bad input: the inventory loader against any document an operator (or an editor gone wrong) can
 * write. The answer is an inventory, or a ConfigError that names the file and the key path (one line per issue,
 * no stack, no other exception), and a secret is never taken from the file nor echoed back from it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import {
  keyPath,
  loadInventory,
  parseInventory,
  readSecrets,
  selectCluster,
  type Inventory,
} from '../../src/config/index.js';
import { ConfigError, describeError } from '../../src/errors/index.js';

// Property tests run a few seconds alone; on a loaded 2-core machine give them room.
vi.setConfig({ testTimeout: 60_000 });

const SEED = 90091;
const FILE = 'inv.yaml';
const EXAMPLE_FILE = fileURLToPath(new URL('../../fabric-opsbot.example.yaml', import.meta.url));
const EXAMPLE_TEXT = readFileSync(EXAMPLE_FILE, 'utf8');
const EXAMPLE = parseYaml(EXAMPLE_TEXT) as Record<string, unknown>;
const example = (): Record<string, unknown> => structuredClone(EXAMPLE);

type Outcome = { ok: true; inventory: Inventory } | { ok: false; error: ConfigError };

/** parseInventory, asserting that whatever happens is an inventory or a ConfigError of the right shape. */
function load(text: string): Outcome {
  let inventory: Inventory;
  try {
    inventory = parseInventory(text, FILE);
  } catch (err) {
    expect(err, `not a ConfigError: ${String(err)}`).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message.startsWith(`${FILE}: `)).toBe(true);
    expect(e.file).toBe(FILE);
    // What a user sees (describeError: the first line) says which file; every issue is one line.
    expect(describeError(e)).toMatch(new RegExp(`^${FILE}: \\S`));
    for (const i of e.issues) {
      expect(i.key.length).toBeGreaterThan(0);
      expect(i.message.length).toBeGreaterThan(0);
      expect(i.key).not.toMatch(/[\n\r]/);
      expect(i.message).not.toMatch(/[\n\r]/);
    }
    expect(e.message).not.toMatch(/\n\s+at /); // no stack
    return { ok: false, error: e };
  }
  // A valid inventory is usable: a cluster to select, and every default filled.
  const names = Object.keys(inventory.clusters);
  expect(names.length).toBeGreaterThan(0);
  expect(Object.getPrototypeOf(inventory.clusters)).toBe(Object.prototype);
  if (inventory.defaultCluster !== undefined) expect(names).toContain(inventory.defaultCluster);
  for (const c of Object.values(inventory.clusters)) {
    expect(c.kafka.brokers.length).toBeGreaterThan(0);
    expect(typeof c.repairs.padMaxMessages).toBe('number');
  }
  return { ok: true, inventory };
}

// ------------------------------------------------------------------ arbitrary documents

describe('the inventory loader on arbitrary documents', () => {
  it('any text, any JSON, any YAML a library can write: an inventory or a ConfigError naming the file', () => {
    const yamlOfAnything = fc
      .anything({
        withMap: true,
        withSet: true,
        withDate: true,
        withTypedArray: true,
        withNullPrototype: true,
      })
      .map((v) => {
        try {
          return stringifyYaml(v);
        } catch {
          return String(v);
        }
      });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          yamlOfAnything,
          fc.jsonValue().map((v) => stringifyYaml({ clusters: v })),
          fc.jsonValue().map((v) => stringifyYaml({ clusters: { lab: v } })),
        ),
        (text) => {
          load(text);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('YAML that is not plain data: tags, sets, maps, complex keys, __proto__, aliases, depth', () => {
    const base = 'clusters:\n  lab:\n    kafka: { brokers: ["a:1"] }\n    zookeeper: { connect: "z:1" }\n';
    const cases: [string, RegExp][] = [
      [`${base}redis: !!set { a, b }\n`, /redis: .*not plain data|redis: .*set/i],
      [`${base}redis: !!omap [ url: x ]\n`, /redis: .*not plain data|redis: .*map/i],
      [`${base}redis: { url: !!binary aGVsbG8= }\n`, /redis\.url: /],
      [`${base}redis: { url: !secret hunter2 }\n`, /not valid YAML at line 5: .*tag/i],
      [`${base}? [a, b]\n: 1\n`, /\(top level\): unknown key\(s\) "\[ a, b \]"/],
      [
        'clusters:\n  __proto__:\n    kafka: { brokers: ["a:1"] }\n    zookeeper: { connect: "z:1" }\n',
        /clusters\.__proto__: .*not allowed/,
      ],
      [`${base}cli: { users: { __proto__: approver } }\n`, /cli\.users\.__proto__: .*not allowed/],
      [`${base}"a\\nb": 1\n`, /\(top level\): unknown key\(s\) "a\\nb"/],
      [`${base}slack: { users: { "U1 x": viewer } }\n`, /slack\.users\["U1 x"\]: .*Slack user id/],
      [`clusters: ${'['.repeat(3000)}${']'.repeat(3000)}`, /not valid YAML/],
      [
        `a: &a [1,2]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n${base}`,
        /unknown key|alias/i,
      ],
      ['\ufeff' + base, /^$/], // a BOM is fine
      ['', /expected a mapping/],
      ['clusters: [1]', /clusters: must be a mapping, not a list/],
      [`${base}slack: { port: "abc" }\n`, /slack\.port: must be a number, not text/],
      [`${base}slack: { port: 1e400 }\n`, /slack\.port: must be a number, not a number out of range/],
      [`${base}slack: { port: 3000.5 }\n`, /slack\.port: /],
      [base.replace('"a:1"', '9092'), /clusters\.lab\.kafka\.brokers\[0\]: must be a string, not a number/],
      [
        `${base}    channels: [PubChain, "a b"]\n`,
        /clusters\.lab\.channels\[0\]: not a valid Fabric channel name/,
      ],
      ['--- a\n--- b\n', /not valid YAML/],
    ];
    for (const [text, pattern] of cases) {
      const r = load(text);
      if (pattern.source === '^$') {
        expect(r.ok, text).toBe(true);
        continue;
      }
      expect(r.ok, text.slice(0, 80)).toBe(false);
      if (!r.ok) expect(r.error.message, text.slice(0, 80)).toMatch(pattern);
    }
  });
});

// ------------------------------------------------------------------ mutations of the documented example

type Path = (string | number)[];

function paths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

function getAt(v: unknown, p: Path): unknown {
  return p.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], v);
}

function setAt(root: Record<string, unknown>, p: Path, value: unknown): void {
  const parent = getAt(root, p.slice(0, -1)) as Record<string | number, unknown>;
  parent[p[p.length - 1]!] = value;
}

function deleteAt(root: Record<string, unknown>, p: Path): void {
  const parent = getAt(root, p.slice(0, -1)) as Record<string | number, unknown> | unknown[];
  const k = p[p.length - 1]!;
  if (Array.isArray(parent)) parent.splice(k as number, 1);
  else delete parent[k];
}

const EXAMPLE_PATHS = paths(example()).filter((p) => p.length > 0);
const OBJECT_PATHS = paths(example()).filter((p) => {
  const v = getAt(example(), p);
  return v !== null && typeof v === 'object' && !Array.isArray(v);
});

const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    -1,
    0,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 53 + 1,
    0.5,
    '',
    ' ',
    'x'.repeat(5000),
    'a\nb',
    '<!channel>',
    '../../etc/passwd',
    '127.0.0.1:99999',
    'host:0',
    null,
    [],
    {},
    true,
  ),
);

type Mutation =
  | { op: 'set'; path: Path; value: unknown }
  | { op: 'delete'; path: Path }
  | { op: 'rename'; path: Path; to: string }
  | { op: 'add'; path: Path; key: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), path: fc.constantFrom(...EXAMPLE_PATHS), value: oddValue }),
  fc.record({ op: fc.constant('delete' as const), path: fc.constantFrom(...EXAMPLE_PATHS) }),
  fc.record({
    op: fc.constant('rename' as const),
    path: fc.constantFrom(...EXAMPLE_PATHS.filter((p) => typeof p[p.length - 1] === 'string')),
    to: fc.oneof(
      fc.string({ minLength: 1, maxLength: 12 }),
      fc.constantFrom('__proto__', 'constructor', 'a b', 'é'),
    ),
  }),
  fc.record({
    op: fc.constant('add' as const),
    path: fc.constantFrom(...OBJECT_PATHS),
    key: fc.oneof(
      fc.string({ minLength: 1, maxLength: 12 }),
      fc.constantFrom('__proto__', 'password', 'x y'),
    ),
    value: oddValue,
  }),
);

function apply(m: Mutation): Record<string, unknown> {
  const doc = example();
  switch (m.op) {
    case 'set':
      setAt(doc, m.path, m.value);
      break;
    case 'delete':
      deleteAt(doc, m.path);
      break;
    case 'rename': {
      const v = getAt(doc, m.path);
      deleteAt(doc, m.path);
      const parent = getAt(doc, m.path.slice(0, -1)) as Record<string, unknown>;
      Object.defineProperty(parent, m.to, { value: v, enumerable: true, configurable: true, writable: true });
      break;
    }
    case 'add': {
      const parent = getAt(doc, m.path) as Record<string, unknown>;
      Object.defineProperty(parent, m.key, {
        value: m.value,
        enumerable: true,
        configurable: true,
        writable: true,
      });
      break;
    }
  }
  return doc;
}

/** Two key paths are related: one is the other, or inside it. */
function related(issueKey: string, mutated: string): boolean {
  const top = issueKey === '(top level)';
  return (
    top ||
    issueKey === mutated ||
    mutated.startsWith(issueKey + '.') ||
    mutated.startsWith(issueKey + '[') ||
    issueKey.startsWith(mutated + '.') ||
    issueKey.startsWith(mutated + '[')
  );
}

describe('mutations of the documented example', () => {
  it('the example itself is valid', () => {
    expect(load(EXAMPLE_TEXT).ok).toBe(true);
  });

  it('give an inventory or an error whose key path names where the change was made', () => {
    fc.assert(
      fc.property(mutation, fc.boolean(), (m, asJson) => {
        const doc = apply(m);
        const text = asJson ? JSON.stringify(doc, null, 1) : stringifyYaml(doc);
        const r = load(text);
        if (r.ok) return;
        const where =
          m.op === 'add'
            ? keyPath([...m.path, m.key])
            : m.op === 'rename'
              ? keyPath([...m.path.slice(0, -1), m.to])
              : keyPath(m.path);
        const parent = keyPath(m.path.slice(0, m.op === 'add' ? m.path.length : -1));
        const keys = r.error.issues.map((i) => i.key);
        // Renaming a cluster or deleting it can orphan defaultCluster; anything else is about the change.
        const crossRef = keys.every((k) => k === 'defaultCluster' || k === 'clusters');
        expect(
          crossRef || keys.some((k) => related(k, where) || related(k, parent)),
          `${m.op} at ${where}: issues ${JSON.stringify(r.error.issues)}`,
        ).toBe(true);
        expect(r.error.issues.length).toBeGreaterThan(0);
        // A key that is there is never said to be missing.
        if (m.op === 'set' && m.value !== undefined) {
          for (const i of r.error.issues) if (i.key === where) expect(i.message).not.toMatch(/is required/);
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

// ------------------------------------------------------------------ secrets

const SECRET_KEYS = [
  'password',
  'token',
  'secret',
  'passphrase',
  'botToken',
  'appToken',
  'signingSecret',
  'key_password',
];

describe('secrets never come from the file', () => {
  it('a secret written into any object of the example is refused, and its value is not echoed', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...OBJECT_PATHS),
        fc.constantFrom(...SECRET_KEYS),
        fc.stringMatching(/^[A-Za-z0-9+/_-]{12,40}$/),
        (path, key, secret) => {
          const doc = example();
          const parent = getAt(doc, path) as Record<string, unknown>;
          // On records keyed by name (users, containers, endpoints) the key is a name: put the secret one level in.
          parent[key] = `S3CR3T-${secret}`;
          const r = load(stringifyYaml(doc));
          expect(r.ok, `${keyPath(path)}.${key} was accepted`).toBe(false);
          if (!r.ok) {
            expect(r.error.message).not.toContain(secret);
            expect(JSON.stringify(r.error.issues)).not.toContain(secret);
          }
        },
      ),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('an *Env key holding a token instead of a variable name is refused without echoing it', () => {
    const envKeys: Path[] = [
      ['redis', 'passwordEnv'],
      ['slack', 'botTokenEnv'],
      ['slack', 'appTokenEnv'],
      ['slack', 'signingSecretEnv'],
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...envKeys),
        fc.stringMatching(/^xox[bpa]-[0-9]{6,12}-[A-Za-z0-9]{10,24}$/),
        (p, token) => {
          const doc = example();
          setAt(doc, p, token);
          const r = load(stringifyYaml(doc));
          expect(r.ok).toBe(false);
          if (!r.ok) {
            expect(r.error.issues.map((i) => i.key)).toContain(keyPath(p));
            expect(r.error.message).not.toContain(token);
          }
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('readSecrets takes values only from the environment, only for names the inventory gives', () => {
    const inv = parseInventory(EXAMPLE_TEXT, FILE);
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(
            'REDIS_PASSWORD',
            'SLACK_BOT_TOKEN',
            'SLACK_APP_TOKEN',
            'SLACK_SIGNING_SECRET',
            'KAFKA_SASL_PASSWORD',
            'OTHER',
            'PATH',
          ),
          fc.string({ maxLength: 10 }),
        ),
        (env) => {
          const s = readSecrets(inv, env);
          const values = new Set(Object.values(env));
          for (const v of [
            s.slackBotToken,
            s.slackAppToken,
            s.slackSigningSecret,
            s.redisPassword,
            ...Object.values(s.byEnv),
          ]) {
            if (v !== undefined) expect(values.has(v)).toBe(true);
          }
          expect(Object.keys(s.byEnv).every((k) => k === 'REDIS_PASSWORD')).toBe(true);
          expect(s.redisPassword).toBe(env.REDIS_PASSWORD || undefined);
        },
      ),
      { seed: SEED, numRuns: 100 },
    );
  });
});

describe('files', () => {
  it('a directory, a binary file, an empty file: ConfigError naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-inv-'));
    const bin = join(dir, 'bin.yaml');
    writeFileSync(bin, Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x3a, 0x0a]));
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, '');
    for (const f of [dir, bin, empty]) {
      expect(() => loadInventory(f)).toThrow(ConfigError);
      try {
        loadInventory(f);
      } catch (err) {
        expect(describeError(err).startsWith(`${f}: `)).toBe(true);
      }
    }
  });

  it('selecting a cluster by an odd name says which names exist', () => {
    const inv = parseInventory(EXAMPLE_TEXT, FILE);
    for (const name of ['', '__proto__', 'constructor', 'toString', 'prod\n', 'PROD']) {
      expect(() => selectCluster(inv, name), JSON.stringify(name)).toThrow(
        /unknown cluster .*\(have: prod\)/,
      );
    }
  });
});
