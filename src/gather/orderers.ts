/** The orderers' part of a snapshot: where each orderer stands on each channel, its health, its log signatures. */
import { describeError } from '../errors/index.js';
import { gatherOrderers, type GatherOrderersOptions } from '../orderers/gather.js';
import type { ExtraGatherer } from './index.js';

export interface OrdererGathererOptions extends Partial<GatherOrderersOptions> {
  /**
   * Read the ledger (`ledgerDir`, inside the container) and, without `logFile`, the log of orderers that have a
   * `container` through the cluster's `docker.endpoints` (src/orderers/docker-sources.ts). Default true; it
   * applies only when the cluster has `docker` and such orderers, and never replaces a `fileSource` or
   * `logSource` given here.
   */
  containers?: boolean;
  /**
   * Keep the failure signatures matched in logs read through Docker (default true). diagnose turns this off
   * when its container gatherer reads the same containers' logs (with the orderer catalogue and its own time
   * window), so that a line is not reported twice; the offsets in those logs are used either way.
   */
  containerLogSignatures?: boolean;
}

export function ordererGatherer(opts: OrdererGathererOptions = {}): ExtraGatherer {
  const { containers, containerLogSignatures, ...gatherOpts } = opts;
  return async ({ config, channel, secretsByEnv }, snapshot) => {
    if (config.orderers.length === 0) return; // nothing to read: no source, no finding
    try {
      // Orderers in containers: their ledger and log through the Docker API (dockerode loaded only then).
      let viaDocker: Partial<GatherOrderersOptions> = {};
      let logsViaDocker: ReadonlySet<string> = new Set();
      if (
        containers !== false &&
        config.docker !== undefined &&
        config.orderers.some((o) => o.container !== undefined) &&
        !(gatherOpts.fileSource && gatherOpts.logSource)
      ) {
        const { ordererDockerSources } = await import('../orderers/docker-sources.js');
        const s = ordererDockerSources(config);
        viaDocker = {
          ...(gatherOpts.fileSource ? {} : { fileSource: s.fileSource }),
          ...(gatherOpts.logSource ? {} : { logSource: s.logSource }),
        };
        if (!gatherOpts.logSource) logsViaDocker = s.logsViaDocker;
      }
      const got = await gatherOrderers(config, {
        timeoutMs: config.kafka.requestTimeoutMs,
        ...(channel !== undefined ? { channels: [channel] } : {}),
        ...(secretsByEnv ? { secretsByEnv } : {}),
        ...gatherOpts,
        ...viaDocker,
      });
      snapshot.orderers = { positions: got.positions, health: got.health };
      snapshot.logs.push(
        ...(containerLogSignatures === false
          ? got.logs.filter((m) => !logsViaDocker.has(m.origin))
          : got.logs),
      );
      snapshot.sources.orderers = got.status;
    } catch (err) {
      snapshot.sources.orderers = { ok: false, error: describeError(err) };
    }
  };
}
