/**
 * `<workDir>/lab.json`: what the lab was started with and which pids belong to it; `<workDir>/lab.lock`: one
 * lab operation at a time per work folder (across processes: the CLI, a test file, the test setup).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { ResolvedLabOptions } from './options.js';
import { pidAlive } from './proc.js';
import { sleep } from './wait.js';

export interface ZkNodeState {
  id: number;
  port: number;
  pid: number | null;
}

export interface BrokerState {
  id: number;
  port: number;
  pid: number | null;
  /** The advertised listener forced by the unreachable-listener fault; null = the normal one. */
  advertisedOverride: string | null;
}

export interface LabState {
  format: 1;
  options: ResolvedLabOptions;
  jarsDir: string;
  zookeeper: ZkNodeState[];
  brokers: BrokerState[];
  redis: { port: number; pid: number | null } | null;
  updatedAt: string;
}

export function statePath(workDir: string): string {
  return join(workDir, 'lab.json');
}

export function readState(workDir: string): LabState | null {
  const p = statePath(workDir);
  if (!existsSync(p)) return null;
  const s = JSON.parse(readFileSync(p, 'utf8')) as LabState;
  if (s.format !== 1) throw new Error(`${p}: unknown format ${String(s.format)}`);
  return s;
}

export function writeState(state: LabState): void {
  mkdirSync(state.options.workDir, { recursive: true });
  state.updatedAt = new Date().toISOString();
  const p = statePath(state.options.workDir);
  const tmp = `${p}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, p);
}

/** Work folders whose lock the current async call chain holds (nested lab calls must not wait for themselves). */
const held = new AsyncLocalStorage<ReadonlySet<string>>();

/**
 * Takes the lock file `lock` (created exclusively, holding this process's pid) and returns its release.
 * A lock left by a dead process is taken over. Waits up to `timeoutMs` for a live holder; `onWait` is called
 * once when it has to wait.
 */
export async function acquireFileLock(
  lock: string,
  timeoutMs: number,
  onWait?: (ownerPid: number) => void,
): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = NaN;
      let ageMs = 0;
      try {
        owner = Number.parseInt(readFileSync(lock, 'utf8'), 10);
        ageMs = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue; // removed meanwhile: try again
      }
      // A dead owner, or an owner that died between creating the file and writing its pid.
      if ((Number.isInteger(owner) && !pidAlive(owner)) || (!Number.isInteger(owner) && ageMs > 5000)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`${lock} is held by process ${owner} for more than ${timeoutMs} ms`);
      }
      if (!told) {
        told = true;
        onWait?.(owner);
      }
      await sleep(200);
    }
  }
}

/**
 * Runs `fn` holding `<workDir>/lab.lock`: one lab operation at a time per work folder. Waits up to
 * `timeoutMs` for a live holder. Re-entrant within one async call chain.
 */
export async function withLabLock<T>(workDir: string, fn: () => Promise<T>, timeoutMs = 300_000): Promise<T> {
  const mine = held.getStore();
  if (mine?.has(workDir)) return fn();
  mkdirSync(workDir, { recursive: true });
  const release = await acquireFileLock(join(workDir, 'lab.lock'), timeoutMs);
  try {
    return await held.run(new Set([...(mine ?? []), workDir]), fn);
  } finally {
    release();
  }
}
