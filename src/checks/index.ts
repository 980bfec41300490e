/**
 * The checks: pure functions from a ClusterSnapshot to findings. `runChecks` runs the core ones and any extra
 * ones a caller passes (orderer checks, container checks), applies the snapshot's scope, removes exact
 * duplicates and sorts worst first.
 *
 *   const findings = runChecks(snapshot, { extraChecks: [ordererChecks] });
 *   const report = buildReport(snapshot, findings);
 */
import { compareFindings, subjectKey, type ClusterSnapshot, type Finding } from '../model/index.js';
import { describeError } from '../errors/index.js';
import { brokerReachabilityChecks, brokerRegistrationChecks } from './brokers.js';
import { configChecks } from './config.js';
import {
  indexSnapshot,
  withIndex,
  type CheckContext,
  type CheckFn,
  type NamedCheck,
  type SnapshotIndex,
} from './context.js';
import { metadataDivergenceChecks } from './metadata.js';
import { partitionStateChecks } from './partitions.js';
import { sourceChecks } from './sources.js';
import { controllerChecks, zookeeperQuorumChecks } from './zookeeper.js';
import { printable } from './words.js';

export type { CheckContext, CheckFn, NamedCheck } from './context.js';
export { indexSnapshot, withIndex, partKey, type SnapshotIndex } from './context.js';
export { sourceChecks } from './sources.js';
export { zookeeperQuorumChecks, controllerChecks } from './zookeeper.js';
export { brokerRegistrationChecks, brokerReachabilityChecks } from './brokers.js';
export { metadataDivergenceChecks } from './metadata.js';
export { partitionStateChecks, COLLAPSE_AT } from './partitions.js';
export { configChecks } from './config.js';
export {
  whatIfStopBroker,
  whatIfExitCode,
  type WhatIfStopBroker,
  type WhatIfOffline,
  type WhatIfMinIsr,
  type WhatIfLeaderMove,
} from './whatif.js';

/** The core checks, in the order they run. Add a module's checks here, or pass them as `ctx.extraChecks`. */
export const CORE_CHECKS: readonly NamedCheck[] = [
  { name: 'sources', run: sourceChecks },
  { name: 'zookeeper-quorum', run: zookeeperQuorumChecks },
  { name: 'controller', run: controllerChecks },
  { name: 'broker-registration', run: brokerRegistrationChecks },
  { name: 'broker-reachability', run: brokerReachabilityChecks },
  { name: 'metadata-divergence', run: metadataDivergenceChecks },
  { name: 'partition-state', run: partitionStateChecks },
  { name: 'config', run: configChecks },
];

/** Run every check; findings are scoped to snapshot.scope.channel, de-duplicated and sorted worst first. */
export function runChecks(snapshot: ClusterSnapshot, context: CheckContext = {}): Finding[] {
  const ctx = withIndex(snapshot, context);
  const checks: NamedCheck[] = [
    ...CORE_CHECKS,
    ...(ctx.extraChecks ?? []).map((run: CheckFn, i) => ({ name: run.name || `extra-${i + 1}`, run })),
  ];
  const all: Finding[] = [];
  for (const check of checks) {
    let found: Finding[];
    try {
      found = check.run(snapshot, ctx);
    } catch (err) {
      found = [checkFailed(check.name, err)];
    }
    for (const f of found) all.push(f); // no spread: a check may return many thousands
  }
  return finalizeFindings(snapshot, all, ctx);
}

/** Scope filter, exact-duplicate removal and sort: what runChecks does after running the checks. */
export function finalizeFindings(
  snapshot: ClusterSnapshot,
  findings: readonly Finding[],
  ctx?: CheckContext,
): Finding[] {
  const keep = scopeFilter(snapshot, indexSnapshot(snapshot, ctx));
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const raw of findings) {
    if (!keep(raw)) continue;
    const f = printableFinding(raw);
    const key = `${f.code}\u0000${subjectKey(f.subject)}\u0000${f.summary}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(f);
  }
  return out.sort(compareFindings);
}

/**
 * A finding whose words (summary, explanation, repair titles) hold no control character: names from the cluster
 * are interpolated into them, and a topic named "a\nb" or "\u001b[2J" must neither break the one-line summary
 * nor reach a terminal as an escape sequence. Subjects and evidence keep the names exactly (they are data).
 */
function printableFinding(f: Finding): Finding {
  const summary = printable(f.summary);
  const explanation = f.explanation === undefined ? undefined : printable(f.explanation);
  const titlesOk = f.repairs.every((r) => printable(r.title) === r.title);
  if (summary === f.summary && explanation === f.explanation && titlesOk) return f;
  return {
    ...f,
    summary,
    ...(explanation !== undefined ? { explanation } : {}),
    repairs: titlesOk ? f.repairs : f.repairs.map((r) => ({ ...r, title: printable(r.title) })),
  };
}

/**
 * With a channel in scope: findings about other topics or channels go; findings about a broker stay when it
 * holds a replica of the channel's topic or is the controller (or when that cannot be told); the rest
 * (sources, ZooKeeper, the controller, cluster-wide configs) stay.
 */
export function scopeFilter(snapshot: ClusterSnapshot, index?: SnapshotIndex): (f: Finding) => boolean {
  const channel = snapshot.scope.channel;
  if (channel === undefined) return () => true;
  const ix = index !== undefined && index.snapshot === snapshot ? index : indexSnapshot(snapshot);
  const topicKnown = ix.topics.has(channel);
  return (f) => {
    const s = f.subject;
    if (s.topic !== undefined && s.topic !== channel) return false;
    if (s.channel !== undefined && s.channel !== channel) return false;
    if (s.broker !== undefined && s.topic === undefined && topicKnown) {
      return ix.scopeReplicaBrokers.has(s.broker) || ix.controllerId === s.broker;
    }
    return true;
  };
}

function checkFailed(name: string, err: unknown): Finding {
  return {
    code: 'SOURCE_UNAVAILABLE',
    severity: 'warning',
    subject: { source: `check:${name}` },
    summary: `The ${name} check failed (${describeError(err)}): its findings are missing from this report`,
    explanation:
      'This is a bug in fabric-opsbot, or data it did not expect. The other checks ran. Please report it with ' +
      'the snapshot (diagnose --json) attached.',
    evidence: { check: name, error: describeError(err) },
    repairs: [],
  };
}
