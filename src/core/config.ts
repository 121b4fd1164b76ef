/**
 * The configuration schema: the single source of every default and of the Config type.
 *
 * config/default.json is validated against it (strict objects, so a misspelled key fails
 * loudly); --config FILE selects another file; CLI flags override parsed values. Commander
 * carries no defaults of its own: --help reads them from here.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError, describeError } from './errors.js';

const isoHour = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}(:\d{2}(:\d{2})?)?Z?$/, 'an ISO hour like 2024-01-01T00Z');

export const SynthConfigSchema = z.strictObject({
  hours: z.number().int().positive().default(720),
  seed: z.number().int().default(42),
  start: isoHour.default('2024-01-01T00Z'),
  step: z.number().positive().max(10).default(0.25),
  /** W,S,E,N in degrees; null for the whole globe. */
  bbox: z.tuple([z.number(), z.number(), z.number(), z.number()]).nullable().default(null),
  bands: z.enum(['speed', 'uv']).default('speed'),
  compress: z.enum(['none', 'deflate']).default('deflate'),
  lon180: z.boolean().default(false),
});

export const IngestConfigSchema = z.strictObject({
  /** How timestamps are read from file names: 'auto' tries ISO then yyyymmddHH. */
  timePattern: z.enum(['auto', 'iso', 'yyyymmddHH', 'metadata']).default('auto'),
  /** Glob of files to read inside the data folder. */
  glob: z.string().default('*.tif'),
  /** Cube cache encoding: float32 is exact; int16 stores round(v / 0.01) (error <= 0.005 m/s). */
  cacheEncoding: z.enum(['float32', 'int16']).default('float32'),
  cache: z.boolean().default(true),
  /** Decoder threads; 0 means one per core. */
  workers: z.number().int().min(0).default(0),
});

export const ModelConfigSchema = z.strictObject({
  lookback: z.number().int().positive().default(24),
  horizon: z.number().int().positive().default(24),
  units: z.number().int().positive().default(64),
  layers: z.number().int().positive().max(4).default(1),
  dropout: z.number().min(0).max(0.9).default(0),
  /** Stencil ring radii in degrees: the mean speed on each ring is one feature per hour. */
  ringsDeg: z.array(z.number().positive()).default([0.25, 1, 4]),
  /** Predict the change from the last observed hour rather than the speed itself. */
  predictDelta: z.boolean().default(true),
  /** Normalise speed with each cell's own training-period mean and deviation, or one global pair. */
  normalization: z.enum(['cell', 'global']).default('cell'),
  /** A linear path from the inputs to the outputs beside the LSTM (starts as persistence). */
  linearSkip: z.boolean().default(true),
  /** Use u/v as features when the data has them. */
  useUV: z.boolean().default(true),
  /**
   * LSTM implementation: 'fast' (src/lstm-fast.ts: one fused BlockLSTM kernel per sequence on
   * native TensorFlow, sigmoid gates) or 'layers' (tf.layers.lstm, hard-sigmoid gates).
   */
  lstm: z.enum(['fast', 'layers']).default('fast'),
});

export const TrainConfigSchema = z.strictObject({
  epochs: z.number().int().positive().default(12),
  samplesPerEpoch: z.number().int().positive().default(300_000),
  /**
   * An epoch draws at most this many times the distinct training windows: on small datasets
   * (a few cells, a month) 300k samples would be a hundred passes between validations.
   */
  maxPassesPerEpoch: z.number().positive().default(4),
  validationSamples: z.number().int().positive().default(60_000),
  batchSize: z.number().int().positive().default(4096),
  learningRate: z.number().positive().default(3e-3),
  /** Multiply the learning rate by this factor when validation stalls for lrPatience epochs. */
  lrDecay: z.number().positive().max(1).default(0.5),
  lrPatience: z.number().int().min(1).default(2),
  patience: z.number().int().min(1).default(4),
  /** Fractions of the hours for train, validation and test, in time order. */
  split: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).default([0.7, 0.1, 0.2]),
  /** Stride between window starts, hours. */
  stride: z.number().int().positive().default(1),
  seed: z.number().int().default(42),
  backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
});

export const PredictConfigSchema = z.strictObject({
  /**
   * Cells per model call. Bounds memory: the fused LSTM keeps every hour's activations, about
   * 54 KB per cell, so 8192 cells peak near 1.2 GB for a global forecast where 65536 took
   * 4.2 GB, at the same speed (bench/predict.ts).
   */
  batchCells: z.number().int().positive().default(8192),
  multiband: z.boolean().default(false),
  png: z.boolean().default(false),
  interpolation: z.enum(['nearest', 'bilinear']).default('bilinear'),
  compress: z.enum(['none', 'deflate']).default('deflate'),
});

export const EvaluateConfigSchema = z.strictObject({
  /** Stride between test windows, hours. */
  stride: z.number().int().positive().default(6),
  /** Sample every Nth row and column; 1 (or --full) scores every cell. */
  cellStride: z.number().int().positive().default(4),
  /** Ridge penalty of the linear autoregressive baseline. */
  ridgeLambda: z.number().min(0).default(1e-3),
});

export const ConfigSchema = z.strictObject({
  synth: SynthConfigSchema.prefault({}),
  ingest: IngestConfigSchema.prefault({}),
  model: ModelConfigSchema.prefault({}),
  train: TrainConfigSchema.prefault({}),
  predict: PredictConfigSchema.prefault({}),
  evaluate: EvaluateConfigSchema.prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;
export type SynthConfig = Config['synth'];
export type IngestConfig = Config['ingest'];
export type ModelConfig = Config['model'];
export type TrainConfig = Config['train'];
export type PredictConfig = Config['predict'];
export type EvaluateConfig = Config['evaluate'];

/** Path of the shipped defaults file. */
export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL('../../../config/default.json', import.meta.url));

/** Parse and validate a config object; errors name the source and each bad key. */
export function parseConfig(raw: unknown, source: string): Config {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(`${source}: invalid configuration\n${z.prettifyError(result.error)}`);
  }
  const split = result.data.train.split;
  const total = split[0] + split[1] + split[2];
  if (Math.abs(total - 1) > 1e-6) {
    throw new ConfigError(`${source}: train.split must add up to 1 (got ${split.join(' + ')} = ${total})`);
  }
  return result.data;
}

/** Load a config file (default: config/default.json). */
export function loadConfig(path: string = DEFAULT_CONFIG_PATH): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read config file (${describeError(err)})`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON (${describeError(err)})`, { cause: err });
  }
  return parseConfig(raw, path);
}

/** The built-in defaults, straight from the schema (no file involved). */
export function schemaDefaults(): Config {
  return ConfigSchema.parse({});
}
