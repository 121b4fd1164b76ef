/**
 * The configuration schema: the single source of every default and of the Config type.
 *
 * There is no defaults file: a run without --config takes every value from this schema, and
 * `windcast COMMAND --help` prints the defaults of that command's flags from here. --config FILE
 * names a JSON file of overrides only; keys it leaves out take the schema's defaults, and its
 * objects are strict, so a misspelled or unknown key fails with one line naming the file and
 * the key. CLI flags override the file; commander carries no defaults of its own.
 *
 * Library functions whose options are left out (a test, a benchmark) fall back to DEFAULTS,
 * never to a literal of their own, so a default lives in exactly one place.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, describeError } from './errors.js';

const isoHour = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}(:\d{2}(:\d{2})?)?Z?$/, 'expected an ISO hour like 2024-01-01T00Z');

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
  /**
   * Height of the wind speed windcast forecasts, metres: 'auto' is 100 m (hub height) when the
   * data has wind at 100 m, else 10 m. The other height's u/v are inputs beside it.
   */
  targetHeight: z.union([z.literal('auto'), z.literal(10), z.literal(100)]).default('auto'),
  /**
   * Variables to read, by ERA5 short name (u10, v10, u100, v100, si10, ...) or the file's own
   * names (NetCDF/Zarr variables, GeoTIFF band descriptions); null reads all the wind there is.
   */
  variables: z.array(z.string().min(1)).min(1).nullable().default(null),
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
  /**
   * The linear path's form: 'full' is a dense layer on every input at every hour, started at
   * the same-input ridge (the fair linear baseline), so the untrained model is that ridge;
   * 'low-rank' (the form before) projects each hour to a few channels first.
   */
  linearPath: z.enum(['full', 'low-rank']).default('full'),
  /**
   * Keep the linear path at its least-squares start; only the LSTM and its head train, so the
   * network learns what the same-input ridge misses and early stopping on validation can never
   * leave it worse than that ridge there (docs/real-data.md: chosen on validation periods).
   */
  linearFrozen: z.boolean().default(true),
  /** Use u/v as features when the data has them. */
  useUV: z.boolean().default(true),
  /**
   * LSTM implementation: 'fast' (src/model/lstm-fast.ts: one fused BlockLSTM kernel per
   * sequence on native TensorFlow, sigmoid gates) or 'layers' (tf.layers.lstm, hard-sigmoid gates).
   */
  lstm: z.enum(['fast', 'layers']).default('fast'),
  /**
   * Quantile levels the model forecasts beside its point forecast (src/model/quantile-head.ts),
   * rising strictly inside (0, 1); [] for a point model. The default gives the central 50, 80
   * and 90 % intervals and the median.
   */
  quantiles: z
    .array(z.number().gt(0).lt(1))
    .refine((l) => l.every((x, k) => k === 0 || x > l[k - 1]!), { message: 'quantile levels must rise strictly' })
    .default([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]),
});

export const TrainConfigSchema = z.strictObject({
  /** At most; early stopping (patience) usually ends a run well before. */
  epochs: z.number().int().positive().default(24),
  samplesPerEpoch: z.number().int().positive().default(300_000),
  /**
   * An epoch draws at most this many times the distinct training windows: on small datasets
   * (a few cells, a year) 300k samples would be many passes between validations, and a small
   * real dataset is overfitted within two passes (ERA5 Berlin: validation worse from the
   * second pass on), so validation comes twice per pass there.
   */
  maxPassesPerEpoch: z.number().positive().default(0.5),
  /**
   * Validation windows, at most. Small data scores distinct windows of its validation period
   * (every one when they fit; prepare/ridge.ts validationWindows), so no seed resamples it.
   */
  validationSamples: z.number().int().positive().default(60_000),
  batchSize: z.number().int().positive().default(4096),
  /** Adam's; 1e-3 (Adam's own default) beat 3e-3 on both real development sets' validation. */
  learningRate: z.number().positive().default(1e-3),
  /** Multiply the learning rate by this factor when validation stalls for lrPatience epochs. */
  lrDecay: z.number().positive().max(1).default(0.5),
  lrPatience: z.number().int().min(1).default(3),
  patience: z.number().int().min(1).default(6),
  /** Fractions of the hours for train, validation and test, in time order. */
  split: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).default([0.7, 0.1, 0.2]),
  /** Stride between window starts, hours. */
  stride: z.number().int().positive().default(1),
  /**
   * How training draws its windows (prepare/windows.ts): 'uniform' every window on its own;
   * 'blocks' a band of rows at a time through a shuffle buffer (memory locality on big grids);
   * 'auto' blocks from 65,536 cells up, uniform below. Uniform by default: on the quiet machine
   * blocks made the global month's epoch 3 % faster (74,718 against 72,298 samples/s) and its
   * validation 0.005 m/s worse, and 90 days train at 0.89 x the month's rate uniformly anyway
   * (BENCHMARKS.md, "Block sampling").
   */
  sampler: z.enum(['auto', 'uniform', 'blocks']).default('uniform'),
  seed: z.number().int().default(42),
  /**
   * Training windows the linear path's least-squares start is fitted on, at most; data with
   * fewer uses every window (an exact fit). The fit solves for a few dozen coefficients, so
   * 50,000 windows pin them down while costing a moment of the first epoch's time.
   */
  linearFitWindows: z.number().int().positive().default(50_000),
  /**
   * Epochs of the quantile head's fit after the point model's training (train/quantile-fit.ts):
   * the head alone learns on the best point model's LSTM state, early-stopped on validation.
   */
  quantileEpochs: z.number().int().min(0).default(4),
  /**
   * Training windows the head is fitted on, at most (data with fewer uses each once), their
   * LSTM states computed once: the head has horizon x levels x (units + 1) weights, about
   * 11,000 by default.
   */
  quantileSamples: z.number().int().positive().default(100_000),
  quantileLearningRate: z.number().positive().default(3e-3),
});

export const PredictConfigSchema = z.strictObject({
  /**
   * Cells per model call, in predict, evaluate and training's validation forecasts. Bounds
   * memory: the fused LSTM keeps every hour's activations, about 54 KB per cell, so 8192 cells
   * peak near 1.2 GB for a global forecast where 65536 took 4.2 GB, at the same speed
   * (bench/predict.ts).
   */
  batchCells: z.number().int().positive().default(8192),
  multiband: z.boolean().default(false),
  png: z.boolean().default(false),
  interpolation: z.enum(['nearest', 'bilinear']).default('bilinear'),
  compress: z.enum(['none', 'deflate']).default('deflate'),
  /**
   * Turbine whose power the forecast is read through: a shipped curve by name (iea-3.4mw,
   * nrel-5mw, iea-15mw, vestas-v82-1.65mw; config/turbines/README.md) or a CSV of speed m/s,
   * power kW. null: wind only. Sites gain power and capacity factor; grids, on request,
   * capacity-factor GeoTIFFs.
   */
  turbine: z.string().min(1).nullable().default(null),
  /**
   * Hub height in metres: where the power is read and site hub-height speeds are given. null:
   * the forecast's own height (100 m when forecasting 100 m wind), so no extrapolation.
   */
  hubHeight: z.number().positive().max(1000).nullable().default(null),
  /**
   * The IEC 61400-12-1 air-density correction of power: 'auto' applies it where the input has
   * 2 m temperature and surface pressure (ERA5 t2m and sp in NetCDF/Zarr input), and says it is
   * off elsewhere; 'off' never applies it.
   */
  airDensity: z.enum(['auto', 'off']).default('auto'),
  /** Write a capacity-factor GeoTIFF per lead (or one multi-band file), needs a turbine. */
  capacityFactorMaps: z.boolean().default(false),
  /**
   * With a quantile checkpoint, write the quantile GeoTIFFs beside the wind-speed leads (one
   * band per level). A global grid holds levels x leads more fields while writing (7 x 24 at
   * 0.25 degrees: 0.7 GB); false leaves them out. Sites always carry their quantiles.
   */
  quantileMaps: z.boolean().default(true),
  /**
   * What runs the network: 'tfjs' (the runtime.backend), 'onnx' (onnxruntime-node's CPU build,
   * the graph windcast export writes), or 'auto': whichever measured faster for the backend
   * (bench/engines.ts, BENCHMARKS.md): tfjs on native TensorFlow (its fused LSTM kernel is 1.4-1.8x
   * onnxruntime's on the global grid), onnx on wasm and cpu (about 6x tfjs-wasm).
   */
  engine: z.enum(['auto', 'tfjs', 'onnx']).default('auto'),
});

export const EvaluateConfigSchema = z.strictObject({
  /** Stride between test windows, hours. */
  stride: z.number().int().positive().default(6),
  /** Sample every Nth row and column; 1 (or --full) scores every cell. */
  cellStride: z.number().int().positive().default(4),
  /** Ridge penalty of the speed-only ridge baseline ("linear-speed"). */
  ridgeLambda: z.number().min(0).default(1e-3),
  /**
   * Hours of the cell's own past the speed-only ridge regresses on: 24, the model's default
   * lookback, so it sees the hours the model sees (though not its other inputs).
   */
  linearLookback: z.number().int().positive().default(24),
  /**
   * Cells pooled in the speed-only ridge's fit, spread evenly over the grid (all cells when the
   * grid is smaller). Each cell gives one window per training hour, so a few thousand cells are
   * millions of windows for 27 coefficients, and the fit stays seconds on the global grid.
   */
  linearSampleCells: z.number().int().positive().default(4096),
  /**
   * Days in the smoothing window of the seasonal climatology (used when the training period
   * covers a year): odd; WeatherBench 2's 61 by default.
   */
  climatologyWindowDays: z.number().int().min(1).max(365).refine((d) => d % 2 === 1, { message: 'must be odd' }).default(61),
  /**
   * Length of the blocks of consecutive test windows the skill intervals resample, hours: a
   * few days, so that the weather shared by neighbouring windows stays inside a block.
   */
  bootstrapBlockHours: z.number().int().positive().default(96),
  /** Resamples behind each 95 % skill interval. */
  bootstrapResamples: z.number().int().min(10).default(1000),
  /** Seed of the resampling: the same report gives the same intervals. */
  bootstrapSeed: z.number().int().default(42),
  /**
   * Turbine for the power scores (NMAE, NRMSE in % of rated power): a shipped curve by name
   * (iea-3.4mw, nrel-5mw, iea-15mw, vestas-v82-1.65mw) or a CSV of speed m/s, power kW. null:
   * no power scores.
   */
  turbine: z.string().min(1).nullable().default(null),
  /** Hub height of the power scores, metres. null: the forecast's own height (no extrapolation). */
  hubHeight: z.number().positive().max(1000).nullable().default(null),
});

/** TensorFlow.js backend preference: 'auto' is native TensorFlow when it loads, else wasm, else cpu. */
export const BackendPreferenceSchema = z.enum(['auto', 'tensorflow', 'wasm', 'cpu']);

/**
 * Where and on what this machine runs windcast, for every command. Not a property of a model:
 * checkpoints do not store this section (meta.backend records the backend that really ran).
 */
export const RuntimeConfigSchema = z.strictObject({
  /** 'auto' picks the fastest backend that loads, the same one in train, predict, evaluate, demo and doctor. */
  backend: BackendPreferenceSchema.default('auto'),
  /** Folder holding the runs (models/NAME/), relative to the working directory: the repository's models/. */
  modelsDir: z.string().min(1).default('models'),
  /**
   * The LSTM's products in predict and evaluate: fp32, or bf16 (bfloat16 inputs and weights,
   * fp32 sums; CPUs with AVX512_BF16, native TensorFlow with the fused kernels). Training and
   * its validation always run fp32.
   */
  inferencePrecision: z.enum(['fp32', 'bf16']).default('fp32'),
  /**
   * Memory the cube may take, e.g. "8GiB" or "512MiB" (binary units; kB, MB, GB decimal); null:
   * what the machine has available when the data is read (MemAvailable). Training refuses a
   * cube that does not fit, with the figures, instead of swapping or being killed.
   */
  memoryBudget: z.string().regex(/^\s*\d+(\.\d+)?(e\d+)?\s*([kmgt]i?b?|b)?\s*$/i, 'a size such as 8GiB, 512MiB or a number of bytes').nullable().default(null),
});

export const ConfigSchema = z.strictObject({
  synth: SynthConfigSchema.prefault({}),
  ingest: IngestConfigSchema.prefault({}),
  model: ModelConfigSchema.prefault({}),
  train: TrainConfigSchema.prefault({}),
  predict: PredictConfigSchema.prefault({}),
  evaluate: EvaluateConfigSchema.prefault({}),
  runtime: RuntimeConfigSchema.prefault({}),
});

/**
 * config.train as checkpoints store it. Checkpoints written before runtime.backend existed
 * also carry train.backend: it is accepted and not used (meta.backend says what ran).
 */
export const StoredTrainConfigSchema = TrainConfigSchema.extend({ backend: BackendPreferenceSchema.optional() });

export type Config = z.infer<typeof ConfigSchema>;
export type SynthConfig = Config['synth'];
export type IngestConfig = Config['ingest'];
export type ModelConfig = Config['model'];
export type TrainConfig = Config['train'];
export type PredictConfig = Config['predict'];
export type EvaluateConfig = Config['evaluate'];
export type RuntimeConfig = Config['runtime'];
export type BackendPreference = RuntimeConfig['backend'];

type DeepReadonly<T> = T extends (infer E)[] ? readonly DeepReadonly<E>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value as DeepReadonly<T>;
}

/** The built-in defaults, straight from the schema: a fresh object the caller may change. */
export function schemaDefaults(): Config {
  return ConfigSchema.parse({});
}

/** The schema's defaults, frozen: what library functions fall back to when an option is left out. */
export const DEFAULTS: DeepReadonly<Config> = deepFreeze(schemaDefaults());

/** Problems listed in one error line; the rest are counted, so a line stays readable. */
const MAX_PROBLEMS = 6;

function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  const path = issuePath(issue.path);
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${path ? `${path}.` : ''}${key}: unknown key`);
  let message = issue.message.replace(/^Invalid (input|option): /, '').replace(/\s+/g, ' ').trim();
  const missing = /^expected (.+), received undefined$/.exec(message);
  if (missing) message = `missing (expected ${missing[1]})`;
  message = message.charAt(0).toLowerCase() + message.slice(1);
  return [`${path || 'top level'}: ${message}`];
}

/**
 * A zod error as one line: the source, what it was meant to be, then each problem as
 * "key.path: what is wrong", joined by '; ' (z.prettifyError spreads them over many lines).
 * Unknown keys come first: a misspelled key is the likeliest mistake, and it often explains
 * the other problems (the real key then takes its default).
 */
export function oneLineZodError(source: string, error: z.ZodError, what = 'invalid configuration'): string {
  const unknownFirst = [...error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
  const problems = unknownFirst.flatMap(describeIssue);
  const shown = problems.slice(0, MAX_PROBLEMS);
  const more = problems.length - shown.length;
  return `${source}: ${what}: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

/** A config written before runtime.backend existed: say where the key went rather than "unknown key". */
function refuseTrainBackend(raw: unknown, source: string): void {
  const train = raw && typeof raw === 'object' ? (raw as Record<string, unknown>).train : undefined;
  if (train && typeof train === 'object' && 'backend' in train) {
    const value = JSON.stringify((train as Record<string, unknown>).backend);
    throw new ConfigError(`${source}: train.backend is now runtime.backend (it picks the backend of every command): write "runtime": {"backend": ${value}} instead`);
  }
}

/** Parse and validate a config object; errors are one line naming the source and each bad key. */
export function parseConfig(raw: unknown, source: string): Config {
  refuseTrainBackend(raw, source);
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(oneLineZodError(source, result.error));
  const split = result.data.train.split;
  const total = split[0] + split[1] + split[2];
  if (Math.abs(total - 1) > 1e-6) {
    throw new ConfigError(`${source}: train.split must add up to 1 (got ${split.join(' + ')} = ${total})`);
  }
  return result.data;
}

/** Load a config file of overrides; without a path, the schema's defaults. */
export function loadConfig(path?: string): Config {
  if (path === undefined) return schemaDefaults();
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

const SECTION_SCHEMAS: { [S in keyof Config]: z.ZodObject } = {
  synth: SynthConfigSchema,
  ingest: IngestConfigSchema,
  model: ModelConfigSchema,
  train: TrainConfigSchema,
  predict: PredictConfigSchema,
  evaluate: EvaluateConfigSchema,
  runtime: RuntimeConfigSchema,
};

/** The allowed values of an enum key (the CLI's --flag choices), or undefined for other keys. */
export function keyChoices<S extends keyof Config>(section: S, key: keyof Config[S] & string): string[] | undefined {
  let schema: unknown = SECTION_SCHEMAS[section].shape[key];
  while (schema instanceof z.ZodDefault || schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) schema = schema.unwrap();
  return schema instanceof z.ZodEnum ? (schema.options as string[]) : undefined;
}
