/**
 * docker-compose.yml and deploy/: the file parses, the services are what a deployment needs, and every
 * variable passed to the opsbot containers is one fabric-opsbot reads (no typo that silently does nothing).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configPath, loadInventory } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';

const root = join(import.meta.dirname, '..', '..');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[] | string;
  environment?: Record<string, string>;
  env_file?: string[];
  volumes?: string[];
  profiles?: string[];
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }> | string[];
}

const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};

function envFileVars(file: string): Record<string, string> {
  const example = join(root, `${file}.example`);
  expect(existsSync(example), `${file}.example exists`).toBe(true);
  const out: Record<string, string> = {};
  for (const line of readFileSync(example, 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Every `...Env` value of the inventory (defaults included): the variables the config itself names. */
function envNames(v: unknown, out = new Set<string>()): Set<string> {
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k.endsWith('Env') && typeof x === 'string') out.add(x);
      else envNames(x, out);
    }
  }
  return out;
}

const inventory = loadInventory(join(root, 'deploy', 'inventory.example.yaml'));

/** Variables fabric-opsbot reads, each proven by the code that reads it. */
function knownVariables(): Set<string> {
  const known = envNames(inventory);
  expect(configPath(undefined, { FABRIC_OPSBOT_CONFIG: '/etc/x.yaml' })).toBe('/etc/x.yaml');
  known.add('FABRIC_OPSBOT_CONFIG');
  const saved = process.env['LOG_LEVEL'];
  process.env['LOG_LEVEL'] = 'debug';
  try {
    expect(createLogger('probe').level).toBe('debug');
  } finally {
    if (saved === undefined) delete process.env['LOG_LEVEL'];
    else process.env['LOG_LEVEL'] = saved;
  }
  known.add('LOG_LEVEL');
  return known;
}

describe('docker-compose.yml', () => {
  const s = compose.services;

  it('has Redis with the append-only file on and noeviction, on a volume, with a healthcheck', () => {
    const cmd = JSON.stringify(s['redis']?.command);
    expect(cmd).toContain('--appendonly yes');
    expect(cmd).toContain('--maxmemory-policy noeviction');
    expect(s['redis']?.volumes).toContain('redis-data:/data');
    expect(compose.volumes).toHaveProperty('redis-data');
  });

  it('runs the bot and two workers from the same image, after Redis is healthy', () => {
    expect(s['bot']?.command).toEqual(['bot']);
    expect(s['worker']?.command).toEqual(['worker']);
    expect(s['worker']?.deploy?.replicas).toBe(2);
    for (const name of ['bot', 'worker']) {
      expect(s[name]?.image).toBe('fabric-opsbot:local');
      expect(s[name]?.build?.dockerfile).toBe('deploy/Dockerfile');
      expect(s[name]?.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
      expect(s[name]?.profiles).toBeUndefined();
    }
    expect(existsSync(join(root, 'deploy', 'Dockerfile'))).toBe(true);
  });

  it('mounts the inventory where FABRIC_OPSBOT_CONFIG says', () => {
    for (const name of ['bot', 'worker']) {
      const path = s[name]?.environment?.['FABRIC_OPSBOT_CONFIG'];
      expect(s[name]?.volumes).toContain(`./deploy/inventory.yaml:${path}:ro`);
    }
  });

  it('passes the opsbot containers only variables the config knows', () => {
    const known = knownVariables();
    expect([...known]).toEqual(
      expect.arrayContaining([
        'SLACK_BOT_TOKEN',
        'SLACK_APP_TOKEN',
        'SLACK_SIGNING_SECRET',
        'REDIS_PASSWORD',
      ]),
    );
    for (const name of ['bot', 'worker', 'redis']) {
      const svc = s[name]!;
      const passed = [
        ...Object.keys(svc.environment ?? {}),
        ...(svc.env_file ?? []).flatMap((f) => Object.keys(envFileVars(f))),
      ];
      expect(passed.length, name).toBeGreaterThan(0);
      for (const v of passed)
        expect(known.has(v), `${name} gets ${v}, which fabric-opsbot does not read`).toBe(true);
    }
    // And the bot gets what its default (socket) mode needs.
    const botVars = (s['bot']?.env_file ?? []).flatMap((f) => Object.keys(envFileVars(f)));
    expect(botVars).toEqual(
      expect.arrayContaining(['SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', inventory.redis.passwordEnv!]),
    );
  });

  it('adds ZooKeeper and Kafka only with the tryout profile, matching the example inventory', () => {
    expect(s['zookeeper']?.profiles).toEqual(['tryout']);
    expect(s['kafka']?.profiles).toEqual(['tryout']);
    const tryout = inventory.clusters['tryout'];
    expect(tryout?.kafka.brokers).toEqual(['kafka:9092']);
    expect(tryout?.zookeeper.connect).toBe('zookeeper:2181');
    expect(inventory.redis.url).toBe('redis://redis:6379');
  });
});
