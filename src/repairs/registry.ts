/**
 * Every repair kind in one place: how its arguments are read (from the CLI or Slack), and how its plan is
 * built from a snapshot. Plans are dry runs; the executor re-plans right before running and refuses if
 * anything changed.
 */
import type { ClusterConfig } from '../config/index.js';
import { UsageError } from '../errors/index.js';
import type { ClusterSnapshot, RepairPlan } from '../model/index.js';
import { planPadChannel } from './pad-channel.js';

export interface RepairKind {
  kind: string;
  /** e.g. "<channel>" */
  usage: string;
  summary: string;
  /** Parse positional arguments; throws UsageError with a one-line reason. */
  parseArgs(args: string[]): Record<string, string | number>;
  /** Which channel the snapshot may be scoped to (faster), if any. */
  scope(args: Record<string, string | number>): { channel?: string };
  plan(
    snapshot: ClusterSnapshot,
    clusterName: string,
    config: ClusterConfig,
    args: Record<string, string | number>,
  ): RepairPlan;
}

function exactly(kind: string, names: string[], args: string[]): string[] {
  if (args.length !== names.length) {
    throw new UsageError(
      `repair ${kind} takes ${names.map((n) => `<${n}>`).join(' ')}, got ${args.length} argument(s)`,
    );
  }
  return args;
}

const padChannel: RepairKind = {
  kind: 'pad-channel',
  usage: '<channel>',
  summary:
    "produce CONNECT messages until the channel's partition reaches the offset its orderers expect (seed 000)",
  parseArgs(args) {
    const [channel] = exactly('pad-channel', ['channel'], args);
    return { channel: channel! };
  },
  scope: (args) => ({ channel: String(args.channel) }),
  plan(snapshot, clusterName, config, args) {
    const ordererContainers: Record<string, string> = {};
    for (const o of config.orderers) if (o.container?.name) ordererContainers[o.name] = o.container.name;
    return planPadChannel(snapshot, clusterName, String(args.channel), {
      padMaxMessages: config.repairs.padMaxMessages,
      ordererContainers,
    });
  },
};

export const REPAIR_KINDS: ReadonlyMap<string, RepairKind> = new Map([[padChannel.kind, padChannel]]);

export function repairKind(kind: string): RepairKind {
  const k = REPAIR_KINDS.get(kind);
  if (!k) {
    throw new UsageError(`unknown repair kind "${kind}" (known: ${[...REPAIR_KINDS.keys()].join(', ')})`);
  }
  return k;
}
