import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  clusterChannels,
  configPath,
  loadInventory,
  parseInventory,
  readSecrets,
  selectCluster,
} from '../../src/config/index.js';
import { ConfigError, NotFoundError } from '../../src/errors/index.js';

const minimal = `
defaultCluster: lab
clusters:
  lab:
    kafka:
      brokers: ["127.0.0.1:19092", "127.0.0.1:19093"]
    zookeeper:
      connect: "127.0.0.1:12181,127.0.0.1:12182/kafka"
    orderers:
      - name: orderer1.example.com
        channels: [testchainid, pubchain]
        operationsUrl: "http://127.0.0.1:8443"
        ledgerDir: /var/hyperledger/production/orderer
`;

function issuesOf(text: string): { key: string; message: string }[] {
  try {
    parseInventory(text, 'inv.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/^inv\.yaml: /);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('inventory', () => {
  it('parses the contract keys and fills defaults', () => {
    const inv = parseInventory(minimal);
    const { name, config } = selectCluster(inv, undefined);
    expect(name).toBe('lab');
    expect(config.kafka.brokers).toEqual(['127.0.0.1:19092', '127.0.0.1:19093']);
    expect(config.kafka.requestTimeoutMs).toBe(5000);
    expect(config.repairs.padMaxMessages).toBe(10000);
    expect(inv.redis.url).toBe('redis://127.0.0.1:6379');
    expect(clusterChannels(config)).toEqual(['pubchain', 'testchainid']);
  });

  it('names the key and the problem', () => {
    const bad = minimal.replace('"127.0.0.1:19093"', '"127.0.0.1"');
    expect(issuesOf(bad)).toEqual([
      { key: 'clusters.lab.kafka.brokers[1]', message: expect.stringMatching(/host:port/) },
    ]);
  });

  it('reports unknown keys (typos) instead of ignoring them', () => {
    const bad = minimal.replace('    zookeeper:', '    zookeper:\n      connect: "x:1"\n    zookeeper:');
    const issues = issuesOf(bad);
    expect(issues).toContainEqual({ key: 'clusters.lab', message: 'unknown key(s) "zookeper"' });
  });

  it('says what is missing', () => {
    const bad = minimal.replace(/ {4}zookeeper:\n.*\n/, '');
    expect(issuesOf(bad)).toContainEqual({
      key: 'clusters.lab.zookeeper',
      message: expect.stringMatching(/required/),
    });
  });

  it('rejects a defaultCluster that names no cluster', () => {
    expect(issuesOf(minimal.replace('defaultCluster: lab', 'defaultCluster: prod'))).toEqual([
      { key: 'defaultCluster', message: 'names no cluster of this file (have: lab)' },
    ]);
  });

  it('rejects a bad ZooKeeper connect string and bad channel names', () => {
    const bad = minimal.replace('127.0.0.1:12182/kafka', 'nohostport').replace('pubchain]', 'Pub_Chain]');
    const keys = issuesOf(bad).map((i) => i.key);
    expect(keys).toEqual(['clusters.lab.zookeeper.connect', 'clusters.lab.orderers[0].channels[1]']);
  });

  it('never takes a secret from the file', () => {
    const withPassword = minimal.replace(
      '      brokers:',
      '      sasl: { mechanism: plain, username: ops, password: hunter2 }\n      brokers:',
    );
    expect(issuesOf(withPassword)).toContainEqual({
      key: 'clusters.lab.kafka.sasl.password',
      message: expect.stringMatching(
        /^secrets never go in the inventory: .* name the variable in `passwordEnv`/,
      ),
    });
    expect(JSON.stringify(issuesOf(withPassword))).not.toContain('hunter2');
  });

  it('reads secrets from the environment by the names the file gives', () => {
    const inv = parseInventory(
      minimal.replace(
        '      brokers:',
        '      sasl: { mechanism: plain, username: ops, passwordEnv: LAB_KAFKA_PW }\n      brokers:',
      ),
    );
    const s = readSecrets(inv, { LAB_KAFKA_PW: 'pw', SLACK_BOT_TOKEN: 'xoxb-1', UNRELATED: 'x' });
    expect(s.byEnv).toEqual({ LAB_KAFKA_PW: 'pw' });
    expect(s.slackBotToken).toBe('xoxb-1');
  });

  it("reads an orderer's operations TLS key passphrase from the environment it is given", () => {
    const inv = parseInventory(
      minimal.replace(
        '        ledgerDir:',
        '        operationsTls: { ca: /etc/ca.pem, cert: /etc/c.pem, key: /etc/k.pem, passphraseEnv: ORDERER_KEY_PW }\n        ledgerDir:',
      ),
    );
    expect(readSecrets(inv, { ORDERER_KEY_PW: 'kpw' }).byEnv).toEqual({ ORDERER_KEY_PW: 'kpw' });
  });

  it('gives a line number for broken YAML', () => {
    expect(() => parseInventory('clusters:\n  lab: [unclosed\n', 'x.yaml')).toThrow(
      /x\.yaml: not valid YAML at line \d/,
    );
  });

  it('explains a missing file and how to point at another', () => {
    expect(() => loadInventory('/nonexistent/inv.yaml')).toThrow(/no such file.*--config PATH/);
  });

  it('selects clusters by name and refuses unknown ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-cfg-'));
    const file = join(dir, 'inv.yaml');
    writeFileSync(
      file,
      `${minimal}\n  prod:\n    kafka: { brokers: ["k1:9092"] }\n    zookeeper: { connect: "z1:2181" }\n`,
    );
    const inv = loadInventory(file);
    expect(selectCluster(inv, 'prod').config.kafka.brokers).toEqual(['k1:9092']);
    expect(() => selectCluster(inv, 'staging')).toThrow(NotFoundError);
    expect(() => selectCluster(inv, 'staging')).toThrow(/unknown cluster "staging" \(have: lab, prod\)/);
  });

  it('finds the file from the flag, then the environment, then the working directory', () => {
    expect(configPath('a.yaml', { FABRIC_OPSBOT_CONFIG: 'b.yaml' }, '/w')).toBe('/w/a.yaml');
    expect(configPath(undefined, { FABRIC_OPSBOT_CONFIG: 'b.yaml' }, '/w')).toBe('/w/b.yaml');
    expect(configPath(undefined, {}, '/w')).toBe('/w/fabric-opsbot.yaml');
  });
});

describe('the documented example inventory', () => {
  it('is valid and uses every section', async () => {
    const { fileURLToPath } = await import('node:url');
    const file = fileURLToPath(new URL('../../fabric-opsbot.example.yaml', import.meta.url));
    const inv = loadInventory(file);
    const prod = selectCluster(inv, undefined).config;
    expect(prod.kafka.brokerIds).toEqual([0, 1, 2, 3]);
    expect(prod.orderers.map((o) => o.name)).toEqual(['orderer0.example.com', 'orderer1.example.com']);
    expect(Object.keys(prod.docker?.endpoints ?? {})).toEqual(['host1', 'host2']);
    expect(inv.slack?.users).toMatchObject({ U012ALICE: 'approver' });
    expect(inv.redis.passwordEnv).toBe('REDIS_PASSWORD');
    expect(inv.cli?.users).toEqual({ alice: 'approver', bob: 'operator' });
  });
});
