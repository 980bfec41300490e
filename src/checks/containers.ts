/**
 * Container checks, from the snapshot alone (containers, probes made from inside containers, and log matches
 * read from containers):
 * - CONTAINER_DOWN: a Kafka, ZooKeeper or orderer container is not running, is restarting, or restarted since
 *   the last check (or recently, when no earlier count is known), with the exit code and OOM flag as evidence.
 * - BROKER_UNREACHABLE {broker, container}: a broker or orderer container cannot open a connection to a broker's
 *   advertised address, or the controller logged that it cannot (seed 001: the address must be reachable from
 *   the orderers and from every broker that may become controller, not only from this tool).
 * - SOURCE_UNAVAILABLE {source: docker, container}: a container of the inventory could not be found or read.
 */
import { compareText } from '../order.js';
import type {
  ClusterSnapshot,
  ContainerObservation,
  EndpointProbe,
  Finding,
  LogMatch,
} from '../model/index.js';
import type { RepairSuggestion, Subject } from '../model/index.js';
import { parseControllerConnectionLine } from '../docker/signatures.js';

/** How long after a broker registers the controller may still fail to connect to it without that meaning much. */
export const STARTUP_GRACE_MS = 15_000;
import { andList, plural } from './words.js';

/** Without an earlier restart count, a container that (re)started this recently with restarts counts as restarting. */
export const RECENT_RESTART_MS = 15 * 60_000;

/** Observations whose Docker endpoint was down: the SOURCE_UNAVAILABLE of the docker source covers them. */
function endpointDown(c: ContainerObservation): boolean {
  return !c.found && c.error !== undefined && / unavailable: /.test(c.error);
}

function who(c: ContainerObservation): string {
  const runs = c.runs;
  switch (c.role) {
    case 'broker':
      return `broker ${runs}'s container ${c.name}`;
    case 'zookeeper':
      return `ZooKeeper ${runs}'s container ${c.name}`;
    case 'orderer':
      return `orderer ${runs}'s container ${c.name}`;
    default:
      return `container ${c.name}`;
  }
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function subjectOf(c: ContainerObservation): Subject {
  const s: Subject = { container: c.name };
  if (
    c.role === 'broker' &&
    c.runs !== undefined &&
    Number.isSafeInteger(Number(c.runs)) &&
    String(c.runs).trim() !== ''
  )
    s.broker = Number(c.runs);
  if (c.role === 'zookeeper' && c.runs !== undefined) s.zookeeper = String(c.runs);
  if (c.role === 'orderer' && c.runs !== undefined) s.orderer = String(c.runs);
  return s;
}

function restartRepair(c: ContainerObservation, verb: 'Start' | 'Restart'): RepairSuggestion {
  const args: Record<string, string | number> = { container: c.name };
  // Only a broker id that is one: a container that says it runs broker "x" gets no NaN argument.
  if (
    c.role === 'broker' &&
    c.runs !== undefined &&
    Number.isSafeInteger(Number(c.runs)) &&
    String(c.runs).trim() !== ''
  )
    args.broker = Number(c.runs);
  return {
    kind: verb === 'Start' ? 'start-container' : 'restart-container',
    args,
    title: `${verb} ${who(c)}`,
  };
}

const ROLE_IMPACT: Record<ContainerObservation['role'], string> = {
  broker:
    'While the broker is down its replicas drop out of the ISR and partitions it led move; partitions left with ' +
    "fewer in-sync replicas than min.insync.replicas reject the orderers' writes (acks=all), and a partition " +
    'whose only in-sync replica it was goes offline (seed 002).',
  zookeeper:
    'The ensemble is one member short: one more loss and it has no quorum, brokers lose their sessions and ' +
    'registrations, and no leader can be elected.',
  orderer:
    'This orderer serves no Deliver or Broadcast requests: peers and clients connected to it fail over to ' +
    'another orderer only if they know one.',
  other: 'What it runs is not available.',
};

function ageText(fromIso: string | undefined, nowMs: number): string | undefined {
  if (fromIso === undefined) return undefined;
  const t = Date.parse(fromIso);
  if (Number.isNaN(t)) return undefined;
  const s = Math.max(0, Math.round((nowMs - t) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function logEvidence(logs: readonly LogMatch[], c: ContainerObservation) {
  return logs
    .filter((m) => m.container === c.name || (m.container === undefined && m.origin === c.name))
    .map((m) => ({
      signature: m.signature,
      severity: m.severity,
      line: m.line,
      at: m.at ?? null,
      count: m.count,
      ...(m.firstAt !== undefined ? { firstAt: m.firstAt } : {}),
    }));
}

function containerDown(snapshot: ClusterSnapshot, c: ContainerObservation, nowMs: number): Finding | null {
  const restarts = c.restartCount ?? 0;
  const grew = c.previousRestartCount !== undefined && restarts > c.previousRestartCount;
  const startedMs = c.startedAt !== undefined ? Date.parse(c.startedAt) : NaN;
  const recentRestart =
    c.previousRestartCount === undefined &&
    restarts > 0 &&
    Number.isFinite(startedMs) &&
    nowMs - startedMs <= RECENT_RESTART_MS;
  const restarting = c.state === 'restarting';
  const paused = c.state === 'paused';
  const notRunning = c.running === false || paused;

  let summary: string;
  let repairs: RepairSuggestion[] = [];
  const oom = c.oomKilled ? ', killed for lack of memory (OOMKilled)' : '';
  const exit =
    c.exitCode !== undefined && c.exitCode !== 0
      ? ` with exit code ${c.exitCode}${exitMeaning(c.exitCode)}`
      : '';
  if (restarting) {
    summary = `${capital(who(c))} keeps restarting (${plural(restarts, 'restart')}; last exit${exit || ' code 0'}${oom})`;
  } else if (notRunning) {
    const since = ageText(c.finishedAt, nowMs);
    summary = paused
      ? `${capital(who(c))} is paused`
      : `${capital(who(c))} is ${c.state ?? 'not running'}${exit}${oom}${since ? ` (stopped ${since})` : ''}`;
    repairs = paused ? [] : [restartRepair(c, 'Start')];
  } else if (grew) {
    const n = restarts - c.previousRestartCount!;
    summary =
      `${capital(who(c))} restarted ${plural(n, 'time')} since the last check` +
      `${c.oomKilled ? ' after being killed for lack of memory (OOMKilled)' : ''}; it runs again` +
      (c.startedAt ? ` since ${c.startedAt}` : '');
  } else if (recentRestart) {
    summary =
      `${capital(who(c))} restarted ${ageText(c.startedAt, nowMs)} (restart count ${restarts}` +
      `${c.oomKilled ? ', last killed for lack of memory' : ''}); it runs again`;
  } else {
    return null;
  }

  const explanation =
    ROLE_IMPACT[c.role] +
    (restarting || grew || recentRestart
      ? ' A process the engine restarts on its own has crashed: a loop of restarts keeps the broker or orderer ' +
        'leaving and rejoining (leader elections, ISR churn). Read its last log lines before the restart' +
        (c.oomKilled
          ? '; it was killed for lack of memory, so raise its memory limit or lower its heap.'
          : '.')
      : ' Read its last log lines to see why it stopped' +
        (c.exitCode === 137 ? ' (137: killed with SIGKILL, often out of memory or `docker kill`)' : '') +
        ', then start it again' +
        (c.restartPolicy === 'no' || c.restartPolicy === undefined
          ? '; a restart policy (unless-stopped) would have brought it back.'
          : '.'));

  return {
    code: 'CONTAINER_DOWN',
    severity: 'critical',
    subject: subjectOf(c),
    summary,
    explanation,
    evidence: {
      container: c.name,
      endpoint: c.endpoint,
      role: c.role,
      ...(c.runs !== undefined ? { runs: c.runs } : {}),
      state: c.state ?? null,
      running: c.running ?? null,
      restartCount: c.restartCount ?? null,
      ...(c.previousRestartCount !== undefined ? { previousRestartCount: c.previousRestartCount } : {}),
      oomKilled: c.oomKilled ?? null,
      exitCode: c.exitCode ?? null,
      startedAt: c.startedAt ?? null,
      finishedAt: c.finishedAt ?? null,
      ...(c.restartPolicy !== undefined ? { restartPolicy: c.restartPolicy } : {}),
      ...(c.health !== undefined ? { health: c.health } : {}),
      ...(c.error !== undefined ? { error: c.error } : {}),
      logs: logEvidence(snapshot.logs, c),
    },
    repairs,
  };
}

function exitMeaning(code: number): string {
  if (code === 137) return ' (SIGKILL)';
  if (code === 143) return ' (SIGTERM)';
  if (code === 139) return ' (segmentation fault)';
  if (code === 126 || code === 127) return ' (command not found or not executable)';
  return '';
}

function notFound(c: ContainerObservation): Finding {
  return {
    code: 'SOURCE_UNAVAILABLE',
    severity: 'warning',
    subject: { source: 'docker', ...subjectOf(c) },
    summary: `${capital(who(c))} could not be read: ${c.error ?? 'not found'}`,
    explanation:
      'The inventory names this container but Docker does not know it (or the label matches none or several). ' +
      'Its state, restarts and logs were not checked. If it was removed, what it ran is down; otherwise fix the ' +
      'name or label in the inventory.',
    evidence: { container: c.name, endpoint: c.endpoint, role: c.role, error: c.error ?? null },
    repairs: [],
  };
}

interface Unreachable {
  broker: number;
  container: string;
  probes: EndpointProbe[];
  log?: LogMatch;
}

function probeSummary(
  u: Unreachable,
  from: ContainerObservation | undefined,
  controllerId: number | null,
): { summary: string; explanation: string } {
  const addrs = andList([...new Set(u.probes.map((p) => `${p.host}:${p.port}`))]);
  const err = u.probes[0]?.error ? ` (${u.probes[0].error})` : '';
  const fromBroker = from?.role === 'broker' ? Number(from.runs) : undefined;
  const line = u.log ? ` The controller logged at ${u.log.at ?? 'an unknown time'}: "${u.log.line}"` : '';
  if (from?.role === 'orderer') {
    return {
      summary:
        `Orderer ${from.runs}'s container ${u.container} cannot reach broker ${u.broker} at ${addrs}${err}: ` +
        `the orderer cannot produce to or consume from partitions broker ${u.broker} leads`,
      explanation:
        'Orderers connect to the addresses brokers advertise in ZooKeeper, not to the bootstrap list. When an ' +
        "orderer cannot reach a partition's leader, its channel stops (Broadcast answers SERVICE_UNAVAILABLE). " +
        'Fix advertised.listeners (KAFKA_ADVERTISED_LISTENERS) so that it resolves and routes from the orderers, ' +
        'or the network between them (seed 001).',
    };
  }
  if (fromBroker !== undefined) {
    const self = fromBroker === u.broker;
    const isController = controllerId !== null && controllerId === fromBroker;
    const role = isController
      ? `broker ${fromBroker} is the controller, so`
      : `if broker ${fromBroker} is or becomes the controller,`;
    return {
      summary: self
        ? `Broker ${u.broker}'s container ${u.container} cannot reach its own advertised address ${addrs}${err}: ` +
          `as controller it could not send leader and ISR changes to itself`
        : `Broker ${fromBroker}'s container ${u.container} cannot reach broker ${u.broker} at ${addrs}${err}: ` +
          `${role} it cannot send leader and ISR changes to broker ${u.broker}`,
      explanation:
        'The controller pushes every leader and ISR change to each broker over the address that broker advertises, ' +
        'including its own. A broker the controller cannot reach keeps stale metadata: clients get ' +
        'LEADER_NOT_AVAILABLE while ZooKeeper and kafka-topics.sh --describe look healthy (seed 001). The address ' +
        'must be reachable from every broker that may become controller and from the orderers. Fix ' +
        'advertised.listeners or the route, then restart the broker.' +
        line,
    };
  }
  return {
    summary: `Container ${u.container} cannot reach broker ${u.broker} at ${addrs}${err}`,
    explanation:
      'A broker advertises an address others cannot reach: clients there cannot talk to that broker (seed 001).' +
      line,
  };
}

export function containerChecks(snapshot: ClusterSnapshot, _ctx: unknown = {}): Finding[] {
  const findings: Finding[] = [];
  const nowMs = Number.isNaN(Date.parse(snapshot.generatedAt))
    ? Date.now()
    : Date.parse(snapshot.generatedAt);
  const containers = snapshot.containers ?? [];
  const byName = new Map(containers.map((c) => [c.name, c]));

  for (const c of containers) {
    if (endpointDown(c)) continue;
    if (!c.found) {
      findings.push(notFound(c));
      continue;
    }
    const f = containerDown(snapshot, c, nowMs);
    if (f) findings.push(f);
  }

  // Brokers known to be down are reported as such; failing to reach them is a consequence.
  const registered = snapshot.zookeeper ? new Set(snapshot.zookeeper.brokers.map((b) => b.id)) : null;
  const alive = (id: number) => registered === null || registered.has(id);
  const controllerId = snapshot.zookeeper?.controller?.brokerId ?? null;

  const groups = new Map<string, Unreachable>();
  for (const p of snapshot.reachability) {
    if (p.from === 'opsbot' || p.ok || !alive(p.brokerId)) continue;
    const k = `${p.brokerId}\u0000${p.from}`;
    const g = groups.get(k);
    if (g) g.probes.push(p);
    else groups.set(k, { broker: p.brokerId, container: p.from, probes: [p] });
  }
  // Seed 001's evidence in the controller's own log. A broker registers in ZooKeeper a moment before its
  // listener accepts, so the controller logs a few failed connections at every broker start: lines no later
  // than that (or from a previous life of the broker) are not evidence; seed 001's failures go on and on.
  const registeredAt = new Map((snapshot.zookeeper?.brokers ?? []).map((b) => [b.id, b.timestamp]));
  for (const m of snapshot.logs) {
    const parsed = parseControllerConnectionLine(m.line);
    if (!parsed || !alive(parsed.broker)) continue;
    const since = registeredAt.get(parsed.broker);
    const last = m.at !== undefined ? Date.parse(m.at) : NaN;
    if (since !== undefined && Number.isFinite(last) && last <= since + STARTUP_GRACE_MS) continue;
    const container = m.container ?? m.origin;
    const k = `${parsed.broker}\u0000${container}`;
    const g = groups.get(k);
    if (g) {
      if (!g.log || (m.severity === 'critical' && g.log.severity !== 'critical')) g.log = m;
    } else {
      groups.set(k, { broker: parsed.broker, container, probes: [], log: m });
    }
  }

  for (const g of [...groups.values()].sort(
    (a, b) => a.broker - b.broker || compareText(a.container, b.container),
  )) {
    const from = byName.get(g.container);
    let summary: string;
    let explanation: string;
    if (g.probes.length === 0 && g.log) {
      const ctl = parseControllerConnectionLine(g.log.line);
      summary =
        `The controller (broker ${ctl?.controller ?? '?'}, container ${g.container}) cannot connect to broker ` +
        `${g.broker}${ctl?.address ? ` at ${ctl.address}` : ''}: logged ${plural(g.log.count, 'time')}` +
        `${g.log.at ? `, last at ${g.log.at}` : ''}: "${truncate(g.log.line, 300)}"`;
      explanation =
        'The controller pushes every leader and ISR change to each broker over the address that broker ' +
        'advertises. This one cannot be reached from the controller: clients get LEADER_NOT_AVAILABLE while ' +
        'ZooKeeper and kafka-topics.sh --describe look healthy (seed 001). Fix advertised.listeners ' +
        '(KAFKA_ADVERTISED_LISTENERS) so that the address resolves and routes from every broker and orderer, then ' +
        'restart the broker.';
    } else {
      ({ summary, explanation } = probeSummary(g, from, controllerId));
    }
    findings.push({
      code: 'BROKER_UNREACHABLE',
      severity: 'critical',
      subject: { broker: g.broker, container: g.container },
      summary,
      explanation,
      evidence: {
        broker: g.broker,
        from: g.container,
        ...(from ? { fromRole: from.role, ...(from.runs !== undefined ? { fromRuns: from.runs } : {}) } : {}),
        failed: g.probes.map((p) => ({ endpoint: p.endpoint, error: p.error ?? null, ms: p.ms })),
        ...(g.log ? { address: parseControllerConnectionLine(g.log.line)?.address ?? null } : {}),
        controller: controllerId,
        ...(g.log
          ? {
              log: {
                line: g.log.line,
                at: g.log.at ?? null,
                count: g.log.count,
                firstAt: g.log.firstAt ?? null,
              },
            }
          : {}),
      },
      repairs: [],
    });
  }
  return findings;
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
