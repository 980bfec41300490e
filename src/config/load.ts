/**
 * Config is parsed once, by pure functions of the file's text and the environment, and validated. Errors name
 * the file, the key and what is wrong, so an operator can fix the file without reading code.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError, NotFoundError } from '../errors/index.js';
import { inventorySchema, type ClusterConfig, type Inventory } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'fabric-opsbot.yaml';

/** Which file to read: `--config`, else $FABRIC_OPSBOT_CONFIG, else ./fabric-opsbot.yaml. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv, cwd = process.cwd()): string {
  return resolve(cwd, flag ?? env.FABRIC_OPSBOT_CONFIG ?? DEFAULT_CONFIG_FILE);
}

function keyOf(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `is required (${issue.expected})`;
  return issue.message;
}

/** Parse and validate an inventory from its text. `file` is used in messages only. */
export function parseInventory(text: string, file = DEFAULT_CONFIG_FILE): Inventory {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    const what = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(`${file}: not valid YAML${where}: ${what}`, file);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${file}: expected a mapping with a "clusters" key`, file, [
      { key: '(top level)', message: 'expected a mapping' },
    ]);
  }
  const result = inventorySchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ key: keyOf(i.path), message: describeIssue(i) }));
    const lines = issues.map((i) => `  ${i.key}: ${i.message}`).join('\n');
    throw new ConfigError(`${file}: invalid inventory\n${lines}`, file, issues);
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
  const config = inv.clusters[chosen];
  if (!config) throw new NotFoundError(`unknown cluster "${chosen}" (have: ${names.join(', ')})`);
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
