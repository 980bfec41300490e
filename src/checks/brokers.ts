/**
 * BROKER_NOT_REGISTERED and BROKER_UNREACHABLE: is every broker of the inventory alive in ZooKeeper, and can it
 * be reached at the address it advertises (seed 001)? Also reports brokers whose Metadata request failed.
 */
import type { ClusterSnapshot, EndpointProbe, Finding } from '../model/index.js';
import { indexSnapshot, type CheckContext, type SnapshotIndex } from './context.js';
import { restartBroker } from './repairs.js';
import { andList, plural } from './words.js';

export function brokerRegistrationChecks(snapshot: ClusterSnapshot, ctx: CheckContext = {}): Finding[] {
  const ix = indexSnapshot(snapshot, ctx);
  if (ix.registered === null) return [];
  const findings: Finding[] = [];
  const registered = [...ix.registered].sort((a, b) => a - b);
  for (const id of snapshot.expected.brokerIds) {
    if (ix.registered.has(id)) continue;
    const container = snapshot.containers?.find((c) => c.role === 'broker' && Number(c.runs) === id);
    const hosted = replicaCount(ix, id);
    const containerNote = container
      ? container.found
        ? ` Its container ${container.name} is ${container.state ?? (container.running ? 'running' : 'not running')}` +
          `${container.restartCount ? ` (restarted ${container.restartCount} times)` : ''}.`
        : ` No container ${container.name} was found.`
      : '';
    const path = `/brokers/ids/${id}`;
    const unreadable = snapshot.zookeeper?.malformed.find((m) => m.path === path);
    if (unreadable) {
      findings.push({
        code: 'BROKER_NOT_REGISTERED',
        severity: 'critical',
        subject: { broker: id },
        summary:
          `Broker ${id}'s registration ${path} exists but cannot be read (${unreadable.error}): neither this ` +
          'tool nor the controller can use it' +
          (hosted > 0 ? `; broker ${id} holds ${plural(hosted, 'replica')}` : ''),
        explanation:
          `Kafka writes ${path} itself, as JSON, when the broker starts. Content that does not parse was ` +
          'written by something else (a hand edit, another tool sharing the chroot) and the controller cannot ' +
          `treat broker ${id} as alive while it is there. Find out who wrote it; if broker ${id} is stopped, ` +
          'delete the node and start the broker so that it registers itself again.',
        evidence: { path, error: unreadable.error, expected: snapshot.expected.brokerIds, registered },
        repairs: [restartBroker(ix, id)],
      });
      continue;
    }
    findings.push({
      code: 'BROKER_NOT_REGISTERED',
      severity: 'critical',
      subject: { broker: id },
      summary:
        `Broker ${id} is not registered in ZooKeeper (${path} missing): it is down or lost its ` +
        `ZooKeeper session` +
        (hosted > 0 ? `; it holds ${plural(hosted, 'replica')}` : ''),
      explanation:
        'A broker registers an ephemeral node when it starts and loses it when it stops or its ZooKeeper session ' +
        'expires. Its replicas are out of the ISR and partitions it led moved (or went offline when it was the ' +
        `only in-sync replica).${containerNote} Check the broker's server.log (zookeeper.connect, session ` +
        'timeouts, a full disk) and start it again.',
      evidence: {
        expected: snapshot.expected.brokerIds,
        registered,
        replicasHeld: hosted,
        ...(container ? { container } : {}),
      },
      repairs: [restartBroker(ix, id)],
    });
  }
  return findings;
}

function replicaCount(ix: SnapshotIndex, id: number): number {
  let n = 0;
  for (const p of ix.partitions) if (p.replicas.includes(id)) n++;
  return n;
}

/** Probes by broker id, in input order. */
function probesByBroker(probes: readonly EndpointProbe[]): Map<number, EndpointProbe[]> {
  const out = new Map<number, EndpointProbe[]>();
  for (const p of probes) {
    const list = out.get(p.brokerId);
    if (list) list.push(p);
    else out.set(p.brokerId, [p]);
  }
  return out;
}

export function brokerReachabilityChecks(snapshot: ClusterSnapshot, ctx: CheckContext = {}): Finding[] {
  const ix = indexSnapshot(snapshot, ctx);
  const findings: Finding[] = [];
  // This check is about what this tool itself cannot reach; failures seen from inside containers are the
  // container checks' (src/checks/containers.ts). Successful probes from anywhere are kept as context.
  const byBroker = probesByBroker(snapshot.reachability);
  // A broker that is not registered is reported as such; its address being dead is a consequence.
  const relevant = (id: number): boolean => ix.registered === null || ix.registered.has(id);
  const failedViews = (snapshot.kafka?.views ?? []).filter((v) => !v.ok);

  const reported = new Set<number>();
  for (const [id, probes] of [...byBroker].sort(([a], [b]) => a - b)) {
    const failed = probes.filter((p) => !p.ok && p.from === 'opsbot');
    if (failed.length === 0 || !relevant(id)) continue;
    reported.add(id);
    findings.push(
      unreachable(
        ix,
        id,
        failed,
        probes.filter((p) => p.ok),
      ),
    );
  }
  // A registered broker we did not probe but whose Metadata request failed: that failure is the probe.
  for (const v of failedViews) {
    if (v.brokerId === null || reported.has(v.brokerId) || byBroker.has(v.brokerId)) continue;
    if (ix.registered === null || !ix.registered.has(v.brokerId)) continue;
    reported.add(v.brokerId);
    const reg = ix.registrations.get(v.brokerId);
    findings.push(
      unreachable(
        ix,
        v.brokerId,
        [
          {
            brokerId: v.brokerId,
            endpoint: reg?.endpoints.find((e) => e.endsWith(`//${v.address}`)) ?? v.address,
            host: v.address.replace(/:\d+$/, ''),
            port: Number(v.address.replace(/^.*:/, '')),
            from: 'opsbot',
            ok: false,
            ms: v.ms ?? 0,
            error: `Metadata request to ${v.address} failed: ${v.error ?? 'no answer'}`,
          },
        ],
        [],
      ),
    );
  }
  // Other failed Metadata requests: a broker that answers TCP but not Kafka, or a bootstrap address.
  for (const v of failedViews) {
    if (v.brokerId !== null && (reported.has(v.brokerId) || !relevant(v.brokerId))) continue;
    const who =
      v.brokerId !== null ? `Broker ${v.brokerId} (${v.address})` : `Bootstrap address ${v.address}`;
    findings.push({
      code: 'SOURCE_UNAVAILABLE',
      severity: 'warning',
      subject: v.brokerId !== null ? { source: 'kafka', broker: v.brokerId } : { source: 'kafka' },
      summary: `${who} did not answer a Metadata request: ${v.error ?? 'no answer'}`,
      explanation:
        v.brokerId !== null
          ? 'Its address accepts connections, but the broker did not answer: it may be starting, overloaded or ' +
            'speak TLS/SASL differently from the inventory. Its view of the cluster was not compared.'
          : 'Orderers use the bootstrap list only to find the brokers; check that this address is a broker and ' +
            "is listed in the orderers' Kafka.Brokers too.",
      evidence: { address: v.address, error: v.error ?? null, ...(v.ms !== undefined ? { ms: v.ms } : {}) },
      repairs: [],
    });
  }
  return findings;
}

function unreachable(
  ix: SnapshotIndex,
  id: number,
  failed: readonly EndpointProbe[],
  ok: readonly EndpointProbe[],
): Finding {
  const first = failed[0]!;
  const addresses = [...new Set(failed.map((p) => `${p.host}:${p.port}`))];
  const froms = [...new Set(failed.map((p) => p.from))];
  const okFroms = [...new Set(ok.map((p) => p.from))];
  const isController = ix.controllerId === id;
  const fromText = froms.length === 1 && froms[0] === 'opsbot' ? 'from opsbot' : `from ${andList(froms)}`;
  const reg = ix.registrations.get(id);
  return {
    code: 'BROKER_UNREACHABLE',
    severity: 'critical',
    subject: { broker: id },
    summary:
      `Broker ${id} is registered but its advertised address ${andList(addresses)} does not accept ` +
      `connections ${fromText}${first.error ? ` (${first.error})` : ''}`,
    explanation:
      `Brokers publish their advertised address in ZooKeeper; orderers, other clients and the controller connect ` +
      `to that address, not to the one in the inventory. ` +
      (isController
        ? `Broker ${id} is the controller itself: it cannot push leader and ISR changes to any broker. `
        : 'The controller likely cannot reach it either, so leader and ISR changes never reach it. ') +
      'kafka-topics.sh --describe reads ZooKeeper and will still show the topics as healthy while clients get ' +
      'LEADER_NOT_AVAILABLE (seed 001). ' +
      (okFroms.length > 0
        ? `It is reachable from ${andList(okFroms)}, so check the route from the others. `
        : '') +
      'Fix advertised.listeners (KAFKA_ADVERTISED_LISTENERS) so that the address resolves and routes from every ' +
      'orderer and broker, then restart the broker.',
    evidence: {
      broker: id,
      advertised: reg?.endpoints ?? [...new Set(failed.map((p) => p.endpoint))],
      failed: failed.map((p) => ({ from: p.from, endpoint: p.endpoint, error: p.error ?? null, ms: p.ms })),
      ok: ok.map((p) => ({ from: p.from, endpoint: p.endpoint, ms: p.ms })),
      controller: ix.controllerId,
    },
    repairs: [restartBroker(ix, id)],
  };
}
