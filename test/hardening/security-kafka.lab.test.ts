/**
 * Issue #9, security: TLS and SASL to Kafka, and TLS to the orderers' operations endpoint, against a real lab.
 *
 * A side lab of its own (1 ZooKeeper, 2 brokers of the default Kafka, ports +9000 from this run's) started with
 * `security: true` (src/lab/security.ts): each broker has PLAINTEXT plus SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256,
 * SCRAM-SHA-512), SSL with client certificates required, and SASL_SSL; the lab CA, the client certificate (key
 * encrypted with a passphrase) and the SASL user are made at lab up with openssl. Then one Fabric orderer whose
 * operations endpoint serves TLS and requires a client certificate.
 *
 * Both Kafka clients are used: the diagnostics' own wire client (src/kafka/connection.ts) and kafkajs
 * (src/kafka/client.ts, what repairs produce and alter configs with). Every failure (wrong password, untrusted
 * CA, no or a foreign client certificate, TLS to a plaintext port, SASL to a TLS port) must come back quickly,
 * name the broker, say what is wrong, and never contain the password.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseInventory, readSecrets, selectCluster, type Inventory } from '../../src/config/index.js';
import { kafkaClient } from '../../src/kafka/client.js';
import { BrokerConnection, type WireOptions } from '../../src/kafka/connection.js';
import {
  apiVersionsRequest,
  describeConfigsRequest,
  LATEST,
  listOffsetsRequest,
  metadataRequest,
  RESOURCE_TOPIC,
} from '../../src/kafka/requests.js';
import {
  labDown,
  labSecurity,
  labStatus,
  labUp,
  LAB_SECURITY_ENV,
  loadLabState,
  resolveLabOptions,
  securedPort,
  type LabSecurity,
  type SecuredListener,
} from '../../src/lab/index.js';
import { fabricCached, fabricUnbuildableReason } from '../../src/lab/fabric/binaries.js';
import { operationsTlsFiles } from '../../src/lab/fabric/index.js';
import { ordererHealthy } from '../../src/repairs/actions/containers.js';
import type { OrdererConfig } from '../../src/config/index.js';
import { captureLogs } from '../../src/log.js';
import { fetchOrdererHealth, fetchOrdererMetrics } from '../../src/orderers/metrics.js';
import { diagnose } from '../../src/ops/diagnose.js';
import { labPorts, sharedLab } from '../lab/helpers.js';

const shared = sharedLab();
const offset = labPorts(shared).offset;
const d = 9000 + offset;
const basePorts = {
  zookeeper: 12181 + d,
  zookeeperPeer: 12888 + d,
  zookeeperElection: 13888 + d,
  kafka: 19092 + d,
  redis: 16379 + d,
  orderer: 17050 + d,
  ordererOperations: 18443 + d,
  ordererAdmin: 18543 + d,
};
const workDir = `${shared.workDir}-security`;
const o = () => loadLabState({ workDir }).options;
const WRONG_PASSWORD = 'Wr0ng-pa55word-4f1c9e';

let sec: LabSecurity;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  const t0 = Date.now();
  await labUp({ workDir, basePorts, zookeeperNodes: 1, brokers: 2, redis: false, security: true });
  console.log(`[security] side lab with secured listeners up in ${Date.now() - t0} ms`);
  sec = labSecurity({ workDir })!;
  env = { [LAB_SECURITY_ENV.password]: sec.password, [LAB_SECURITY_ENV.passphrase]: sec.passphrase };
}, 300_000);

afterAll(async () => {
  await labDown({ workDir, purge: true });
  expect(labStatus({ workDir }).brokers).toEqual([]);
}, 120_000);

const port = (id: number, l: SecuredListener) => securedPort(o(), id, l);
const plainPort = (id: number) => basePorts.kafka + id - 1;
const base = { clientId: 'security-test', connectTimeoutMs: 3000, requestTimeoutMs: 5000 };

/** One connection, everything diagnose asks a broker: versions, metadata, offsets, configs. */
async function readThrough(portNo: number, opts: Partial<WireOptions>) {
  const c = await BrokerConnection.open('127.0.0.1', portNo, { ...base, ...opts });
  try {
    const [versions, md] = await Promise.all([
      c.send(apiVersionsRequest()),
      c.send(metadataRequest(['pubchain', 'testchainid'])),
    ]);
    const leaderOf = md.topics.find((t) => t.name === 'pubchain')?.partitions[0]?.leader;
    const offsets =
      leaderOf === Number(md.brokers.find((b) => b.port === portNo)?.id)
        ? await c.send(listOffsetsRequest([{ topic: 'pubchain', partition: 0 }], LATEST))
        : null;
    const configs = await c.send(describeConfigsRequest([{ type: RESOURCE_TOPIC, name: 'pubchain' }]));
    return { versions, md, offsets, configs };
  } finally {
    c.close();
  }
}

const tls = () => ({
  ca: readFileSync(sec.ca),
  cert: readFileSync(sec.clientCert),
  key: readFileSync(sec.clientKey),
  passphrase: sec.passphrase,
});

describe('the own wire client through every secured listener', () => {
  it.each([
    ['SASL PLAIN', 'saslPlaintext', { sasl: 'plain' }],
    ['SASL SCRAM-SHA-256', 'saslPlaintext', { sasl: 'scram-sha-256' }],
    ['SASL SCRAM-SHA-512', 'saslPlaintext', { sasl: 'scram-sha-512' }],
    ['mutual TLS', 'ssl', { tls: true }],
    ['SASL_SSL with SCRAM-SHA-512', 'saslSsl', { tls: true, sasl: 'scram-sha-512' }],
    ['SASL_SSL with PLAIN', 'saslSsl', { tls: true, sasl: 'plain' }],
  ] as const)('%s: versions, metadata (of this listener), offsets, configs', async (_what, listener, how) => {
    for (const id of [1, 2]) {
      const opts: Partial<WireOptions> = {
        ...('tls' in how ? { tls: listener === 'ssl' ? tls() : { ca: readFileSync(sec.ca) } } : {}),
        ...('sasl' in how
          ? { sasl: { mechanism: how.sasl, username: sec.user, password: sec.password } }
          : {}),
      };
      const r = await readThrough(port(id, listener), opts);
      expect(r.versions.errorCode).toBe(0);
      // The broker answers with the addresses of the listener it was asked on.
      expect(r.md.brokers.map((b) => b.port).sort()).toEqual([port(1, listener), port(2, listener)]);
      expect(r.md.topics.map((t) => [t.name, t.errorCode])).toEqual(
        expect.arrayContaining([
          ['pubchain', 0],
          ['testchainid', 0],
        ]),
      );
      expect(r.configs.resources[0]?.errorCode).toBe(0);
      if (r.offsets) expect(r.offsets[0]?.errorCode).toBe(0);
    }
  });
});

describe('refusals: fast, naming the broker, saying why, never the password', () => {
  const cases: [string, number | (() => number), () => Partial<WireOptions>, RegExp][] = [
    [
      'wrong password, PLAIN',
      () => port(1, 'saslPlaintext'),
      () => ({ sasl: { mechanism: 'plain', username: sec.user, password: WRONG_PASSWORD } }),
      /SASL PLAIN as user opsbot: authentication failed: Authentication failed: Invalid username or password/,
    ],
    [
      'wrong password, SCRAM-SHA-256',
      () => port(1, 'saslPlaintext'),
      () => ({ sasl: { mechanism: 'scram-sha-256', username: sec.user, password: WRONG_PASSWORD } }),
      /SASL SCRAM-SHA-256 as user opsbot: authentication failed: .*invalid credentials/,
    ],
    [
      'unknown user, SCRAM-SHA-512',
      () => port(1, 'saslSsl'),
      () => ({
        tls: { ca: readFileSync(sec.ca) },
        sasl: { mechanism: 'scram-sha-512', username: 'nobody', password: WRONG_PASSWORD },
      }),
      /SASL SCRAM-SHA-512 as user nobody: authentication failed/,
    ],
    [
      'a CA that did not sign the broker',
      () => port(1, 'ssl'),
      () => ({ tls: { ...tls(), ca: readFileSync(sec.otherCa) } }),
      /TLS: the broker's certificate is not signed by a trusted CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); check kafka\.tls\.ca/,
    ],
    [
      'no CA at all (the system store does not know the lab CA)',
      () => port(1, 'saslSsl'),
      () => ({ tls: {}, sasl: { mechanism: 'plain', username: sec.user, password: sec.password } }),
      /TLS: the broker's certificate is not signed by a trusted CA/,
    ],
    [
      'no client certificate where the listener requires one',
      () => port(1, 'ssl'),
      () => ({ tls: { ca: readFileSync(sec.ca) } }),
      /TLS: the broker refused this client \(.*\): it wants a client certificate signed by a CA it trusts/,
    ],
    [
      'a client certificate of another CA',
      () => port(1, 'ssl'),
      () => ({
        tls: {
          ca: readFileSync(sec.ca),
          cert: readFileSync(sec.otherClientCert),
          key: readFileSync(sec.otherClientKey),
        },
      }),
      /TLS: the broker refused this client/,
    ],
    [
      'a wrong passphrase for the client key',
      () => port(1, 'ssl'),
      () => ({ tls: { ...tls(), passphrase: WRONG_PASSWORD } }),
      /TLS: cannot read the client key \(wrong or missing passphrase\? kafka\.tls\.passphraseEnv\)/,
    ],
    [
      'TLS to a PLAINTEXT port',
      () => plainPort(1),
      () => ({ tls: { ca: readFileSync(sec.ca) } }),
      /TLS handshake failed: the broker closed the connection \(is this a PLAINTEXT or SASL_PLAINTEXT port\? kafka\.tls is set\)/,
    ],
    [
      'TLS to a SASL_PLAINTEXT port',
      () => port(2, 'saslPlaintext'),
      () => ({ tls: { ca: readFileSync(sec.ca) } }),
      /TLS handshake failed/,
    ],
    [
      'SASL to a PLAINTEXT port',
      () => plainPort(2),
      () => ({ sasl: { mechanism: 'scram-sha-256', username: sec.user, password: sec.password } }),
      /this listener does not do SASL \(ILLEGAL_SASL_STATE\): is it a PLAINTEXT or SSL port\? kafka\.sasl is set/,
    ],
    [
      'SASL without TLS to a TLS port',
      () => port(1, 'saslSsl'),
      () => ({ sasl: { mechanism: 'plain', username: sec.user, password: sec.password } }),
      /closed the connection before the SASL handshake \(is this a TLS port\? kafka\.tls is not set\)/,
    ],
    [
      'neither to a SASL port',
      () => port(1, 'saslPlaintext'),
      () => ({}),
      /connection closed before any answer \(does this listener need TLS or SASL\? the inventory sets neither\)/,
    ],
  ];

  it.each(cases)('%s', async (_what, portOf, opts, reason) => {
    const p = typeof portOf === 'number' ? portOf : portOf();
    const logs = captureLogs();
    const t0 = Date.now();
    let err: Error | null = null;
    try {
      const c = await BrokerConnection.open('127.0.0.1', p, { ...base, ...opts() });
      try {
        await c.send(metadataRequest([]));
      } finally {
        c.close();
      }
    } catch (e) {
      err = e as Error;
    } finally {
      logs.stop();
    }
    expect(Date.now() - t0).toBeLessThan(base.connectTimeoutMs + base.requestTimeoutMs);
    expect(err?.message).toMatch(new RegExp(`^broker 127\\.0\\.0\\.1:${p}: `));
    expect(err?.message).toMatch(reason);
    expect(err?.message).not.toMatch(/\n/);
    for (const secret of [sec.password, WRONG_PASSWORD, sec.passphrase]) {
      expect(err?.message).not.toContain(secret);
      expect(logs.text()).not.toContain(secret);
    }
  });
});

// ------------------------------------------------------------------ kafkajs (repairs)

/** An inventory with one cluster `name` whose bootstrap list is `listener` of both brokers. */
function inventory(name: string, listener: SecuredListener | 'plaintext', kafka: string): Inventory {
  const at = (id: number) => (listener === 'plaintext' ? plainPort(id) : port(id, listener));
  return parseInventory(
    `clusters:
  ${name}:
    kafka:
      brokers: ["127.0.0.1:${at(1)}", "127.0.0.1:${at(2)}"]
      brokerIds: [1, 2]
      connectTimeoutMs: 2000
      requestTimeoutMs: 4000
${kafka}
    zookeeper: { connect: "127.0.0.1:${basePorts.zookeeper}" }
    channels: [testchainid, pubchain]
`,
    'security-inventory.yaml',
  );
}

const saslYaml = (mechanism: string, passwordEnv: string = LAB_SECURITY_ENV.password) =>
  `      sasl: { mechanism: ${mechanism}, username: opsbot, passwordEnv: ${passwordEnv} }`;
const tlsYaml =
  (ca: () => string, client = true) =>
  () =>
    `      tls: { ca: "${ca()}"${client ? `, cert: "${sec.clientCert}", key: "${sec.clientKey}", passphraseEnv: ${LAB_SECURITY_ENV.passphrase}` : ''} }`;

describe('kafkajs (what repairs use) with the same inventory keys', () => {
  it.each([
    ['sasl-plain', 'saslPlaintext', () => saslYaml('plain')],
    ['sasl-scram256', 'saslPlaintext', () => saslYaml('scram-sha-256')],
    ['sasl-scram512', 'saslPlaintext', () => saslYaml('scram-sha-512')],
    ['tls', 'ssl', tlsYaml(() => sec.ca)],
    ['sasl-ssl', 'saslSsl', () => `${tlsYaml(() => sec.ca, false)()}\n${saslYaml('scram-sha-512')}`],
  ] as const)('%s: metadata, offsets, topic configs, a produce', async (name, listener, kafka) => {
    const inv = inventory(name, listener, kafka());
    const cluster = selectCluster(inv, name);
    const k = kafkaClient(cluster.config.kafka, readSecrets(inv, env).byEnv);
    const admin = k.admin();
    await admin.connect();
    try {
      const md = await admin.fetchTopicMetadata({ topics: ['pubchain'] });
      expect(md.topics[0]?.partitions[0]?.leader).toBeGreaterThan(0);
      const cfg = await admin.describeConfigs({
        resources: [{ type: 2, name: 'pubchain' }],
        includeSynonyms: false,
      });
      expect(
        cfg.resources[0]?.configEntries.find((c) => c.configName === 'min.insync.replicas')?.configValue,
      ).toBe('2');
      const producer = k.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      try {
        await producer.send({
          topic: 'testchainid',
          acks: -1,
          messages: [{ key: '0', value: `via ${name}` }],
        });
      } finally {
        await producer.disconnect();
      }
      const offsets = await admin.fetchTopicOffsets('testchainid');
      expect(Number(offsets[0]?.high)).toBeGreaterThan(0);
    } finally {
      await admin.disconnect();
    }
  });

  it.each([
    [
      'a wrong password',
      'saslPlaintext',
      () => saslYaml('scram-sha-256', 'WRONG_PW'),
      /SASL SCRAM SHA256 authentication failed/i,
    ],
    ['an untrusted CA', 'ssl', tlsYaml(() => sec.otherCa), /self[- ]signed|unable to verify|certificate/i],
  ] as const)(
    '%s: fails within its timeouts and does not echo the secret',
    async (what, listener, kafka, reason) => {
      const inv = inventory('bad', listener, kafka());
      const k = kafkaClient(
        selectCluster(inv, 'bad').config.kafka,
        readSecrets(inv, { ...env, WRONG_PW: WRONG_PASSWORD }).byEnv,
      );
      const admin = k.admin();
      const logs = captureLogs();
      const t0 = Date.now();
      const err = await admin.connect().then(
        () => null,
        (e: Error) => e,
      );
      logs.stop();
      await admin.disconnect().catch(() => undefined);
      expect(err, what).not.toBeNull();
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect(err!.message).toMatch(reason);
      for (const secret of [WRONG_PASSWORD, sec.password, sec.passphrase]) {
        expect(err!.message).not.toContain(secret);
        expect(logs.text()).not.toContain(secret);
      }
    },
  );
});

// ------------------------------------------------------------------ diagnose

describe('diagnose through SASL and TLS', () => {
  const run = async (
    name: string,
    listener: SecuredListener | 'plaintext',
    kafka: string,
    extraEnv: NodeJS.ProcessEnv = {},
  ) => {
    const inv = inventory(name, listener, kafka);
    const logs = captureLogs();
    const t0 = Date.now();
    try {
      const r = await diagnose({
        inventory: inv,
        cluster: selectCluster(inv, name),
        env: { ...env, ...extraEnv },
      });
      return { ...r, ms: Date.now() - t0, logs: logs.text() };
    } finally {
      logs.stop();
    }
  };

  it.each([
    ['sasl-plain', 'saslPlaintext', () => saslYaml('plain')],
    ['tls', 'ssl', tlsYaml(() => sec.ca)],
  ] as const)(
    '%s: every partition offset and config read through the secured bootstrap listener',
    async (name, listener, kafka) => {
      const r = await run(name, listener, kafka());
      expect(r.report.sources.kafka?.ok).toBe(true);
      const ok = r.snapshot.kafka!.views.filter((v) => v.ok).map((v) => v.address);
      expect(ok.sort()).toEqual([`127.0.0.1:${port(1, listener)}`, `127.0.0.1:${port(2, listener)}`]);
      for (const p of r.snapshot.kafka!.offsets) {
        expect(p.error, `${p.topic}/${p.partition}`).toBeUndefined();
        expect(p.highWatermark).toBeGreaterThanOrEqual(0);
      }
      expect(Object.keys(r.snapshot.kafka!.topicConfigs).sort()).toEqual(['pubchain', 'testchainid']);
      expect(r.findings.map((f) => f.code)).not.toContain('BROKER_UNREACHABLE');
      expect(JSON.stringify(r.report) + r.logs).not.toContain(sec.password);
    },
  );

  // Each registered broker is asked at its address on the client's listener (the bootstrap's, else the one of
  // the client's security protocol), not at its PLAINTEXT host/port; SCRAM goes through the own wire client.
  it.each([
    ['sasl-plain', 'saslPlaintext', () => saslYaml('plain')],
    ['sasl-scram512', 'saslPlaintext', () => saslYaml('scram-sha-512')],
    ['tls', 'ssl', tlsYaml(() => sec.ca)],
    ['sasl-ssl', 'saslSsl', () => `${tlsYaml(() => sec.ca, false)()}\n${saslYaml('scram-sha-256')}`],
  ] as const)(
    '%s: every broker asked at its secured listener, nothing unavailable',
    async (name, listener, kafka) => {
      const r = await run(name, listener, kafka());
      expect(r.report.sources.kafka?.ok).toBe(true);
      expect(r.snapshot.kafka!.views.every((v) => v.ok)).toBe(true);
      expect(r.findings.filter((f) => f.code === 'SOURCE_UNAVAILABLE')).toEqual([]);
    },
  );

  it.each([
    [
      'a wrong password',
      'saslPlaintext',
      () => saslYaml('plain', 'WRONG_PW'),
      /authentication failed: Authentication failed: Invalid username or password/,
    ],
    ['an untrusted CA', 'ssl', tlsYaml(() => sec.otherCa), /not signed by a trusted CA/],
    [
      'TLS to the PLAINTEXT ports',
      'plaintext',
      tlsYaml(() => sec.ca),
      /TLS handshake failed: the broker closed the connection/,
    ],
  ] as const)(
    '%s: BROKER_UNREACHABLE or SOURCE_UNAVAILABLE naming each broker and why, quickly',
    async (_what, listener, kafka, reason) => {
      const r = await run('bad', listener, kafka(), { WRONG_PW: WRONG_PASSWORD });
      expect(r.ms).toBeLessThan(15_000);
      const problems = r.findings.filter(
        (f) => f.code === 'SOURCE_UNAVAILABLE' || f.code === 'BROKER_UNREACHABLE',
      );
      expect(problems.length).toBeGreaterThan(0);
      const text = JSON.stringify(problems);
      expect(text).toMatch(reason);
      expect(text).toMatch(/127\.0\.0\.1:\d+/);
      expect(r.report.sources.kafka?.ok).toBe(false);
      for (const secret of [WRONG_PASSWORD, sec.password, sec.passphrase]) {
        expect(JSON.stringify(r.report)).not.toContain(secret);
        expect(r.logs).not.toContain(secret);
      }
    },
  );
});

// ------------------------------------------------------------------ orderers' operations endpoint over TLS

function ordererSkipReason(): string | null {
  const opts = resolveLabOptions({ workDir: shared.workDir });
  if (fabricCached(opts)) return null;
  const why = fabricUnbuildableReason();
  return why ? `Fabric's binaries are not built and cannot be: ${why}` : null;
}
const ordererSkip = ordererSkipReason();
if (ordererSkip) console.warn(`[security] orderer operations TLS skipped: ${ordererSkip}`);

describe.skipIf(ordererSkip !== null)("a real orderer's operations endpoint over TLS", () => {
  let url: string;
  let files: ReturnType<typeof operationsTlsFiles>;

  beforeAll(async () => {
    const t0 = Date.now();
    const s = await labUp({ workDir, orderers: 1 });
    console.log(`[security] orderer with operations TLS up in ${Date.now() - t0} ms`);
    url = s.orderers[0]!.operationsUrl;
    files = operationsTlsFiles({ workDir }, 1);
  }, 900_000);

  const good = () => ({
    enabled: true,
    ca: files.ca,
    cert: files.clientCert,
    key: files.clientKey,
    servername: files.servername,
    rejectUnauthorized: true,
  });

  it('the lab serves https and its inventory says how to reach it', () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const inv = readFileSync(labStatus({ workDir }).inventory, 'utf8');
    expect(inv).toContain('operationsTls:');
    expect(inv).toContain(`servername: ${files.servername}`);
  });

  it('metrics and healthz over TLS with the CA, the client certificate and the name the certificate has', async () => {
    const m = await fetchOrdererMetrics(url, { timeoutMs: 5000, tls: good() });
    expect(m.lastOffsetPersisted['testchainid']).toBeDefined();
    const h = await fetchOrdererHealth(url, { timeoutMs: 5000, tls: good() });
    expect(h.healthy).toBe(true);
  });

  it("a repair's wait for the orderer (after a restart) asks /healthz over the same TLS", async () => {
    const orderer = { name: 'orderer1.example.com', operationsUrl: url, probeHealthz: false };
    const env = { fetch: globalThis.fetch.bind(globalThis) };
    expect(await ordererHealthy(env, { ...orderer, operationsTls: good() } as OrdererConfig)).toBe(true);
    // Without the TLS settings the private CA is not trusted: an error, never a false "healthy".
    await expect(ordererHealthy(env, orderer as OrdererConfig)).rejects.toThrow();
  });

  it('diagnose reads the orderer through its metrics over TLS', async () => {
    const inv = parseInventory(readFileSync(labStatus({ workDir }).inventory, 'utf8'), 'lab-inventory.yaml');
    const r = await diagnose({ inventory: inv, cluster: selectCluster(inv, 'lab'), env: {} });
    expect(r.report.sources.orderers?.ok).toBe(true);
    const positions = r.report.orderers.filter((p) => p.channel === 'testchainid');
    expect(positions).toEqual([expect.objectContaining({ name: 'orderer1.example.com', source: 'metrics' })]);
  });

  it.each([
    [
      'a CA that did not sign it',
      (t: Record<string, unknown>) => ({ ...t, ca: sec.otherCa }),
      /https:\/\/127\.0\.0\.1:\d+\/metrics: TLS: the orderer operations endpoint's certificate is not signed by a trusted CA \(\w+\); check orderers\[orderer1\.example\.com\]\.operationsTls\.ca/,
    ],
    [
      'no client certificate',
      (t: Record<string, unknown>) => ({ ca: t['ca'], servername: t['servername'] }),
      /TLS: the orderer operations endpoint refused this client \(.*\): it wants a client certificate/,
    ],
    [
      'no operationsTls at all',
      () => undefined,
      /not signed by a trusted CA .*\(no operationsTls in the inventory: the system CAs were used/,
    ],
  ])('diagnose with %s: the orderer source says what to fix', async (_what, change, reason) => {
    const raw = parseYaml(readFileSync(labStatus({ workDir }).inventory, 'utf8')) as {
      clusters: { lab: { orderers: Record<string, unknown>[] } };
    };
    const o1 = raw.clusters.lab.orderers[0]!;
    const tlsNow = change(o1['operationsTls'] as Record<string, unknown>);
    if (tlsNow === undefined) delete o1['operationsTls'];
    else o1['operationsTls'] = tlsNow;
    const inv = parseInventory(stringifyYaml(raw), 'changed-inventory.yaml');
    const r = await diagnose({ inventory: inv, cluster: selectCluster(inv, 'lab'), env: {} });
    const text = JSON.stringify(r.findings.filter((f) => f.code === 'SOURCE_UNAVAILABLE'));
    expect(text).toMatch(reason);
  });

  it.each([
    ['another CA', () => ({ ...good(), ca: sec.otherCa }), /unable to verify|self[- ]signed|certificate/i],
    ['no CA', () => ({ ...good(), ca: undefined }), /unable to verify|self[- ]signed|certificate/i],
    [
      'the address instead of the name',
      () => ({ ...good(), servername: undefined }),
      /altnames|not in the cert|does not match/i,
    ],
    [
      'no client certificate',
      () => ({ ...good(), cert: undefined, key: undefined }),
      /HTTP 401|certificate|socket hang up|ECONNRESET/i,
    ],
  ])('refused with %s, naming the URL', async (_what, t, reason) => {
    const err = await fetchOrdererMetrics(url, { timeoutMs: 5000, tls: t() }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toContain(url);
    expect(err?.message).toMatch(reason);
  });
});
