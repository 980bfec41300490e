/**
 * buildReport: the contract's JSON (shared/contracts/interface.md, `diagnose --json`) from a snapshot and its
 * findings. Renderers (text, Block Kit) take the Report, never the snapshot.
 */
import { compareText } from '../order.js';
import { indexSnapshot, partKey, scopeFilter, type SnapshotIndex } from '../checks/index.js';
import { offsetsProblem } from '../checks/sources.js';
import {
  compareFindings,
  type ClusterSnapshot,
  type Finding,
  type Report,
  type ReportBroker,
  type ReportOrderer,
  type ReportPartition,
  type ReportSource,
  type SourceName,
} from '../model/index.js';

const SOURCE_ORDER: readonly SourceName[] = ['kafka', 'zookeeper', 'docker', 'orderers'];

export function buildReport(snapshot: ClusterSnapshot, findings: readonly Finding[]): Report {
  const ix = indexSnapshot(snapshot);
  const keep = scopeFilter(snapshot, ix);
  return {
    cluster: snapshot.cluster,
    generatedAt: snapshot.generatedAt,
    scope: snapshot.scope.channel !== undefined ? { channel: snapshot.scope.channel } : {},
    sources: reportSources(snapshot),
    controller: controllerOf(ix),
    brokers: reportBrokers(ix),
    partitions: reportPartitions(ix),
    orderers: reportOrderers(ix),
    findings: findings.filter(keep).sort(compareFindings),
  };
}

function reportSources(snapshot: ClusterSnapshot): Report['sources'] {
  const out: Report['sources'] = {};
  const names = [
    ...SOURCE_ORDER.filter((n) => snapshot.sources[n] !== undefined),
    ...(Object.keys(snapshot.sources) as SourceName[]).filter((n) => !SOURCE_ORDER.includes(n)),
  ];
  for (const name of names) {
    const s = snapshot.sources[name];
    if (!s) continue;
    const r: ReportSource = { ok: s.ok };
    if (s.ms !== undefined) r.ms = s.ms;
    if (s.error !== undefined) r.error = s.error;
    if (s.notChecked !== undefined && s.notChecked.length > 0) r.notChecked = [...s.notChecked];
    out[name] = r;
  }
  return out;
}

/** From ZooKeeper; without it, the controller every broker that answered agrees on (if any). */
function controllerOf(ix: SnapshotIndex): number | null {
  if (ix.snapshot.zookeeper) return ix.controllerId;
  const said = new Set(ix.okViews.map((v) => v.controllerId).filter((c): c is number => c !== undefined));
  if (said.size !== 1) return null;
  const only = [...said][0]!;
  return only >= 0 ? only : null;
}

function reportBrokers(ix: SnapshotIndex): ReportBroker[] {
  const snapshot = ix.snapshot;
  const fromMetadata = new Map<number, { host: string; port: number; rack?: string | null }>();
  for (const v of ix.okViews)
    for (const b of v.brokers ?? []) if (!fromMetadata.has(b.id)) fromMetadata.set(b.id, b);
  const ids = new Set<number>(snapshot.expected.brokerIds);
  for (const id of ix.registrations.keys()) ids.add(id);
  for (const id of fromMetadata.keys()) ids.add(id);

  const probes = new Map<number, boolean[]>();
  for (const p of snapshot.reachability) {
    const list = probes.get(p.brokerId);
    if (list) list.push(p.ok);
    else probes.set(p.brokerId, [p.ok]);
  }
  const viewOk = new Map<number, boolean[]>();
  for (const v of snapshot.kafka?.views ?? []) {
    if (v.brokerId === null) continue;
    const list = viewOk.get(v.brokerId);
    if (list) list.push(v.ok);
    else viewOk.set(v.brokerId, [v.ok]);
  }

  const channel = ix.scopeChannel;
  const scoped = channel !== undefined && ix.topics.has(channel);
  return [...ids]
    .filter((id) => !scoped || ix.scopeReplicaBrokers.has(id) || ix.controllerId === id)
    .sort((a, b) => a - b)
    .map((id) => {
      const reg = ix.registrations.get(id);
      const md = fromMetadata.get(id);
      const probed = probes.get(id);
      const asked = viewOk.get(id);
      const reachable =
        probed !== undefined ? probed.every(Boolean) : asked !== undefined ? asked.some(Boolean) : null;
      const broker: ReportBroker = {
        id,
        host: reg?.host ?? md?.host ?? null,
        port: reg?.port ?? md?.port ?? null,
        // Without ZooKeeper, a broker listed in the brokers' metadata is the controller's word for registered.
        registered: ix.registered !== null ? ix.registered.has(id) : md !== undefined,
        reachable,
      };
      const rack = reg?.rack ?? md?.rack ?? undefined;
      if (rack !== undefined && rack !== null) broker.rack = rack;
      return broker;
    });
}

function reportPartitions(ix: SnapshotIndex): ReportPartition[] {
  const offsetsOf = (topic: string, partition: number) => {
    const o = ix.offsets.get(partKey(topic, partition));
    // Offsets that cannot be true (negative, not whole) are unknown here; a finding says what was reported.
    if (o === undefined || offsetsProblem(o)?.unusable) return { highWatermark: null, logStartOffset: null };
    return { highWatermark: o.highWatermark ?? null, logStartOffset: o.logStartOffset ?? null };
  };
  if (ix.snapshot.zookeeper) {
    return ix.partitions.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      leader: p.leader !== null && p.leader >= 0 ? p.leader : null,
      replicas: [...p.replicas],
      isr: [...p.isr],
      minIsr: ix.minIsr(p),
      ...offsetsOf(p.topic, p.partition),
    }));
  }
  // Without ZooKeeper: the brokers' metadata, as the controller's broker (or the first that answered) has it.
  const controller = controllerOf(ix);
  const view =
    ix.okViews.find((v) => v.brokerId !== null && v.brokerId === controller && v.partitions !== undefined) ??
    ix.okViews.find((v) => v.partitions !== undefined);
  if (!view) return [];
  return (view.partitions ?? [])
    .filter((mp) => ix.inScope(mp.topic))
    .slice()
    .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
    .map((mp) => ({
      topic: mp.topic,
      partition: mp.partition,
      leader: mp.leader >= 0 ? mp.leader : null,
      replicas: [...mp.replicas],
      isr: [...mp.isr],
      minIsr: ix.minIsr({
        topic: mp.topic,
        partition: mp.partition,
        replicas: mp.replicas,
        isr: mp.isr,
        leader: mp.leader,
      }),
      ...offsetsOf(mp.topic, mp.partition),
    }));
}

function reportOrderers(ix: SnapshotIndex): ReportOrderer[] {
  return (ix.snapshot.orderers?.positions ?? [])
    .filter((p) => ix.inScope(p.channel))
    .map((p) => {
      const o: ReportOrderer = {
        name: p.orderer,
        channel: p.channel,
        lastOffsetPersisted: p.lastOffsetPersisted,
        expectedStartOffset: p.expectedStartOffset,
        source: p.source,
      };
      if (p.blockHeight !== undefined) o.blockHeight = p.blockHeight;
      return o;
    })
    .sort((a, b) => compareText(a.channel, b.channel) || compareText(a.name, b.name));
}
