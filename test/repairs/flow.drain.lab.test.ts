/**
 * Seed 002 prevented, through the approval flow on the real lab: an RF=1 topic and an RF=3 topic have replicas on
 * broker 2. An operator's signed `/fabric repair drain-broker 2` is planned by the worker on the lab; drain-broker
 * is a dangerous kind, so it needs two approvers (the first press is recorded and told in the thread); the second
 * approval queues it, the worker runs the real reassignment (defaultStepHandlers), verifies, and posts the result
 * in the thread. Then broker 2 is killed: no partition goes offline.
 *
 * Afterwards the lab's other topics are moved back where they were (as test/repairs/drain-broker.lab.test.ts).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadInventory, selectCluster, type Inventory } from '../../src/config/index.js';
import { createTopic, deleteTopic, getPartitionState, healLab, killBroker } from '../../src/lab/index.js';
import { diagnose } from '../../src/ops/diagnose.js';
import { ACTIONS, type KnownBlock } from '../../src/slack/blocks.js';
import { postButtonPress, postSlashCommand, type RecordedCall } from '../helpers/slack.js';
import { USERS } from '../slack/fixtures.js';
import { ENV, SIGNING_SECRET, startHarness, type Harness } from '../slack/harness.js';
import { produceOnePerBatch, uniqueTopic } from '../lab/helpers.js';
import { repairLab, type RepairLab } from './repair-lab.js';

const lab = inject('lab');
const ref = () => ({ workDir: lab!.workDir });

function withSlack(inv: Inventory, redisUrl: string): Inventory {
  return {
    ...inv,
    clusters: { lab: { ...inv.clusters['lab']!, checks: { everySeconds: 0, logWindowMinutes: 60 } } },
    redis: { ...inv.redis, url: redisUrl, prefix: 'flowdrain' },
    slack: {
      mode: 'http',
      port: 0,
      botTokenEnv: 'SLACK_BOT_TOKEN',
      appTokenEnv: 'SLACK_APP_TOKEN',
      signingSecretEnv: 'SLACK_SIGNING_SECRET',
      users: {
        [USERS.operator]: 'operator',
        [USERS.approver]: 'approver',
        [USERS.approver2]: 'approver',
      },
      defaultRole: 'none',
      dangerousRepairs: ['drain-broker', 'set-topic-config'],
    },
  };
}

describe.skipIf(!lab)('seed 002 prevented through the approval flow: drain broker 2, then kill it', () => {
  let h: Harness;
  let r: RepairLab;
  const rf1 = uniqueTopic('flowdrain-rf1');
  const rf3 = uniqueTopic('flowdrain-rf3');
  let original: Map<string, number[]>;

  beforeAll(async () => {
    await healLab(ref());
    r = repairLab(lab!.inventory);
    await createTopic(ref(), { name: rf1, replicaAssignment: [[2]] });
    await createTopic(ref(), {
      name: rf3,
      replicaAssignment: [
        [2, 1, 3],
        [1, 2, 4],
      ],
      configs: { 'min.insync.replicas': 2 },
    });
    await produceOnePerBatch(lab!.workDir, rf1, 20);
    await produceOnePerBatch(lab!.workDir, rf3, 10, 0);
    original = new Map(
      (await r.snapshot()).zookeeper!.partitions.map((p) => [`${p.topic}/${p.partition}`, p.replicas]),
    );
    h = await startHarness({
      inventory: (url) => withSlack(loadInventory(lab!.inventory), url),
      repairs: {},
      workers: { env: ENV, repairSweepMs: 1000 },
    });
  }, 180_000);

  afterAll(async () => {
    await h?.close();
    try {
      await healLab(ref());
      const now = (await r.snapshot()).zookeeper!.partitions;
      const back = now
        .filter((p) => p.topic !== rf1 && p.topic !== rf3)
        .filter((p) => original.get(`${p.topic}/${p.partition}`)?.join(',') !== p.replicas.join(','))
        .map((p) => ({
          topic: p.topic,
          partition: p.partition,
          replicas: original.get(`${p.topic}/${p.partition}`)!,
        }));
      if (back.length > 0) {
        const res = await r.execute({
          kind: 'restore',
          cluster: 'lab',
          args: {},
          preconditions: [],
          steps: [
            { action: 'reassign-partitions', partitions: back },
            { action: 'wait', for: 'the restore', timeoutMs: 120_000 },
            {
              action: 'preferred-leader-election',
              partitions: back.map(({ topic, partition }) => ({ topic, partition })),
              optional: true,
            },
          ],
          expected: {},
          refusal: null,
        });
        expect(res.status, res.message).toBe('done');
      }
      for (const t of [rf1, rf3]) await deleteTopic(ref(), t).catch(() => undefined);
    } finally {
      await r?.close();
    }
  }, 300_000);

  it('two approvers, the worker drains broker 2, the result is in the thread; killing broker 2 takes nothing offline', async () => {
    const t0 = Date.now();
    await postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
      text: 'repair drain-broker 2',
      user_id: USERS.operator,
      channel_id: 'CDRAIN',
      response_url: h.recorder.responseUrl(),
    });
    const planPost = await h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'CDRAIN' && !c.args['thread_ts'],
      90_000,
    );
    const blocks = planPost.args['blocks'] as KnownBlock[];
    const actions = blocks.find((b) => b.type === 'actions');
    const id = actions?.type === 'actions' ? String((actions.elements[0] as { value?: string }).value) : '';
    expect(id, JSON.stringify(blocks)).toMatch(/^rq-/);
    const ts = String(planPost.result?.['ts']);
    const inThread = (c: RecordedCall) => c.method === 'chat.postMessage' && c.args['thread_ts'] === ts;

    const pressAs = async (user: string) => {
      const url = h.recorder.responseUrl();
      await postButtonPress(h.eventsUrl, SIGNING_SECRET, {
        user_id: user,
        action_id: ACTIONS.repairApprove,
        value: id,
        response_url: url,
        channel_id: 'CDRAIN',
      });
      return h.recorder.waitFor((c) => c.method === 'response_url' && url.endsWith(c.path));
    };
    expect(String((await pressAs(USERS.approver)).args['text'])).toMatch(/approval 1 of 2 recorded/);
    await h.recorder.waitFor((c) => inThread(c) && /Approval 1 of 2/.test(String(c.args['text'])));
    expect(String((await pressAs(USERS.approver2)).args['text'])).toMatch(/approved: the repair is queued/);
    const t1 = Date.now();
    const result = await h.recorder.waitFor(
      (c) => inThread(c) && /^(Done|Failed|Not run|Steps done|Stopped)/.test(String(c.args['text'])),
      180_000,
    );
    expect(String(result.args['text'])).toMatch(/^Done/);
    expect(JSON.stringify(result.args['blocks'])).toMatch(/broker 2 holds no replica/);
    console.log(
      `[flow.drain] plan ${t1 - t0} ms (incl. two approvals); execute+verify+post ${Date.now() - t1} ms`,
    );

    await killBroker(ref(), 2, { waitUnregistered: true });
    const inventory = h.inventory;
    const report = await diagnose({ inventory, cluster: selectCluster(inventory, 'lab'), env: {} });
    expect(report.findings.filter((f) => f.code === 'PARTITION_OFFLINE')).toEqual([]);
    for (const t of [rf1, rf3]) expect((await getPartitionState(ref(), t, 0))?.leader).toBeGreaterThan(0);
    expect((await h.audit!.verify()).ok).toBe(true);
  }, 300_000);
});
