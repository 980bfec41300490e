/**
 * One Docker Engine API client per inventory endpoint (`docker.endpoints`), on a unix socket or TCP (TLS from
 * PEM files). Every call has a deadline: a Docker daemon that accepts and never answers must not hang a check,
 * so each call is raced against a timer, its HTTP request is aborted, and the error names the endpoint and the
 * call (`Docker endpoint "lab" (unix:///run/docker.sock): inspect kafka1 did not answer within 5000 ms`).
 */
import { describeTlsError, isTlsError } from '../tls-errors.js';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import type { ContainerInspectInfo, ContainerInfo } from 'dockerode';
import type { ClusterConfig, DockerEndpointConfig } from '../config/schema.js';
import { ConfigError, NotFoundError, SourceError } from '../errors/index.js';
import { demuxDockerStream, parseLogLines, type LogLine } from './stream.js';

export type { LogLine } from './stream.js';

const DEFAULT_TIMEOUT_MS = 5000;

/** The HTTP status of a Docker API error (404 no such container, 304 already started/stopped...). */
export function dockerStatus(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** One line for a Docker API or connection error: the engine's own message when it sent one. */
export function describeDockerError(err: unknown, address?: string): string {
  if (err instanceof SourceError) return err.message;
  const e = err as {
    code?: string;
    statusCode?: number;
    json?: { message?: string; cause?: string } | string | null;
    reason?: string;
    message?: string;
  } | null;
  if (e && typeof e.statusCode === 'number') {
    const msg =
      (typeof e.json === 'object' && e.json !== null ? (e.json.message ?? e.json.cause) : undefined) ??
      (typeof e.json === 'string' && e.json.trim() !== '' ? e.json.trim() : undefined) ??
      e.reason ??
      'error';
    return `HTTP ${e.statusCode}: ${String(msg).split('\n')[0]}`;
  }
  const where = address ? ` (${address})` : '';
  switch (e?.code) {
    case 'ENOENT':
      return `no Docker socket${where}: the file does not exist`;
    case 'ECONNREFUSED':
      return `connection refused${where}: no Docker daemon listens there`;
    case 'EACCES':
      return `permission denied${where}: this user may not use the Docker socket`;
    case 'ECONNRESET':
      return `connection reset${where}`;
    case 'ENOTFOUND':
      return `host not found${where}`;
    case 'ETIMEDOUT':
      return `connection timed out${where}`;
    default:
      break;
  }
  const m = e?.message ?? String(err);
  return m.split('\n')[0] ?? m;
}

/** A Docker endpoint's address for messages: unix:///path or http(s)://host:port. */
export function endpointAddress(cfg: DockerEndpointConfig): string {
  if (cfg.socketPath !== undefined) return `unix://${cfg.socketPath}`;
  const protocol = cfg.protocol ?? (cfg.tls?.enabled ? 'https' : 'http');
  return `${protocol}://${cfg.host}:${cfg.port ?? (protocol === 'https' ? 2376 : 2375)}`;
}

export interface DockerClientOptions {
  /** Environment to read a TLS key passphrase from (`tls.passphraseEnv`); process.env by default. */
  env?: Record<string, string | undefined>;
  /** Overrides the endpoint's `timeoutMs`. */
  timeoutMs?: number;
}

/** The result of running a command inside a container. */
export interface ExecResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface LogsQuery {
  /** Only lines at or after this time (the engine filters by whole seconds; we filter again, inclusive). */
  since?: Date | string | number;
  /** At most this many lines (the engine counts stdout and stderr together). */
  tail?: number;
}

/**
 * A dockerode client bound to one endpoint, with a deadline on every call. Methods throw SourceError
 * (source "docker", retryable) on timeouts and connection errors, NotFoundError for an unknown container.
 */
export class DockerClient {
  readonly docker: Docker;
  readonly address: string;
  readonly timeoutMs: number;

  constructor(
    readonly name: string,
    readonly config: DockerEndpointConfig,
    opts: DockerClientOptions = {},
  ) {
    this.address = endpointAddress(config);
    this.timeoutMs = opts.timeoutMs ?? config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.docker = new Docker(modemOptions(name, config, opts.env ?? process.env));
  }

  /** dockerode calls whose typings lack the options argument (ping, version) that the library accepts. */
  private get untyped(): {
    ping(o: { abortSignal: AbortSignal }): Promise<unknown>;
    version(o: { abortSignal: AbortSignal }): Promise<{ Version: string; ApiVersion: string }>;
  } {
    return this.docker as never;
  }

  /** "Docker endpoint "name" (address)": the prefix of every message about this endpoint. */
  get label(): string {
    return `Docker endpoint "${this.name}" (${this.address})`;
  }

  /**
   * Run one API call with a deadline. `fn` gets an AbortSignal to pass to dockerode (`abortSignal`), so the
   * HTTP request is torn down on timeout; the race makes sure we return even if it is not.
   */
  async call<T>(
    what: string,
    fn: (signal: AbortSignal) => Promise<T>,
    timeoutMs = this.timeoutMs,
  ): Promise<T> {
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(new SourceError('docker', `${this.label}: ${what} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([fn(ac.signal), deadline]);
    } catch (err) {
      if (err instanceof SourceError) throw err;
      if (dockerStatus(err) === 404) {
        throw new NotFoundError(`${this.label}: ${what}: ${describeDockerError(err)}`, { cause: err });
      }
      if (dockerStatus(err) !== undefined) {
        // The engine answered with an error: not a connectivity problem, but still an outside-system failure.
        const e = new SourceError('docker', `${this.label}: ${what}: ${describeDockerError(err)}`, {
          cause: err,
        });
        (e as SourceError & { statusCode?: number }).statusCode = dockerStatus(err);
        throw e;
      }
      const tlsFailure =
        this.config.tls?.enabled === true &&
        err instanceof Error &&
        (isTlsError(err) || (err as NodeJS.ErrnoException).code === 'ECONNRESET');
      const why = tlsFailure
        ? describeTlsError(err as NodeJS.ErrnoException, {
            peer: 'Docker engine',
            key: `docker.endpoints.${this.name}.tls`,
            // With TLS 1.3 an engine that refuses the client certificate also just resets the connection.
            plaintextHint: `a plain-HTTP Docker port (2375), or an engine that refuses this client's certificate: check docker.endpoints.${this.name}.tls`,
          })
        : describeDockerError(err);
      throw new SourceError('docker', `${this.label}: ${what}: ${why}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** GET /_ping. Never throws: ok false with the reason. */
  async ping(timeoutMs = this.timeoutMs): Promise<{ ok: boolean; ms: number; error?: string }> {
    const t0 = performance.now();
    try {
      await this.call('ping', (abortSignal) => this.untyped.ping({ abortSignal }), timeoutMs);
      return { ok: true, ms: elapsed(t0) };
    } catch (err) {
      const msg = describeDockerError(err);
      const prefix = `${this.label}: `;
      return { ok: false, ms: elapsed(t0), error: msg.startsWith(prefix) ? msg.slice(prefix.length) : msg };
    }
  }

  async version(): Promise<{ Version: string; ApiVersion: string }> {
    return this.call('version', (abortSignal) => this.untyped.version({ abortSignal }));
  }

  /** Containers (running or not) carrying a label "key=value" (or just "key"). */
  async listByLabel(label: string): Promise<ContainerInfo[]> {
    return this.call(`list containers with label ${label}`, (abortSignal) =>
      this.docker.listContainers({ all: true, filters: { label: [label] }, abortSignal }),
    );
  }

  async list(filters: Record<string, string[]> = {}): Promise<ContainerInfo[]> {
    return this.call('list containers', (abortSignal) =>
      this.docker.listContainers({ all: true, filters, abortSignal }),
    );
  }

  /** Inspect a container by name or id; NotFoundError when there is none. */
  async inspect(nameOrId: string): Promise<ContainerInspectInfo> {
    return this.call(`inspect ${nameOrId}`, (abortSignal) =>
      this.docker.getContainer(nameOrId).inspect({ abortSignal }),
    );
  }

  /**
   * Recent log lines of a container, demultiplexed (non-TTY) or raw (TTY), with their timestamps, oldest first.
   * `tty` avoids an inspect when the caller already knows it.
   */
  async logs(nameOrId: string, q: LogsQuery = {}, tty?: boolean): Promise<LogLine[]> {
    const sinceMs = q.since === undefined ? undefined : toMs(q.since);
    const isTty = tty ?? (await this.inspect(nameOrId)).Config.Tty;
    const buf = await this.call(`logs of ${nameOrId}`, async (abortSignal) => {
      const out = (await this.docker.getContainer(nameOrId).logs({
        stdout: true,
        stderr: true,
        timestamps: true,
        follow: false,
        ...(sinceMs !== undefined ? { since: Math.floor(sinceMs / 1000) } : {}),
        ...(q.tail !== undefined ? { tail: q.tail } : {}),
        abortSignal,
      })) as unknown;
      return Buffer.isBuffer(out) ? out : Buffer.from(String(out));
    });
    const chunks = isTty ? [{ stream: 'stdout' as const, data: buf }] : demuxDockerStream(buf);
    const lines = parseLogLines(chunks);
    return sinceMs === undefined
      ? lines
      : lines.filter((l) => l.atMs === undefined || l.atMs >= floorSecond(sinceMs));
  }

  /**
   * Run a command in a running container and collect its output. Throws SourceError when the exec cannot be
   * created or started (no such binary is reported by the engine or as exit code 126/127) or on timeout.
   */
  async exec(nameOrId: string, cmd: string[], timeoutMs = this.timeoutMs): Promise<ExecResult> {
    const t0 = performance.now();
    const what = `exec ${JSON.stringify(cmd[0] ?? '')} in ${nameOrId}`;
    let stream: Duplex | undefined;
    try {
      return await this.call(
        what,
        async (abortSignal) => {
          const exec = await this.docker.getContainer(nameOrId).exec({
            Cmd: cmd,
            AttachStdout: true,
            AttachStderr: true,
            Tty: false,
            abortSignal,
          });
          stream = (await exec.start({ hijack: true, stdin: false, abortSignal })) as Duplex;
          const buf = await collect(stream);
          const info = await exec.inspect({ abortSignal });
          const chunks = demuxDockerStream(buf);
          const text = (s: 'stdout' | 'stderr') =>
            Buffer.concat(chunks.filter((c) => c.stream === s).map((c) => c.data)).toString('utf8');
          return {
            exitCode: typeof info.ExitCode === 'number' ? info.ExitCode : null,
            stdout: text('stdout'),
            stderr: text('stderr'),
            ms: elapsed(t0),
          };
        },
        timeoutMs,
      );
    } finally {
      stream?.destroy();
    }
  }
}

function collect(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (b: Buffer) => parts.push(b));
    stream.once('end', () => resolve(Buffer.concat(parts)));
    stream.once('close', () => resolve(Buffer.concat(parts)));
    stream.once('error', reject);
  });
}

function modemOptions(
  name: string,
  cfg: DockerEndpointConfig,
  env: Record<string, string | undefined>,
): Docker.DockerOptions {
  // docker-modem starts from DOCKER_HOST / DOCKER_CERT_PATH / DOCKER_CLIENT_TIMEOUT in the environment and
  // overlays our options: set every key explicitly so that the inventory, not the environment, decides.
  const base: Record<string, unknown> = {
    socketPath: undefined,
    host: undefined,
    port: undefined,
    protocol: undefined,
    ca: undefined,
    cert: undefined,
    key: undefined,
    timeout: undefined,
    pathPrefix: undefined,
  };
  if (cfg.socketPath !== undefined) return { ...base, socketPath: cfg.socketPath } as Docker.DockerOptions;
  const tls = cfg.tls?.enabled ? cfg.tls : undefined;
  const protocol = cfg.protocol ?? (tls ? 'https' : 'http');
  const opts: Record<string, unknown> = {
    ...base,
    host: cfg.host,
    port: cfg.port ?? (protocol === 'https' ? 2376 : 2375),
    protocol,
  };
  if (tls) {
    const read = (what: string, path: string | undefined): Buffer | undefined => {
      if (path === undefined) return undefined;
      try {
        return readFileSync(path);
      } catch (err) {
        throw new ConfigError(
          `docker.endpoints.${name}.tls.${what}: cannot read ${path}: ${describeDockerError(err)}`,
        );
      }
    };
    opts.ca = read('ca', tls.ca);
    opts.cert = read('cert', tls.cert);
    opts.key = read('key', tls.key);
    if (tls.passphraseEnv !== undefined) opts.passphrase = env[tls.passphraseEnv];
    // docker-modem forwards only ca/cert/key to https.request: an agent carries the rest (passphrase,
    // rejectUnauthorized, servername).
    opts.agent = new HttpsAgent({
      ...(opts.ca !== undefined ? { ca: opts.ca as Buffer } : {}),
      ...(opts.cert !== undefined ? { cert: opts.cert as Buffer } : {}),
      ...(opts.key !== undefined ? { key: opts.key as Buffer } : {}),
      ...(opts.passphrase !== undefined ? { passphrase: opts.passphrase as string } : {}),
      rejectUnauthorized: tls.rejectUnauthorized,
      ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
    });
  }
  return opts as Docker.DockerOptions;
}

/**
 * Clients for every endpoint of a cluster's `docker.endpoints`, by name (insertion order kept: the first one is
 * the default for container references without `endpoint`). Throws ConfigError for unreadable TLS files.
 */
export function createDockerClients(
  cluster: Pick<ClusterConfig, 'docker'>,
  opts: DockerClientOptions = {},
): Map<string, DockerClient> {
  const out = new Map<string, DockerClient>();
  for (const [name, cfg] of Object.entries(cluster.docker?.endpoints ?? {})) {
    out.set(name, new DockerClient(name, cfg, opts));
  }
  return out;
}

/** A client for one socket path (tests, scripts). */
export function socketClient(
  socketPath: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  name = 'local',
): DockerClient {
  return new DockerClient(name, { socketPath, timeoutMs });
}

export function toMs(t: Date | string | number): number {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'number') return t;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new TypeError(`not a time: ${t}`);
  return ms;
}

function floorSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

function elapsed(t0: number): number {
  return Math.round((performance.now() - t0) * 10) / 10;
}
