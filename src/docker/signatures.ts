/**
 * A small catalogue of Kafka and ZooKeeper log signatures worth an operator's attention, matched in container
 * logs. Orderer signatures live with the orderers (src/orderers/logs.ts); gatherContainers takes any matcher
 * of the same shape, so catalogues combine without depending on each other.
 *
 * Strings are Kafka's and ZooKeeper's own (apache/kafka 1.0.x as shipped in Fabric's fabric-kafka images,
 * and later ZooKeeper-mode releases; ZooKeeper 3.4):
 * - kafka.controller.RequestSendThread: "Controller 1's connection to broker 10.0.0.3:9092 (id: 3 rack: null)
 *   was unsuccessful" (seed 001: the controller cannot reach a broker's advertised address).
 * - NetworkClient: "[Controller id=1, targetBrokerId=3] Connection to node 3 could not be established. Broker
 *   may not be available."
 * - kafka.cluster.Partition: "[Partition pubchain-0 broker=1] Shrinking ISR from 1,2,3 to 1,2"; 0.10/0.11:
 *   "Partition [pubchain,0] on broker 1: Shrinking ISR for partition [pubchain,0] from 1,2,3 to 1,2".
 * - ZkClient (Kafka 1.0): "zookeeper state changed (Expired)"; ZooKeeperClient (1.1+): "Session expired";
 *   ZooKeeper server: "Expiring session 0x16..., timeout of 6000ms exceeded".
 */
import type { LogMatch } from '../model/index.js';

/** A log line handed to a matcher: its time when known (ISO) and its text. */
export interface MatchableLine {
  at?: string;
  text: string;
}

/** Matches known signatures in the lines of one origin (container or orderer name). */
export type LogLineMatcher = (origin: string, lines: MatchableLine[]) => LogMatch[];

export interface LogSignature {
  id: string;
  severity: LogMatch['severity'];
  pattern: RegExp;
  /** What the line means, one sentence (for explanations). */
  meaning: string;
  /**
   * Lines with the same signature and the same key are counted together (e.g. one key per unreachable
   * broker); default: one group per signature.
   */
  key?: (m: RegExpExecArray) => string;
  /** The Fabric channel (Kafka topic) the line is about, when it names one. */
  channel?: (m: RegExpExecArray) => string | undefined;
}

export const CONTAINER_SIGNATURES: readonly LogSignature[] = [
  {
    id: 'kafka.controller.broker-connection-failed',
    severity: 'critical',
    pattern: /Controller (\d+)'s connection to broker (\S+) \(id: ?(-?\d+)[^)]*\) was unsuccessful/,
    meaning:
      "The controller cannot connect to a broker's advertised address: leader and ISR changes never reach that " +
      'broker, and clients may get LEADER_NOT_AVAILABLE while ZooKeeper looks healthy (seed 001).',
    key: (m) => m[3]!,
  },
  {
    id: 'kafka.controller.node-unreachable',
    severity: 'warning',
    pattern:
      /\[Controller id=(\d+), targetBrokerId=(-?\d+)\] Connection to node (-?\d+)[^\n]*could not be established/,
    meaning: "The controller's network client could not connect to a broker.",
    key: (m) => m[2]!,
  },
  {
    id: 'java.connection-refused',
    severity: 'warning',
    pattern: /java\.net\.ConnectException: Connection refused/,
    meaning: 'A connection was refused: nothing listens at an address this process uses.',
  },
  {
    id: 'zookeeper.session-expired',
    severity: 'warning',
    pattern:
      /zookeeper state changed \(Expired\)|ZooKeeper session (?:has )?expired|\bSession expired\b|Expiring session 0x[0-9a-f]+/i,
    meaning:
      'A ZooKeeper session expired: a broker that loses its session drops its registration and, if it was the ' +
      'controller, its role; long GC pauses or an overloaded ensemble are common causes.',
  },
  {
    id: 'kafka.isr.shrink',
    severity: 'warning',
    pattern:
      /(?:\[Partition (\S+)-(\d+) broker=(\d+)\]|Partition \[([^,\]]+),(\d+)\] on broker (\d+):) Shrinking ISR (?:for partition \[[^\]]*\] )?from ([\d,]*) to ([\d,]*)/,
    meaning: 'A partition leader removed lagging replicas from the ISR: fewer copies are in sync.',
    key: (m) => `${m[1] ?? m[4]}-${m[2] ?? m[5]}`,
    channel: (m) => m[1] ?? m[4],
  },
  {
    id: 'kafka.fatal-startup',
    severity: 'critical',
    pattern: /Fatal error during KafkaServer(?:Startable)? startup/,
    meaning: 'The broker failed to start and shut down.',
  },
  {
    id: 'java.out-of-memory',
    severity: 'critical',
    pattern: /java\.lang\.OutOfMemoryError/,
    meaning: 'The JVM ran out of memory; the process is unstable or about to die.',
  },
  {
    id: 'zookeeper.election-channel',
    severity: 'warning',
    pattern: /Cannot open channel to (\d+) at election address (\S+)/,
    meaning:
      'A ZooKeeper member cannot reach another member for leader election: the ensemble may lose quorum.',
    key: (m) => m[1]!,
  },
];

/** Build a matcher from a catalogue: one LogMatch per (signature, key), newest line quoted, with counts. */
export function signatureMatcher(catalogue: readonly LogSignature[]): LogLineMatcher {
  return (origin, lines) => {
    const groups = new Map<string, LogMatch>();
    for (const line of lines) {
      for (const sig of catalogue) {
        const m = sig.pattern.exec(line.text);
        if (!m) continue;
        const k = `${sig.id}\u0000${sig.key ? sig.key(m) : ''}`;
        const prev = groups.get(k);
        if (prev) {
          prev.count++;
          prev.line = line.text;
          if (line.at !== undefined) prev.at = line.at;
          if (prev.firstAt === undefined && line.at !== undefined) prev.firstAt = line.at;
        } else {
          const channel = sig.channel?.(m);
          groups.set(k, {
            origin,
            signature: sig.id,
            severity: sig.severity,
            ...(channel !== undefined ? { channel } : {}),
            line: line.text,
            ...(line.at !== undefined ? { at: line.at, firstAt: line.at } : {}),
            count: 1,
          });
        }
      }
    }
    return [...groups.values()];
  };
}

/** The default catalogue for Kafka/ZooKeeper/orderer containers. */
export const defaultContainerMatcher: LogLineMatcher = signatureMatcher(CONTAINER_SIGNATURES);

/** Run several matchers over the same lines and concatenate what they find. */
export function combineMatchers(...matchers: LogLineMatcher[]): LogLineMatcher {
  return (origin, lines) => matchers.flatMap((m) => m(origin, lines));
}

/**
 * The broker a controller-connection line is about: `{ controller, broker, address }`, or null. Used by the
 * container checks to turn seed 001's controller log lines into BROKER_UNREACHABLE findings.
 */
export function parseControllerConnectionLine(
  line: string,
): { controller: number; broker: number; address?: string } | null {
  const a = CONTAINER_SIGNATURES[0]!.pattern.exec(line);
  if (a) return { controller: Number(a[1]), broker: Number(a[3]), address: a[2]! };
  const b = CONTAINER_SIGNATURES[1]!.pattern.exec(line);
  if (b) return { controller: Number(b[1]), broker: Number(b[2]) };
  return null;
}

export const SIGNATURE_MEANING: Record<string, string> = Object.fromEntries(
  CONTAINER_SIGNATURES.map((s) => [s.id, s.meaning]),
);
