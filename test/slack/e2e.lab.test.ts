/**
 * End to end on the real lab (test/global-setup.ts): a signed `/fabric status <channel>` -> Bolt (HTTP) ->
 * BullMQ on a real Redis -> a real worker running the real diagnose against the lab's ZooKeeper and Kafka ->
 * Block Kit posted to the local Web API recorder, in the channel it was asked in, with the findings a direct
 * diagnose of the same channel gives. Then a fault (two of three replicas killed): the report says so and the
 * critical finding opens an incident, which the next check after healing closes.
 *
 *   npx vitest run test/slack/e2e.lab.test.ts
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadInventory, selectCluster, type Inventory } from '../../src/config/index.js';
import {
  createTopic,
  deleteTopic,
  getPartitionState,
  healLab,
  killBroker,
  waitFor,
} from '../../src/lab/index.js';
import { diagnose } from '../../src/ops/diagnose.js';
import type { KnownBlock } from '../../src/slack/blocks.js';
import { postSlashCommand, type RecordedCall } from '../helpers/slack.js';
import { USERS } from './fixtures.js';
import { ENV, SIGNING_SECRET, startHarness, type Harness } from './harness.js';

const lab = inject('lab');
const ref = () => ({ workDir: lab!.workDir });
const FAULT_TOPIC = `e2e-slack-${process.pid}`;

function withSlack(inv: Inventory, redisUrl: string): Inventory {
  const cluster = inv.clusters['lab']!;
  return {
    ...inv,
    clusters: { ...inv.clusters, lab: { ...cluster, channels: [...(cluster.channels ?? []), FAULT_TOPIC] } },
    redis: { ...inv.redis, url: redisUrl, prefix: 'e2e' },
    slack: {
      mode: 'http',
      port: 0,
      botTokenEnv: 'SLACK_BOT_TOKEN',
      appTokenEnv: 'SLACK_APP_TOKEN',
      signingSecretEnv: 'SLACK_SIGNING_SECRET',
      incidentChannel: 'CINCIDENTS',
      users: { [USERS.viewer]: 'viewer' },
      defaultRole: 'none',
      dangerousRepairs: [],
    },
  };
}

const textOf = (c: RecordedCall) => JSON.stringify(c.args['blocks'] ?? '') + String(c.args['text'] ?? '');

describe.skipIf(!lab)('/fabric on the lab', () => {
  let h: Harness;
  let inventory: Inventory;

  beforeAll(async () => {
    await healLab(ref());
    h = await startHarness({
      inventory: (url) => withSlack(loadInventory(lab!.inventory), url),
      workers: { env: ENV },
    });
    inventory = h.inventory;
  });
  afterEach(async () => {
    await healLab(ref());
  });
  afterAll(async () => {
    await h?.close();
    if (lab) await deleteTopic(ref(), FAULT_TOPIC).catch(() => undefined);
  });

  async function status(channel: string, slackChannel: string): Promise<RecordedCall> {
    const res = await postSlashCommand(h.eventsUrl, SIGNING_SECRET, {
      text: `status ${channel}`,
      user_id: USERS.viewer,
      channel_id: slackChannel,
      response_url: h.recorder.responseUrl(),
    });
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(1000);
    expect(String((res.body as { text?: string }).text)).toMatch(
      new RegExp(`Queued status of channel ${channel} on lab`),
    );
    return h.recorder.waitFor(
      (c) => c.method === 'chat.postMessage' && c.args['channel'] === slackChannel,
      90_000,
    );
  }

  it('posts the status of pubchain in the channel it was asked in, with the findings diagnose gives', async () => {
    const post = await status('pubchain', 'CPUBCHAIN');
    const direct = await diagnose({
      inventory,
      cluster: selectCluster(inventory, 'lab'),
      channel: 'pubchain',
      env: {},
    });
    const text = textOf(post);
    const blocks = post.args['blocks'] as KnownBlock[];
    expect(blocks.length).toBeLessThanOrEqual(50);
    expect(text).toMatch(/pubchain\s+0\s+\d/); // the partition's row in the table
    for (const f of direct.report.findings) expect(text).toContain(f.code);
    const verdict = ['OK', 'WARNING', 'CRITICAL'][Math.min(direct.exitCode, 2)];
    expect(String(post.args['text'])).toContain(verdict);
    // Nothing went anywhere else.
    expect(
      h.recorder.find(
        (c) =>
          c.method === 'chat.postMessage' &&
          c.args['channel'] !== 'CPUBCHAIN' &&
          c.args['channel'] !== 'CINCIDENTS',
      ),
    ).toEqual([]);
  }, 120_000);

  it('reports a channel under min ISR, opens an incident, and closes it once healed', async () => {
    await createTopic(ref(), {
      name: FAULT_TOPIC,
      replicaAssignment: [[1, 2, 3]],
      configs: { 'min.insync.replicas': 2 },
    });
    await killBroker(ref(), 2);
    await killBroker(ref(), 3);
    await waitFor(async () => (await getPartitionState(ref(), FAULT_TOPIC, 0))?.isr.length === 1, {
      timeoutMs: 60_000,
      what: `${FAULT_TOPIC}/0 ISR to shrink to one`,
    });
    h.recorder.clear();
    const post = await status(FAULT_TOPIC, 'CFAULT');
    expect(textOf(post)).toContain('UNDER_MIN_ISR');
    expect(String(post.args['text'])).toContain('CRITICAL');
    const incident = await h.recorder.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.args['channel'] === 'CINCIDENTS' &&
        String(c.args['text']).startsWith(`INCIDENT lab UNDER_MIN_ISR: ${FAULT_TOPIC}/0`),
      30_000,
    );
    expect(incident.args['thread_ts']).toBeUndefined();

    await healLab(ref());
    await waitFor(async () => (await getPartitionState(ref(), FAULT_TOPIC, 0))?.isr.length === 3, {
      timeoutMs: 90_000,
      what: `${FAULT_TOPIC}/0 ISR back to three`,
    });
    await status(FAULT_TOPIC, 'CFAULT2');
    const closing = await h.recorder.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.args['thread_ts'] === incident.result?.['ts'] &&
        /Cleared/.test(String(c.args['text'])),
      30_000,
    );
    expect(closing.args['channel']).toBe('CINCIDENTS');
    // The status looked at the channel's replicas: every broker incident it opened (BROKER_NOT_REGISTERED once
    // the killed brokers' ZooKeeper sessions expired, BROKER_UNREACHABLE before that) is closed by it too.
    const brokerIncidents = h.recorder
      .find((c) => c.args['channel'] === 'CINCIDENTS' && /^INCIDENT lab BROKER_/.test(String(c.args['text'])))
      .map((c) => /^INCIDENT lab (BROKER_[A-Z_]+): Broker (\d+) /.exec(String(c.args['text'])))
      .filter((m): m is RegExpExecArray => m !== null);
    for (const [, code, broker] of brokerIncidents) {
      await h.recorder.waitFor(
        (c) =>
          c.args['channel'] === 'CINCIDENTS' &&
          new RegExp(`Cleared: .* no longer finds ${code} \\(Broker ${broker} `).test(String(c.args['text'])),
        30_000,
      );
    }
    const resolved = await h.recorder.waitFor(
      (c) => c.method === 'chat.update' && c.args['ts'] === incident.result?.['ts'],
      30_000,
    );
    expect(String(resolved.args['text'])).toMatch(/^RESOLVED lab UNDER_MIN_ISR/);
  }, 240_000);
});
