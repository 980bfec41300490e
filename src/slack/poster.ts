/**
 * Posting to Slack from the workers: chat.postMessage / chat.update with the bot token, and response_url for
 * ephemeral answers. Errors are OpsErrors: network trouble and rate limits are retryable (SourceError), Slack
 * refusing the call (channel_not_found, invalid_blocks...) is not (SlackRefusedError, with Slack's error code).
 *
 * Slack allows about one message per second per channel; with a Redis, posts to one channel are spaced by all
 * workers together (a short-lived key per channel), waiting at most a few seconds.
 */
import { LogLevel, webApi } from '@slack/bolt';
import type { Redis } from 'ioredis';
import { OpsError, SourceError } from '../errors/index.js';
import type { Logger } from '../log.js';
import type { KnownBlock } from './blocks.js';

export class SlackRefusedError extends OpsError {
  readonly retryable = false;
  constructor(
    readonly method: string,
    readonly slackError: string,
  ) {
    super(`Slack refused ${method}: ${slackError}`);
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
  /** Retries of a failed HTTP call inside one post (rate limits honour Retry-After). Default 2. */
  retries?: number;
  /** Per-request timeout, ms. Default 10 s. */
  timeoutMs?: number;
  /** Space posts to one channel ~1 s apart across all workers. */
  pacing?: { redis: Redis; prefix: string; gapMs?: number; maxWaitMs?: number };
  logger?: Logger;
}

/** Map a WebClient error to an OpsError. */
export function slackError(method: string, err: unknown): OpsError {
  const e = err as { code?: string; data?: { error?: string }; message?: string };
  if (e?.code === webApi.ErrorCode.PlatformError)
    return new SlackRefusedError(method, e.data?.error ?? 'error');
  if (e?.code === webApi.ErrorCode.RateLimitedError) {
    return new SourceError('slack', `Slack rate-limited ${method}`, { cause: err });
  }
  return new SourceError('slack', `Slack ${method} failed: ${e?.message ?? String(err)}`, { cause: err });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pace(p: NonNullable<SlackPosterOptions['pacing']>, channel: string): Promise<void> {
  const gap = p.gapMs ?? 1000;
  const deadline = Date.now() + (p.maxWaitMs ?? 5000);
  const key = `${p.prefix}:slack:pace:${channel}`;
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

export function createSlackPoster(opts: SlackPosterOptions): SlackPoster {
  const client = new webApi.WebClient(opts.token, {
    ...(opts.apiUrl !== undefined ? { slackApiUrl: opts.apiUrl } : {}),
    retryConfig: { retries: opts.retries ?? 2, factor: 2, minTimeout: 500, maxTimeout: 5000 },
    timeout: opts.timeoutMs ?? 10_000,
    logLevel: LogLevel.ERROR,
  });
  return {
    async post(args) {
      if (opts.pacing) await pace(opts.pacing, args.channel);
      try {
        const r = await client.chat.postMessage({
          channel: args.channel,
          text: args.text,
          ...(args.blocks ? { blocks: args.blocks } : {}),
          ...(args.thread_ts ? { thread_ts: args.thread_ts } : {}),
          unfurl_links: false,
          unfurl_media: false,
        });
        return { channel: r.channel ?? args.channel, ts: r.ts ?? '' };
      } catch (err) {
        throw slackError('chat.postMessage', err);
      }
    },
    async update(args) {
      try {
        await client.chat.update({
          channel: args.channel,
          ts: args.ts,
          text: args.text,
          ...(args.blocks ? { blocks: args.blocks } : {}),
        });
      } catch (err) {
        throw slackError('chat.update', err);
      }
    },
    async respond(responseUrl, msg) {
      let res: Response;
      try {
        res = await fetch(responseUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, ...msg }),
          signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
        });
      } catch (err) {
        throw new SourceError('slack', `response_url failed: ${(err as Error).message}`, { cause: err });
      }
      if (res.status >= 500 || res.status === 429) {
        throw new SourceError('slack', `response_url answered HTTP ${res.status}`);
      }
      // 404 = expired (30 minutes) or used up (5 uses): retrying cannot help.
      if (!res.ok) throw new SlackRefusedError('response_url', `HTTP ${res.status}`);
    },
  };
}
