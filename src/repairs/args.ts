/**
 * The arguments of a repair plan, checked before anything else: a plan whose argument cannot name anything real
 * (a topic name Kafka forbids, a broker id that is not a whole number, a replication factor of 0) is refused
 * with the argument and the reason, and has no step. The command line and Slack check the same things earlier
 * (registry parseArgs, the Slack parser); the planners check again because they also get arguments from stored
 * requests and findings' suggestions.
 */
import type { RepairPlan } from '../model/index.js';

/** Kafka broker ids and partition numbers are 32-bit signed integers; only 0 and above name anything. */
export const MAX_INT32 = 2 ** 31 - 1;
/** A sanity bound on a replication factor, far above anything Fabric uses. */
export const MAX_RF = 16;

/** A value as a refusal shows it: strings quoted (JSON escapes control characters), shortened. */
export function shown(v: unknown): string {
  if (typeof v === 'string') {
    const s = JSON.stringify(v.length > 60 ? `${v.slice(0, 59)}…` : v);
    return s;
  }
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (v === undefined) return 'missing';
  return typeof v;
}

/** A whole number in 0..max, from a number or a string of digits (the CLI's); undefined when it is not one. */
export function wholeNumber(v: unknown, max = MAX_INT32): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,10}$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= 0 && n <= max && !Object.is(n, -0) ? n : undefined;
}

export function brokerIdProblem(v: unknown, name = 'broker'): string | undefined {
  if (v === undefined) return `${name} is missing`;
  return wholeNumber(v) === undefined
    ? `${name} ${shown(v)} is not a broker id (a whole number from 0 to ${MAX_INT32})`
    : undefined;
}

export function partitionProblem(v: unknown): string | undefined {
  return wholeNumber(v) === undefined
    ? `partition ${shown(v)} is not a partition number (a whole number from 0 to ${MAX_INT32})`
    : undefined;
}

export function rfProblem(v: unknown): string | undefined {
  const n = wholeNumber(v, MAX_RF);
  return n === undefined || n < 2
    ? `rf ${shown(v)} is not a replication factor (2 to ${MAX_RF}; lowering one is not offered)`
    : undefined;
}

/** Kafka's rule for topic names: 1-249 of [a-zA-Z0-9._-], not "." or "..". */
export function isKafkaTopicName(v: unknown): v is string {
  return typeof v === 'string' && /^[A-Za-z0-9._-]{1,249}$/.test(v) && v !== '.' && v !== '..';
}

export function topicProblem(v: unknown): string | undefined {
  if (v === undefined) return 'topic is missing';
  return isKafkaTopicName(v)
    ? undefined
    : `topic ${shown(v)} is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -, not "." or "..")`;
}

/** Fabric's rule for channel names. */
export function channelProblem(v: unknown): string | undefined {
  if (v === undefined) return 'channel is missing';
  return typeof v === 'string' && /^[a-z][a-z0-9.-]{0,248}$/.test(v)
    ? undefined
    : `channel ${shown(v)} is not a Fabric channel name (lowercase letters, digits, . and -, a letter first)`;
}

/**
 * A container, orderer or ZooKeeper member name as the inventory may spell it: text of 1 to 255 characters
 * without control characters (whether the inventory has it is the planner's next check).
 */
export function containerNameProblem(v: unknown): string | undefined {
  const ok =
    typeof v === 'string' &&
    v.length > 0 &&
    v.length <= 255 &&
    v.trim() === v &&
    ![...v].some((ch) => {
      const cp = ch.codePointAt(0)!;
      return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
    });
  return ok ? undefined : `container ${shown(v)} is not a container, orderer or ZooKeeper member name`;
}

/** Arguments as a plan records them: a number JSON cannot hold (NaN, Infinity) as its text. */
export function recordedArgs(args: Record<string, unknown>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(args)) {
    if (v === undefined) continue;
    out[k] =
      typeof v === 'number' ? (Number.isFinite(v) ? v + 0 : String(v)) : typeof v === 'string' ? v : shown(v);
  }
  return out;
}

/**
 * The plan for arguments that do not hold: one failed precondition, "arguments", that says which and why; no
 * step, nothing expected. `null` when every argument holds.
 */
export function refuseArguments(
  kind: string,
  cluster: string,
  args: Record<string, unknown>,
  problems: readonly (string | undefined)[],
): RepairPlan | null {
  const bad = problems.filter((p): p is string => p !== undefined);
  if (bad.length === 0) return null;
  const detail = bad.join('; ');
  return {
    kind,
    cluster,
    args: recordedArgs(args),
    preconditions: [{ check: 'arguments', ok: false, detail }],
    steps: [],
    expected: {},
    refusal: `refused: arguments - ${detail}`,
  };
}
