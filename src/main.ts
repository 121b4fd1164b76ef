/**
 * Entry point used by bin/windcast: runs the CLI and turns every error into one clear line
 * on stderr and an exit code (a stack trace only with --verbose or for internal bugs).
 */
import { CommanderError } from 'commander';
import { runCli } from './cli.js';
import { WindcastError, EXIT_CODES } from './core/errors.js';

export async function main(argv: string[]): Promise<void> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    await runCli(argv);
  } catch (err) {
    process.exitCode = reportError(err, verbose);
  }
}

/** Print err for a person and return the exit code. */
export function reportError(err: unknown, verbose: boolean): number {
  if (err instanceof CommanderError) {
    // Commander has already printed its message (and help where asked for).
    return err.exitCode === 0 ? 0 : EXIT_CODES.usage;
  }
  if (err instanceof WindcastError) {
    process.stderr.write(`windcast: ${err.message}\n`);
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n${err.cause ? `cause: ${String((err.cause as Error)?.stack ?? err.cause)}\n` : ''}`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.path === 'string') {
    // A file-system failure the commands did not wrap: still name the file, no stack.
    process.stderr.write(`windcast: ${e.path}: ${e.message}\n`);
    if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
    return EXIT_CODES.data;
  }
  process.stderr.write(`windcast: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
  if (err instanceof Error && err.stack) process.stderr.write(`${verbose ? err.stack : '(run with --verbose for the stack trace)'}\n`);
  return EXIT_CODES.internal;
}
