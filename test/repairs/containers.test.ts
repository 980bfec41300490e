/**
 * The container step handlers against a real Docker Engine API (podman's, on a unix socket in .lab/podman-repairs,
 * started and stopped by this file): restart-container then the wait for an orderer's "Start phase completed
 * successfully", stop/start (idempotent), a label reference, an unknown container. Containers are busybox
 * processes standing in for an orderer and a broker (the lab has no containers of its own).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterConfig } from '../../src/config/index.js';
import type { DockerClient } from '../../src/docker/client.js';
import { socketClient } from '../../src/docker/client.js';
import { gatherContainers } from '../../src/docker/gather.js';
import { createLogger } from '../../src/log.js';
import type { ClusterSnapshot, RepairPlan, RepairStep } from '../../src/model/index.js';
import { locateContainer } from '../../src/repairs/actions/containers.js';
import { createRepairEnv } from '../../src/repairs/actions/env.js';
import { planContainerAction } from '../../src/repairs/containers.js';
import { defaultStepHandlers } from '../../src/repairs/handlers.js';
import { handlerFor, type StepContext, type StepOutcome } from '../../src/repairs/steps.js';
import { BUSYBOX_IMAGE, REPO_ROOT, ensureBusyboxImage, startPodman, stopPodman } from '../helpers/podman.js';

const BASE = join(REPO_ROOT, '.lab', 'podman-repairs'); // ignored by git and eslint like the labs
const LABEL = 'opsbot-repairs-test';
let client: DockerClient;
let socketPath: string;
let startedHere = false;
const timings: Record<string, number> = {};

async function busybox(name: string, script: string, labels: Record<string, string> = {}): Promise<void> {
  await client.docker
    .getContainer(name)
    .remove({ force: true })
    .catch(() => undefined);
  const c = await client.docker.createContainer({
    name,
    Image: BUSYBOX_IMAGE,
    Entrypoint: ['/bin/sh', '-c'],
    Cmd: [`trap 'exit 0' TERM; ${script}`],
    Env: ['PATH=/bin'],
    Labels: { [LABEL]: 'yes', ...labels },
    HostConfig: { NetworkMode: 'host', RestartPolicy: { Name: 'no' } },
  });
  await c.start();
}

function config(): ClusterConfig {
  return {
    kafka: {
      brokers: ['127.0.0.1:1'],
      clientId: 'fabric-opsbot',
      connectTimeoutMs: 500,
      requestTimeoutMs: 500,
      containers: { '7': { label: 'opsbot-repairs.kafka=7' } },
    },
    zookeeper: { connect: '127.0.0.1:2', sessionTimeoutMs: 1000, connectTimeoutMs: 500 },
    orderers: [
      {
        name: 'orderer1.example.com',
        channels: ['pubchain', 'testchainid'],
        container: { name: 'rt-orderer1' },
      },
    ],
    docker: { endpoints: { lab: { socketPath, timeoutMs: 20_000 } } },
    checks: { everySeconds: 300, logWindowMinutes: 60 },
    repairs: { padMaxMessages: 10000, approvalTtlMinutes: 15, reassignThrottleBytes: 10_000_000 },
  };
}

function ctx(plan: RepairPlan, index: number): StepContext {
  return {
    requestId: 'rq-c',
    plan,
    index,
    attempt: 1,
    resumed: false,
    workerId: 'w',
    signal: new AbortController().signal,
    log: createLogger('test'),
  };
}

/** Run a plan's steps in order with the default handlers (the executor's loop without Redis). */
async function runSteps(plan: RepairPlan): Promise<StepOutcome[]> {
  const handlers = defaultStepHandlers('lab', config(), { byEnv: {} }, { pollMs: 200 });
  const out: StepOutcome[] = [];
  for (let i = 0; i < plan.steps.length; i++) {
    const step = plan.steps[i]!;
    const o = await handlerFor(handlers, step)!(step as never, ctx(plan, i));
    out.push(o);
    if (!o.ok) break;
  }
  return out;
}

beforeAll(async () => {
  const t0 = performance.now();
  const h = await startPodman(BASE);
  startedHere = h.startedHere;
  socketPath = h.socketPath;
  client = socketClient(socketPath, 30_000);
  await ensureBusyboxImage(client);
  timings.podmanUpMs = Math.round(performance.now() - t0);
  // An "orderer" that logs the start line for both channels on every boot, and a "broker" found by label.
  await busybox(
    'rt-orderer1',
    'n=$(cat /tmp/boots 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/boots; sleep 1; ' +
      'for ch in pubchain testchainid; do echo "[channel: $ch] Start phase completed successfully (boot $n)"; done; ' +
      'while true; do sleep 1; done',
  );
  await busybox('rt-kafka7', 'while true; do sleep 1; done', { 'opsbot-repairs.kafka': '7' });
}, 600_000);

afterAll(async () => {
  try {
    const list = await client?.list({ label: [`${LABEL}=yes`] });
    await Promise.all((list ?? []).map((c) => client.docker.getContainer(c.Id).remove({ force: true })));
  } finally {
    if (startedHere) await stopPodman(BASE);
    console.log('repair container handler timings (ms):', JSON.stringify(timings));
  }
}, 180_000);

describe('container step handlers against podman', () => {
  it('restart-container an orderer (planned from a real gather), then wait for "Start phase completed successfully"', async () => {
    const g = await gatherContainers(config(), { skipLogs: true });
    const snapshot = {
      cluster: 'lab',
      generatedAt: new Date().toISOString(),
      scope: {},
      sources: { docker: g.status },
      expected: { bootstrap: [], brokerIds: [], zookeeper: ['127.0.0.1:2'], channels: [] },
      zookeeper: null,
      kafka: null,
      reachability: [],
      orderers: null,
      containers: g.containers,
      logs: [],
    } satisfies ClusterSnapshot;
    const plan = planContainerAction(snapshot, 'lab', config(), 'restart', {
      container: 'orderer1.example.com',
    });
    expect(plan.refusal).toBeNull();
    expect(plan.steps.map((s) => s.action)).toEqual(['restart-container', 'wait']);

    const t0 = performance.now();
    const [restart, wait] = await runSteps(plan);
    timings.restartAndWaitMs = Math.round(performance.now() - t0);
    expect(restart).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/^restarted rt-orderer1: running pid \d+ -> running pid \d+/),
    });
    expect(restart!.data).toMatchObject({ endpoint: 'lab', changed: true });
    expect(wait).toMatchObject({
      ok: true,
      detail: expect.stringMatching(
        /^orderer orderer1.example.com logged "Start phase completed successfully" for pubchain, testchainid after/,
      ),
    });
    const logs = await client.logs('rt-orderer1', {});
    expect(logs.map((l) => l.text)).toContain(
      '[channel: testchainid] Start phase completed successfully (boot 2)',
    );
  }, 120_000);

  it('stop-container and start-container are idempotent; the wait after start sees the orderer come back', async () => {
    const handlers = defaultStepHandlers('lab', config(), { byEnv: {} }, { pollMs: 200 });
    const stop: RepairStep = { action: 'stop-container', container: 'rt-orderer1' };
    const plan: RepairPlan = {
      kind: 'test',
      cluster: 'lab',
      args: {},
      preconditions: [],
      steps: [
        stop,
        { action: 'start-container', container: 'rt-orderer1' },
        { action: 'wait', for: 'orderer1', timeoutMs: 30_000 },
      ],
      expected: {},
      refusal: null,
    };
    const first = await handlers['stop-container']!(stop as never, ctx(plan, 0));
    expect(first).toMatchObject({ ok: true, detail: expect.stringMatching(/^stopped rt-orderer1/) });
    const again = await handlers['stop-container']!(stop as never, ctx(plan, 0));
    expect(again).toMatchObject({ ok: true, detail: 'rt-orderer1 was already stopped' });
    const [, start, wait] = await runSteps({
      ...plan,
      steps: [plan.steps[0]!, plan.steps[1]!, plan.steps[2]!],
    });
    expect(start).toMatchObject({ ok: true, detail: expect.stringMatching(/^started rt-orderer1/) });
    expect(wait).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/logged "Start phase completed successfully" for pubchain, testchainid/),
    });
  }, 120_000);

  it('finds a container the inventory names by label; refuses to guess an unknown one', async () => {
    const env = createRepairEnv('lab', config(), { byEnv: {} });
    const found = await locateContainer(env, 'rt-kafka7');
    expect(found.target).toMatchObject({ role: 'broker', runs: 7 });
    // One endpoint: an unknown name is tried there, and the engine's 404 is the step's failure.
    const handlers = defaultStepHandlers('lab', config(), { byEnv: {} });
    const step: RepairStep = { action: 'restart-container', container: 'rt-missing' };
    const r = await handlers['restart-container']!(
      step as never,
      ctx(
        {
          kind: 't',
          cluster: 'lab',
          args: {},
          preconditions: [],
          steps: [step],
          expected: {},
          refusal: null,
        },
        0,
      ),
    );
    expect(r).toMatchObject({ ok: false, detail: expect.stringMatching(/cannot restart rt-missing: .*404/) });
    const two = createRepairEnv(
      'lab',
      {
        ...config(),
        docker: { endpoints: { a: { socketPath, timeoutMs: 5000 }, b: { socketPath, timeoutMs: 5000 } } },
      },
      { byEnv: {} },
    );
    await expect(locateContainer(two, 'rt-missing')).rejects.toThrow(
      /not in the inventory and there are 2 Docker endpoints/,
    );
  }, 60_000);
});
