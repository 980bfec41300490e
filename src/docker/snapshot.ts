/**
 * Plugging the container gatherer into a snapshot (src/gather/index.ts `extraGatherers`): fills
 * `containers`, appends to `logs` and `reachability`, and sets `sources.docker`.
 *
 * Probe targets are the brokers' advertised endpoints. gatherSnapshot starts extra gatherers alongside
 * ZooKeeper, so `snapshot.zookeeper` may still be null when this runs: pass `probe` explicitly (e.g. from the
 * previous snapshot's registrations), or run this gatherer after ZooKeeper has been read.
 */
import type { ClusterConfig } from '../config/schema.js';
import { describeError } from '../errors/index.js';
import type { BrokerRegistration, ClusterSnapshot, ContainerObservation } from '../model/index.js';
import { gatherContainers, type GatherContainersOptions, type ProbeTarget } from './gather.js';

/** Every advertised endpoint of the registered brokers (the host/port pair when no endpoint list). */
export function probeTargetsFromRegistrations(brokers: readonly BrokerRegistration[]): ProbeTarget[] {
  return brokers.flatMap((b) =>
    (b.endpoints.length > 0 ? b.endpoints : [`PLAINTEXT://${b.host}:${b.port}`]).map((endpoint) => ({
      brokerId: b.id,
      endpoint,
    })),
  );
}

export interface DockerGathererOptions extends Omit<GatherContainersOptions, 'probe'> {
  /** Targets, or a function of the snapshot; default: ZooKeeper's registrations when already read. */
  probe?: ProbeTarget[] | ((snapshot: ClusterSnapshot) => ProbeTarget[]);
  /** Receives what to pass next time as `since` and `previous`. */
  onState?: (state: { cursors: Record<string, string>; containers: ContainerObservation[] }) => void;
}

/** An extra gatherer (structurally `ExtraGatherer`) for the containers of the cluster. Never throws. */
export function dockerGatherer(
  opts: DockerGathererOptions = {},
): (ctx: { config: ClusterConfig }, snapshot: ClusterSnapshot) => Promise<void> {
  return async (ctx, snapshot) => {
    try {
      const probe =
        typeof opts.probe === 'function'
          ? opts.probe(snapshot)
          : (opts.probe ?? probeTargetsFromRegistrations(snapshot.zookeeper?.brokers ?? []));
      const { probe: _p, onState, ...rest } = opts;
      const g = await gatherContainers(ctx.config, { ...rest, probe });
      snapshot.containers = g.containers;
      for (const m of g.logs) snapshot.logs.push(m);
      for (const p of g.probes) snapshot.reachability.push(p);
      snapshot.sources.docker = g.status;
      onState?.({ cursors: g.cursors, containers: g.containers });
    } catch (err) {
      snapshot.sources.docker = { ok: false, error: describeError(err) };
    }
  };
}
