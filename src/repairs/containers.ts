/**
 * restart-container <container|broker id|orderer name> and start-container <...>: restart (or start) one
 * container the inventory names, then wait until what it runs is back:
 *
 * - a Kafka broker: registered again in ZooKeeper (/brokers/ids/<id>) and back in the ISR of every partition it
 *   holds a replica of;
 * - a Fabric orderer: it logged "[channel: X] Start phase completed successfully" for each of its channels (or,
 *   when its log cannot be read, /healthz answers 200);
 * - a ZooKeeper member: it serves again (four-letter word `srvr` says leader/follower/standalone).
 *
 * Only containers of the inventory (kafka.containers, zookeeper.containers, orderers[].container) are touched.
 * Restarting a broker is refused when stopping it would take partitions offline or under min.insync.replicas
 * (whatif stop-broker: drain it first); restarting a ZooKeeper member is refused when the ensemble would lose
 * its quorum. Steps run through src/docker/actions.ts (actions/containers.ts).
 */
import { whatIfStopBroker } from '../checks/whatif.js';
import type { ClusterConfig, ContainerRef } from '../config/index.js';
import type { ClusterSnapshot, ContainerObservation, RepairPlan } from '../model/index.js';
import { checkList, type Verification } from './drain-broker.js';
import { brokerIdProblem, containerNameProblem, refuseArguments } from './args.js';

export type ContainerRole = 'broker' | 'zookeeper' | 'orderer';

export interface InventoryContainer {
  role: ContainerRole;
  /** Broker id, ZooKeeper member address, orderer name. */
  runs: string | number;
  ref: ContainerRef;
  /** "broker 2", "orderer orderer1.example.com", "ZooKeeper 127.0.0.1:2181". */
  label: string;
  /** Channels of an orderer. */
  channels?: string[];
}

export const BROKER_READY_MS = 5 * 60_000;
export const ORDERER_READY_MS = 3 * 60_000;
export const ZOOKEEPER_READY_MS = 2 * 60_000;

/** Every container the inventory names, in a stable order: brokers by id, ZooKeeper members, orderers. */
export function inventoryContainers(config: ClusterConfig): InventoryContainer[] {
  const out: InventoryContainer[] = [];
  for (const [id, ref] of Object.entries(config.kafka.containers ?? {}).sort(
    ([a], [b]) => Number(a) - Number(b),
  )) {
    out.push({ role: 'broker', runs: Number(id), ref, label: `broker ${id}` });
  }
  for (const [member, ref] of Object.entries(config.zookeeper.containers ?? {})) {
    out.push({ role: 'zookeeper', runs: member, ref, label: `ZooKeeper ${member}` });
  }
  for (const o of config.orderers) {
    if (o.container) {
      out.push({
        role: 'orderer',
        runs: o.name,
        ref: o.container,
        label: `orderer ${o.name}`,
        channels: [...o.channels],
      });
    }
  }
  return out;
}

function refText(ref: ContainerRef): string {
  return ref.name ?? `label ${ref.label}`;
}

/** The observation the Docker gatherer made of an inventory container, if any. */
function observationOf(snapshot: ClusterSnapshot, t: InventoryContainer): ContainerObservation | undefined {
  return (snapshot.containers ?? []).find((c) => c.role === t.role && String(c.runs) === String(t.runs));
}

/**
 * Which inventory container an argument means: a broker id, an orderer name, a ZooKeeper member address, or a
 * container name (as in the inventory, or as the Docker gatherer resolved a label).
 */
export function findInventoryContainer(
  config: ClusterConfig,
  snapshot: ClusterSnapshot,
  args: { broker?: number; container?: string },
): InventoryContainer | undefined {
  const all = inventoryContainers(config);
  if (args.container !== undefined) {
    const s = args.container;
    return (
      all.find((t) => t.ref.name === s) ??
      all.find((t) => t.role === 'orderer' && t.runs === s) ??
      all.find((t) => t.role === 'zookeeper' && t.runs === s) ??
      all.find((t) => observationOf(snapshot, t)?.name === s)
    );
  }
  if (args.broker !== undefined) return all.find((t) => t.role === 'broker' && t.runs === args.broker);
  return undefined;
}

function waitFor(t: InventoryContainer): { for: string; timeoutMs: number } {
  switch (t.role) {
    case 'broker':
      return {
        for: `broker ${t.runs} registered in ZooKeeper again and back in the ISR of its partitions`,
        timeoutMs: BROKER_READY_MS,
      };
    case 'orderer':
      return {
        for: `orderer ${t.runs} to log "Start phase completed successfully" for ${(t.channels ?? []).join(', ') || 'its channels'}`,
        timeoutMs: ORDERER_READY_MS,
      };
    case 'zookeeper':
      return { for: `ZooKeeper ${t.runs} to serve again`, timeoutMs: ZOOKEEPER_READY_MS };
  }
}

export function planContainerAction(
  snapshot: ClusterSnapshot,
  clusterName: string,
  config: ClusterConfig,
  action: 'restart' | 'start',
  args: { broker?: number; container?: string },
): RepairPlan {
  const kind = `${action}-container`;
  const badArgs = refuseArguments(kind, clusterName, { ...args }, [
    args.broker === undefined && args.container === undefined
      ? 'name a container, a broker id or an orderer'
      : undefined,
    args.broker === undefined ? undefined : brokerIdProblem(args.broker),
    args.container === undefined ? undefined : containerNameProblem(args.container),
  ]);
  if (badArgs) return badArgs;
  const c = checkList();
  const planArgs: Record<string, string | number> = {};
  if (args.container !== undefined) planArgs.container = args.container;
  if (args.broker !== undefined) planArgs.broker = args.broker;
  const base = { kind, cluster: clusterName, args: planArgs };
  const refused = () => ({
    ...base,
    preconditions: c.preconditions,
    steps: [],
    expected: {},
    refusal: c.refusal(),
  });

  const asked = args.container ?? `broker ${args.broker}`;
  const t = findInventoryContainer(config, snapshot, args);
  const known = inventoryContainers(config)
    .map((x) => `${x.label} (${refText(x.ref)})`)
    .join(', ');
  if (
    !c.check(
      'container in the inventory',
      t !== undefined,
      t !== undefined
        ? `${t.label} runs in container ${refText(t.ref)}`
        : `${asked} is not a container of cluster ${clusterName}'s inventory (known: ${known || 'none: add kafka.containers, zookeeper.containers or orderers[].container'})`,
    ) ||
    t === undefined
  ) {
    return refused();
  }
  if (
    args.broker !== undefined &&
    args.container !== undefined &&
    !(t.role === 'broker' && t.runs === args.broker)
  ) {
    c.check('container runs the broker', false, `${args.container} is ${t.label}, not broker ${args.broker}`);
    return refused();
  }

  const docker = snapshot.sources.docker;
  const obs = snapshot.containers === null ? undefined : observationOf(snapshot, t);
  const name = t.ref.name ?? (obs?.found ? obs.name : undefined);
  c.check(
    'container found',
    name !== undefined && obs?.found === true,
    snapshot.containers === null || docker?.ok === false
      ? `Docker not read${docker?.error ? `: ${docker.error}` : ''}: cannot confirm ${refText(t.ref)} exists`
      : obs === undefined || !obs.found
        ? `${refText(t.ref)} not found on the Docker endpoint${obs?.error ? `: ${obs.error}` : ''}`
        : `${obs.name} on endpoint ${obs.endpoint}`,
  );
  if (action === 'start') {
    c.check(
      'container not running',
      obs?.running === false,
      obs?.running === false
        ? `${obs.name} is ${obs.state ?? 'stopped'}${obs.exitCode !== undefined ? ` (exit code ${obs.exitCode})` : ''}`
        : obs?.running === true
          ? `${obs.name} already runs: nothing to start (restart-container restarts it)`
          : 'state unknown',
    );
  }
  if (action === 'restart' && t.role === 'broker') {
    const id = Number(t.runs);
    try {
      const w = whatIfStopBroker(snapshot, id);
      c.check('stopping the broker is safe', w.safe, w.safe ? (w.reasons[0] ?? 'safe') : w.reasons.join(' '));
    } catch (err) {
      c.check('stopping the broker is safe', false, (err as Error).message);
    }
  }
  if (action === 'restart' && t.role === 'zookeeper') {
    const members = snapshot.zookeeper?.members ?? snapshot.zookeeperMembers ?? [];
    const size = Math.max(snapshot.expected.zookeeper.length, members.length);
    const serving = members.filter((m) => m.ok && m.mode !== undefined && m.mode !== 'unknown');
    const without = serving.filter((m) => m.address !== t.runs).length;
    c.check(
      'quorum survives the restart',
      size <= 1 ? false : without * 2 > size,
      size <= 1
        ? 'a standalone ZooKeeper: restarting it stops Kafka'
        : `${serving.length} of ${size} members serve; without ${t.runs}, ${without} would (a majority is ${Math.floor(size / 2) + 1})`,
    );
  }

  const refusal = c.refusal();
  const w = waitFor(t);
  const expected: Record<string, unknown> = {
    container: name ?? refText(t.ref),
    role: t.role,
    runs: t.runs,
    running: true,
  };
  if (t.role === 'broker') Object.assign(expected, { registered: true, inIsr: true });
  return {
    ...base,
    preconditions: c.preconditions,
    steps:
      refusal === null && name !== undefined
        ? [
            action === 'restart'
              ? { action: 'restart-container', container: name }
              : { action: 'start-container', container: name },
            { action: 'wait', ...w },
          ]
        : [],
    expected: refusal === null ? expected : {},
    rollback:
      action === 'restart'
        ? 'Nothing to undo: a restart changes no data (the container restarts once more; its restart count grows).'
        : `Stop the container again (docker stop ${name ?? refText(t.ref)}) if it should not run.`,
    refusal,
  };
}

/** On a fresh snapshot: the container runs and what it runs is back (broker registered and in sync...). */
export function verifyContainerAction(snapshot: ClusterSnapshot, plan: RepairPlan): Verification {
  const e = plan.expected as { container?: string; role?: ContainerRole; runs?: string | number };
  const bad: string[] = [];
  const oks: string[] = [];
  const obs = (snapshot.containers ?? []).find((c) => c.name === e.container);
  if (snapshot.containers !== null) {
    if (!obs?.found) bad.push(`container ${e.container} not found`);
    else if (!obs.running) bad.push(`container ${e.container} is ${obs.state ?? 'not running'}`);
    else oks.push(`${e.container} runs`);
  }
  if (e.role === 'broker') {
    const id = Number(e.runs);
    const zk = snapshot.zookeeper;
    if (!zk) bad.push('ZooKeeper could not be read');
    else if (!zk.brokers.some((b) => b.id === id)) bad.push(`broker ${id} is not registered in /brokers/ids`);
    else {
      const out = zk.partitions.filter((p) => p.replicas.includes(id) && !p.isr.includes(id));
      if (out.length > 0) {
        bad.push(
          `broker ${id} is not in the ISR of ${out.length} partition(s): ${out
            .slice(0, 5)
            .map((p) => `${p.topic}/${p.partition}`)
            .join(', ')}`,
        );
      } else oks.push(`broker ${id} registered and in the ISR of all its partitions`);
    }
  } else if (e.role === 'orderer') {
    const h = snapshot.orderers?.health.find((x) => x.orderer === e.runs);
    if (h?.healthy === false) {
      bad.push(
        `orderer ${e.runs} /healthz fails: ${(h.failedChecks ?? []).map((f) => `${f.component}: ${f.reason}`).join('; ') || h.error || 'unhealthy'}`,
      );
    } else if (h?.healthy === true) oks.push(`orderer ${e.runs} /healthz ok`);
  } else if (e.role === 'zookeeper') {
    const m = (snapshot.zookeeper?.members ?? snapshot.zookeeperMembers ?? []).find(
      (x) => x.address === e.runs,
    );
    if (m && !m.ok) bad.push(`ZooKeeper ${e.runs} does not serve: ${m.error ?? 'down'}`);
    else if (m) oks.push(`ZooKeeper ${e.runs} serves (${m.mode ?? 'up'})`);
  }
  return bad.length > 0
    ? { ok: false, detail: bad.join('; ') }
    : { ok: true, detail: oks.join('; ') || 'nothing to check' };
}
