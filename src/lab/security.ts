/**
 * The lab's TLS and SASL option (`security: true`): every broker keeps its PLAINTEXT listener (inter-broker
 * traffic, the lab's own tools, the orderers) and gets three more, all advertised:
 *
 *   SASL_PLAINTEXT  kafka port + 100   PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
 *   SSL             kafka port + 200   TLS with a client certificate required (mutual TLS)
 *   SASL_SSL        kafka port + 300   TLS (no client certificate) and the three SASL mechanisms
 *
 * Material, made once per work folder at lab up with openssl (EC P-256, valid 30 days) in `<workDir>/security/`:
 * the lab CA (ca.pem: what an inventory's `tls.ca` points at), the brokers' certificate for 127.0.0.1 and
 * localhost (a PEM keystore: Kafka 2.7+ reads PEM), a client certificate whose key is encrypted with a
 * passphrase, a second CA nobody trusts (other-ca.pem, for tests), and credentials.json: the SASL user
 * `opsbot` with a random password (PLAIN from the listener's JAAS settings; SCRAM credentials written to
 * ZooKeeper's /config/users before the brokers start). The lab's inventory gets one cluster per way in
 * (lab-sasl-plain, lab-scram-256, lab-scram-512, lab-tls, lab-sasl-ssl) whose secrets come from the variables
 * in security/lab.env.
 */
import { execFile } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ports, zookeeperConnect, type ResolvedLabOptions } from './options.js';
import type { LabZk } from './zk.js';

/** Port of each secured listener of broker `id`, relative to its PLAINTEXT port. */
export const SECURITY_PORT_OFFSETS = { saslPlaintext: 100, ssl: 200, saslSsl: 300 } as const;
export type SecuredListener = keyof typeof SECURITY_PORT_OFFSETS;

export const LAB_SASL_USER = 'opsbot';
/** The environment variables the lab's secured clusters name in their inventory. */
export const LAB_SECURITY_ENV = {
  password: 'LAB_KAFKA_SASL_PASSWORD',
  passphrase: 'LAB_KAFKA_KEY_PASSPHRASE',
} as const;
/** SCRAM iterations (Kafka's minimum is 4096). */
const SCRAM_ITERATIONS = 4096;

export function securedPort(o: ResolvedLabOptions, id: number, listener: SecuredListener): number {
  return ports.kafka(o, id) + SECURITY_PORT_OFFSETS[listener];
}

export interface LabSecurity {
  dir: string;
  /** The lab CA's certificate (PEM). */
  ca: string;
  /** A CA that signed nothing of the lab (tests of an untrusted server certificate). */
  otherCa: string;
  /** The brokers' certificate (SAN IP:127.0.0.1, DNS:localhost) and its key, one PEM file (Kafka's keystore). */
  brokerKeystore: string;
  /** A client certificate signed by the lab CA, and its key (PKCS#8, encrypted with `passphrase`). */
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by other-ca (refused by the SSL listener). */
  otherClientCert: string;
  otherClientKey: string;
  user: string;
  password: string;
  passphrase: string;
  /** KEY=value lines of LAB_SECURITY_ENV (source it to use the secured clusters of the inventory). */
  envFile: string;
}

export function securityDir(o: Pick<ResolvedLabOptions, 'workDir'>): string {
  return join(o.workDir, 'security');
}

function paths(o: Pick<ResolvedLabOptions, 'workDir'>) {
  const dir = securityDir(o);
  const f = (n: string) => join(dir, n);
  return {
    dir,
    ca: f('ca.pem'),
    caKey: f('ca.key'),
    otherCa: f('other-ca.pem'),
    otherCaKey: f('other-ca.key'),
    brokerKeystore: f('broker-keystore.pem'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    otherClientCert: f('other-client.pem'),
    otherClientKey: f('other-client.key'),
    credentials: f('credentials.json'),
    envFile: f('lab.env'),
  };
}

/** The lab's security material, or null when it was not made (a lab without `security`). */
export function labSecurity(o: Pick<ResolvedLabOptions, 'workDir'>): LabSecurity | null {
  const p = paths(o);
  if (!existsSync(p.credentials)) return null;
  const c = JSON.parse(readFileSync(p.credentials, 'utf8')) as {
    user: string;
    password: string;
    passphrase: string;
  };
  return {
    dir: p.dir,
    ca: p.ca,
    otherCa: p.otherCa,
    brokerKeystore: p.brokerKeystore,
    clientCert: p.clientCert,
    clientKey: p.clientKey,
    otherClientCert: p.otherClientCert,
    otherClientKey: p.otherClientKey,
    envFile: p.envFile,
    ...c,
  };
}

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 60_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`openssl ${args[0]}: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];

async function selfSignedCa(dir: string, key: string, cert: string, cn: string): Promise<void> {
  await openssl(
    ['req', '-x509', ...EC, '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', `/CN=${cn}`],
    dir,
  );
}

async function signed(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  subject: string,
  ext: string,
  passphrase?: string,
): Promise<void> {
  await openssl(
    [
      'req',
      ...EC,
      ...(passphrase !== undefined ? ['-passout', 'env:LAB_KEY_PASS'] : ['-nodes']),
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subject,
    ],
    dir,
  );
  writeFileSync(join(dir, `${name}.ext`), ext);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '30',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  rmSync(join(dir, `${name}.csr`), { force: true });
  rmSync(join(dir, `${name}.ext`), { force: true });
}

/**
 * Makes the material once (a second lab up keeps it, so clients keep trusting the CA); ~0.1 s. The folder is
 * built beside and renamed into place: an interrupted run leaves nothing half made.
 */
export async function ensureSecurityMaterial(o: ResolvedLabOptions): Promise<LabSecurity> {
  const have = labSecurity(o);
  if (have) return have;
  const p = paths(o);
  const tmp = `${p.dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const t = (f: string) => join(tmp, f.slice(p.dir.length + 1));
  const passphrase = randomBytes(12).toString('base64url');
  const prevPass = process.env['LAB_KEY_PASS'];
  process.env['LAB_KEY_PASS'] = passphrase; // for -passout env: (not on a command line)
  try {
    await selfSignedCa(tmp, t(p.caKey), t(p.ca), 'fabric-opsbot lab CA');
    await selfSignedCa(tmp, t(p.otherCaKey), t(p.otherCa), 'some other CA');
    await signed(
      tmp,
      'broker',
      { cert: t(p.ca), key: t(p.caKey) },
      '/CN=localhost',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
    );
    await signed(
      tmp,
      'client',
      { cert: t(p.ca), key: t(p.caKey) },
      '/CN=fabric-opsbot',
      'extendedKeyUsage=clientAuth\n',
      passphrase,
    );
    await signed(
      tmp,
      'other-client',
      { cert: t(p.otherCa), key: t(p.otherCaKey) },
      '/CN=fabric-opsbot',
      'extendedKeyUsage=clientAuth\n',
    );
  } finally {
    if (prevPass === undefined) delete process.env['LAB_KEY_PASS'];
    else process.env['LAB_KEY_PASS'] = prevPass;
  }
  // Kafka's PEM keystore: the private key (PKCS#8) then the certificate chain.
  writeFileSync(
    t(p.brokerKeystore),
    readFileSync(join(tmp, 'broker.key'), 'utf8') + readFileSync(join(tmp, 'broker.pem'), 'utf8'),
  );
  const password = randomBytes(12).toString('base64url');
  writeFileSync(
    t(p.credentials),
    JSON.stringify({ user: LAB_SASL_USER, password, passphrase }, null, 2) + '\n',
    { mode: 0o600 },
  );
  writeFileSync(
    t(p.envFile),
    `${LAB_SECURITY_ENV.password}=${password}\n${LAB_SECURITY_ENV.passphrase}=${passphrase}\n`,
    { mode: 0o600 },
  );
  renameSync(tmp, p.dir);
  return labSecurity(o)!;
}

/** The broker settings the secured listeners add (merged into server.properties by configs.brokerSettings). */
export function securityBrokerSettings(o: ResolvedLabOptions, id: number): Record<string, string> {
  const sec = labSecurity(o);
  if (!sec) throw new Error(`no security material in ${securityDir(o)}: labUp makes it`);
  const plain = ports.kafka(o, id);
  const at = (l: SecuredListener) => securedPort(o, id, l);
  const listeners = [
    `PLAINTEXT://127.0.0.1:${plain}`,
    `SASL_PLAINTEXT://127.0.0.1:${at('saslPlaintext')}`,
    `SSL://127.0.0.1:${at('ssl')}`,
    `SASL_SSL://127.0.0.1:${at('saslSsl')}`,
  ].join(',');
  const jaas = (listener: string): Record<string, string> => ({
    [`listener.name.${listener}.plain.sasl.jaas.config`]: `org.apache.kafka.common.security.plain.PlainLoginModule required user_${sec.user}="${sec.password}";`,
    [`listener.name.${listener}.scram-sha-256.sasl.jaas.config`]:
      'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    [`listener.name.${listener}.scram-sha-512.sasl.jaas.config`]:
      'org.apache.kafka.common.security.scram.ScramLoginModule required;',
  });
  return {
    listeners,
    'advertised.listeners': listeners,
    'inter.broker.listener.name': 'PLAINTEXT',
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    ...jaas('sasl_plaintext'),
    ...jaas('sasl_ssl'),
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': sec.brokerKeystore,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': sec.ca,
    'listener.name.ssl.ssl.client.auth': 'required',
    'listener.name.sasl_ssl.ssl.client.auth': 'none',
  };
}

/** Kafka's stored form of a SCRAM credential: salt, stored key, server key, iterations. */
export function scramCredential(password: string, hash: 'sha256' | 'sha512', salt = randomBytes(32)): string {
  const salted = pbkdf2Sync(
    Buffer.from(password, 'utf8'),
    salt,
    SCRAM_ITERATIONS,
    hash === 'sha256' ? 32 : 64,
    hash,
  );
  const clientKey = createHmac(hash, salted).update('Client Key').digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const serverKey = createHmac(hash, salted).update('Server Key').digest();
  return (
    `salt=${salt.toString('base64')},stored_key=${storedKey.toString('base64')},` +
    `server_key=${serverKey.toString('base64')},iterations=${SCRAM_ITERATIONS}`
  );
}

/**
 * The SCRAM credentials of the lab user in /config/users/<user>, as `kafka-configs --alter --add-config
 * SCRAM-SHA-256=[...]` writes them, before the brokers start (they read /config/users when they start).
 */
export async function writeScramCredentials(zk: LabZk, sec: LabSecurity): Promise<void> {
  await zk.create('/config', '');
  await zk.create('/config/users', '');
  await zk.create(
    `/config/users/${sec.user}`,
    JSON.stringify({
      version: 1,
      config: {
        'SCRAM-SHA-256': scramCredential(sec.password, 'sha256'),
        'SCRAM-SHA-512': scramCredential(sec.password, 'sha512'),
      },
    }),
  );
}

/** The inventory's clusters for the secured listeners (one per way in), beside the lab's own `lab`. */
export function securityClusters(
  o: ResolvedLabOptions,
  brokerIds: number[],
): Record<string, Record<string, unknown>> {
  const sec = labSecurity(o);
  if (!sec) return {};
  const cluster = (listener: SecuredListener, extra: Record<string, unknown>) => ({
    kafka: {
      brokers: brokerIds.map((id) => `127.0.0.1:${securedPort(o, id, listener)}`),
      brokerIds: [...brokerIds], // (a copy: one shared array would be written as a YAML alias)
      version: o.kafkaVersion,
      ...extra,
    },
    zookeeper: { connect: zookeeperConnect(o) },
    channels: [...o.channels],
  });
  const sasl = (mechanism: string) => ({
    mechanism,
    username: sec.user,
    passwordEnv: LAB_SECURITY_ENV.password,
  });
  return {
    'lab-sasl-plain': cluster('saslPlaintext', { sasl: sasl('plain') }),
    'lab-scram-256': cluster('saslPlaintext', { sasl: sasl('scram-sha-256') }),
    'lab-scram-512': cluster('saslPlaintext', { sasl: sasl('scram-sha-512') }),
    'lab-tls': cluster('ssl', {
      tls: {
        ca: sec.ca,
        cert: sec.clientCert,
        key: sec.clientKey,
        passphraseEnv: LAB_SECURITY_ENV.passphrase,
      },
    }),
    'lab-sasl-ssl': cluster('saslSsl', { tls: { ca: sec.ca }, sasl: sasl('scram-sha-512') }),
  };
}
