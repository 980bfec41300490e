/**
 * Posting to Slack from the workers: chat.postMessage / chat.update with the bot token, and response_url for
 * ephemeral answers. Every call has a deadline (`timeoutMs`) and its own bounded retries:
 *
 * - HTTP 429: wait what Retry-After says (never less), then try again; a call waits at most
 *   `maxRateLimitWaitMs` for rate limits in all, and tells the other workers to hold their posts to that channel
 *   for as long (the pacing key);
 * - HTTP 5xx, Slack's own internal_error / fatal_error / service_unavailable, a network error or no answer in
 *   time: `retries` more attempts with a doubling backoff;
 * - anything else Slack refuses (channel_not_found, invalid_blocks, HTTP 404...): no retry.
 *
 * Errors are OpsErrors naming the method and the channel: SlackRefusedError (Slack said no: not retryable) and
 * SlackUnavailableError (Slack could not be reached or kept failing after the retries: not retried again by the
 * job either, since the poster already did; the job says the report could not be posted).
 *
 * Slack allows about one message per second per channel; with a Redis, posts to one channel are spaced by all
 * workers together (a short-lived key per channel), waiting at most a few seconds.
 */
import { LogLevel, webApi } from '@slack/bolt';
import type { Redis } from 'ioredis';
import { OpsError } from '../errors/index.js';
import type { Logger } from '../log.js';
import type { KnownBlock } from './blocks.js';

export class SlackRefusedError extends OpsError {
  readonly retryable = false;
  constructor(
    readonly method: string,
    readonly slackError: string,
    /** "channel C0123", "channel C0123, message 1700000000.000100", "response_url". */
    readonly where?: string,
  ) {
    super(`Slack refused ${method}${where ? ` to ${where}` : ''}: ${slackError}`);
  }
}

/**
 * Slack did not take a call: it kept answering 5xx, rate-limited it for longer than a call may wait, or did not
 * answer at all, after the poster's own retries. Not retryable: whatever asked has waited long enough.
 */
export class SlackUnavailableError extends OpsError {
  readonly retryable = false;
  readonly source = 'slack';
  constructor(
    readonly method: string,
    readonly where: string,
    readonly why: string,
    options?: { cause?: unknown },
  ) {
    super(`Slack ${method} to ${where} failed: ${why}`, options);
  }
}

export interface PostArgs {
  channel: string;
  text: string;
  blocks?: KnownBlock[];
  thread_ts?: string;
}

export interface ResponseUrlMessage {
  text: string;
  blocks?: KnownBlock[];
  response_type?: 'ephemeral' | 'in_channel';
  replace_original?: boolean;
}

export interface SlackPoster {
  post(args: PostArgs): Promise<{ channel: string; ts: string }>;
  update(args: { channel: string; ts: string; text: string; blocks?: KnownBlock[] }): Promise<void>;
  /** POST to a response_url (slash commands and buttons; valid 30 minutes). */
  respond(responseUrl: string, msg: ResponseUrlMessage): Promise<void>;
}

export interface SlackPosterOptions {
  token: string;
  /** Base URL of the Web API (inventory slack.apiUrl; tests point it at a local recorder). */
  apiUrl?: string;
  /** More attempts of a call that failed with a 5xx, a network error or a timeout. Default 2 (3 attempts). */
  retries?: number;
  /** Wait before the first retry, doubled for each next one (default 1000 ms; at most 10 s). */
  backoffMs?: number;
  /** The longest one call waits for Slack's rate limits, all 429s together (default 60 s). */
  maxRateLimitWaitMs?: number;
  /** Deadline of one HTTP request, ms. Default 10 s. */
  timeoutMs?: number;
  /** Space posts to one channel ~1 s apart across all workers. */
  pacing?: { redis: Redis; prefix: string; gapMs?: number; maxWaitMs?: number };
  logger?: Logger;
}

/** Slack's own errors (HTTP 200, ok: false) that mean "try again later". */
const TRANSIENT_SLACK_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable']);

type Failure =
  | { kind: 'refused'; error: string }
  | { kind: 'rate-limited'; retryAfterMs: number }
  | { kind: 'transient'; why: string };

/** What a WebClient error (or a response_url answer) means for a retry. */
function classify(err: unknown, timeoutMs: number): Failure {
  const e = err as {
    code?: string;
    data?: { error?: string };
    statusCode?: number;
    retryAfter?: number;
    original?: { name?: string; message?: string; code?: string };
    message?: string;
  };
  switch (e?.code) {
    case webApi.ErrorCode.PlatformError: {
      const error = e.data?.error ?? 'error';
      return TRANSIENT_SLACK_ERRORS.has(error)
        ? { kind: 'transient', why: error }
        : { kind: 'refused', error };
    }
    case webApi.ErrorCode.RateLimitedError:
      return { kind: 'rate-limited', retryAfterMs: Math.max(0, (e.retryAfter ?? 1) * 1000) };
    case webApi.ErrorCode.HTTPError: {
      const status = e.statusCode ?? 0;
      return status >= 500 || status === 408
        ? { kind: 'transient', why: `HTTP ${status}` }
        : { kind: 'refused', error: `HTTP ${status}` };
    }
    case webApi.ErrorCode.RequestError:
      return { kind: 'transient', why: requestFailure(e.original, timeoutMs) };
    default:
      return { kind: 'transient', why: requestFailure(e as { message?: string }, timeoutMs) };
  }
}

function requestFailure(
  o: { name?: string; message?: string; code?: string; cause?: unknown } | undefined,
  timeoutMs: number,
): string {
  if (o?.name === 'TimeoutError' || o?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = (o?.cause as { code?: string; message?: string } | undefined) ?? undefined;
  const code = o?.code ?? cause?.code;
  const message = cause?.message ?? o?.message ?? 'request failed';
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/** An HTTP status from a response_url POST, as an error classify() understands. */
class ResponseUrlStatus extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${status}`);
  }
}

function classifyResponseUrl(err: unknown, timeoutMs: number): Failure {
  if (err instanceof ResponseUrlStatus) {
    if (err.status === 429) return { kind: 'rate-limited', retryAfterMs: err.retryAfterMs ?? 1000 };
    // 404 = expired (30 minutes) or used up (5 uses): retrying cannot help.
    return err.status >= 500 || err.status === 408
      ? { kind: 'transient', why: `HTTP ${err.status}` }
      : { kind: 'refused', error: `HTTP ${err.status}` };
  }
  return { kind: 'transient', why: requestFailure(err as { message?: string }, timeoutMs) };
}

/** Map a WebClient error to an OpsError (no retries: what one failed call means). */
export function slackError(method: string, err: unknown, where = 'Slack', timeoutMs = 10_000): OpsError {
  const f = classify(err, timeoutMs);
  if (f.kind === 'refused') return new SlackRefusedError(method, f.error, where);
  if (f.kind === 'rate-limited') {
    return new SlackUnavailableError(method, where, `rate-limited (retry after ${f.retryAfterMs / 1000} s)`, {
      cause: err,
    });
  }
  return new SlackUnavailableError(method, where, f.why, { cause: err });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function paceKey(p: NonNullable<SlackPosterOptions['pacing']>, channel: string): string {
  return `${p.prefix}:slack:pace:${channel}`;
}

async function pace(p: NonNullable<SlackPosterOptions['pacing']>, channel: string): Promise<void> {
  const gap = p.gapMs ?? 1000;
  const deadline = Date.now() + (p.maxWaitMs ?? 5000);
  const key = paceKey(p, channel);
  for (;;) {
    let ok: string | null;
    try {
      ok = await p.redis.set(key, '1', 'PX', gap, 'NX');
    } catch {
      return; // pacing is a courtesy: never fail a post because of it
    }
    if (ok === 'OK' || Date.now() >= deadline) return;
    const ttl = await p.redis.pttl(key).catch(() => gap);
    await sleep(Math.max(20, Math.min(ttl, deadline - Date.now())));
  }
}

/** Slack said "not before Retry-After" for this channel: every worker holds its posts there as long. */
async function holdChannel(
  p: NonNullable<SlackPosterOptions['pacing']>,
  channel: string,
  ms: number,
): Promise<void> {
  if (ms <= 0) return;
  await p.redis.set(paceKey(p, channel), '1', 'PX', Math.ceil(ms)).catch(() => undefined);
}

export function createSlackPoster(opts: SlackPosterOptions): SlackPoster {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retries = Math.max(0, opts.retries ?? 2);
  const backoffMs = opts.backoffMs ?? 1000;
  const maxRateLimitWaitMs = opts.maxRateLimitWaitMs ?? 60_000;
  // The WebClient makes one attempt per call: the retries, the Retry-After waits and the errors are ours.
  const client = new webApi.WebClient(opts.token, {
    ...(opts.apiUrl !== undefined ? { slackApiUrl: opts.apiUrl } : {}),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: timeoutMs,
    logLevel: LogLevel.ERROR,
  });

  /**
   * One call with the retry rules of the module comment. `channel`: for pacing (posts) and for holding the
   * channel after a 429.
   */
  async function withRetries<T>(
    method: string,
    where: string,
    channel: string | undefined,
    attempt: () => Promise<T>,
    classifyFailure: (err: unknown) => Failure,
    paced: boolean,
  ): Promise<T> {
    let failures = 0;
    let rateLimitedMs = 0;
    for (;;) {
      if (paced && opts.pacing && channel !== undefined) await pace(opts.pacing, channel);
      let f: Failure;
      try {
        return await attempt();
      } catch (err) {
        f = classifyFailure(err);
        if (f.kind === 'refused') throw new SlackRefusedError(method, f.error, where);
        if (f.kind === 'rate-limited') {
          const waitMs = Math.max(f.retryAfterMs, 1000);
          if (rateLimitedMs + waitMs > maxRateLimitWaitMs) {
            throw new SlackUnavailableError(
              method,
              where,
              `rate-limited: Slack asks to retry after ${waitMs / 1000} s, more than the ${maxRateLimitWaitMs / 1000} s a call may wait` +
                (rateLimitedMs > 0 ? ` (waited ${rateLimitedMs / 1000} s already)` : ''),
              { cause: err },
            );
          }
          opts.logger?.warn({ method, where, retryAfterMs: waitMs }, 'Slack rate-limited a call; waiting');
          if (opts.pacing && channel !== undefined) await holdChannel(opts.pacing, channel, waitMs);
          rateLimitedMs += waitMs;
          await sleep(waitMs);
          continue;
        }
        failures++;
        if (failures > retries) {
          throw new SlackUnavailableError(
            method,
            where,
            `${f.why}${failures > 1 ? ` (${failures} attempts)` : ''}`,
            { cause: err },
          );
        }
        const delay = Math.min(backoffMs * 2 ** (failures - 1), 10_000);
        opts.logger?.warn(
          { method, where, err: f.why, attempt: failures, retryInMs: delay },
          'Slack call failed; retrying',
        );
        await sleep(delay);
      }
    }
  }

  const webApiCall = <T>(
    method: string,
    where: string,
    channel: string,
    paced: boolean,
    fn: () => Promise<T>,
  ) => withRetries(method, where, channel, fn, (err) => classify(err, timeoutMs), paced);

  return {
    async post(args) {
      const where = `channel ${args.channel}${args.thread_ts ? ` (thread ${args.thread_ts})` : ''}`;
      const r = await webApiCall('chat.postMessage', where, args.channel, true, () =>
        client.chat.postMessage({
          channel: args.channel,
          text: args.text,
          ...(args.blocks ? { blocks: args.blocks } : {}),
          ...(args.thread_ts ? { thread_ts: args.thread_ts } : {}),
          unfurl_links: false,
          unfurl_media: false,
        }),
      );
      return { channel: r.channel ?? args.channel, ts: r.ts ?? '' };
    },
    async update(args) {
      await webApiCall(
        'chat.update',
        `channel ${args.channel}, message ${args.ts}`,
        args.channel,
        false,
        () =>
          client.chat.update({
            channel: args.channel,
            ts: args.ts,
            text: args.text,
            ...(args.blocks ? { blocks: args.blocks } : {}),
          }),
      );
    },
    async respond(responseUrl, msg) {
      // The URL is a credential (anyone holding it may answer the user): messages name only its host.
      let host = 'response_url';
      try {
        host = `response_url at ${new URL(responseUrl).host}`;
      } catch {
        throw new SlackRefusedError('response_url', 'not a URL');
      }
      await withRetries(
        'response_url',
        host,
        undefined,
        async () => {
          const res = await fetch(responseUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, ...msg }),
            signal: AbortSignal.timeout(timeoutMs),
          });
          // Read (and drop) the body within the same deadline, so that the connection is freed.
          await res.text().catch(() => '');
          if (!res.ok) {
            const ra = Number.parseInt(res.headers.get('retry-after') ?? '', 10);
            throw new ResponseUrlStatus(res.status, Number.isNaN(ra) ? undefined : ra * 1000);
          }
        },
        (err) => classifyResponseUrl(err, timeoutMs),
        false,
      );
    },
  };
}
