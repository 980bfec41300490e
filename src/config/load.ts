/**
 * Config is parsed once, by pure functions of the file's text and the environment, and validated. Errors name
 * the file, the key and what is wrong, so an operator can fix the file without reading code.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument, YAMLError } from 'yaml';
import type { z } from 'zod';
import { ConfigError, NotFoundError } from '../errors/index.js';
import { inventorySchema, type ClusterConfig, type Inventory } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'fabric-opsbot.yaml';

/** Which file to read: `--config`, else $FABRIC_OPSBOT_CONFIG, else ./fabric-opsbot.yaml. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv, cwd = process.cwd()): string {
  return resolve(cwd, flag ?? env.FABRIC_OPSBOT_CONFIG ?? DEFAULT_CONFIG_FILE);
}

/** A key path segment as written in a message: `lab`, `[1]`, or `["zk1:2181"]` when it is not a plain word. */
function segment(p: PropertyKey, first: boolean): string {
  if (typeof p === 'number') return `[${p}]`;
  const s = String(p);
  if (/^[A-Za-z0-9_-]+$/.test(s)) return first ? s : `.${s}`;
  return `[${JSON.stringify(s)}]`;
}

/** `clusters.lab.kafka.brokers[1]`, `clusters.prod.zookeeper.containers["zk1:2181"]`; `(top level)` for none. */
export function keyPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => segment(p, i === 0)).join('');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown key(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  if (issue.code === 'invalid_type') {
    return issue.input === undefined
      ? `is required (${issue.expected})`
      : `must be ${issue.expected === 'record' ? 'a mapping' : `a ${issue.expected}`}, not ${what(issue.input)}`;
  }
  if (issue.code === 'invalid_key') {
    const inner = issue.issues[0];
    return `not a valid name here${inner ? `: ${oneLine(inner.message)}` : ''}`;
  }
  return oneLine(issue.message);
}

/** What a value is, in a message, without showing it (it may be a secret written in the wrong place). */
function what(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'number') return Number.isFinite(v) ? 'a number' : 'a number out of range';
  if (typeof v === 'string') return 'text';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ');
}

/** What a value is, for a message: "a set", "a map", "binary data", "a date". */
function kindOf(v: object): string {
  if (v instanceof Set) return 'a set (!!set)';
  if (v instanceof Map) return 'a map with ordered or complex keys (!!omap, !!pairs)';
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return 'binary data (!!binary)';
  if (v instanceof Date) return 'a timestamp';
  return `a ${v.constructor?.name ?? 'special'} value`;
}

/**
 * What YAML can express but an inventory cannot hold: values that are not plain mappings, lists and scalars
 * (!!set, !!omap, !!binary...), and keys that would change an object's prototype. Walked without recursion: a
 * deeply nested document cannot exhaust the stack here.
 */
function notPlainData(raw: unknown): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  const stack: { v: unknown; path: PropertyKey[] }[] = [{ v: raw, path: [] }];
  while (stack.length > 0 && out.length < 20) {
    const { v, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: [...path, i] });
      continue;
    }
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      out.push({
        key: keyPath(path),
        message: `${kindOf(v)} is not plain data: use a mapping, a list or a value`,
      });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      if (k === '__proto__') {
        out.push({ key: keyPath([...path, k]), message: 'the key "__proto__" is not allowed' });
        continue;
      }
      stack.push({ v: (v as Record<string, unknown>)[k], path: [...path, k] });
    }
  }
  return out;
}

function invalid(file: string, issues: { key: string; message: string }[]): ConfigError {
  const lines = issues.map((i) => `  ${i.key}: ${i.message}`).join('\n');
  return new ConfigError(`${file}: invalid inventory\n${lines}`, file, issues);
}

/** Parse and validate an inventory from its text. `file` is used in messages only. */
export function parseInventory(text: string, file = DEFAULT_CONFIG_FILE): Inventory {
  let raw: unknown;
  try {
    // Warnings (an unknown !tag, a complex key) are errors too: what the file says must be what is used.
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, logLevel: 'error' });
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) throw problem;
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const where = err instanceof YAMLError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    const what =
      err instanceof RangeError
        ? 'nested too deeply'
        : err instanceof Error
          ? err.message.split('\n')[0]
          : String(err);
    throw new ConfigError(`${file}: not valid YAML${where}: ${what}`, file);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${file}: expected a mapping with a "clusters" key`, file, [
      { key: '(top level)', message: 'expected a mapping' },
    ]);
  }
  const odd = notPlainData(raw);
  if (odd.length > 0) throw invalid(file, odd);
  const result = inventorySchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    throw invalid(
      file,
      result.error.issues.map((i) => ({ key: keyPath(i.path), message: describeIssue(i) })),
    );
  }
  return result.data;
}

/** Read and validate an inventory file. */
export function loadInventory(file: string): Inventory {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code);
    throw new ConfigError(
      `${file}: cannot read the inventory (${why}); pass --config PATH or set FABRIC_OPSBOT_CONFIG`,
      file,
    );
  }
  return parseInventory(text, file);
}

export interface SelectedCluster {
  name: string;
  config: ClusterConfig;
}

/** The cluster named by --cluster, else the inventory's default, else its only cluster. */
export function selectCluster(inv: Inventory, name: string | undefined): SelectedCluster {
  const names = Object.keys(inv.clusters);
  const chosen = name ?? inv.defaultCluster ?? (names.length === 1 ? names[0] : undefined);
  if (chosen === undefined) {
    throw new ConfigError(
      `several clusters (${names.join(', ')}) and no defaultCluster: pass --cluster NAME`,
    );
  }
  // Own names only: "constructor" or "__proto__" must not find Object's.
  const config = Object.hasOwn(inv.clusters, chosen) ? inv.clusters[chosen] : undefined;
  if (!config)
    throw new NotFoundError(`unknown cluster ${JSON.stringify(chosen)} (have: ${names.join(', ')})`);
  return { name: chosen, config };
}

/** The Fabric channels of a cluster: `channels`, else every channel an orderer serves. */
export function clusterChannels(config: ClusterConfig): string[] {
  if (config.channels) return [...config.channels];
  return [...new Set(config.orderers.flatMap((o) => o.channels))].sort();
}

export interface Secrets {
  slackBotToken?: string;
  slackAppToken?: string;
  slackSigningSecret?: string;
  redisPassword?: string;
  /** By env variable name, for Kafka SASL passwords and TLS passphrases. */
  byEnv: Record<string, string>;
}

/**
 * Secrets come from the environment only. Returns those the inventory refers to; never logs them.
 */
export function readSecrets(inv: Inventory, env: NodeJS.ProcessEnv): Secrets {
  const byEnv: Record<string, string> = {};
  const want = new Set<string>();
  for (const c of Object.values(inv.clusters)) {
    if (c.kafka.sasl) want.add(c.kafka.sasl.passwordEnv);
    if (c.kafka.tls?.passphraseEnv) want.add(c.kafka.tls.passphraseEnv);
    for (const o of c.orderers) if (o.operationsTls?.passphraseEnv) want.add(o.operationsTls.passphraseEnv);
  }
  if (inv.redis.passwordEnv) want.add(inv.redis.passwordEnv);
  for (const name of want) {
    const v = env[name];
    if (v !== undefined && v !== '') byEnv[name] = v;
  }
  const slack = inv.slack;
  return {
    slackBotToken: env[slack?.botTokenEnv ?? 'SLACK_BOT_TOKEN'] || undefined,
    slackAppToken: env[slack?.appTokenEnv ?? 'SLACK_APP_TOKEN'] || undefined,
    slackSigningSecret: env[slack?.signingSecretEnv ?? 'SLACK_SIGNING_SECRET'] || undefined,
    redisPassword: inv.redis.passwordEnv ? byEnv[inv.redis.passwordEnv] : undefined,
    byEnv,
  };
}
