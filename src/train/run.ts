/**
 * A training run: what it is (split, statistics, features, model settings), its model and
 * optimizer, and where training stands. A new run is started from the config; a resumed one
 * is rebuilt from last/ after the one checkpoint-versus-data check. saveCheckpoint writes the
 * run as it stands into best/ or last/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, ModelConfig } from '../core/config.js';
import { CheckpointError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import { COMMON_YEAR_HOURS, isoHour } from '../core/time.js';
import type { Cube } from '../ingest/cube.js';
import { cubeHasUV, cubeOtherHeight, type CellCube } from '../ingest/cell-cube.js';
import { cubeContentDigest } from '../ingest/cube-digest.js';
import { distinctRings, featureSpec, positionVaries, type FeatureSpec } from '../prepare/features.js';
import { computeStats, type NormStats } from '../prepare/normalize.js';
import { splitHours, type TimeSplit } from '../prepare/split.js';
import { loadCheckpoint, readMeta, resolveCheckpointDir, restoreOptimizer, writeCheckpoint, type CheckpointMeta, type WriteHook } from '../model/checkpoint.js';
import { checkDataFits, cubeFacts } from '../model/data-fit.js';
import { createModel, trainableVariables, type ModelSpec } from '../model/model.js';
import type { BackendInfo, Tf } from '../runtime/backend.js';
import { PROJECT_ROOT } from '../runtime/backend.js';

type LayersModel = ReturnType<Tf['model']>;
type Optimizer = ReturnType<Tf['train']['adam']>;

export interface TrainOptions {
  tf: Tf;
  backend: BackendInfo;
  /** The data: held cell-major (ingest/cell-cube.ts); a time-major cube (tests, benches) is re-laid first. */
  cube: Cube | CellCube;
  /** Where the data came from (stored in the checkpoint). */
  dataDir: string;
  /** models/NAME */
  runDir: string;
  run: string;
  config: Config;
  resume?: boolean;
  /** Resume on different data, or start over on a run folder that already has checkpoints. */
  force?: boolean;
  progress: Progress;
  log: (line: string) => void;
  /** Aborted (Ctrl-C): finish the current batch, save last/, return. */
  signal?: AbortSignal;
  /** Tests: called while checkpoints are written. */
  writeHook?: WriteHook;
}

/** Validation RMSE per lead (m/s) of a model and the two baselines. */
export interface ByLead {
  model: number[];
  persistence: number[];
  linear: number[] | null;
}

/** Where training stands; restored from last/ on resume, written into every checkpoint. */
export type TrainingState = Pick<
  CheckpointMeta['training'],
  'learningRate' | 'bestValidation' | 'bestEpoch' | 'epochsWithoutImprovement' | 'epochsSinceLrChange' | 'stopped' | 'samplesSeen' | 'history'
>;

/** A run being trained: what it is, its model and optimizer (owned here), and where it stands. */
export interface Run {
  split: TimeSplit;
  stats: NormStats;
  spec: FeatureSpec;
  /** The model settings: the config's for a new run, the checkpoint's on resume. */
  modelConfig: ModelConfig;
  modelSpec: ModelSpec;
  model: LayersModel;
  optimizer: Optimizer;
  /** Epochs completed before this session. */
  startEpoch: number;
  state: TrainingState;
  /** Figures of the best checkpoint, once this session wrote or read one. */
  bestByLead?: ByLead;
  /** The folder holds an earlier run's checkpoints, to be replaced by this one (--force). */
  replacesEarlierRun: boolean;
  notes: string[];
}

/** Whether runDir holds a checkpoint (a run to resume, or one --force replaces). */
export function hasCheckpoint(runDir: string): boolean {
  return ['last', 'last.prev', 'best'].some((name) => existsSync(join(runDir, name)));
}

/** The features of this data under the model settings (`resumed`: the checkpoint's feature spec). */
function specFor(options: TrainOptions, split: TimeSplit, normalization: NormStats['mode'], modelConfig: ModelConfig, resumed?: FeatureSpec): FeatureSpec {
  const { cube, config } = options;
  const uv = cubeHasUV(cube) && config.model.useUV;
  return featureSpec({
    lookback: split.lookback,
    horizon: split.horizon,
    ringsDeg: resumed ? resumed.ringsDeg : distinctRings(cube.grid, modelConfig.ringsDeg),
    position: resumed ? resumed.position : positionVaries(cube.grid),
    uv: options.resume ? modelConfig.useUV && uv : uv,
    dayOfYear: resumed ? resumed.dayOfYear : split.train.endHour - split.train.startHour >= COMMON_YEAR_HOURS,
    predictDelta: modelConfig.predictDelta,
    normalization,
    heightM: cube.heightM ?? null,
    otherHeightM: resumed ? resumed.otherHeightM : uv ? cubeOtherHeight(cube) : null,
    variables: cube.source.variables ?? [],
  });
}

/** A new run from the config: split, statistics, features, a fresh model and optimizer. */
export function startRun(options: TrainOptions): Run {
  const { tf, cube, config, runDir } = options;
  const replacesEarlierRun = hasCheckpoint(runDir);
  if (replacesEarlierRun && !options.force) {
    throw new CheckpointError(`${runDir}: already holds checkpoints; use --resume to continue it, --force to start over, or another --run name`);
  }
  const split = splitHours({ hours: cube.times.length, lookback: config.model.lookback, horizon: config.model.horizon, fractions: config.train.split });
  const stats = computeStats(cube, split.train, config.model.normalization, options.progress);
  const spec = specFor(options, split, stats.mode, config.model);
  const modelSpec: ModelSpec = {
    lookback: split.lookback,
    nFeatures: spec.nFeatures,
    horizon: split.horizon,
    units: config.model.units,
    layers: config.model.layers,
    dropout: config.model.dropout,
    linearSkip: config.model.linearSkip,
    seed: config.train.seed,
    lstm: config.model.lstm,
    ...(config.model.linearPath === 'full' ? { linearPath: 'full' as const, linearFrozen: config.model.linearFrozen } : {}),
    ...(config.model.quantiles.length > 0 ? { quantiles: [...config.model.quantiles] } : {}),
  };
  const state: TrainingState = {
    learningRate: config.train.learningRate,
    bestValidation: null,
    bestEpoch: 0,
    epochsWithoutImprovement: 0,
    epochsSinceLrChange: 0,
    stopped: 'completed',
    samplesSeen: 0,
    history: [],
  };
  const model = createModel(tf, modelSpec);
  const optimizer = tf.train.adam(state.learningRate);
  return { split, stats, spec, modelConfig: config.model, modelSpec, model, optimizer, startEpoch: 0, state, replacesEarlierRun, notes: [] };
}

/** Resume from last/ (else last.prev/, best/): meta, data check, weights, Adam state. */
export async function resumeRun(options: TrainOptions): Promise<Run> {
  const { tf, runDir, log } = options;
  if (!hasCheckpoint(runDir)) throw new CheckpointError(`${runDir}: nothing to resume (no last/ checkpoint); run without --resume to start`);
  const checkpointDir = resolveCheckpointDir(runDir, 'last');
  const meta = readMeta(checkpointDir);
  const notes: string[] = [];
  const split = meta.split;
  const spec = specFor(options, split, meta.normalization.mode, meta.config.model, meta.features);
  const forced = checkDataFits(meta, cubeFacts(options.cube, options.dataDir), {
    resume: { checkpointDir, force: Boolean(options.force), nFeatures: spec.nFeatures },
  });
  for (const difference of forced) {
    log(`resume: ${difference}; continuing because of --force`);
    notes.push('resumed on different data (--force)');
  }
  const loaded = await loadCheckpoint(tf, checkpointDir);
  const model = loaded.model;
  const t = meta.training;
  const state: TrainingState = {
    learningRate: t.learningRate,
    bestValidation: t.bestValidation,
    bestEpoch: t.bestEpoch,
    epochsWithoutImprovement: t.epochsWithoutImprovement,
    epochsSinceLrChange: t.epochsSinceLrChange,
    stopped: 'completed',
    samplesSeen: t.samplesSeen,
    history: t.history,
  };
  const optimizer = tf.train.adam(state.learningRate);
  try {
    if (loaded.optimizerState) {
      const problems = await restoreOptimizer(tf, optimizer, loaded.optimizerState, trainableVariables(model).map((v) => ({ shape: v.shape })));
      for (const p of problems) {
        log(`resume: ${p}`);
        notes.push(p);
      }
      if (problems.length === 0) log(`resume: restored weights, Adam moments and step count, learning rate ${state.learningRate}, from ${loaded.dir} (epoch ${meta.epoch})`);
    } else {
      const p = 'checkpoint has no optimizer state: Adam moments start afresh';
      log(`resume: ${p}`);
      notes.push(p);
    }
  } catch (err) {
    model.dispose();
    optimizer.dispose();
    throw err;
  }
  return { split, stats: loaded.stats, spec, modelConfig: meta.config.model, modelSpec: meta.model, model, optimizer, startEpoch: meta.epoch, state, replacesEarlierRun: false, notes };
}

/** Write run's checkpoint `kind` as of `epoch` epochs completed. */
export async function saveCheckpoint(options: TrainOptions, run: Run, kind: 'best' | 'last', epoch: number, byLead: ByLead): Promise<void> {
  const { cube, backend } = options;
  const { stats, state } = run;
  const hours = cube.times.length;
  const meta = {
    format: 'windcast-checkpoint' as const,
    formatVersion: 1 as const,
    run: options.run,
    epoch,
    config: { model: run.modelConfig, train: options.config.train },
    model: run.modelSpec,
    features: run.spec,
    normalization: { mode: stats.mode, file: 'norm.bin' as const, cells: stats.mean.length, globalMean: stats.globalMean, globalStd: stats.globalStd, meanVariance: stats.meanVariance },
    grid: cube.grid,
    split: run.split,
    data: { dir: options.dataDir, fingerprint: cube.source.fingerprint, contentDigest: cubeContentDigest(cube), hours, firstHour: isoHour(cube.times[0]!), lastHour: isoHour(cube.times[hours - 1]!), uv: run.spec.uv },
    training: {
      learningRate: state.learningRate,
      bestValidation: state.bestValidation,
      bestEpoch: state.bestEpoch,
      epochsWithoutImprovement: state.epochsWithoutImprovement,
      epochsSinceLrChange: state.epochsSinceLrChange,
      stopped: state.stopped,
      samplesSeen: state.samplesSeen,
      history: state.history,
      validationRmseByLead: byLead.model,
      persistenceRmseByLead: byLead.persistence,
      linearRmseByLead: byLead.linear,
    },
    versions: { windcast: windcastVersion(), tfjs: backend.tfjsVersion, node: process.version, ...(backend.tensorflowVersion ? { tensorflow: backend.tensorflowVersion } : {}) },
    backend: { name: backend.name, threads: backend.threads },
  };
  await writeCheckpoint(options.tf, options.runDir, kind, { model: run.model, optimizer: run.optimizer, stats, meta }, options.writeHook);
}

function windcastVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
