/**
 * Slack without Slack (tests and `fabric-opsbot demo`): requests signed the way Slack signs them, and a local Web API recorder.
 *
 *   const rec = await startSlackRecorder();          // rec.apiUrl -> slackApiUrl, rec.responseUrl('x') -> response_url
 *   const res = await postSlashCommand(`${base}/slack/events`, SECRET, { text: 'status pubchain', ... });
 *   const call = await rec.waitFor((c) => c.method === 'chat.postMessage');
 *   await rec.close();
 *
 * The recorder answers ok to every method (chat.postMessage / chat.update / chat.postEphemeral get a ts; the
 * files.uploadV2 steps — files.getUploadURLExternal, the upload POST, files.completeUploadExternal — work too),
 * records each call with its arguments (form-encoded or JSON; `blocks` parsed), and records every POST to a
 * response_url under method "response_url". `failNext(method, error)` makes the next call fail like Slack does
 * (HTTP 200, `{ok: false, error}`); `failHttp(method, ...answers)` scripts the HTTP answers of the next calls of
 * a method (or of response_urls, method "response_url"): 429 with a Retry-After, 500, 503, or a hang (the
 * request is read and never answered). Scripted answers are recorded too, with their `status` (or `hung`).
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// ------------------------------------------------------------------ signing

export function slackSignature(secret: string, timestamp: number | string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SignOptions {
  /** Seconds since the epoch (default now). */
  timestamp?: number;
  /** Replace the signature (forgeries). */
  signature?: string;
  /** x-slack-retry-num / x-slack-retry-reason, as on Slack's retries. */
  retryNum?: number;
  retryReason?: string;
}

export function signedHeaders(secret: string, body: string, opts: SignOptions = {}): Record<string, string> {
  const ts = opts.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': opts.signature ?? slackSignature(secret, ts, body),
    ...(opts.retryNum !== undefined ? { 'x-slack-retry-num': String(opts.retryNum) } : {}),
    ...(opts.retryReason !== undefined ? { 'x-slack-retry-reason': opts.retryReason } : {}),
  };
}

export interface SlashCommandFields {
  text: string;
  user_id: string;
  channel_id?: string;
  team_id?: string;
  command?: string;
  trigger_id?: string;
  response_url?: string;
  user_name?: string;
}

let triggerSeq = 0;

/** A slash command body as Slack sends it (form-encoded). trigger_id is unique unless given. */
export function slashCommandBody(f: SlashCommandFields): string {
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: f.team_id ?? 'T0TEST',
    team_domain: 'test',
    channel_id: f.channel_id ?? 'COPS',
    channel_name: 'ops',
    user_id: f.user_id,
    user_name: f.user_name ?? f.user_id.toLowerCase(),
    command: f.command ?? '/fabric',
    text: f.text,
    api_app_id: 'A0TEST',
    is_enterprise_install: 'false',
    response_url: f.response_url ?? 'http://127.0.0.1:9/unused',
    trigger_id: f.trigger_id ?? `${Date.now()}.${++triggerSeq}.trigger`,
  }).toString();
}

export interface SlackHttpResponse {
  status: number;
  /** Parsed JSON when the body is JSON, else the text ('' for an empty 200). */
  body: unknown;
  ms: number;
}

async function send(url: string, body: string, headers: Record<string, string>): Promise<SlackHttpResponse> {
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  const ms = performance.now() - t0;
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : '';
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, ms };
}

/** POST a signed slash command to the app (…/slack/events). */
export function postSlashCommand(
  url: string,
  secret: string,
  fields: SlashCommandFields,
  opts: SignOptions & { body?: string } = {},
): Promise<SlackHttpResponse> {
  const body = opts.body ?? slashCommandBody(fields);
  return send(url, body, signedHeaders(secret, body, opts));
}

export interface ButtonPressFields {
  user_id: string;
  action_id: string;
  value: string;
  channel_id?: string;
  team_id?: string;
  response_url: string;
  message?: { ts: string; text?: string; blocks?: unknown[] };
  trigger_id?: string;
  action_ts?: string;
}

/** A block_actions payload for one button press. */
export function buttonPayload(f: ButtonPressFields): Record<string, unknown> {
  const ts = f.action_ts ?? `${Date.now() / 1000}`;
  return {
    type: 'block_actions',
    team: { id: f.team_id ?? 'T0TEST', domain: 'test' },
    user: { id: f.user_id, username: f.user_id.toLowerCase(), team_id: f.team_id ?? 'T0TEST' },
    api_app_id: 'A0TEST',
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: f.message?.ts ?? '1.000', channel_id: f.channel_id ?? 'COPS' },
    trigger_id: f.trigger_id ?? `${Date.now()}.${++triggerSeq}.trigger`,
    channel: { id: f.channel_id ?? 'COPS', name: 'ops' },
    message: {
      type: 'message',
      ts: f.message?.ts ?? '1.000',
      text: f.message?.text ?? '',
      blocks: f.message?.blocks ?? [],
    },
    response_url: f.response_url,
    actions: [
      {
        type: 'button',
        action_id: f.action_id,
        block_id: 'b1',
        text: { type: 'plain_text', text: 'Button' },
        value: f.value,
        action_ts: ts,
      },
    ],
  };
}

/** POST a signed button press (form field `payload`). */
export function postButtonPress(
  url: string,
  secret: string,
  f: ButtonPressFields,
  opts: SignOptions = {},
): Promise<SlackHttpResponse> {
  const body = new URLSearchParams({ payload: JSON.stringify(buttonPayload(f)) }).toString();
  return send(url, body, signedHeaders(secret, body, opts));
}

// ------------------------------------------------------------------ the recorder

export interface RecordedCall {
  /** Web API method ("chat.postMessage"), "response_url", or "upload". */
  method: string;
  /** Path for response_url / upload calls. */
  path: string;
  args: Record<string, unknown>;
  /** Bearer token, for Web API calls. */
  token?: string;
  /** What the recorder answered (Web API calls): e.g. the `ts` of a posted message. */
  result?: Record<string, unknown>;
  /** A scripted HTTP answer other than 200 (failHttp): 429, 500, 503... Absent for calls that went through. */
  status?: number;
  /** A scripted hang (failHttp 'hang'): the request was read and never answered. */
  hung?: true;
  at: number;
}

/** A scripted HTTP answer: a status (429 with `retryAfter` seconds, sent as the Retry-After header), or a hang. */
export type ScriptedHttpAnswer = { status: number; retryAfter?: number | string; body?: string } | 'hang';

export interface SlackRecorder {
  /** Base URL for slackApiUrl / slack.apiUrl ("http://127.0.0.1:P/api/"). */
  readonly apiUrl: string;
  readonly port: number;
  readonly calls: RecordedCall[];
  /** A response_url that records into `calls` (method "response_url", path /respond/<id>). */
  responseUrl(id?: string): string;
  /** Resolves with the first recorded call (past or future) that matches; rejects after timeoutMs. */
  waitFor(pred: (c: RecordedCall) => boolean, timeoutMs?: number): Promise<RecordedCall>;
  /** Calls matching `pred` recorded so far. */
  find(pred: (c: RecordedCall) => boolean): RecordedCall[];
  /** Make the next call of `method` answer {ok: false, error}. */
  failNext(method: string, error: string): void;
  /**
   * Answer the next calls of `method` ("chat.postMessage", or "response_url" for every response_url) with these
   * HTTP answers, one per call, in order; then normally again.
   */
  failHttp(method: string, ...answers: ScriptedHttpAnswer[]): void;
  /** The calls that went through (not scripted HTTP failures) matching `pred`. */
  delivered(pred: (c: RecordedCall) => boolean): RecordedCall[];
  /** Forget the calls so far and any scripted HTTP answers not used yet. */
  clear(): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseArgs(contentType: string | undefined, body: string): Record<string, unknown> {
  let args: Record<string, unknown> = {};
  if (contentType?.includes('application/json')) {
    try {
      args = JSON.parse(body || '{}') as Record<string, unknown>;
    } catch {
      args = { _raw: body };
    }
  } else {
    args = Object.fromEntries(new URLSearchParams(body));
  }
  for (const k of ['blocks', 'attachments', 'files', 'metadata']) {
    const v = args[k];
    if (typeof v === 'string') {
      try {
        args[k] = JSON.parse(v);
      } catch {
        // leave as is
      }
    }
  }
  return args;
}

/** One line per call, for failure messages. */
export function describeCall(c: RecordedCall): string {
  const a = c.args;
  const where = [
    a['channel'],
    a['thread_ts'] ? `thread ${String(a['thread_ts'])}` : '',
    a['ts'] ? `ts ${String(a['ts'])}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `  ${c.method} ${c.path} ${where}: ${String(a['text'] ?? '').slice(0, 160)}`;
}

export async function startSlackRecorder(): Promise<SlackRecorder> {
  const calls: RecordedCall[] = [];
  const waiters: { pred: (c: RecordedCall) => boolean; resolve: (c: RecordedCall) => void }[] = [];
  const failures = new Map<string, string[]>();
  const httpScript = new Map<string, ScriptedHttpAnswer[]>();
  let seq = 0;
  let base = '';

  const record = (c: RecordedCall) => {
    calls.push(c);
    for (const w of [...waiters]) {
      if (w.pred(c)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(c);
      }
    }
  };

  const answer = (method: string, args: Record<string, unknown>): Record<string, unknown> => {
    const fail = failures.get(method)?.shift();
    if (fail !== undefined) return { ok: false, error: fail };
    const ts = `1700000000.${String(++seq).padStart(6, '0')}`;
    switch (method) {
      case 'chat.postMessage':
        return { ok: true, channel: args['channel'], ts, message: { ts, text: args['text'] } };
      case 'chat.update':
        return { ok: true, channel: args['channel'], ts: args['ts'], text: args['text'] };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: ts };
      case 'auth.test':
        return { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T0TEST', user: 'opsbot', team: 'test' };
      case 'files.getUploadURLExternal':
        return { ok: true, upload_url: `${base}/upload/F${seq}`, file_id: `F${seq}` };
      case 'files.completeUploadExternal':
        return { ok: true, files: (args['files'] as unknown[] | undefined) ?? [] };
      default:
        return { ok: true };
    }
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://localhost');
      const args = parseArgs(req.headers['content-type'], body);
      const auth = req.headers.authorization;
      const scripted = (method: string): boolean => {
        const next = httpScript.get(method)?.shift();
        if (next === undefined) return false;
        if (next === 'hang') {
          record({ method, path: url.pathname, args, hung: true, at: Date.now() });
          return true; // never answered: closed by close()
        }
        record({ method, path: url.pathname, args, status: next.status, at: Date.now() });
        res.writeHead(next.status, {
          'content-type': 'text/plain',
          ...(next.retryAfter !== undefined ? { 'retry-after': String(next.retryAfter) } : {}),
        });
        res.end(next.body ?? `scripted HTTP ${next.status}`);
        return true;
      };
      if (url.pathname.startsWith('/api/')) {
        const method = url.pathname.slice('/api/'.length);
        if (scripted(method)) return;
        const token = auth?.startsWith('Bearer ') ? auth.slice(7) : (args['token'] as string | undefined);
        const out = answer(method, args);
        record({
          method,
          path: url.pathname,
          args,
          ...(token !== undefined ? { token } : {}),
          result: out,
          at: Date.now(),
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out));
        return;
      }
      if (url.pathname.startsWith('/respond/')) {
        if (scripted('response_url')) return;
        record({ method: 'response_url', path: url.pathname, args, at: Date.now() });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
        return;
      }
      if (url.pathname.startsWith('/upload/')) {
        record({ method: 'upload', path: url.pathname, args: { bytes: body.length }, at: Date.now() });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('OK');
        return;
      }
      res.writeHead(404);
      res.end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  let respondSeq = 0;

  return {
    apiUrl: `${base}/api/`,
    port,
    calls,
    responseUrl: (id) => `${base}/respond/${id ?? `r${++respondSeq}`}`,
    find: (pred) => calls.filter(pred),
    delivered: (pred) => calls.filter((c) => c.status === undefined && c.hung === undefined && pred(c)),
    waitFor(pred, timeoutMs = 10_000) {
      const hit = calls.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (c: RecordedCall) => {
            clearTimeout(timer);
            resolve(c);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(
            new Error(
              `no matching Slack call within ${timeoutMs} ms; recorded:\n${calls.map(describeCall).join('\n') || 'none'}`,
            ),
          );
        }, timeoutMs);
        waiters.push(w);
      });
    },
    failNext(method, error) {
      failures.set(method, [...(failures.get(method) ?? []), error]);
    },
    failHttp(method, ...answers) {
      httpScript.set(method, [...(httpScript.get(method) ?? []), ...answers]);
    },
    clear() {
      calls.length = 0;
      httpScript.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
