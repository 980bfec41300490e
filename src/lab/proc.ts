/**
 * Processes of the lab: start detached (own process group, output to a file, not tied to the caller's
 * lifetime), recognise them again by pid + a marker in their command line (pids get reused), stop them for sure.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { sleep, waitFor } from './wait.js';

/** True when `pid` names a live process (zombies count as dead: they are gone, only not yet reaped). */
export function pidAlive(pid: number | null | undefined): boolean {
  if (pid === null || pid === undefined || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ..." - comm may contain spaces and parentheses: the state follows the last ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X' && state !== 'x';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    // No /proc (not Linux): fall back to signal 0.
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
}

/** The command line of a process, arguments joined by spaces; '' when it is gone or unreadable. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/**
 * True when `pid` is alive and is the process we started: its command line contains `marker` (a path that is
 * unique to this lab process, e.g. its config file).
 */
export function isOurProcess(pid: number | null | undefined, marker: string): pid is number {
  if (!pidAlive(pid)) return false;
  const cl = cmdline(pid as number);
  return cl === '' ? true : cl.includes(marker);
}

export interface SpawnDetachedOptions {
  cwd?: string;
  /** stdout and stderr are appended to this file. */
  outFile: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts `command` in its own process group with no stdin and its output appended to `outFile`, without
 * keeping the caller alive. Resolves with the pid once the process exists; rejects if it could not be started
 * (e.g. ENOENT for a missing `java`).
 */
export async function spawnDetached(
  command: string,
  args: string[],
  opts: SpawnDetachedOptions,
): Promise<number> {
  const fd = openSync(opts.outFile, 'a');
  try {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot start ${command}: ${err.message}`)));
      child.once('spawn', () => {
        if (child.pid === undefined) reject(new Error(`cannot start ${command}: no pid`));
        else resolve(child.pid);
      });
    });
    child.unref();
    return pid;
  } finally {
    closeSync(fd);
  }
}

/** Sends `signal` to `pid`; a process that is already gone is fine. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export interface StopOptions {
  /** How long SIGTERM gets before SIGKILL (default 15 s). 0 = SIGKILL at once. */
  graceMs?: number;
  /** Named in errors. */
  what?: string;
}

/**
 * Stops a process for sure: SIGTERM, wait up to `graceMs`, then SIGKILL, and waits until the pid is gone.
 * Throws if the process is still there 10 s after SIGKILL.
 */
export async function stopProcess(pid: number, opts: StopOptions = {}): Promise<void> {
  const graceMs = opts.graceMs ?? 15_000;
  const what = opts.what ?? `process ${pid}`;
  if (!pidAlive(pid)) return;
  if (graceMs > 0) {
    signal(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (pidAlive(pid) && Date.now() < deadline) await sleep(50);
    if (!pidAlive(pid)) return;
  }
  signal(pid, 'SIGKILL');
  await waitFor(() => !pidAlive(pid), {
    timeoutMs: 10_000,
    intervalMs: 20,
    what: `${what} to exit after SIGKILL`,
  });
}
