/** The orderers' part of a snapshot: where each orderer stands on each channel, its health, its log signatures. */
import { describeError } from '../errors/index.js';
import { gatherOrderers, type GatherOrderersOptions } from '../orderers/gather.js';
import type { ExtraGatherer } from './index.js';

export function ordererGatherer(opts: Partial<GatherOrderersOptions> = {}): ExtraGatherer {
  return async ({ config, channel }, snapshot) => {
    if (config.orderers.length === 0) return; // nothing to read: no source, no finding
    try {
      const got = await gatherOrderers(config, {
        timeoutMs: config.kafka.requestTimeoutMs,
        ...(channel !== undefined ? { channels: [channel] } : {}),
        ...opts,
      });
      snapshot.orderers = { positions: got.positions, health: got.health };
      snapshot.logs.push(...got.logs);
      snapshot.sources.orderers = got.status;
    } catch (err) {
      snapshot.sources.orderers = { ok: false, error: describeError(err) };
    }
  };
}
