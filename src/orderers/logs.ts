/**
 * Logs of orderers and Kafka brokers: a parser for their line formats, a catalogue of failure signatures
 * (each with what it means and what to do), the orderer's offset lines, and matching with counts and times.
 *
 * Line formats (checked against the sources):
 * - Fabric 1.0-2.3 (common/flogging defaultFormat): `%{color}%{time:2006-01-02 15:04:05.000 MST} [%{module}]
 *   %{shortfunc} -> %{level:.4s} %{id:03x}%{color:reset} %{message}`; 1.0 modules use slashes
 *   (orderer/kafka), 1.4 dots (orderer.consensus.kafka).
 * - Fabric 2.4+: `%{color}%{time:...} %{id:04x} %{level:.4s}%{color:reset} [%{module}] %{color:bold}%{shortfunc}
 *   %{color:reset} -> %{message}`.
 * - Fabric with FABRIC_LOGGING_FORMAT=json: zap's production encoder (level, ts, name, caller, msg).
 * - Kafka (config/log4j.properties): `[%d] %p %m (%c)%n`, e.g. `[2018-08-15 01:30:26,824] WARN ... (kafka.x.Y)`.
 * - ZooKeeper 3.4: `2018-08-15 01:30:26,824 [myid:1] - WARN  [thread] - message`.
 * Transport prefixes: docker's json-file lines (`{"log":"...","stream":"stderr","time":"..."}`), `docker logs
 * --timestamps` / kubectl (`2018-08-15T01:30:26.825394083Z `), docker-compose (`name  | `).
 */
import { compareText } from '../order.js';
import type { LogMatch } from '../model/index.js';
import { decodeKafkaMetadata, NO_OFFSET_PERSISTED, SARAMA_OFFSET_OLDEST } from '../fabric/protos.js';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'CRITICAL' | 'PANIC' | 'FATAL';
export type Severity = 'critical' | 'warning' | 'info';

export interface ParsedLogLine {
  raw: string;
  /** The line without transport prefix and ANSI colour codes. */
  text: string;
  format: 'fabric' | 'fabric-2.4' | 'fabric-json' | 'kafka' | 'zookeeper' | 'unknown';
  /** ISO time (UTC) when it could be determined. */
  at?: string;
  /** The time as printed, when the line has one. */
  printedTime?: string;
  /** `at` was derived from a time printed without a zone (Kafka, ZooKeeper), taken as UTC. */
  assumedUtc?: boolean;
  level?: LogLevel;
  /** Fabric logger name or Kafka logger class. */
  module?: string;
  func?: string;
  message: string;
  /** Fabric channel named by the line (`[channel: X]`) or Kafka topic of the partition it names. */
  channel?: string;
}

// ---------------------------------------------------------------- parsing

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

const LEVELS: Record<string, LogLevel> = {
  DEBU: 'DEBUG',
  DEBUG: 'DEBUG',
  INFO: 'INFO',
  NOTI: 'INFO',
  NOTICE: 'INFO',
  WARN: 'WARN',
  WARNING: 'WARN',
  ERRO: 'ERROR',
  ERROR: 'ERROR',
  CRIT: 'CRITICAL',
  CRITICAL: 'CRITICAL',
  DPANIC: 'PANIC',
  DPAN: 'PANIC',
  PANI: 'PANIC',
  PANIC: 'PANIC',
  FATA: 'FATAL',
  FATAL: 'FATAL',
  TRACE: 'DEBUG',
};

function level(s: string): LogLevel | undefined {
  return LEVELS[s.toUpperCase()];
}

/** "2018-08-15 01:30:26.824" + zone -> ISO, when the zone is unambiguous (UTC/GMT/Z or a numeric offset). */
function isoFromPrinted(date: string, time: string, zone: string | undefined): string | undefined {
  const t = time.replace(',', '.');
  let offset: string;
  if (zone === undefined || zone === 'UTC' || zone === 'GMT' || zone === 'Z') offset = 'Z';
  else {
    const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
    if (!m) return undefined; // "CST" and friends: ambiguous
    offset = `${m[1]}${m[2]}:${m[3] ?? '00'}`;
  }
  const frac = /\.(\d+)$/.exec(t);
  const base = t.replace(/\.\d+$/, '');
  const ms = frac ? `.${(frac[1] as string).padEnd(3, '0').slice(0, 3)}` : '.000';
  const d = new Date(`${date}T${base}${ms}${offset}`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function isoFromAny(s: string): string | undefined {
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

const RE_FABRIC =
  /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) (\S+) \[([^\]]+)\] (\S+) -> ([A-Z]{4,5}) ([0-9a-f]+) ?(.*)$/;
const RE_FABRIC_24 =
  /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) (\S+) ([0-9a-f]{4,}) ([A-Z]{4,5}) \[([^\]]+)\] (\S+) -> ?(.*)$/;
const RE_KAFKA =
  /^\[(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:[,.]\d+)?)\] ([A-Z]+) (.*?)(?: \(([\w.$]+)\))?$/;
const RE_ZK =
  /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:[,.]\d+)?) \[myid:(\d*)\] - ([A-Z]+)\s+\[(.*?)\] - (.*)$/;
const RE_TS_PREFIX = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) (.*)$/;
const RE_COMPOSE_PREFIX = /^[A-Za-z0-9_.-]+\s*\| ?(?=\[?\d{4}-\d{2}-\d{2}|\{)(.*)$/;

/** `[channel: X]`, `[channel X]` (the health check's spelling), Kafka's `partition X-0` / `[Partition X-0 ...]`. */
export function channelOf(message: string): string | undefined {
  const f = /\[channel:? ?([A-Za-z0-9._-]+)\]/.exec(message);
  if (f) return f[1];
  const k = /\b[Pp]artition:? \[?([A-Za-z0-9._-]+?)-(\d+)\b/.exec(message);
  if (k) return k[1];
  const k2 = /\bpartition ([A-Za-z0-9._-]+?),(\d+)\b/.exec(message);
  if (k2) return k2[1];
  // ad-hoc debug lines such as seed 000's "... channel:pubchain, partition:0, ..."
  return /\bchannel[:=] ?([A-Za-z0-9._-]+?)[,\s]/.exec(message)?.[1];
}

/** Parses one line of any of the formats above. Never throws: unknown lines come back with format 'unknown'. */
export function parseLogLine(raw: string): ParsedLogLine {
  let line = raw.replace(/\r?\n$/, '');
  let transportTime: string | undefined;

  const compose = RE_COMPOSE_PREFIX.exec(line);
  if (compose) line = compose[1] as string;
  if (line.startsWith('{')) {
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      if (typeof j.log === 'string') {
        line = j.log.replace(/\r?\n$/, '');
        if (typeof j.time === 'string') transportTime = isoFromAny(j.time);
      } else if (typeof j.msg === 'string' && typeof j.level === 'string') {
        const text = stripAnsi(j.msg);
        const out: ParsedLogLine = { raw, text, format: 'fabric-json', message: text };
        const lv = level(j.level);
        if (lv) out.level = lv;
        if (typeof j.name === 'string') out.module = j.name;
        if (typeof j.ts === 'number') out.at = new Date(j.ts * 1000).toISOString();
        else if (typeof j.ts === 'string') {
          const at = isoFromAny(j.ts);
          if (at) out.at = at;
        }
        const ch = channelOf(text);
        if (ch) out.channel = ch;
        return out;
      }
    } catch {
      // not JSON after all
    }
  }
  const ts = RE_TS_PREFIX.exec(line);
  if (ts) {
    transportTime = isoFromAny(ts[1] as string) ?? transportTime;
    line = ts[2] as string;
  }
  const text = stripAnsi(line);
  const out: ParsedLogLine = { raw, text, format: 'unknown', message: text };

  let m: RegExpExecArray | null;
  if ((m = RE_FABRIC.exec(text))) {
    out.format = 'fabric';
    out.printedTime = `${m[1]} ${m[2]} ${m[3]}`;
    const at = isoFromPrinted(m[1] as string, m[2] as string, m[3]);
    if (at) out.at = at;
    out.module = m[4] as string;
    out.func = m[5] as string;
    const lv = level(m[6] as string);
    if (lv) out.level = lv;
    out.message = m[8] as string;
  } else if ((m = RE_FABRIC_24.exec(text))) {
    out.format = 'fabric-2.4';
    out.printedTime = `${m[1]} ${m[2]} ${m[3]}`;
    const at = isoFromPrinted(m[1] as string, m[2] as string, m[3]);
    if (at) out.at = at;
    const lv = level(m[5] as string);
    if (lv) out.level = lv;
    out.module = m[6] as string;
    out.func = m[7] as string;
    out.message = m[8] as string;
  } else if ((m = RE_KAFKA.exec(text))) {
    out.format = 'kafka';
    out.printedTime = `${m[1]} ${m[2]}`;
    const lv = level(m[3] as string);
    if (lv) out.level = lv;
    out.message = m[4] as string;
    if (m[5]) out.module = m[5];
    if (!transportTime) {
      const at = isoFromPrinted(m[1] as string, m[2] as string, undefined);
      if (at) {
        out.at = at;
        out.assumedUtc = true;
      }
    }
  } else if ((m = RE_ZK.exec(text))) {
    out.format = 'zookeeper';
    out.printedTime = `${m[1]} ${m[2]}`;
    const lv = level(m[4] as string);
    if (lv) out.level = lv;
    out.module = m[5] as string;
    out.message = m[6] as string;
    if (!transportTime) {
      const at = isoFromPrinted(m[1] as string, m[2] as string, undefined);
      if (at) {
        out.at = at;
        out.assumedUtc = true;
      }
    }
  }
  if (out.at === undefined && transportTime) out.at = transportTime;
  if (transportTime && out.assumedUtc) {
    out.at = transportTime;
    delete out.assumedUtc;
  }
  const ch = channelOf(out.message);
  if (ch) out.channel = ch;
  return out;
}

// ---------------------------------------------------------------- the catalogue

export interface LogSignature {
  id: string;
  /** Whose log it appears in. */
  component: 'orderer' | 'kafka' | 'zookeeper';
  pattern: RegExp;
  severity: Severity;
  /** Severity when the line's level is this (e.g. the same text at WARN from a health probe, at PANIC at start). */
  severityByLevel?: Partial<Record<LogLevel, Severity>>;
  /** Higher = closer to the cause (a Kafka error named inside a Fabric line outranks the Fabric line). */
  priority: number;
  /** What it means, in the operator's words. */
  meaning: string;
  /** What to do. */
  action: string;
}

const OFFSET_HELP =
  "Compare the orderer's expected start offset (last offset persisted + 1) with the partition's high watermark " +
  'and log start offset (`diagnose --channel C`).';

export const LOG_SIGNATURES: readonly LogSignature[] = [
  // ---- Kafka errors (Sarama's texts) inside orderer lines: the causes
  {
    id: 'orderer.kafka.offset-out-of-range',
    component: 'orderer',
    pattern: /The requested offset is outside the range of offsets maintained by the server/,
    severity: 'critical',
    priority: 90,
    meaning:
      'The orderer asks Kafka for an offset the partition does not have: past its end (Kafka lost messages the ' +
      'orderer had already written into blocks, e.g. unflushed writes lost in a power cut) or before its start ' +
      '(retention deleted them). The channel cannot order or deliver until this is fixed.',
    action: `${OFFSET_HELP} If it is past the end, \`repair plan pad-channel <channel>\` fills the gap with CONNECT messages; then restart the orderer (or wait for its next retry).`,
  },
  {
    id: 'orderer.kafka.no-leader',
    component: 'orderer',
    pattern: /In the middle of a leadership election, there is currently no leader for this partition/,
    severity: 'critical',
    priority: 80,
    meaning:
      "The channel's partition has no leader (LEADER_NOT_AVAILABLE): its in-sync replicas are down, or the " +
      'controller cannot reach the brokers to publish a leader.',
    action:
      'Check the partition (leader, ISR) and the controller; bring an in-sync replica back. If ZooKeeper shows a ' +
      "leader but clients do not, look at the controller's log for connection failures to brokers.",
  },
  {
    id: 'orderer.kafka.not-enough-replicas',
    component: 'orderer',
    pattern: /Messages are rejected since there are fewer in-sync replicas than required/,
    severity: 'critical',
    priority: 80,
    meaning:
      "The partition has fewer in-sync replicas than min.insync.replicas, so the orderer's acks=all writes are " +
      'rejected: no transaction can be ordered on this channel.',
    action:
      'Bring the missing replicas back in sync (restart the brokers that left the ISR) or, as a last resort, lower min.insync.replicas for the topic.',
  },
  {
    id: 'orderer.kafka.not-enough-replicas-after-append',
    component: 'orderer',
    pattern: /Messages are written to the log, but to fewer in-sync replicas than required/,
    severity: 'warning',
    priority: 70,
    meaning:
      'A write reached the leader but the ISR shrank below min.insync.replicas before it was acknowledged.',
    action: 'Check which replicas are falling out of sync (broker health, network, disk).',
  },
  {
    id: 'orderer.kafka.out-of-brokers',
    component: 'orderer',
    pattern: /client has run out of available brokers to talk to/,
    severity: 'critical',
    priority: 75,
    meaning:
      'The orderer could not reach any Kafka broker it knows (Orderer.Kafka.Brokers and advertised addresses).',
    action:
      "Check the brokers are up and that their advertised listeners are reachable from the orderer's network.",
  },
  {
    id: 'orderer.kafka.unknown-topic',
    component: 'orderer',
    pattern: /Request was for a topic or partition that does not exist on this broker/,
    severity: 'warning',
    priority: 60,
    meaning:
      "The channel's topic is unknown to the broker asked (not created yet, deleted, or stale metadata).",
    action: 'Check the topic exists in ZooKeeper and on the brokers; auto.create.topics.enable or create it.',
  },
  {
    id: 'orderer.kafka.not-leader',
    component: 'orderer',
    pattern: /Tried to send a message to a replica that is not the leader for some partition/,
    severity: 'warning',
    priority: 50,
    meaning:
      'The orderer wrote to a broker that is no longer the leader: leadership moved (usually transient).',
    action: 'If it repeats, look for a flapping leader or a controller that cannot reach the brokers.',
  },
  {
    id: 'orderer.kafka.message-too-large',
    component: 'orderer',
    pattern: /Message was too large, server rejected it|message is larger than Consumer\.Fetch\.Max/,
    severity: 'critical',
    priority: 70,
    meaning:
      'A block-sized message exceeds what the broker accepts or the orderer fetches (message size settings out of order).',
    action:
      'Keep Orderer.AbsoluteMaxBytes < replica.fetch.max.bytes <= message.max.bytes (Fabric kafka.rst).',
  },
  // ---- Fabric orderer lines (orderer/consensus/kafka/chain.go, common/deliver, orderer/common/broadcast)
  {
    id: 'orderer.cannot-setup-channel-consumer',
    component: 'orderer',
    pattern: /Cannot set up channel consumer/,
    severity: 'critical',
    priority: 40,
    meaning:
      'The orderer gave up setting up the consumer for this channel after its short and long retry windows; ' +
      'the channel is down on this orderer.',
    action:
      'Find the Kafka error in the line (often the offset being out of range), fix it, then restart the orderer.',
  },
  {
    id: 'orderer.cannot-setup-producer',
    component: 'orderer',
    pattern: /Cannot set up producer/,
    severity: 'critical',
    priority: 40,
    meaning: 'The orderer could not create its Kafka producer for the channel and stopped retrying.',
    action: 'Check broker reachability and TLS/SASL settings, then restart the orderer.',
  },
  {
    id: 'orderer.cannot-setup-parent-consumer',
    component: 'orderer',
    pattern: /Cannot set up parent consumer/,
    severity: 'critical',
    priority: 40,
    meaning: 'The orderer could not create its Kafka consumer and stopped retrying.',
    action: 'Check broker reachability and TLS/SASL settings, then restart the orderer.',
  },
  {
    id: 'orderer.cannot-post-connect',
    component: 'orderer',
    pattern: /Cannot post CONNECT message/,
    severity: 'warning',
    severityByLevel: { PANIC: 'critical', FATAL: 'critical', CRITICAL: 'critical' },
    priority: 35,
    meaning:
      'The orderer could not write its CONNECT message to the channel (at start: fatal for the channel; from ' +
      'a /healthz probe: the partition cannot take acks=all writes right now).',
    action: 'Check the partition has a leader and enough in-sync replicas.',
  },
  {
    id: 'orderer.unrecoverable-consumption',
    component: 'orderer',
    pattern: /Unrecoverable error during consumption/,
    severity: 'critical',
    priority: 38,
    meaning: 'Consumption failed in a way the orderer does not retry; the channel is halted on this orderer.',
    action: 'Read the Kafka error in the line; fix it and restart the orderer.',
  },
  {
    id: 'orderer.consumption-error',
    component: 'orderer',
    pattern: /Error during consumption:/,
    severity: 'warning',
    priority: 30,
    meaning:
      'Reading the channel from Kafka failed; the orderer retries and will drop Deliver sessions if it continues.',
    action: 'Read the Kafka error in the line (leader, ISR, offsets).',
  },
  {
    id: 'orderer.deliver-sessions-dropped',
    component: 'orderer',
    pattern: /Deliver sessions will be dropped if consumption errors continue/,
    severity: 'warning',
    priority: 25,
    meaning: 'Consumption errors persist; the orderer is about to mark the channel unavailable to peers.',
    action: 'Fix the consumption error logged just before.',
  },
  {
    id: 'orderer.deliver-rejected',
    component: 'orderer',
    pattern: /Rejecting deliver request (?:for \S+ )?because of consenter error/,
    severity: 'critical',
    priority: 20,
    meaning: "Peers asking this orderer for blocks are turned away: the channel's consenter is not working.",
    action: 'Look for the consenter error on this channel (offset, leader, ISR lines).',
  },
  {
    id: 'orderer.broadcast-rejected',
    component: 'orderer',
    pattern: /Rejecting broadcast of message from \S+ with SERVICE_UNAVAILABLE/,
    severity: 'critical',
    priority: 20,
    meaning:
      'Clients submitting transactions get SERVICE_UNAVAILABLE: the channel cannot order anything on this orderer.',
    action: 'Look for the consenter error on this channel (offset, leader, ISR lines).',
  },
  {
    id: 'orderer.cannot-enqueue',
    component: 'orderer',
    pattern: /cannot enqueue envelope(?: because)? =/,
    severity: 'warning',
    priority: 30,
    meaning: 'The orderer could not write a transaction to Kafka; the client got an error.',
    action: 'Read the Kafka error in the line (ISR below min.insync.replicas, no leader...).',
  },
  {
    id: 'orderer.unmarshal-consumed',
    component: 'orderer',
    pattern: /Unable to unmarshal consumed message/,
    severity: 'warning',
    priority: 45,
    meaning:
      "A message on the channel's topic is not a Fabric KafkaMessage (something else wrote to the topic); it was skipped.",
    action:
      'Find who writes to the topic. Never pad a channel with arbitrary bytes: use CONNECT messages (1a00).',
  },
  {
    id: 'orderer.time-to-cut-mismatch',
    component: 'orderer',
    pattern: /got larger time-to-cut message/,
    severity: 'critical',
    priority: 50,
    meaning:
      'A TIME_TO_CUT message for a later block than expected arrived; the consenter for the channel exits.',
    action:
      "The topic holds a stray or replayed TIME_TO_CUT (padding with arbitrary bytes can create one). Restore the topic or the orderer's ledger; this needs manual work.",
  },
  {
    id: 'orderer.consenter-exiting',
    component: 'orderer',
    pattern: /Consenter for channel exiting/,
    severity: 'critical',
    severityByLevel: { DEBUG: 'info' },
    priority: 35,
    meaning:
      "The channel's consenter stopped on this orderer (after a fatal message or a halt); it will not recover by itself.",
    action: 'Read the lines just before it for the cause; restart the orderer once it is fixed.',
  },
  {
    id: 'orderer.kafka-consumer-closed',
    component: 'orderer',
    pattern: /Kafka consumer closed\./,
    severity: 'critical',
    priority: 35,
    meaning: "The channel's Kafka consumer closed unexpectedly; the consenter stops.",
    action: 'Restart the orderer and check the brokers.',
  },
  {
    id: 'orderer.ledger-corrupted',
    component: 'orderer',
    pattern: /Ledger may be corrupted/,
    severity: 'critical',
    priority: 85,
    meaning: "The Kafka metadata in the orderer's newest block does not decode.",
    action: "Restore this orderer's ledger from a healthy orderer of the same channel.",
  },
  {
    id: 'orderer.halted',
    component: 'orderer',
    pattern: /Halting of chain requested/,
    severity: 'warning',
    priority: 10,
    meaning: "The channel's chain was halted on this orderer (shutdown, or after an error).",
    action: 'Expected during a shutdown; otherwise look for the error that caused it.',
  },
  // ---- informational lines (offsets, recovery)
  {
    id: 'orderer.starting-chain',
    component: 'orderer',
    pattern: /Starting chain with last persisted offset -?\d+ and last recorded block/,
    severity: 'info',
    priority: 0,
    meaning: 'The orderer started the channel: the offset is the one in its newest block.',
    action: 'None.',
  },
  {
    id: 'orderer.start-offset',
    component: 'orderer',
    pattern: /Setting up the channel consumer for this channel \(start offset: -?\d+\)/,
    severity: 'info',
    priority: 0,
    meaning: 'The offset the orderer will consume the channel from.',
    action: 'None.',
  },
  {
    id: 'orderer.tip-metadata',
    component: 'orderer',
    pattern: /Retrieved metadata for tip of chain/,
    severity: 'info',
    priority: 0,
    meaning: 'Fabric 1.0 (DEBUG): the Kafka metadata of the newest block (last offset persisted).',
    action: 'None.',
  },
  {
    id: 'orderer.consumer-ready',
    component: 'orderer',
    pattern:
      /Channel consumer set up successfully|Start phase completed successfully|Marked consenter as available again/,
    severity: 'info',
    priority: 0,
    meaning: 'The channel is (again) being consumed normally on this orderer.',
    action: 'None.',
  },
  // ---- Kafka broker / controller (apache/kafka 1.0.2)
  {
    id: 'kafka.controller-cannot-reach-broker',
    component: 'kafka',
    pattern: /Controller \d+'s connection to broker .* was unsuccessful/,
    severity: 'critical',
    priority: 80,
    meaning:
      'The controller cannot connect to a broker at its advertised address, so it cannot tell brokers about ' +
      'leaders: topics look fine in ZooKeeper but clients get LEADER_NOT_AVAILABLE.',
    action:
      "Make every broker's advertised listener reachable from every broker (the controller can be any of them), then restart the controller broker.",
  },
  {
    id: 'kafka.controller-send-failed',
    component: 'kafka',
    pattern: /Controller \d+ fails to send a request to broker/,
    severity: 'warning',
    priority: 60,
    meaning: 'The controller lost its connection to a broker while sending state changes.',
    action: 'Check that broker and the network between brokers.',
  },
  {
    id: 'kafka.connect-exception',
    component: 'kafka',
    pattern: /java\.net\.ConnectException|java\.io\.IOException: Connection to \S+ .*failed/,
    severity: 'warning',
    priority: 50,
    meaning: 'A broker could not open a connection (to another broker or to ZooKeeper).',
    action: 'Check the address in the line is the right advertised listener and is reachable.',
  },
  {
    id: 'kafka.shrinking-isr',
    component: 'kafka',
    pattern: /Shrinking ISR from/,
    severity: 'warning',
    priority: 40,
    meaning: 'A replica fell out of sync with the leader (broker down, slow disk or network).',
    action:
      'Check the replica broker named in the line; below min.insync.replicas the orderers cannot write.',
  },
  {
    id: 'kafka.expanding-isr',
    component: 'kafka',
    pattern: /Expanding ISR from/,
    severity: 'info',
    priority: 0,
    meaning: 'A replica caught up and rejoined the ISR.',
    action: 'None.',
  },
  {
    id: 'kafka.not-enough-replicas',
    component: 'kafka',
    pattern: /NotEnoughReplicasException/,
    severity: 'critical',
    priority: 70,
    meaning: 'The broker rejected acks=all writes: the ISR is below min.insync.replicas.',
    action: 'Bring the missing replicas back in sync.',
  },
  {
    id: 'kafka.offset-out-of-range',
    component: 'kafka',
    pattern: /OffsetOutOfRangeException/,
    severity: 'warning',
    priority: 60,
    meaning: 'A client (often an orderer) fetched an offset the partition does not have.',
    action: OFFSET_HELP,
  },
  {
    id: 'kafka.no-replica-in-isr-alive',
    component: 'kafka',
    pattern: /No replica in ISR for partition .* is alive/,
    severity: 'critical',
    priority: 80,
    meaning: 'The partition went offline: no in-sync replica is alive and unclean election is off.',
    action:
      'Bring back a broker that was in the ISR. Do not enable unclean leader election on Fabric topics.',
  },
  {
    id: 'kafka.recovering-unflushed-segment',
    component: 'kafka',
    pattern: /Recovering unflushed segment/,
    severity: 'warning',
    priority: 30,
    meaning:
      'The broker was not shut down cleanly and recovers its log: unflushed messages may be lost (seed 000).',
    action:
      "Check each channel's orderers against the high watermark after the restart; consider log.flush.interval.messages=1.",
  },
];

const BY_ID = new Map(LOG_SIGNATURES.map((s) => [s.id, s]));

export function logSignature(id: string): LogSignature | undefined {
  return BY_ID.get(id);
}

/** The signatures a parsed line matches, highest priority first. */
export function signaturesOf(line: ParsedLogLine): { signature: LogSignature; severity: Severity }[] {
  const out: { signature: LogSignature; severity: Severity }[] = [];
  for (const s of LOG_SIGNATURES) {
    if (!s.pattern.test(line.text)) continue;
    const severity = (line.level && s.severityByLevel?.[line.level]) ?? s.severity;
    out.push({ signature: s, severity });
  }
  return out.sort((a, b) => b.signature.priority - a.signature.priority);
}

// ---------------------------------------------------------------- matching

function toTime(since: Date | string | undefined): number | undefined {
  if (since === undefined) return undefined;
  const t = since instanceof Date ? since.getTime() : new Date(since).getTime();
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Matches lines against the catalogue and aggregates per (signature, channel): count, first and last time, the
 * last line. Lines with a known time before `since` are skipped; a line without its own time (a Java stack
 * trace line) takes the time of the line before it.
 */
export function matchLogLines(origin: string, lines: Iterable<string>, since?: Date | string): LogMatch[] {
  const sinceMs = toTime(since);
  const byKey = new Map<string, LogMatch>();
  let lastAt: string | undefined;
  for (const raw of lines) {
    if (raw.trim() === '') continue;
    const p = parseLogLine(raw);
    if (p.at) lastAt = p.at;
    const at = p.at ?? (p.format === 'unknown' ? lastAt : undefined);
    if (sinceMs !== undefined && at !== undefined && new Date(at).getTime() < sinceMs) continue;
    for (const { signature, severity } of signaturesOf(p)) {
      const key = `${signature.id}\u0000${p.channel ?? ''}`;
      const prev = byKey.get(key);
      if (prev) {
        prev.count++;
        prev.line = p.text;
        if (at !== undefined) {
          prev.at = at;
          if (prev.firstAt === undefined) prev.firstAt = at;
        }
        // the worst severity seen for this signature
        if (rank(severity) > rank(prev.severity)) prev.severity = severity;
      } else {
        const m: LogMatch = { origin, signature: signature.id, severity, line: p.text, count: 1 };
        if (p.channel) m.channel = p.channel;
        if (at !== undefined) {
          m.at = at;
          m.firstAt = at;
        }
        byKey.set(key, m);
      }
    }
  }
  return [...byKey.values()];
}

function rank(s: Severity): number {
  return s === 'critical' ? 2 : s === 'warning' ? 1 : 0;
}

// ---------------------------------------------------------------- offsets in the orderer's log

export type OffsetLogEvent =
  | {
      kind: 'starting-chain';
      channel: string;
      /** As printed: -3 means none persisted. */
      lastOffsetPersisted: number;
      lastBlock: number;
      at?: string;
    }
  | { kind: 'start-offset'; channel: string; startOffset: number; at?: string }
  | {
      kind: 'tip-metadata';
      channel: string;
      blockNumber: number;
      /** null when the block carried no Kafka metadata (or it did not decode). */
      lastOffsetPersisted: number | null;
      at?: string;
    };

/**
 * Unescapes a string printed by Go's protobuf text format (`value:"\010\024"`): octal `\NNN`, `\xHH`, the C
 * escapes and printable characters as themselves.
 */
export function unescapeGoProtoText(s: string): Uint8Array {
  const out: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c !== '\\') {
      for (const b of enc.encode(c)) out.push(b);
      continue;
    }
    const n = s[i + 1];
    if (n === undefined) throw new Error('dangling backslash');
    if (/[0-7]/.test(n)) {
      const oct = /^[0-7]{1,3}/.exec(s.slice(i + 1))?.[0] as string;
      out.push(parseInt(oct, 8) & 0xff);
      i += oct.length;
      continue;
    }
    if (n === 'x') {
      const hex = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 2))?.[0];
      if (!hex) throw new Error('bad \\x escape');
      out.push(parseInt(hex, 16));
      i += 1 + hex.length;
      continue;
    }
    const simple: Record<string, number> = {
      n: 10,
      r: 13,
      t: 9,
      a: 7,
      b: 8,
      f: 12,
      v: 11,
      '\\': 92,
      '"': 34,
      "'": 39,
    };
    const code = simple[n];
    if (code === undefined) throw new Error(`unknown escape \\${n}`);
    out.push(code);
    i++;
  }
  return Uint8Array.from(out);
}

const RE_STARTING =
  /\[channel: ([^\]\s]+)\] Starting chain with last persisted offset (-?\d+) and last recorded block \[?(-?\d+)\]?/;
const RE_START_OFFSET =
  /\[channel: ([^\]\s]+)\](?:\[partition: \d+\])? Setting up the channel consumer for this channel \(start offset: (-?\d+)\)/;
const RE_TIP =
  /\[channel: ([^\]\s]+)\] Retrieved metadata for tip of chain \(blockNumber=(\d+)[^)]*\):\s*(?:value:"((?:[^"\\]|\\.)*)")?/;

/** The offset lines of an orderer's log, in log order. */
export function extractOffsetEvents(lines: Iterable<string>): OffsetLogEvent[] {
  const out: OffsetLogEvent[] = [];
  for (const raw of lines) {
    if (!/Starting chain|start offset|tip of chain/.test(raw)) continue;
    const p = parseLogLine(raw);
    const at = p.at !== undefined ? { at: p.at } : {};
    let m: RegExpExecArray | null;
    if ((m = RE_STARTING.exec(p.text))) {
      out.push({
        kind: 'starting-chain',
        channel: m[1] as string,
        lastOffsetPersisted: Number(m[2]),
        lastBlock: Number(m[3]),
        ...at,
      });
    } else if ((m = RE_START_OFFSET.exec(p.text))) {
      out.push({ kind: 'start-offset', channel: m[1] as string, startOffset: Number(m[2]), ...at });
    } else if ((m = RE_TIP.exec(p.text))) {
      let lop: number | null = null;
      if (m[3] !== undefined) {
        try {
          const bytes = unescapeGoProtoText(m[3]);
          lop = bytes.length > 0 ? decodeKafkaMetadata(bytes).lastOffsetPersisted : null;
        } catch {
          lop = null;
        }
      }
      out.push({
        kind: 'tip-metadata',
        channel: m[1] as string,
        blockNumber: Number(m[2]),
        lastOffsetPersisted: lop,
        ...at,
      });
    }
  }
  return out;
}

export interface LogPosition {
  channel: string;
  /** null = none persisted (the orderer starts from the oldest offset). */
  lastOffsetPersisted: number | null;
  blockHeight?: number;
  /** Time of the line the offset came from. */
  at?: string;
  /** Which kind of line it came from. */
  from: OffsetLogEvent['kind'];
}

/**
 * The newest offset each channel's lines state. Lines are taken in time order when every one has a time (lines
 * gathered by several greps may be out of order), else in the order given (a log is read oldest first).
 */
export function positionsFromLog(events: readonly OffsetLogEvent[]): Map<string, LogPosition> {
  const out = new Map<string, LogPosition>();
  const ordered = events.every((e) => e.at !== undefined)
    ? [...events].sort((a, b) => compareText(a.at as string, b.at as string))
    : events;
  for (const e of ordered) {
    const pos: LogPosition = { channel: e.channel, lastOffsetPersisted: null, from: e.kind };
    if (e.at !== undefined) pos.at = e.at;
    if (e.kind === 'starting-chain') {
      pos.lastOffsetPersisted = e.lastOffsetPersisted <= NO_OFFSET_PERSISTED ? null : e.lastOffsetPersisted;
      if (e.lastBlock >= 0) pos.blockHeight = e.lastBlock + 1;
    } else if (e.kind === 'start-offset') {
      pos.lastOffsetPersisted = e.startOffset <= SARAMA_OFFSET_OLDEST ? null : e.startOffset - 1;
      const prev = out.get(e.channel);
      // the "Starting chain" line just before carries the height; keep it
      if (prev?.blockHeight !== undefined && prev.lastOffsetPersisted === pos.lastOffsetPersisted) {
        pos.blockHeight = prev.blockHeight;
      }
    } else {
      pos.lastOffsetPersisted = e.lastOffsetPersisted;
      pos.blockHeight = e.blockNumber + 1;
    }
    out.set(e.channel, pos);
  }
  return out;
}
