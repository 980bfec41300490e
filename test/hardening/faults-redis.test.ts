/**
 * Redis failing under the bot and the workers (issue #9, faults during work). A real redis-server with the
 * append-only file on (`appendfsync always`, as deploy/ runs it), on its own port and dir, SIGKILLed while
 * workers are in the middle of jobs and started again on the same port and dir:
 *
 * - the bot's and the workers' connections come back on their own (nothing restarted by the test);
 * - every job that was queued completes, none is lost, none runs twice: the Slack recorder sees each report
 *   once, the injected diagnose ran once per job, the repair's steps ran once each (the executor's step
 *   records say attempt 1), its result is posted once in the plan's thread;
 * - the audit chain still verifies.
 *
 * And Redis down (or hung) when a slash command arrives: the user gets a clear ephemeral answer at once, and
 * nothing is half-queued.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SelectedCluster } from '../../src/config/index.js';
import type { ClusterSnapshot, RepairPlan, Report } from '../../src/model/index.js';
import type { DiagnoseResult } from '../../src/ops/diagnose.js';
import type { CliIo } from '../../src/cli/context.js';
import { createProducer, EnqueueUnconfirmedError, QUEUES, repairJobId } from '../../src/queue/index.js';
import { createRedis, RedisUnavailableError } from '../../src/redis.js';
import { idempotent, type StepHandlers } from '../../src/repairs/steps.js';
import { ACTIONS, type KnownBlock } from '../../src/slack/blocks.js';
import type { Operations } from '../../workers/ops.js';
import { startHungRedis, startRedis, type HungRedis, type TestRedis } from '../helpers/redis.js';
import { postButtonPress, postSlashCommand, type RecordedCall } from '../helpers/slack.js';
import { parseInventory } from '../../src/config/index.js';
import { inventoryText, pubchainReport, USERS } from '../slack/fixtures.js';
import { SIGNING_SECRET, startHarness, type Harness } from '../slack/harness.js';

const WORK = resolve(process.env['FABRIC_OPSBOT_TEST_LAB_WORKDIR'] ?? '.lab/test', 'faults-redis');
/** Below Linux's ephemeral port range, in the range kept for side Redis servers. */
const PORT = 24010;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A gate the injected operations wait on, so that the test can kill Redis while jobs are in flight. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

let diagnoseGate = gate();
const stepGate = gate();
const diagnosed: string[] = [];
const stepCalls: string[] = [];

function result(report: Report): DiagnoseResult {
  return { snapshot: {} as ClusterSnapshot, findings: report.findings, report, exitCode: 2 };
}

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
  async diagnose({ cluster, channel }: { cluster: SelectedCluster; channel?: string }) {
    diagnosed.push(channel ?? '(all)');
    await diagnoseGate.opened;
    const report = pubchainReport();
    return result({ ...report, cluster: cluster.name, scope: channel !== undefined ? { channel } : {} });
  },
  async planRepair({ kind, cluster, args }) {
    return planFor(kind, cluster.name, args);
  },
  async verifyRepair() {
    return { ok: true, detail: 'verified' };
  },
};

const handlers: StepHandlers = {
  produce: idempotent<'produce'>(async () => {
    stepCalls.push('produce');
    return { ok: true, detail: 'produced 8' };
  }),
  // Not idempotent: run twice, it would restart the orderer twice.
  'restart-container': async () => {
    stepCalls.push('restart-container');
    await stepGate.opened;
    return { ok: true, detail: 'restarted' };
  },
  wait: idempotent<'wait'>(async () => {
    stepCalls.push('wait');
    return { ok: true, detail: 'healthy' };
  }),
};

let redis: TestRedis;
let h: Harness;

/** Footers name the job: `job \`cmd-…\``. */
const jobOf = (c: RecordedCall) => /job `([^`]+)`/.exec(JSON.stringify(c.args['blocks'] ?? ''))?.[1];

async function until<T>(
  what: string,
  f: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 20_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(50);
  }
}

beforeAll(async () => {
  redis = await startRedis({ appendonly: true, port: PORT, dir: WORK });
  h = await startHarness({
    redis,
    repairs: {},
    productionPoster: true,
    inventory: (url, apiUrl) =>
      parseInventory(
        inventoryText({ redisUrl: url }).replace('slack:\n', `slack:\n  apiUrl: ${apiUrl}\n`),
        'test-inventory.yaml',
      ),
    workers: {
      ops,
      stepHandlers: () => handlers,
      repairLockTtlMs: 10_000,
      workerName: 'w1',
      repairSweepMs: 0,
    },
  });
});

afterAll(async () => {
  diagnoseGate.open();
  stepGate.open();
  await h?.close();
  await redis?.stop();
});

describe('Redis SIGKILLed (AOF on) while jobs are in flight', () => {
  it('loses nothing and runs nothing twice; bot and workers reconnect on their own', async () => {
    // A repair, approved, that is in its second step (not idempotent) when Redis dies.
    await postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
      text: 'repair pad-channel pubchain',
      user_id: USERS.operator,
      channel_id: 'CREPAIR',
      response_url: h.recorder.responseUrl(),
    });
    const planPost = await h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CREPAIR' && !c.args['thread_ts'],
    );
    const planTs = String(planPost.result?.['ts']);
    const actions = (planPost.args['blocks'] as KnownBlock[]).find((b) => b.type === 'actions');
    const id = actions?.type === 'actions' ? String((actions.elements[0] as { value?: string }).value) : '';
    expect(id).toMatch(/^rq-/);
    await postButtonPress(h.eventsUrl, SIGNING_SECRET, {
      user_id: USERS.approver,
      action_id: ACTIONS.repairApprove,
      value: id,
      channel_id: 'CREPAIR',
      response_url: h.recorder.responseUrl(),
      message: { ts: planTs },
    });
    await until('step 2 running', () => stepCalls.includes('restart-container'));

    // Four commands, each in its own channel, all in the middle of their diagnose.
    const channels = ['CA', 'CB', 'CC', 'CD'];
    for (const ch of channels) {
      const res = await postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
        text: ch === 'CD' ? 'diagnose' : 'status pubchain',
        user_id: USERS.viewer,
        channel_id: ch,
        response_url: h.recorder.responseUrl(),
      });
      expect(JSON.stringify(res.body)).toContain('Queued');
    }
    await until('4 diagnoses in flight', () => diagnosed.length === 4);

    await redis.kill();
    await sleep(1500);
    await redis.start();
    diagnoseGate.open();
    stepGate.open();

    // Every report once, the repair's result once.
    const done = await h.recorder.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.args['thread_ts'] === planTs &&
        /^Done/.test(String(c.args['text'])),
      30_000,
    );
    expect(String(done.args['text'])).toContain('verified');
    await until(
      '4 reports posted',
      () =>
        h.recorder.find(
          (c) => c.method === 'chat.postMessage' && channels.includes(String(c.args['channel'])),
        ).length >= 4,
      30_000,
    );
    const commands = h.queue(QUEUES.commands);
    await until(
      'every command job completed',
      async () => (await commands.getJobCounts()).completed === 5,
      30_000,
    );
    await until(
      'the repair job completed',
      async () => (await h.queue(QUEUES.repairs).getJobState(repairJobId(id))) === 'completed',
      30_000,
    );
    await sleep(1500); // anything posted twice would show by now

    const reports = h.recorder.find(
      (c) => c.method === 'chat.postMessage' && channels.includes(String(c.args['channel'])),
    );
    expect(reports.map((c) => c.args['channel']).sort()).toEqual(channels);
    const jobIds = reports.map(jobOf);
    expect(new Set(jobIds).size).toBe(4);
    expect(diagnosed).toHaveLength(4);
    expect(stepCalls).toEqual(['produce', 'restart-container', 'wait']);
    expect(
      h.recorder.find(
        (c) =>
          c.method === 'chat.postMessage' &&
          c.args['thread_ts'] === planTs &&
          /^Done/.test(String(c.args['text'])),
      ),
    ).toHaveLength(1);
    const counts = await commands.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed');
    expect(counts).toEqual({ completed: 5, failed: 0, active: 0, wait: 0, delayed: 0 });

    // The executor's step records: each step started once.
    const r = redis.client();
    for (let i = 0; i < 3; i++) {
      expect(await r.hgetall(`t:repair:${id}:step:${i}`)).toMatchObject({ status: 'done', attempts: '1' });
    }
    expect(await r.hget(`t:repair:${id}`, 'status')).toBe('done');
    expect((await h.audit!.verify()).ok).toBe(true);

    // The bot took the restart in its stride: a new command is queued and answered.
    const res = await postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
      text: 'status pubchain',
      user_id: USERS.viewer,
      channel_id: 'CE',
      response_url: h.recorder.responseUrl(),
    });
    expect(JSON.stringify(res.body)).toContain('Queued');
    await h.recorder.waitFor((c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CE', 15_000);
  }, 120_000);
});

describe('Redis away longer than the job lock', () => {
  it('runs the stalled jobs again but posts each report once', async () => {
    // Short BullMQ locks: the stalled-job check hands the jobs to another run as soon as Redis is back.
    await h.restartWorkers({ jobLockMs: 1000, stalledIntervalMs: 500, concurrency: 8 });
    await h.queue(QUEUES.commands).obliterate({ force: true });
    h.recorder.clear();
    diagnosed.length = 0;
    diagnoseGate = gate();
    const channels = ['CL1', 'CL2', 'CL3'];
    for (const ch of channels) {
      await postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
        text: 'status pubchain',
        user_id: USERS.viewer,
        channel_id: ch,
        response_url: h.recorder.responseUrl(),
      });
    }
    await until('3 diagnoses in flight', () => diagnosed.length === 3);
    await redis.kill();
    await sleep(3000); // the locks lapse meanwhile (their TTLs run on Redis's clock, kept in the AOF)
    await redis.start();
    const commands = h.queue(QUEUES.commands);
    // The jobs are run again (a second diagnose each) while the first runs are still waiting at the gate.
    await until('the stalled jobs run again', () => diagnosed.length === 6, 20_000);
    diagnoseGate.open();
    await until('3 completed', async () => (await commands.getJobCounts()).completed === 3, 30_000);
    await sleep(1500);
    const reports = h.recorder.find(
      (c) => c.method === 'chat.postMessage' && channels.includes(String(c.args['channel'])),
    );
    expect(reports.map((c) => c.args['channel']).sort()).toEqual(channels);
    for (const job of await commands.getJobs(['completed'])) {
      expect(job.returnvalue.posted).toMatchObject({ channel: job.data.requester?.channelId });
    }
    expect((await h.audit!.verify()).ok).toBe(true);
  }, 90_000);
});

describe("Redis away longer than a repair's locks, in the middle of a step that must not run twice", () => {
  it('the step is not run again: the request waits for an operator, said once in its thread', async () => {
    // Short locks (executor and BullMQ): both lapse while Redis is away.
    await h.restartWorkers({
      repairLockTtlMs: 1000,
      repairJobLockMs: 1000,
      repairStalledIntervalMs: 500,
      repairGraceMs: 0,
      workerName: 'w2',
    });
    // The queue's stalled-check mark of the workers before (every 30 s): these check every 500 ms.
    await redis.client().del('t:repairs:stalled-check');
    stepCalls.length = 0;
    h.recorder.clear();
    const gateNow = gate();
    const held = handlers['restart-container'];
    handlers['restart-container'] = async (step, ctx) => {
      stepCalls.push('restart-container');
      await gateNow.opened;
      return { ok: true, detail: `restarted ${step.container} (${ctx.workerId})` };
    };
    try {
      await postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
        text: 'repair pad-channel pubchain',
        user_id: USERS.operator,
        channel_id: 'CLONG',
        response_url: h.recorder.responseUrl(),
      });
      const planPost = await h.recorder.waitFor(
        (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CLONG' && !c.args['thread_ts'],
      );
      const planTs = String(planPost.result?.['ts']);
      const actions = (planPost.args['blocks'] as KnownBlock[]).find((b) => b.type === 'actions');
      const id = actions?.type === 'actions' ? String((actions.elements[0] as { value?: string }).value) : '';
      await postButtonPress(h.eventsUrl, SIGNING_SECRET, {
        user_id: USERS.approver,
        action_id: ACTIONS.repairApprove,
        value: id,
        channel_id: 'CLONG',
        response_url: h.recorder.responseUrl(),
        message: { ts: planTs },
      });
      await until('step 2 running', () => stepCalls.includes('restart-container'));
      await redis.kill();
      await sleep(3000);
      await redis.start();
      // Another run of the job finds step 2 started and not finished, by a worker whose lock is gone.
      const result = await h.recorder.waitFor(
        (c) =>
          c.method === 'chat.postMessage' &&
          c.args['thread_ts'] === planTs &&
          /needs an operator|Needs an operator|operator/i.test(String(c.args['text'])),
        30_000,
      );
      gateNow.open(); // the first run's step ends now: it cannot record anything any more
      await sleep(2000);
      expect(stepCalls).toEqual(['produce', 'restart-container']);
      const r = redis.client();
      expect(await r.hget(`t:repair:${id}`, 'status')).toBe('needs-operator');
      expect(await r.hgetall(`t:repair:${id}:step:1`)).toMatchObject({ status: 'started', attempts: '1' });
      expect(String(result.args['text'])).toContain('step 2');
      const results = h.recorder.find(
        (c) => c.method === 'chat.postMessage' && c.args['thread_ts'] === planTs,
      );
      expect(results.filter((c) => /operator|could not be run/i.test(String(c.args['text'])))).toHaveLength(
        1,
      );
      expect((await h.audit!.verify()).ok).toBe(true);
    } finally {
      handlers['restart-container'] = held;
      gateNow.open();
    }
  }, 90_000);
});

describe('Redis down or hung when a slash command arrives', () => {
  const ask = (channel: string, text = 'status pubchain', user: string = USERS.viewer) =>
    postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
      text,
      user_id: user,
      channel_id: channel,
      response_url: h.recorder.responseUrl(),
    });

  it('down (SIGKILL): a clear ephemeral answer at once, nothing queued', async () => {
    await h.queue(QUEUES.commands).obliterate({ force: true });
    const before = await redis.client().xlen('t:audit');
    await redis.kill();
    try {
      const t0 = Date.now();
      const res = await ask('CDOWN');
      expect(Date.now() - t0).toBeLessThan(3000); // inside Slack's 3 s
      const body = res.body as { response_type: string; text: string };
      expect(body.response_type).toBe('ephemeral');
      expect(body.text).toMatch(
        new RegExp(
          `^:warning: Nothing was queued: the job queue is unavailable \\(cannot reach Redis at 127\\.0\\.0\\.1:${PORT}: ` +
            `(the connection was lost; reconnecting|connect ECONNREFUSED 127\\.0\\.0\\.1:${PORT})\\)\\. Try again in a minute`,
        ),
      );
    } finally {
      await redis.start();
    }
    await until('the bot reconnected', () => h.producerConnection.status === 'ready');
    expect(await h.jobCount(QUEUES.commands)).toBe(0);
    // Nothing was written for it: the audit of the refused command could not be written either.
    expect(await redis.client().xlen('t:audit')).toBe(before);
  }, 30_000);

  it("hung (SIGSTOP): answered inside Slack's 3 s without claiming what it cannot know; told once Redis answers", async () => {
    await h.queue(QUEUES.commands).obliterate({ force: true });
    h.recorder.clear();
    diagnoseGate.open();
    redis.freeze();
    let body: { response_type: string; text: string };
    try {
      const t0 = Date.now();
      const res = await ask('CHUNG');
      expect(Date.now() - t0).toBeLessThan(3000);
      body = res.body as typeof body;
    } finally {
      redis.thaw();
    }
    expect(body.response_type).toBe('ephemeral');
    const job = /job `(cmd-[0-9a-f]+)`/.exec(body.text)?.[1];
    expect(body.text).toBe(
      `:warning: The job queue did not answer in time (Redis at 127.0.0.1:${PORT} did not answer within 1500 ms): ` +
        `status of channel pubchain on lab may or may not have been queued (job \`${job}\`). ` +
        'You will be told here once Redis answers.',
    );
    // Redis woke up and ran the add it had been sent: the user hears so, and the report comes.
    const told = await h.recorder.waitFor((c) => c.method === 'response_url', 15_000);
    expect(told.args['text']).toBe(
      `:hourglass_flowing_sand: Redis answered after all: queued status of channel pubchain on lab (job \`${job}\`). ` +
        'The answer will be posted in this channel.',
    );
    await h.recorder.waitFor((c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CHUNG', 15_000);
    expect(await h.jobCount(QUEUES.commands)).toBe(1);
  }, 30_000);

  it('hung during an approval: the approver is told Redis did not answer; nothing half-done, a press later works', async () => {
    stepCalls.length = 0;
    stepGate.open();
    h.recorder.clear();
    await ask('CAPP', 'repair pad-channel pubchain', USERS.operator);
    const planPost = await h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CAPP' && !c.args['thread_ts'],
    );
    const actions = (planPost.args['blocks'] as KnownBlock[]).find((b) => b.type === 'actions');
    const id = actions?.type === 'actions' ? String((actions.elements[0] as { value?: string }).value) : '';
    const press = async () => {
      const url = h.recorder.responseUrl();
      await postButtonPress(h.eventsUrl, SIGNING_SECRET, {
        user_id: USERS.approver,
        action_id: ACTIONS.repairApprove,
        value: id,
        channel_id: 'CAPP',
        response_url: url,
        message: { ts: String(planPost.result?.['ts']) },
      });
      return h.recorder.waitFor((c) => c.method === 'response_url' && url.endsWith(c.path), 15_000);
    };
    redis.freeze();
    try {
      const reply = await press();
      expect(String(reply.args['text'])).toContain(
        `cannot reach Redis at 127.0.0.1:${PORT}: no answer within 5000 ms`,
      );
      // Not an "internal error": what could not be done, and where to look before pressing again.
      expect(String(reply.args['text'])).toMatch(/^:warning: could not handle this press on `[^`]+`: /);
      expect(String(reply.args['text'])).toMatch(
        /may or may not have been recorded: check the request's thread/,
      );
    } finally {
      redis.thaw();
    }
    // The press stopped at the first read (the request's cluster, for the channel rule): nothing was decided.
    await sleep(500);
    expect((await h.store!.get(id))?.status).toBe('pending');
    expect(await h.queue(QUEUES.repairs).getJobState(repairJobId(id))).toBe('unknown');
    // Once Redis answers, a press approves and the repair runs, once.
    expect(String((await press()).args['text'])).toMatch(/Approved by/);
    await h.recorder.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.args['thread_ts'] === planPost.result?.['ts'] &&
        /^Done/.test(String(c.args['text'])),
      20_000,
    );
    expect(stepCalls).toEqual(['produce', 'restart-container', 'wait']);
    expect((await h.audit!.verify()).ok).toBe(true);
  }, 60_000);

  it('a decision Redis did not confirm in time is reported as possibly recorded, not as failed', async () => {
    const { handleApproveButton } = await import('../../src/slack/handlers.js');
    const out = await handleApproveButton(
      {
        inventory: h.inventory,
        producer: { enqueue: () => Promise.reject(new Error('unused')) },
        approvals: {
          approve: () =>
            Promise.reject(new RedisUnavailableError('127.0.0.1:6379', 'no answer within 5000 ms')),
          deny: () => Promise.reject(new Error('unused')),
        },
      },
      { userId: USERS.approver, actionId: ACTIONS.repairApprove, value: 'rq-lx2k9a1b-0123456789' },
    );
    expect(out.outcome).toBe('error:unconfirmed');
    expect(out.reply.text).toBe(
      ':warning: could not approve request `rq-lx2k9a1b-0123456789`: cannot reach Redis at 127.0.0.1:6379: no ' +
        'answer within 5000 ms. It may still be recorded when Redis answers. Pressing again once it does is safe: ' +
        'a decision already recorded is not recorded twice, and the answer says where the request stands.',
    );
  });
});

describe('CLI paths against a Redis that answers the handshake and then nothing', () => {
  let hung: HungRedis;
  let dir: string;
  beforeAll(async () => {
    hung = await startHungRedis({ port: PORT + 1 });
    dir = resolve(WORK, 'cli');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      resolve(dir, 'inv.yaml'),
      [
        'clusters:',
        '  lab:',
        '    kafka: { brokers: ["127.0.0.1:19092"] }',
        '    zookeeper: { connect: "127.0.0.1:12181" }',
        'redis:',
        `  url: ${hung.url}`,
        '  prefix: cli',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await hung?.close();
  });

  it.each([[['audit', 'verify']], [['repair', 'status', 'rq-lx2k9a1b-0123456789']]])(
    '%j ends with exit 3 and one line naming Redis',
    async (argv) => {
      const { main } = await import('../../src/cli/main.js');
      let out = '';
      let err = '';
      const io: CliIo = { out: (s) => (out += s), err: (s) => (err += s), env: {}, cwd: dir, isTTY: false };
      const code = await main([...argv, '--config', resolve(dir, 'inv.yaml')], io);
      expect(code).toBe(3);
      expect(out).toBe('');
      expect(err).toBe(
        `fabric-opsbot: cannot reach Redis at 127.0.0.1:${PORT + 1}: no answer within 5000 ms\n`,
      );
    },
    20_000,
  );

  it('a producer whose enqueue Redis never confirms says so, and later that it still does not know', async () => {
    const conn = createRedis({ url: hung.url, prefix: 'p' }, { flavour: 'request', commandTimeoutMs: 500 });
    await conn.connect();
    const producer = createProducer({ connection: conn, prefix: 'p', timeoutMs: 300, confirmWithinMs: 1500 });
    try {
      const err = await producer
        .enqueue({ kind: 'diagnose', cluster: 'lab', requestedAt: new Date().toISOString() }, 'cmd-x1')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EnqueueUnconfirmedError);
      expect((err as Error).message).toBe(
        `cannot reach Redis at 127.0.0.1:${PORT + 1}: no answer within 300 ms`,
      );
      expect(await (err as EnqueueUnconfirmedError).outcome).toBeNull();
    } finally {
      await producer.close();
      conn.disconnect();
    }
  }, 20_000);
});
