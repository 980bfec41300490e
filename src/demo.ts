/**
 * `fabric-opsbot demo`: the whole flow on this machine, without Slack. The local lab comes up; a fault like a
 * power cut takes two of pubchain's three replicas away; a `/fabric status pubchain` signed exactly as Slack
 * signs it goes to the real Bolt app, is queued on BullMQ in the lab's Redis, run by a real worker against
 * the cluster, and the Block Kit report the worker posts (to a local recorder standing in for Slack's Web
 * API) is printed here. Then the lab heals and the same command shows the incident closing.
 */
import { loadInventory } from './config/index.js';
import { blocksToText, mrkdwnToText } from './slack/blocks-text.js';

export interface DemoIo {
  out(text: string): void;
  err(text: string): void;
}

export interface DemoOptions {
  workDir: string;
  kafkaVersion?: string;
  /** Stop the lab at the end (default: leave it running for more commands). */
  down?: boolean;
}

const INCIDENT_CHANNEL = 'C0INCIDENTS';

export async function runDemo(io: DemoIo, opts: DemoOptions): Promise<number> {
  const [lab, { startLocalSlack, LOCAL_CHANNEL }] = await Promise.all([
    import('./lab/index.js'),
    import('./local-slack.js'),
  ]);
  const step = (s: string) => io.out(`\n== ${s}\n`);
  const ref = { workDir: opts.workDir };

  // Three real Fabric orderers (Kafka consenter) when Fabric can be built here (Go): seed 003's shape.
  const noFabric = lab.fabricUnbuildableReason();
  const orderers = noFabric === null ? 3 : 0;
  step(
    `1. The lab: ZooKeeper x3, Kafka x4, Redis${orderers ? `, Fabric orderers x${orderers}` : ''} on 127.0.0.1 (real servers)`,
  );
  if (noFabric !== null) io.out(`   (no Fabric orderers: ${noFabric})\n`);
  const t0 = Date.now();
  const status = await lab.labUp({
    ...ref,
    ...(opts.kafkaVersion ? { kafkaVersion: opts.kafkaVersion } : {}),
    ...(orderers ? { orderers } : {}),
    log: (l) => io.err(`   lab: ${l}\n`),
  });
  await lab.healLab(ref);
  io.out(
    `   up in ${((Date.now() - t0) / 1000).toFixed(1)} s, Kafka ${status.kafkaVersion}; inventory ${status.inventory}\n`,
  );

  const slack = await startLocalSlack(loadInventory(status.inventory), { incidentChannel: INCIDENT_CHANNEL });
  const { recorder } = slack;
  io.out(
    `   Slack app (Bolt, HTTP receiver) on ${slack.eventsUrl}; a worker on BullMQ at ${slack.redisAddress}\n`,
  );

  const ask = async (text: string) => {
    const r = await slack.ask(text);
    io.out(`   /fabric ${text}  ->  HTTP ${r.ackStatus} in ${Math.round(r.ackMs)} ms: "${r.ackText}"\n`);
    io.out(`   report posted to ${LOCAL_CHANNEL} ${Math.round(r.totalMs)} ms after the command:\n\n`);
    io.out(indent(blocksToText((r.post.args['blocks'] as never[]) ?? [])));
  };

  try {
    step("2. A fault: two of pubchain's three replicas go down (a power cut takes two brokers)");
    const state = await lab.getPartitionState(ref, 'pubchain', 0);
    if (!state) throw new Error('pubchain/0 has no state in ZooKeeper');
    const victims = state.isr.slice(0, 2); // healthy: the ISR is every replica
    for (const id of victims) await lab.killBroker(ref, id);
    await lab.waitFor(async () => (await lab.getPartitionState(ref, 'pubchain', 0))?.isr.length === 1, {
      timeoutMs: 60_000,
      what: 'pubchain/0 ISR to shrink',
    });
    io.out(
      `   killed brokers ${victims.join(' and ')} (SIGKILL); ZooKeeper now says ISR [${(await lab.getPartitionState(ref, 'pubchain', 0))?.isr.join(',')}]\n`,
    );

    step('3. An operator asks in Slack: /fabric status pubchain');
    await ask('status pubchain');
    const opened = await settled(() => recorder.find(toIncidents));
    if (opened.length) {
      io.out(
        `\n   and, once per incident, in the incident channel ${INCIDENT_CHANNEL} (${opened.length} posts):\n\n`,
      );
      io.out(indent(messageText(opened[0]!.args)));
      for (const c of opened.slice(1)) io.out(`     ...and: ${mrkdwnLine(c.args['text'])}\n`);
    } else io.out(`\n   (nothing was posted in the incident channel ${INCIDENT_CHANNEL})\n`);

    step('4. The brokers come back; the same question again');
    await lab.healLab(ref);
    const mark = recorder.calls.length;
    await ask('status pubchain');
    const closing = await settled(() => recorder.calls.slice(mark).filter(toIncidents));
    for (const c of closing) io.out(`   incident channel, ${c.method}: ${mrkdwnLine(c.args['text'])}\n`);
  } finally {
    await lab.healLab(ref).catch(() => undefined);
    await slack.close();
    if (opts.down) await lab.labDown(ref);
  }
  step(
    opts.down
      ? 'Done; the lab is stopped.'
      : `Done. The lab keeps running: try\n   node bin/fabric-opsbot.js diagnose --config ${status.inventory}\n   node bin/fabric-opsbot.js whatif stop-broker 2 --config ${status.inventory}\n   node bin/fabric-opsbot.js lab down`,
  );
  return 0;
}

const toIncidents = (c: { args: Record<string, unknown> }) => c.args['channel'] === INCIDENT_CHANNEL;

/** Wait until a list of calls stops growing for `quietMs` (posts arrive one by one). */
async function settled<T>(read: () => T[], quietMs = 1500, maxMs = 15_000): Promise<T[]> {
  const end = Date.now() + maxMs;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const now = read();
    if (now.length !== last) {
      last = now.length;
      since = Date.now();
    }
    if (Date.now() - since >= quietMs || Date.now() > end) return now;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A posted message as text: its blocks, else its text. */
function messageText(args: Record<string, unknown>): string {
  const blocks = (args['blocks'] as never[] | undefined) ?? [];
  const fromBlocks = blocks.length ? blocksToText(blocks) : '';
  return fromBlocks.trim() ? fromBlocks : `${mrkdwnToText(String(args['text'] ?? ''))}\n`;
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => (l ? `     ${l}` : l))
    .join('\n');
}

function mrkdwnLine(v: unknown): string {
  return String(v ?? '')
    .split('\n')[0]!
    .slice(0, 120);
}
