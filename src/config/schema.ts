/**
 * The inventory file: what clusters exist and how to reach them. Secrets are never in this file: keys that end
 * in `Env` name the environment variable that holds the secret.
 */
import { z } from 'zod';

const hostPort = z
  .string()
  .refine(
    (s) => /^[^\s:,/]+:\d{1,5}$/.test(s) && Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535,
    'must be host:port with a port of 1..65535, e.g. "127.0.0.1:9092"',
  );

const envName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be the NAME of an environment variable (e.g. KAFKA_PASSWORD)');

/**
 * The key where someone would write a secret by mistake (`password:` beside `passwordEnv:`): accepted by the
 * schema only when absent, so that writing it gives this message at its path instead of "unknown key".
 */
function noInlineSecret(envKey: string, hint = '') {
  return z
    .custom<undefined>((v) => v === undefined, {
      message: `secrets never go in the inventory: put the value in an environment variable and name the variable in \`${envKey}\`${hint}`,
    })
    .optional();
}

/** A path to a PEM file on this host (never the PEM itself: a private key in the inventory is a secret in it). */
const pemPath = z
  .string()
  .min(1)
  .refine(
    (s) => !/-----BEGIN|\n/.test(s),
    'must be the path of a PEM file on this host, not the certificate or key itself',
  );

const tlsSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Paths to PEM files. */
    ca: pemPath.optional(),
    cert: pemPath.optional(),
    key: pemPath.optional(),
    /** Environment variable holding the private key's passphrase. */
    passphraseEnv: envName.optional(),
    passphrase: noInlineSecret('passphraseEnv'),
    rejectUnauthorized: z.boolean().default(true),
    servername: z.string().optional(),
  })
  .strict();

/**
 * SASL to the brokers. Both clients speak all three mechanisms: the diagnostics' own wire client
 * (src/kafka/connection.ts: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 over SaslHandshake/SaslAuthenticate, or raw
 * tokens on Kafka 0.10-0.11) and kafkajs (repairs).
 */
const saslSchema = z
  .object({
    mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
    username: z.string().min(1),
    /** Environment variable holding the password. */
    passwordEnv: envName,
    password: noInlineSecret('passwordEnv', ' (e.g. passwordEnv: KAFKA_SASL_PASSWORD)'),
  })
  .strict();

const zookeeperConnect = z
  .string()
  .min(1)
  .refine(
    (s) => {
      const slash = s.indexOf('/');
      const hosts = slash === -1 ? s : s.slice(0, slash);
      return hosts.split(',').every((h) => /^[^\s:,/]+:\d{1,5}$/.test(h.trim()));
    },
    { message: 'must be host:port[,host:port...][/chroot], e.g. "zk1:2181,zk2:2181/kafka"' },
  );

const containerRef = z
  .object({
    /** Container name or id. */
    name: z.string().min(1).optional(),
    /** Or a label selector "key=value" that matches exactly one container. */
    label: z
      .string()
      .regex(/^[^=\s]+=[^\s]*$/, 'must be key=value')
      .optional(),
    /** Name of an entry of `docker.endpoints`; the first endpoint when absent. */
    endpoint: z.string().optional(),
  })
  .strict()
  .refine((c) => c.name !== undefined || c.label !== undefined, 'needs `name` or `label`');

const dockerEndpoint = z
  .object({
    socketPath: z.string().optional(),
    host: z.string().optional(),
    port: z.number().int().min(1).max(65535).optional(),
    protocol: z.enum(['http', 'https']).optional(),
    tls: tlsSchema.optional(),
    timeoutMs: z.number().int().positive().default(5000),
  })
  .strict()
  .refine((e) => e.socketPath !== undefined || e.host !== undefined, 'needs `socketPath` or `host`');

/** Fabric's rule for channel names (lowercase, digits, dot, dash, a letter first, < 250 characters). */
const channelName = z.string().regex(/^[a-z][a-z0-9.-]{0,248}$/, 'not a valid Fabric channel name');

const ordererSchema = z
  .object({
    name: z.string().min(1),
    channels: z.array(channelName).min(1),
    /** Operations endpoint base URL: /metrics, /healthz. */
    operationsUrl: z
      .string()
      .url()
      .refine(
        (u) => !/^[a-z][a-z0-9+.-]*:\/\/[^/@]*@/i.test(u),
        'must not hold a user or password (https://user:PASSWORD@...)',
      )
      .optional(),
    operationsTls: tlsSchema.optional(),
    /**
     * Also ask /healthz. Off by default: a Kafka orderer's health check posts a CONNECT message to every
     * channel, so each probe writes to Kafka (and nudges a stuck channel's offset).
     */
    probeHealthz: z.boolean().optional(),
    /** FileLedger.Location, on this host or (with `container`) inside the container. */
    ledgerDir: z.string().optional(),
    /** Orderer log file on this host (when it does not run in a container). */
    logFile: z.string().optional(),
    container: containerRef.optional(),
  })
  .strict();

const clusterSchema = z
  .object({
    kafka: z
      .object({
        brokers: z.array(hostPort).min(1, 'list at least one bootstrap broker'),
        /** Broker ids the cluster should have; a missing one is BROKER_NOT_REGISTERED. */
        brokerIds: z.array(z.number().int().nonnegative()).optional(),
        version: z.string().optional(),
        clientId: z.string().default('fabric-opsbot'),
        tls: tlsSchema.optional(),
        sasl: saslSchema.optional(),
        connectTimeoutMs: z.number().int().positive().default(3000),
        requestTimeoutMs: z.number().int().positive().default(5000),
        /** Broker id -> container. */
        containers: z.record(z.string().regex(/^\d+$/, 'broker id'), containerRef).optional(),
      })
      .strict(),
    zookeeper: z
      .object({
        connect: zookeeperConnect,
        sessionTimeoutMs: z.number().int().positive().default(10000),
        connectTimeoutMs: z.number().int().positive().default(3000),
        /** ZooKeeper member (host:port) -> container. */
        containers: z.record(z.string(), containerRef).optional(),
      })
      .strict(),
    orderers: z.array(ordererSchema).default([]),
    /** Fabric channels to watch; defaults to every channel an orderer serves. */
    channels: z.array(channelName).optional(),
    docker: z
      .object({ endpoints: z.record(z.string(), dockerEndpoint) })
      .strict()
      .optional(),
    checks: z
      .object({
        /** Scheduled check interval; 0 = off. */
        everySeconds: z.number().int().nonnegative().default(300),
        /** How far back to read logs on the first look. */
        logWindowMinutes: z.number().int().positive().default(60),
      })
      .strict()
      .default({ everySeconds: 300, logWindowMinutes: 60 }),
    repairs: z
      .object({
        /** pad-channel refuses to add more CONNECT messages than this. */
        padMaxMessages: z.number().int().positive().default(10000),
        approvalTtlMinutes: z.number().int().positive().default(15),
        /** Replication throttle for drain-broker, bytes/s. */
        reassignThrottleBytes: z.number().int().positive().default(10_000_000),
      })
      .strict()
      .default({ padMaxMessages: 10000, approvalTtlMinutes: 15, reassignThrottleBytes: 10_000_000 }),
    slack: z
      .object({
        /** Channels allowed to run commands against this cluster (ids); any when absent. */
        commandChannels: z.array(z.string()).optional(),
        incidentChannel: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const roleName = z.enum(['viewer', 'operator', 'approver']);

const slackSchema = z
  .object({
    mode: z.enum(['socket', 'http']).default('socket'),
    port: z.number().int().min(0).max(65535).default(3000),
    botTokenEnv: envName.default('SLACK_BOT_TOKEN'),
    appTokenEnv: envName.default('SLACK_APP_TOKEN'),
    signingSecretEnv: envName.default('SLACK_SIGNING_SECRET'),
    botToken: noInlineSecret('botTokenEnv', ' (default SLACK_BOT_TOKEN)'),
    appToken: noInlineSecret('appTokenEnv', ' (default SLACK_APP_TOKEN)'),
    signingSecret: noInlineSecret('signingSecretEnv', ' (default SLACK_SIGNING_SECRET)'),
    /** Base URL of the Web API (tests point it at a local recorder). */
    apiUrl: z.string().url().optional(),
    incidentChannel: z.string().optional(),
    commandChannels: z.array(z.string()).optional(),
    /** Slack user id -> role. */
    users: z
      .record(z.string().regex(/^[UW][A-Z0-9]+$/, 'a Slack user id like U012ABC'), roleName)
      .default({}),
    /** Role of users not listed; "none" lets them do nothing. */
    defaultRole: z.enum(['none', 'viewer', 'operator', 'approver']).default('none'),
    /** Repair kinds that need two approvers. */
    dangerousRepairs: z.array(z.string()).default(['drain-broker', 'set-topic-config']),
  })
  .strict();

/**
 * Operators without Slack: the CLI's `repair request / approve / deny / run` act as the OS user ($USER), with the
 * role given here (self-approval is refused as in Slack).
 */
const cliSchema = z
  .object({
    /** OS user name -> role. */
    users: z
      .record(z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/, 'an OS user name like alice'), roleName)
      .default({}),
    /** Role of OS users not listed; "none" lets them do nothing with repairs. */
    defaultRole: z.enum(['none', 'viewer', 'operator', 'approver']).default('none'),
  })
  .strict();

/** Keys that would hold a secret's value: the inventory names environment variables instead (`<key>Env`). */
const SECRET_KEYS =
  /^(password|passwd|passphrase|token|secret|signingSecret|botToken|appToken|apiKey|privateKey|credentials?)$/i;

/**
 * Secrets are never in the inventory. A key that would hold one (`password: ...` under `sasl`, `botToken` under
 * `slack`...) is refused wherever it is, with what to write instead; the value is never shown. The first stage
 * of a parse (findInlineSecrets) notes where such keys are, the last (the inventory's superRefine) reports
 * them; the strict objects also report them as unknown keys, so they are refused even when the last stage does
 * not run (other errors in the file).
 */
let inlineSecrets: (string | number)[][] = [];

/** Secret keys the schema names itself (noInlineSecret), by the key of the object they belong to. */
const SCHEMA_SECRET_KEYS = new Map<string, readonly string[]>([
  ['sasl', ['password']],
  ['redis', ['password']],
  ['tls', ['passphrase']],
  ['operationsTls', ['passphrase']],
  ['slack', ['botToken', 'appToken', 'signingSecret']],
]);

function findInlineSecrets(raw: unknown): unknown {
  inlineSecrets = [];
  const walk = (v: unknown, path: (string | number)[]): void => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, [...path, i]));
    if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return;
    for (const [k, x] of Object.entries(v)) {
      const parent = String(path[path.length - 1] ?? '');
      if (SCHEMA_SECRET_KEYS.get(parent)?.includes(k)) continue; // the schema says it at this path
      if (SECRET_KEYS.test(k)) inlineSecrets.push([...path, k]);
      else walk(x, [...path, k]);
    }
  };
  walk(raw, []);
  return raw;
}

function reportInlineSecrets(ctx: z.RefinementCtx): void {
  for (const path of inlineSecrets) {
    const k = String(path[path.length - 1]);
    ctx.addIssue({
      code: 'custom',
      path,
      message:
        `secrets never go in the inventory: put the value in an environment variable and name the variable ` +
        `in \`${k}Env\` instead${k === 'password' ? ' (e.g. passwordEnv: KAFKA_SASL_PASSWORD)' : ''}`,
    });
  }
  inlineSecrets = [];
}

const inventoryObject = z
  .object({
    defaultCluster: z.string().optional(),
    clusters: z.record(
      z.string().regex(/^[A-Za-z0-9_.-]+$/, 'cluster names use A-Z a-z 0-9 _ . -'),
      clusterSchema,
    ),
    redis: z
      .object({
        /** Redis URL without a password; the password comes from `passwordEnv`. */
        url: z
          .string()
          .refine(
            (u) => !/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]+@/i.test(u),
            'must not hold a password (redis://:PASSWORD@...): put it in an environment variable and name that ' +
              'variable in redis.passwordEnv',
          )
          .default('redis://127.0.0.1:6379'),
        passwordEnv: envName.optional(),
        password: noInlineSecret('passwordEnv'),
        prefix: z.string().default('fabric-opsbot'),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379', prefix: 'fabric-opsbot' }),
    slack: slackSchema.optional(),
    cli: cliSchema.optional(),
    audit: z
      .object({
        maxEntries: z.number().int().positive().default(1_000_000),
        maxAgeDays: z.number().int().positive().optional(),
      })
      .strict()
      .default({ maxEntries: 1_000_000 }),
  })
  .strict()
  .superRefine((inv, ctx) => {
    reportInlineSecrets(ctx);
    const names = Object.keys(inv.clusters);
    if (names.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['clusters'], message: 'define at least one cluster' });
    }
    if (inv.defaultCluster !== undefined && !names.includes(inv.defaultCluster)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultCluster'],
        message: `names no cluster of this file (have: ${names.join(', ') || 'none'})`,
      });
    }
  });

export const inventorySchema = z.preprocess(findInlineSecrets, inventoryObject);

export type Inventory = z.infer<typeof inventorySchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type OrdererConfig = z.infer<typeof ordererSchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;
export type SaslConfig = z.infer<typeof saslSchema>;
export type ContainerRef = z.infer<typeof containerRef>;
export type DockerEndpointConfig = z.infer<typeof dockerEndpoint>;
export type SlackConfig = z.infer<typeof slackSchema>;
export type CliConfig = z.infer<typeof cliSchema>;
export type Role = z.infer<typeof roleName>;
