/**
 * The Bolt app: Socket Mode by default (an outbound WebSocket: no public URL needed; SLACK_APP_TOKEN), or the
 * HTTP receiver (Slack POSTs to /slack/events; requests are verified with SLACK_SIGNING_SECRET). The mode
 * comes from the `mode` option (CLI `bot --http` / `--socket`), else the inventory's `slack.mode`, else socket.
 *
 * The app only answers and queues; workers do the cluster work (see workers/).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { AuditLog } from '../audit/index.js';
import { readSecrets, type Inventory } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import { createLogger, registerSecret, type Logger } from '../log.js';
import type { Producer } from '../queue/index.js';
import { approvalsNotWired, type Approvals } from './approvals.js';
import type { BotDeps } from './handlers.js';
import { registerListeners } from './listeners/index.js';

export type SlackMode = 'socket' | 'http';

export interface SlackBotOptions {
  inventory: Inventory;
  env: NodeJS.ProcessEnv;
  producer: Pick<Producer, 'enqueue'>;
  /** The approval flow (default: approvalsNotWired). */
  approvals?: Approvals;
  /** Where every command and button press is recorded (the inventory's audit log). */
  audit?: Pick<AuditLog, 'append'>;
  /** Overrides the inventory's slack.mode. */
  mode?: SlackMode;
  /** HTTP mode: port (0 = any free port; default slack.port) and address (default all interfaces). */
  port?: number;
  host?: string;
  /** Web API base URL (default slack.apiUrl, else Slack's). */
  apiUrl?: string;
  /**
   * The bot's ids. When given, Bolt skips auth.test at start (tests, or to start without reaching Slack);
   * otherwise init() calls auth.test and fails with a clear error on a bad token.
   */
  botId?: string;
  botUserId?: string;
  logger?: Logger;
}

export interface SlackBot {
  readonly app: App;
  readonly mode: SlackMode;
  /** Connects (socket) or listens (http); resolves with the HTTP port in http mode. */
  start(): Promise<{ port?: number }>;
  stop(): Promise<void>;
}

export function resolveSlackMode(inventory: Pick<Inventory, 'slack'>, override?: SlackMode): SlackMode {
  return override ?? inventory.slack?.mode ?? 'socket';
}

export interface SlackCredentials {
  botToken: string;
  appToken?: string;
  signingSecret?: string;
}

/** The secrets a mode needs, from the environment variables the inventory names; ConfigError names what is missing. */
export function slackCredentials(
  inventory: Inventory,
  env: NodeJS.ProcessEnv,
  mode: SlackMode,
): SlackCredentials {
  const s = readSecrets(inventory, env);
  const names = {
    bot: inventory.slack?.botTokenEnv ?? 'SLACK_BOT_TOKEN',
    app: inventory.slack?.appTokenEnv ?? 'SLACK_APP_TOKEN',
    signing: inventory.slack?.signingSecretEnv ?? 'SLACK_SIGNING_SECRET',
  };
  const missing: string[] = [];
  if (!s.slackBotToken) missing.push(`${names.bot} (the bot token, xoxb-...)`);
  if (mode === 'socket' && !s.slackAppToken) {
    missing.push(`${names.app} (an app-level token, xapp-..., with connections:write; or run with --http)`);
  }
  if (mode === 'http' && !s.slackSigningSecret) missing.push(`${names.signing} (the app's signing secret)`);
  if (missing.length > 0) {
    throw new ConfigError(`Slack ${mode} mode needs ${missing.join(' and ')} in the environment`);
  }
  // From here on no log line or audit entry can contain them (src/log.ts).
  registerSecret(s.slackBotToken);
  registerSecret(s.slackAppToken);
  registerSecret(s.slackSigningSecret);
  return {
    botToken: s.slackBotToken!,
    ...(s.slackAppToken ? { appToken: s.slackAppToken } : {}),
    ...(s.slackSigningSecret ? { signingSecret: s.slackSigningSecret } : {}),
  };
}

/**
 * How far a request's x-slack-request-timestamp may be from this machine's clock, either way (Slack's rule:
 * five minutes). Bolt refuses only stale requests; a timestamp in the future is refused here.
 */
export const SLACK_REQUEST_MAX_SKEW_S = 300;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Why a request to the HTTP receiver must be refused before it is read (null: let Bolt verify the signature).
 * A request without the timestamp header is left to Bolt, which refuses it unless it is Slack's `ssl_check`
 * (whose body Bolt empties of everything else); a timestamp that is not whole seconds within
 * SLACK_REQUEST_MAX_SKEW_S of `nowMs` (either way), more than one timestamp or signature header, or a signature
 * that is not `v0=<64 hex digits>`, is refused here.
 */
export function slackRequestProblem(headers: IncomingHttpHeaders, nowMs = Date.now()): string | null {
  const ts = header(headers, 'x-slack-request-timestamp');
  const sig = header(headers, 'x-slack-signature');
  if (Array.isArray(headers['x-slack-request-timestamp']) || Array.isArray(headers['x-slack-signature']))
    return 'repeated signature headers';
  if (ts === undefined && sig === undefined) return null;
  if (ts === undefined) return 'no x-slack-request-timestamp header';
  if (sig === undefined) return 'no x-slack-signature header';
  if (!/^\d{1,12}$/.test(ts)) return 'x-slack-request-timestamp is not whole seconds';
  const skew = Number(ts) - Math.floor(nowMs / 1000);
  if (skew > SLACK_REQUEST_MAX_SKEW_S) return `timestamp ${skew} s in the future`;
  if (-skew > SLACK_REQUEST_MAX_SKEW_S)
    return `timestamp ${-skew} s old (replay window ${SLACK_REQUEST_MAX_SKEW_S} s)`;
  if (!/^v0=[0-9a-f]{64}$/.test(sig)) return 'x-slack-signature is not v0=<hex sha256>';
  return null;
}

/**
 * Bolt's HTTP receiver (Bolt verifies the signature and the staleness of every request to /slack/events) with
 * slackRequestProblem in front: those requests get 401 at once, nothing is read or dispatched, and one log
 * line says why (never the secret, the signature or the body).
 */
function verifyingReceiver(signingSecret: string, boltLog: BoltLogger, logger: Logger): HTTPReceiver {
  const receiver = new HTTPReceiver({ signingSecret, logger: boltLog, endpoints: '/slack/events' });
  const inner = receiver.requestListener;
  receiver.requestListener = (req: IncomingMessage, res: ServerResponse) => {
    const why = req.method === 'POST' ? slackRequestProblem(req.headers) : null;
    if (why === null) {
      inner(req, res);
      return;
    }
    logger.warn({ why, path: req.url?.split('?')[0] }, 'refused a request not signed by Slack');
    req.resume(); // drain the body unread
    res.writeHead(401).end();
  };
  return receiver;
}

/** Bolt's logger interface on top of pino. */
export function boltLogger(log: Logger): BoltLogger {
  let level = LogLevel.INFO;
  const text = (m: unknown[]) =>
    m.map((x) => (typeof x === 'string' ? x : x instanceof Error ? x.message : JSON.stringify(x))).join(' ');
  return {
    debug: (...m: unknown[]) => log.debug(text(m)),
    info: (...m: unknown[]) => log.info(text(m)),
    warn: (...m: unknown[]) => log.warn(text(m)),
    error: (...m: unknown[]) => log.error(text(m)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

export function createSlackBot(opts: SlackBotOptions): SlackBot {
  const mode = resolveSlackMode(opts.inventory, opts.mode);
  const creds = slackCredentials(opts.inventory, opts.env, mode);
  const logger = opts.logger ?? createLogger('slack');
  const apiUrl = opts.apiUrl ?? opts.inventory.slack?.apiUrl;
  const boltLog = boltLogger(logger);
  const common = {
    token: creds.botToken,
    ...(opts.botId !== undefined ? { botId: opts.botId } : {}),
    ...(opts.botUserId !== undefined ? { botUserId: opts.botUserId } : {}),
    logger: boltLog,
    deferInitialization: true,
    clientOptions: {
      ...(apiUrl !== undefined ? { slackApiUrl: apiUrl } : {}),
      retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 3000 },
      // A Slack that takes the request and never answers must not hang start-up (auth.test) or a reply.
      timeout: 10_000,
    },
  };
  const app =
    mode === 'socket'
      ? new App({ ...common, socketMode: true, appToken: creds.appToken! })
      : new App({ ...common, receiver: verifyingReceiver(creds.signingSecret!, boltLog, logger) });
  const deps: BotDeps = {
    inventory: opts.inventory,
    producer: opts.producer,
    approvals: opts.approvals ?? approvalsNotWired,
    ...(opts.audit ? { audit: opts.audit } : {}),
    logger,
  };
  registerListeners(app, deps);
  app.error(async (err) => {
    logger.error({ err: err.message }, 'bolt error');
  });

  return {
    app,
    mode,
    async start() {
      await app.init();
      if (mode === 'socket') {
        await app.start();
        logger.info('connected to Slack (Socket Mode)');
        return {};
      }
      const port = opts.port ?? opts.inventory.slack?.port ?? 3000;
      const server = await app.start(opts.host !== undefined ? { port, host: opts.host } : port);
      const address = server.address() as AddressInfo | null;
      logger.info({ port: address?.port }, 'listening for Slack on /slack/events');
      return address ? { port: address.port } : {};
    },
    async stop() {
      await app.stop();
    },
  };
}
