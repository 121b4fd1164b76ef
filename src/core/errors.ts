/**
 * Typed errors with one exit point.
 *
 * Every failure a user can cause (a bad flag, a broken file, an unusable checkpoint) is a
 * WindcastError with a kind and an exit code. Only bin/windcast turns errors into a message:
 * one line on stderr, a stack trace only with --verbose.
 */

export type ErrorKind = 'usage' | 'config' | 'data' | 'checkpoint' | 'backend' | 'internal';

/** Exit codes per kind: scripts can tell a user's mistake from a broken file or a bug. */
export const EXIT_CODES: Record<ErrorKind, number> = {
  usage: 2,
  config: 3,
  data: 4,
  checkpoint: 5,
  backend: 6,
  internal: 70,
};

export class WindcastError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WindcastError';
    this.kind = kind;
  }
  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** A file we cannot use: the message always starts with the file's path. */
export class DataError extends WindcastError {
  readonly file: string | undefined;
  constructor(file: string | undefined, message: string, options?: { cause?: unknown }) {
    super('data', file ? `${file}: ${message}` : message, options);
    this.name = 'DataError';
    this.file = file;
  }
}

export class ConfigError extends WindcastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('config', message, options);
    this.name = 'ConfigError';
  }
}

export class CheckpointError extends WindcastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('checkpoint', message, options);
    this.name = 'CheckpointError';
  }
}

/** One-line description of any thrown value, for messages that wrap a lower-level failure. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? String(err);
  return String(err);
}
