/**
 * Changing containers: restart, start, stop with a graceful timeout, each returning what happened (state
 * before and after), and verification helpers for the repair executor: poll a predicate until it holds
 * (`waitUntil`), or until a container's log shows a line (`waitForLogLine`, e.g. the orderer's "Start phase
 * completed successfully" or a broker's "started (kafka.server.KafkaServer)").
 *
 * Actions never throw for an outcome (a failure is `ok: false` with the reason); waits never throw either.
 */
import { describeError, SourceError } from '../errors/index.js';
import { dockerStatus, toMs, type DockerClient, type LogLine } from './client.js';

export type ContainerActionName = 'restart' | 'start' | 'stop';

export interface ContainerState {
  state?: string;
  running?: boolean;
  startedAt?: string;
  finishedAt?: string;
  restartCount?: number;
  pid?: number;
  exitCode?: number;
}

export interface ActionResult {
  action: ContainerActionName;
  /** The container as asked for (name or id). */
  container: string;
  /** The docker endpoint's name. */
  endpoint: string;
  ok: boolean;
  /** False when the container already was in the wanted state (start of a running one, stop of a stopped one). */
  changed: boolean;
  before?: ContainerState;
  after?: ContainerState;
  ms: number;
  /** One line for the audit log and the operator. */
  detail: string;
  error?: string;
}

export interface ActionOptions {
  /** Seconds the engine waits after SIGTERM before SIGKILL (stop, restart). Default 30. */
  graceSeconds?: number;
}

async function stateOf(client: DockerClient, container: string): Promise<ContainerState> {
  const i = await client.inspect(container);
  const s = i.State;
  const started = s.StartedAt && !s.StartedAt.startsWith('0001-') ? s.StartedAt : undefined;
  const finished = s.FinishedAt && !s.FinishedAt.startsWith('0001-') ? s.FinishedAt : undefined;
  return {
    state: s.Status,
    running: s.Running,
    ...(started ? { startedAt: started } : {}),
    ...(finished ? { finishedAt: finished } : {}),
    restartCount: i.RestartCount,
    ...(s.Pid ? { pid: s.Pid } : {}),
    exitCode: s.ExitCode,
  };
}

function describeState(s: ContainerState | undefined): string {
  if (!s) return 'unknown';
  return `${s.state ?? (s.running ? 'running' : 'stopped')}${s.pid ? ` pid ${s.pid}` : ''}`;
}

async function act(
  client: DockerClient,
  action: ContainerActionName,
  container: string,
  opts: ActionOptions,
): Promise<ActionResult> {
  const t0 = performance.now();
  const grace = opts.graceSeconds ?? 30;
  const base = { action, container, endpoint: client.name };
  const ms = () => Math.round(performance.now() - t0);
  let before: ContainerState | undefined;
  try {
    before = await stateOf(client, container);
  } catch (err) {
    const error = describeError(err);
    return {
      ...base,
      ok: false,
      changed: false,
      ms: ms(),
      detail: `cannot ${action} ${container}: ${error}`,
      error,
    };
  }
  // The engine's own deadline is the grace period; ours adds the endpoint timeout on top.
  const deadline = (action === 'start' ? 0 : grace * 1000) + client.timeoutMs + 5000;
  let changed = true;
  try {
    await client.call(
      `${action} ${container}`,
      async (abortSignal) => {
        const c = client.docker.getContainer(container);
        if (action === 'start') await c.start({ abortSignal });
        else if (action === 'stop') await c.stop({ t: grace, abortSignal });
        else await c.restart({ t: grace, abortSignal });
      },
      deadline,
    );
  } catch (err) {
    // 304: already started / already stopped.
    const code = dockerStatus(err) ?? dockerStatus((err as { cause?: unknown }).cause);
    if (code === 304) {
      changed = false;
    } else {
      const error = describeError(err);
      let after: ContainerState | undefined;
      try {
        after = await stateOf(client, container);
      } catch {
        // reported through `error`
      }
      // No answer is not "no": the engine may have taken the call and be carrying it out. Say what is known.
      const unanswered = err instanceof SourceError && dockerStatus(err) === undefined;
      const now = after
        ? `it is ${describeState(after)} now${
            after.startedAt
              ? `, started ${after.startedAt}${after.startedAt === before.startedAt ? ' as before' : ''}`
              : ''
          }`
        : 'its state could not be read afterwards either';
      const note = unanswered ? `; the engine may still ${action} it: ${now}` : '';
      return {
        ...base,
        ok: false,
        changed: false,
        before,
        ...(after ? { after } : {}),
        ms: ms(),
        detail: `${action} ${container} failed: ${error}${note}`,
        error: `${error}${note}`,
      };
    }
  }
  let after: ContainerState | undefined;
  try {
    after = await stateOf(client, container);
  } catch (err) {
    const error = `${action} was sent but the container could not be inspected afterwards: ${describeError(err)}`;
    return { ...base, ok: false, changed, before, ms: ms(), detail: `${container}: ${error}`, error };
  }
  const wantRunning = action !== 'stop';
  const restarted =
    action !== 'restart' || (after.startedAt !== undefined && after.startedAt !== before.startedAt);
  const ok = after.running === wantRunning && restarted;
  const verb = { restart: 'restarted', start: 'started', stop: 'stopped' }[action];
  const detail = ok
    ? changed
      ? `${verb} ${container}: ${describeState(before)} -> ${describeState(after)}${after.startedAt && wantRunning ? `, started ${after.startedAt}` : ''}`
      : `${container} was already ${wantRunning ? 'running' : 'stopped'}`
    : `${action} ${container}: it is ${describeState(after)} afterwards${after.exitCode ? ` (exit code ${after.exitCode})` : ''}`;
  return {
    ...base,
    ok,
    changed,
    before,
    after,
    ms: ms(),
    detail,
    ...(ok ? {} : { error: detail }),
  };
}

/** Restart a container: SIGTERM, up to `graceSeconds` to stop, then SIGKILL, then start. */
export function restartContainer(
  client: DockerClient,
  container: string,
  opts: ActionOptions = {},
): Promise<ActionResult> {
  return act(client, 'restart', container, opts);
}

export function startContainer(client: DockerClient, container: string): Promise<ActionResult> {
  return act(client, 'start', container, {});
}

/** Stop a container: SIGTERM, up to `graceSeconds`, then SIGKILL. A stopped container stays stopped. */
export function stopContainer(
  client: DockerClient,
  container: string,
  opts: ActionOptions = {},
): Promise<ActionResult> {
  return act(client, 'stop', container, opts);
}

// ---------------------------------------------------------------- verification

export interface WaitOptions {
  timeoutMs: number;
  /** Pause between attempts (default 250 ms). */
  intervalMs?: number;
  /** What is awaited, for messages: "broker 2 back in the ISR of pubchain/0". */
  what: string;
  signal?: AbortSignal;
}

export interface WaitResult<T> {
  ok: boolean;
  what: string;
  ms: number;
  attempts: number;
  /** The predicate's value when it held. */
  value?: T;
  /** The last error the predicate threw, when it did not hold. */
  lastError?: string;
  /** One line: "broker 2 back in ISR after 3.2 s" or "... not seen within 30 s (last error: ...)". */
  detail: string;
}

/**
 * Call `check` until it returns a value other than false/null/undefined (or throws no more), or the time is
 * up. Errors thrown by `check` count as "not yet" and the last one is reported. Never throws.
 */
export async function waitUntil<T>(
  check: () => Promise<T | false | null | undefined>,
  opts: WaitOptions,
): Promise<WaitResult<T>> {
  const t0 = performance.now();
  const interval = opts.intervalMs ?? 250;
  let attempts = 0;
  let lastError: string | undefined;
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  for (;;) {
    attempts++;
    try {
      const v = await check();
      if (v !== false && v !== null && v !== undefined) {
        const ms = Math.round(performance.now() - t0);
        return {
          ok: true,
          what: opts.what,
          ms,
          attempts,
          value: v,
          detail: `${opts.what} after ${secs(ms)}`,
        };
      }
    } catch (err) {
      lastError = describeError(err);
    }
    const spent = performance.now() - t0;
    if (spent >= opts.timeoutMs || opts.signal?.aborted) {
      const ms = Math.round(spent);
      return {
        ok: false,
        what: opts.what,
        ms,
        attempts,
        ...(lastError !== undefined ? { lastError } : {}),
        detail:
          `${opts.what}: not seen within ${secs(opts.timeoutMs)}` +
          (opts.signal?.aborted ? ' (cancelled)' : '') +
          (lastError !== undefined ? ` (last error: ${lastError})` : ''),
      };
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(0, opts.timeoutMs - spent))));
  }
}

/**
 * Wait until a line matching `regex` appears in a container's log at or after `since`. Podman stamps whole
 * seconds, so a line from the same second as `since` counts: take `since` before the action that should
 * produce the line, and make sure an older matching line is not from that same second.
 */
export async function waitForLogLine(
  client: DockerClient,
  container: string,
  regex: RegExp,
  since: Date | string | number,
  timeoutMs: number,
): Promise<WaitResult<LogLine>> {
  const sinceMs = toMs(since);
  let tty: boolean | undefined;
  return waitUntil(
    async () => {
      tty ??= (await client.inspect(container)).Config.Tty;
      const lines = await client.logs(container, { since: sinceMs, tail: 5000 }, tty);
      return lines.find((l) => regex.test(l.text)) ?? null;
    },
    { timeoutMs, intervalMs: 300, what: `${container} logged /${regex.source}/` },
  );
}

/** Wait until a container runs (or, with `running: false`, has stopped). */
export function waitForRunning(
  client: DockerClient,
  container: string,
  timeoutMs: number,
  running = true,
): Promise<WaitResult<ContainerState>> {
  return waitUntil(
    async () => {
      const s = await stateOf(client, container);
      return s.running === running ? s : null;
    },
    { timeoutMs, what: `${container} ${running ? 'running' : 'stopped'}` },
  );
}
