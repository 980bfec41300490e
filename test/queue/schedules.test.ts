/**
 * Scheduled checks with real BullMQ job schedulers (upsertJobScheduler) and a real worker: only changes reach
 * the incident channel.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding, Report } from '../../src/model/index.js';
import type { DiagnoseResult } from '../../src/ops/diagnose.js';
import { QUEUES, syncSchedules, type JobData } from '../../src/queue/index.js';
import { createSlackPoster } from '../../src/slack/poster.js';
import { startWorkers, type RunningWorkers } from '../../workers/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startSlackRecorder, type SlackRecorder } from '../helpers/slack.js';
import { finding, pubchainReport, testInventory } from '../slack/fixtures.js';
import { ENV, testLogger } from '../slack/harness.js';

let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('syncSchedules', () => {
  it('creates one scheduler per cluster with checks on, and removes them when turned off', async () => {
    const queue = new Queue<JobData>(QUEUES.checks, { connection: redis.client(), prefix: 'sync' });
    try {
      const on = testInventory({ redisUrl: redis.url, everySeconds: 60 });
      const first = await syncSchedules(queue, on);
      expect(first).toEqual({ scheduled: [{ cluster: 'lab', everySeconds: 60 }], removed: [] });
      const again = await syncSchedules(queue, on); // idempotent
      expect(again.scheduled).toHaveLength(1);
      const list = await queue.getJobSchedulers(0, -1);
      expect(list.map((s) => [s.key, s.every])).toEqual([['check-lab', 60_000]]);
      expect(list[0]?.template?.data).toMatchObject({ kind: 'scheduled-check', cluster: 'lab' });

      const off = testInventory({ redisUrl: redis.url, everySeconds: 0 });
      expect(await syncSchedules(queue, off)).toEqual({ scheduled: [], removed: ['check-lab'] });
      expect(await queue.getJobSchedulers(0, -1)).toEqual([]);
    } finally {
      await queue.close();
    }
  });
});

describe('scheduled checks', () => {
  let rec: SlackRecorder;
  let workers: RunningWorkers;
  const under = finding({
    code: 'UNDER_REPLICATED',
    severity: 'warning',
    subject: { topic: 'pubchain', partition: 0 },
  });
  const atMin = finding({
    code: 'AT_MIN_ISR',
    severity: 'warning',
    subject: { topic: 'pubchain', partition: 1 },
  });
  const offline = finding({
    code: 'PARTITION_OFFLINE',
    severity: 'critical',
    subject: { topic: 'pubchain', partition: 2 },
  });
  const sequence: Finding[][] = [[under, offline], [under, offline], [atMin], [atMin]];
  let runs = 0;

  beforeAll(async () => {
    rec = await startSlackRecorder();
    const inventory = testInventory({ redisUrl: redis.url, everySeconds: 1 });
    workers = await startWorkers({
      inventory,
      env: ENV,
      logger: testLogger,
      slack: createSlackPoster({ token: 'xoxb-t', apiUrl: rec.apiUrl, retries: 0 }),
      queues: [QUEUES.checks],
      ops: {
        async diagnose({ cluster }) {
          const findings = sequence[Math.min(runs, sequence.length - 1)]!;
          runs++;
          const report: Report = { ...pubchainReport(), cluster: cluster.name, scope: {}, findings };
          return {
            snapshot: {} as DiagnoseResult['snapshot'],
            findings,
            report,
            exitCode: 2,
          } as DiagnoseResult;
        },
      },
    });
  });
  afterAll(async () => {
    await workers?.close();
    await rec?.close();
  });

  it('posts the first result, nothing when nothing changed, and then only what changed', async () => {
    expect(workers.schedules?.scheduled).toEqual([{ cluster: 'lab', everySeconds: 1 }]);
    const deadline = Date.now() + 20_000;
    while (runs < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(runs).toBeGreaterThanOrEqual(5);
    await new Promise((r) => setTimeout(r, 300));
    const toIncidents = rec.calls.filter((c) => c.args['channel'] === 'CINCIDENTS');
    const changeMsgs = toIncidents.filter(
      (c) => c.method === 'chat.postMessage' && /scheduled check/.test(JSON.stringify(c.args['blocks'])),
    );
    // Run 1: UNDER_REPLICATED new. Run 3: AT_MIN_ISR new, UNDER_REPLICATED cleared. Runs 2, 4, 5: nothing.
    expect(changeMsgs.map((c) => c.args['text'])).toEqual([
      'lab: 1 new, 0 changed, 0 cleared',
      'lab: 1 new, 0 changed, 1 cleared',
    ]);
    // The critical one is an incident: opened once (run 1), closed in its thread (run 3).
    const incidentPosts = toIncidents.filter(
      (c) => c.method === 'chat.postMessage' && /INCIDENT/.test(JSON.stringify(c.args['blocks'])),
    );
    expect(incidentPosts).toHaveLength(1);
    const closing = toIncidents.filter(
      (c) => c.method === 'chat.postMessage' && /Cleared/.test(String(c.args['text'])),
    );
    expect(closing).toHaveLength(1);
    expect(toIncidents.filter((c) => c.method === 'chat.update')).toHaveLength(1);
  }, 30_000);
});
