/**
 * A Docker endpoint over TCP with TLS from PEM files (ca, client cert and key, key passphrase from the
 * environment, servername, rejectUnauthorized), against a local HTTPS server that answers /_ping like the
 * Docker daemon and requires a client certificate. Certificates are made with openssl for the test.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerClient } from '../../src/docker/client.js';

let dir: string;
let server: Server;
let port: number;
const f = (n: string) => join(dir, n);

function ssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opsbot-tls-'));
  ssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=opsbot-test-ca',
  ]);
  ssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=docker.test',
  ]);
  // SAN: only the name docker.test, so that connecting to 127.0.0.1 needs `servername`.
  writeFileSync(f('san.cnf'), 'subjectAltName=DNS:docker.test\n');
  ssl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.cnf',
  ]);
  ssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-passout',
    'pass:s3cret',
    '-keyout',
    'client.key',
    '-out',
    'client.csr',
    '-subj',
    '/CN=opsbot-client',
  ]);
  ssl([
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.pem',
    '-days',
    '2',
  ]);

  server = createServer(
    {
      key: readFileSync(f('server.key')),
      cert: readFileSync(f('server.pem')),
      ca: readFileSync(f('ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
      if (req.url?.endsWith('/_ping') && cn === 'opsbot-client') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK');
      } else {
        res
          .writeHead(404, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ message: `no such container` }));
      }
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

describe('DockerClient over TCP with TLS', () => {
  const tls = (over: Record<string, unknown> = {}) => ({
    enabled: true,
    ca: f('ca.pem'),
    cert: f('client.pem'),
    key: f('client.key'),
    passphraseEnv: 'OPSBOT_TEST_KEY_PASS',
    servername: 'docker.test',
    rejectUnauthorized: true,
    ...over,
  });
  const env = { OPSBOT_TEST_KEY_PASS: 's3cret' };

  it('pings with a client certificate, an encrypted key and the server name the certificate carries', async () => {
    const c = new DockerClient('remote', { host: '127.0.0.1', port, tls: tls(), timeoutMs: 3000 }, { env });
    expect(c.address).toBe(`https://127.0.0.1:${port}`);
    expect(await c.ping()).toMatchObject({ ok: true });
    const err = await c.inspect('kafka1').catch((e: Error) => e);
    expect((err as Error).message).toBe(
      `Docker endpoint "remote" (https://127.0.0.1:${port}): inspect kafka1: HTTP 404: no such container`,
    );
  });

  it('refuses a server whose certificate does not name the address, unless told the name', async () => {
    const c = new DockerClient(
      'remote',
      { host: '127.0.0.1', port, tls: tls({ servername: undefined }), timeoutMs: 3000 },
      { env },
    );
    const r = await c.ping();
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/ping: .*(altnames|IP: 127\.0\.0\.1 is not in the cert's list)/i);
  });

  it('fails cleanly without the client certificate, and with a wrong passphrase', async () => {
    const noCert = new DockerClient('remote', {
      host: '127.0.0.1',
      port,
      tls: tls({ cert: undefined, key: undefined, passphraseEnv: undefined }),
      timeoutMs: 3000,
    });
    expect((await noCert.ping()).ok).toBe(false);
    const badPass = new DockerClient(
      'remote',
      { host: '127.0.0.1', port, tls: tls(), timeoutMs: 3000 },
      { env: { OPSBOT_TEST_KEY_PASS: 'wrong' } },
    );
    const r = await badPass.ping();
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/ping: /);
  });

  it('accepts an unknown server certificate only with rejectUnauthorized false', async () => {
    const strict = new DockerClient(
      'remote',
      { host: '127.0.0.1', port, tls: tls({ ca: undefined }), timeoutMs: 3000 },
      { env },
    );
    expect((await strict.ping()).ok).toBe(false);
    const lax = new DockerClient(
      'remote',
      { host: '127.0.0.1', port, tls: tls({ ca: undefined, rejectUnauthorized: false }), timeoutMs: 3000 },
      { env },
    );
    expect((await lax.ping()).ok).toBe(true);
  });
});
