/**
 * Containers of a cluster through the Docker Engine API: the broker, ZooKeeper and orderer containers named in
 * the inventory, their state, their recent log lines matched against known signatures, and whether each broker
 * and orderer container can open a TCP connection to every broker's advertised address (seed 001: an address
 * must be reachable by the orderers and by every broker that may become controller, not only by this tool).
 *
 * Nothing here throws: an unreachable Docker endpoint, an unknown container or an exec that is not possible
 * becomes a status, an observation with `error`, or a `notChecked` line.
 */
import type { ClusterConfig, ContainerRef } from '../config/schema.js';
import { ConfigError, NotFoundError, SourceError, describeError } from '../errors/index.js';
import type { ContainerObservation, EndpointProbe, LogMatch, SourceStatus } from '../model/index.js';
import { createDockerClients, describeDockerError, toMs, type DockerClient } from './client.js';
import { defaultContainerMatcher, type LogLineMatcher } from './signatures.js';
import type { LogLine } from './stream.js';

export type ContainerRole = ContainerObservation['role'];

/** A container the inventory names: which role, what it runs, how to find it. */
export interface ContainerTarget {
  role: ContainerRole;
  /** Broker id, ZooKeeper member address or orderer name. */
  runs: string | number;
  ref: ContainerRef;
  /** Name of the docker endpoint (the ref's, else the first one). */
  endpoint: string;
  /** "broker 1", "zookeeper 127.0.0.1:2181", "orderer orderer1.example.com". */
  key: string;
}

/** An advertised endpoint to probe from inside containers: "PLAINTEXT://host:port" or "host:port". */
export interface ProbeTarget {
  brokerId: number;
  endpoint: string;
}

export interface GatherContainersOptions {
  /** Clients by endpoint name; built from `docker.endpoints` when absent. */
  clients?: Map<string, DockerClient>;
  /**
   * Read log lines at or after this time, per container: keyed by container name (as in
   * ContainerObservation.name) or by target key ("broker 1"). Pass back `cursors` of the previous gather.
   */
  since?: Record<string, Date | string | number>;
  /** For containers without a `since`: default now - checks.logWindowMinutes. */
  defaultSince?: Date | string | number;
  /** At most this many lines per container (default 1000). */
  tail?: number;
  /** Log matcher for every container (default: the Kafka/ZooKeeper catalogue of signatures.ts). */
  matcher?: LogLineMatcher;
  /** Per-role matchers, e.g. `{ orderer: matchLogLines }`; override `matcher` for that role. */
  matchers?: Partial<Record<ContainerRole, LogLineMatcher>>;
  /** Skip reading logs. */
  skipLogs?: boolean;
  /** Advertised endpoints to probe from inside containers (e.g. from ZooKeeper's /brokers/ids). */
  probe?: ProbeTarget[];
  /** Roles whose containers probe (default broker and orderer: they are who must reach the brokers). */
  probeFrom?: ContainerRole[];
  /** Connect timeout of one probe (default kafka.connectTimeoutMs). */
  probeTimeoutMs?: number;
  /** Observations of the previous check: a restart count that grew means a crash since. */
  previous?: readonly ContainerObservation[];
  /** How many containers are read at once (default 8). */
  concurrency?: number;
  now?: () => Date;
}

export interface ContainerGather {
  containers: ContainerObservation[];
  logs: LogMatch[];
  probes: EndpointProbe[];
  status: SourceStatus;
  /** Per container name: the `since` to pass next time so lines are neither missed nor counted twice. */
  cursors: Record<string, string>;
}

/** Every container the inventory names, in a stable order: brokers by id, ZooKeeper members, orderers. */
export function containerTargets(cluster: ClusterConfig): ContainerTarget[] {
  const first = Object.keys(cluster.docker?.endpoints ?? {})[0] ?? '';
  const out: ContainerTarget[] = [];
  const brokers = Object.entries(cluster.kafka.containers ?? {}).sort(([a], [b]) => Number(a) - Number(b));
  for (const [id, ref] of brokers) {
    out.push({ role: 'broker', runs: Number(id), ref, endpoint: ref.endpoint ?? first, key: `broker ${id}` });
  }
  for (const [member, ref] of Object.entries(cluster.zookeeper.containers ?? {})) {
    out.push({
      role: 'zookeeper',
      runs: member,
      ref,
      endpoint: ref.endpoint ?? first,
      key: `zookeeper ${member}`,
    });
  }
  for (const o of cluster.orderers) {
    if (!o.container) continue;
    out.push({
      role: 'orderer',
      runs: o.name,
      ref: o.container,
      endpoint: o.container.endpoint ?? first,
      key: `orderer ${o.name}`,
    });
  }
  return out;
}

function refText(ref: ContainerRef): string {
  return ref.name !== undefined ? ref.name : `label ${ref.label}`;
}

/**
 * Find the one container a reference means: by name (or id), or by a label that must match exactly one.
 * Returns its id and name, or why not.
 */
export async function resolveContainer(
  client: DockerClient,
  ref: ContainerRef,
): Promise<{ id: string; name: string } | { error: string; notFound: boolean; unreachable?: string }> {
  try {
    if (ref.name !== undefined) {
      const info = await client.inspect(ref.name);
      return { id: info.Id, name: info.Name.replace(/^\//, '') };
    }
    const list = await client.listByLabel(ref.label!);
    if (list.length === 0) {
      return { error: `no container on ${client.label} has label ${ref.label}`, notFound: true };
    }
    if (list.length > 1) {
      const names = list.map((c) => (c.Names[0] ?? c.Id.slice(0, 12)).replace(/^\//, '')).sort();
      return {
        error: `label ${ref.label} matches ${list.length} containers on ${client.label} (${names.join(', ')}); it must match exactly one`,
        notFound: true,
      };
    }
    const c = list[0]!;
    return { id: c.Id, name: (c.Names[0] ?? c.Id.slice(0, 12)).replace(/^\//, '') };
  } catch (err) {
    if (err instanceof NotFoundError) {
      return { error: `no container named ${ref.name} on ${client.label}`, notFound: true };
    }
    const unreachable = unreachableReason(client, err);
    return {
      error: describeError(err),
      notFound: false,
      ...(unreachable !== undefined ? { unreachable } : {}),
    };
  }
}

/** Inspect one container into an observation (state, restarts, OOM, exit code, health, start time). */
export async function observeContainer(
  client: DockerClient,
  target: Pick<ContainerTarget, 'role' | 'runs' | 'ref'>,
  previous?: ContainerObservation,
): Promise<{ observation: ContainerObservation; tty: boolean; unreachable?: string }> {
  const base = {
    role: target.role,
    runs: target.runs,
    endpoint: client.name,
  };
  const resolved = await resolveContainer(client, target.ref);
  if ('error' in resolved) {
    return {
      observation: { name: refText(target.ref), ...base, found: false, error: resolved.error },
      tty: false,
      ...(resolved.unreachable !== undefined ? { unreachable: resolved.unreachable } : {}),
    };
  }
  try {
    const info = await client.inspect(resolved.id);
    const s = info.State;
    const health = (s as { Health?: { Status?: string } }).Health?.Status;
    const finished = s.FinishedAt && !s.FinishedAt.startsWith('0001-') ? s.FinishedAt : undefined;
    const policy = info.HostConfig?.RestartPolicy?.Name;
    const obs: ContainerObservation = {
      name: info.Name.replace(/^\//, ''),
      ...base,
      found: true,
      id: info.Id,
      state: s.Status,
      running: s.Running,
      restartCount: info.RestartCount,
      oomKilled: s.OOMKilled,
      exitCode: s.ExitCode,
      ...(health ? { health } : {}),
      ...(s.StartedAt && !s.StartedAt.startsWith('0001-') ? { startedAt: s.StartedAt } : {}),
      ...(finished ? { finishedAt: finished } : {}),
      ...(policy ? { restartPolicy: policy } : {}),
      ...(previous?.restartCount !== undefined && previous.id === info.Id
        ? { previousRestartCount: previous.restartCount }
        : {}),
      ...(s.Error ? { error: s.Error } : {}),
    };
    return { observation: obs, tty: info.Config.Tty };
  } catch (err) {
    const unreachable = unreachableReason(client, err);
    return {
      observation: {
        name: resolved.name,
        ...base,
        found: err instanceof NotFoundError ? false : true,
        error: describeError(err),
      },
      tty: false,
      ...(unreachable !== undefined ? { unreachable } : {}),
    };
  }
}

/**
 * Why the engine did not answer a call at all (a timeout, a dropped connection), without the endpoint's label;
 * undefined for answers (an unknown container, an HTTP error from the engine) and everything else.
 */
export function unreachableReason(client: DockerClient, err: unknown): string | undefined {
  if (!(err instanceof SourceError) || (err as { statusCode?: unknown }).statusCode !== undefined)
    return undefined;
  const prefix = `${client.label}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

/**
 * The `since` to pass next time. Lines are kept when stamped at or after `since`; the engine may stamp whole
 * seconds (podman), so the newest line's second is read again unless it is safely past (2 s by our clock),
 * which would otherwise count a quiet container's last line at every check.
 */
export function nextCursor(lines: readonly LogLine[], sinceMs: number, readStartMs: number): number {
  let newest: LogLine | undefined;
  for (const l of lines)
    if (l.atMs !== undefined && (newest?.atMs === undefined || l.atMs >= newest.atMs)) newest = l;
  if (newest?.atMs === undefined) return sinceMs;
  if (!newest.wholeSecond) return newest.atMs + 1;
  return newest.atMs + 1000 <= readStartMs - 2000 ? newest.atMs + 1000 : newest.atMs;
}

/**
 * The probe script run inside a container with `/bin/sh -c`: for each host:port it tries bash's /dev/tcp
 * (under `timeout` when present), else `nc -z -w`, else `nc -w` with no input, and prints one line
 * `PROBE|index|rc|method|ns-or-empty|error`. Only TCP connects, to the addresses given.
 */
export const PROBE_SCRIPT = `t=$1; shift
have() { command -v "$1" >/dev/null 2>&1; }
now() { d=$(date +%s%N 2>/dev/null); case $d in ''|*[!0-9]*) echo '';; *) echo "$d";; esac; }
to=''; have timeout && to="timeout $t"
if have bash; then m=bash
elif have nc; then if nc -h 2>&1 | grep -q -- ' -z'; then m=nc-z; else m=nc; fi
else m=none; fi
i=0
for hp in "$@"; do
  h=\${hp%:*}; p=\${hp##*:}; a=$(now)
  case $m in
    bash) err=$($to bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$h" "$p" 2>&1); rc=$?;;
    nc-z) err=$($to nc -z -w "$t" "$h" "$p" 2>&1 </dev/null); rc=$?;;
    nc) err=$($to nc -w "$t" "$h" "$p" 2>&1 </dev/null); rc=$?;;
    *) err='neither bash nor nc in this image'; rc=127;;
  esac
  b=$(now); d=''; [ -n "$a" ] && [ -n "$b" ] && d=$((b - a))
  err=$(printf %s "$err" | tr '\\n|' '  ')
  echo "PROBE|$i|$rc|$m|$d|$err"
  i=$((i + 1))
done
`;

function splitHostPort(endpoint: string): { host: string; port: number } | null {
  const m = /^(?:[A-Za-z0-9_]+:\/\/)?\[?([^\]\s]*?)\]?:(\d{1,5})$/.exec(endpoint.trim());
  if (!m || m[1] === '') return null;
  return { host: m[1]!, port: Number(m[2]) };
}

function cleanProbeError(text: string, rc: number, timeoutS: number): string {
  if (rc === 124 || rc === 143 || rc === 137) return `no connection within ${timeoutS} s`;
  const t = text.trim().replace(/\s+/g, ' ');
  if (t === '') return `exit code ${rc}`;
  const refused = /connection refused/i.test(t);
  if (refused) return 'Connection refused';
  const parts = t.replace(/^(?:bash|nc|sh|timeout)(?:: line \d+)?: /, '').split(/(?<=\S): /);
  return (parts[parts.length - 1] ?? t).slice(0, 200);
}

/**
 * Probe each target from inside one container. Returns probes, or `notChecked` when the exec is not possible
 * (container not running, no shell, no tool, engine refused).
 */
export async function probeFromContainer(
  client: DockerClient,
  container: string,
  targets: readonly ProbeTarget[],
  timeoutMs: number,
): Promise<{ probes: EndpointProbe[]; notChecked?: string }> {
  const parsed = targets.map((t) => ({ t, hp: splitHostPort(t.endpoint) }));
  const probes: EndpointProbe[] = [];
  const good = parsed.filter((p) => p.hp !== null);
  for (const p of parsed) {
    if (p.hp === null) {
      probes.push({
        brokerId: p.t.brokerId,
        endpoint: p.t.endpoint,
        host: '',
        port: 0,
        from: container,
        ok: false,
        ms: 0,
        error: 'endpoint does not parse',
      });
    }
  }
  if (good.length === 0) return { probes };
  const timeoutS = Math.max(1, Math.ceil(timeoutMs / 1000));
  const args = good.map((p) => `${p.hp!.host}:${p.hp!.port}`);
  let res;
  try {
    res = await client.exec(
      container,
      ['/bin/sh', '-c', PROBE_SCRIPT, 'opsbot-probe', String(timeoutS), ...args],
      client.timeoutMs + good.length * (timeoutS * 1000 + 500),
    );
  } catch (err) {
    return { probes, notChecked: `probes from ${container}: exec not possible: ${describeDockerError(err)}` };
  }
  const lines = res.stdout.split('\n').filter((l) => l.startsWith('PROBE|'));
  if (lines.length === 0) {
    const why = (res.stderr || res.stdout).trim().split('\n')[0] || `exit code ${res.exitCode ?? '?'}`;
    return { probes, notChecked: `probes from ${container}: exec not possible: ${why}` };
  }
  const byIndex = new Map<number, string[]>();
  for (const l of lines) {
    const f = l.split('|');
    byIndex.set(Number(f[1]), f);
  }
  const perProbeMs = Math.round((res.ms / good.length) * 10) / 10;
  let unprobed = 0;
  good.forEach((p, i) => {
    const f = byIndex.get(i);
    if (!f) {
      unprobed++;
      return;
    }
    const rc = Number(f[2]);
    const method = f[3] ?? '';
    if (rc === 127 && method === 'none') {
      unprobed++;
      return;
    }
    const ns = f[4] ? Number(f[4]) : NaN;
    const ms = Number.isFinite(ns) ? Math.round(ns / 1e5) / 10 : perProbeMs;
    const ok = rc === 0;
    probes.push({
      brokerId: p.t.brokerId,
      endpoint: p.t.endpoint,
      host: p.hp!.host,
      port: p.hp!.port,
      from: container,
      ok,
      ms,
      ...(ok ? {} : { error: `${cleanProbeError(f.slice(5).join('|'), rc, timeoutS)} (${method})` }),
    });
  });
  if (unprobed > 0) {
    const noTool = lines.some((l) => l.split('|')[3] === 'none');
    return {
      probes,
      notChecked: `probes from ${container}: ${noTool ? 'neither bash nor nc in the image' : `${unprobed} endpoints not probed (exec ended early)`}`,
    };
  }
  return { probes };
}

async function pool<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

/**
 * Gather the containers of a cluster: state, matched log lines and probes from inside. Never throws.
 */
export async function gatherContainers(
  cluster: ClusterConfig,
  opts: GatherContainersOptions = {},
): Promise<ContainerGather> {
  const t0 = performance.now();
  const now = opts.now ?? (() => new Date());
  const targets = containerTargets(cluster);
  const empty = (status: SourceStatus): ContainerGather => ({
    containers: [],
    logs: [],
    probes: [],
    status,
    cursors: {},
  });
  if (targets.length === 0) {
    return empty({
      ok: true,
      ms: 0,
      notChecked: [
        'no containers are listed in the inventory (kafka.containers, zookeeper.containers, orderers[].container)',
      ],
    });
  }
  let clients: Map<string, DockerClient>;
  try {
    clients = opts.clients ?? createDockerClients(cluster);
  } catch (err) {
    return empty({ ok: false, error: err instanceof ConfigError ? err.message : describeError(err) });
  }
  if (clients.size === 0) {
    return empty({ ok: false, error: 'containers are listed but docker.endpoints is empty' });
  }

  // 1. Is each endpoint in use there? One ping each, so that a dead daemon costs one timeout, not one per call.
  const used = [...new Set(targets.map((t) => t.endpoint))];
  const pings = new Map<string, { ok: boolean; ms: number; error?: string }>();
  await Promise.all(
    used.map(async (name) => {
      const c = clients.get(name);
      pings.set(
        name,
        c
          ? await c.ping()
          : {
              ok: false,
              ms: 0,
              error: `no docker endpoint named "${name}" (have: ${[...clients.keys()].join(', ')})`,
            },
      );
    }),
  );

  const notChecked: string[] = [];
  const previousByName = new Map((opts.previous ?? []).map((o) => [o.name, o]));
  const previousByKey = new Map((opts.previous ?? []).map((o) => [`${o.role} ${o.runs}`, o]));
  const tail = opts.tail ?? 1000;
  const defaultSinceMs =
    opts.defaultSince !== undefined
      ? toMs(opts.defaultSince)
      : now().getTime() - cluster.checks.logWindowMinutes * 60_000;
  const probeFrom = new Set(opts.probeFrom ?? ['broker', 'orderer']);
  const probeTimeoutMs = opts.probeTimeoutMs ?? cluster.kafka.connectTimeoutMs;
  const logs: LogMatch[] = [];
  const probes: EndpointProbe[] = [];
  const cursors: Record<string, string> = {};

  // 2. Endpoints that answer /_ping but not the container calls (dockerd stuck on a container lock answers
  //    /_ping all the same): the first call that gets no answer marks the endpoint, the source is reported
  //    unavailable for it, and its other containers are not asked (one timeout, not one per container).
  const stuck = new Map<string, string>();
  const unavailable = (target: ContainerTarget, where: string, why: string): ContainerObservation => ({
    name: refText(target.ref),
    role: target.role,
    runs: target.runs,
    endpoint: target.endpoint,
    found: false,
    error: `${where} unavailable: ${why}`,
  });

  const containers = await pool(targets, opts.concurrency ?? 8, async (target) => {
    const ping = pings.get(target.endpoint)!;
    const client = clients.get(target.endpoint);
    if (!client || !ping.ok) {
      const where = client ? client.label : `docker endpoint "${target.endpoint}"`;
      return unavailable(target, where, ping.error ?? 'no answer');
    }
    const stuckWhy = stuck.get(target.endpoint);
    if (stuckWhy !== undefined) return unavailable(target, client.label, stuckWhy);
    const prev =
      (target.ref.name !== undefined ? previousByName.get(target.ref.name) : undefined) ??
      previousByKey.get(`${target.role} ${target.runs}`);
    const { observation: obs, tty, unreachable } = await observeContainer(client, target, prev);
    if (unreachable !== undefined) {
      const why = `answers /_ping but not container calls: ${unreachable}`;
      if (!stuck.has(target.endpoint)) stuck.set(target.endpoint, why);
      return unavailable(target, client.label, stuck.get(target.endpoint)!);
    }
    if (!obs.found || obs.id === undefined) {
      notChecked.push(`${target.key}: ${obs.error ?? 'container not found'}`);
      return obs;
    }

    if (!opts.skipLogs) {
      const sinceRaw = opts.since?.[obs.name] ?? opts.since?.[target.key];
      const sinceMs = sinceRaw !== undefined ? toMs(sinceRaw) : defaultSinceMs;
      const readStart = Date.now();
      try {
        const lines = await client.logs(obs.id, { since: sinceMs, tail }, tty);
        cursors[obs.name] = new Date(nextCursor(lines, sinceMs, readStart)).toISOString();
        const matcher = opts.matchers?.[target.role] ?? opts.matcher ?? defaultContainerMatcher;
        const origin = target.role === 'orderer' ? String(target.runs) : obs.name;
        const input = lines.map((l) => (l.at !== undefined ? { at: l.at, text: l.text } : { text: l.text }));
        try {
          for (const m of matcher(origin, input)) logs.push({ ...m, container: obs.name });
        } catch (err) {
          notChecked.push(`log signatures of ${obs.name}: the matcher failed: ${describeError(err)}`);
        }
      } catch (err) {
        notChecked.push(`logs of ${obs.name}: ${describeError(err)}`);
      }
    }

    if (opts.probe && opts.probe.length > 0 && probeFrom.has(target.role)) {
      if (!obs.running) {
        notChecked.push(`probes from ${obs.name}: the container is not running`);
      } else {
        const r = await probeFromContainer(client, obs.name, opts.probe, probeTimeoutMs);
        probes.push(...r.probes);
        if (r.notChecked) notChecked.push(r.notChecked);
      }
    }
    return obs;
  });

  const failed = used.filter((n) => !pings.get(n)!.ok || stuck.has(n));
  const status: SourceStatus = {
    ok: failed.length === 0,
    ms: Math.round(performance.now() - t0),
    ...(failed.length > 0
      ? {
          error: failed
            .map((n) => {
              const c = clients.get(n);
              const why = pings.get(n)!.ok ? stuck.get(n) : (pings.get(n)!.error ?? 'no answer');
              return `${c ? c.label : `docker endpoint "${n}"`}: ${why}`;
            })
            .join('; '),
        }
      : {}),
    ...(notChecked.length > 0 ? { notChecked: notChecked.sort() } : {}),
  };
  // Workers finish in any order: sort so that output is stable.
  logs.sort(
    (a, b) =>
      (a.container ?? a.origin).localeCompare(b.container ?? b.origin) ||
      a.signature.localeCompare(b.signature) ||
      a.line.localeCompare(b.line),
  );
  probes.sort(
    (a, b) => a.from.localeCompare(b.from) || a.brokerId - b.brokerId || a.endpoint.localeCompare(b.endpoint),
  );
  return { containers, logs, probes, status, cursors };
}
