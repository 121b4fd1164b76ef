/**
 * `windcast doctor`: which TensorFlow.js backend windcast will use and why.
 *
 * Reports the backend the configuration selects (runtime.backend, 'auto' by default), its
 * TensorFlow version and thread counts, where the kernels come from, and, when native
 * TensorFlow is not the active backend, the reason and the exact command that fixes it.
 * A backend that cannot load is a finding here, not an error: doctor exists for that case.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  NATIVE_FIX_COMMAND, loadBackend, packageDir, probeNativeBackend, readNativeMarker,
  type BackendInfo, type NativeMarker,
} from '../runtime/backend.js';
import type { CommandContext } from './context.js';
import { loadLstmOps, whyNotLoaded, type LstmOpsStatus } from '../runtime/lstm-kernels.js';
import { describeError } from '../core/errors.js';
import type { BackendPreference } from '../core/config.js';

export interface DoctorResult {
  /** runtime.backend from the configuration. */
  configured: BackendPreference;
  /** The backend windcast runs on with this configuration; absent when it cannot load. */
  backend?: BackendInfo;
  /** Why the configured backend cannot load (then every command needing tf fails the same way). */
  backendError?: string;
  native: {
    available: boolean;
    active: boolean;
    tfjsNodeVersion?: string;
    library?: string;
    /** What scripts/setup-native.mjs recorded (wheel, hash, cache folder). */
    setup?: NativeMarker;
    reason?: string;
    fix?: string;
    /** TensorFlow's thread-pool variables as set in this environment. */
    env: Record<string, string>;
    /** windcast's fused LSTM kernels (native/lstm_ops.cc), when native TensorFlow is active. */
    lstmOps?: LstmOpsStatus;
  };
  node: string;
  platform: string;
  cpus: number;
}

const TF_ENV = ['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'OMP_NUM_THREADS', 'TF_ENABLE_ONEDNN_OPTS'];

export async function doctor(_args: Record<string, never> | object, ctx: CommandContext): Promise<DoctorResult> {
  const configured = ctx.config.runtime.backend;
  const result: DoctorResult = {
    configured,
    native: { available: false, active: false, env: {} },
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: availableParallelism(),
  };
  for (const name of TF_ENV) {
    const value = process.env[name];
    if (value !== undefined) result.native.env[name] = value;
  }
  let tf: Awaited<ReturnType<typeof loadBackend>>['tf'] | undefined;
  try {
    const loaded = await loadBackend(configured);
    result.backend = loaded.info;
    tf = loaded.tf;
  } catch (err) {
    result.backendError = describeError(err);
  }
  const probe = await probeNativeBackend();
  result.native.available = probe.ok;
  result.native.active = result.backend?.name === 'tensorflow';
  if (probe.tfjsNodeVersion) result.native.tfjsNodeVersion = probe.tfjsNodeVersion;
  if (probe.library) result.native.library = probe.library;
  const dir = packageDir('@tensorflow/tfjs-node');
  const marker = dir ? readNativeMarker(dir) : undefined;
  if (marker) result.native.setup = marker;
  if (!result.native.active) {
    if (probe.ok) {
      result.native.reason = `native TensorFlow loads, but the configuration asks for '${configured}'`;
      result.native.fix = `pass --backend auto (or tensorflow), or set "runtime": {"backend": "auto"} in the --config file`;
    } else {
      result.native.reason = probe.reason ?? 'unknown';
      result.native.fix = NATIVE_FIX_COMMAND;
    }
  }
  if (dir && !existsSync(join(dir, 'package.json'))) result.native.reason ??= `${dir} is incomplete`;
  if (result.native.active && tf) result.native.lstmOps = loadLstmOps(tf);
  return result;
}

function threadsLine(info: BackendInfo, env: Record<string, string>): string {
  if (info.name === 'tensorflow') {
    const intra = env.TF_NUM_INTRAOP_THREADS ? 'TF_NUM_INTRAOP_THREADS' : 'one per CPU; set TF_NUM_INTRAOP_THREADS to change';
    const inter = env.TF_NUM_INTEROP_THREADS ?? 'one per CPU';
    return `${info.threads} intra-op (${intra}), inter-op ${inter}`;
  }
  if (info.name === 'wasm') return `${info.threads} (tfjs 4.22 loads only the single-threaded SIMD build in Node)`;
  return `${info.threads} (JavaScript main thread)`;
}

export function formatDoctorResult(r: DoctorResult): string {
  const rows: [string, string][] = [];
  if (r.backend) {
    const b = r.backend;
    rows.push(['backend', `${b.name} (runtime.backend: ${r.configured})`]);
    if (b.tensorflowVersion) rows.push(['TensorFlow', `${b.tensorflowVersion}${r.native.tfjsNodeVersion ? ` via @tensorflow/tfjs-node ${r.native.tfjsNodeVersion}` : ''}`]);
    rows.push(['tfjs', b.tfjsVersion]);
    rows.push(['threads', threadsLine(b, r.native.env)]);
    if (b.library) rows.push(['library', b.library]);
  } else {
    rows.push(['backend', `none: ${r.backendError ?? 'unknown error'}`]);
  }
  const ops = r.native.lstmOps;
  if (ops) {
    rows.push(['LSTM kernels', ops.loaded
      ? `windcast's fused forward and backward kernels (${ops.library})`
      : `TensorFlow ops (fused kernels not loaded: ${whyNotLoaded(ops)})`]);
  }
  if (r.native.setup?.cacheDir) rows.push(['cache', r.native.setup.cacheDir]);
  if (!r.native.active) {
    rows.push(['native', `not active: ${r.native.reason ?? 'unknown'}`]);
    if (r.native.fix) rows.push(['fix', r.native.fix]);
  }
  rows.push(['machine', `${r.platform}, ${r.cpus} CPUs, Node ${r.node}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
