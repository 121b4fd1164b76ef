/**
 * Which TensorFlow.js backend windcast runs on, loaded once per process.
 *
 * 'auto' prefers native TensorFlow (@tensorflow/tfjs-node, an optional dependency whose
 * addon scripts/setup-native.mjs builds against the tensorflow-cpu wheel from PyPI), then
 * wasm (XNNPACK kernels, always installed), then the pure-JS cpu backend. Every other module
 * gets `tf` from here, so all of them share one engine and one active backend.
 *
 * Asking for 'tensorflow' explicitly when it cannot load is a WindcastError('backend') that
 * says why and the exact command that fixes it; 'auto' falls back and records the reason.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WindcastError, describeError } from '../core/errors.js';

export type Tf = typeof import('@tensorflow/tfjs');
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  name: BackendName;
  tfjsVersion: string;
  /** TensorFlow C library version, native backend only. */
  tensorflowVersion?: string;
  /** Threads the backend's kernels really use (intra-op threads for native). */
  threads: number;
  /** Where the kernels come from: the native library path and its origin, or the .wasm file. */
  library?: string;
  /** Set whenever native TensorFlow is not the active backend. */
  reasonNativeUnavailable?: string;
  /** Exact command that enables native TensorFlow, when it is not active. */
  fix?: string;
}

const require = createRequire(import.meta.url);

/** Project root (this file is dist/src/backend.js once compiled). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The command that sets native TensorFlow up; printed verbatim in errors and by doctor. */
export const NATIVE_FIX_COMMAND = `cd ${PROJECT_ROOT} && npm run setup:native`;

/** Written by scripts/setup-native.mjs next to the library it laid out. */
export const NATIVE_MARKER = 'windcast-native.json';

export interface NativeMarker {
  source: 'pypi-wheel' | 'tfjs-node-mirror';
  wheel?: string;
  wheelVersion?: string;
  wheelSha256?: string;
  baseUri?: string;
  cacheDir?: string;
  builtAt?: string;
}

export interface NativeProbe {
  /** True when @tensorflow/tfjs-node loaded and registered the 'tensorflow' backend. */
  ok: boolean;
  reason?: string;
  tfjsNodeVersion?: string;
  library?: string;
}

let tfModule: Tf | undefined;
let nativeProbe: NativeProbe | undefined;
const ready = new Map<BackendName, Promise<void>>();

async function loadTf(): Promise<Tf> {
  if (!tfModule) {
    const mod = (await import('@tensorflow/tfjs')) as Tf & { default?: Tf };
    // CommonJS through ESM: the namespace carries the exports and a default copy of them.
    tfModule = (mod.default && typeof mod.default.tensor === 'function' ? mod.default : mod) as Tf;
    silenceOrthogonalWarning();
  }
  return tfModule;
}

/**
 * tfjs-layers warns "Orthogonal initializer is being called on a matrix with more than 2000
 * elements: Slowness may result." for every LSTM it builds; our recurrent kernels (64 x 256) take
 * a millisecond to orthogonalise, so the line is noise in every train, predict and test log.
 * Only that exact message is dropped; every other warning passes through.
 */
function silenceOrthogonalWarning(): void {
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('Orthogonal initializer is being called on a matrix with more than')) return;
    warn(...args);
  };
}

/** Directory of an installed package, or undefined when it is not installed. */
export function packageDir(name: string): string | undefined {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

/** What scripts/setup-native.mjs recorded about the library in tfjs-node's deps/, if anything. */
export function readNativeMarker(tfjsNodeDir: string): NativeMarker | undefined {
  const file = join(tfjsNodeDir, 'deps', NATIVE_MARKER);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as NativeMarker;
  } catch {
    return undefined;
  }
}

function describeLibrary(tfjsNodeDir: string): string {
  const lib = join(tfjsNodeDir, 'deps', 'lib', 'libtensorflow.so.2');
  const marker = readNativeMarker(tfjsNodeDir);
  if (marker?.source === 'pypi-wheel') {
    return `${lib} (from the PyPI wheel ${marker.wheel ?? `tensorflow-cpu ${marker.wheelVersion ?? '?'}`}, set up by scripts/setup-native.mjs)`;
  }
  if (marker?.source === 'tfjs-node-mirror') {
    return `${lib} (downloaded by tfjs-node's installer from the mirror ${marker.baseUri ?? '?'})`;
  }
  return `${lib} (downloaded by tfjs-node's own installer)`;
}

/** Why native TensorFlow cannot load here, in one line, from the error tfjs-node threw. */
function explainNativeFailure(err: unknown, tfjsNodeDir: string | undefined): string {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return `native TensorFlow is set up for Linux x86-64 only (this is ${process.platform} ${process.arch})`;
  }
  if (!tfjsNodeDir) return '@tensorflow/tfjs-node is not installed (it is an optional dependency)';
  const message = describeError(err);
  if (!existsSync(join(tfjsNodeDir, 'deps', 'lib', 'libtensorflow.so.2'))) {
    return `libtensorflow is not in ${join(tfjsNodeDir, 'deps', 'lib')} (tfjs-node's own download did not run or failed)`;
  }
  if (/tfjs_binding\.node/.test(message) && /cannot find module|can ?not be found/i.test(message)) {
    return `the tfjs-node addon (lib/napi-v*/tfjs_binding.node in ${tfjsNodeDir}) is not built`;
  }
  return `@tensorflow/tfjs-node failed to load: ${message.trim().replace(/\.$/, '')}`;
}

/** Try tfjs-node once per process; it registers the 'tensorflow' backend on our tfjs engine. */
function probeNative(tf: Tf): NativeProbe {
  if (nativeProbe) return nativeProbe;
  const dir = packageDir('@tensorflow/tfjs-node');
  if (process.platform !== 'linux' || process.arch !== 'x64' || !dir) {
    nativeProbe = { ok: false, reason: explainNativeFailure(undefined, dir) };
    return nativeProbe;
  }
  let tfn: { version?: Record<string, string> };
  // Without this TensorFlow prints its CPU-feature banner on every run; users may override.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  try {
    tfn = require('@tensorflow/tfjs-node') as typeof tfn;
  } catch (err) {
    nativeProbe = { ok: false, reason: explainNativeFailure(err, dir) };
    return nativeProbe;
  }
  if (!tf.findBackendFactory('tensorflow')) {
    // tfjs-node registered its backend on a second copy of tfjs-core: ours would never see it.
    nativeProbe = {
      ok: false,
      reason: `@tensorflow/tfjs-node ${tfn.version?.['tfjs-node'] ?? ''} uses its own copy of @tensorflow/tfjs-core, not ours (${tf.version_core}); run npm dedupe`,
    };
    return nativeProbe;
  }
  nativeProbe = { ok: true, library: describeLibrary(dir), ...(tfn.version?.['tfjs-node'] ? { tfjsNodeVersion: tfn.version['tfjs-node'] } : {}) };
  return nativeProbe;
}

function nativeThreads(): number {
  // TensorFlow sizes its intra-op pool from TF_NUM_INTRAOP_THREADS, else one per schedulable CPU.
  const fromEnv = Number.parseInt(process.env.TF_NUM_INTRAOP_THREADS ?? '', 10);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : availableParallelism();
}

function wasmDir(): string {
  const dir = packageDir('@tensorflow/tfjs-backend-wasm');
  if (!dir) throw new WindcastError('backend', '@tensorflow/tfjs-backend-wasm is not installed; run npm install');
  return join(dir, 'dist');
}

/** The active backend's name without tf.getBackend()'s side effect of initialising one. */
function activeBackend(tf: Tf): string | undefined {
  return (tf.engine() as unknown as { backendName: string | null }).backendName ?? undefined;
}

async function activate(tf: Tf, name: BackendName): Promise<void> {
  let pending = ready.get(name);
  if (!pending) {
    pending = (async () => {
      if (name === 'wasm') {
        const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
        // In Node the .wasm binaries are read from disk: point the loader at node_modules.
        wasm.setWasmPaths(wasmDir() + '/');
      }
      if (name === 'cpu') {
        // The cpu backend otherwise prints a banner advertising tfjs-node on first use;
        // windcast reports the backend itself. PROD only silences warnings.
        tf.env().set('PROD', true);
      }
    })();
    ready.set(name, pending);
  }
  await pending;
  if (activeBackend(tf) === name) return;
  const ok = await tf.setBackend(name);
  if (!ok) throw new WindcastError('backend', `TensorFlow.js backend '${name}' failed to initialise`);
  await tf.ready();
}

function tensorflowVersion(tf: Tf): string | undefined {
  const backend = tf.backend() as unknown as { binding?: { TF_Version?: string } };
  return backend.binding?.TF_Version;
}

function wasmThreads(): number {
  try {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    return wasm.getThreadsCount();
  } catch {
    return 1;
  }
}

function describe(tf: Tf, name: BackendName, probe: NativeProbe | undefined): BackendInfo {
  const info: BackendInfo = { name, tfjsVersion: tf.version_core, threads: 1 };
  if (name === 'tensorflow') {
    info.threads = nativeThreads();
    const version = tensorflowVersion(tf);
    if (version) info.tensorflowVersion = version;
    if (probe?.library) info.library = probe.library;
    return info;
  }
  if (name === 'wasm') {
    // tfjs 4.22 never loads the threaded wasm build in Node (tfjs#3830): XNNPACK reports 1.
    info.threads = wasmThreads();
    info.library = join(wasmDir(), 'tfjs-backend-wasm-simd.wasm');
  } else {
    info.library = 'pure JavaScript kernels (@tensorflow/tfjs-backend-cpu)';
  }
  info.reasonNativeUnavailable = probe
    ? probe.ok
      ? `native TensorFlow is available but '${name}' was requested`
      : probe.reason
    : `native TensorFlow was not tried ('${name}' was requested)`;
  if (!probe || !probe.ok) info.fix = NATIVE_FIX_COMMAND;
  return info;
}

let current: { tf: Tf; info: BackendInfo } | undefined;
let wasmFailed = false;

/** What the last loadBackend of this process loaded (its threads, for an engine beside it). */
export function activeBackendInfo(): BackendInfo | undefined {
  return current?.info;
}

/** Load tf with the preferred backend ('auto': native when it loads, else wasm), log which. */
export async function loadBackend(
  preference: 'auto' | BackendName,
  log: (line: string) => void = () => {},
): Promise<{ tf: Tf; info: BackendInfo }> {
  const tf = await loadTf();
  let name: BackendName;
  let probe: NativeProbe | undefined;
  if (preference === 'tensorflow') {
    probe = probeNative(tf);
    if (!probe.ok) {
      throw new WindcastError('backend', `native TensorFlow is not available: ${probe.reason}. Fix: ${NATIVE_FIX_COMMAND}`);
    }
    name = 'tensorflow';
  } else if (preference === 'auto') {
    // 'auto' means the same backend in every call of a process, whatever was asked before.
    probe = probeNative(tf);
    name = probe.ok ? 'tensorflow' : wasmFailed ? 'cpu' : 'wasm';
  } else {
    // An explicit wasm/cpu run does not pay for loading libtensorflow (about a second and
    // 850 MB of mappings) just to report on it; doctor probes separately.
    name = preference;
  }
  if (current && current.info.name === name && activeBackend(tf) === name) {
    // Same backend, same tf; only the explanation may differ ('auto' vs an explicit choice).
    current = { tf, info: describe(tf, name, probe) };
    return current;
  }
  try {
    await activate(tf, name);
  } catch (err) {
    if (name === 'wasm') wasmFailed = true;
    if (preference !== 'auto' || name === 'cpu') {
      throw err instanceof WindcastError ? err : new WindcastError('backend', `backend '${name}' failed: ${describeError(err)}`, { cause: err });
    }
    log(`backend: ${name} failed (${describeError(err)}); falling back to cpu`);
    name = 'cpu';
    await activate(tf, name);
  }
  const info = describe(tf, name, probe);
  current = { tf, info };
  log(formatBackendLine(info));
  return current;
}

/**
 * Whether native TensorFlow loads in this process, without making it the active backend
 * (tfjs-node selects itself on load, so the previous backend is restored).
 */
export async function probeNativeBackend(): Promise<NativeProbe> {
  const tf = await loadTf();
  const before = activeBackend(tf);
  const probe = probeNative(tf);
  if (before && activeBackend(tf) !== before) await tf.setBackend(before);
  return probe;
}

/** One line for logs: which backend, which version, how many threads, and why not native. */
export function formatBackendLine(info: BackendInfo): string {
  const version = info.tensorflowVersion ? `, TensorFlow ${info.tensorflowVersion}` : '';
  const why = info.reasonNativeUnavailable && info.fix ? ` (native unavailable: ${info.reasonNativeUnavailable}; enable with: ${info.fix})` : '';
  return `backend: ${info.name} (tfjs ${info.tfjsVersion}${version}, ${info.threads} thread${info.threads === 1 ? '' : 's'})${why}`;
}
