/**
 * `windcast export`: a checkpoint as a standard model file for other runtimes.
 *
 *  - onnx: the whole network, the change from the last hour and the denormalisation in one ONNX
 *    graph with a standard LSTM (model/onnx.ts, form 'speed'); onnxruntime in any language runs it.
 *  - keras: the network from standard Keras layers as a Keras 3 .keras file (model/keras.ts),
 *    normalised outputs as windcast's model gives them, for retraining; written by Keras, so
 *    optional (needs Python with keras). The sidecar's outputs say how to denormalise.
 *
 * Beside the model file: a sidecar JSON (<stem>.json) saying how to build the feature tensor
 * (channels in order, rings, time and position features, normalisation) and what the outputs
 * are, and the per-cell normalisation statistics (<stem>.norm.f32: float32 little-endian
 * [2, height, width], mean then std, m/s). docs/export.md walks through using them from Python.
 * Every file is written atomically; the command returns what it wrote.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { writeFileAtomicSync } from '../core/atomic.js';
import { WindcastError, DataError } from '../core/errors.js';
import { loadBackend } from '../runtime/backend.js';
import { loadCheckpoint, type CheckpointMeta } from '../model/checkpoint.js';
import { networkWeights } from '../model/network.js';
import { onnxModel, ONNX_OPSET } from '../model/onnx.js';
import { writeKerasModel } from '../model/keras.js';
import type { NormStats } from '../prepare/normalize.js';
import type { CommandContext } from './context.js';

export type ExportFormat = 'onnx' | 'keras';

export interface ExportArgs {
  /** Checkpoint folder, or a run folder (best/ is used, else last/). */
  model: string;
  format: ExportFormat;
  /** The model file to write (e.g. windcast.onnx); the sidecars go beside it. */
  out: string;
}

export interface ExportResult {
  checkpoint: string;
  run: string;
  epoch: number;
  format: ExportFormat;
  model: string;
  sidecar: string;
  norm: string;
  bytes: number;
  quantileLevels: number[];
}

/** What the sidecar JSON holds: everything a user needs to build inputs and read outputs. */
export function sidecar(meta: CheckpointMeta, format: ExportFormat, files: { model: string; norm: string }): Record<string, unknown> {
  const f = meta.features;
  const levels = meta.model.quantiles ?? [];
  return {
    format: 'windcast-export',
    formatVersion: 1,
    model: { file: files.model, format, ...(format === 'onnx' ? { opset: ONNX_OPSET } : { keras: 'keras_export.py: standard layers; outputs normalised (see outputs.denormalise)' }) },
    run: meta.run,
    epoch: meta.epoch,
    trainedOn: { first: meta.data.firstHour, last: meta.data.lastHour, fingerprint: meta.data.fingerprint },
    grid: meta.grid,
    inputs: {
      window: {
        shape: ['N', f.lookback, f.nFeatures],
        dtype: 'float32',
        hours: `the ${f.lookback} hours ending at the issue hour (oldest first)`,
        channels: f.names,
      },
      ...(format === 'onnx'
        ? {
            cell_mean: { shape: ['N', 1], dtype: 'float32', units: 'm/s', from: 'normalisation.file, plane 0, at the window\'s cell' },
            cell_std: { shape: ['N', 1], dtype: 'float32', units: 'm/s', from: 'normalisation.file, plane 1, at the window\'s cell' },
          }
        : {}),
    },
    features: {
      lookback: f.lookback,
      horizon: f.horizon,
      ringsDeg: f.ringsDeg,
      uv: f.uv,
      dayOfYear: f.dayOfYear,
      position: f.position,
      heightM: f.heightM,
      otherHeightM: f.otherHeightM,
      variables: f.variables,
      poles: f.poles,
      predictDelta: f.predictDelta,
    },
    normalisation: {
      mode: meta.normalization.mode,
      file: files.norm,
      layout: `float32 little-endian [2, ${meta.grid.height}, ${meta.grid.width}]: per-cell mean, then per-cell standard deviation of the training period's speed (m/s), rows north to south as the grid`,
    },
    outputs: {
      ...(format === 'onnx'
        ? {
            speed: { shape: ['N', f.horizon], units: 'm/s', leads: `+1..+${f.horizon} h after the issue hour` },
            ...(levels.length > 0 ? { quantiles: { shape: ['N', f.horizon, levels.length], units: 'm/s', levels, order: 'non-decreasing along the last axis' } } : {}),
          }
        : {
            point: { shape: ['N', f.horizon], units: 'normalised', leads: `+1..+${f.horizon} h after the issue hour` },
            ...(levels.length > 0 ? { quantiles: { shape: ['N', f.horizon * levels.length], units: 'normalised', levels, layout: 'lead-major: lead j, level k at j * levels + k' } } : {}),
            denormalise: `m/s = max(0, reference + cell_std * output), reference = ${f.predictDelta ? 'the last input hour\'s speed (window[:, -1, 0] * cell_std + cell_mean)' : 'cell_mean'}`,
          }),
      nodata: 'windows whose centre cell has a missing input hour are fed as zeros; set their outputs to NaN',
    },
    docs: 'docs/export.md in the windcast repository',
  };
}

function packNorm(stats: NormStats): Uint8Array {
  const n = stats.mean.length;
  const out = new Float32Array(2 * n);
  out.set(stats.mean, 0);
  out.set(stats.std, n);
  return new Uint8Array(out.buffer);
}

export async function exportModel(args: ExportArgs, ctx: CommandContext): Promise<ExportResult> {
  const { config, progress } = ctx;
  const out = resolve(args.out);
  const dir = dirname(out);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataError(dir, '--out must be a file in an existing folder');
  if (existsSync(out) && statSync(out).isDirectory()) throw new DataError(out, '--out is a folder; give the model file to write, e.g. windcast.onnx or windcast.keras');
  const ext = extname(out);
  const wanted = args.format === 'onnx' ? '.onnx' : '.keras';
  if (ext !== wanted) throw new WindcastError('usage', `--out ${args.out}: an ${args.format} model file ends in ${wanted}`);
  const stem = join(dir, basename(out, ext));
  const backend = await loadBackend(config.runtime.backend, (line) => progress.log(line));
  const loaded = await loadCheckpoint(backend.tf, args.model, 'best');
  try {
    const { meta } = loaded;
    const net = networkWeights(loaded.model, meta);
    const normFile = `${stem}.norm.f32`;
    const sidecarFile = `${stem}.json`;
    if (args.format === 'onnx') writeFileAtomicSync(out, onnxModel(net, { form: 'speed', metadata: { run: meta.run, epoch: String(meta.epoch), checkpoint: loaded.dir } }));
    else writeKerasModel(net, out);
    writeFileAtomicSync(normFile, packNorm(loaded.stats));
    writeFileAtomicSync(sidecarFile, JSON.stringify(sidecar(meta, args.format, { model: basename(out), norm: basename(normFile) }), null, 2) + '\n');
    return {
      checkpoint: loaded.dir,
      run: meta.run,
      epoch: meta.epoch,
      format: args.format,
      model: out,
      sidecar: sidecarFile,
      norm: normFile,
      bytes: statSync(out).size,
      quantileLevels: [...(meta.model.quantiles ?? [])],
    };
  } finally {
    loaded.model.dispose();
  }
}

export function formatExportResult(r: ExportResult): string {
  return [
    `Exported ${r.checkpoint} (run ${r.run}, epoch ${r.epoch}) as ${r.format}${r.quantileLevels.length ? ` with quantiles ${r.quantileLevels.join(', ')}` : ''}`,
    `  model    ${r.model} (${(r.bytes / 1024).toFixed(0)} KiB)`,
    `  sidecar  ${r.sidecar} (features, outputs)`,
    `  norm     ${r.norm} (per-cell mean and std)`,
  ].join('\n');
}
