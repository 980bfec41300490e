/**
 * The lab's Fabric orderers as a whole: labUp's hook (syncOrderers), channel creation with the project's own
 * client, transactions, and orderer faults (stop, kill, start) for tests. Everything talks to 127.0.0.1 only.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  loadMspIdentity,
  messageEnvelope,
  OrdererClient,
  signChannelCreateTx,
  Status,
  type BroadcastResult,
  type SigningIdentity,
} from '../../fabric/client/index.js';
import { kafkaMetadataOfBlock } from '../../fabric/protos.js';
import { resolveWorkDir, type LabOptions, type ResolvedLabOptions } from '../options.js';
import { readState, withLabLock, writeState } from '../state.js';
import { sleep, waitFor } from '../wait.js';
import { ensureFabric, fabricCached } from './binaries.js';
import {
  channelCreateTx,
  ensureNetwork,
  networkDir,
  networkPaths,
  ORDERER_MSP,
  ORG_MSP,
  ordererPaths,
  SYSTEM_CHANNEL,
} from './network.js';
import {
  logSize,
  ordererRunning,
  ordererStates,
  ordererStatuses,
  orderersFilePath,
  readOrderers,
  startOrdererProc,
  stopAllOrderers,
  stopOrdererProc,
  waitLogLine,
  writeOrderers,
  type OrderersFile,
  type OrdererState,
  type OrdererStatus,
} from './orderers.js';

export type LabRef = Pick<LabOptions, 'workDir'>;

function labOptions(lab: LabRef): ResolvedLabOptions {
  const workDir = resolveWorkDir(lab);
  const state = readState(workDir);
  if (!state) throw new Error(`no lab in ${workDir} (no lab.json): run labUp first`);
  return state.options;
}

/** The lab's identities: Org1's admin (creates channels) and User1 (submits and reads). */
export interface LabIdentities {
  admin: SigningIdentity;
  user: SigningIdentity;
  /** The orderer org's admin. */
  ordererAdmin: SigningIdentity;
}

export function labIdentities(lab: LabRef): LabIdentities {
  const p = networkPaths({ workDir: resolveWorkDir(lab) });
  if (!existsSync(p.adminMsp))
    throw new Error(`no Fabric crypto material in ${p.crypto}: labUp with orderers first`);
  return {
    admin: loadMspIdentity(p.adminMsp, ORG_MSP),
    user: loadMspIdentity(p.userMsp, ORG_MSP),
    ordererAdmin: loadMspIdentity(p.ordererAdminMsp, ORDERER_MSP),
  };
}

function stateOf(f: OrderersFile, id: number): OrdererState {
  const s = f.orderers.find((x) => x.id === id);
  if (!s)
    throw new Error(
      `the lab has no orderer ${id} (it has ${f.orderers.map((x) => x.id).join(', ') || 'none'})`,
    );
  return s;
}

/** A client of orderer `n` (1-based) of the lab. Close it when done. */
export function labOrdererClient(lab: LabRef, n = 1, timeoutMs = 30_000): OrdererClient {
  const f = readOrderers(resolveWorkDir(lab));
  if (!f) throw new Error('the lab runs no orderers: labUp with orderers first');
  return new OrdererClient(`127.0.0.1:${stateOf(f, n).port}`, { timeoutMs });
}

/**
 * Waits until orderer `n` delivers block 0 of `channel` (Deliver with FAIL_IF_NOT_READY): the channel exists
 * and its consenter is up. A Kafka orderer answers SERVICE_UNAVAILABLE until its start phase completes, and
 * logs each refusal ("Rejecting deliver request ... because of consenter error"), which a diagnosis reports:
 * waitOrdererLog(startedLine(channel)) waits without leaving such lines.
 */
export async function waitChannelReady(
  lab: LabRef,
  channel: string,
  opts: { orderer?: number; timeoutMs?: number } = {},
): Promise<void> {
  const reader = readerFor(lab, channel);
  const client = labOrdererClient(lab, opts.orderer ?? 1, 5000);
  try {
    await waitFor(
      async () => {
        const r = await client.deliver(channel, { start: 0, stop: 0, behavior: 'FAIL_IF_NOT_READY' }, reader);
        if (r.status === Status.SUCCESS && r.blocks.length === 1) return true;
        throw new Error(`Deliver answered ${r.statusName}`);
      },
      {
        timeoutMs: opts.timeoutMs ?? 60_000,
        intervalMs: 200,
        what: `orderer ${opts.orderer ?? 1} to deliver ${channel}`,
      },
    );
  } finally {
    client.close();
  }
}

/** Size of orderer `n`'s log now: pass it as `from` to waitOrdererLog to see only what comes after. */
export function ordererLogSize(lab: LabRef, n = 1): number {
  return logSize({ workDir: resolveWorkDir(lab) }, n);
}

/**
 * Waits until orderer `n` logs a line containing `text` after byte `from` (default 0) and returns the line,
 * e.g. `startedLine('pubchain')` after a restart. Fails at once if the orderer exits.
 */
export async function waitOrdererLog(
  lab: LabRef,
  n: number,
  text: string,
  opts: { from?: number; timeoutMs?: number } = {},
): Promise<string> {
  const workDir = resolveWorkDir(lab);
  const f = readOrderers(workDir);
  if (!f) throw new Error('the lab runs no orderers: labUp with orderers first');
  return waitLogLine({ workDir }, stateOf(f, n), text, opts.from ?? 0, opts.timeoutMs ?? 60_000);
}

/** Who may read `channel`: the system channel only the orderer org (its Readers), others Org1's User1. */
export function readerFor(lab: LabRef, channel: string): SigningIdentity {
  const ids = labIdentities(lab);
  return channel === SYSTEM_CHANNEL ? ids.ordererAdmin : ids.user;
}

/** "[channel: X] Start phase completed successfully": the Kafka consenter of X is up. */
export function startedLine(channel: string): string {
  return `[channel: ${channel}] Start phase completed successfully`;
}

/**
 * Creates `channel` on the lab's orderers as `peer channel create` would: configtxgen's create transaction,
 * signed by Org1's admin, broadcast to orderer 1; then waits until every orderer has started the channel's
 * consenter (its log, not Deliver polling: every refused Deliver is a "Rejecting deliver request" line that
 * a diagnosis would report). `from`: per orderer id, the log offset after which its start lines count.
 */
async function ensureChannel(
  o: ResolvedLabOptions,
  f: OrderersFile,
  active: OrdererState[],
  channel: string,
  bin: string,
  from: Map<number, number>,
): Promise<void> {
  const exists = existsSync(join(ordererPaths(o, 1).ledgerDir, 'chains', channel));
  if (!exists) {
    for (const s of active) from.set(s.id, logSize(o, s.id));
    const tx = readFileSync(await channelCreateTx(o, bin, channel));
    const { admin } = labIdentities(o);
    const env = signChannelCreateTx(tx, channel, admin).bytes;
    const client = labOrdererClient(o, 1, 10_000);
    try {
      const [r] = await client.broadcast([env]);
      if (r?.status !== Status.SUCCESS)
        throw new Error(`creating channel ${channel}: ${r?.statusName ?? 'no answer'} ${r?.info ?? ''}`);
    } finally {
      client.close();
    }
  }
  await Promise.all(
    active
      .filter((s) => !s.channels.includes(channel) || from.has(s.id))
      .map((s) => waitLogLine(o, s, startedLine(channel), from.get(s.id) ?? 0, o.timeoutMs)),
  );
  for (const s of active) if (!s.channels.includes(channel)) s.channels.push(channel);
  writeOrderers(o.workDir, f);
}

/**
 * labUp's hook (under the lab lock, after the channel topics exist): runs orderers 1..o.orderers (building the
 * Fabric binaries and the network material when missing), stops any above, waits until each serves the system
 * channel, and creates the lab's other channels.
 */
export async function syncOrderers(
  o: ResolvedLabOptions,
  log: (line: string) => void = () => undefined,
): Promise<void> {
  const t0 = Date.now();
  const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  if (o.orderers === 0 && !existsSync(orderersFilePath(o.workDir))) return;
  const f = ordererStates(o, o.orderers);
  for (const s of f.orderers.filter((x) => x.id > o.orderers)) await stopOrdererProc(o, f, s);
  writeOrderers(o.workDir, f);
  if (o.orderers === 0) return;
  if (!fabricCached(o))
    log(`Fabric ${o.fabricVersion} binaries not cached: scripts/build-fabric.sh (about 2 minutes)`);
  const bin = await ensureFabric(o);
  await ensureNetwork(o, bin, o.orderers);
  const active = f.orderers.filter((x) => x.id <= o.orderers);
  for (const s of active.filter((x) => x.portsMoved)) {
    await stopOrdererProc(o, f, s);
    delete s.portsMoved;
  }
  // Orderers started now: their channels' start lines count from here.
  const from = new Map<number, number>();
  for (const s of active) if (!ordererRunning(o, s)) from.set(s.id, logSize(o, s.id));
  await Promise.all(active.map((s) => startOrdererProc(o, f, s, o.timeoutMs)));
  log(`orderers serving after ${since()}`);
  await Promise.all(
    active
      .filter((s) => from.has(s.id))
      .map((s) => waitLogLine(o, s, startedLine(SYSTEM_CHANNEL), from.get(s.id) ?? 0, o.timeoutMs)),
  );
  for (const ch of o.channels.filter((c) => c !== SYSTEM_CHANNEL))
    await ensureChannel(o, f, active, ch, bin, new Map(from));
  log(`orderer channels ready after ${since()}`);
}

/**
 * Creates `channel` on the lab's running orderers (a channel beyond the lab's `channels`, e.g. on a topic a
 * test created first with its own settings) and waits until each has started its consenter. A channel that
 * exists is left alone. Channels made this way are not re-created by labUp after removeOrderers.
 */
export function createLabChannel(lab: LabRef, channel: string): Promise<void> {
  const workDir = resolveWorkDir(lab);
  return withLabLock(workDir, async () => {
    const o = labOptions(lab);
    const f = readOrderers(workDir);
    const active = f?.orderers.filter((s) => s.id <= o.orderers && ordererRunning(o, s)) ?? [];
    if (!f || active.length === 0) throw new Error('the lab runs no orderers: labUp with orderers first');
    await ensureChannel(o, f, active, channel, await ensureFabric(o), new Map());
  });
}

/** labDown's hook: stops every orderer of the work folder. */
export async function stopLabOrderers(workDir: string, graceMs = 10_000): Promise<void> {
  await stopAllOrderers({ workDir }, graceMs);
}

export function labOrderers(lab: LabRef): OrdererStatus[] {
  return ordererStatuses(labOptions(lab));
}

function withOrderer<T>(
  lab: LabRef,
  n: number,
  fn: (o: ResolvedLabOptions, f: OrderersFile, s: OrdererState) => Promise<T>,
) {
  const workDir = resolveWorkDir(lab);
  return withLabLock(workDir, async () => {
    const o = labOptions(lab);
    const f = readOrderers(workDir);
    if (!f) throw new Error('the lab runs no orderers: labUp with orderers first');
    return fn(o, f, stateOf(f, n));
  });
}

/** Stops orderer `n`: SIGTERM (clean) or, with `kill`, SIGKILL (a crash). Returns its old pid. */
export function stopOrderer(lab: LabRef, n: number, opts: { kill?: boolean } = {}): Promise<number | null> {
  return withOrderer(lab, n, async (o, f, s) => {
    const pid = ordererRunning(o, s) ? s.pid : null;
    await stopOrdererProc(o, f, s, opts.kill ? 0 : 10_000);
    return pid;
  });
}

/**
 * Starts orderer `n` (no-op when it runs) and waits until it serves Broadcast/Deliver. Its channels may still
 * be starting (or stuck: seed 000): see waitChannelReady.
 */
export function startOrderer(lab: LabRef, n: number, opts: { timeoutMs?: number } = {}): Promise<void> {
  return withOrderer(lab, n, (o, f, s) => startOrdererProc(o, f, s, opts.timeoutMs ?? 60_000));
}

/**
 * Broadcasts `count` MESSAGE transactions to `channel` (signed by User1, a /Channel/Writers member) through
 * orderer `orderer` on one stream. Returns the answers (shorter than `count` when the orderer refused one: it
 * ends the stream then). With `retryMs`, envelopes refused with SERVICE_UNAVAILABLE (not ordered: safe to send
 * again) are sent again every 250 ms for up to that long: e.g. while Kafka moves a leader right after start.
 */
export async function submitTransactions(
  lab: LabRef,
  channel: string,
  count: number,
  opts: { orderer?: number; timeoutMs?: number; payload?: (i: number) => Uint8Array; retryMs?: number } = {},
): Promise<BroadcastResult[]> {
  const { user } = labIdentities(lab);
  const payload =
    opts.payload ?? ((i: number) => new TextEncoder().encode(`opsbot-lab tx ${i} ${Date.now()}`));
  const envs = Array.from({ length: count }, (_, i) => messageEnvelope(channel, payload(i), user).bytes);
  const client = labOrdererClient(lab, opts.orderer ?? 1, opts.timeoutMs ?? 30_000);
  const deadline = Date.now() + (opts.retryMs ?? 0);
  const done: BroadcastResult[] = [];
  try {
    for (;;) {
      const answers = await client.broadcast(envs.slice(done.length));
      const ok = answers.filter((a) => a.status === Status.SUCCESS);
      done.push(...ok);
      const refused = answers[ok.length];
      if (!refused) return done;
      if (refused.status !== Status.SERVICE_UNAVAILABLE || Date.now() >= deadline) return [...done, refused];
      await sleep(250);
    }
  } finally {
    client.close();
  }
}

export interface ChannelTip {
  /** Number of blocks (newest block number + 1). */
  height: number;
  /** The Kafka offset recorded in the newest block (null: none yet, e.g. only the genesis block). */
  lastOffsetPersisted: number | null;
}

/** The newest block of `channel` as orderer `orderer` delivers it; throws when it refuses (e.g. seed 000). */
export async function channelTip(
  lab: LabRef,
  channel: string,
  opts: { orderer?: number } = {},
): Promise<ChannelTip> {
  const reader = readerFor(lab, channel);
  const client = labOrdererClient(lab, opts.orderer ?? 1, 10_000);
  try {
    const r = await client.deliver(channel, { start: 'newest', stop: 'newest' }, reader);
    const b = r.blocks[0];
    if (r.status !== Status.SUCCESS || !b) throw new Error(`Deliver of ${channel}: ${r.statusName}`);
    return {
      height: b.header.number + 1,
      lastOffsetPersisted: kafkaMetadataOfBlock(b.metadata).effective?.lastOffsetPersisted ?? null,
    };
  } finally {
    client.close();
  }
}

/** Waits until the newest block of `channel` records at least offset `offset` (blocks were cut). */
export async function waitOffsetPersisted(
  lab: LabRef,
  channel: string,
  offset: number,
  opts: { orderer?: number; timeoutMs?: number } = {},
): Promise<ChannelTip> {
  return waitFor(
    async () => {
      const tip = await channelTip(lab, channel, opts);
      return tip.lastOffsetPersisted !== null && tip.lastOffsetPersisted >= offset ? tip : false;
    },
    { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: 200, what: `${channel} to persist offset ${offset}` },
  );
}

/**
 * Takes the orderers out of the lab for good: stops them, records `orderers: 0`, and deletes their ledgers,
 * logs, the network material and orderers.json. The channel topics keep what the orderers wrote to them:
 * delete them too (and labUp again to recreate empty ones) for a fresh start.
 */
export async function removeOrderers(lab: LabRef): Promise<void> {
  const workDir = resolveWorkDir(lab);
  await withLabLock(workDir, async () => {
    await stopAllOrderers({ workDir }, 5000);
    const state = readState(workDir);
    const f = readOrderers(workDir);
    if (state) {
      state.options.orderers = 0;
      writeState(state);
    }
    for (const s of f?.orderers ?? [])
      rmSync(ordererPaths({ workDir }, s.id).dir, { recursive: true, force: true });
    rmSync(networkDir({ workDir }), { recursive: true, force: true });
    rmSync(orderersFilePath(workDir), { force: true });
  });
}
