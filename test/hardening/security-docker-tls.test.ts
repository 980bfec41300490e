/**
 * Issue #9, security: TLS to Docker engines, the cases test/docker/tls.test.ts does not have: a CA file that is
 * valid but did not sign the engine (not just "no CA"), a client certificate from a CA the engine does not trust,
 * a key file that is missing. Each is refused with a one-line reason
 * that names the endpoint and never contains the key passphrase or the key. The engine is a local HTTPS server
 * answering /_ping like the Docker daemon and requiring a client certificate; certificates are made with openssl.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerClient } from '../../src/docker/client.js';

const PASSPHRASE = 'docker-key-pa55-3b7e';
let dir: string;
let server: Server;
let port: number;
const f = (n: string) => join(dir, n);
const ssl = (args: string[]) =>
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', env: { ...process.env, PASS: PASSPHRASE } });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];

function ca(name: string): void {
  ssl([
    'req',
    '-x509',
    ...EC,
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
}

function leaf(name: string, signer: string, ext: string, opts: { pass?: boolean } = {}): void {
  ssl([
    'req',
    ...EC,
    ...(opts.pass ? ['-passout', 'env:PASS'] : ['-nodes']),
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  writeFileSync(f(`${name}.ext`), ext);
  ssl([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${signer}.pem`,
    '-CAkey',
    `${signer}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-extfile',
    `${name}.ext`,
    '-days',
    '2',
  ]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsbot-docker-tls-'));
  ca('engine-ca');
  ca('other-ca');
  leaf('engine', 'engine-ca', 'subjectAltName=IP:127.0.0.1,DNS:docker.test\n');
  leaf('client', 'engine-ca', 'extendedKeyUsage=clientAuth\n', { pass: true });
  leaf('stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  server = createServer(
    {
      key: readFileSync(f('engine.key')),
      cert: readFileSync(f('engine.pem')),
      ca: readFileSync(f('engine-ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      if (req.url?.endsWith('/_ping')) res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK');
      else res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"no such container"}');
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
}, 60_000);

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const tls = (over: Record<string, unknown> = {}) => ({
  enabled: true,
  ca: f('engine-ca.pem'),
  cert: f('client.pem'),
  key: f('client.key'),
  passphraseEnv: 'ENGINE_KEY_PASS',
  rejectUnauthorized: true,
  ...over,
});
const env = { ENGINE_KEY_PASS: PASSPHRASE };
const client = (over: Record<string, unknown> = {}, e: NodeJS.ProcessEnv = env) =>
  new DockerClient('remote', { host: '127.0.0.1', port, tls: tls(over), timeoutMs: 3000 }, { env: e });

describe('Docker over TLS: refusals', () => {
  it('the baseline: the engine CA, a client certificate it trusts, the key passphrase from the environment', async () => {
    expect(await client().ping()).toMatchObject({ ok: true });
  });

  it.each([
    [
      'a CA that did not sign the engine',
      () => ({ ca: f('other-ca.pem') }),
      /^ping: TLS: the Docker engine's certificate is not signed by a trusted CA \(\w+\); check docker\.endpoints\.remote\.tls\.ca$/,
    ],
    [
      'a client certificate of a CA the engine does not trust',
      () => ({ cert: f('stranger.pem'), key: f('stranger.key'), passphraseEnv: undefined }),
      // TLS 1.2 sends an alert; TLS 1.3 often just resets the connection after the handshake.
      /^ping: TLS(: the Docker engine refused this client| handshake failed: the Docker engine closed the connection \(.*refuses this client's certificate: check docker\.endpoints\.remote\.tls\))/,
    ],
    ['a CA file that is not a certificate', () => ({ ca: f('client.key') }), /./],
  ])('%s', async (_what, over, reason) => {
    const r = await client(over()).ping();
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(reason);
    expect(r.error).not.toMatch(/\n/);
    expect(r.error).not.toContain(PASSPHRASE);
    expect(r.ms).toBeLessThan(3500);
    if (process.env['DEBUG_TLS']) console.log(r.error);
  });

  it('a wrong passphrase: refused without echoing either passphrase, and the key is never in the message', async () => {
    const wrong = 'not-the-pa55phrase-11';
    const r = await client({}, { ENGINE_KEY_PASS: wrong }).ping();
    expect(r.ok).toBe(false);
    const key = readFileSync(f('client.key'), 'utf8');
    for (const s of [wrong, PASSPHRASE, ...key.split('\n').filter((l) => l.length > 20)]) {
      expect(r.error).not.toContain(s);
    }
  });

  it('a missing key file names the key and the endpoint, not its content', async () => {
    const err = await Promise.resolve()
      .then(() => client({ key: f('nope.key') }).ping())
      .then(
        (r) => r.error ?? '',
        (e: Error) => e.message,
      );
    expect(err).toMatch(/nope\.key/);
    expect(err).toMatch(/remote/);
  });
});
