/**
 * Checkpoints: self-describing folders that are never half-written.
 *
 * models/NAME/last/ is written after every epoch, models/NAME/best/ on each validation
 * improvement. A folder holds model.json (tfjs-layers topology + weights manifest, loadable by
 * tf.loadLayersModel too), weights.bin, norm.bin (per-cell mean and std), optimizer.json +
 * optimizer.bin (Adam state) and meta.json (config, feature spec, grid, split, stats, epoch,
 * losses, data fingerprint, versions, backend, and a sha256 of every other file).
 *
 * Writing: everything goes to a temporary sibling folder, each file and the folder are fsynced,
 * the current folder is renamed to NAME/<kind>.prev and the temporary one into place, then the
 * parent is fsynced. Killed at any moment, one of <kind> or <kind>.prev is complete, and
 * loading falls back to <kind>.prev when <kind> is missing. meta.json's schema is in
 * checkpoint-meta.ts, the run folder's lock in run-lock.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Tf } from '../runtime/backend.js';
import { storedTensor } from '../prepare/batches.js';
import { fsyncDir, temporarySibling, writeFileSynced } from '../core/atomic.js';
import { CheckpointError, describeError } from '../core/errors.js';
import { packStats, unpackStats, type NormStats } from '../prepare/normalize.js';
import { readMeta, type CheckpointKind, type CheckpointMeta } from './checkpoint-meta.js';

// The checkpoint's public face: callers import meta.json's schema and reader from here too.
export { CheckpointMetaSchema, readMeta, type CheckpointKind, type CheckpointMeta } from './checkpoint-meta.js';

type LayersModel = ReturnType<Tf['model']>;
type Optimizer = ReturnType<Tf['train']['adam']>;

export interface CheckpointPayload {
  model: LayersModel;
  optimizer?: Optimizer;
  stats: NormStats;
  meta: Omit<CheckpointMeta, 'files' | 'kind' | 'savedAt'>;
}

/** Test hook: called after each file is written (a test kills the process here). */
export type WriteHook = (stage: string) => void;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function joinBuffers(parts: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  if (!Array.isArray(parts)) return new Uint8Array(parts);
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), off);
    off += p.byteLength;
  }
  return out;
}

/** The model's topology and weights as bytes, through a tfjs save handler. */
async function modelArtifacts(tf: Tf, model: LayersModel): Promise<{ modelJson: string; weights: Uint8Array }> {
  let captured: Parameters<Parameters<Tf['io']['withSaveHandler']>[0]>[0] | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!captured || !captured.weightData || !captured.weightSpecs) throw new CheckpointError('tfjs returned no weights when saving the model');
  const weights = joinBuffers(captured.weightData as ArrayBuffer | ArrayBuffer[]);
  const modelJson = JSON.stringify({
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: null,
    modelTopology: captured.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: captured.weightSpecs }],
  });
  return { modelJson, weights };
}

interface OptimizerEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
}

async function optimizerArtifacts(optimizer: Optimizer): Promise<{ json: string; bin: Uint8Array }> {
  const named = await optimizer.getWeights();
  const entries: OptimizerEntry[] = [];
  const chunks: Uint8Array[] = [];
  try {
    for (const { name, tensor } of named) {
      const data = await tensor.data();
      const dtype = tensor.dtype === 'int32' ? 'int32' : 'float32';
      const typed = dtype === 'int32' ? Int32Array.from(data as ArrayLike<number>) : Float32Array.from(data as ArrayLike<number>);
      entries.push({ name, shape: [...tensor.shape], dtype });
      chunks.push(new Uint8Array(typed.buffer));
    }
  } finally {
    // getWeights makes a fresh scalar for the iteration count; the moments are live variables.
    for (const { name, tensor } of named) if (name === 'iter') tensor.dispose();
  }
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  const bin = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    bin.set(c, off);
    off += c.byteLength;
  }
  return { json: JSON.stringify({ className: 'Adam', weights: entries }), bin };
}

/** Write a checkpoint atomically into runDir/<kind>. */
export async function writeCheckpoint(tf: Tf, runDir: string, kind: CheckpointKind, payload: CheckpointPayload, hook?: WriteHook): Promise<string> {
  mkdirSync(runDir, { recursive: true });
  const target = join(runDir, kind);
  const tmp = temporarySibling(target);
  const { modelJson, weights } = await modelArtifacts(tf, payload.model);
  const opt = payload.optimizer ? await optimizerArtifacts(payload.optimizer) : undefined;
  const files: Record<string, Uint8Array | string> = {
    'model.json': modelJson,
    'weights.bin': weights,
    'norm.bin': packStats(payload.stats),
  };
  if (opt) {
    files['optimizer.json'] = opt.json;
    files['optimizer.bin'] = opt.bin;
  }
  try {
    mkdirSync(tmp);
    const entries: CheckpointMeta['files'] = {};
    for (const [name, data] of Object.entries(files)) {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      writeFileSynced(join(tmp, name), bytes);
      entries[name] = { bytes: bytes.byteLength, sha256: sha256(bytes) };
      hook?.(name);
    }
    const meta: CheckpointMeta = { ...payload.meta, kind, savedAt: new Date().toISOString(), files: entries };
    writeFileSynced(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
    hook?.('meta.json');
    fsyncDir(tmp);
    const prev = `${target}.prev`;
    if (existsSync(target)) {
      rmSync(prev, { recursive: true, force: true });
      renameSync(target, prev);
      hook?.('moved-previous');
    }
    renameSync(tmp, target);
    fsyncDir(runDir);
    hook?.('renamed');
    return target;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (err instanceof CheckpointError) throw err;
    throw new CheckpointError(`${target}: cannot write checkpoint (${describeError(err)})`, { cause: err });
  }
}

/**
 * Which folder to read for `dir`: a checkpoint folder itself, or a run folder (best, else
 * last), falling back to <kind>.prev when a write was killed between its two renames.
 */
export function resolveCheckpointDir(dir: string, prefer: CheckpointKind = 'best'): string {
  const abs = resolve(dir);
  if (existsSync(join(abs, 'meta.json'))) return abs;
  if (!existsSync(abs)) {
    if (existsSync(join(`${abs}.prev`, 'meta.json'))) return `${abs}.prev`;
    throw new CheckpointError(`${abs}: no such checkpoint folder`);
  }
  const order: CheckpointKind[] = prefer === 'best' ? ['best', 'last'] : ['last', 'best'];
  for (const kind of order) {
    for (const candidate of [join(abs, kind), join(abs, `${kind}.prev`)]) {
      if (existsSync(join(candidate, 'meta.json'))) return candidate;
    }
  }
  throw new CheckpointError(`${abs}: not a checkpoint (no meta.json) and holds no best/ or last/ checkpoint`);
}

export interface LoadedCheckpoint {
  dir: string;
  meta: CheckpointMeta;
  stats: NormStats;
  model: LayersModel;
  /** Raw optimizer state, if saved; restore with restoreOptimizer. */
  optimizerState?: { entries: OptimizerEntry[]; bin: Uint8Array };
}

function readChecked(dir: string, meta: CheckpointMeta, name: string): Buffer {
  const entry = meta.files[name];
  if (!entry) throw new CheckpointError(`${join(dir, 'meta.json')}: lists no ${name}`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(dir, name));
  } catch (err) {
    throw new CheckpointError(`${join(dir, name)}: cannot read (${describeError(err)})`, { cause: err });
  }
  if (bytes.byteLength !== entry.bytes || sha256(bytes) !== entry.sha256) {
    throw new CheckpointError(`${join(dir, name)}: corrupt (size or sha256 differs from meta.json)`);
  }
  return bytes;
}

/** Load a checkpoint: meta, statistics and model (weights verified against meta.json). */
export async function loadCheckpoint(tf: Tf, dir: string, prefer: CheckpointKind = 'best'): Promise<LoadedCheckpoint> {
  const ckDir = resolveCheckpointDir(dir, prefer);
  const meta = readMeta(ckDir);
  const modelBytes = readChecked(ckDir, meta, 'model.json');
  const weights = readChecked(ckDir, meta, 'weights.bin');
  const norm = readChecked(ckDir, meta, 'norm.bin');
  let stats: NormStats;
  try {
    stats = unpackStats(norm, { ...meta.normalization });
  } catch (err) {
    throw new CheckpointError(`${join(ckDir, 'norm.bin')}: ${describeError(err)}`, { cause: err });
  }
  let model: LayersModel;
  try {
    const json = JSON.parse(modelBytes.toString('utf8'));
    const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
    if (meta.model.lstm === 'fast') (await import('./lstm-fast.js')).registerFastLstm(tf);
    if (meta.model.quantiles?.length) (await import('./quantile-head.js')).registerQuantileHead(tf);
    model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
  } catch (err) {
    throw new CheckpointError(`${join(ckDir, 'model.json')}: cannot rebuild the model (${describeError(err)})`, { cause: err });
  }
  let optimizerState: LoadedCheckpoint['optimizerState'];
  if (meta.files['optimizer.json'] && meta.files['optimizer.bin']) {
    const json = JSON.parse(readChecked(ckDir, meta, 'optimizer.json').toString('utf8')) as { weights: OptimizerEntry[] };
    optimizerState = { entries: json.weights, bin: new Uint8Array(readChecked(ckDir, meta, 'optimizer.bin')) };
  }
  return { dir: ckDir, meta, stats, model, optimizerState };
}

/**
 * Restore Adam's iteration count and moments. Returns what could not be restored (empty when
 * everything was); the caller logs it. The moments are matched to the variables by order and
 * checked by shape.
 */
export async function restoreOptimizer(tf: Tf, optimizer: Optimizer, state: NonNullable<LoadedCheckpoint['optimizerState']>, variables: { shape: number[] }[]): Promise<string[]> {
  const { entries, bin } = state;
  if (entries.length !== 1 + 2 * variables.length || entries[0]?.name !== 'iter') {
    return [`optimizer state has ${entries.length} entries, the model needs ${1 + 2 * variables.length} (iteration count + 2 moments per variable): moments and step count start afresh`];
  }
  for (let i = 0; i < variables.length; i++) {
    for (const e of [entries[1 + i]!, entries[1 + variables.length + i]!]) {
      if (e.shape.join('x') !== variables[i]!.shape.join('x')) {
        return [`optimizer moment ${e.name} has shape ${e.shape.join('x')}, variable ${i} has ${variables[i]!.shape.join('x')}: moments and step count start afresh`];
      }
    }
  }
  const tensors = [];
  let off = 0;
  const copy = new Uint8Array(bin);
  for (const e of entries) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const values = e.dtype === 'int32' ? new Int32Array(copy.buffer, off, n) : new Float32Array(copy.buffer, off, n);
    off += n * 4;
    tensors.push({ name: e.name, tensor: storedTensor(tf, values, e.shape, e.dtype) });
  }
  try {
    await optimizer.setWeights(tensors);
  } finally {
    for (const t of tensors) t.tensor.dispose();
  }
  return [];
}

