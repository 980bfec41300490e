/**
 * The repair flow through Slack with the real approval store (src/approvals) plugged in with slackApprovals():
 * `/fabric repair` -> plan posted with Approve/Deny carrying a real request id -> buttons -> approvals.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { approvalsFor, isRequestId, type RepairRequest } from '../../src/approvals/index.js';
import { auditLogFor } from '../../src/audit/index.js';
import type { RepairPlan } from '../../src/model/index.js';
import { QUEUES } from '../../src/queue/index.js';
import { ACTIONS, type KnownBlock } from '../../src/slack/blocks.js';
import { slackApprovals, type Approvals } from '../../src/slack/approvals.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { postButtonPress, postSlashCommand } from '../helpers/slack.js';
import { testInventory, USERS } from './fixtures.js';
import { SIGNING_SECRET, startHarness, type Harness } from './harness.js';

let redis: TestRedis;
let h: Harness;
const executed: RepairRequest[] = [];
let refuse: string | null = null;

beforeAll(async () => {
  redis = await startRedis();
  const inventory = testInventory({ redisUrl: redis.url });
  const conn = redis.client({ maxRetriesPerRequest: null });
  const store = approvalsFor(inventory, conn, auditLogFor(conn, inventory), async (request) => {
    executed.push(request);
  });
  const approvals: Approvals = slackApprovals(store);
  h = await startHarness({
    redis,
    approvals,
    workers: {
      approvals,
      ops: {
        async planRepair({ kind, cluster, args }): Promise<RepairPlan> {
          return {
            kind,
            cluster: cluster.name,
            args,
            preconditions: [
              { check: 'orderers agree', ok: refuse === null, detail: refuse ?? '1 orderer expects 28' },
            ],
            steps: refuse
              ? []
              : [{ action: 'produce', topic: 'pubchain', partition: 0, count: 8, value: '1a00', key: '0' }],
            expected: { highWatermark: 28 },
            refusal: refuse,
          };
        },
        async audit() {
          // the store audits on its own
        },
      },
    },
  });
});
afterAll(async () => {
  await h?.close();
  await redis?.stop();
});
beforeEach(async () => {
  refuse = null;
  executed.length = 0;
  h.recorder.clear();
  await h.queue(QUEUES.commands).obliterate({ force: true });
});

async function requestPlan(
  user: string,
): Promise<{ id: string | undefined; blocks: KnownBlock[]; ts: string }> {
  await postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
    text: 'repair pad-channel pubchain',
    user_id: user,
    response_url: h.recorder.responseUrl(),
  });
  const post = await h.recorder.waitFor(
    (c) => c.method === 'chat.postMessage' && c.args['channel'] === 'COPS',
  );
  const blocks = post.args['blocks'] as KnownBlock[];
  const actions = blocks.find((b) => b.type === 'actions');
  const id = actions?.type === 'actions' ? (actions.elements[0] as { value?: string }).value : undefined;
  return { id, blocks, ts: String(post.result?.['ts']) };
}

async function press(user: string, action: string, id: string) {
  const url = h.recorder.responseUrl();
  await postButtonPress(h.eventsUrl, SIGNING_SECRET, {
    user_id: user,
    action_id: action,
    value: id,
    response_url: url,
  });
  const reply = await h.recorder.waitFor((c) => c.method === 'response_url' && url.endsWith(c.path));
  return reply.args as { text?: string; response_type?: string };
}

describe('repairs with the real approval store', () => {
  it('puts a real request id on the buttons; the requester cannot approve it, another approver can', async () => {
    const plan = await requestPlan(USERS.approver);
    expect(plan.id && isRequestId(plan.id)).toBe(true);
    const self = await press(USERS.approver, ACTIONS.repairApprove, plan.id!);
    expect(self.response_type).toBe('ephemeral');
    expect(self.text).toMatch(/requested this repair and cannot approve it/);
    const ok = await press(USERS.approver2, ACTIONS.repairApprove, plan.id!);
    expect(ok.text).toMatch(/Approved by <@UAPPROVER2>.*approved: the repair is queued/);
    expect(executed.map((r) => r.id)).toEqual([plan.id]);
    const again = await press(USERS.approver2, ACTIONS.repairDeny, plan.id!);
    expect(again.text).toMatch(/is already approved/);
  });

  it('lets an approver deny', async () => {
    const plan = await requestPlan(USERS.operator);
    const denied = await press(USERS.approver, ACTIONS.repairDeny, plan.id!);
    expect(denied.text).toMatch(/Denied by <@UAPPROVER1>/);
    expect(executed).toEqual([]);
  });

  it('posts a refused plan without buttons and proposes nothing', async () => {
    refuse = 'orderers disagree: orderer1 expects 21, orderer2 expects 23';
    const plan = await requestPlan(USERS.operator);
    expect(plan.id).toBeUndefined();
    expect(JSON.stringify(plan.blocks)).toContain('Refused');
  });
});
