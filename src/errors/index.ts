/**
 * Typed errors. Each says what went wrong and where (which file, key, broker, path, channel), and whether
 * doing the same thing again could help: job workers retry only `retryable` errors.
 */

export abstract class OpsError extends Error {
  /** Retrying the same operation later may succeed (a timeout, a broker briefly away). */
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The command line was wrong: exit 64 with one line. */
export class UsageError extends OpsError {
  readonly retryable = false;
}

/** The inventory file is missing or invalid. */
export class ConfigError extends OpsError {
  readonly retryable = false;
  constructor(
    message: string,
    readonly file?: string,
    readonly issues: { key: string; message: string }[] = [],
  ) {
    super(message);
  }
}

/** Something asked for does not exist: a cluster, channel, broker id, container. */
export class NotFoundError extends OpsError {
  readonly retryable = false;
}

/** An outside system did not answer in time or refused the connection. */
export class SourceError extends OpsError {
  readonly retryable = true;
  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A repair was refused: a precondition does not hold. Never retried automatically. */
export class RefusedError extends OpsError {
  readonly retryable = false;
}

export function isRetryable(err: unknown): boolean {
  return err instanceof OpsError ? err.retryable : false;
}

/** One line for a user: the message, never a stack. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}
