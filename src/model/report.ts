/**
 * The report: the public JSON shape of `diagnose --json` / `status --json` (shared/contracts/interface.md).
 * Built from a snapshot and its findings; renderers (text, Block Kit) take this, never the raw snapshot.
 */
import type { Finding } from './finding.js';
import type { SourceName } from './snapshot.js';

export interface ReportSource {
  ok: boolean;
  ms?: number;
  error?: string;
  notChecked?: string[];
}

export interface ReportBroker {
  id: number;
  host: string | null;
  port: number | null;
  registered: boolean;
  reachable: boolean | null;
  rack?: string;
}

export interface ReportPartition {
  topic: string;
  partition: number;
  leader: number | null;
  replicas: number[];
  isr: number[];
  minIsr: number | null;
  highWatermark: number | null;
  logStartOffset: number | null;
}

export interface ReportOrderer {
  name: string;
  channel: string;
  lastOffsetPersisted: number | null;
  expectedStartOffset: number | null;
  blockHeight?: number;
  source: string | null;
}

export interface Report {
  cluster: string;
  generatedAt: string;
  scope: { channel?: string };
  sources: Partial<Record<SourceName, ReportSource>>;
  controller: number | null;
  brokers: ReportBroker[];
  partitions: ReportPartition[];
  orderers: ReportOrderer[];
  findings: Finding[];
}
