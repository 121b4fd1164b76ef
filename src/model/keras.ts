/**
 * The network as a Keras 3 `.keras` file, written by Keras itself: scripts/keras_export.py
 * builds it from standard Keras layers (LSTM, Dense, Flatten, Add, Activation; the quantile
 * head's fixed parts as non-trainable Dense layers) and saves it. This module hands it the
 * network (network.ts) as JSON and runs it.
 *
 * Why Python: a .keras file is a zip of Keras's own serialised config (class paths, build
 * configs, the functional graph's inbound nodes) and an HDF5 file laid out by Keras's saving
 * code, which changes between Keras versions; Keras writing it is the only way it stays
 * loadable. So this format is optional: it needs Python with keras 3 and a backend (tensorflow,
 * jax or torch); WINDCAST_PYTHON names the interpreter (default python3).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WindcastError } from '../core/errors.js';
import { quantileMatrices, type NetworkWeights } from './network.js';

export const KERAS_SCRIPT = fileURLToPath(new URL('../../../scripts/keras_export.py', import.meta.url));

/** The Python that runs Keras: WINDCAST_PYTHON, else python3. */
export function kerasPython(): string {
  return process.env.WINDCAST_PYTHON || 'python3';
}

/** The network as the JSON keras_export.py reads (typed arrays as lists). */
function networkJson(net: NetworkWeights): string {
  const extra = net.quantiles ? quantileMatrices(net.quantiles, net.horizon) : undefined;
  const quantiles = net.quantiles && extra ? { ...net.quantiles, stepScale: extra.stepScale, cumulative: extra.cumulative } : undefined;
  return JSON.stringify({ ...net, ...(quantiles ? { quantiles } : {}) }, (_key, value) => (value instanceof Float32Array ? Array.from(value) : value));
}

/** Run keras_export.py; a missing Python or Keras is a clear error saying the format is optional. */
export function runKeras(args: string[], what: string): string {
  const python = kerasPython();
  const r = spawnSync(python, [KERAS_SCRIPT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
  if (r.error) throw new WindcastError('backend', `${what} needs Python with keras 3 (optional; e.g. pip install keras tensorflow-cpu): cannot run ${python} (${r.error.message})`, { cause: r.error });
  if (r.status !== 0) {
    const err = (r.stderr || r.stdout || '').trim().split('\n');
    const noKeras = err.some((l) => /No module named '(keras|tensorflow|jax|torch)'/.test(l));
    const last = err[err.length - 1] ?? '';
    throw new WindcastError('backend', noKeras
      ? `${what} needs Python with keras 3 and a backend (optional; e.g. ${python} -m pip install keras tensorflow-cpu): ${last}`
      : `${what}: ${python} ${KERAS_SCRIPT} failed: ${last}`);
  }
  return r.stdout;
}

/** Write net as a .keras file at `out` (atomically: keras_export.py saves beside it, then renames). */
export function writeKerasModel(net: NetworkWeights, out: string): { keras: string; backend: string; params: number } {
  const dir = mkdtempSync(join(tmpdir(), 'windcast-keras-'));
  try {
    const json = join(dir, 'network.json');
    writeFileSync(json, networkJson(net));
    const stdout = runKeras(['save', json, out], `${out}: the keras format`);
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
