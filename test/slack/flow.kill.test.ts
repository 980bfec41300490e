/**
 * A worker killed for real (SIGKILL: no cleanup, no lock released, nothing flushed) between two steps of an
 * approved repair, and another worker taking over: BullMQ notices the stalled `repair-<id>` job once its lock
 * lapses and hands it to the new worker; the executor resumes after the steps already done and repeats none of
 * them (the interrupted idempotent step runs again). The result is posted once, in the plan's thread.
 *
 * The first worker is a child process (tsx) running startWorkers() with injected plans and handlers that log
 * every call to Redis (RPUSH survives the kill) and SIGKILL the process when step 3 starts. Skipped without tsx.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RepairPlan } from '../../src/model/index.js';
import { QUEUES, repairJobId } from '../../src/queue/index.js';
import { idempotent, type StepHandlers } from '../../src/repairs/steps.js';
import { ACTIONS, type KnownBlock } from '../../src/slack/blocks.js';
import type { Operations } from '../../workers/ops.js';
import { postButtonPress, postSlashCommand } from '../helpers/slack.js';
import { USERS } from './fixtures.js';
import { SIGNING_SECRET, startHarness, type Harness } from './harness.js';

const require = createRequire(import.meta.url);
let tsx: string | null = null;
try {
  tsx = require.resolve('tsx');
} catch {
  tsx = null;
}

const root = resolve(import.meta.dirname, '../..');
const at = (p: string) => JSON.stringify(join(root, p));

/** The plan the first worker builds (planFor below, in the child): produce (idempotent), restart (not), wait (idempotent). */
const PLAN_JS = `(kind, cluster, args) => ({
  kind, cluster, args,
  preconditions: [{ check: 'orderers agree', ok: true, detail: '1 orderer expects offset 28' }],
  steps: [
    { action: 'produce', topic: 'pubchain', partition: 0, count: 8, value: '1a00', key: '0' },
    { action: 'restart-container', container: 'orderer1.example.com' },
    { action: 'wait', for: 'orderer1 healthy', timeoutMs: 1000 },
  ],
  expected: { highWatermark: 28 }, refusal: null,
})`;

const CHILD = `
import { createRedis } from ${at('src/redis.ts')};
import { startWorkers } from ${at('workers/index.ts')};
import { repairApprovals } from ${at('src/ops/repair-run.ts')};
import { createSlackPoster } from ${at('src/slack/poster.ts')};
import { idempotent } from ${at('src/repairs/steps.ts')};
import { testInventory } from ${at('test/slack/fixtures.ts')};
import { createLogger } from ${at('src/log.ts')};

const [redisUrl, apiUrl] = process.argv.slice(2);
const log = createRedis({ url: redisUrl, prefix: 't' }, { flavour: 'worker' });
const inventory = testInventory({ redisUrl });
const plan = ${PLAN_JS};
const handlers = {
  produce: idempotent(async (step) => { await log.rpush('calls', 'w1:produce'); return { ok: true, detail: 'produced ' + step.count }; }),
  'restart-container': async () => { await log.rpush('calls', 'w1:restart-container'); return { ok: true, detail: 'restarted' }; },
  wait: idempotent(async () => {
    await log.rpush('calls', 'w1:wait');
    process.kill(process.pid, 'SIGKILL');
    return new Promise(() => undefined);
  }),
};
await startWorkers({
  inventory,
  env: { SLACK_BOT_TOKEN: 'xoxb-test-token' },
  slack: createSlackPoster({ token: 'xoxb-test-token', apiUrl, retries: 0 }),
  syncSchedules: false,
  logger: createLogger('child', 'silent'),
  approvalStore: (d) => repairApprovals(inventory, d.redis, d.audit, d.enqueue),
  ops: {
    async planRepair({ kind, cluster, args }) { return plan(kind, cluster.name, args); },
    async verifyRepair() { return { ok: true, detail: 'verified' }; },
    async audit() {},
  },
  stepHandlers: () => handlers,
  repairLockTtlMs: 1000,
  repairJobLockMs: 1000,
  repairStalledIntervalMs: 500,
  workerName: 'w1',
});
console.log('ready');
`;

let h: Harness;
let dir: string;
let child: ChildProcess | undefined;

/** PLAN_JS, for this process. */
function planFor(kind: string, cluster: string, args: Record<string, string | number>): RepairPlan {
  return {
    kind,
    cluster,
    args,
    preconditions: [{ check: 'orderers agree', ok: true, detail: '1 orderer expects offset 28' }],
    steps: [
      { action: 'produce', topic: 'pubchain', partition: 0, count: 8, value: '1a00', key: '0' },
      { action: 'restart-container', container: 'orderer1.example.com' },
      { action: 'wait', for: 'orderer1 healthy', timeoutMs: 1000 },
    ],
    expected: { highWatermark: 28 },
    refusal: null,
  };
}

const ops: Partial<Operations> = {
  async planRepair({ kind, cluster, args }) {
    return planFor(kind, cluster.name, args);
  },
  async verifyRepair() {
    return { ok: true, detail: 'verified' };
  },
};

describe.skipIf(tsx === null)('a worker killed (SIGKILL) between steps of a repair', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'opsbot-flow-kill-'));
    writeFileSync(join(dir, 'child.mts'), CHILD);
    // The bot only: the first worker is the child process.
    h = await startHarness({ repairs: {} });
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is taken over by another worker, which finishes without repeating a step', async () => {
    const r = h.redis.client();
    child = spawn(
      process.execPath,
      ['--import', 'tsx', join(dir, 'child.mts'), h.redis.url, h.recorder.apiUrl],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((res) => child!.on('exit', (_c, s) => res(s)));
    const deadline = Date.now() + 30_000;
    while (!out.includes('ready')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`child did not start: ${err}`);
      await new Promise((res) => setTimeout(res, 50));
    }

    await postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
      text: 'repair pad-channel pubchain',
      user_id: USERS.operator,
      response_url: h.recorder.responseUrl(),
    });
    const planPost = await h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'COPS' && !c.args['thread_ts'],
      20_000,
    );
    const ts = String(planPost.result?.['ts']);
    const blocks = planPost.args['blocks'] as KnownBlock[];
    const actions = blocks.find((b) => b.type === 'actions');
    const id = actions?.type === 'actions' ? String((actions.elements[0] as { value?: string }).value) : '';
    await postButtonPress(h.eventsUrl, SIGNING_SECRET, {
      user_id: USERS.approver,
      action_id: ACTIONS.repairApprove,
      value: id,
      response_url: h.recorder.responseUrl(),
    });

    expect(await exited).toBe('SIGKILL');
    const t0 = Date.now();
    expect(await r.lrange('calls', 0, -1)).toEqual(['w1:produce', 'w1:restart-container', 'w1:wait']);
    expect(await h.queue(QUEUES.repairs).getJobState(repairJobId(id))).toBe('active');

    // Another worker, on another "machine": it gets the job when BullMQ sees it stalled.
    const handlers: StepHandlers = {
      produce: idempotent<'produce'>(async () => {
        await r.rpush('calls', 'w2:produce');
        return { ok: true };
      }),
      'restart-container': async () => {
        await r.rpush('calls', 'w2:restart-container');
        return { ok: true };
      },
      wait: idempotent<'wait'>(async () => {
        await r.rpush('calls', 'w2:wait');
        return { ok: true, detail: 'healthy' };
      }),
    };
    await h.restartWorkers({
      ops,
      stepHandlers: () => handlers,
      repairLockTtlMs: 1000,
      repairJobLockMs: 1000,
      repairStalledIntervalMs: 500,
      repairGraceMs: 0,
      workerName: 'w2',
    });
    const done = await h.recorder.waitFor(
      (c) =>
        c.method === 'chat.postMessage' && c.args['thread_ts'] === ts && /^Done/.test(String(c.args['text'])),
      30_000,
    );
    console.log(`[flow.kill] taken over and done ${Date.now() - t0} ms after the kill`);
    expect(await r.lrange('calls', 0, -1)).toEqual([
      'w1:produce',
      'w1:restart-container',
      'w1:wait',
      'w2:wait',
    ]);
    expect(JSON.stringify(done.args['blocks'])).toContain('resumed after an interruption');
    await new Promise((res) => setTimeout(res, 1000));
    expect(
      h.recorder.find(
        (c) =>
          c.method === 'chat.postMessage' &&
          c.args['thread_ts'] === ts &&
          /^Done/.test(String(c.args['text'])),
      ),
    ).toHaveLength(1);
    const entries = (await h.audit!.tail(200)).map((x) => x.entry!).filter((e) => e.jobId === id);
    expect(entries.filter((e) => e.what === 'step-skip').map((e) => e.details['step'])).toEqual([1, 2]);
    expect(entries.filter((e) => e.what === 'repair-resume').map((e) => e.who)).toEqual(['w2']);
    expect((await h.audit!.verify()).ok).toBe(true);
  }, 90_000);
});
