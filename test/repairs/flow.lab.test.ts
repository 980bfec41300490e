/**
 * Seed 000 through the whole approval flow, on the real lab (test/global-setup.ts): a channel topic with
 * orderer-format messages is cut back below the offset its orderers expect (their file ledgers say they
 * persisted offset 20; an unflushed crash leaves the partition at 12, as in test/orderers/seed000.lab.test.ts).
 *
 * 1. Slack: an operator's signed `/fabric repair pad-channel <channel>` -> the real worker plans it on the lab ->
 *    the plan is posted with Approve/Deny -> an approver presses Approve -> the `repair-<id>` job runs it with
 *    the real step handlers (defaultStepHandlers: CONNECT messages produced to the partition), re-planning first
 *    and verifying after -> the high watermark reaches 21 -> the result is in the plan's thread -> `audit verify`
 *    says intact.
 * 2. The CLI, for operators without Slack: the same cut again; `repair request` (alice, operator), self-approval
 *    refused, `repair approve` (bob, approver), `repair status`, `repair run` in the CLI process -> 21 again; a
 *    second `repair run` repeats nothing.
 *
 *   FABRIC_OPSBOT_TEST_LAB_WORKDIR=$PWD/.lab/j FABRIC_OPSBOT_TEST_PORT_OFFSET=900 npx vitest run test/repairs/flow.lab.test.ts
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/context.js';
import { loadInventory, selectCluster, type Inventory } from '../../src/config/index.js';
import { encodeRegularMessage } from '../../src/fabric/protos.js';
import { kafkaClient } from '../../src/kafka/client.js';
import { createTopic, deleteTopic, truncatePartition } from '../../src/lab/index.js';
import { diagnose } from '../../src/ops/diagnose.js';
import { QUEUES, repairJobId } from '../../src/queue/index.js';
import { kafkaOffsetReader } from '../../src/repairs/actions/produce.js';
import { ACTIONS, type KnownBlock } from '../../src/slack/blocks.js';
import { postButtonPress, postSlashCommand, type RecordedCall } from '../helpers/slack.js';
import { makeBlocks, fileOf } from '../fixtures/orderers/ledger.js';
import { USERS } from '../slack/fixtures.js';
import { ENV, SIGNING_SECRET, startHarness, type Harness } from '../slack/harness.js';

const lab = inject('lab');
const ref = () => ({ workDir: lab!.workDir });
const CHANNEL = `flowchain-${process.pid}`;
const PERSISTED = 20; // block 9's last_offset_persisted, as in seed 000
const CUT_TO = 12;

function writeLedger(root: string): string {
  const dir = join(root, 'chains', CHANNEL);
  mkdirSync(dir, { recursive: true });
  const blocks = makeBlocks({ blocks: 10, offsetOf: (n) => (n === 9 ? PERSISTED : 2 * n + 2) });
  writeFileSync(join(dir, 'blockfile_000000'), fileOf(blocks));
  return root;
}

describe.skipIf(!lab)('seed 000 through the approval flow', () => {
  let work: string;
  let h: Harness;
  let inventory: Inventory;
  /** Same cluster, its own Redis prefix: no worker listens there, so `repair run` is what runs it. */
  let cliInventory: string;
  let slackInventory: string;
  const kafkaConfig = () => loadInventory(lab!.inventory).clusters['lab']!.kafka;
  const highWatermark = async () =>
    (await kafkaOffsetReader(kafkaClient(kafkaConfig(), {})).offsets(CHANNEL, 0)).highWatermark;

  function writeInventory(file: string, redisUrl: string, prefix: string): void {
    const inv = parse(readFileSync(lab!.inventory, 'utf8')) as Record<string, unknown> & {
      clusters: { lab: Record<string, unknown> };
    };
    inv.clusters.lab.channels = [CHANNEL];
    inv.clusters.lab.orderers = [1, 2, 3].map((i) => ({
      name: `orderer${i}.example.com`,
      channels: [CHANNEL],
      ledgerDir: writeLedger(join(work, `orderer${i}`)),
    }));
    inv.clusters.lab.checks = { everySeconds: 0 };
    inv.redis = { url: redisUrl, prefix };
    inv.slack = {
      mode: 'http',
      defaultRole: 'none',
      users: {
        [USERS.viewer]: 'viewer',
        [USERS.operator]: 'operator',
        [USERS.approver]: 'approver',
        [USERS.approver2]: 'approver',
      },
    };
    inv.cli = { users: { alice: 'operator', bob: 'approver' } };
    writeFileSync(file, stringify(inv));
  }

  async function cli(user: string, ...argv: string[]) {
    let out = '';
    let err = '';
    const io: CliIo = {
      out: (s) => (out += s),
      err: (s) => (err += s),
      env: { USER: user },
      cwd: process.cwd(),
      isTTY: false,
    };
    const code = await main([...argv, '--config', cliInventory], io);
    return { code, out, err };
  }

  async function cutBack(): Promise<void> {
    const t0 = Date.now();
    const cut = await truncatePartition(ref(), CHANNEL, 0, CUT_TO);
    expect(cut.offset).toBe(CUT_TO);
    expect(await highWatermark()).toBe(CUT_TO);
    console.log(`[flow.lab] ${CHANNEL}/0 cut back to ${CUT_TO} in ${Date.now() - t0} ms`);
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'opsbot-flow-'));
    slackInventory = join(work, 'inventory.yaml');
    cliInventory = join(work, 'cli.yaml');
    await createTopic(ref(), {
      name: CHANNEL,
      replicaAssignment: [[1, 2, 3]],
      configs: { 'min.insync.replicas': 2, 'unclean.leader.election.enable': false, 'retention.ms': -1 },
    });
    // 30 orderer-format messages, one per request (one batch each, so the crash can cut anywhere).
    const producer = kafkaClient(kafkaConfig(), {}).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (let i = 0; i < 30; i++) {
      const value = Buffer.from(
        encodeRegularMessage({ payload: new TextEncoder().encode(`tx-${i}`), configSeq: 1 }),
      );
      await producer.send({ topic: CHANNEL, acks: -1, messages: [{ key: '0', value, partition: 0 }] });
    }
    await producer.disconnect();
    await cutBack();
    h = await startHarness({
      inventory: (url) => {
        writeInventory(slackInventory, url, 'flow');
        writeInventory(cliInventory, url, 'flowcli');
        return loadInventory(slackInventory);
      },
      repairs: {},
      workers: { env: ENV, repairSweepMs: 1000 },
    });
    inventory = h.inventory;
  }, 240_000);

  afterAll(async () => {
    await h?.close();
    if (lab) await deleteTopic(ref(), CHANNEL).catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('Slack: operator requests pad-channel, an approver approves, the worker pads to the orderers offset, the result is in the thread, the audit log is intact', async () => {
    const t0 = Date.now();
    const res = await postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
      text: `repair pad-channel ${CHANNEL}`,
      user_id: USERS.operator,
      channel_id: 'CSEED',
      response_url: h.recorder.responseUrl(),
    });
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(1000);
    const planPost = await h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CSEED' && !c.args['thread_ts'],
      90_000,
    );
    const tPlan = Date.now() - t0;
    const blocks = planPost.args['blocks'] as KnownBlock[];
    const text = JSON.stringify(blocks);
    expect(text).toContain(`produce ${PERSISTED + 1 - CUT_TO} CONNECT messages to ${CHANNEL}/0`);
    expect(text).toContain('orderers agree');
    expect(text).toContain('highWatermark');
    const actions = blocks.find((b) => b.type === 'actions');
    const id = actions?.type === 'actions' ? String((actions.elements[0] as { value?: string }).value) : '';
    expect(id).toMatch(/^rq-/);
    const ts = String(planPost.result?.['ts']);

    // A viewer's press does nothing; the requester cannot approve; an approver can.
    const url = h.recorder.responseUrl();
    await postButtonPress(h.eventsUrl, SIGNING_SECRET, {
      user_id: USERS.viewer,
      action_id: ACTIONS.repairApprove,
      value: id,
      response_url: url,
      channel_id: 'CSEED',
    });
    const viewer = await h.recorder.waitFor((c) => c.method === 'response_url' && url.endsWith(c.path));
    expect(String(viewer.args['text'])).toMatch(/needs the approver role; you are a viewer/);
    expect(await highWatermark()).toBe(CUT_TO);

    const url2 = h.recorder.responseUrl();
    const t1 = Date.now();
    await postButtonPress(h.eventsUrl, SIGNING_SECRET, {
      user_id: USERS.approver,
      action_id: ACTIONS.repairApprove,
      value: id,
      response_url: url2,
      channel_id: 'CSEED',
    });
    const approved = await h.recorder.waitFor((c) => c.method === 'response_url' && url2.endsWith(c.path));
    expect(String(approved.args['text'])).toMatch(/Approved by <@UAPPROVER1>/);
    const inThread = (c: RecordedCall) => c.method === 'chat.postMessage' && c.args['thread_ts'] === ts;
    const result = await h.recorder.waitFor(
      (c) => inThread(c) && /^Done/.test(String(c.args['text'])),
      90_000,
    );
    const tRun = Date.now() - t1;
    const resultText = JSON.stringify(result.args['blocks']);
    expect(resultText).toMatch(/produced 9 CONNECT messages .*high watermark 12 -&gt; 21/);
    expect(resultText).toMatch(/high watermark 21, the orderers expect 21/);
    expect(await highWatermark()).toBe(PERSISTED + 1);

    // The finding is gone.
    const after = await diagnose({
      inventory,
      cluster: selectCluster(inventory, 'lab'),
      channel: CHANNEL,
      env: {},
    });
    expect(after.findings.map((f) => f.code)).not.toContain('ORDERER_OFFSET_AHEAD');

    const job = await h.queue(QUEUES.repairs).getJob(repairJobId(id));
    expect(job?.returnvalue?.note).toMatch(/^done/);
    const thread = h.recorder.find(inThread).map((c) => String(c.args['text']));
    expect(thread.filter((t) => /^Done/.test(t))).toHaveLength(1);

    let out = '';
    const code = await main(['audit', 'verify', '--config', slackInventory], {
      out: (s) => (out += s),
      err: () => undefined,
      env: {},
      cwd: process.cwd(),
      isTTY: false,
    });
    expect(out).toMatch(/audit log intact/);
    expect(code).toBe(0);
    console.log(
      `[flow.lab] Slack: plan posted ${tPlan} ms after the command; approve -> result in thread ${tRun} ms`,
    );
  }, 180_000);

  it('CLI: repair request / approve (not by the requester) / status / run pads the channel again; a second run repeats nothing', async () => {
    await cutBack();
    const t0 = Date.now();
    const req = await cli('alice', 'repair', 'request', 'pad-channel', CHANNEL);
    expect(req.code, req.err).toBe(0);
    expect(req.out).toMatch(
      /produce 9 CONNECT messages to \S+\/0\n\s+value 1a00, key "0", partition 0, acks=all/,
    );
    const id = /request (rq-[a-z0-9]+-[0-9a-f]{10}): pending/.exec(req.out)?.[1] ?? '';
    expect(id).not.toBe('');

    const self = await cli('alice', 'repair', 'approve', id);
    expect(self.code).toBe(2);
    expect(self.err).toMatch(/alice requested this repair and cannot approve it/);
    const nobody = await cli('mallory', 'repair', 'approve', id);
    expect(nobody.code).toBe(2);
    expect(nobody.err).toMatch(/needs the approver role \(has: none\)/);

    const ok = await cli('bob', 'repair', 'approve', id);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(new RegExp(`approved: queued as job ${repairJobId(id)}`));
    const status = await cli('bob', 'repair', 'status', id);
    expect(status.out).toMatch(/status\s+approved \(by bob/);
    expect(status.out).toMatch(/execution\s+not started/);
    expect(await highWatermark()).toBe(CUT_TO);

    const run = await cli('bob', 'repair', 'run', id);
    expect(run.code, run.out + run.err).toBe(0);
    expect(run.out).toMatch(/^done: done and verified/);
    expect(await highWatermark()).toBe(PERSISTED + 1);
    const again = await cli('bob', 'repair', 'run', id);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/already ended/);
    expect(await highWatermark()).toBe(PERSISTED + 1);

    const status2 = await cli('alice', 'repair', 'status', id, '--json');
    const s = JSON.parse(status2.out) as {
      execution: { status: string; steps: { status: string; attempts: number }[] };
    };
    expect(s.execution.status).toBe('done');
    expect(s.execution.steps).toEqual([expect.objectContaining({ status: 'done', attempts: 1 })]);
    const verify = await cli('alice', 'audit', 'verify');
    expect(verify.code).toBe(0);
    const tail = await cli('alice', 'audit', 'tail', '-n', '40', '--json');
    const whats = (JSON.parse(tail.out) as { entry: { what: string; who: string; jobId: string } }[])
      .map((r) => r.entry)
      .filter((e) => e.jobId === id)
      .map((e) => `${e.who}:${e.what}`);
    expect(whats).toEqual(
      expect.arrayContaining([
        'alice:request',
        'alice:refuse',
        'mallory:refuse',
        'bob:approved',
        'bob:command',
      ]),
    );
    console.log(`[flow.lab] CLI: request -> done ${Date.now() - t0} ms`);
  }, 240_000);
});
