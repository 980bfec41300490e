/**
 * The orderer's operations endpoint (Fabric 1.4+): `/metrics` (Prometheus text, when Metrics.Provider is
 * prometheus) and `/healthz` (fabric-lib-go healthz: 200 `{"status":"OK"}`, 503 with `failed_checks`
 * [{component, reason}]).
 *
 * Gauges read (release-1.4): `consensus_kafka_last_offset_persisted{channel}` (orderer/consensus/kafka/
 * metrics.go, set at chain start and on every block; -3 when no offset was ever persisted) and
 * `ledger_blockchain_height{channel}` (common/ledger/blkstorage/fsblkstorage/metrics.go).
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';

import type { TlsConfig } from '../config/schema.js';
import { SourceError } from '../errors/index.js';
import { registerSecret } from '../log.js';

// ---------------------------------------------------------------- Prometheus text format

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, when the line carried one. */
  timestamp?: number;
}

export interface PromParseResult {
  samples: PromSample[];
  /** `# TYPE` lines: metric family -> type. */
  types: Record<string, string>;
  /** Lines that did not parse (1-based line number and text): reported, not fatal. */
  errors: { line: number; text: string; error: string }[];
}

function parseValue(s: string): number {
  switch (s) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return NaN;
    default: {
      if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value "${s}"`);
      return Number(s);
    }
  }
}

/** Parses `{a="x",b="y \" z"}` starting at `pos` (the `{`). */
function parseLabels(line: string, pos: number): { labels: Record<string, string>; next: number } {
  const labels: Record<string, string> = {};
  let i = pos + 1;
  const skipSpace = (): void => {
    while (line[i] === ' ' || line[i] === '\t') i++;
  };
  for (;;) {
    skipSpace();
    if (line[i] === '}') return { labels, next: i + 1 };
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
    if (!m) throw new Error(`bad label name at column ${i + 1}`);
    const name = m[0];
    i += name.length;
    skipSpace();
    if (line[i] !== '=') throw new Error(`expected "=" after label ${name}`);
    i++;
    skipSpace();
    if (line[i] !== '"') throw new Error(`expected a quoted value for label ${name}`);
    i++;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) throw new Error(`unterminated value for label ${name}`);
      if (c === '\\') {
        const n = line[i + 1];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else if (n === undefined) throw new Error(`unterminated value for label ${name}`);
        else value += `\\${n}`;
        i += 2;
        continue;
      }
      if (c === '"') {
        i++;
        break;
      }
      value += c;
      i++;
    }
    labels[name] = value;
    skipSpace();
    if (line[i] === ',') {
      i++;
      continue;
    }
    if (line[i] === '}') return { labels, next: i + 1 };
    throw new Error(`expected "," or "}" after label ${name}`);
  }
}

/** Prometheus text exposition format 0.0.4: samples, `# TYPE` lines; `# HELP` and other comments skipped. */
export function parsePrometheusText(text: string): PromParseResult {
  const samples: PromSample[] = [];
  const types: Record<string, string> = {};
  const errors: PromParseResult['errors'] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, idx) => {
    const line = rawLine.trim();
    if (line === '') return;
    if (line.startsWith('#')) {
      const t = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (t) types[t[1] as string] = t[2] as string;
      return;
    }
    try {
      const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
      if (!m) throw new Error('bad metric name');
      const name = m[0];
      let i = name.length;
      let labels: Record<string, string> = {};
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] === '{') {
        const r = parseLabels(line, i);
        labels = r.labels;
        i = r.next;
      }
      const rest = line.slice(i).trim().split(/\s+/);
      if (rest.length < 1 || rest[0] === '') throw new Error('missing value');
      if (rest.length > 2) throw new Error('unexpected text after the timestamp');
      const sample: PromSample = { name, labels, value: parseValue(rest[0] as string) };
      if (rest[1] !== undefined) {
        if (!/^-?\d+$/.test(rest[1])) throw new Error(`bad timestamp "${rest[1]}"`);
        sample.timestamp = Number(rest[1]);
      }
      samples.push(sample);
    } catch (err) {
      errors.push({ line: idx + 1, text: rawLine, error: (err as Error).message });
    }
  });
  return { samples, types, errors };
}

export const METRIC_LAST_OFFSET_PERSISTED = 'consensus_kafka_last_offset_persisted';
export const METRIC_BLOCKCHAIN_HEIGHT = 'ledger_blockchain_height';

export interface OrdererMetrics {
  /** channel -> gauge value as exposed (-3 = no offset persisted yet: the orderer starts from the oldest). */
  lastOffsetPersisted: Record<string, number>;
  /** channel -> ledger height in blocks. */
  blockchainHeight: Record<string, number>;
  /** How many samples the page had (0 usually means metrics are off: Metrics.Provider is not prometheus). */
  sampleCount: number;
  parseErrors: PromParseResult['errors'];
}

/** Picks the two gauges out of a /metrics page. */
export function extractOrdererMetrics(text: string): OrdererMetrics {
  const parsed = parsePrometheusText(text);
  const out: OrdererMetrics = {
    lastOffsetPersisted: {},
    blockchainHeight: {},
    sampleCount: parsed.samples.length,
    parseErrors: parsed.errors,
  };
  for (const s of parsed.samples) {
    const channel = s.labels.channel;
    if (channel === undefined || !Number.isFinite(s.value)) continue;
    if (s.name === METRIC_LAST_OFFSET_PERSISTED) out.lastOffsetPersisted[channel] = s.value;
    else if (s.name === METRIC_BLOCKCHAIN_HEIGHT) out.blockchainHeight[channel] = s.value;
  }
  return out;
}

// ---------------------------------------------------------------- HTTP

export class OperationsEndpointError extends SourceError {
  constructor(
    readonly url: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('orderers', `${url}: ${message}`, options);
  }
}

export interface FetchOptions {
  timeoutMs: number;
  tls?: TlsConfig;
  /** The client key's passphrase (else the variable `tls.passphraseEnv` names, from this process's env). */
  passphrase?: string;
  signal?: AbortSignal;
  /** Largest body accepted (default 16 MiB). */
  maxBytes?: number;
}

export interface HttpResult {
  url: string;
  status: number;
  body: string;
  ms: number;
}

/** An Agent per request: the PEM files are read each time, so rotated certificates are picked up. */
async function tlsAgent(tls: TlsConfig, url: string, given?: string): Promise<https.Agent> {
  const read = async (what: string, path: string | undefined): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      throw new OperationsEndpointError(url, `cannot read TLS ${what} ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  };
  const [ca, cert, keyPem] = await Promise.all([
    read('ca', tls.ca),
    read('cert', tls.cert),
    read('key', tls.key),
  ]);
  const passphrase = given ?? (tls.passphraseEnv !== undefined ? process.env[tls.passphraseEnv] : undefined);
  registerSecret(passphrase);
  const agent = new https.Agent({
    keepAlive: false,
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(keyPem ? { key: keyPem } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
  });
  return agent;
}

/** GET a URL with a timeout; any status is returned (the caller decides), transport errors throw with the URL. */
export async function httpGet(url: string, opts: FetchOptions): Promise<HttpResult> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OperationsEndpointError(url, 'not a valid URL');
  }
  const isHttps = u.protocol === 'https:';
  if (!isHttps && u.protocol !== 'http:')
    throw new OperationsEndpointError(url, `unsupported protocol ${u.protocol}`);
  const useTls = isHttps && opts.tls !== undefined && opts.tls.enabled;
  if (!isHttps && opts.tls?.enabled && (opts.tls.ca || opts.tls.cert)) {
    throw new OperationsEndpointError(url, 'TLS is configured for this endpoint but the URL is http://');
  }
  const agent = useTls ? await tlsAgent(opts.tls as TlsConfig, url, opts.passphrase) : undefined;
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  const started = Date.now();
  return await new Promise<HttpResult>((resolve, reject) => {
    const mod = isHttps ? https : http;
    const req = mod.get(
      u,
      { ...(agent ? { agent } : {}), signal, headers: { accept: 'text/plain, application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        let total = 0;
        res.on('data', (c: Buffer) => {
          total += c.length;
          if (total > maxBytes) {
            req.destroy(new Error(`response larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            url,
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: Date.now() - started,
          }),
        );
        res.on('error', (err) => reject(wrap(err)));
      },
    );
    const wrap = (err: Error): OperationsEndpointError => {
      if (timeout.aborted)
        return new OperationsEndpointError(url, `no answer within ${opts.timeoutMs} ms`, { cause: err });
      if (opts.signal?.aborted) return new OperationsEndpointError(url, 'aborted', { cause: err });
      const code = (err as NodeJS.ErrnoException).code;
      return new OperationsEndpointError(url, code ? `${code}: ${err.message}` : err.message, { cause: err });
    };
    req.on('error', (err) => reject(wrap(err)));
  });
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

/** GET <base>/metrics and extract the orderer gauges. Throws OperationsEndpointError on anything but 200. */
export async function fetchOrdererMetrics(
  baseUrl: string,
  opts: FetchOptions,
): Promise<OrdererMetrics & { ms: number }> {
  const url = joinUrl(baseUrl, '/metrics');
  const res = await httpGet(url, opts);
  if (res.status !== 200) {
    throw new OperationsEndpointError(
      url,
      `HTTP ${res.status}${res.body ? `: ${res.body.slice(0, 200).trim()}` : ''}`,
    );
  }
  return { ...extractOrdererMetrics(res.body), ms: res.ms };
}

export interface HealthzResult {
  url: string;
  status: number;
  healthy: boolean;
  failedChecks: { component: string; reason: string }[];
  ms: number;
}

/**
 * GET <base>/healthz. 200 = healthy; 503 = failed checks (the Kafka chain fails only when it cannot post a
 * CONNECT because of NotEnoughReplicas). Other statuses and bodies that are not JSON throw.
 */
export async function fetchOrdererHealth(baseUrl: string, opts: FetchOptions): Promise<HealthzResult> {
  const url = joinUrl(baseUrl, '/healthz');
  const res = await httpGet(url, opts);
  if (res.status !== 200 && res.status !== 503) {
    throw new OperationsEndpointError(
      url,
      `HTTP ${res.status}${res.body ? `: ${res.body.slice(0, 200).trim()}` : ''}`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    throw new OperationsEndpointError(url, `HTTP ${res.status} with a body that is not JSON`);
  }
  const failed = (body as { failed_checks?: unknown }).failed_checks;
  const failedChecks = Array.isArray(failed)
    ? failed.map((f: unknown) => {
        const o = (f ?? {}) as Record<string, unknown>;
        return { component: String(o.component ?? ''), reason: String(o.reason ?? '') };
      })
    : [];
  return {
    url,
    status: res.status,
    healthy: res.status === 200 && failedChecks.length === 0,
    failedChecks,
    ms: res.ms,
  };
}
