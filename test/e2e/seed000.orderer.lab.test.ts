/**
 * Seed 000 end to end, with a real Fabric 2.5 orderer (Kafka consenter) on the shared lab:
 * transactions become blocks; an unflushed crash (truncatePartition) drops the partition's tail under the
 * orderer's last persisted offset; the orderer, restarted, logs the out-of-range error and refuses Deliver (and
 * Broadcast) with SERVICE_UNAVAILABLE; `status pubchain` reports ORDERER_OFFSET_AHEAD with the exact gap, read
 * from the orderer's metrics, ledger and log alike; the pad-channel plan's produce step (padWithConnectHandler)
 * brings the partition back, the orderer sets its consumer up again on its next retry (Kafka.Retry.ShortInterval
 * is 1 s in the lab) and new transactions land in new blocks.
 *
 * Needs Fabric's binaries (scripts/build-fabric.sh, run by setup): builds them here when Go is there and they
 * are not cached (~2 min), skips with the reason otherwise. Puts the shared lab back afterwards (orderer
 * removed, channel topics recreated empty).
 *
 * Every /healthz probe makes a Kafka orderer post a CONNECT message to each channel, so `status` does not
 * probe /healthz unless an orderer's `probeHealthz` says so: the test checks that status writes nothing.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/context.js';
import { loadInventory, selectCluster } from '../../src/config/index.js';
import { kafkaClient } from '../../src/kafka/client.js';
import {
  channelTip,
  deleteTopic,
  fabricCached,
  fabricUnbuildableReason,
  getHighWatermark,
  labIdentities,
  labOrdererClient,
  labOrderers,
  labStatus,
  labUp,
  ordererLogSize,
  ordererPaths,
  removeOrderers,
  resolveLabOptions,
  startedLine,
  startOrderer,
  stopOrderer,
  submitTransactions,
  SYSTEM_CHANNEL,
  truncatePartition,
  waitOrdererLog,
} from '../../src/lab/index.js';
import { waitFor } from '../../src/lab/wait.js';
import { createLogger } from '../../src/log.js';
import type { RepairPlan, Report } from '../../src/model/index.js';
import { gatherOrderers } from '../../src/orderers/gather.js';
import { padWithConnectHandler } from '../../src/repairs/actions/produce.js';
import { decodeEnvelope, decodePayload } from '../../src/fabric/client/index.js';

const lab = inject('lab');
const CHANNEL = 'pubchain';
/** Where the unflushed crash leaves the partition (seed 000 lost the tail back to 12 of 21 expected). */
const CUT_TO = 12;

function skipReason(): string | null {
  if (!lab) return 'no lab (FABRIC_OPSBOT_TEST_NO_LAB=1)';
  const o = resolveLabOptions({ workDir: lab.workDir });
  if (fabricCached(o)) return null;
  const why = fabricUnbuildableReason();
  return why ? `Fabric's binaries are not built and cannot be: ${why}` : null;
}
const reason = skipReason();
if (reason) console.warn(`[seed000.orderer] skipped: ${reason}`);

describe.skipIf(reason !== null)('seed 000 end to end with a real Fabric orderer', () => {
  const ref = { workDir: lab?.workDir ?? '' };
  /** The orderer's last persisted offset once the first transactions are blocks. */
  let persisted = 0;
  let heightBefore = 0;

  async function cli(...argv: string[]) {
    let out = '';
    let err = '';
    const io: CliIo = {
      out: (s) => (out += s),
      err: (s) => (err += s),
      env: {},
      cwd: process.cwd(),
      isTTY: false,
    };
    const code = await main([...argv, '--config', lab!.inventory], io);
    return { code, out, err };
  }

  const hw = async (): Promise<number> => {
    const v = await getHighWatermark(ref, CHANNEL, 0);
    if (v === null) throw new Error(`${CHANNEL}/0 has no high watermark (no leader?)`);
    return v;
  };

  beforeAll(async () => {
    // The shared lab plus one orderer: builds Fabric if needed, makes crypto material and the genesis block,
    // starts orderer1.example.com and creates pubchain with the project's client.
    const status = await labUp({ workDir: lab!.workDir, orderers: 1 });
    expect(status.orderers).toEqual([
      expect.objectContaining({
        name: 'orderer1.example.com',
        running: true,
        channels: [SYSTEM_CHANNEL, CHANNEL],
      }),
    ]);
  }, 900_000);

  afterAll(async () => {
    if (!lab) return;
    // Keep the orderer's log for a look after a failure (the next run's global setup purges the folder).
    const log = ordererPaths(ref, 1).logFile;
    if (existsSync(log)) copyFileSync(log, join(lab.workDir, 'seed000-orderer1.log'));
    // Put the shared lab back as global setup made it: no orderer, empty channel topics.
    await removeOrderers(ref);
    for (const t of [SYSTEM_CHANNEL, CHANNEL]) await deleteTopic(ref, t).catch(() => undefined);
    await labUp({ workDir: lab.workDir });
  }, 180_000);

  it('runs a real orderer: labStatus and the inventory list it', () => {
    const s = labStatus({ workDir: lab!.workDir });
    const o = s.orderers[0]!;
    expect(o).toMatchObject({ name: 'orderer1.example.com', running: true });
    expect(o.pid).toBeGreaterThan(0);
    expect(o.port).toBe(lab!.options.basePorts.orderer);
    expect(o.operationsPort).toBe(lab!.options.basePorts.ordererOperations);
    const inv = selectCluster(loadInventory(lab!.inventory), undefined).config;
    expect(inv.orderers).toEqual([
      {
        name: 'orderer1.example.com',
        channels: [SYSTEM_CHANNEL, CHANNEL],
        operationsUrl: `http://127.0.0.1:${o.operationsPort}`,
        ledgerDir: ordererPaths(ref, 1).ledgerDir,
        logFile: ordererPaths(ref, 1).logFile,
      },
    ]);
    expect(labOrderers(ref)).toHaveLength(1);
  });

  it('transactions become blocks and the last persisted offset moves', async () => {
    const answers = await submitTransactions(ref, CHANNEL, 25, { retryMs: 15_000 });
    expect(answers.map((a) => `${a.statusName} ${a.info}`.trim())).toEqual(Array(25).fill('SUCCESS'));
    // Every message on the topic consumed into blocks: the newest block records the last offset.
    const tip = await waitFor(
      async () => {
        const [t, h] = await Promise.all([channelTip(ref, CHANNEL), hw()]);
        return t.lastOffsetPersisted === h - 1 ? t : false;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the orderer to cut blocks of everything on pubchain' },
    );
    // CONNECT at 0, 25 transactions, a time-to-cut: 10 per block (MaxMessageCount) -> 3 blocks after genesis.
    expect(tip.height).toBeGreaterThanOrEqual(4);
    expect(tip.lastOffsetPersisted).toBeGreaterThanOrEqual(25);
    persisted = tip.lastOffsetPersisted!;
    heightBefore = tip.height;
    expect(persisted + 1).toBeGreaterThan(CUT_TO);

    const r = await cli('status', CHANNEL, '--json');
    const report = JSON.parse(r.out) as Report;
    expect(report.orderers).toEqual([
      expect.objectContaining({
        name: 'orderer1.example.com',
        channel: CHANNEL,
        lastOffsetPersisted: persisted,
        expectedStartOffset: persisted + 1,
        source: 'metrics',
      }),
    ]);
    expect(report.findings.map((f) => f.code)).not.toContain('ORDERER_OFFSET_AHEAD');
    expect(report.findings.filter((f) => f.code === 'ORDERER_LOG_ERROR')).toEqual([]);
  });

  it('after an unflushed crash the restarted orderer logs the out-of-range error and refuses Deliver', async () => {
    expect(await stopOrderer(ref, 1, { kill: true })).toBeGreaterThan(0);
    const cut = await truncatePartition(ref, CHANNEL, 0, CUT_TO);
    expect(cut.offset).toBe(CUT_TO);

    const from = ordererLogSize(ref, 1);
    await startOrderer(ref, 1);
    const expected = persisted + 1;
    expect(
      await waitOrdererLog(
        ref,
        1,
        `Starting chain with last persisted offset ${persisted} and last recorded`,
        {
          from,
        },
      ),
    ).toContain(`[channel: ${CHANNEL}]`);
    await waitOrdererLog(ref, 1, `[channel: ${CHANNEL}] CONNECT message posted successfully`, { from });
    await waitOrdererLog(
      ref,
      1,
      `[channel: ${CHANNEL}] Setting up the channel consumer for this channel (start offset: ${expected})`,
      { from },
    );
    expect(
      await waitOrdererLog(
        ref,
        1,
        'The requested offset is outside the range of offsets maintained by the server',
        {
          from,
          timeoutMs: 30_000,
        },
      ),
    ).toContain(`[channel: ${CHANNEL}]`);

    const { user } = labIdentities(ref);
    const client = labOrdererClient(ref, 1);
    try {
      const d = await client.deliver(CHANNEL, { start: 0, stop: 0 }, user);
      expect(d.statusName).toBe('SERVICE_UNAVAILABLE');
    } finally {
      client.close();
    }
    await waitOrdererLog(ref, 1, `[channel: ${CHANNEL}] Rejecting deliver request for`, { from });
    // Peers get SERVICE_UNAVAILABLE on Broadcast too.
    const refused = await submitTransactions(ref, CHANNEL, 1);
    expect(refused.map((a) => a.statusName)).toEqual(['SERVICE_UNAVAILABLE']);
    // The partition: cut back to 12, plus the CONNECT the orderer posts at every start.
    expect(await hw()).toBe(CUT_TO + 1);
  });

  it('status reports ORDERER_OFFSET_AHEAD with the exact gap from metrics, ledger and log', async () => {
    const expected = persisted + 1;
    const before = await hw();
    const r = await cli('status', CHANNEL, '--json');
    expect(r.code).toBe(2);
    const report = JSON.parse(r.out) as Report;
    const after = await hw();
    // status only reads: no /healthz probe, so the orderer posted nothing.
    expect(after).toBe(before);

    expect(report.orderers).toEqual([
      expect.objectContaining({
        name: 'orderer1.example.com',
        channel: CHANNEL,
        lastOffsetPersisted: persisted,
        expectedStartOffset: expected,
        source: 'metrics',
      }),
    ]);
    const [partition] = report.partitions;
    const ahead = report.findings.filter((f) => f.code === 'ORDERER_OFFSET_AHEAD');
    expect(ahead).toHaveLength(1);
    const ev = ahead[0]!.evidence as {
      highWatermark: number;
      expectedStartOffset: number;
      missingMessages: number;
      orderers: { orderer: string; source: string; lastOffsetPersisted: number }[];
    };
    expect(ev.highWatermark).toBe(before);
    expect(partition?.highWatermark).toBe(ev.highWatermark);
    expect(ev).toMatchObject({ expectedStartOffset: expected, missingMessages: expected - ev.highWatermark });
    expect(ev.orderers).toEqual([
      expect.objectContaining({
        orderer: 'orderer1.example.com',
        source: 'metrics',
        lastOffsetPersisted: persisted,
      }),
    ]);
    expect(ahead[0]!.repairs).toEqual([
      expect.objectContaining({ kind: 'pad-channel', args: { channel: CHANNEL } }),
    ]);
    const logErrors = report.findings.filter((f) => f.code === 'ORDERER_LOG_ERROR');
    expect(JSON.stringify(logErrors)).toContain('outside the range of offsets');

    // Every source on its own says the same offset.
    const config = selectCluster(loadInventory(lab!.inventory), undefined).config;
    const got = await gatherOrderers(config, { timeoutMs: 5000, channels: [CHANNEL] });
    const [pos] = got.positions;
    expect(pos?.bySource).toEqual({
      metrics: expect.objectContaining({ lastOffsetPersisted: persisted, blockHeight: heightBefore }),
      ledger: expect.objectContaining({ lastOffsetPersisted: persisted, blockHeight: heightBefore }),
      log: expect.objectContaining({ lastOffsetPersisted: persisted }),
    });
  });

  it('the pad brings the partition back, the orderer resumes, and new transactions land in new blocks', async () => {
    const expected = persisted + 1;
    const r = await cli('repair', 'plan', 'pad-channel', CHANNEL, '--json');
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.out) as RepairPlan;
    expect(plan.refusal).toBeNull();
    expect(plan.expected).toMatchObject({ highWatermark: expected });
    const step = plan.steps[0] as Extract<RepairPlan['steps'][number], { action: 'produce' }>;
    expect(step).toMatchObject({ action: 'produce', topic: CHANNEL, partition: 0, value: '1a00', key: '0' });
    const atPlan = await hw();
    expect(step.count).toBeGreaterThanOrEqual(expected - atPlan);

    const from = ordererLogSize(ref, 1);
    const inventory = selectCluster(loadInventory(lab!.inventory), undefined).config;
    const kafka = kafkaClient(inventory.kafka, {});
    const outcome = await padWithConnectHandler(kafka)(step, {
      requestId: 'seed000-e2e',
      plan,
      index: 0,
      attempt: 1,
      resumed: false,
      workerId: 'test',
      signal: new AbortController().signal,
      log: createLogger('test', 'silent'),
    });
    expect(outcome).toMatchObject({ ok: true, data: { produced: expected - atPlan, target: expected } });
    expect(await hw()).toBeGreaterThanOrEqual(expected);

    // The next retry (1 s) finds the offset: the consumer is set up, the channel starts.
    await waitOrdererLog(ref, 1, `[channel: ${CHANNEL}] Channel consumer set up successfully`, {
      from,
      timeoutMs: 30_000,
    });
    await waitOrdererLog(ref, 1, startedLine(CHANNEL), { from, timeoutMs: 30_000 });

    const data = Array.from({ length: 5 }, (_, i) => new TextEncoder().encode(`after the pad ${i}`));
    const answers = await submitTransactions(ref, CHANNEL, 5, { payload: (i) => data[i]!, retryMs: 15_000 });
    expect(answers.map((a) => a.statusName)).toEqual(Array(5).fill('SUCCESS'));
    const tip = await waitFor(
      async () => {
        const [t, h] = await Promise.all([channelTip(ref, CHANNEL), hw()]);
        return t.lastOffsetPersisted === h - 1 && t.height > heightBefore ? t : false;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'new blocks after the pad' },
    );
    expect(tip.lastOffsetPersisted).toBeGreaterThan(persisted);

    // The new blocks carry exactly the new transactions.
    const { user } = labIdentities(ref);
    const client = labOrdererClient(ref, 1);
    try {
      const d = await client.deliver(CHANNEL, { start: heightBefore, stop: tip.height - 1 }, user);
      expect(d.statusName).toBe('SUCCESS');
      const txs = d.blocks
        .flatMap((b) => b.data)
        .map((e) => Buffer.from(decodePayload(decodeEnvelope(e).payload).data).toString());
      expect(txs).toEqual(data.map((b) => Buffer.from(b).toString()));
    } finally {
      client.close();
    }

    const after = JSON.parse((await cli('status', CHANNEL, '--json')).out) as Report;
    expect(after.findings.map((f) => f.code)).not.toContain('ORDERER_OFFSET_AHEAD');
    expect(after.orderers[0]).toMatchObject({
      lastOffsetPersisted: tip.lastOffsetPersisted,
      source: 'metrics',
    });
  });
});
