/**
 * Brings the shared test lab up once per `vitest run` (work folder `.lab/test`, fresh data each run, Kafka from
 * FABRIC_OPSBOT_TEST_KAFKA_VERSION or the lab's default) and down at the end. Test files get the lab with
 * `inject('lab')` (typed below) or, outside vitest's injection, from env FABRIC_OPSBOT_TEST_LAB_DIR.
 *
 * Test files run one at a time and share this lab: a test that injects a fault must put the lab back
 * (healLab in afterEach/finally).
 *
 * FABRIC_OPSBOT_TEST_NO_LAB=1 skips the lab (for unit-only runs with this config).
 * FABRIC_OPSBOT_TEST_KEEP_LAB=1 leaves it running after the run (faster reruns while developing).
 * FABRIC_OPSBOT_TEST_LAB_WORKDIR and FABRIC_OPSBOT_TEST_PORT_OFFSET give a run its own lab (another folder, all
 * ports shifted), so that two runs on one machine need not wait for each other.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  acquireFileLock,
  DEFAULT_BASE_PORTS,
  labDown,
  labStatus,
  labUp,
  repoRoot,
  type LabBasePorts,
  type LabStatus,
} from '../src/lab/index.js';

/** What global setup provides to test files (`inject('lab')`). */
export interface ProvidedLab {
  /** The lab's work folder (absolute). */
  workDir: string;
  /** Its inventory file: a normal fabric-opsbot config (`--config`). */
  inventory: string;
  kafkaVersion: string;
  /** Options the lab was brought up with (pass `{ workDir }` to the lab functions). */
  options: {
    workDir: string;
    kafkaVersion: string;
    zookeeperNodes: number;
    brokers: number;
    /** Ports of node/broker 1 (the defaults unless FABRIC_OPSBOT_TEST_PORT_OFFSET is set). */
    basePorts: LabBasePorts;
  };
  /** labStatus() right after labUp. */
  status: LabStatus;
  /** How long labUp took, ms. */
  upMs: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** null when FABRIC_OPSBOT_TEST_NO_LAB=1. */
    lab: ProvidedLab | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env['FABRIC_OPSBOT_TEST_NO_LAB'] === '1') {
    project.provide('lab', null);
    return async () => undefined;
  }
  const workDir = process.env['FABRIC_OPSBOT_TEST_LAB_WORKDIR'] || join(repoRoot(), '.lab', 'test');
  const portOffset = Number(process.env['FABRIC_OPSBOT_TEST_PORT_OFFSET'] || 0);
  const basePorts = Object.fromEntries(
    Object.entries(DEFAULT_BASE_PORTS).map(([k, v]) => [k, v + portOffset]),
  ) as unknown as LabBasePorts;
  const options = {
    workDir,
    basePorts,
    kafkaVersion: process.env['FABRIC_OPSBOT_TEST_KAFKA_VERSION'] || '3.9.2',
    zookeeperNodes: 3,
    brokers: 4,
  };
  // One test run at a time per machine uses this lab (they inject faults into it): a second `vitest run`
  // waits here until the first one's teardown. The lock sits beside the work folder (a purge removes that).
  mkdirSync(dirname(workDir), { recursive: true });
  const releaseRun = await acquireFileLock(`${workDir}.run.lock`, 30 * 60_000, (pid) =>
    console.log(`[lab] waiting for the test run of process ${pid} to finish with ${workDir}`),
  );
  const t0 = Date.now();
  // A fresh lab per run, unless one of the same version still runs (FABRIC_OPSBOT_TEST_KEEP_LAB=1 last time).
  const previous = labStatus({ workDir });
  if (!(previous.running && previous.kafkaVersion === options.kafkaVersion)) {
    await labDown({ workDir, purge: true });
  }
  let status: LabStatus;
  try {
    status = await labUp({ ...options, log: (l) => console.log(`[lab] ${l}`) });
  } catch (err) {
    // Leave nothing behind, then fail the run.
    await labDown({ workDir }).catch(() => undefined);
    releaseRun();
    throw err;
  }
  const upMs = Date.now() - t0;
  process.env['FABRIC_OPSBOT_TEST_LAB_DIR'] = workDir;
  project.provide('lab', {
    workDir,
    inventory: status.inventory,
    kafkaVersion: options.kafkaVersion,
    options,
    status,
    upMs,
  });
  return async () => {
    try {
      if (process.env['FABRIC_OPSBOT_TEST_KEEP_LAB'] !== '1') {
        await labDown({ workDir, log: (l) => console.log(`[lab] ${l}`) });
      }
    } finally {
      releaseRun();
    }
  };
}
