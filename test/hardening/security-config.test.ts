/**
 * Issue #9, security: secrets come from the environment only. A secret written in the inventory is refused with
 * a message that names its key and says what to write instead, and never repeats the value.
 */
import { describe, expect, it } from 'vitest';
import { parseInventory, readSecrets } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';

const SECRET = 'S3cr3t-value-never-echoed-9d41';

const base = (kafka = '', top = '') => `
clusters:
  lab:
    kafka:
      brokers: ["127.0.0.1:9092"]
${kafka}
    zookeeper: { connect: "127.0.0.1:2181" }
    orderers:
      - name: orderer1.example.com
        channels: [pubchain]
        operationsUrl: "https://127.0.0.1:8443"
${top}
`;

function problems(text: string): { key: string; message: string }[] {
  try {
    parseInventory(text, 'inventory.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain(SECRET);
    expect(JSON.stringify((err as ConfigError).issues)).not.toContain(SECRET);
    return (err as ConfigError).issues;
  }
  throw new Error('the inventory was accepted');
}

describe('a secret written in the inventory is refused, by key, without its value', () => {
  it.each([
    [
      'a SASL password',
      base(`      sasl: { mechanism: plain, username: ops, password: "${SECRET}" }`),
      'clusters.lab.kafka.sasl.password',
      /secrets never go in the inventory: .*`passwordEnv` \(e\.g\. passwordEnv: KAFKA_SASL_PASSWORD\)/,
    ],
    [
      'a SASL password beside passwordEnv',
      base(`      sasl: { mechanism: plain, username: ops, passwordEnv: KAFKA_PW, password: "${SECRET}" }`),
      'clusters.lab.kafka.sasl.password',
      /secrets never go in the inventory/,
    ],
    [
      'a TLS key passphrase',
      base(`      tls: { ca: /etc/ca.pem, passphrase: "${SECRET}" }`),
      'clusters.lab.kafka.tls.passphrase',
      /`passphraseEnv`/,
    ],
    [
      'a private key instead of its path',
      base(`      tls: { key: "-----BEGIN PRIVATE KEY-----\\n${SECRET}\\n-----END PRIVATE KEY-----" }`),
      'clusters.lab.kafka.tls.key',
      /must be the path of a PEM file on this host, not the certificate or key itself/,
    ],
    [
      'the Slack bot token',
      base('', `slack: { botToken: "xoxb-${SECRET}" }`),
      'slack.botToken',
      /`botTokenEnv` \(default SLACK_BOT_TOKEN\)/,
    ],
    [
      'the Slack signing secret',
      base('', `slack: { signingSecret: "${SECRET}" }`),
      'slack.signingSecret',
      /`signingSecretEnv`/,
    ],
    [
      'the Redis password as a key',
      base('', `redis: { url: "redis://127.0.0.1:6379", password: "${SECRET}" }`),
      'redis.password',
      /`passwordEnv`/,
    ],
    [
      'the Redis password in the URL',
      base('', `redis: { url: "redis://:${SECRET}@127.0.0.1:6379" }`),
      'redis.url',
      /must not hold a password .*redis\.passwordEnv/,
    ],
    [
      'a user and password in an operations URL',
      base().replace('https://127.0.0.1:8443', `https://admin:${SECRET}@127.0.0.1:8443`),
      'clusters.lab.orderers[0].operationsUrl',
      /must not hold a user or password/,
    ],
  ])('%s', (_what, text, key, message) => {
    const found = problems(text).filter((p) => p.key === key);
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toMatch(message);
  });

  it('a secret-named key anywhere else is refused too (a token under a Docker endpoint)', () => {
    const text = base().replace(
      '    zookeeper:',
      `    docker:\n      endpoints:\n        h1: { host: d1, port: 2376, token: "${SECRET}" }\n    zookeeper:`,
    );
    const found = problems(text);
    expect(found.map((p) => p.key)).toContain('clusters.lab.docker.endpoints.h1');
    expect(found.some((p) => /unknown key\(s\) "token"|secrets never go/.test(p.message))).toBe(true);
  });

  it('the names of environment variables are fine, and the values come from the environment only', () => {
    const inv = parseInventory(
      base(
        '      sasl: { mechanism: scram-sha-512, username: ops, passwordEnv: KAFKA_PW }\n' +
          '      tls: { ca: /etc/ca.pem, key: /etc/k.pem, cert: /etc/c.pem, passphraseEnv: KEY_PW }',
        'redis: { url: "redis://127.0.0.1:6379", passwordEnv: REDIS_PW }\nslack: { botTokenEnv: MY_BOT_TOKEN }',
      ),
    );
    expect(JSON.stringify(inv)).not.toContain(SECRET);
    const s = readSecrets(inv, {
      KAFKA_PW: 'k-pw',
      KEY_PW: 'key-pw',
      REDIS_PW: 'r-pw',
      MY_BOT_TOKEN: 'xoxb-1',
      SLACK_BOT_TOKEN: 'xoxb-not-this-one',
    });
    expect(s).toMatchObject({
      byEnv: { KAFKA_PW: 'k-pw', KEY_PW: 'key-pw', REDIS_PW: 'r-pw' },
      redisPassword: 'r-pw',
      slackBotToken: 'xoxb-1',
    });
  });
});
