import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TlsConfig } from '../../src/config/index.js';
import { SourceError } from '../../src/errors/index.js';
import {
  extractOrdererMetrics,
  fetchOrdererHealth,
  fetchOrdererMetrics,
  httpGet,
  OperationsEndpointError,
  parsePrometheusText,
} from '../../src/orderers/metrics.js';

const PAGE = readFileSync(new URL('../fixtures/orderers/metrics-fabric14.txt', import.meta.url), 'utf8');

describe('parsePrometheusText', () => {
  it('reads labels with escaped quotes, backslashes and newlines', () => {
    const r = parsePrometheusText('m{a="x \\"q\\" \\\\ y\\nz",b="2"} 1\n');
    expect(r.errors).toEqual([]);
    expect(r.samples).toEqual([{ name: 'm', labels: { a: 'x "q" \\ y\nz', b: '2' }, value: 1 }]);
  });

  it('skips comments, keeps TYPE, reads untyped lines, timestamps, NaN/Inf, exponents, spaces', () => {
    const r = parsePrometheusText(
      [
        '# HELP g some help with "quotes"',
        '# TYPE g gauge',
        'g{channel="c"} 20',
        'untyped_metric 3.5 1700000000000',
        'x_nan NaN',
        'x_inf +Inf',
        'x_exp 1.234567e+06',
        'spaced { a = "1" , b="2" , } -4',
        '',
        '   ',
      ].join('\n'),
    );
    expect(r.errors).toEqual([]);
    expect(r.types).toEqual({ g: 'gauge' });
    expect(r.samples.map((s) => [s.name, s.value])).toEqual([
      ['g', 20],
      ['untyped_metric', 3.5],
      ['x_nan', NaN],
      ['x_inf', Infinity],
      ['x_exp', 1234567],
      ['spaced', -4],
    ]);
    expect(r.samples[1]?.timestamp).toBe(1700000000000);
    expect(r.samples[5]?.labels).toEqual({ a: '1', b: '2' });
  });

  it('reports bad lines with their number and keeps going', () => {
    const r = parsePrometheusText('ok 1\nbad{a="x} 1\nnovalue\nbad_value abc\n9bad 1\nfine 2');
    expect(r.samples.map((s) => s.name)).toEqual(['ok', 'fine']);
    expect(r.errors.map((e) => e.line)).toEqual([2, 3, 4, 5]);
    expect(r.errors[0]?.error).toMatch(/unterminated/);
  });
});

describe('extractOrdererMetrics', () => {
  it('picks the two gauges by channel from a Fabric 1.4 page', () => {
    const m = extractOrdererMetrics(PAGE);
    expect(m.lastOffsetPersisted).toEqual({ pubchain: 20, testchainid: -3, bigchain: 1234567 });
    expect(m.blockchainHeight).toEqual({ pubchain: 10, testchainid: 1, bigchain: 61234 });
    expect(m.sampleCount).toBeGreaterThan(10);
    expect(m.parseErrors).toEqual([]);
  });

  it('an empty page (metrics provider disabled) has no samples', () => {
    expect(extractOrdererMetrics('')).toMatchObject({ sampleCount: 0, lastOffsetPersisted: {} });
  });
});

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function listen(server: http.Server | https.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `${server instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${port}`;
}

const routes: Record<string, Handler> = {
  '/metrics': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(PAGE);
  },
  '/healthz': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"OK","time":"2019-03-01T10:00:00Z"}');
  },
  '/sick/healthz': (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        status: 'Service Unavailable',
        time: '2019-03-01T10:00:00Z',
        failed_checks: [
          {
            component: 'pubchain',
            reason:
              'kafka server: Messages are rejected since there are fewer in-sync replicas than required. [replica ids: [1 2 3]]',
          },
        ],
      }),
    );
  },
  '/off/metrics': (_req, res) => {
    res.writeHead(404);
    res.end('404 page not found\n');
  },
  '/slow/metrics': () => {
    /* never answers */
  },
  '/html/healthz': (_req, res) => {
    res.writeHead(200);
    res.end('<html>');
  },
};

const route: Handler = (req, res) => {
  const h = routes[req.url ?? ''];
  if (h) h(req, res);
  else {
    res.writeHead(404);
    res.end();
  }
};

describe('the operations endpoint over HTTP', () => {
  const server = http.createServer(route);
  let base = '';
  beforeAll(async () => {
    base = await listen(server);
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('GET /metrics: the gauges, with the time taken', async () => {
    const m = await fetchOrdererMetrics(`${base}/`, { timeoutMs: 2000 });
    expect(m.lastOffsetPersisted.pubchain).toBe(20);
    expect(m.blockchainHeight.pubchain).toBe(10);
    expect(m.ms).toBeGreaterThanOrEqual(0);
  });

  it('GET /healthz: 200 is healthy, 503 lists the failed checks', async () => {
    expect(await fetchOrdererHealth(base, { timeoutMs: 2000 })).toMatchObject({
      status: 200,
      healthy: true,
      failedChecks: [],
    });
    const sick = await fetchOrdererHealth(`${base}/sick`, { timeoutMs: 2000 });
    expect(sick).toMatchObject({ status: 503, healthy: false, url: `${base}/sick/healthz` });
    expect(sick.failedChecks).toEqual([
      {
        component: 'pubchain',
        reason: expect.stringContaining('fewer in-sync replicas') as unknown as string,
      },
    ]);
  });

  it('errors carry the URL: HTTP status, timeout, refused connection, bad JSON, bad URL', async () => {
    const off = fetchOrdererMetrics(`${base}/off`, { timeoutMs: 2000 });
    await expect(off).rejects.toThrow(`${base}/off/metrics: HTTP 404: 404 page not found`);
    await expect(off).rejects.toBeInstanceOf(OperationsEndpointError);
    await expect(off).rejects.toBeInstanceOf(SourceError);

    const started = Date.now();
    await expect(fetchOrdererMetrics(`${base}/slow`, { timeoutMs: 300 })).rejects.toThrow(
      `${base}/slow/metrics: no answer within 300 ms`,
    );
    expect(Date.now() - started).toBeLessThan(2000);

    const closed = http.createServer();
    const closedBase = await listen(closed);
    await new Promise((r) => closed.close(r));
    await expect(fetchOrdererMetrics(closedBase, { timeoutMs: 2000 })).rejects.toThrow(
      new RegExp(`^${closedBase}/metrics: ECONNREFUSED`),
    );

    await expect(fetchOrdererHealth(`${base}/html`, { timeoutMs: 2000 })).rejects.toThrow(
      `${base}/html/healthz: HTTP 200 with a body that is not JSON`,
    );
    await expect(httpGet('not a url', { timeoutMs: 100 })).rejects.toThrow('not a url: not a valid URL');
  });

  it('an outer AbortSignal stops the request', async () => {
    const ctl = new AbortController();
    const p = fetchOrdererMetrics(`${base}/slow`, { timeoutMs: 5000, signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    await expect(p).rejects.toThrow(`${base}/slow/metrics: aborted`);
  });
});

function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!haveOpenssl())('the operations endpoint over TLS (node:https with an Agent)', () => {
  let dir = '';
  let base = '';
  let mtlsBase = '';
  const servers: https.Server[] = [];
  const file = (n: string) => join(dir, n);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'opsbot-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=test-ca',
    );
    for (const who of ['server', 'client']) {
      ssl(
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        `${who}.key`,
        '-out',
        `${who}.csr`,
        '-subj',
        `/CN=${who}`,
      );
      const ext = join(dir, `${who}.ext`);
      execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:orderer.example.com\\n' > ${ext}`]);
      ssl(
        'x509',
        '-req',
        '-in',
        `${who}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${who}.pem`,
        '-days',
        '2',
        '-extfile',
        ext,
      );
    }
    const opts = { key: readFileSync(file('server.key')), cert: readFileSync(file('server.pem')) };
    const plain = https.createServer(opts, route);
    const mtls = https.createServer(
      { ...opts, ca: readFileSync(file('ca.pem')), requestCert: true, rejectUnauthorized: true },
      route,
    );
    servers.push(plain, mtls);
    base = await listen(plain);
    mtlsBase = await listen(mtls);
  });
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await rm(dir, { recursive: true, force: true });
  });

  const tls = (t: Partial<TlsConfig>): TlsConfig => ({ enabled: true, rejectUnauthorized: true, ...t });

  it('verifies the server with the configured CA', async () => {
    const m = await fetchOrdererMetrics(base, { timeoutMs: 3000, tls: tls({ ca: file('ca.pem') }) });
    expect(m.lastOffsetPersisted.pubchain).toBe(20);
  });

  it('refuses a server it cannot verify, unless rejectUnauthorized is false', async () => {
    await expect(fetchOrdererMetrics(base, { timeoutMs: 3000, tls: tls({}) })).rejects.toThrow(
      new RegExp(`^${base}/metrics: .*(self.signed|unable to verify|UNABLE_TO_GET_ISSUER)`, 'i'),
    );
    const m = await fetchOrdererMetrics(base, { timeoutMs: 3000, tls: tls({ rejectUnauthorized: false }) });
    expect(m.blockchainHeight.pubchain).toBe(10);
  });

  it('presents a client certificate for mutual TLS', async () => {
    const withCert = tls({ ca: file('ca.pem'), cert: file('client.pem'), key: file('client.key') });
    expect((await fetchOrdererHealth(mtlsBase, { timeoutMs: 3000, tls: withCert })).healthy).toBe(true);
    await expect(
      fetchOrdererHealth(mtlsBase, { timeoutMs: 3000, tls: tls({ ca: file('ca.pem') }) }),
    ).rejects.toThrow(`${mtlsBase}/healthz`);
  });

  it('checks the name it is told to (servername)', async () => {
    const ok = tls({ ca: file('ca.pem'), servername: 'orderer.example.com' });
    expect((await fetchOrdererHealth(base, { timeoutMs: 3000, tls: ok })).healthy).toBe(true);
    const wrong = tls({ ca: file('ca.pem'), servername: 'other.example.com' });
    await expect(fetchOrdererHealth(base, { timeoutMs: 3000, tls: wrong })).rejects.toThrow(
      /other\.example\.com/,
    );
  });

  it('names a TLS file it cannot read', async () => {
    await expect(
      fetchOrdererMetrics(base, { timeoutMs: 3000, tls: tls({ ca: file('missing.pem') }) }),
    ).rejects.toThrow(`${base}/metrics: cannot read TLS ca ${file('missing.pem')}`);
  });
});
