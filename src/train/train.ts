/**
 * The training stage: runTraining is the steps a reader expects, each a function below.
 *
 * 1. Start or resume (startRun / resumeRun): a new run splits the hours and computes the
 *    normalisation statistics on the training period; a resumed one takes both, the model,
 *    the Adam state and where training stood from last/, after the one checkpoint-versus-data
 *    check (model/data-fit.ts).
 * 2. Prepare the data (prepareData): the feature context (a cell-major copy of the cube) and,
 *    for a new run, the linear path's least-squares start (linear-start.ts); the fixed
 *    validation sample scored against persistence and the linear baseline (validation.ts); the
 *    training windows per epoch.
 * 3. Epoch 0 (checkpointStart): the untrained model is scored and written as best/. Only then,
 *    with everything validated and a new checkpoint safely on disk, are the checkpoints and log
 *    of an earlier run in the folder removed (--force).
 * 4. The epoch loop (trainEpochs): a bounded, seeded sample of (t0, cell) windows per epoch,
 *    Adam steps on batches gathered on a thread, validation, learning-rate decay, last/ (and
 *    best/ on improvement), one JSONL line, early stop when validation stalls. An abort signal
 *    (Ctrl-C) ends the epoch at the next batch, saves last/ and returns.
 */
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTemporaries } from '../core/atomic.js';
import { cellCubeFromCube, type CellCube } from '../ingest/cell-cube.js';
import { DataError, describeError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import { fitPeriodRidge, RIDGE_LAMBDAS, type SameInputRidge } from '../prepare/ridge.js';
import { BatchWorker } from '../prepare/batches.js';
import { cellFeatureContext, windowValid, type FeatureContext } from '../prepare/features.js';
import { describeSplit, type TimeSplit } from '../prepare/split.js';
import { blockSampling, mixSeed, periodAnchors, sampleWindows } from '../prepare/windows.js';
import { loadCheckpoint, readMeta, writeCheckpoint, type CheckpointMeta } from '../model/checkpoint.js';
import { trainStep, trainableVariables } from '../model/model.js';
import { acquireLock } from '../model/run-lock.js';
import { loadLstmOps, whyNotLoaded } from '../runtime/lstm-kernels.js';
import { stepsOnSample } from './epoch.js';
import { fitQuantileHead, startQuantileHead, type QuantileFit } from './quantile-fit.js';
import { startLinearPath } from './linear-start.js';
import { resumeRun, saveCheckpoint, startRun, type ByLead, type Run, type TrainOptions } from './run.js';
import { buildValidation, scoreModel, type ValidationSet } from './validation.js';

export interface EpochRecord {
  epoch: number;
  trainRmse: number;
  validationRmse: number;
  persistenceRmse: number;
  linearRmse: number | null;
  validationRmseByLead: number[];
  learningRate: number;
  seconds: number;
  samplesPerSecond: number;
  improved: boolean;
  numTensors: number;
}

export interface TrainOutcome {
  run: string;
  runDir: string;
  backend: string;
  split: TimeSplit;
  epochsCompleted: number;
  startEpoch: number;
  stopped: CheckpointMeta['training']['stopped'];
  bestEpoch: number;
  bestValidationRmse: number | null;
  history: EpochRecord[];
  /** Of the best checkpoint: validation RMSE per lead (m/s) for model, persistence, linear. */
  validationRmseByLead: number[];
  persistenceRmseByLead: number[];
  linearRmseByLead: number[] | null;
  samplesPerSecond: number;
  seconds: number;
  logFile: string;
  notes: string[];
  peakRssMiB: number;
  /** The quantile head's fit (quantile models). */
  quantileFit?: QuantileFit;
}

/** What the epochs train and validate on. */
interface RunData {
  ctx: FeatureContext;
  validation: ValidationSet;
  trainAnchors: Int32Array;
  samplesPerEpoch: number;
  logFile: string;
}

export type { TrainOptions } from './run.js';

/** TrainOptions once the cube is cell-major. */
type CellOptions = TrainOptions & { cube: CellCube };

/** Run (or resume) training; returns what happened. Checkpoints are under options.runDir. */
export async function runTraining(options: TrainOptions): Promise<TrainOutcome> {
  const { tf, runDir, log } = options;
  const started = performance.now();
  const lock = acquireLock(runDir, log);
  const tensorsAtStart = tf.memory().numTensors;
  let run: Run | undefined;
  let batches: BatchWorker | undefined;
  try {
    for (const name of removeStaleTemporaries(runDir)) log(`checkpoint: removed ${name} left by an interrupted write`);
    // One cell-major copy from here on (a time-major cube given by a test or bench is re-laid).
    options = { ...options, cube: 'layers' in options.cube ? options.cube : cellCubeFromCube(options.cube) };
    run = options.resume ? await resumeRun(options) : startRun(options);
    const data = prepareData(options as CellOptions, run);
    if (run.startEpoch === 0) await checkpointStart(options, run, data);
    // One batch thread for the epochs and the quantile head's fit, started when first needed:
    // starting a thread (loading its modules, sharing the features) costs about 0.3 s, a
    // quarter of the head's fit on a small set.
    const batchThread = () => (batches ??= BatchWorker.start(data.ctx, options.config.train.batchSize));
    const epochs = await trainEpochs(options, run, data, batchThread);
    const quantileFit = await fitQuantiles(options, run, data, batchThread);
    return { ...(await summarize(options, run, data, epochs, started)), ...(quantileFit ? { quantileFit } : {}) };
  } finally {
    await batches?.close();
    run?.model.dispose();
    run?.optimizer.dispose();
    lock.release();
    const leaked = tf.memory().numTensors - tensorsAtStart;
    if (leaked > 0) log(`warning: ${leaked} tensors still allocated after training`);
  }
}

/** Features, the linear start of a new run, the validation set and the training windows. */
function prepareData(options: CellOptions, run: Run): RunData {
  const { tf, cube, config, log } = options;
  const { split, spec, stats, modelSpec, model } = run;
  log(describeSplit(split));
  // Cell-major: random-window gathering is memory-latency bound otherwise (ingest/cell-cube.ts).
  const ctx = cellFeatureContext(cube, spec, stats);
  log(`features: ${spec.nFeatures} per hour (${spec.names.join(', ')}), normalisation per ${stats.mode === 'cell' ? 'cell' : 'grid'}, targets ${spec.predictDelta ? 'change from the last hour' : 'speed'}`);
  log(`model: ${modelSpec.layers} x ${modelSpec.lstm === 'fast' ? 'fast ' : ''}LSTM(${modelSpec.units})${modelSpec.linearSkip ? ' + linear path' : ''}, ${model.countParams()} parameters`);
  if (modelSpec.lstm === 'fast' && options.backend.name === 'tensorflow') {
    // The kernels decide the speed on native TensorFlow: say which ones run, and why not ours.
    const ops = loadLstmOps(tf);
    log(ops.loaded
      ? "LSTM kernels: windcast's fused forward and backward (native/lstm_ops.cc)"
      : `LSTM kernels: TensorFlow's (about 1.5x slower per step; windcast's fused kernels not loaded: ${whyNotLoaded(ops)})`);
  }
  // The same-input ridge: the "linear" every epoch is compared with, and a full linear path's start.
  let ridge: SameInputRidge | null = null;
  try {
    ridge = fitPeriodRidge(ctx, { split, windows: config.train.linearFitWindows, validationWindows: config.train.validationSamples, seed: config.train.seed });
  } catch (err) {
    // Without a single complete training window there is nothing to start a full linear path from.
    if (modelSpec.linearSkip && modelSpec.linearPath === 'full') throw new DataError(options.dataDir, `cannot fit the same-input ridge the model starts from (${describeError(err)})`, { cause: err });
    log(`validation: the same-input ridge is unavailable (${describeError(err)})`);
  }
  if (run.startEpoch === 0 && modelSpec.linearSkip) {
    const windows = startLinearPath({ tf, model, modelSpec, ctx, split, config, ridge });
    log(
      ridge && modelSpec.linearPath === 'full'
        ? `linear path: the same-input ridge (${modelSpec.lookback * modelSpec.nFeatures} inputs) fitted on ${windows} training windows, penalty ${ridge.lambda} chosen on validation (RMSE ${ridge.validationRmse.map((r) => r.toFixed(3)).join(' / ')} m/s for ${RIDGE_LAMBDAS.join(' / ')})${modelSpec.linearFrozen ? ', frozen' : ''}`
        : `linear path: started from a least-squares fit on ${windows} training windows`,
    );
  }
  const validation = buildValidation(ctx, split, config, ridge);
  log(`validation: ${validation.sample.t0.length} windows; persistence RMSE ${f3(validation.persistenceRmse)} m/s, linear baseline ${f3(validation.linearRmse)} m/s`);
  if (run.startEpoch === 0 && modelSpec.quantiles?.length) {
    startQuantileHead(tf, model, modelSpec.quantiles, validation.linearByLead ?? validation.persistenceByLead, stats.meanVariance);
    log(`quantile head: levels ${modelSpec.quantiles.join(', ')}, starting as a Gaussian with the ${validation.linearByLead ? 'same-input ridge' : 'persistence'}'s validation RMSE per lead`);
  }

  const trainAnchors = periodAnchors(split, split.train, config.train.stride);
  const distinct = trainAnchors.length * cube.grid.width * cube.grid.height;
  const samplesPerEpoch = Math.max(1, Math.min(config.train.samplesPerEpoch, Math.round(config.train.maxPassesPerEpoch * distinct)));
  if (samplesPerEpoch < config.train.samplesPerEpoch) {
    log(`epochs: ${samplesPerEpoch} samples each (${config.train.maxPassesPerEpoch} passes over the ${distinct} distinct training windows; samplesPerEpoch ${config.train.samplesPerEpoch} would repeat each ${Math.round(config.train.samplesPerEpoch / distinct)} times)`);
  }
  const blocks = blockSampling(cube.grid, config.train.sampler);
  if (blocks) log(`sampler: blocks of ${blocks.rows} rows, ${blocks.windowsPerBlock} windows each, shuffled ${blocks.bufferBlocks} blocks at a time`);
  return { ctx, validation, trainAnchors, samplesPerEpoch, logFile: join(options.runDir, 'train-log.jsonl') };
}

/**
 * Epoch 0 of a new run: the untrained model (the linear start, or persistence) is the first
 * candidate for best/. On a small dataset training may never beat it on validation, and
 * best/ must then be it, not the least bad of the trained epochs.
 */
async function checkpointStart(options: TrainOptions, run: Run, data: RunData): Promise<void> {
  const { tf, runDir, log } = options;
  const v0 = scoreModel(tf, run.model, data.ctx, data.validation);
  log(`validation before training: model RMSE ${f3(v0.overall)} m/s`);
  run.state.bestValidation = v0.overall;
  run.state.bestEpoch = 0;
  run.bestByLead = { model: v0.byLead, persistence: data.validation.persistenceByLead, linear: data.validation.linearByLead };
  run.state.stopped = 'running';
  await saveCheckpoint(options, run, 'best', 0, run.bestByLead);
  if (run.replacesEarlierRun) {
    // The earlier best/ was replaced by that write (its .prev is the earlier run's too).
    for (const name of ['last', 'last.prev', 'best.prev', 'train-log.jsonl']) rmSync(join(runDir, name), { recursive: true, force: true });
    log(`${runDir}: starting over (--force): removed the previous checkpoints and log`);
  }
}

interface EpochsDone {
  records: EpochRecord[];
  /** Seconds and samples of the training steps alone (no validation or checkpoints). */
  trainSeconds: number;
  trainSamples: number;
}

/** The epoch loop, from run.startEpoch + 1 to config.train.epochs (or an early stop, or an abort). */
async function trainEpochs(options: TrainOptions, run: Run, data: RunData, batchThread: () => BatchWorker): Promise<EpochsDone> {
  const { tf, config, log } = options;
  const { state } = run;
  const { validation } = data;
  const epochs = config.train.epochs;
  const done: EpochsDone = { records: [], trainSeconds: 0, trainSamples: 0 };
  if (run.startEpoch >= epochs) log(`resume: ${run.startEpoch} epochs already done (epochs = ${epochs}); nothing to train`);
  if (state.epochsWithoutImprovement >= config.train.patience && options.resume) {
    log(`resume: validation had already stalled for ${state.epochsWithoutImprovement} epochs; training one more epoch at a time as asked`);
    state.epochsWithoutImprovement = 0;
  }
  const task = options.progress.start({ unit: 'samples', total: Math.max(0, epochs - run.startEpoch) * data.samplesPerEpoch, label: 'train' });
  const variables = trainableVariables(run.model);
  for (let epoch = run.startEpoch + 1; epoch <= epochs; epoch++) {
    const t0 = performance.now();
    const pass = await trainOneEpoch(options, run, data, { batches: batchThread(), variables, epoch, task });
    const interrupted = Boolean(options.signal?.aborted);
    const partial = interrupted && pass.samples < data.samplesPerEpoch;
    if (partial) {
      state.stopped = 'interrupted';
      log(`interrupted in epoch ${epoch} after ${pass.samples} of ${data.samplesPerEpoch} samples: saving last/ (weights include these steps; it counts ${epoch - 1} completed epochs, so --resume reruns epoch ${epoch})`);
    }
    state.samplesSeen += pass.samples;
    const trainTime = (performance.now() - t0) / 1000;
    done.trainSeconds += trainTime;
    done.trainSamples += pass.samples;

    const v = scoreModel(tf, run.model, data.ctx, validation);
    const improved = interrupted ? false : state.bestValidation === null || v.overall < state.bestValidation - 1e-6;
    if (!partial) adjustAfterValidation(options, run, epoch, v.overall, improved);
    const seconds = (performance.now() - t0) / 1000;
    const record: EpochRecord = {
      epoch,
      trainRmse: Math.sqrt(pass.squaredError / Math.max(pass.samples, 1)),
      validationRmse: v.overall,
      persistenceRmse: validation.persistenceRmse,
      linearRmse: validation.linearRmse,
      validationRmseByLead: v.byLead,
      learningRate: state.learningRate,
      seconds,
      samplesPerSecond: pass.samples / trainTime,
      improved,
      numTensors: tf.memory().numTensors,
    };
    done.records.push(record);
    if (!partial) {
      state.history = [
        ...state.history,
        {
          epoch,
          trainLoss: record.trainRmse ** 2,
          validationLoss: v.overall ** 2,
          validationRmse: v.overall,
          persistenceRmse: validation.persistenceRmse,
          learningRate: state.learningRate,
          seconds,
          samplesPerSecond: record.samplesPerSecond,
        },
      ];
    }
    appendFileSync(
      data.logFile,
      JSON.stringify({
        time: new Date().toISOString(),
        ...record,
        interrupted,
        linearRmseByLead: validation.linearByLead,
        persistenceRmseByLead: validation.persistenceByLead,
        backend: options.backend.name,
      }) + '\n',
    );
    const byLead: ByLead = { model: v.byLead, persistence: validation.persistenceByLead, linear: validation.linearByLead };
    const stalled = state.epochsWithoutImprovement >= config.train.patience;
    if (!interrupted && stalled) state.stopped = 'early-stopped';
    else if (!interrupted) state.stopped = epoch === epochs ? 'completed' : 'running';
    if (improved) {
      run.bestByLead = byLead;
      await saveCheckpoint(options, run, 'best', epoch, byLead);
    }
    await saveCheckpoint(options, run, 'last', partial ? epoch - 1 : epoch, byLead);
    log(
      `epoch ${epoch}/${epochs}: train ${f3(record.trainRmse)}, validation ${f3(v.overall)} m/s ` +
        `(persistence ${f3(validation.persistenceRmse)}, linear ${f3(validation.linearRmse)})${improved ? ' best' : ''}, ` +
        `${Math.round(record.samplesPerSecond)} samples/s, ${seconds.toFixed(1)} s`,
    );
    if (interrupted) break;
    if (stalled) {
      log(`early stop: no validation improvement for ${state.epochsWithoutImprovement} epochs (patience ${config.train.patience}); best epoch ${state.bestEpoch}`);
      break;
    }
  }
  task.done();
  return done;
}

/**
 * One epoch's Adam steps on a fresh seeded sample of training windows (epoch.ts). Returns the
 * samples trained on (fewer on an abort) and their summed lead-mean squared error in (m/s)^2.
 */
async function trainOneEpoch(
  options: TrainOptions,
  run: Run,
  data: RunData,
  step: { batches: BatchWorker; variables: ReturnType<typeof trainableVariables>; epoch: number; task: ReturnType<Progress['start']> },
): Promise<{ samples: number; squaredError: number }> {
  const { batches, variables, epoch, task } = step;
  const { tf, config } = options;
  const { ctx } = data;
  const sample = sampleWindows({
    grid: options.cube.grid,
    anchors: data.trainAnchors,
    count: data.samplesPerEpoch,
    seed: mixSeed(config.train.seed, epoch),
    accept: (t, c) => windowValid(ctx, t, c, true),
    // The same blocks whether the cube is resident or on disk: same windows, same losses.
    blocks: blockSampling(options.cube.grid, config.train.sampler),
  });
  const pass = await stepsOnSample(tf, {
    batches,
    sample,
    batchSize: config.train.batchSize,
    step: (batch) => trainStep(tf, run.model, run.optimizer, batch, variables),
    // Loss x wSum x meanVariance = the batch's summed (over samples) lead-mean squared error in (m/s)^2.
    total: (loss, wSum) => loss * wSum * run.stats.meanVariance,
    tick: (count, total, samples) => task.tick(count, `epoch ${epoch}/${config.train.epochs} rmse ${Math.sqrt(total / samples).toFixed(3)} m/s`),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { samples: pass.samples, squaredError: pass.total };
}

/** After a whole epoch's validation: a new best, or one more stalled epoch (and maybe a lower learning rate). */
function adjustAfterValidation(options: TrainOptions, run: Run, epoch: number, validationRmse: number, improved: boolean): void {
  const { train } = options.config;
  const state = run.state;
  if (improved) {
    state.bestValidation = validationRmse;
    state.bestEpoch = epoch;
    state.epochsWithoutImprovement = 0;
    state.epochsSinceLrChange = 0;
    return;
  }
  state.epochsWithoutImprovement++;
  state.epochsSinceLrChange++;
  if (state.epochsSinceLrChange >= train.lrPatience && train.lrDecay < 1) {
    state.learningRate *= train.lrDecay;
    (run.optimizer as unknown as { learningRate: number }).learningRate = state.learningRate;
    state.epochsSinceLrChange = 0;
    options.log(`epoch ${epoch}: validation stalled ${train.lrPatience} epochs, learning rate -> ${state.learningRate.toExponential(2)}`);
  }
}

/**
 * After the epochs: fit the quantile head of best/ (quantile-fit.ts) and rewrite best/ with it.
 * Skipped for point models, after an interrupt (--resume fits it), and when best/ already
 * holds a fitted head of the same epoch. The rewritten best/ carries no Adam state: a resume
 * continues from last/, whose head keeps its Gaussian start.
 */
async function fitQuantiles(options: TrainOptions, run: Run, data: RunData, batchThread: () => BatchWorker): Promise<QuantileFit | undefined> {
  const { tf, runDir, config, log } = options;
  const levels = run.modelSpec.quantiles;
  if (!levels?.length || config.train.quantileEpochs === 0) return undefined;
  if (options.signal?.aborted) {
    log('quantile head: not fitted (interrupted); --resume fits it');
    return undefined;
  }
  const best = await loadCheckpoint(tf, runDir, 'best');
  try {
    if (best.meta.training.quantileFit) {
      log(`quantile head: best/ (epoch ${best.meta.epoch}) already holds a fitted head`);
      return best.meta.training.quantileFit;
    }
    const fit = await fitQuantileHead({
      tf,
      model: best.model,
      levels,
      ctx: data.ctx,
      validation: data.validation,
      trainAnchors: data.trainAnchors,
      batches: batchThread(),
      samples: Math.min(data.trainAnchors.length * options.cube.grid.width * options.cube.grid.height, config.train.quantileSamples),
      epochs: config.train.quantileEpochs,
      learningRate: config.train.quantileLearningRate,
      batchSize: config.train.batchSize,
      seed: config.train.seed,
      progress: options.progress,
      log,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (options.signal?.aborted) {
      log('quantile head: fit interrupted; best/ keeps its unfitted head, --resume fits it');
      return undefined;
    }
    const { kind: _kind, savedAt: _savedAt, files: _files, ...meta } = best.meta;
    await writeCheckpoint(tf, runDir, 'best', { model: best.model, stats: best.stats, meta: { ...meta, training: { ...meta.training, quantileFit: fit } } }, options.writeHook);
    const cov = fit.coverage.map((c) => `${Math.round(c.central * 100)} % interval ${(c.observed * 100).toFixed(1)} %`).join(', ');
    log(
      `quantile head: ${fit.epochs} epochs (best ${fit.bestEpoch}), validation pinball ${fit.startPinball.toFixed(4)} -> ${fit.fittedPinball.toFixed(4)} -> ${fit.calibratedPinball.toFixed(4)} m/s after the width scale ` +
        `(${Math.min(...fit.widthScale).toFixed(2)}..${Math.max(...fit.widthScale).toFixed(2)}); validation coverage ${cov} -> ${join(runDir, 'best')}`,
    );
    return fit;
  } finally {
    best.model.dispose();
  }
}

/** What happened, with the best checkpoint's figures (read from best/ when this session wrote none). */
async function summarize(options: TrainOptions, run: Run, data: RunData, done: EpochsDone, started: number): Promise<TrainOutcome> {
  const { state } = run;
  const { validation } = data;
  if (!run.bestByLead && state.bestValidation !== null) {
    try {
      const best = readMeta(join(options.runDir, 'best'));
      run.bestByLead = { model: best.training.validationRmseByLead, persistence: best.training.persistenceRmseByLead, linear: best.training.linearRmseByLead };
    } catch {
      // No best/ readable: report the last epoch's figures below.
    }
  }
  const { records } = done;
  const lastRecord = records[records.length - 1];
  return {
    run: options.run,
    runDir: options.runDir,
    backend: options.backend.name,
    split: run.split,
    epochsCompleted: run.startEpoch + records.filter((_, i) => i < records.length - 1 || state.stopped !== 'interrupted').length,
    startEpoch: run.startEpoch,
    stopped: records.length === 0 ? 'completed' : state.stopped === 'running' ? 'completed' : state.stopped,
    bestEpoch: state.bestEpoch,
    bestValidationRmse: state.bestValidation,
    history: records,
    validationRmseByLead: run.bestByLead?.model ?? lastRecord?.validationRmseByLead ?? [],
    persistenceRmseByLead: run.bestByLead?.persistence ?? validation.persistenceByLead,
    linearRmseByLead: run.bestByLead?.linear ?? validation.linearByLead,
    samplesPerSecond: done.trainSeconds > 0 ? done.trainSamples / done.trainSeconds : 0,
    seconds: (performance.now() - started) / 1000,
    logFile: data.logFile,
    notes: run.notes,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

const f3 = (x: number | null) => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(3));
