/**
 * Step handlers against an in-memory ZooKeeper (the znode layout of ZooKeeper-mode Kafka) and a fake env: the
 * throttle bookkeeping, versioned config writes, the ZooKeeper reassignment path, the election, the wait
 * dispatch. The real brokers are in the *.lab.test.ts files.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ClusterConfig } from '../../src/config/index.js';
import type { RepairPlan, RepairStep } from '../../src/model/index.js';
import { electHandler } from '../../src/repairs/actions/elect.js';
import type { BrokerApis, RepairEnv } from '../../src/repairs/actions/env.js';
import { applyThrottle, reassignHandler, removeThrottle } from '../../src/repairs/actions/reassign.js';
import { topicConfigHandler } from '../../src/repairs/actions/topic-config.js';
import { waitHandler } from '../../src/repairs/actions/wait.js';
import { alterEntityConfig } from '../../src/repairs/actions/zk.js';
import { defaultStepHandlers } from '../../src/repairs/handlers.js';
import type { StepContext } from '../../src/repairs/steps.js';
import type { ZkSession, ZkStat } from '../../src/zookeeper/session.js';
import { createLogger } from '../../src/log.js';

class FakeZk {
  nodes = new Map<string, { data: Buffer; version: number }>();
  seq = 0;
  /** Called after every create (a fake controller reacting to admin znodes). */
  onCreate?: (path: string, zk: FakeZk) => void;
  /** Called before a setData: a concurrent writer. */
  beforeSet?: (path: string, zk: FakeZk) => void;
  connect = 'fake:2181';

  constructor(init: Record<string, unknown> = {}) {
    this.put('/config/changes', '');
    this.put('/admin', '');
    for (const [p, v] of Object.entries(init)) this.put(p, v);
  }
  put(path: string, value: unknown): void {
    const data = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
    const old = this.nodes.get(path);
    this.nodes.set(path, { data, version: old ? old.version + 1 : 0 });
  }
  json(path: string): unknown {
    const n = this.nodes.get(path);
    return n ? JSON.parse(n.data.toString() || 'null') : null;
  }
  private stat(version: number): ZkStat {
    return { version, ephemeralOwner: '0', mtime: 0, ctime: Date.now() };
  }
  private err(code: string, path: string): Error {
    return new Error(`ZooKeeper fake: ${path}: Exception: ${code}[-1]`);
  }
  async getData(path: string) {
    const n = this.nodes.get(path);
    return n ? { data: n.data, stat: this.stat(n.version) } : null;
  }
  async getChildren(path: string) {
    if (!this.nodes.has(path) && ![...this.nodes.keys()].some((k) => k.startsWith(`${path}/`))) return null;
    const kids = new Set<string>();
    for (const k of this.nodes.keys()) {
      if (k.startsWith(`${path}/`)) kids.add(k.slice(path.length + 1).split('/')[0]!);
    }
    return [...kids];
  }
  async exists(path: string) {
    return this.nodes.has(path);
  }
  async create(path: string, data: Buffer, mode = 0) {
    const parent = path.slice(0, path.lastIndexOf('/'));
    if (parent !== '' && !this.nodes.has(parent)) throw this.err('NO_NODE', path);
    const real = mode === 2 ? `${path}${String(this.seq++).padStart(10, '0')}` : path;
    if (this.nodes.has(real)) throw this.err('NODE_EXISTS', path);
    this.nodes.set(real, { data, version: 0 });
    this.onCreate?.(real, this);
    return real;
  }
  async setData(path: string, data: Buffer, version: number) {
    this.beforeSet?.(path, this);
    const n = this.nodes.get(path);
    if (!n) throw this.err('NO_NODE', path);
    if (version !== -1 && version !== n.version) throw this.err('BAD_VERSION', path);
    this.nodes.set(path, { data, version: n.version + 1 });
    return this.stat(n.version + 1);
  }
  async delete(path: string) {
    this.nodes.delete(path);
  }
  close() {}
  /** The config of an entity. */
  cfg(path: string): Record<string, string> | undefined {
    return (this.json(path) as { config?: Record<string, string> } | null)?.config;
  }
  notifications(): string[] {
    return [...this.nodes.entries()]
      .filter(([k]) => k.startsWith('/config/changes/config_change_'))
      .map(([, v]) => (JSON.parse(v.data.toString()) as { entity_path: string }).entity_path);
  }
}

function envFor(
  zk: FakeZk,
  apis: BrokerApis = { answered: [{ address: 'b:1', versions: { 32: [0, 0] } }], errors: [] },
): RepairEnv {
  return {
    clusterName: 'lab',
    config: {} as ClusterConfig,
    withZk: (fn) => fn(zk as unknown as ZkSession),
    kafka: () => {
      throw new Error('no Kafka in this test');
    },
    apiVersions: async () => apis,
    docker: () => new Map(),
    fetch: globalThis.fetch,
    pollMs: 5,
  };
}

function ctx(plan: RepairPlan, index = 0): StepContext {
  return {
    requestId: 'rq-1',
    plan,
    index,
    attempt: 1,
    resumed: false,
    workerId: 'w',
    signal: new AbortController().signal,
    log: createLogger('test'),
  };
}

function planOf(steps: RepairStep[]): RepairPlan {
  return {
    kind: 'drain-broker',
    cluster: 'lab',
    args: { broker: 2 },
    preconditions: [],
    steps,
    expected: {},
    refusal: null,
  };
}

/** A cluster: topic t with partitions 0 [2,3,4] and 1 [1,2,3], everyone in sync, brokers 1-4 live. */
function cluster(): FakeZk {
  return new FakeZk({
    '/brokers/ids/1': '{}',
    '/brokers/ids/2': '{}',
    '/brokers/ids/3': '{}',
    '/brokers/ids/4': '{}',
    '/brokers/topics/t': { version: 1, partitions: { '0': [2, 3, 4], '1': [1, 2, 3] } },
    '/brokers/topics/t/partitions/0/state': { leader: 2, isr: [2, 3, 4] },
    '/brokers/topics/t/partitions/1/state': { leader: 1, isr: [1, 2, 3] },
    '/config/topics/t': { version: 1, config: { 'min.insync.replicas': '2' } },
    '/config/brokers': '',
  });
}

const MOVE: RepairStep & { action: 'reassign-partitions' } = {
  action: 'reassign-partitions',
  partitions: [
    { topic: 't', partition: 0, replicas: [3, 4, 1] },
    { topic: 't', partition: 1, replicas: [1, 3, 4] },
  ],
  throttleBytes: 1000,
};

describe('throttle bookkeeping (ZooKeeper config + change notifications)', () => {
  it('sets the rates on every broker involved and the replica lists on the topic, like kafka-reassign-partitions', async () => {
    const zk = cluster();
    zk.put('/config/topics/t', {
      version: 1,
      config: { 'min.insync.replicas': '2', 'leader.replication.throttled.replicas': '5:9' },
    });
    const current = new Map([
      ['t/0', { replicas: [2, 3, 4], adding: [], removing: [] }],
      ['t/1', { replicas: [1, 2, 3], adding: [], removing: [] }],
    ]);
    const r = await applyThrottle(zk as unknown as ZkSession, MOVE.partitions, current, 1000);
    expect(r).toEqual({ brokers: [1, 2, 3, 4], topics: ['t'] });
    expect(zk.cfg('/config/topics/t')).toEqual({
      'min.insync.replicas': '2',
      'leader.replication.throttled.replicas': '5:9,0:2,0:3,0:4,1:1,1:2,1:3',
      'follower.replication.throttled.replicas': '0:1,1:4',
    });
    for (const id of [1, 2, 3, 4]) {
      expect(zk.cfg(`/config/brokers/${id}`)).toEqual({
        'leader.replication.throttled.rate': '1000',
        'follower.replication.throttled.rate': '1000',
      });
    }
    expect(zk.notifications()).toEqual(['topics/t', 'brokers/1', 'brokers/2', 'brokers/3', 'brokers/4']);

    // Removal: our partitions' entries and the rates equal to ours; someone else's entry (5:9) stays.
    zk.put('/config/brokers/4', {
      version: 1,
      config: { 'leader.replication.throttled.rate': '777', 'follower.replication.throttled.rate': '1000' },
    });
    const removed = await removeThrottle(zk as unknown as ZkSession, MOVE.partitions, 1000);
    expect(removed).toEqual({ topics: ['t'], brokers: [1, 2, 3, 4] });
    expect(zk.cfg('/config/topics/t')).toEqual({
      'min.insync.replicas': '2',
      'leader.replication.throttled.replicas': '5:9',
    });
    expect(zk.cfg('/config/brokers/1')).toEqual({});
    expect(zk.cfg('/config/brokers/4')).toEqual({ 'leader.replication.throttled.rate': '777' });
  });

  it('a versioned write: a concurrent change makes it read again instead of overwriting', async () => {
    const zk = cluster();
    let once = true;
    zk.beforeSet = (path, z) => {
      if (once && path === '/config/topics/t') {
        once = false;
        z.put('/config/topics/t', {
          version: 1,
          config: { 'min.insync.replicas': '2', 'retention.ms': '-1' },
        });
      }
    };
    const r = await alterEntityConfig(zk as unknown as ZkSession, 'topics', 't', (c) => ({
      ...c,
      'flush.messages': '1',
    }));
    expect(r.changed).toBe(true);
    expect(zk.cfg('/config/topics/t')).toEqual({
      'min.insync.replicas': '2',
      'retention.ms': '-1',
      'flush.messages': '1',
    });
  });

  it('creates /config/brokers when Kafka 1.0 has not yet (no broker config ever written)', async () => {
    const zk = cluster();
    zk.nodes.delete('/config/brokers');
    await alterEntityConfig(zk as unknown as ZkSession, 'brokers', '3', (c) => ({
      ...c,
      'leader.replication.throttled.rate': '5',
    }));
    expect(zk.cfg('/config/brokers/3')).toEqual({ 'leader.replication.throttled.rate': '5' });
  });
});

describe('reassign-partitions through ZooKeeper (brokers without AlterPartitionReassignments)', () => {
  it('writes /admin/reassign_partitions once; a resumed attempt sees it in progress and writes nothing', async () => {
    const zk = cluster();
    const h = reassignHandler(envFor(zk));
    expect(h.idempotent).toBe(true);
    const first = await h(MOVE, ctx(planOf([MOVE])));
    expect(first).toMatchObject({
      ok: true,
      detail: expect.stringMatching(
        /^submitted 2 partition reassignment\(s\) through ZooKeeper \/admin\/reassign_partitions, throttled at 1000 B\/s on brokers 1, 2, 3, 4/,
      ),
    });
    expect(zk.json('/admin/reassign_partitions')).toEqual({
      version: 1,
      partitions: [
        { topic: 't', partition: 0, replicas: [3, 4, 1] },
        { topic: 't', partition: 1, replicas: [1, 3, 4] },
      ],
    });
    const again = await h(MOVE, { ...ctx(planOf([MOVE])), resumed: true, attempt: 2 });
    expect(again).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/submitted 0 .*\(2 already in progress\)/),
    });
  });

  it('refuses while another reassignment runs; does nothing when the targets are in place', async () => {
    const zk = cluster();
    zk.put('/admin/reassign_partitions', {
      version: 1,
      partitions: [{ topic: 'other', partition: 3, replicas: [1] }],
    });
    const refused = await reassignHandler(envFor(zk))(MOVE, ctx(planOf([MOVE])));
    expect(refused).toMatchObject({
      ok: false,
      detail:
        'refused: another reassignment is running: other/3 -> [1] (/admin/reassign_partitions); Kafka runs one at a time',
    });
    expect(zk.cfg('/config/brokers/1')).toBeUndefined(); // no throttle either

    const done = cluster();
    done.put('/brokers/topics/t', { version: 1, partitions: { '0': [3, 4, 1], '1': [1, 3, 4] } });
    expect(await reassignHandler(envFor(done))(MOVE, ctx(planOf([MOVE])))).toMatchObject({
      ok: true,
      detail: 'all 2 partition(s) already have their target replicas: nothing submitted',
    });
  });

  it('names the znode when a topic is gone', async () => {
    const zk = cluster();
    zk.nodes.delete('/brokers/topics/t');
    await expect(reassignHandler(envFor(zk))(MOVE, ctx(planOf([MOVE])))).rejects.toThrow(
      /topic t does not exist \(no \/brokers\/topics\/t in ZooKeeper\)/,
    );
  });

  it('the wait: done when the znode is gone and the targets are in sync; then the throttle goes', async () => {
    const zk = cluster();
    const plan = planOf([MOVE, { action: 'wait', for: 'it', timeoutMs: 2000 }]);
    await reassignHandler(envFor(zk))(MOVE, ctx(plan));
    // A fake controller finishes the reassignment a little later.
    setTimeout(() => {
      zk.nodes.delete('/admin/reassign_partitions');
      zk.put('/brokers/topics/t', { version: 1, partitions: { '0': [3, 4, 1], '1': [1, 3, 4] } });
      zk.put('/brokers/topics/t/partitions/0/state', { leader: 3, isr: [3, 4, 1] });
      zk.put('/brokers/topics/t/partitions/1/state', { leader: 1, isr: [1, 3, 4] });
    }, 30);
    const w = await waitHandler(envFor(zk))(plan.steps[1] as RepairStep & { action: 'wait' }, ctx(plan, 1));
    expect(w).toMatchObject({
      ok: true,
      detail: expect.stringMatching(
        /^2 partition\(s\) on their target replicas, all in sync, after .* s; throttle removed \(topics t, brokers 1, 2, 3, 4\)$/,
      ),
    });
    expect(zk.cfg('/config/topics/t')).toEqual({ 'min.insync.replicas': '2' });
  });

  it('the wait gives up after its timeout, saying what it waits for (and the throttle stays)', async () => {
    const zk = cluster();
    const plan = planOf([MOVE, { action: 'wait', for: 'it', timeoutMs: 50 }]);
    await reassignHandler(envFor(zk))(MOVE, ctx(plan));
    const w = await waitHandler(envFor(zk))(plan.steps[1] as RepairStep & { action: 'wait' }, ctx(plan, 1));
    expect(w.ok).toBe(false);
    expect(w.detail).toMatch(
      /did not complete within 0\.1 s: t\/0 reassigning \(\[2,3,4\] -> \[3,4,1\]\).*the replication throttle stays/,
    );
    expect(zk.cfg('/config/brokers/1')).toMatchObject({ 'leader.replication.throttled.rate': '1000' });
  });
});

describe('preferred-leader-election through ZooKeeper', () => {
  const STEP: RepairStep & { action: 'preferred-leader-election' } = {
    action: 'preferred-leader-election',
    partitions: [
      { topic: 't', partition: 0 },
      { topic: 't', partition: 1 },
    ],
  };

  it('writes the znode for partitions not led by their preferred replica and waits for the controller', async () => {
    const zk = cluster();
    zk.put('/brokers/topics/t/partitions/0/state', { leader: 3, isr: [2, 3, 4] });
    const written: unknown[] = [];
    zk.onCreate = (path, z) => {
      if (path !== '/admin/preferred_replica_election') return;
      written.push(z.json(path));
      setTimeout(() => {
        z.put('/brokers/topics/t/partitions/0/state', { leader: 2, isr: [2, 3, 4] });
        z.nodes.delete(path);
      }, 20);
    };
    const r = await electHandler(envFor(zk), 2000)(STEP, ctx(planOf([STEP])));
    expect(r).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/elected the preferred leader of 1 partition\(s\) .*: t\/0 3 -> 2$/),
    });
    expect(written).toEqual([{ version: 1, partitions: [{ topic: 't', partition: 0 }] }]);
    // Again: nothing to do.
    expect(await electHandler(envFor(zk))(STEP, ctx(planOf([STEP])))).toMatchObject({
      ok: true,
      detail: 'all 2 partition(s) already led by their preferred replica',
    });
  });

  it('does not elect a preferred replica that is out of sync', async () => {
    const zk = cluster();
    zk.put('/brokers/topics/t/partitions/0/state', { leader: 3, isr: [3, 4] });
    const r = await electHandler(envFor(zk))(STEP, ctx(planOf([STEP])));
    expect(r).toEqual({
      ok: false,
      detail: 'not elected: t/0 (preferred 2 not in the ISR [3,4])',
      data: { blocked: 1 },
    });
    expect(zk.nodes.has('/admin/preferred_replica_election')).toBe(false);
  });

  it('waits for another election to finish, then gives up', async () => {
    const zk = cluster();
    zk.put('/brokers/topics/t/partitions/0/state', { leader: 3, isr: [2, 3, 4] });
    zk.put('/admin/preferred_replica_election', { version: 1, partitions: [{ topic: 'x', partition: 0 }] });
    const r = await electHandler(envFor(zk), 50)(STEP, ctx(planOf([STEP])));
    expect(r.detail).toMatch(
      /exists: another preferred leader election has been running for 0\.1 s; not written/,
    );
  });
});

describe('set-topic-config on brokers without AlterConfigs (Kafka before 0.11)', () => {
  it('writes /config/topics/<topic> with a notification, keeps the other overrides, reads back from ZooKeeper', async () => {
    const zk = cluster();
    const step: RepairStep & { action: 'set-topic-config' } = {
      action: 'set-topic-config',
      topic: 't',
      configs: { 'unclean.leader.election.enable': 'false' },
    };
    const h = topicConfigHandler(
      envFor(zk, { answered: [{ address: 'b:1', versions: { 3: [0, 2] } }], errors: [] }),
    );
    const r = await h(step, ctx(planOf([step])));
    expect(r).toMatchObject({
      ok: true,
      detail:
        'set unclean.leader.election.enable=false on t through ZooKeeper /config/topics/t with a change notification; read back from ZooKeeper',
    });
    expect(zk.cfg('/config/topics/t')).toEqual({
      'min.insync.replicas': '2',
      'unclean.leader.election.enable': 'false',
    });
    expect(zk.notifications()).toEqual(['topics/t']);
    expect((await h(step, ctx(planOf([step])))).detail).toBe(
      't already had unclean.leader.election.enable=false: nothing written',
    );
  });
});

describe('the wait step and the handler set', () => {
  it('waits for the effect of the step before it; a wait first in the plan has nothing to wait for', async () => {
    const h = waitHandler(envFor(cluster()));
    const first = planOf([{ action: 'wait', for: 'something', timeoutMs: 10 }]);
    expect(await h(first.steps[0] as RepairStep & { action: 'wait' }, ctx(first))).toEqual({
      ok: false,
      detail: 'nothing to wait for: "wait for something" is the first step of the plan',
    });
    const after = planOf([
      { action: 'set-topic-config', topic: 't', configs: { 'retention.ms': '-1' } },
      { action: 'wait', for: 'x', timeoutMs: 10 },
    ]);
    expect((await h(after.steps[1] as RepairStep & { action: 'wait' }, ctx(after, 1))).ok).toBe(true);
  });

  it('defaultStepHandlers covers every action; only restart-container is not idempotent', () => {
    const handlers = defaultStepHandlers('lab', { kafka: { brokers: ['127.0.0.1:1'] } } as ClusterConfig, {
      byEnv: {},
    });
    const actions: RepairStep['action'][] = [
      'produce',
      'reassign-partitions',
      'preferred-leader-election',
      'set-topic-config',
      'restart-container',
      'start-container',
      'stop-container',
      'wait',
    ];
    expect(Object.keys(handlers).sort()).toEqual([...actions].sort());
    expect(actions.filter((a) => !handlers[a]!.idempotent)).toEqual(['restart-container']);
  });
});

describe('loading', () => {
  it("loads under Node's own ESM loader (kafkajs is CommonJS: a named value import that vitest accepts fails there)", () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `await import('${root}src/repairs/handlers.ts'); await import('${root}src/repairs/registry.ts');`,
      ],
      { cwd: root, encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
