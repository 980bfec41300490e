/**
 * Where each orderer stands on each of its channels: the offset it persisted in its newest block (it consumes
 * from that + 1 on start), from every source that answers - the operations endpoint's gauge, the newest block of
 * its ledger, its log - plus /healthz and the failure signatures in its log.
 */
import { open } from 'node:fs/promises';

import type { ClusterConfig, OrdererConfig } from '../config/index.js';
import { describeError } from '../errors/index.js';
import type {
  LogMatch,
  OffsetSource,
  OrdererChannelPosition,
  OrdererHealth,
  SourceStatus,
} from '../model/index.js';
import { channelLedgerDir, type FileSource, hostFileSource, readLedgerTip } from '../fabric/blockfile.js';
import { NO_OFFSET_PERSISTED } from '../fabric/protos.js';
import { describeTlsError, isTlsError } from '../kafka/connection.js';
import { extractOffsetEvents, matchLogLines, positionsFromLog } from './logs.js';
import {
  fetchOrdererHealth,
  fetchOrdererMetrics,
  OperationsEndpointError,
  type OrdererMetrics,
} from './metrics.js';

/**
 * An operations endpoint's failure in one line: a TLS failure says what to fix (operationsTls.ca, the client
 * certificate the orderer requires, servername...), anything else as it came, with the URL either way.
 */
export function describeOperationsError(err: unknown, orderer: OrdererConfig): string {
  const cause = (err as { cause?: unknown } | null)?.cause as NodeJS.ErrnoException | undefined;
  if (err instanceof OperationsEndpointError && cause instanceof Error && isTlsError(cause)) {
    const hint = orderer.operationsTls
      ? ''
      : ' (no operationsTls in the inventory: the system CAs were used and no client certificate was sent)';
    return `${err.url}: ${describeTlsError(cause, {
      peer: 'orderer operations endpoint',
      key: `orderers[${orderer.name}].operationsTls`,
      plaintextHint: 'does it serve plain http? then use an http:// operationsUrl',
    })}${hint}`;
  }
  return describeError(err);
}

/** The lines of an orderer's log, oldest first (a container's logs, a file's tail...). */
export type LogSource = (
  orderer: OrdererConfig,
  opts: { since?: Date; signal: AbortSignal },
) => Promise<Iterable<string> | AsyncIterable<string>>;

export interface GatherOrderersOptions {
  /** Only these channels (default: every channel each orderer serves). */
  channels?: string[];
  /** Per source and orderer. */
  timeoutMs: number;
  /** Secrets by environment variable name: an operationsTls key passphrase (`passphraseEnv`). */
  secretsByEnv?: Readonly<Record<string, string>>;
  /**
   * The filesystem holding an orderer's ledgerDir. Default: this host's, unless the orderer runs in a container
   * (then its ledger is not read unless a source is given).
   */
  fileSource?: (orderer: OrdererConfig) => FileSource | undefined;
  /** An orderer's log. Default: the tail of `logFile` on this host, when set. */
  logSource?: LogSource;
  /** Only log lines from this time on count as failure signatures (offset lines are read regardless). */
  since?: Date | string;
  signal?: AbortSignal;
}

export interface OrderersGathered {
  positions: OrdererChannelPosition[];
  health: OrdererHealth[];
  logs: LogMatch[];
  status: SourceStatus;
}

const SOURCE_ORDER: readonly OffsetSource[] = ['metrics', 'ledger', 'log'];

/** Reads the last `maxBytes` of a file on this host as lines (the first, partial line dropped). */
export async function readHostLogTail(path: string, maxBytes = 8 * 1024 * 1024): Promise<string[]> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n');
    if (start > 0) lines.shift();
    return lines.filter((l) => l.length > 0);
  } finally {
    await fh.close();
  }
}

const hostLogSource: LogSource = async (orderer) => {
  if (orderer.logFile === undefined) return [];
  return readHostLogTail(orderer.logFile);
};

async function withTimeout<T>(
  what: string,
  ms: number,
  outer: AbortSignal | undefined,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctl = new AbortController();
  const onOuter = (): void => ctl.abort(outer?.reason);
  outer?.addEventListener('abort', onOuter, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run(ctl.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          ctl.abort(new Error('timeout'));
          reject(new Error(`${what}: no answer within ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}

async function collect(lines: Iterable<string> | AsyncIterable<string>): Promise<string[]> {
  if (Symbol.asyncIterator in lines) {
    const out: string[] = [];
    for await (const l of lines as AsyncIterable<string>) out.push(l);
    return out;
  }
  return [...(lines as Iterable<string>)];
}

function offsetOrNull(v: number): number | null {
  return v <= NO_OFFSET_PERSISTED ? null : v;
}

interface PerOrderer {
  positions: OrdererChannelPosition[];
  health: OrdererHealth | null;
  logs: LogMatch[];
  /** Why a source could not be read at all (for the status line). */
  failures: string[];
  notChecked: string[];
}

async function gatherOne(
  orderer: OrdererConfig,
  channels: string[],
  opts: GatherOrderersOptions,
): Promise<PerOrderer> {
  const positions = new Map<string, OrdererChannelPosition>(
    channels.map((channel) => [
      channel,
      {
        orderer: orderer.name,
        channel,
        lastOffsetPersisted: null,
        expectedStartOffset: null,
        source: null,
        bySource: {},
        errors: [],
      },
    ]),
  );
  const out: PerOrderer = { positions: [], health: null, logs: [], failures: [], notChecked: [] };
  const note = (p: OrdererChannelPosition, text: string): void => {
    (p.notes ??= []).push(text);
  };
  const allError = (source: OffsetSource, error: string): void => {
    for (const p of positions.values()) p.errors.push({ source, error });
    out.failures.push(`${orderer.name} ${source}: ${error}`);
  };

  // ---- operations endpoint: /metrics and /healthz
  const metricsTask = async (): Promise<void> => {
    const base = orderer.operationsUrl;
    if (base === undefined) return;
    const fetchOpts = {
      timeoutMs: opts.timeoutMs,
      ...(orderer.operationsTls ? { tls: orderer.operationsTls } : {}),
      ...(orderer.operationsTls?.passphraseEnv && opts.secretsByEnv?.[orderer.operationsTls.passphraseEnv]
        ? { passphrase: opts.secretsByEnv[orderer.operationsTls.passphraseEnv] }
        : {}),
    };
    // /healthz only when asked: on a Kafka orderer each probe posts a CONNECT message to every channel.
    const [metrics, health] = await Promise.allSettled([
      withTimeout(`${base}/metrics`, opts.timeoutMs + 500, opts.signal, (signal) =>
        fetchOrdererMetrics(base, { ...fetchOpts, signal }),
      ),
      orderer.probeHealthz
        ? withTimeout(`${base}/healthz`, opts.timeoutMs + 500, opts.signal, (signal) =>
            fetchOrdererHealth(base, { ...fetchOpts, signal }),
          )
        : Promise.resolve(null),
    ]);
    if (health.status === 'rejected') {
      out.health = { orderer: orderer.name, error: describeOperationsError(health.reason, orderer) };
    } else if (health.value !== null) {
      out.health = {
        orderer: orderer.name,
        healthy: health.value.healthy,
        ...(health.value.failedChecks.length > 0 ? { failedChecks: health.value.failedChecks } : {}),
      };
    }
    if (metrics.status === 'rejected') {
      allError('metrics', describeOperationsError(metrics.reason, orderer));
      return;
    }
    const m: OrdererMetrics = metrics.value;
    for (const p of positions.values()) {
      const v = m.lastOffsetPersisted[p.channel];
      const h = m.blockchainHeight[p.channel];
      if (v === undefined) {
        p.errors.push({
          source: 'metrics',
          error:
            m.sampleCount === 0
              ? `${base}/metrics has no samples (Metrics.Provider is not prometheus?)`
              : `${base}/metrics has no consensus_kafka_last_offset_persisted{channel="${p.channel}"} ` +
                '(Fabric before 1.4.2, not a Kafka orderer, or the channel has not started)',
        });
        continue;
      }
      p.bySource.metrics = {
        lastOffsetPersisted: offsetOrNull(v),
        ...(h !== undefined ? { blockHeight: h } : {}),
      };
    }
  };

  // ---- the ledger's newest block
  const ledgerTask = async (): Promise<void> => {
    const dir = orderer.ledgerDir;
    if (dir === undefined) return;
    let source: FileSource | undefined;
    if (opts.fileSource) source = opts.fileSource(orderer);
    else if (orderer.container === undefined) source = hostFileSource();
    if (!source) {
      allError(
        'ledger',
        `ledgerDir ${dir} is inside container ${orderer.container?.name ?? orderer.container?.label ?? '?'} ` +
          'and no container file source is available',
      );
      return;
    }
    const src = source;
    await Promise.all(
      [...positions.values()].map(async (p) => {
        try {
          const tip = await withTimeout(`ledger of ${p.channel}`, opts.timeoutMs, opts.signal, (signal) =>
            readLedgerTip(src, channelLedgerDir(dir, p.channel), { signal }),
          );
          for (const t of tip.torn) {
            note(
              p,
              `ledger: ${t.bytes} bytes at the end of ${t.file} (offset ${t.offset}) are not a complete block: ${t.reason}`,
            );
          }
          for (const w of tip.warnings) note(p, `ledger: ${w}`);
          if (!tip.block) {
            p.errors.push({
              source: 'ledger',
              error: `no complete block in ${tip.dir} (${src.description})`,
            });
            return;
          }
          p.bySource.ledger = {
            lastOffsetPersisted: tip.kafka?.lastOffsetPersisted ?? null,
            blockHeight: tip.height,
          };
        } catch (err) {
          p.errors.push({ source: 'ledger', error: describeError(err) });
        }
      }),
    );
  };

  // ---- the log: offset lines and failure signatures
  const logTask = async (): Promise<void> => {
    let logSource = opts.logSource;
    if (!logSource) {
      if (orderer.logFile === undefined) return;
      logSource = hostLogSource;
    }
    const src = logSource;
    const since = opts.since !== undefined ? new Date(opts.since) : undefined;
    let lines: string[];
    try {
      lines = await withTimeout(`log of ${orderer.name}`, opts.timeoutMs, opts.signal, async (signal) =>
        collect(await src(orderer, { ...(since ? { since } : {}), signal })),
      );
    } catch (err) {
      allError('log', describeError(err));
      return;
    }
    if (lines.length === 0) return;
    const wanted = new Set(channels);
    out.logs = matchLogLines(orderer.name, lines, opts.since).filter(
      (m) => m.channel === undefined || wanted.has(m.channel),
    );
    const fromLog = positionsFromLog(extractOffsetEvents(lines));
    for (const p of positions.values()) {
      const lp = fromLog.get(p.channel);
      if (!lp) {
        p.errors.push({ source: 'log', error: 'no offset line for this channel in the log read' });
        continue;
      }
      p.bySource.log = {
        lastOffsetPersisted: lp.lastOffsetPersisted,
        ...(lp.blockHeight !== undefined ? { blockHeight: lp.blockHeight } : {}),
        ...(lp.at !== undefined ? { at: lp.at } : {}),
      };
    }
  };

  if (
    orderer.operationsUrl === undefined &&
    orderer.ledgerDir === undefined &&
    orderer.logFile === undefined &&
    !opts.logSource
  ) {
    out.notChecked.push(`${orderer.name}: no operationsUrl, ledgerDir or logFile in the inventory`);
  }
  await Promise.all([metricsTask(), ledgerTask(), logTask()]);

  for (const p of positions.values()) {
    const best = SOURCE_ORDER.find((s) => p.bySource[s] !== undefined);
    if (best) {
      const b = p.bySource[best] as { lastOffsetPersisted: number | null; blockHeight?: number };
      p.source = best;
      p.lastOffsetPersisted = b.lastOffsetPersisted;
      p.expectedStartOffset = b.lastOffsetPersisted === null ? null : b.lastOffsetPersisted + 1;
      if (b.lastOffsetPersisted === null) {
        p.startFromOldest = true;
        note(
          p,
          `${best}: no Kafka offset persisted yet; the orderer consumes ${p.channel} from the oldest offset`,
        );
      }
      const height =
        b.blockHeight ?? SOURCE_ORDER.map((s) => p.bySource[s]?.blockHeight).find((h) => h !== undefined);
      if (height !== undefined) p.blockHeight = height;
      // sources that disagree (the log may be older than the others: only the live ones are compared)
      const m = p.bySource.metrics;
      const l = p.bySource.ledger;
      if (m && l && m.lastOffsetPersisted !== l.lastOffsetPersisted) {
        note(
          p,
          `metrics say last offset persisted ${m.lastOffsetPersisted ?? 'none'} but the newest block in the ledger ` +
            `says ${l.lastOffsetPersisted ?? 'none'} (is ledgerDir this orderer's FileLedger.Location?)`,
        );
      }
    } else if (p.errors.length === 0) {
      out.notChecked.push(`${orderer.name}/${p.channel}: no source configured`);
    }
    out.positions.push(p);
  }
  return out;
}

/**
 * Every orderer of the cluster, every channel it serves (or only `channels`): positions, health, log matches.
 * Never throws for an unreachable orderer: each failure is recorded per source in the position's `errors`.
 */
export async function gatherOrderers(
  config: Pick<ClusterConfig, 'orderers'>,
  opts: GatherOrderersOptions,
): Promise<OrderersGathered> {
  const started = Date.now();
  const wanted = opts.channels ? new Set(opts.channels) : undefined;
  const work = config.orderers
    .map((o) => ({ o, channels: o.channels.filter((c) => !wanted || wanted.has(c)) }))
    .filter((w) => w.channels.length > 0);

  const results = await Promise.all(work.map((w) => gatherOne(w.o, w.channels, opts)));
  const positions = results.flatMap((r) => r.positions);
  const health = results.flatMap((r) => (r.health ? [r.health] : []));
  const logs = results.flatMap((r) => r.logs);
  const notChecked = results.flatMap((r) => r.notChecked);
  // A source that failed for an orderer whose position another source still gave: checked, but not fully
  // (e.g. no log read means no failure signatures for it).
  for (const r of results) {
    if (r.positions.some((p) => p.source !== null)) notChecked.push(...r.failures);
  }
  if (work.length === 0)
    notChecked.push(wanted ? `no orderer serves ${[...wanted].join(', ')}` : 'no orderers in the inventory');

  const resolved = positions.filter((p) => p.source !== null).length;
  const unresolved = positions.filter((p) => p.source === null);
  const status: SourceStatus = { ok: work.length === 0 || resolved > 0, ms: Date.now() - started };
  const errorParts = unresolved
    .filter((p) => p.errors.length > 0)
    .map((p) => `${p.orderer}/${p.channel}: ${p.errors.map((e) => `${e.source}: ${e.error}`).join('; ')}`);
  if (errorParts.length > 0) status.error = errorParts.join(' | ');
  if (notChecked.length > 0) status.notChecked = notChecked;
  return { positions, health, logs, status };
}
