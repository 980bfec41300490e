/**
 * The danger behind CONFIG_UNCLEAN_ELECTION, with a real Fabric orderer: a channel topic with
 * unclean.leader.election.enable=true loses its whole ISR; a replica that had fallen out of sync comes back
 * first and is elected leader with its shorter log. Messages the orderer had consumed and cut into blocks
 * (acknowledged to clients with SUCCESS) are gone from Kafka: the high watermark falls under the orderer's last
 * persisted offset, the orderer stops with "Unrecoverable error during consumption" (offset out of range), and
 * when the old replicas return they truncate their logs to the new leader's, so nothing can bring the lost
 * messages back. With the flag off (Fabric's recommendation) the partition would have stayed offline instead.
 *
 * Replicas of the channel's topic: brokers 1, 2, 3 (min ISR 2). Broker 3 is killed (ISR shrinks to 1, 2),
 * transactions go on, brokers 1 and 2 are killed (partition offline), broker 3 is started: unclean election.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/context.js';
import {
  channelTip,
  createLabChannel,
  createTopic,
  deleteTopic,
  fabricCached,
  fabricUnbuildableReason,
  getBrokerRegistration,
  getHighWatermark,
  getPartitionState,
  healLab,
  killBroker,
  labUp,
  ordererLogSize,
  ordererPaths,
  removeOrderers,
  resolveLabOptions,
  startBroker,
  submitTransactions,
  SYSTEM_CHANNEL,
  waitOrdererLog,
} from '../../src/lab/index.js';
import { waitFor } from '../../src/lab/wait.js';
import type { Report } from '../../src/model/index.js';
import { parse, stringify } from 'yaml';
import { readFileSync, writeFileSync } from 'node:fs';

const lab = inject('lab');
const CHANNEL = 'uncleanchain';

function skipReason(): string | null {
  if (!lab) return 'no lab (FABRIC_OPSBOT_TEST_NO_LAB=1)';
  if (lab.options.brokers < 4) return 'needs 4 brokers';
  const o = resolveLabOptions({ workDir: lab.workDir });
  if (fabricCached(o)) return null;
  const why = fabricUnbuildableReason();
  return why ? `Fabric's binaries are not built and cannot be: ${why}` : null;
}
const reason = skipReason();
if (reason) console.warn(`[unclean-election.orderer] skipped: ${reason}`);

describe.skipIf(reason !== null)('unclean leader election shortens the log under a real orderer', () => {
  const ref = { workDir: lab?.workDir ?? '' };
  let inventory = '';

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

  const hw = async (): Promise<number> => {
    const v = await getHighWatermark(ref, CHANNEL, 0);
    if (v === null) throw new Error(`${CHANNEL}/0 has no leader`);
    return v;
  };

  /** Waits until everything on the topic is in blocks; returns the orderer's last persisted offset. */
  async function settled(): Promise<number> {
    const tip = await waitFor(
      async () => {
        const [t, h] = await Promise.all([channelTip(ref, CHANNEL), hw()]);
        return t.lastOffsetPersisted === h - 1 ? t : false;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: `the orderer to cut blocks of everything on ${CHANNEL}` },
    );
    return tip.lastOffsetPersisted!;
  }

  beforeAll(async () => {
    await labUp({ workDir: lab!.workDir, orderers: 1 });
    await createTopic(ref, {
      name: CHANNEL,
      replicaAssignment: [[1, 2, 3]],
      configs: { 'min.insync.replicas': 2, 'unclean.leader.election.enable': true, 'retention.ms': -1 },
    });
    await createLabChannel(ref, CHANNEL);
    // The lab's inventory, with the new channel on the orderer.
    const inv = parse(readFileSync(lab!.inventory, 'utf8')) as {
      clusters: { lab: { channels: string[]; orderers: { channels: string[] }[] } };
    };
    inv.clusters.lab.channels.push(CHANNEL);
    inv.clusters.lab.orderers[0]!.channels.push(CHANNEL);
    inventory = join(lab!.workDir, 'inventory-unclean.yaml');
    writeFileSync(inventory, stringify(inv));
  }, 900_000);

  afterAll(async () => {
    if (!lab) return;
    const log = ordererPaths(ref, 1).logFile;
    if (existsSync(log)) copyFileSync(log, join(lab.workDir, 'unclean-orderer1.log'));
    await healLab(ref);
    await removeOrderers(ref);
    for (const t of [CHANNEL, SYSTEM_CHANNEL, 'pubchain']) await deleteTopic(ref, t).catch(() => undefined);
    await labUp({ workDir: lab.workDir });
  }, 240_000);

  it('the config check names the danger up front', async () => {
    const report = JSON.parse((await cli('status', CHANNEL, '--json')).out) as Report;
    expect(report.findings.map((f) => f.code)).toContain('CONFIG_UNCLEAN_ELECTION');
  });

  it('an out-of-sync replica elected leader loses blocks the orderer already cut', async () => {
    expect(
      (await submitTransactions(ref, CHANNEL, 5, { retryMs: 15_000 })).every(
        (a) => a.statusName === 'SUCCESS',
      ),
    ).toBe(true);
    const early = await settled();

    // Broker 3 falls out of the ISR; the channel goes on with 1 and 2 (min ISR 2 still met).
    await killBroker(ref, 3, { waitUnregistered: true });
    await waitFor(async () => (await getPartitionState(ref, CHANNEL, 0))?.isr.includes(3) === false, {
      timeoutMs: 30_000,
      what: 'broker 3 to leave the ISR',
    });
    const answers = await submitTransactions(ref, CHANNEL, 15, { retryMs: 15_000 });
    expect(answers.map((a) => a.statusName)).toEqual(Array(15).fill('SUCCESS'));
    const persisted = await settled();
    expect(persisted).toBeGreaterThan(early + 15);

    // The whole ISR dies; the stale replica comes back first and, unclean election on, leads.
    const from = ordererLogSize(ref, 1);
    await killBroker(ref, 1, { waitUnregistered: true });
    await killBroker(ref, 2, { waitUnregistered: true });
    // Offline: no live leader (Kafka 3.x writes leader -1; 1.x may leave the dead leader in ZooKeeper).
    await waitFor(
      async () => {
        const leader = (await getPartitionState(ref, CHANNEL, 0))?.leader ?? -1;
        return leader === -1 || (await getBrokerRegistration(ref, leader)) === null;
      },
      { timeoutMs: 30_000, what: `${CHANNEL}/0 to go offline` },
    );
    await startBroker(ref, 3);
    const state = await waitFor(
      async () => {
        const st = await getPartitionState(ref, CHANNEL, 0);
        return st && st.leader === 3 ? st : false;
      },
      { timeoutMs: 30_000, what: 'broker 3 to be elected leader (unclean)' },
    );
    expect(state.isr).toEqual([3]);

    // The running orderer's consumer is now past the end of the log: it gives up on the channel.
    expect(
      await waitOrdererLog(ref, 1, `[channel: ${CHANNEL}] Unrecoverable error during consumption`, {
        from,
        timeoutMs: 30_000,
      }),
    ).toContain('outside the range of offsets');

    // Broker 1, the old leader, returns as a follower and cuts its log back to the new leader's. (With the ISR
    // at 1 < min ISR, the new leader cannot even say its high watermark: ListOffsets waits for a follower.)
    await startBroker(ref, 1);
    await waitFor(async () => (await getPartitionState(ref, CHANNEL, 0))?.isr.includes(1) === true, {
      timeoutMs: 60_000,
      what: 'broker 1 to rejoin the ISR as a follower of broker 3',
    });
    const shortened = await hw();
    // What broker 3 had (everything up to `early`), plus at most the CONNECT the orderer posts after the error
    // and one per /healthz probe.
    expect(shortened).toBeLessThanOrEqual(early + 3);
    expect(shortened).toBeLessThan(persisted + 1);

    const report = JSON.parse((await cli('status', CHANNEL, '--json')).out) as Report;
    const codes = report.findings.map((f) => f.code);
    expect(codes).toContain('CONFIG_UNCLEAN_ELECTION');
    expect(codes).toContain('ORDERER_OFFSET_AHEAD');
    const ahead = report.findings.find((f) => f.code === 'ORDERER_OFFSET_AHEAD')!;
    expect(ahead.evidence).toMatchObject({ expectedStartOffset: persisted + 1 });

    // Broker 2 comes back too: every replica now agrees on the short log; the lost messages are gone for good.
    await startBroker(ref, 2);
    await waitFor(async () => (await getPartitionState(ref, CHANNEL, 0))?.isr.length === 3, {
      timeoutMs: 60_000,
      what: `${CHANNEL}/0 to have its 3 replicas in sync again`,
    });
    expect(await hw()).toBeLessThan(persisted + 1);
  });
});
