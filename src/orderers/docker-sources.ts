/**
 * Orderers that run in containers (issue 4: "a path inside the orderer's container read through the Docker
 * API"; issue 6: their logs): the ledger (`ledgerDir`, a path inside the container) through
 * src/docker/files.ts, and the log through the Docker logs API (demultiplexed, with the engine's timestamps).
 *
 * `ordererDockerSources(cluster)` gives gatherOrderers the `fileSource` and `logSource` for a whole cluster:
 * orderers with `container` are read through their Docker endpoint (the ref's `endpoint`, else the first of
 * `docker.endpoints`; a `label` ref is resolved once), the others from this host as before (ledgerDir on this
 * host, the tail of `logFile`). An orderer in a container that also has `logFile` keeps reading that file.
 */
import type { ClusterConfig, ContainerRef, OrdererConfig } from '../config/index.js';
import { NotFoundError } from '../errors/index.js';
import { hostFileSource, type FileEntry, type FileSource } from '../fabric/blockfile.js';
import { createDockerClients, toMs, type DockerClient, type DockerClientOptions } from '../docker/client.js';
import { dockerFileSource, type DockerFileSourceOptions } from '../docker/files.js';
import { resolveContainer } from '../docker/gather.js';
import { readHostLogTail, type LogSource } from './gather.js';

export interface DockerLogSourceOptions {
  /**
   * At most this many lines, newest kept (default 20000, about what the host source's 8 MiB tail holds). The
   * engine counts stdout and stderr together.
   */
  tail?: number;
  /** Only lines at or after this time. Default: all lines (offset lines are needed however old they are). */
  since?: Date | string | number;
  /**
   * Also honour the `since` gatherOrderers passes per call (default false: gatherOrderers filters failure
   * signatures by time itself, and the "Starting chain" offset line is printed once, at start).
   */
  useCallSince?: boolean;
  /** Deadline of the logs call (default the client's timeout). */
  timeoutMs?: number;
}

/** "ISO-time text" lines, as the orderer log parser reads Docker's `--timestamps` output. */
async function containerLogLines(
  client: DockerClient,
  container: string,
  opts: DockerLogSourceOptions,
  callSince: Date | undefined,
  signal: AbortSignal,
): Promise<string[]> {
  const sinceOpt = opts.since !== undefined ? toMs(opts.since) : undefined;
  const callMs = opts.useCallSince && callSince !== undefined ? callSince.getTime() : undefined;
  const since =
    sinceOpt !== undefined && callMs !== undefined ? Math.max(sinceOpt, callMs) : (sinceOpt ?? callMs);
  const read = client.logs(container, {
    tail: opts.tail ?? 20_000,
    ...(since !== undefined ? { since } : {}),
  });
  read.catch(() => undefined);
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason ?? new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const lines = await Promise.race([read, aborted]);
    return lines.map((l) => (l.at !== undefined ? `${l.at} ${l.text}` : l.text));
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/**
 * An orderer's log lines from the Docker logs API of `container` (name or id), oldest first, each prefixed with
 * the engine's timestamp. The LogSource ignores which orderer it is asked about: build one per container (or
 * use ordererDockerSources).
 */
export function dockerLogSource(
  client: DockerClient,
  container: string,
  opts: DockerLogSourceOptions = {},
): LogSource {
  return async (_orderer, { since, signal }) => containerLogLines(client, container, opts, since, signal);
}

export interface OrdererDockerSourcesOptions {
  /** Clients by endpoint name (default: built from `docker.endpoints`). */
  clients?: Map<string, DockerClient>;
  clientOptions?: DockerClientOptions;
  files?: DockerFileSourceOptions;
  logs?: DockerLogSourceOptions;
}

export interface OrdererDockerSources {
  fileSource: (orderer: OrdererConfig) => FileSource | undefined;
  logSource: LogSource;
  /** Orderers whose log is read through Docker (they have `container` and no `logFile`). */
  logsViaDocker: ReadonlySet<string>;
  /** Orderers whose ledger is read through Docker (they have `container` and `ledgerDir`). */
  ledgersViaDocker: ReadonlySet<string>;
}

function refText(ref: ContainerRef): string {
  return ref.name ?? `label ${ref.label}`;
}

/** The client and container (name or id) of an orderer's `container` ref; resolved once per ref. */
function containerResolver(
  cluster: Pick<ClusterConfig, 'docker'>,
  opts: OrdererDockerSourcesOptions,
): (ref: ContainerRef) => Promise<{ client: DockerClient; container: string }> {
  let clients: Map<string, DockerClient> | undefined = opts.clients;
  const first = Object.keys(cluster.docker?.endpoints ?? {})[0];
  const cache = new Map<string, Promise<{ client: DockerClient; container: string }>>();
  return (ref) => {
    const key = `${ref.endpoint ?? ''}\u0000${ref.name ?? ''}\u0000${ref.label ?? ''}`;
    let p = cache.get(key);
    if (!p) {
      p = (async () => {
        clients ??= createDockerClients(cluster, opts.clientOptions ?? {});
        const endpoint = ref.endpoint ?? first ?? [...clients.keys()][0];
        const client = endpoint !== undefined ? clients.get(endpoint) : undefined;
        if (!client) {
          throw new NotFoundError(
            `container ${refText(ref)}: no docker endpoint named "${endpoint ?? ''}" (have: ${
              [...clients.keys()].join(', ') || 'none'
            })`,
          );
        }
        if (ref.name !== undefined) return { client, container: ref.name };
        const r = await resolveContainer(client, ref);
        if ('error' in r) throw new NotFoundError(r.error);
        return { client, container: r.id };
      })();
      // A failed lookup (engine down) is tried again next time.
      p.catch(() => cache.delete(key));
      cache.set(key, p);
    }
    return p;
  };
}

/** A FileSource that finds its container on first use. */
function lazyContainerFiles(
  ref: ContainerRef,
  resolve: (ref: ContainerRef) => Promise<{ client: DockerClient; container: string }>,
  opts: DockerFileSourceOptions,
  endpointName: string,
): FileSource {
  let source: Promise<FileSource> | undefined;
  const get = () => {
    source ??= resolve(ref).then(({ client, container }) => dockerFileSource(client, container, opts));
    source.catch(() => (source = undefined));
    return source;
  };
  return {
    description: `container ${refText(ref)} on Docker endpoint "${endpointName}"`,
    async list(dir: string): Promise<FileEntry[]> {
      return (await get()).list(dir);
    },
    async *read(path, o) {
      yield* (await get()).read(path, o);
    },
  };
}

/**
 * The sources gatherOrderers needs for a cluster whose orderers (some or all) run in containers. Orderers
 * without `container` are read from this host as gatherOrderers would by default.
 */
export function ordererDockerSources(
  cluster: Pick<ClusterConfig, 'docker' | 'orderers'>,
  opts: OrdererDockerSourcesOptions = {},
): OrdererDockerSources {
  const resolve = containerResolver(cluster, opts);
  const first = Object.keys(cluster.docker?.endpoints ?? {})[0] ?? '';
  const files = new Map<string, FileSource>();
  const host = hostFileSource();
  const logsViaDocker = new Set(
    cluster.orderers.filter((o) => o.container && o.logFile === undefined).map((o) => o.name),
  );
  const ledgersViaDocker = new Set(
    cluster.orderers.filter((o) => o.container && o.ledgerDir !== undefined).map((o) => o.name),
  );
  return {
    logsViaDocker,
    ledgersViaDocker,
    fileSource: (orderer) => {
      if (!orderer.container) return host;
      let f = files.get(orderer.name);
      if (!f) {
        f = lazyContainerFiles(
          orderer.container,
          resolve,
          opts.files ?? {},
          orderer.container.endpoint ?? first,
        );
        files.set(orderer.name, f);
      }
      return f;
    },
    logSource: async (orderer, o) => {
      if (orderer.logFile !== undefined) return readHostLogTail(orderer.logFile);
      if (!orderer.container) return [];
      const { client, container } = await resolve(orderer.container);
      return containerLogLines(client, container, opts.logs ?? {}, o.since, o.signal);
    },
  };
}
