/**
 * Seed 000 on the lab, without a real orderer (issue 5 brings one): a channel topic holds orderer-format
 * messages; an orderer's file ledger says it persisted offset 20 (block 9, metadata `0a020814` as in the seed);
 * an unflushed crash cuts the partition back to 12. `status` must report ORDERER_OFFSET_AHEAD with the exact gap,
 * `repair plan pad-channel` must pad exactly that many CONNECT messages, and running its produce step must bring
 * the partition to 21 so the finding clears.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/context.js';
import { encodeRegularMessage } from '../../src/fabric/protos.js';
import { kafkaClient } from '../../src/kafka/client.js';
import { createTopic, deleteTopic, truncatePartition } from '../../src/lab/index.js';
import { createLogger } from '../../src/log.js';
import type { Report, RepairPlan } from '../../src/model/index.js';
import { padWithConnectHandler, kafkaOffsetReader } from '../../src/repairs/actions/produce.js';
import { fileOf, makeBlocks } from '../fixtures/orderers/ledger.js';

const lab = inject('lab');
const CHANNEL = 'seedchain';
const PERSISTED = 20; // block 9's last_offset_persisted, as in seed 000
const CUT_TO = 12;

function writeLedger(root: string, lastPersisted: number): string {
  const dir = join(root, 'chains', CHANNEL);
  mkdirSync(dir, { recursive: true });
  // Block n persisted offset 2n+2: block 9 -> lastPersisted.
  const blocks = makeBlocks({ blocks: 10, offsetOf: (n) => (n === 9 ? lastPersisted : 2 * n + 2) });
  writeFileSync(join(dir, 'blockfile_000000'), fileOf(blocks));
  return root;
}

describe.skipIf(!lab)('seed 000: orderers expect an offset Kafka lost', () => {
  let work: string;
  let inventory: string;

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
    const code = await main([...argv, '--config', inventory], io);
    return { code, out, err };
  }

  function writeInventory(ordererPersisted: number[]): void {
    const inv = parse(readFileSync(lab!.inventory, 'utf8')) as { clusters: { lab: Record<string, unknown> } };
    inv.clusters.lab.channels = [CHANNEL];
    inv.clusters.lab.orderers = ordererPersisted.map((p, i) => ({
      name: `orderer${i + 1}.example.com`,
      channels: [CHANNEL],
      ledgerDir: writeLedger(join(work, `orderer${i + 1}-${p}`), p),
    }));
    writeFileSync(inventory, stringify(inv));
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'opsbot-seed000-'));
    inventory = join(work, 'inventory.yaml');
    await createTopic(
      { workDir: lab!.workDir },
      {
        name: CHANNEL,
        replicaAssignment: [[1, 2, 3]],
        configs: { 'min.insync.replicas': 2, 'unclean.leader.election.enable': false, 'retention.ms': -1 },
      },
    );
    // 30 orderer-format messages, one per request (one batch each, so the crash can cut anywhere).
    const kafka = kafkaClient(
      {
        ...parse(readFileSync(lab!.inventory, 'utf8')).clusters.lab.kafka,
        clientId: 'seed000',
        connectTimeoutMs: 3000,
        requestTimeoutMs: 10000,
      },
      {},
    );
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (let i = 0; i < 30; i++) {
      const value = Buffer.from(
        encodeRegularMessage({ payload: new TextEncoder().encode(`tx-${i}`), configSeq: 1 }),
      );
      await producer.send({ topic: CHANNEL, acks: -1, messages: [{ key: '0', value, partition: 0 }] });
    }
    await producer.disconnect();
    const cut = await truncatePartition({ workDir: lab!.workDir }, CHANNEL, 0, CUT_TO);
    expect(cut.offset).toBe(CUT_TO);
  });

  afterAll(async () => {
    await deleteTopic({ workDir: lab!.workDir }, CHANNEL).catch(() => undefined);
  });

  it('status reports ORDERER_OFFSET_AHEAD with the exact gap, read from the orderers ledgers', async () => {
    writeInventory([PERSISTED, PERSISTED, PERSISTED]);
    const r = await cli('status', CHANNEL, '--json');
    expect(r.code).toBe(2);
    const report = JSON.parse(r.out) as Report;
    expect(report.partitions).toEqual([
      expect.objectContaining({ topic: CHANNEL, highWatermark: CUT_TO, logStartOffset: 0 }),
    ]);
    expect(report.orderers).toHaveLength(3);
    for (const o of report.orderers) {
      expect(o).toMatchObject({
        channel: CHANNEL,
        lastOffsetPersisted: PERSISTED,
        expectedStartOffset: PERSISTED + 1,
        source: 'ledger',
      });
    }
    const ahead = report.findings.filter((f) => f.code === 'ORDERER_OFFSET_AHEAD');
    expect(ahead).toHaveLength(1);
    expect(ahead[0]!.evidence).toMatchObject({
      highWatermark: CUT_TO,
      expectedStartOffset: 21,
      missingMessages: 21 - CUT_TO,
    });
    expect(ahead[0]!.repairs).toEqual([
      expect.objectContaining({ kind: 'pad-channel', args: { channel: CHANNEL } }),
    ]);
    expect(report.findings.map((f) => f.code)).not.toContain('ORDERERS_DISAGREE');
  });

  it('the plan refuses when the orderers disagree (the ones behind could never recover)', async () => {
    writeInventory([PERSISTED, PERSISTED, 18]);
    const r = await cli('repair', 'plan', 'pad-channel', CHANNEL, '--json');
    expect(r.code).toBe(2);
    const plan = JSON.parse(r.out) as RepairPlan;
    expect(plan.refusal).toMatch(/disagree|agree/i);
    expect(plan.preconditions.find((p) => /agree/.test(p.check))?.ok).toBe(false);
    const status = JSON.parse((await cli('status', CHANNEL, '--json')).out) as Report;
    expect(status.findings.map((f) => f.code)).toContain('ORDERERS_DISAGREE');
  });

  it('the plan pads exactly the gap with CONNECT messages, and running it clears the finding', async () => {
    writeInventory([PERSISTED, PERSISTED, PERSISTED]);
    const r = await cli('repair', 'plan', 'pad-channel', CHANNEL, '--json');
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.out) as RepairPlan;
    expect(plan.refusal).toBeNull();
    expect(plan.steps[0]).toEqual({
      action: 'produce',
      topic: CHANNEL,
      partition: 0,
      count: 21 - CUT_TO,
      value: '1a00',
      key: '0',
    });
    expect(plan.expected).toMatchObject({ highWatermark: 21 });
    expect(plan.preconditions.every((p) => p.ok)).toBe(true);

    const kafka = kafkaClient(parse(readFileSync(lab!.inventory, 'utf8')).clusters.lab.kafka, {});
    const handler = padWithConnectHandler(kafka);
    const ctx = {
      requestId: 'test',
      plan,
      index: 0,
      attempt: 1,
      resumed: false,
      workerId: 'test',
      signal: new AbortController().signal,
      log: createLogger('test', 'silent'),
    };
    const step = plan.steps[0] as Extract<RepairPlan['steps'][number], { action: 'produce' }>;
    const outcome = await handler(step, ctx);
    expect(outcome).toMatchObject({
      ok: true,
      data: { produced: 9, highWatermarkBefore: CUT_TO, highWatermarkAfter: 21 },
    });
    // Idempotent: a second run (a worker that died after producing) produces nothing.
    expect(await handler(step, { ...ctx, attempt: 2, resumed: true })).toMatchObject({
      ok: true,
      data: { produced: 0 },
    });
    expect(await kafkaOffsetReader(kafka).offsets(CHANNEL, 0)).toEqual({
      highWatermark: 21,
      logStartOffset: 0,
    });

    // Every message after the cut is a CONNECT.
    const consumer = kafka.consumer({ groupId: `verify-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: CHANNEL, fromBeginning: true });
    const tail: string[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (Number(message.offset) >= CUT_TO) tail.push(message.value!.toString('hex'));
          if (Number(message.offset) === 20) resolve();
        },
      });
    });
    await consumer.disconnect();
    expect(tail).toEqual(Array(9).fill('1a00'));

    const after = JSON.parse((await cli('status', CHANNEL, '--json')).out) as Report;
    expect(after.findings.map((f) => f.code)).not.toContain('ORDERER_OFFSET_AHEAD');
  });

  it('a gap above the configured ceiling is refused', async () => {
    writeInventory([40, 40, 40]);
    const inv = parse(readFileSync(inventory, 'utf8')) as { clusters: { lab: Record<string, unknown> } };
    inv.clusters.lab.repairs = { padMaxMessages: 5 };
    writeFileSync(inventory, stringify(inv));
    const r = await cli('repair', 'plan', 'pad-channel', CHANNEL, '--json');
    expect(r.code).toBe(2);
    const plan = JSON.parse(r.out) as RepairPlan;
    expect(plan.refusal).toMatch(/5/);
    expect(plan.steps.filter((s) => s.action === 'produce')).toEqual([]);
  });
});
