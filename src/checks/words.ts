/** Small helpers that put names and numbers into operator sentences. */

/** "1, 2 and 3" */
export function andList(items: readonly (string | number)[]): string {
  const s = items.map(String);
  if (s.length <= 1) return s.join('');
  return `${s.slice(0, -1).join(', ')} and ${s[s.length - 1]}`;
}

/** "1, 2 or 3" */
export function orList(items: readonly (string | number)[]): string {
  const s = items.map(String);
  if (s.length <= 1) return s.join('');
  return `${s.slice(0, -1).join(', ')} or ${s[s.length - 1]}`;
}

/** "broker 3", "brokers 1 and 3", "no broker" */
export function brokers(ids: readonly number[]): string {
  if (ids.length === 0) return 'no broker';
  return ids.length === 1 ? `broker ${ids[0]}` : `brokers ${andList(ids)}`;
}

/** "1 partition", "3 partitions" */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

export function tp(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** "[1,2,3]" as Kafka tools print replica lists. */
export function idList(ids: readonly number[]): string {
  return `[${ids.join(',')}]`;
}

/** Names of the Kafka error codes a Metadata answer may carry. */
const KAFKA_ERRORS: Record<number, string> = {
  0: 'NONE',
  3: 'UNKNOWN_TOPIC_OR_PARTITION',
  5: 'LEADER_NOT_AVAILABLE',
  6: 'NOT_LEADER_FOR_PARTITION',
  7: 'REQUEST_TIMED_OUT',
  9: 'REPLICA_NOT_AVAILABLE',
  17: 'INVALID_TOPIC_EXCEPTION',
  19: 'NOT_ENOUGH_REPLICAS',
  29: 'TOPIC_AUTHORIZATION_FAILED',
  72: 'LISTENER_NOT_FOUND',
  74: 'FENCED_LEADER_EPOCH',
  75: 'UNKNOWN_LEADER_EPOCH',
};

export function kafkaError(code: number): string {
  const name = KAFKA_ERRORS[code];
  return name === undefined ? `error ${code}` : `${name} (${code})`;
}

/** Sort numbers ascending, without duplicates. */
export function uniqSorted(ids: Iterable<number>): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** Same members, order ignored (replica lists are short: no allocation). */
export function sameSet(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (const x of a) if (!b.includes(x)) return false;
  for (const x of b) if (!a.includes(x)) return false;
  return true;
}

/** Bytes for people: 103809024 -> "99 MiB", 1000012 -> "976.6 KiB". */
export function bytes(n: number): string {
  if (n < 0) return String(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const s = u === 0 || Number.isInteger(v) ? String(v) : v.toFixed(1);
  return `${s} ${units[u]}`;
}

/** Milliseconds for people: 604800000 -> "7 days". */
export function duration(ms: number): string {
  if (ms < 0) return 'forever';
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, name] of units) {
    if (ms >= size && ms % size === 0) return plural(ms / size, name);
  }
  for (const [size, name] of units) if (ms >= size) return `${(ms / size).toFixed(1)} ${name}s`;
  return `${ms} ms`;
}

/** Characters that must not reach a terminal, a log line or a chat message as they are. */
export function invisible(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp < 0xa0) ||
    cp === 0xad ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x2028 && cp <= 0x202e) ||
    (cp >= 0x2060 && cp <= 0x2069) ||
    cp === 0xfeff ||
    (cp >= 0xd800 && cp <= 0xdfff)
  );
}

/**
 * Text with its control, bidi and zero-width characters written as \n, \t or \uXXXX: a name a broken cluster
 * reports ("line\nbreak", a terminal escape, a right-to-left override) shows what it is and cannot break a line,
 * clear a terminal or reorder what follows it. Plain text passes unchanged (and fast).
 */
export function printable(s: string): string {
  // Fast path: nothing below U+0020, no DEL/C1, nothing in the zero-width/bidi/surrogate ranges.
  let clean = true;
  for (let i = 0; i < s.length && clean; i++) clean = !invisible(s.charCodeAt(i));
  if (clean) return s;
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (!invisible(cp)) out += ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else out += `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  return out;
}

/** Kafka's rule for topic names (kafka.common.Topic): 1-249 of [a-zA-Z0-9._-], and not "." or "..". */
export function isLegalTopicName(name: string): boolean {
  return /^[A-Za-z0-9._-]{1,249}$/.test(name) && name !== '.' && name !== '..';
}
