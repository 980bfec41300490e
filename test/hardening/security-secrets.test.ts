/**
 * Issue #9, security: secrets come from the environment and go nowhere else. The bot (Bolt over HTTP), real
 * workers and the approval flow run with unique secret values in their environment: the Slack bot token,
 * signing secret and app token, a Kafka SASL password, a Docker TLS client key (file, encrypted with a
 * passphrase from the environment) and a Redis password (redis-server runs with requirepass). Then:
 *
 * - `/fabric status pubchain` runs the real diagnose: the Kafka bootstrap broker is a fake that refuses the
 *   SASL password (failed authentication), ZooKeeper, Docker (TLS) and the orderer's operations endpoint
 *   (https) are unreachable, so every error path runs;
 * - a repair goes request -> plan -> approval -> execution -> result (plan and steps injected, as in
 *   test/slack/flow.test.ts);
 * - a forged request, a Slack API failure, a Redis connection with a wrong password.
 *
 * Every pino line of every logger (src/log.ts captureLogs), the whole audit stream, every key in Redis (jobs,
 * approvals) and everything sent to Slack (the recorder; the Authorization header excepted: that one must
 * carry the token) is searched for every secret value: none may appear.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLogFor, type AuditLog } from '../../src/audit/index.js';
import { parseInventory, type Inventory } from '../../src/config/index.js';
import { captureLogs, type LogCapture } from '../../src/log.js';
import type { RepairPlan } from '../../src/model/index.js';
import { repairApprovals } from '../../src/ops/repair-run.js';
import { createProducer, noticeEnqueuer, repairEnqueuer, type Producer } from '../../src/queue/index.js';
import { createRedis, withRedis } from '../../src/redis.js';
import { idempotent, type StepHandlers } from '../../src/repairs/steps.js';
import { createSlackBot, type SlackBot } from '../../src/slack/app.js';
import { slackApprovals } from '../../src/slack/approvals.js';
import { ACTIONS, type KnownBlock } from '../../src/slack/blocks.js';
import { startWorkers, type RunningWorkers } from '../../workers/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import {
  postButtonPress,
  postSlashCommand,
  slackSignature,
  startSlackRecorder,
  type SlackRecorder,
} from '../helpers/slack.js';

const unique = (prefix = '') => `${prefix}${randomBytes(12).toString('hex')}`;
const SECRETS = {
  SLACK_BOT_TOKEN: unique('xoxb-1-'),
  SLACK_SIGNING_SECRET: unique(),
  SLACK_APP_TOKEN: unique('xapp-1-'),
  KAFKA_SASL_PASSWORD: unique('kafka-'),
  REDIS_PASSWORD: unique('redis-'),
  DOCKER_KEY_PASSPHRASE: unique('dock-'),
};
const USERS = { viewer: 'UVIEWER1', operator: 'UOPERATOR1', approver: 'UAPPROVER1' };

let dir: string;
let dockerKeyLines: string[];
let redis: TestRedis;
let recorder: SlackRecorder;
let inventory: Inventory;
let bot: SlackBot;
let eventsUrl: string;
let producerConnection: Redis;
let producer: Producer;
let audit: AuditLog;
let workers: RunningWorkers;
let fakeKafka: Server;
const saslTokensSeen: string[] = [];
let logs: LogCapture;

/** A Kafka listener that offers SASL PLAIN and refuses every password (closes, as a broker does). */
async function refusingKafka(): Promise<number> {
  fakeKafka = createServer((socket) => {
    let buf = Buffer.alloc(0);
    let handshaken = false;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const body = buf.subarray(4, 4 + buf.readInt32BE(0));
        buf = buf.subarray(4 + body.length);
        if (handshaken) {
          saslTokensSeen.push(body.toString('utf8'));
          socket.destroy();
          return;
        }
        const apiKey = body.readInt16BE(0);
        const correlationId = body.readInt32BE(4);
        const answer =
          apiKey === 18
            ? Buffer.from([0, 0, 0, 0, 0, 1, 0, 17, 0, 0, 0, 0]) // ApiVersions: SaslHandshake v0 only
            : Buffer.from([0, 0, 0, 0, 0, 1, 0, 5, ...Buffer.from('PLAIN')]); // handshake ok, [PLAIN]
        if (apiKey === 17) handshaken = true;
        const out = Buffer.alloc(8 + answer.length);
        out.writeInt32BE(4 + answer.length);
        out.writeInt32BE(correlationId, 4);
        answer.copy(out, 8);
        socket.write(out);
      }
    });
  });
  await new Promise<void>((r) => fakeKafka.listen(0, '127.0.0.1', r));
  return (fakeKafka.address() as { port: number }).port;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

// The repair flow's plan and steps (no cluster needed for them).
const plan = (cluster: string, args: Record<string, string | number>): RepairPlan => ({
  kind: 'pad-channel',
  cluster,
  args,
  preconditions: [{ check: 'orderers agree', ok: true, detail: '1 orderer expects offset 28' }],
  steps: [{ action: 'produce', topic: 'pubchain', partition: 0, count: 3, value: '1a00', key: '0' }],
  expected: { highWatermark: 28 },
  refusal: null,
});
const handlers: StepHandlers = {
  produce: idempotent<'produce'>(async (step) => ({ ok: true, detail: `produced ${step.count}` })),
};

beforeAll(async () => {
  logs = captureLogs();
  dir = mkdtempSync(join(tmpdir(), 'opsbot-secrets-'));
  // A Docker TLS client key, encrypted with a passphrase from the environment.
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-passout',
      'env:DOCKER_KEY_PASSPHRASE',
      '-keyout',
      'docker-key.pem',
      '-out',
      'docker-cert.pem',
      '-days',
      '1',
      '-subj',
      '/CN=opsbot',
    ],
    {
      cwd: dir,
      env: { ...process.env, DOCKER_KEY_PASSPHRASE: SECRETS.DOCKER_KEY_PASSPHRASE },
      stdio: 'pipe',
    },
  );
  dockerKeyLines = readFileSync(join(dir, 'docker-key.pem'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 20 && !l.startsWith('-----'));
  expect(dockerKeyLines.length).toBeGreaterThan(0);

  redis = await startRedis({ args: ['--requirepass', SECRETS.REDIS_PASSWORD] });
  recorder = await startSlackRecorder();
  const kafkaPort = await refusingKafka();
  const dead = await closedPort();
  inventory = parseInventory(
    `
defaultCluster: lab
clusters:
  lab:
    kafka:
      brokers: ["127.0.0.1:${kafkaPort}"]
      connectTimeoutMs: 1000
      requestTimeoutMs: 2000
      sasl: { mechanism: plain, username: opsbot, passwordEnv: KAFKA_SASL_PASSWORD }
      containers: { '1': { name: kafka1, endpoint: remote } }
    zookeeper: { connect: "127.0.0.1:${dead}", connectTimeoutMs: 1000, sessionTimeoutMs: 4000 }
    orderers:
      - name: orderer1.example.com
        channels: [testchainid, pubchain]
        operationsUrl: "https://127.0.0.1:${dead}"
        operationsTls: { ca: "${join(dir, 'docker-cert.pem')}" }
    docker:
      endpoints:
        remote:
          host: 127.0.0.1
          port: ${dead}
          protocol: https
          timeoutMs: 1000
          tls: { cert: "${join(dir, 'docker-cert.pem')}", key: "${join(dir, 'docker-key.pem')}", passphraseEnv: DOCKER_KEY_PASSPHRASE }
    checks: { everySeconds: 0 }
redis: { url: "${redis.url}", passwordEnv: REDIS_PASSWORD, prefix: s }
slack:
  mode: http
  apiUrl: "${recorder.apiUrl}"
  users: { ${USERS.viewer}: viewer, ${USERS.operator}: operator, ${USERS.approver}: approver }
`,
    'secrets-inventory.yaml',
  );
  const env = { ...SECRETS };
  producerConnection = createRedis(inventory.redis, { flavour: 'request', env, connectionName: 'test:bot' });
  await producerConnection.connect();
  producer = createProducer({ connection: producerConnection, prefix: inventory.redis.prefix });
  audit = auditLogFor(producerConnection, inventory);
  const store = repairApprovals(inventory, producerConnection, audit, repairEnqueuer(producer));
  bot = createSlackBot({
    inventory,
    env,
    producer,
    mode: 'http',
    port: 0,
    host: '127.0.0.1',
    botId: 'BBOT',
    botUserId: 'UBOT',
    approvals: slackApprovals(store, { notify: noticeEnqueuer(producer) }),
    audit,
  });
  const { port } = await bot.start();
  eventsUrl = `http://127.0.0.1:${port}/slack/events`;
  workers = await startWorkers({
    inventory,
    env,
    syncSchedules: false,
    ops: {
      async planRepair({ cluster, args }) {
        return plan(cluster.name, args);
      },
      async verifyRepair() {
        return { ok: true, detail: 'high watermark 28' };
      },
    },
    stepHandlers: () => handlers,
    approvalStore: (d) => repairApprovals(inventory, d.redis, d.audit, d.enqueue),
    repairGraceMs: 0,
    repairSweepMs: 200,
  });
}, 60_000);

afterAll(async () => {
  logs?.stop();
  await workers?.close();
  await bot?.stop();
  await producer?.close();
  producerConnection?.disconnect();
  await recorder?.close();
  await new Promise((r) => fakeKafka?.close(r));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const post = (text: string, user: string) =>
  postSlashCommand(eventsUrl, SECRETS.SLACK_SIGNING_SECRET, {
    text,
    user_id: user,
    response_url: recorder.responseUrl(),
  });

describe('secrets never leave the environment', () => {
  it('status: the real diagnose with a refused SASL password and unreachable ZooKeeper, Docker (TLS), orderer (https)', async () => {
    expect((await post('status pubchain', USERS.viewer)).status).toBe(200);
    const report = await recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && /pubchain/.test(JSON.stringify(c.args)),
      30_000,
    );
    const text = JSON.stringify(report.args);
    // The errors were real: the broker saw the password and refused it; the other sources were tried.
    expect(saslTokensSeen.some((t) => t.includes(SECRETS.KAFKA_SASL_PASSWORD))).toBe(true);
    expect(text).toMatch(/authentication failed/);
    expect(report.token).toBe(SECRETS.SLACK_BOT_TOKEN); // the bot token went where it belongs, only there
  });

  it('a repair: request, plan, approval, execution, result in the thread', async () => {
    expect((await post('repair pad-channel pubchain', USERS.operator)).status).toBe(200);
    const planPost = await recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && /Repair plan/.test(String(c.args['text'])),
      30_000,
    );
    const blocks = planPost.args['blocks'] as KnownBlock[];
    const actions = blocks.find((b) => b.type === 'actions');
    const id = actions?.type === 'actions' ? ((actions.elements[0] as { value?: string }).value ?? '') : '';
    expect(id).toMatch(/^rq-/);
    const res = await postButtonPress(eventsUrl, SECRETS.SLACK_SIGNING_SECRET, {
      user_id: USERS.approver,
      action_id: ACTIONS.repairApprove,
      value: id,
      response_url: recorder.responseUrl(),
    });
    expect(res.status).toBe(200);
    await recorder.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.args['thread_ts'] !== undefined &&
        /^Done/.test(String(c.args['text'])),
      30_000,
    );
  });

  it('failures: a forged request, Slack refusing a post, Redis with a wrong password', async () => {
    const body = 'token=x&command=%2Ffabric&text=diagnose&user_id=UAPPROVER1';
    const ts = Math.floor(Date.now() / 1000);
    const forged = await fetch(eventsUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': slackSignature(`${SECRETS.SLACK_SIGNING_SECRET}x`, ts, body),
      },
      body,
    });
    expect(forged.status).toBe(401);

    recorder.failNext('chat.postMessage', 'invalid_auth');
    await post('brokers', USERS.viewer);
    await recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && /broker/i.test(JSON.stringify(c.args)),
      30_000,
    );

    const wrong = createRedis(inventory.redis, {
      flavour: 'request',
      env: { ...SECRETS, REDIS_PASSWORD: `${SECRETS.REDIS_PASSWORD}-wrong` },
    });
    await wrong.connect().catch(() => undefined); // refused: WRONGPASS
    const err = await withRedis(wrong, () => wrong.ping()).then(
      () => null,
      (e: Error) => e,
    );
    wrong.disconnect();
    if (process.env['DEBUG_SECRETS']) console.log(err?.message);
    expect(err?.message).toMatch(/authentication failed/);
    expect(err?.message).not.toContain(SECRETS.REDIS_PASSWORD);
  });

  it('no log line, audit entry, Redis key or Slack message holds a secret', async () => {
    await new Promise((r) => setTimeout(r, 500)); // let the last audit appends and logs land
    const logText = logs.text();
    expect(logs.lines.length).toBeGreaterThan(20); // the capture saw the run (trace level, every logger)

    const r = redis.client({ password: SECRETS.REDIS_PASSWORD });
    const entries = await audit.read('-', 10_000);
    expect(entries.length).toBeGreaterThan(5);
    const auditText = JSON.stringify(await r.xrange(`${inventory.redis.prefix}:audit`, '-', '+'));

    let redisText = '';
    for (const key of await r.keys('*')) {
      const type = await r.type(key);
      const v =
        type === 'string'
          ? await r.get(key)
          : type === 'hash'
            ? await r.hgetall(key)
            : type === 'list'
              ? await r.lrange(key, 0, -1)
              : type === 'zset'
                ? await r.zrange(key, '0', '-1')
                : type === 'set'
                  ? await r.smembers(key)
                  : type === 'stream'
                    ? await r.xrange(key, '-', '+')
                    : type;
      redisText += `${key} ${JSON.stringify(v)}\n`;
    }
    // What went to Slack: message contents, answers to response_urls. The token itself goes to Slack's Web API
    // (the Authorization header, or a `token` argument): that is its one legitimate destination.
    for (const c of recorder.calls) {
      if (c.method === 'response_url') expect(c.token).toBeUndefined();
      else expect([undefined, SECRETS.SLACK_BOT_TOKEN]).toContain(c.token);
    }
    const slackText = JSON.stringify(
      recorder.calls.map(({ token: _token, args: { token: _arg, ...args }, ...call }) => ({ ...call, args })),
    );

    const places = { logs: logText, audit: auditText, redis: redisText, slack: slackText };
    if (process.env['DEBUG_SECRETS']) {
      for (const [where, text] of Object.entries(places))
        for (const [name, value] of Object.entries(SECRETS)) {
          const i = text.indexOf(value);
          if (i >= 0) console.log(where, name, text.slice(Math.max(0, i - 300), i + 100));
        }
    }
    for (const [where, text] of Object.entries(places)) {
      for (const [name, value] of Object.entries(SECRETS)) {
        expect(text.includes(value), `${name} in ${where}`).toBe(false);
      }
      for (const line of dockerKeyLines)
        expect(text.includes(line), `the Docker key in ${where}`).toBe(false);
    }
  });
});
