import { describe, expect, it } from 'vitest';
import type { ClusterConfig } from '../../src/config/index.js';
import type { ClusterSnapshot, ContainerObservation } from '../../src/model/index.js';
import { planContainerAction, verifyContainerAction } from '../../src/repairs/containers.js';
import { repairKind } from '../../src/repairs/registry.js';
import { addTopic, setPartition, snap, stopBroker } from '../fixtures/snapshots/builder.js';

function config(): ClusterConfig {
  return {
    kafka: {
      brokers: ['127.0.0.1:19092'],
      clientId: 'fabric-opsbot',
      connectTimeoutMs: 1000,
      requestTimeoutMs: 1000,
      containers: { '2': { name: 'kafka2' }, '3': { label: 'role=kafka3' } },
    },
    zookeeper: {
      connect: '127.0.0.1:12181,127.0.0.1:12182,127.0.0.1:12183',
      sessionTimeoutMs: 1000,
      connectTimeoutMs: 500,
      containers: { '127.0.0.1:12181': { name: 'zk1' } },
    },
    orderers: [
      {
        name: 'orderer1.example.com',
        channels: ['pubchain', 'testchainid'],
        container: { name: 'orderer1' },
      },
    ],
    docker: { endpoints: { lab: { socketPath: '/run/docker.sock', timeoutMs: 5000 } } },
    checks: { everySeconds: 300, logWindowMinutes: 60 },
    repairs: { padMaxMessages: 10000, approvalTtlMinutes: 15, reassignThrottleBytes: 10_000_000 },
  };
}

function obs(
  name: string,
  role: ContainerObservation['role'],
  runs: string | number,
  running = true,
): ContainerObservation {
  return { name, role, runs, endpoint: 'lab', found: true, running, state: running ? 'running' : 'exited' };
}

function withContainers(mutate?: (s: ClusterSnapshot) => void): ClusterSnapshot {
  return snap((s) => {
    s.sources.docker = { ok: true, ms: 5 };
    s.containers = [
      obs('kafka2', 'broker', 2),
      obs('kafka-three', 'broker', 3),
      obs('zk1', 'zookeeper', '127.0.0.1:12181'),
      obs('orderer1', 'orderer', 'orderer1.example.com'),
    ];
    mutate?.(s);
  });
}

describe('restart-container / start-container planners', () => {
  it('a broker by id: restart, then wait until it is registered and back in the ISR', () => {
    const plan = planContainerAction(withContainers(), 'lab', config(), 'restart', { broker: 2 });
    expect(plan.refusal, plan.refusal ?? '').toBeNull();
    expect(plan.steps).toEqual([
      { action: 'restart-container', container: 'kafka2' },
      {
        action: 'wait',
        for: 'broker 2 registered in ZooKeeper again and back in the ISR of its partitions',
        timeoutMs: 300_000,
      },
    ]);
    expect(plan.expected).toEqual({
      container: 'kafka2',
      role: 'broker',
      runs: 2,
      running: true,
      registered: true,
      inIsr: true,
    });
    expect(plan.preconditions.find((p) => p.check === 'stopping the broker is safe')?.ok).toBe(true);
  });

  it('a label reference resolves through the name the Docker gatherer saw', () => {
    const plan = planContainerAction(withContainers(), 'lab', config(), 'restart', { broker: 3 });
    expect(plan.steps[0]).toEqual({ action: 'restart-container', container: 'kafka-three' });
    const byName = planContainerAction(withContainers(), 'lab', config(), 'restart', {
      container: 'kafka-three',
    });
    expect(byName.steps[0]).toEqual({ action: 'restart-container', container: 'kafka-three' });
  });

  it('refuses to restart a broker whose stop would take a partition offline (drain it first)', () => {
    const s = withContainers((x) => addTopic(x, 'solo', 1, 1, { brokers: [2] }));
    const plan = planContainerAction(s, 'lab', config(), 'restart', { broker: 2 });
    expect(plan.refusal).toMatch(/stopping the broker is safe - Stopping broker 2 is NOT safe.*solo\/0/);
    expect(plan.steps).toEqual([]);
  });

  it('an orderer by name: wait for "Start phase completed successfully" on each channel', () => {
    const plan = planContainerAction(withContainers(), 'lab', config(), 'restart', {
      container: 'orderer1.example.com',
    });
    expect(plan.refusal).toBeNull();
    expect(plan.steps[0]).toEqual({ action: 'restart-container', container: 'orderer1' });
    expect(plan.steps[1]).toMatchObject({
      action: 'wait',
      for: 'orderer orderer1.example.com to log "Start phase completed successfully" for pubchain, testchainid',
    });
  });

  it('a ZooKeeper member: refused when the ensemble would lose its quorum', () => {
    const ok = planContainerAction(withContainers(), 'lab', config(), 'restart', { container: 'zk1' });
    expect(ok.refusal).toBeNull();
    const s = withContainers((x) => {
      x.zookeeper!.members[1] = { address: '127.0.0.1:12182', ok: false, error: 'ECONNREFUSED' };
    });
    expect(
      planContainerAction(s, 'lab', config(), 'restart', { container: '127.0.0.1:12181' }).refusal,
    ).toMatch(/quorum survives the restart - 2 of 3 members serve; without 127.0.0.1:12181, 1 would/);
  });

  it('refuses containers outside the inventory, unknown to Docker, or Docker not read', () => {
    expect(
      planContainerAction(withContainers(), 'lab', config(), 'restart', { container: 'postgres' }).refusal,
    ).toMatch(/postgres is not a container of cluster lab's inventory \(known: broker 2 \(kafka2\)/);
    expect(planContainerAction(withContainers(), 'lab', config(), 'restart', { broker: 4 }).refusal).toMatch(
      /broker 4 is not a container/,
    );
    const gone = withContainers((x) => {
      x.containers = x.containers!.map((c) =>
        c.name === 'kafka2' ? { ...c, found: false, error: 'no such container' } : c,
      );
    });
    expect(planContainerAction(gone, 'lab', config(), 'restart', { broker: 2 }).refusal).toMatch(
      /kafka2 not found on the Docker endpoint: no such container/,
    );
    const unread = withContainers((x) => {
      x.containers = null;
      x.sources.docker = { ok: false, error: 'connect ENOENT /run/docker.sock' };
    });
    expect(planContainerAction(unread, 'lab', config(), 'restart', { broker: 2 }).refusal).toMatch(
      /Docker not read: connect ENOENT/,
    );
  });

  it('start-container: only a stopped container', () => {
    expect(planContainerAction(withContainers(), 'lab', config(), 'start', { broker: 2 }).refusal).toMatch(
      /already runs: nothing to start/,
    );
    const s = withContainers((x) => {
      x.containers![0] = obs('kafka2', 'broker', 2, false);
      stopBroker(x, 2);
    });
    const plan = planContainerAction(s, 'lab', config(), 'start', { broker: 2 });
    expect(plan.refusal).toBeNull();
    expect(plan.steps.map((st) => st.action)).toEqual(['start-container', 'wait']);
    expect(plan.rollback).toMatch(/docker stop kafka2/);
  });

  it('the suggestion of findings ({ container, broker }) must agree', () => {
    const plan = planContainerAction(withContainers(), 'lab', config(), 'restart', {
      container: 'orderer1',
      broker: 2,
    });
    expect(plan.refusal).toMatch(/orderer1 is orderer orderer1.example.com, not broker 2/);
  });

  it('verification: running, registered and in the ISR', () => {
    const s = withContainers();
    const plan = planContainerAction(s, 'lab', config(), 'restart', { broker: 2 });
    expect(verifyContainerAction(s, plan)).toEqual({
      ok: true,
      detail: 'kafka2 runs; broker 2 registered and in the ISR of all its partitions',
    });
    setPartition(s, 'pubchain', 0, { isr: [3, 4] });
    expect(verifyContainerAction(s, plan)).toMatchObject({
      ok: false,
      detail: /broker 2 is not in the ISR of 1 partition\(s\): pubchain\/0/,
    });
  });

  it('parses <container|broker id|orderer name>', () => {
    const k = repairKind('restart-container');
    expect(k.parseArgs(['2'])).toEqual({ broker: 2 });
    expect(k.parseArgs(['orderer1.example.com'])).toEqual({ container: 'orderer1.example.com' });
    expect(() => k.parseArgs([])).toThrow(/takes <container\|broker id\|orderer name>/);
    expect(repairKind('start-container').plan(withContainers(), 'lab', config(), { broker: 2 }).kind).toBe(
      'start-container',
    );
  });
});
