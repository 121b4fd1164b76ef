/**
 * What every step of scripts/setup-native.mjs shares: the project root, the command-line flags,
 * the cache folder, the log, running a command into that log, and small file helpers. The
 * wheel's pin lives here too, since both the libraries and the fused kernels are keyed on it.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, createReadStream, linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The wheel is pinned by version, tags and hash. Its two shared libraries do not link
 * libpython, so the Python tag only picks which (identical-purpose) file we download; pinning
 * one tag makes the download, its hash and therefore the cache key reproducible everywhere.
 */
export const WHEEL = {
  name: 'tensorflow-cpu',
  version: '2.21.0',
  pythonVersion: '3.11',
  abi: 'cp311',
  platform: 'manylinux_2_27_x86_64',
  file: 'tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl',
  sha256: '2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c',
};

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const requireFromRoot = createRequire(join(ROOT, 'package.json'));
export const ENABLE_LATER = `cd ${ROOT} && npm run setup:native`;

const args = new Set(process.argv.slice(2));
export const optional = args.has('--optional');
export const force = args.has('--force');
export const checkOnly = args.has('--check');
export const started = Date.now();

export const cacheRoot = resolve(
  process.env.WINDCAST_NATIVE_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'windcast', 'native'),
);
/** The set-up's log file (every command's output), once openLog has made it. */
export let logFile;

/** Start the log file; `logFile` names it from then on. */
export function openLog(file, header) {
  logFile = file;
  writeFileSync(logFile, header);
}

export class SetupError extends Error {}

export function say(line) {
  process.stderr.write(`setup-native: ${line}\n`);
}

function log(text) {
  if (!logFile) return;
  appendFileSync(logFile, text.endsWith('\n') ? text : text + '\n');
}

/** Run a command, output to the log file; throws SetupError with the log's tail on failure. */
export function run(cmd, cmdArgs, options = {}) {
  log(`\n$ ${cmd} ${cmdArgs.join(' ')}${options.cwd ? `   (in ${options.cwd})` : ''}`);
  const result = spawnSync(cmd, cmdArgs, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: options.timeoutMs ?? 30 * 60 * 1000,
  });
  log(result.stdout ?? '');
  log(result.stderr ?? '');
  if (result.error) {
    if (options.allowFail) return result;
    throw new SetupError(`${options.what ?? cmd}: ${result.error.code === 'ENOENT' ? `${cmd} is not installed` : result.error.message}`);
  }
  if (result.status !== 0 && !options.allowFail) {
    const tail = `${result.stdout ?? ''}\n${result.stderr ?? ''}`.trim().split('\n').slice(-12).join('\n    ');
    throw new SetupError(`${options.what ?? cmd} failed (exit ${result.status}):\n    ${tail}`);
  }
  return result;
}

export function packageDir(name) {
  try {
    return dirname(requireFromRoot.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

export function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

export function sha256(file) {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(file).on('data', (d) => hash.update(d)).on('end', () => resolvePromise(hash.digest('hex'))).on('error', reject);
  });
}

/** Hard link when possible (same file system: instant, survives cache deletion), else copy. */
export function linkOrCopy(from, to) {
  rmSync(to, { force: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}
