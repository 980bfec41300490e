/**
 * Structured logs (pino) to stderr, so that `--json` output on stdout stays clean. Secrets never reach a log
 * line, twice over:
 *
 * - by key: values under secret-looking keys of a log object are replaced (REDACT_PATHS);
 * - by value: every secret this process read (Slack tokens, the signing secret, SASL and Redis passwords, TLS
 *   key passphrases: `registerSecret`, called where they are read, and the values of secret-looking environment
 *   variables) is replaced in the finished line, wherever it appears (an error message, a URL, a nested
 *   object).
 *
 * `captureLogs()` lets a test read every line of every logger of the process (tests/hardening).
 */
import { pino, type DestinationStream, type Level, type LevelWithSilent, type Logger } from 'pino';

export const REDACTED = '[redacted]';

export const REDACT_PATHS = [
  'token',
  'password',
  'passphrase',
  'secret',
  'signingSecret',
  'botToken',
  'appToken',
  'authorization',
  'cookie',
  '*.token',
  '*.password',
  '*.passphrase',
  '*.secret',
  '*.signingSecret',
  '*.botToken',
  '*.appToken',
  '*.authorization',
  '*.cookie',
  'headers.authorization',
  'headers["x-slack-signature"]',
  'sasl.password',
];

// ------------------------------------------------------------------ secrets by value

/** Shorter values are not matched (a one-letter "password" would blank every such letter of every line). */
export const MIN_SECRET_LENGTH = 6;

const secrets = new Set<string>();
/** Longest first, so that a secret containing another is replaced whole. */
let ordered: string[] = [];

/** Remember a secret value: it is replaced by [redacted] in every log line and audit entry from now on. */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH || secrets.has(value)) return;
  secrets.add(value);
  // JSON-escaped forms too (a secret with a quote or backslash appears escaped in a JSON log line).
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) secrets.add(escaped);
  ordered = [...secrets].sort((a, b) => b.length - a.length);
}

/** Environment variable names whose values are secrets whatever the inventory calls them. */
const SECRET_ENV = /(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;

/** Register the values of secret-looking environment variables (SLACK_BOT_TOKEN, KAFKA_SASL_PASSWORD...). */
export function registerSecretsFromEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, value] of Object.entries(env)) if (SECRET_ENV.test(name)) registerSecret(value);
}

/** `text` with every registered secret replaced. */
export function redactKnownSecrets(text: string): string {
  if (ordered.length === 0) return text;
  let out = text;
  for (const s of ordered) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

// ------------------------------------------------------------------ the destination

let stderr: DestinationStream | undefined;
interface Capture {
  lines: string[];
  echo: boolean;
}
const captures = new Set<Capture>();

/** Every logger writes here: known secrets out, then stderr (and any capture). */
const destination: DestinationStream = {
  write(line: string) {
    const clean = redactKnownSecrets(line);
    let echo = captures.size === 0;
    for (const c of captures) {
      c.lines.push(clean);
      echo ||= c.echo;
    }
    if (echo) (stderr ??= pino.destination({ fd: 2, sync: true })).write(clean);
  },
};

/** Loggers made by createLogger (weakly held), so that a capture can lower their level. */
const loggers = new Set<WeakRef<Logger>>();
/** The level each logger was made with (restored after a capture). */
const requested = new WeakMap<Logger, string>();
let captureLevel: Level | undefined;

let envScanned = false;

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'warn'): Logger {
  if (!envScanned) {
    envScanned = true;
    registerSecretsFromEnv();
  }
  const logger = pino(
    { name, level: captureLevel ?? level, redact: { paths: REDACT_PATHS, censor: REDACTED } },
    destination,
  );
  loggers.add(new WeakRef(logger));
  requested.set(logger, level);
  return logger;
}

export interface LogCapture {
  /** Every line written while capturing (JSON, as it would have gone to stderr). */
  readonly lines: string[];
  text(): string;
  /** Stop capturing; loggers get their own levels back. */
  stop(): void;
}

/**
 * Capture every log line of every logger of this process (tests): all loggers, including those made later and
 * those made "silent", log at `level` (default trace) until stop(). Lines are not written to stderr unless
 * `echo`.
 */
export function captureLogs(opts: { level?: Level; echo?: boolean } = {}): LogCapture {
  const level = opts.level ?? 'trace';
  const c: Capture = { lines: [], echo: opts.echo ?? false };
  captures.add(c);
  const before = new Map<Logger, LevelWithSilent>();
  captureLevel = level;
  for (const ref of loggers) {
    const l = ref.deref();
    if (!l) {
      loggers.delete(ref);
      continue;
    }
    before.set(l, l.level as LevelWithSilent);
    l.level = level;
  }
  return {
    lines: c.lines,
    text: () => c.lines.join(''),
    stop() {
      captures.delete(c);
      if (captures.size === 0) captureLevel = undefined;
      if (captureLevel !== undefined) return; // another capture still runs
      for (const ref of loggers) {
        const l = ref.deref();
        if (l) l.level = before.get(l) ?? requested.get(l) ?? 'warn';
      }
    },
  };
}

export type { Logger };
