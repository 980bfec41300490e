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
 */
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { DEFAULT_BASE_PORTS, labDown, labStatus, labUp, repoRoot, type LabStatus } from '../src/lab/index.js';

/** What global setup provides to test files (`inject('lab')`). */
export interface ProvidedLab {
  /** The lab's work folder (absolute). */
  workDir: string;
  /** Its inventory file: a normal fabric-opsbot config (`--config`). */
  inventory: string;
  kafkaVersion: string;
  /** Options the lab was brought up with (pass `{ workDir }` to the lab functions). */
  options: { workDir: string; kafkaVersion: string; zookeeperNodes: number; brokers: number };
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
  const options = {
    workDir,
    ...(portOffset
      ? {
          basePorts: Object.fromEntries(
            Object.entries(DEFAULT_BASE_PORTS).map(([k, v]) => [k, v + portOffset]),
          ) as unknown as typeof DEFAULT_BASE_PORTS,
        }
      : {}),
    kafkaVersion: process.env['FABRIC_OPSBOT_TEST_KAFKA_VERSION'] || '3.9.2',
    zookeeperNodes: 3,
    brokers: 4,
  };
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
    if (process.env['FABRIC_OPSBOT_TEST_KEEP_LAB'] === '1') return;
    await labDown({ workDir, log: (l) => console.log(`[lab] ${l}`) });
  };
}
