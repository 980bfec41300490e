import { describe, expect, it } from 'vitest';
import { containerChecks } from '../../src/checks/containers.js';
import type {
  ClusterSnapshot,
  ContainerObservation,
  EndpointProbe,
  LogMatch,
} from '../../src/model/index.js';

const NOW = '2026-11-21T10:00:00.000Z';

function snapshot(parts: {
  containers?: ContainerObservation[] | null;
  reachability?: EndpointProbe[];
  logs?: LogMatch[];
  registered?: number[] | null;
  controller?: number;
  /** Registration time (ms) by broker id, as /brokers/ids/N's timestamp. */
  registeredAt?: Record<number, number>;
}): ClusterSnapshot {
  const registered = parts.registered === undefined ? [1, 2, 3] : parts.registered;
  return {
    cluster: 'lab',
    generatedAt: NOW,
    scope: {},
    sources: { docker: { ok: true, ms: 5 } },
    expected: { bootstrap: [], brokerIds: [1, 2, 3], zookeeper: [], channels: ['pubchain'] },
    zookeeper:
      registered === null
        ? null
        : {
            members: [],
            controller: parts.controller !== undefined ? { brokerId: parts.controller } : null,
            brokers: registered.map((id) => ({
              id,
              host: '127.0.0.1',
              port: 19090 + id,
              endpoints: [`PLAINTEXT://127.0.0.1:${19090 + id}`],
              ...(parts.registeredAt?.[id] !== undefined ? { timestamp: parts.registeredAt[id] } : {}),
            })),
            partitions: [],
            topicConfigs: {},
            brokerConfigOverrides: {},
            reassignment: null,
            malformed: [],
          },
    kafka: null,
    reachability: parts.reachability ?? [],
    orderers: null,
    containers: parts.containers === undefined ? [] : parts.containers,
    logs: parts.logs ?? [],
  };
}

function running(
  name: string,
  role: ContainerObservation['role'],
  runs: string | number,
  extra: Partial<ContainerObservation> = {},
): ContainerObservation {
  return {
    name,
    role,
    runs,
    endpoint: 'lab',
    found: true,
    id: `${name}-id`,
    state: 'running',
    running: true,
    restartCount: 0,
    oomKilled: false,
    exitCode: 0,
    startedAt: '2026-11-20T10:00:00.000Z',
    restartPolicy: 'unless-stopped',
    ...extra,
  };
}

describe('containerChecks: CONTAINER_DOWN', () => {
  it('says nothing about healthy containers', () => {
    expect(
      containerChecks(
        snapshot({
          containers: [running('kafka1', 'broker', 1), running('zk1', 'zookeeper', '127.0.0.1:2181')],
        }),
      ),
    ).toEqual([]);
    expect(containerChecks(snapshot({ containers: null }))).toEqual([]);
  });

  it('reports a stopped broker container with its exit code and a start repair', () => {
    const c = running('kafka2', 'broker', 2, {
      state: 'exited',
      running: false,
      exitCode: 137,
      finishedAt: '2026-11-21T09:58:00.000Z',
    });
    const [f, ...rest] = containerChecks(snapshot({ containers: [c] }));
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      code: 'CONTAINER_DOWN',
      severity: 'critical',
      subject: { container: 'kafka2', broker: 2 },
      repairs: [{ kind: 'start-container', args: { container: 'kafka2', broker: 2 } }],
    });
    expect(f!.summary).toBe(
      "Broker 2's container kafka2 is exited with exit code 137 (SIGKILL) (stopped 2 min ago)",
    );
    expect(f!.evidence).toMatchObject({
      exitCode: 137,
      running: false,
      finishedAt: '2026-11-21T09:58:00.000Z',
    });
  });

  it('reports a container in the restarting state, OOM-killed', () => {
    const c = running('zk2', 'zookeeper', '127.0.0.1:2182', {
      state: 'restarting',
      running: false,
      restartCount: 7,
      oomKilled: true,
      exitCode: 137,
    });
    const [f] = containerChecks(snapshot({ containers: [c] }));
    expect(f!.summary).toBe(
      "ZooKeeper 127.0.0.1:2182's container zk2 keeps restarting (7 restarts; last exit with exit code 137 (SIGKILL), killed for lack of memory (OOMKilled))",
    );
    expect(f!.subject).toEqual({ container: 'zk2', zookeeper: '127.0.0.1:2182' });
    expect(f!.explanation).toMatch(/memory limit/);
  });

  it('reports a restart count that grew since the last check, quoting recent log lines', () => {
    const c = running('orderer1', 'orderer', 'orderer1.example.com', {
      restartCount: 2,
      previousRestartCount: 1,
      startedAt: '2026-11-21T09:59:30.000Z',
    });
    const logs: LogMatch[] = [
      {
        origin: 'orderer1.example.com',
        container: 'orderer1',
        signature: 'x',
        severity: 'critical',
        line: 'PANIC boom',
        at: '2026-11-21T09:59:29.000Z',
        count: 1,
      },
    ];
    const [f] = containerChecks(snapshot({ containers: [c], logs }));
    expect(f!.summary).toBe(
      "Orderer orderer1.example.com's container orderer1 restarted 1 time since the last check; it runs again since 2026-11-21T09:59:30.000Z",
    );
    expect(f!.subject).toEqual({ container: 'orderer1', orderer: 'orderer1.example.com' });
    expect(f!.evidence.logs).toEqual([
      { signature: 'x', severity: 'critical', line: 'PANIC boom', at: '2026-11-21T09:59:29.000Z', count: 1 },
    ]);
  });

  it('without an earlier count, flags a recent restart but not an old one', () => {
    const recent = running('kafka1', 'broker', 1, { restartCount: 1, startedAt: '2026-11-21T09:59:00.000Z' });
    const old = running('kafka3', 'broker', 3, { restartCount: 4, startedAt: '2026-11-19T09:59:00.000Z' });
    const found = containerChecks(snapshot({ containers: [recent, old] }));
    expect(found.map((f) => f.subject.container)).toEqual(['kafka1']);
    expect(found[0]!.summary).toBe(
      "Broker 1's container kafka1 restarted 60 s ago (restart count 1); it runs again",
    );
    // The same count as last time: nothing new.
    expect(containerChecks(snapshot({ containers: [{ ...recent, previousRestartCount: 1 }] }))).toEqual([]);
  });

  it('reports a missing container as SOURCE_UNAVAILABLE, and leaves a dead endpoint to the source check', () => {
    const missing: ContainerObservation = {
      name: 'kafka9',
      role: 'broker',
      runs: 9,
      endpoint: 'lab',
      found: false,
      error: 'no container named kafka9 on Docker endpoint "lab" (unix:///x)',
    };
    const unreachable: ContainerObservation = {
      name: 'kafka8',
      role: 'broker',
      runs: 8,
      endpoint: 'lab',
      found: false,
      error: 'Docker endpoint "lab" (unix:///x) unavailable: ping: refused',
    };
    const found = containerChecks(snapshot({ containers: [missing, unreachable] }));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      code: 'SOURCE_UNAVAILABLE',
      severity: 'warning',
      subject: { source: 'docker', container: 'kafka9', broker: 9 },
    });
    expect(found[0]!.summary).toBe(
      `Broker 9's container kafka9 could not be read: no container named kafka9 on Docker endpoint "lab" (unix:///x)`,
    );
  });
});

describe('containerChecks: BROKER_UNREACHABLE from inside containers (seed 001)', () => {
  const containers = [
    running('kafka1', 'broker', 1),
    running('kafka2', 'broker', 2),
    running('orderer1', 'orderer', 'orderer1.example.com'),
  ];
  const probe = (brokerId: number, from: string, ok: boolean, error?: string): EndpointProbe => ({
    brokerId,
    endpoint: `PLAINTEXT://10.0.0.${brokerId}:9092`,
    host: `10.0.0.${brokerId}`,
    port: 9092,
    from,
    ok,
    ms: 3,
    ...(error ? { error } : {}),
  });

  it('says who cannot reach which address and what follows, per broker and container', () => {
    const reachability = [
      probe(3, 'opsbot', true),
      probe(3, 'kafka1', false, 'Connection refused (bash)'),
      probe(3, 'kafka2', true),
      probe(3, 'orderer1', false, 'no connection within 3 s (nc)'),
      probe(1, 'kafka1', true),
    ];
    const found = containerChecks(snapshot({ containers, reachability, controller: 1 }));
    expect(found.map((f) => [f.code, f.subject])).toEqual([
      ['BROKER_UNREACHABLE', { broker: 3, container: 'kafka1' }],
      ['BROKER_UNREACHABLE', { broker: 3, container: 'orderer1' }],
    ]);
    expect(found[0]!.summary).toBe(
      "Broker 1's container kafka1 cannot reach broker 3 at 10.0.0.3:9092 (Connection refused (bash)): broker 1 is the controller, so it cannot send leader and ISR changes to broker 3",
    );
    expect(found[1]!.summary).toBe(
      "Orderer orderer1.example.com's container orderer1 cannot reach broker 3 at 10.0.0.3:9092 (no connection within 3 s (nc)): the orderer cannot produce to or consume from partitions broker 3 leads",
    );
    expect(found[0]!.severity).toBe('critical');
  });

  it('explains a broker that cannot reach its own advertised address, and a non-controller', () => {
    const found = containerChecks(
      snapshot({
        containers,
        reachability: [
          probe(2, 'kafka2', false, 'Connection refused'),
          probe(3, 'kafka2', false, 'Connection refused'),
        ],
        controller: 1,
      }),
    );
    expect(found[0]!.summary).toMatch(
      /^Broker 2's container kafka2 cannot reach its own advertised address 10\.0\.0\.2:9092/,
    );
    expect(found[1]!.summary).toMatch(/if broker 2 is or becomes the controller, it cannot send/);
  });

  it('ignores probes of a broker that is not registered (reported as BROKER_NOT_REGISTERED elsewhere)', () => {
    expect(
      containerChecks(
        snapshot({ containers, reachability: [probe(3, 'kafka1', false, 'refused')], registered: [1, 2] }),
      ),
    ).toEqual([]);
  });

  it('does not count the controller failing to connect while the broker was starting (or in an earlier life)', () => {
    const line =
      "[2026-11-21 09:59:58,001] WARN [Controller-1-to-broker-2-send-thread]: Controller 1's connection to broker 10.0.0.2:9092 (id: 2 rack: null) was unsuccessful (kafka.controller.RequestSendThread)";
    const match = (at: string): LogMatch[] => [
      {
        origin: 'kafka1',
        container: 'kafka1',
        signature: 'kafka.controller.broker-connection-failed',
        severity: 'critical',
        line,
        at,
        count: 3,
      },
    ];
    const registeredAt = { 2: Date.parse('2026-11-21T09:59:50.000Z') };
    // Last failure 8 s after broker 2 registered: its listener was not open yet.
    expect(
      containerChecks(
        snapshot({ containers, logs: match('2026-11-21T09:59:58.000Z'), controller: 1, registeredAt }),
      ),
    ).toEqual([]);
    // Still failing 40 s after it registered: seed 001.
    expect(
      containerChecks(
        snapshot({ containers, logs: match('2026-11-21T10:00:30.000Z'), controller: 1, registeredAt }),
      ),
    ).toHaveLength(1);
  });

  it("turns the controller's log line into a finding quoting the line and its time", () => {
    const line =
      "[2026-11-21 09:59:58,001] WARN [Controller-1-to-broker-2-send-thread]: Controller 1's connection to broker 10.0.0.2:9092 (id: 2 rack: null) was unsuccessful (kafka.controller.RequestSendThread)";
    const logs: LogMatch[] = [
      {
        origin: 'kafka1',
        container: 'kafka1',
        signature: 'kafka.controller.broker-connection-failed',
        severity: 'critical',
        line,
        at: '2026-11-21T09:59:58.000Z',
        firstAt: '2026-11-21T09:50:00.000Z',
        count: 12,
      },
    ];
    const [f, ...rest] = containerChecks(snapshot({ containers, logs, controller: 1 }));
    expect(rest).toEqual([]);
    expect(f!.subject).toEqual({ broker: 2, container: 'kafka1' });
    expect(f!.summary).toBe(
      `The controller (broker 1, container kafka1) cannot connect to broker 2 at 10.0.0.2:9092: logged 12 times, last at 2026-11-21T09:59:58.000Z: "${line}"`,
    );
    expect(f!.evidence.log).toEqual({
      line,
      at: '2026-11-21T09:59:58.000Z',
      count: 12,
      firstAt: '2026-11-21T09:50:00.000Z',
    });

    // With a failed probe from the same container: one finding, the probe's words, the log line as evidence.
    const both = containerChecks(
      snapshot({
        containers,
        logs,
        controller: 1,
        reachability: [probe(2, 'kafka1', false, 'Connection refused')],
      }),
    );
    expect(both).toHaveLength(1);
    expect(both[0]!.summary).toMatch(/^Broker 1's container kafka1 cannot reach broker 2/);
    expect(both[0]!.explanation).toContain(line);
  });
});
