/**
 * Findings: what the checks conclude from a snapshot. Codes and severities are part of the public contract
 * (shared/contracts/interface.md); everything else here may grow.
 */

export type Severity = 'critical' | 'warning' | 'info';

export const FINDING_CODES = [
  'SOURCE_UNAVAILABLE',
  'ZK_QUORUM',
  'CONTROLLER_MISSING',
  'BROKER_NOT_REGISTERED',
  'BROKER_UNREACHABLE',
  'METADATA_DIVERGENCE',
  'PARTITION_OFFLINE',
  'UNDER_MIN_ISR',
  'AT_MIN_ISR',
  'UNDER_REPLICATED',
  'SINGLE_REPLICA',
  'ORDERER_OFFSET_AHEAD',
  'ORDERER_OFFSET_BEHIND_RETENTION',
  'ORDERERS_DISAGREE',
  'ORDERER_LOG_ERROR',
  'CONTAINER_DOWN',
  'CONFIG_UNCLEAN_ELECTION',
  'CONFIG_MIN_ISR',
  'CONFIG_REPLICATION',
  'CONFIG_RETENTION',
  'CONFIG_MESSAGE_SIZE',
  'CONFIG_FLUSH',
] as const;

export type FindingCode = (typeof FINDING_CODES)[number];

/** What a finding is about. Any combination of these keys. */
export interface Subject {
  topic?: string;
  partition?: number;
  broker?: number;
  orderer?: string;
  channel?: string;
  container?: string;
  zookeeper?: string;
  source?: string;
}

/** A repair the operator could request for this finding (`repair plan <kind> [args]`). */
export interface RepairSuggestion {
  kind: string;
  args: Record<string, string | number>;
  /** One line, imperative, e.g. "Pad pubchain with 7 CONNECT messages to offset 21". */
  title: string;
}

export interface Finding {
  code: FindingCode;
  severity: Severity;
  subject: Subject;
  /** One line: what is wrong, in the operator's words. */
  summary: string;
  /** Why it matters and what to do about it (a short paragraph). */
  explanation?: string;
  evidence: Record<string, unknown>;
  repairs: RepairSuggestion[];
}

export const SEVERITY_RANK: Record<Severity, number> = { critical: 2, warning: 1, info: 0 };

/** Sort worst first, then by code and subject, so that output is stable. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
    a.code.localeCompare(b.code) ||
    subjectKey(a.subject).localeCompare(subjectKey(b.subject))
  );
}

/** A stable key for a subject: used to dedupe incidents and to compare reports. */
export function subjectKey(s: Subject): string {
  return Object.entries(s)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
}

/** Nagios exit code of a set of findings: 0 none above info, 1 warning, 2 critical. */
export function exitCodeFor(findings: readonly Finding[]): 0 | 1 | 2 {
  let worst = 0;
  for (const f of findings) worst = Math.max(worst, SEVERITY_RANK[f.severity]);
  return worst as 0 | 1 | 2;
}
