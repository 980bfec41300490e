/**
 * Structured logs (pino) to stderr, so that `--json` output on stdout stays clean. Secrets are redacted by
 * key wherever they appear in a log object.
 */
import { pino, type Logger } from 'pino';

export const REDACT_PATHS = [
  'token',
  'password',
  'secret',
  'signingSecret',
  'authorization',
  '*.token',
  '*.password',
  '*.secret',
  '*.signingSecret',
  '*.authorization',
  'headers.authorization',
  'headers["x-slack-signature"]',
  'sasl.password',
];

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'warn'): Logger {
  return pino(
    { name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    pino.destination({ fd: 2, sync: true }),
  );
}

export type { Logger };
