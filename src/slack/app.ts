/**
 * The Bolt app: Socket Mode by default (an outbound WebSocket: no public URL needed; SLACK_APP_TOKEN), or the
 * HTTP receiver (Slack POSTs to /slack/events; requests are verified with SLACK_SIGNING_SECRET). The mode
 * comes from the `mode` option (CLI `bot --http` / `--socket`), else the inventory's `slack.mode`, else socket.
 *
 * The app only answers and queues; workers do the cluster work (see workers/).
 */
import type { AddressInfo } from 'node:net';
import { App, LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { AuditLog } from '../audit/index.js';
import { readSecrets, type Inventory } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import { createLogger, type Logger } from '../log.js';
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
  return {
    botToken: s.slackBotToken!,
    ...(s.slackAppToken ? { appToken: s.slackAppToken } : {}),
    ...(s.slackSigningSecret ? { signingSecret: s.slackSigningSecret } : {}),
  };
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
  const common = {
    token: creds.botToken,
    ...(opts.botId !== undefined ? { botId: opts.botId } : {}),
    ...(opts.botUserId !== undefined ? { botUserId: opts.botUserId } : {}),
    logger: boltLogger(logger),
    deferInitialization: true,
    clientOptions: {
      ...(apiUrl !== undefined ? { slackApiUrl: apiUrl } : {}),
      retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 3000 },
    },
  };
  const app =
    mode === 'socket'
      ? new App({ ...common, socketMode: true, appToken: creds.appToken! })
      : new App({ ...common, signingSecret: creds.signingSecret! });
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
