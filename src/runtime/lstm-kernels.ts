/**
 * windcast's fused LSTM kernels for native TensorFlow (native/lstm_ops.cc): where they live,
 * whether the build is current for this source and this CPU, and loading them once.
 *
 * scripts/setup-native.mjs compiles native/lstm_ops.cc against the tensorflow-cpu wheel it
 * took libtensorflow from and puts the result beside that library, in tfjs-node's deps/lib,
 * with a small JSON record of what it was built from. Loading it (Node's require, as an N-API
 * module) registers the ops WindcastLstm and WindcastLstmGrad with the TensorFlow that tfjs-node
 * loaded; tfjs-node then runs them like any built-in op. Everything here degrades to "not loaded, because ...":
 * src/model/lstm-fast.ts then uses TensorFlow's BlockLSTM forward and its TensorFlow-ops backward
 * pass, which compute the same thing.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Tf } from './backend.js';
import { NATIVE_FIX_COMMAND, PROJECT_ROOT, packageDir } from './backend.js';
import { describeError } from '../core/errors.js';

type Tensor = ReturnType<Tf['tensor']>;

const require = createRequire(import.meta.url);

/** File names in tfjs-node's deps/lib (scripts/setup-native.mjs writes them). */
export const LSTM_OPS_LIBRARY = 'windcast_lstm_ops.node';
export const LSTM_OPS_RECORD = 'windcast_lstm_ops.json';
export const LSTM_OPS_SOURCE = join(PROJECT_ROOT, 'native', 'lstm_ops.cc');

/** What setup-native records beside the library. */
export interface LstmOpsRecord {
  /** sha256 of native/lstm_ops.cc the library was compiled from. */
  sourceSha256: string;
  /** /proc/cpuinfo flags the compiled code needs (from its -march level). */
  cpuFlags: string[];
  march?: string;
  compiler?: string;
  builtAt?: string;
}

export interface LstmOpsStatus {
  loaded: boolean;
  library?: string;
  reason?: string;
  fix?: string;
  /** Loaded kernels whose bf16 inference (WindcastLstmLastBf16) cannot run here: why (no AVX512_BF16, a build without AVX-512). */
  noBf16?: string;
}

interface NativeExecutor {
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: unknown[], numOutputs: number): Tensor[];
}

let status: LstmOpsStatus | undefined;

/** Why the kernels did not load, with the fix when there is one: "reason; fix: command". */
export function whyNotLoaded(ops: LstmOpsStatus): string {
  return `${ops.reason ?? 'unknown'}${ops.fix ? `; fix: ${ops.fix}` : ''}`;
}

function cpuFlags(): Set<string> {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set((line?.split(':')[1] ?? '').trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Why the built library cannot be used here (stale, other CPU, missing), or undefined. */
export function checkLstmOpsBuild(library: string, recordFile: string): string | undefined {
  if (!existsSync(library) || !existsSync(recordFile)) return `not built (${library} is missing)`;
  let record: LstmOpsRecord;
  try {
    record = JSON.parse(readFileSync(recordFile, 'utf8')) as LstmOpsRecord;
  } catch (err) {
    return `${recordFile} is unreadable (${describeError(err)})`;
  }
  if (existsSync(LSTM_OPS_SOURCE) && sha256(LSTM_OPS_SOURCE) !== record.sourceSha256) {
    return `built from an older ${LSTM_OPS_SOURCE}`;
  }
  // Code compiled for instructions this CPU lacks dies with SIGILL, which nothing can catch.
  const have = cpuFlags();
  const missing = (record.cpuFlags ?? []).filter((f) => !have.has(f));
  if (missing.length > 0) return `built for a CPU with ${missing.join(', ')}, which this one lacks`;
  return undefined;
}

/**
 * Load the fused kernels into the native backend once per process and check that the op
 * runs. WINDCAST_LSTM_OPS=0 turns them off (to compare against the TensorFlow-ops path).
 */
export function loadLstmOps(tf: Tf): LstmOpsStatus {
  if (status) return status;
  if (process.env.WINDCAST_LSTM_OPS === '0') return (status = { loaded: false, reason: 'turned off by WINDCAST_LSTM_OPS=0' });
  if (tf.getBackend() !== 'tensorflow') return { loaded: false, reason: 'they need the native TensorFlow backend' };
  const dir = packageDir('@tensorflow/tfjs-node');
  if (!dir) return (status = { loaded: false, reason: '@tensorflow/tfjs-node is not installed' });
  const library = join(dir, 'deps', 'lib', LSTM_OPS_LIBRARY);
  const problem = checkLstmOpsBuild(library, join(dir, 'deps', 'lib', LSTM_OPS_RECORD));
  if (problem) return (status = { loaded: false, library, reason: problem, fix: NATIVE_FIX_COMMAND });
  try {
    require(library);
    probeOp(tf);
  } catch (err) {
    return (status = { loaded: false, library, reason: `does not load: ${describeError(err)}`, fix: NATIVE_FIX_COMMAND });
  }
  const noBf16 = probeBf16(tf);
  return (status = { loaded: true, library, ...(noBf16 ? { noBf16 } : {}) });
}

/** Run WindcastLstmLastBf16 on one row of 16 units: undefined when it runs, else the kernel's reason. */
function probeBf16(tf: Tf): string | undefined {
  const backend = tf.backend() as unknown as NativeExecutor;
  const inputs = [tf.zeros([1, 1, 2]), tf.zeros([2, 64]), tf.zeros([16, 64]), tf.zeros([64])];
  try {
    tf.dispose(backend.executeMultipleOutputs('WindcastLstmLastBf16', [], inputs, 1));
    return undefined;
  } catch (err) {
    return `the kernels refused it: ${describeError(err).split('\n').find((l) => l.includes('WindcastLstmLastBf16')) ?? 'no AVX512_BF16'}`;
  } finally {
    tf.dispose(inputs);
  }
}

/** Run both ops on one hour of one row: throws when they are not registered or compute wrong. */
function probeOp(tf: Tf): void {
  const backend = tf.backend() as unknown as NativeExecutor;
  tf.tidy(() => {
    // Forward with zero weights: every gate is sigmoid(0) = 0.5, ci = tanh(0) = 0, so h = 0.
    const forward = backend.executeMultipleOutputs('WindcastLstm', [], [tf.ones([1, 1, 1]), tf.zeros([1, 4]), tf.zeros([1, 4]), tf.zeros([4])], 7);
    const gate = forward[0]!.dataSync()[0]!;
    if (forward.length !== 7 || Math.abs(gate - 0.5) > 1e-6) throw new Error(`WindcastLstm returned ${forward.length} outputs, input gate ${gate} (expected 7, 0.5)`);
    const a = tf.fill([1, 1, 1], 0.5);
    const out = backend.executeMultipleOutputs('WindcastLstmGrad', [], [a, a, a, a, a, a, tf.ones([1, 4]), tf.ones([1, 1])], 1)[0]!;
    // do = dh co o (1 - o) = 0.125: a wrong or misloaded kernel does not give that.
    const go = out.dataSync()[3]!;
    if (out.shape.join('x') !== '1x1x4' || Math.abs(go - 0.125) > 1e-6) {
      throw new Error(`WindcastLstmGrad returned shape ${out.shape.join('x')}, o-gate gradient ${go} (expected 1x1x4, 0.125)`);
    }
  });
}

/**
 * Free the fused kernels' idle output buffers (WindcastReleaseBuffers): they keep each output's
 * memory for the next call of the same size, and after the epochs the training step's (168 MiB
 * on the global month) would stay with the process unused. Returns the MiB freed (0 without
 * the kernels). Call it only between phases: the next training step allocates them afresh.
 */
export function releaseLstmBuffers(tf: Tf): number {
  if (!status?.loaded || tf.getBackend() !== 'tensorflow') return 0;
  const backend = tf.backend() as unknown as NativeExecutor;
  const [freed] = backend.executeMultipleOutputs('WindcastReleaseBuffers', [], [], 1);
  try {
    return freed!.dataSync()[0]!;
  } finally {
    freed!.dispose();
  }
}
