/**
 * Repair plans: a dry run that says exactly what would be done (`repair plan <kind> --json`, contract shape).
 * Plans are built by pure functions of a snapshot; the executor (approvals issue) re-checks every precondition
 * against a fresh snapshot right before running, runs the steps one by one with audit records, then verifies.
 */

export interface Precondition {
  /** Short name of what is checked, e.g. "orderers agree". */
  check: string;
  ok: boolean;
  /** What was seen, e.g. "3 orderers expect offset 21". */
  detail: string;
}

export type RepairStep =
  | {
      action: 'produce';
      topic: string;
      partition: number;
      count: number;
      /** Hex of the message value: always "1a00" (a Fabric CONNECT message) for pad-channel. */
      value: string;
      key: string;
      optional?: boolean;
    }
  | { action: 'restart-container'; container: string; optional?: boolean }
  | { action: 'start-container'; container: string; optional?: boolean }
  | { action: 'stop-container'; container: string; optional?: boolean }
  | {
      action: 'reassign-partitions';
      partitions: { topic: string; partition: number; replicas: number[] }[];
      throttleBytes?: number;
      optional?: boolean;
    }
  | {
      action: 'preferred-leader-election';
      partitions: { topic: string; partition: number }[];
      optional?: boolean;
    }
  | { action: 'set-topic-config'; topic: string; configs: Record<string, string>; optional?: boolean }
  | { action: 'wait'; for: string; timeoutMs: number; optional?: boolean };

export interface RepairPlan {
  kind: string;
  cluster: string;
  args: Record<string, string | number>;
  preconditions: Precondition[];
  steps: RepairStep[];
  /** The end state the verification checks, e.g. { highWatermark: 21 }. */
  expected: Record<string, unknown>;
  /** How to undo, in words (some repairs, like padding, cannot be undone). */
  rollback?: string;
  /** Why the plan must not run; null when it may. */
  refusal: string | null;
}
