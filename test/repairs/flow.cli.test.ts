/**
 * The approval flow from the command line (no cluster needed: requests are made with the store directly, with a
 * hand-made plan): `repair approve / deny / status / run` as the OS user ($USER) with the role `cli.users` gives
 * it; self-approval refused as in Slack; the approval queues `repair-<id>` and tells a Slack thread when the
 * request came from Slack; exit codes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Approvals } from '../../src/approvals/index.js';
import { auditLogFor } from '../../src/audit/index.js';
import type { CliIo } from '../../src/cli/context.js';
import { main } from '../../src/cli/main.js';
import { loadInventory, type Inventory } from '../../src/config/index.js';
import type { RepairPlan } from '../../src/model/index.js';
import { repairApprovals, repairRoles } from '../../src/ops/repair-run.js';
import { noticeJobId, QUEUES, repairJobId } from '../../src/queue/index.js';
import { saveThread } from '../../src/slack/repairs.js';
import { Queue } from 'bullmq';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { USERS } from '../slack/fixtures.js';

let srv: TestRedis;
let dir: string;
let file: string;
let inventory: Inventory;
let redis: Redis;
let store: Approvals;
let queue: Queue;

const plan: RepairPlan = {
  kind: 'pad-channel',
  cluster: 'lab',
  args: { channel: 'pubchain' },
  preconditions: [{ check: 'orderers agree', ok: true, detail: '3 orderers expect offset 21' }],
  steps: [{ action: 'produce', topic: 'pubchain', partition: 0, count: 7, value: '1a00', key: '0' }],
  expected: { highWatermark: 21 },
  refusal: null,
};

function inventoryText(redisUrl: string): string {
  return `
defaultCluster: lab
clusters:
  lab:
    kafka: { brokers: ["127.0.0.1:1"] }
    zookeeper: { connect: "127.0.0.1:2" }
    channels: [pubchain]
    checks: { everySeconds: 0 }
redis: { url: "${redisUrl}", prefix: cli }
slack:
  users: { ${USERS.operator}: operator, ${USERS.approver}: approver }
cli:
  users: { alice: operator, bob: approver, carol: viewer }
`;
}

async function cli(user: string, ...argv: string[]) {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (s) => (out += s),
    err: (s) => (err += s),
    env: { USER: user },
    cwd: dir,
    isTTY: false,
  };
  const code = await main([...argv, '--config', file], io);
  return { code, out, err };
}

async function request(requester: string, where = 'cli'): Promise<string> {
  const r = await store.requestRepair({ plan, requester, cluster: 'lab', where });
  if (!r.ok) throw new Error(r.message);
  return r.id;
}

beforeAll(async () => {
  srv = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'opsbot-flow-cli-'));
  file = join(dir, 'inventory.yaml');
  writeFileSync(file, inventoryText(srv.url));
  inventory = loadInventory(file);
  redis = srv.client();
  store = repairApprovals(inventory, redis, auditLogFor(redis, inventory));
  queue = new Queue(QUEUES.repairs, { connection: srv.client(), prefix: 'cli' });
});
afterAll(async () => {
  await queue?.close();
  await srv?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await srv.flush();
});

describe('roles', () => {
  it('Slack ids from slack.users, OS users from cli.users, nobody else', () => {
    const roleOf = repairRoles(inventory);
    expect(roleOf(USERS.operator)).toBe('operator');
    expect(roleOf('bob')).toBe('approver');
    expect(roleOf('carol')).toBe('viewer');
    expect(roleOf('mallory')).toBe('none');
    expect(roleOf(USERS.stranger)).toBe('none');
  });
});

describe('repair approve / deny / status / run from the CLI', () => {
  it('refuses self-approval and a viewer; an approver approves, which queues repair-<id> once', async () => {
    const id = await request('alice');
    const self = await cli('alice', 'repair', 'approve', id);
    expect(self.code).toBe(2);
    expect(self.err).toMatch(/alice requested this repair and cannot approve it/);
    const viewer = await cli('carol', 'repair', 'approve', id);
    expect(viewer.code).toBe(2);
    expect(viewer.err).toMatch(/needs the approver role \(has: viewer\)/);

    const ok = await cli('bob', 'repair', 'approve', id);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain(`approved: queued as job ${repairJobId(id)}`);
    const job = await queue.getJob(repairJobId(id));
    expect(job?.data).toMatchObject({ kind: 'repair-execute', requestId: id, cluster: 'lab' });
    const again = await cli('bob', 'repair', 'approve', id);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/is already approved/);
    expect((await queue.getJobs(['waiting', 'delayed', 'active'])).map((j) => j.id)).toEqual([
      repairJobId(id),
    ]);

    const status = await cli('carol', 'repair', 'status', id);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/status\s+approved \(by bob/);
    expect(status.out).toMatch(/approvals\s+1 of 1: bob \(cli\)/);
    const json = JSON.parse((await cli('carol', 'repair', 'status', id, '--json')).out) as {
      request: { status: string };
      execution: { status: string | null; steps: unknown[] };
    };
    expect(json.request.status).toBe('approved');
    expect(json.execution).toMatchObject({
      status: null,
      steps: [expect.objectContaining({ status: 'pending' })],
    });

    const audit = (await auditLogFor(redis, inventory).tail(50)).map((r) => r.entry!);
    const commands = audit.filter((e) => e.what === 'command' && e.jobId === id);
    expect(commands.map((e) => `${e.who}:${e.outcome}:${e.where}`)).toEqual([
      'alice:refused:self-approval:cli',
      'carol:refused:not-approver:cli',
      'bob:approved:cli',
      'bob:refused:already-decided:cli',
    ]);
    expect((await auditLogFor(redis, inventory).verify()).ok).toBe(true);
  });

  it('tells the Slack thread of a request asked in Slack (a repair-notice job)', async () => {
    const id = await request(USERS.operator, 'slack:COPS');
    await saveThread(redis, 'cli', id, { channel: 'COPS', ts: '1700000000.000001' });
    expect((await cli('bob', 'repair', 'approve', id)).code).toBe(0);
    const n = await queue.getJob(noticeJobId(id, 'approved'));
    expect(n?.data).toMatchObject({ kind: 'repair-notice', event: 'approved', who: 'bob', where: 'cli' });
  });

  it('deny needs a reason; an approver denies, the requester withdraws', async () => {
    const id = await request('alice');
    const noReason = await cli('bob', 'repair', 'deny', id);
    expect(noReason.code).toBe(64);
    const denied = await cli('bob', 'repair', 'deny', id, '--reason', 'not during the freeze');
    expect(denied.code, denied.err).toBe(0);
    expect(denied.out).toMatch(/denied/);
    expect((await cli('bob', 'repair', 'status', id)).out).toMatch(
      /denied \(by bob.*: not during the freeze/,
    );

    const mine = await request('alice');
    const withdrawn = await cli('alice', 'repair', 'deny', mine, '--reason', 'wrong channel');
    expect(withdrawn.out).toMatch(/withdrawn/);
    const other = await request('alice');
    const carol = await cli('carol', 'repair', 'deny', other, '--reason', 'x');
    expect(carol.code).toBe(2);
    expect(carol.err).toMatch(/only an approver or the requester/);
  });

  it('run refuses what is not approved; status of an unknown request; bad ids are usage errors', async () => {
    const id = await request('alice');
    const run = await cli('bob', 'repair', 'run', id);
    expect(run.code).toBe(2);
    expect(run.out).toMatch(/refused: request .* is pending, not approved: not run/);
    const unknown = await cli('bob', 'repair', 'status', 'rq-zzzz-0123456789');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/no repair request/);
    expect((await cli('bob', 'repair', 'status', 'nope')).code).toBe(64);
    const resolve = await cli('alice', 'repair', 'resolve', id, '--step', '1', '--done');
    expect(resolve.code).toBe(2);
    expect(resolve.err).toMatch(/needs the approver role/);
  });

  it('says so when Redis is not there (exit 3)', async () => {
    const down = join(dir, 'down.yaml');
    writeFileSync(down, inventoryText('redis://127.0.0.1:1'));
    let err = '';
    const code = await main(['repair', 'status', 'rq-zzzz-0123456789', '--config', down], {
      out: () => undefined,
      err: (s) => (err += s),
      env: { USER: 'bob' },
      cwd: dir,
      isTTY: false,
    });
    expect(code).toBe(3);
    expect(err).toMatch(/127\.0\.0\.1:1/);
  });
});
