/**
 * Audit details never hold secrets: values under secret-looking keys are replaced, secret-looking strings
 * (Slack tokens, passwords in URLs) are masked wherever they appear, and so is every secret value this process
 * read (src/log.ts registerSecret: tokens, signing secret, SASL and Redis passwords). The result is plain JSON.
 */
import { REDACTED, redactKnownSecrets } from '../log.js';

export { REDACTED };

const SECRET_KEY =
  /(token|passw(or)?d|passwd|secret|passphrase|authorization|cookie|signature|api[-_]?key|private[-_]?key|credential|sasl)/i;

/** Slack tokens (xoxb-, xoxp-, xapp-...), URL userinfo passwords, "Bearer x". */
export function scrubString(s: string): string {
  return redactKnownSecrets(s)
    .replace(/\bxox[a-z]-[A-Za-z0-9-]+/g, `xox?-${REDACTED}`)
    .replace(/\bxapp-[A-Za-z0-9-]+/g, `xapp-${REDACTED}`)
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi, `$1${REDACTED}@`)
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${REDACTED}`);
}

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** A JSON-safe copy of `value` without secrets. */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (depth > 20) return '[too deep]';
  if (value === null || value === undefined) return value ?? null;
  switch (typeof value) {
    case 'string':
      return scrubString(value);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) return scrubString(value.message);
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (Array.isArray(value)) return value.map((v) => scrubSecrets(v, depth + 1) ?? null);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (isSecretKey(k)) {
      // Say that something was there, never what (env variable *names* are fine: "passwordEnv" stays).
      out[k] = /Env$/.test(k) && typeof v === 'string' ? v : REDACTED;
      continue;
    }
    const s = scrubSecrets(v, depth + 1);
    if (s !== undefined) out[k] = s;
  }
  return out;
}
