/**
 * Bounded polling: every wait in the lab has a deadline and says what it waited for when it gives up.
 */

export class LabTimeoutError extends Error {
  override readonly name = 'LabTimeoutError';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastError?: unknown,
  ) {
    super(
      `timed out after ${timeoutMs} ms waiting for ${what}` +
        (lastError instanceof Error ? ` (last error: ${lastError.message})` : ''),
    );
  }
}

export interface WaitOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Pause between tries (default 100 ms). */
  intervalMs?: number;
  /** Named in the timeout error: "broker 3 to register in ZooKeeper". */
  what?: string;
  /** Errors for which this returns true end the wait at once (e.g. "the process exited"). */
  isFatal?: (err: unknown) => boolean;
}

/**
 * Calls `probe` until it returns a value that is not `undefined`, `null` or `false`, and returns that value.
 * A probe that throws counts as "not yet"; the last error is reported on timeout.
 */
export async function waitFor<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      if (opts.isFatal?.(err)) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) throw new LabTimeoutError(opts.what ?? 'a condition', timeoutMs, lastError);
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
