/**
 * The training loop, one flat loop: split the hours, compute normalisation statistics on the
 * training period, then per epoch draw a bounded, seeded sample of (t0, cell) windows, take
 * Adam steps on batches of them, score a fixed validation sample against persistence and the
 * linear baseline (per lead, m/s, area-weighted by sampling), adjust the learning rate, write
 * last/ (and best/ on improvement), append one JSONL line, and stop early when validation
 * stalls. An abort signal (Ctrl-C) ends the epoch at the next batch, saves last/ and returns.
 */
import { removeStaleTemporaries } from '../core/atomic.js';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendInfo, Tf } from '../runtime/backend.js';
import { PROJECT_ROOT } from '../runtime/backend.js';
import { fitLinearBaseline, linearForecast, solveRidge } from '../evaluate/baselines.js';
import { BatchWorker } from '../prepare/batch.worker.js';
import { batchTensors, storedTensor } from '../prepare/batches.js';
import {
  acquireLock,
  loadCheckpoint,
  restoreOptimizer,
  writeCheckpoint,
  type CheckpointMeta,
  type WriteHook,
} from '../model/checkpoint.js';
import type { Config } from '../core/config.js';
import { cubeHours, type Cube } from '../ingest/cube.js';
import { CheckpointError, ConfigError, DataError } from '../core/errors.js';
import { featureContext, featureSpec, gatherTargets, gatherWindow, windowValid, type FeatureContext } from '../prepare/features.js';
import { ForecastScratch, checkCubeMatches, forecastWindows } from '../forecast/forecast.js';
import { loadLstmOps, whyNotLoaded } from '../runtime/lstm-kernels.js';
import { createModel, setLinearPath, trainStep, trainableVariables, type LinearStart, type ModelSpec } from '../model/model.js';
import { computeStats, type NormStats } from '../prepare/normalize.js';
import type { Progress } from '../core/progress.js';
import { describeSplit, splitHours, type TimeSplit } from '../prepare/split.js';
import { mixSeed, periodAnchors, sampleWindows, type WindowSample } from '../prepare/windows.js';
import { COMMON_YEAR_HOURS, isoHour } from '../core/time.js';

type LayersModel = ReturnType<Tf['model']>;

/** Every (anchor, cell) pair, anchor-major. */
function allWindows(anchors: Int32Array, cells: number): WindowSample {
  const t0 = new Int32Array(anchors.length * cells);
  const cell = new Int32Array(anchors.length * cells);
  for (let a = 0; a < anchors.length; a++) {
    t0.fill(anchors[a]!, a * cells, (a + 1) * cells);
    for (let c = 0; c < cells; c++) cell[a * cells + c] = c;
  }
  return { t0, cell };
}


export interface TrainOptions {
  tf: Tf;
  backend: BackendInfo;
  cube: Cube;
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
}

function windcastVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}


/** RMSE per lead and overall (mean of per-lead MSE) of forecasts vs truth, skipping NaN pairs. */
export function rmseByLead(pred: Float32Array, truth: Float32Array, horizon: number): { byLead: number[]; overall: number } {
  const sum = new Float64Array(horizon);
  const count = new Float64Array(horizon);
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i]!;
    const t = truth[i]!;
    if (p !== p || t !== t) continue;
    const d = p - t;
    sum[i % horizon]! += d * d;
    count[i % horizon]! += 1;
  }
  const mse = Array.from(sum, (s, h) => (count[h]! > 0 ? s / count[h]! : NaN));
  return { byLead: mse.map(Math.sqrt), overall: Math.sqrt(mse.reduce((a, b) => a + b, 0) / horizon) };
}

interface ValidationSet {
  sample: WindowSample;
  truth: Float32Array;
  persistenceByLead: number[];
  persistenceRmse: number;
  linearByLead: number[] | null;
  linearRmse: number | null;
  pred: Float32Array;
  scratch: ForecastScratch;
}

function buildValidation(cube: Cube, ctx: FeatureContext, split: TimeSplit, config: Config, log: (l: string) => void): ValidationSet {
  const H = split.horizon;
  const cells = cube.grid.width * cube.grid.height;
  const anchors = periodAnchors(split, split.validation, 1);
  const count = Math.min(config.train.validationSamples, anchors.length * cells);
  const sample = sampleWindows({
    grid: cube.grid,
    anchors,
    count,
    seed: mixSeed(config.train.seed, 0x7a11d),
    accept: (t0, cell) => windowValid(ctx, t0, cell, true),
  });
  const truth = new Float32Array(count * H);
  const persistence = new Float32Array(count * H);
  for (let i = 0; i < count; i++) {
    const t0 = sample.t0[i]!;
    const c = sample.cell[i]!;
    const last = cube.speed[t0 * cells + c]!;
    for (let h = 0; h < H; h++) {
      truth[i * H + h] = cube.speed[(t0 + 1 + h) * cells + c]!;
      persistence[i * H + h] = last;
    }
  }
  const p = rmseByLead(persistence, truth, H);
  let linearByLead: number[] | null = null;
  let linearRmse: number | null = null;
  try {
    const linear = fitLinearBaseline(cube, {
      hours: [split.train.startHour, split.train.endHour],
      lookback: split.lookback,
      horizon: H,
      lambda: config.evaluate.ridgeLambda,
      sampleCells: config.evaluate.linearSampleCells,
    });
    const lin = new Float32Array(count * H);
    const one = new Int32Array(1);
    for (let i = 0; i < count; i++) {
      one[0] = sample.cell[i]!;
      lin.set(linearForecast(linear, cube, { t0: sample.t0[i]!, cells: one }), i * H);
    }
    const l = rmseByLead(lin, truth, H);
    linearByLead = l.byLead;
    linearRmse = l.overall;
  } catch (err) {
    log(`validation: linear baseline unavailable (${err instanceof Error ? err.message : String(err)})`);
  }
  return {
    sample,
    truth,
    persistenceByLead: p.byLead,
    persistenceRmse: p.overall,
    linearByLead,
    linearRmse,
    pred: new Float32Array(count * H),
    scratch: new ForecastScratch(Math.min(config.predict.batchCells, Math.max(1, count)), ctx.spec),
  };
}

/**
 * Ridge start for the linear path, on a sample of training windows, in normalised units
 * weighted like the training loss: per lead, the cell's speed at every lookback hour, the
 * solar hour at the last input hour and an intercept (the linear baseline's inputs), plus the
 * mean speed on one stencil ring at the last hour (the ring whose fit leaves the smallest
 * training error). The three projection channels carry speed, solar_hour_sin and that ring
 * mean: the solar cosine is the sine six hours earlier (sin(x - pi/2) = -cos x), so no channel
 * is spent on it. The model then starts as this linear forecast and the LSTM learns what it
 * misses, which matters on small datasets (on ERA5 Berlin the neighbour ring alone takes the
 * start from the baseline's RMSE to 0.3 % below it, docs/era5-berlin.md).
 */
export function linearStartTerms(spec: FeatureContext['spec'], ring: number): LinearStart {
  const L = spec.lookback;
  const H = spec.horizon;
  const solar = spec.names.indexOf('solar_hour_sin');
  const terms: LinearStart['terms'] = [];
  for (let h = 0; h < L; h++) terms.push({ channel: 0, hour: h, coef: new Float64Array(H) });
  terms.push({ channel: 1, hour: L - 1, coef: new Float64Array(H) });
  if (L > 6) terms.push({ channel: 1, hour: L - 7, coef: new Float64Array(H) });
  if (ring >= 0) terms.push({ channel: 2, hour: L - 1, coef: new Float64Array(H) });
  return { channelFeatures: [0, solar, ring], terms, intercept: new Float64Array(H) };
}

export function fitLinearStart(ctx: FeatureContext, sample: WindowSample, lambda: number): LinearStart {
  const rings = ctx.spec.ringsDeg.map((r) => ctx.spec.names.indexOf(`ring${r}_mean`)).filter((f) => f >= 0);
  let best: { start: LinearStart; sse: number } | undefined;
  for (const ring of rings.length > 0 ? rings : [-1]) {
    const fit = fitLinearStartWith(ctx, sample, lambda, ring);
    if (!best || fit.sse < best.sse) best = fit;
  }
  return best!.start;
}

function fitLinearStartWith(ctx: FeatureContext, sample: WindowSample, lambda: number, ring: number): { start: LinearStart; sse: number } {
  const { spec, stats } = ctx;
  const L = spec.lookback;
  const H = spec.horizon;
  const F = spec.nFeatures;
  const start = linearStartTerms(spec, ring);
  const inputs = start.terms.map((t) => t.hour * F + start.channelFeatures[t.channel]!);
  const P = inputs.length + 1;
  const xtx = new Float64Array(P * P);
  const xty = new Float64Array(P * H);
  const x = new Float32Array(L * F);
  const y = new Float32Array(H);
  const row = new Float64Array(P);
  /** Fill row (inputs + intercept) and y for window i; its weight, or 0 when incomplete. */
  const designRow = (i: number): number => {
    const t0 = sample.t0[i]!;
    const cell = sample.cell[i]!;
    if (!gatherWindow(ctx, t0, cell, x, 0) || !gatherTargets(ctx, t0, cell, y, 0)) return 0;
    for (let k = 0; k < inputs.length; k++) row[k] = x[inputs[k]!]!;
    row[P - 1] = 1;
    const sd = stats.std[cell]!;
    return (sd * sd) / stats.meanVariance;
  };
  let sumW = 0;
  for (let i = 0; i < sample.t0.length; i++) {
    const w = designRow(i);
    if (w === 0) continue;
    for (let a = 0; a < P; a++) {
      const wa = w * row[a]!;
      for (let b = a; b < P; b++) xtx[a * P + b]! += wa * row[b]!;
      for (let j = 0; j < H; j++) xty[a * H + j]! += wa * y[j]!;
    }
    sumW += w;
  }
  if (sumW === 0) throw new Error('no complete training window to fit the linear path on');
  // The penalty spares the intercept, like the linear baseline's.
  const coef = solveRidge({ xtx, xty, inputs: P, outputs: H, sumW, lambda });
  start.terms.forEach((t, k) => t.coef.set(coef.subarray(k * H, (k + 1) * H)));
  start.intercept.set(coef.subarray((P - 1) * H, P * H));
  // Weighted training error of the fit, to choose between rings.
  let sse = 0;
  for (let i = 0; i < sample.t0.length; i++) {
    const w = designRow(i);
    if (w === 0) continue;
    for (let j = 0; j < H; j++) {
      let p = 0;
      for (let a = 0; a < P; a++) p += row[a]! * coef[a * H + j]!;
      sse += w * (p - y[j]!) ** 2;
    }
  }
  return { start, sse };
}

const f3 = (x: number | null) => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(3));

/** Run (or resume) training; returns what happened. Checkpoints are under options.runDir. */
export async function runTraining(options: TrainOptions): Promise<TrainOutcome> {
  const { tf, cube, config, runDir, log, progress } = options;
  const started = performance.now();
  const notes: string[] = [];
  const lock = acquireLock(runDir, log);
  const tensorsAtStart = tf.memory().numTensors;
  let model: LayersModel | undefined;
  let optimizer: ReturnType<Tf['train']['adam']> | undefined;
  let batchThread: BatchWorker | undefined;
  try {
    for (const name of removeStaleTemporaries(runDir)) log(`checkpoint: removed ${name} left by an interrupted write`);
    const hours = cubeHours(cube);
    const fingerprint = cube.source.fingerprint;
    let split: TimeSplit;
    let stats: NormStats;
    let modelSpec: ModelSpec;
    let startEpoch = 0;
    let learningRate = config.train.learningRate;
    let bestValidation: number | null = null;
    let bestEpoch = 0;
    let sinceImprovement = 0;
    let sinceLrChange = 0;
    let samplesSeen = 0;
    let history: CheckpointMeta['training']['history'] = [];
    let modelConfig = config.model;
    let resumedSpec: CheckpointMeta['features'] | undefined;
    let bestByLead: { model: number[]; persistence: number[]; linear: number[] | null } | undefined;
    const hasCheckpoint = existsSync(join(runDir, 'last')) || existsSync(join(runDir, 'last.prev')) || existsSync(join(runDir, 'best'));

    if (options.resume) {
      if (!hasCheckpoint) throw new CheckpointError(`${runDir}: nothing to resume (no last/ checkpoint); run without --resume to start`);
      const loaded = await loadCheckpoint(tf, runDir, 'last');
      const meta = loaded.meta;
      if (meta.data.fingerprint !== fingerprint) {
        const msg = `${loaded.dir}: was trained on different data (fingerprint ${meta.data.fingerprint.slice(0, 12)}, ${meta.data.hours} hours from ${meta.data.dir}) than ${options.dataDir} (fingerprint ${fingerprint.slice(0, 12)}, ${hours} hours)`;
        if (!options.force) throw new CheckpointError(`${msg}; pass --force to resume anyway`);
        log(`resume: ${msg}; continuing because of --force`);
        notes.push('resumed on different data (--force)');
      }
      checkCubeMatches(meta, cube);
      if (meta.split.hours > hours) throw new DataError(options.dataDir, `has ${hours} hours, the checkpoint's split needs ${meta.split.hours}`);
      split = meta.split;
      resumedSpec = meta.features;
      stats = loaded.stats;
      modelSpec = meta.model;
      modelConfig = meta.config.model;
      model = loaded.model;
      startEpoch = meta.epoch;
      learningRate = meta.training.learningRate;
      bestValidation = meta.training.bestValidation;
      bestEpoch = meta.training.bestEpoch;
      sinceImprovement = meta.training.epochsWithoutImprovement;
      sinceLrChange = meta.training.epochsSinceLrChange;
      samplesSeen = meta.training.samplesSeen;
      history = meta.training.history;
      optimizer = tf.train.adam(learningRate);
      if (loaded.optimizerState) {
        const problems = await restoreOptimizer(tf, optimizer, loaded.optimizerState, model.trainableWeights.map((w) => ({ shape: w.shape as number[] })));
        for (const p of problems) {
          log(`resume: ${p}`);
          notes.push(p);
        }
        if (problems.length === 0) log(`resume: restored weights, Adam moments and step count, learning rate ${learningRate}, from ${loaded.dir} (epoch ${startEpoch})`);
      } else {
        const p = 'checkpoint has no optimizer state: Adam moments start afresh';
        log(`resume: ${p}`);
        notes.push(p);
      }
    } else {
      if (hasCheckpoint && !options.force) {
        throw new CheckpointError(`${runDir}: already holds checkpoints; use --resume to continue it, --force to start over, or another --run name`);
      }
      if (hasCheckpoint) {
        // --force on a run with checkpoints: start over cleanly, so no stale best/ or log remains.
        for (const name of ['last', 'last.prev', 'best', 'best.prev', 'train-log.jsonl']) rmSync(join(runDir, name), { recursive: true, force: true });
        log(`${runDir}: starting over (--force): removed the previous checkpoints and log`);
      }
      split = splitHours({ hours, lookback: config.model.lookback, horizon: config.model.horizon, fractions: config.train.split });
      stats = computeStats(cube, split.train, config.model.normalization);
    }
    log(describeSplit(split));

    const uv = Boolean(cube.u && cube.v) && config.model.useUV;
    const spec = featureSpec({
      lookback: split.lookback,
      horizon: split.horizon,
      ringsDeg: modelConfig.ringsDeg,
      uv: options.resume ? modelConfig.useUV && uv : uv,
      dayOfYear: resumedSpec ? resumedSpec.dayOfYear : split.train.endHour - split.train.startHour >= COMMON_YEAR_HOURS,
      predictDelta: modelConfig.predictDelta,
      normalization: stats.mode,
    });
    modelSpec ??= {
      lookback: split.lookback,
      nFeatures: spec.nFeatures,
      horizon: split.horizon,
      units: modelConfig.units,
      layers: modelConfig.layers,
      dropout: modelConfig.dropout,
      linearSkip: modelConfig.linearSkip,
      seed: config.train.seed,
      lstm: modelConfig.lstm,
    };
    if (modelSpec.nFeatures !== spec.nFeatures) {
      throw new CheckpointError(`${runDir}: the checkpoint's model takes ${modelSpec.nFeatures} features per hour, this data gives ${spec.nFeatures}`);
    }
    if (!model) {
      model = createModel(tf, modelSpec);
      optimizer = tf.train.adam(learningRate);
    }
    // Cell-major copy of the cube: random-window gathering is memory-latency bound otherwise.
    const ctx = featureContext(cube, spec, stats, { cellMajor: true });
    log(`features: ${spec.nFeatures} per hour (${spec.names.join(', ')}), normalisation per ${stats.mode === 'cell' ? 'cell' : 'grid'}, targets ${spec.predictDelta ? 'change from the last hour' : 'speed'}`);
    log(`model: ${modelSpec.layers} x ${modelSpec.lstm === 'fast' ? 'fast ' : ''}LSTM(${modelSpec.units})${modelSpec.linearSkip ? ' + linear path' : ''}, ${model.countParams()} parameters`);
    if (modelSpec.lstm === 'fast' && options.backend.name === 'tensorflow') {
      // The kernels decide the speed on native TensorFlow: say which ones run, and why not ours.
      const ops = loadLstmOps(tf);
      log(ops.loaded
        ? "LSTM kernels: windcast's fused forward and backward (native/lstm_ops.cc)"
        : `LSTM kernels: TensorFlow's (about 1.5x slower per step; windcast's fused kernels not loaded: ${whyNotLoaded(ops)})`);
    }

    if (startEpoch === 0 && modelSpec.linearSkip) {
      const fitAnchors = periodAnchors(split, split.train, 1);
      const cells = cube.grid.width * cube.grid.height;
      // Small data: every training window once (exact least squares); else a seeded sample.
      const fitSample =
        fitAnchors.length * cells <= config.train.linearFitWindows
          ? allWindows(fitAnchors, cells)
          : sampleWindows({
              grid: cube.grid,
              anchors: fitAnchors,
              count: config.train.linearFitWindows,
              seed: mixSeed(config.train.seed, 0x11aea),
              accept: (t, c) => windowValid(ctx, t, c, true),
            });
      const start = fitLinearStart(ctx, fitSample, config.evaluate.ridgeLambda);
      setLinearPath(tf, model, modelSpec, start, (values, shape) => storedTensor(tf, values, shape, 'float32'));
      log(`linear path: started from a least-squares fit on ${fitSample.t0.length} training windows`);
    }
    const validation = buildValidation(cube, ctx, split, config, log);
    log(
      `validation: ${validation.sample.t0.length} windows; persistence RMSE ${f3(validation.persistenceRmse)} m/s, linear baseline ${f3(validation.linearRmse)} m/s`,
    );

    const variables = trainableVariables(model);
    const trainAnchors = periodAnchors(split, split.train, config.train.stride);
    const B = config.train.batchSize;
    const epochs = config.train.epochs;
    const distinct = trainAnchors.length * cube.grid.width * cube.grid.height;
    const perEpoch = Math.max(1, Math.min(config.train.samplesPerEpoch, Math.round(config.train.maxPassesPerEpoch * distinct)));
    if (perEpoch < config.train.samplesPerEpoch) {
      log(`epochs: ${perEpoch} samples each (${config.train.maxPassesPerEpoch} passes over the ${distinct} distinct training windows; samplesPerEpoch ${config.train.samplesPerEpoch} would repeat each ${Math.round(config.train.samplesPerEpoch / distinct)} times)`);
    }
    const logFile = join(runDir, 'train-log.jsonl');
    mkdirSync(runDir, { recursive: true });
    const records: EpochRecord[] = [];
    let stopped: CheckpointMeta['training']['stopped'] = 'completed';
    if (startEpoch >= epochs) {
      log(`resume: ${startEpoch} epochs already done (epochs = ${epochs}); nothing to train`);
    }
    if (sinceImprovement >= config.train.patience && options.resume) {
      log(`resume: validation had already stalled for ${sinceImprovement} epochs; training one more epoch at a time as asked`);
      sinceImprovement = 0;
    }
    const task = progress.start({ unit: 'samples', total: Math.max(0, epochs - startEpoch) * perEpoch, label: 'train' });
    let trainSeconds = 0;
    let trainSamples = 0;

    const baseMeta = (epoch: number, byLead: { model: number[]; persistence: number[]; linear: number[] | null }) => ({
      format: 'windcast-checkpoint' as const,
      formatVersion: 1 as const,
      run: options.run,
      epoch,
      config: { model: modelConfig, train: config.train },
      model: modelSpec!,
      features: spec,
      normalization: { mode: stats.mode, file: 'norm.bin' as const, cells: stats.mean.length, globalMean: stats.globalMean, globalStd: stats.globalStd, meanVariance: stats.meanVariance },
      grid: cube.grid,
      split,
      data: { dir: options.dataDir, fingerprint, hours, firstHour: isoHour(cube.times[0]!), lastHour: isoHour(cube.times[hours - 1]!), uv: spec.uv },
      training: {
        learningRate,
        bestValidation,
        bestEpoch,
        epochsWithoutImprovement: sinceImprovement,
        epochsSinceLrChange: sinceLrChange,
        stopped,
        samplesSeen,
        history,
        validationRmseByLead: byLead.model,
        persistenceRmseByLead: byLead.persistence,
        linearRmseByLead: byLead.linear,
      },
      versions: { windcast: windcastVersion(), tfjs: options.backend.tfjsVersion, node: process.version, ...(options.backend.tensorflowVersion ? { tensorflow: options.backend.tensorflowVersion } : {}) },
      backend: { name: options.backend.name, threads: options.backend.threads },
    });

    if (startEpoch === 0) {
      // The untrained model (the linear start, or persistence) is epoch 0's candidate for best/:
      // on a small dataset training may never beat it on validation, and best/ must then be it,
      // not the least bad of the trained epochs.
      forecastWindows(tf, model, ctx, validation.sample.t0, validation.sample.cell, validation.pred, validation.scratch);
      const v0 = rmseByLead(validation.pred, validation.truth, spec.horizon);
      log(`validation before training: model RMSE ${f3(v0.overall)} m/s`);
      bestValidation = v0.overall;
      bestEpoch = 0;
      bestByLead = { model: v0.byLead, persistence: validation.persistenceByLead, linear: validation.linearByLead };
      stopped = 'running';
      await writeCheckpoint(tf, runDir, 'best', { model, optimizer, stats, meta: baseMeta(0, bestByLead) }, options.writeHook);
    }

    for (let epoch = startEpoch + 1; epoch <= epochs; epoch++) {
      const t0 = performance.now();
      const sample = sampleWindows({
        grid: cube.grid,
        anchors: trainAnchors,
        count: perEpoch,
        seed: mixSeed(config.train.seed, epoch),
        accept: (t, c) => windowValid(ctx, t, c, true),
      });
      let sqSum = 0;
      let done = 0;
      // Batch k+1 is gathered on the batch thread while the model runs batch k.
      const batches = (batchThread ??= BatchWorker.start(ctx, B));
      batches.setSample(sample);
      let next = batches.fill(0, 0, Math.min(B, perEpoch));
      for (let k = 0, start = 0; start < perEpoch; k++, start += B) {
        if (options.signal?.aborted) break;
        const count = Math.min(B, perEpoch - start);
        const slot = (k % 2) as 0 | 1;
        const wSum = await next;
        if (start + B < perEpoch) next = batches.fill((1 - slot) as 0 | 1, start + B, Math.min(B, perEpoch - start - B));
        const buf = batches.buffers[slot];
        if (wSum > 0) {
          const batch = batchTensors(tf, buf, count);
          try {
            const cost = trainStep(tf, model, optimizer!, { ...batch, wSum }, variables);
            try {
              // Loss x wSum x meanVariance = the batch's summed (over samples) lead-mean squared error in (m/s)^2.
              sqSum += (await cost.data())[0]! * wSum * stats.meanVariance;
            } finally {
              cost.dispose();
            }
          } finally {
            batch.xs.dispose();
            batch.ys.dispose();
            batch.ws.dispose();
          }
        }
        done += count;
        task.tick(count, `epoch ${epoch}/${epochs} rmse ${Math.sqrt(sqSum / done).toFixed(3)} m/s`);
        // Let a Ctrl-C handler run between batches (kernels run synchronously).
        await new Promise((r) => setImmediate(r));
      }
      const interrupted = Boolean(options.signal?.aborted);
      if (interrupted && done < perEpoch) {
        stopped = 'interrupted';
        log(`interrupted in epoch ${epoch} after ${done} of ${perEpoch} samples: saving last/ (weights include these steps; it counts ${epoch - 1} completed epochs, so --resume reruns epoch ${epoch})`);
      }
      samplesSeen += done;
      const trainTime = (performance.now() - t0) / 1000;
      trainSeconds += trainTime;
      trainSamples += done;

      forecastWindows(tf, model, ctx, validation.sample.t0, validation.sample.cell, validation.pred, validation.scratch);
      const v = rmseByLead(validation.pred, validation.truth, spec.horizon);
      const improved = interrupted ? false : bestValidation === null || v.overall < bestValidation - 1e-6;
      const completedEpoch = interrupted && done < perEpoch ? epoch - 1 : epoch;
      if (!interrupted || done === perEpoch) {
        if (improved) {
          bestValidation = v.overall;
          bestEpoch = epoch;
          sinceImprovement = 0;
          sinceLrChange = 0;
        } else {
          sinceImprovement++;
          sinceLrChange++;
          if (sinceLrChange >= config.train.lrPatience && config.train.lrDecay < 1) {
            learningRate *= config.train.lrDecay;
            (optimizer as unknown as { learningRate: number }).learningRate = learningRate;
            sinceLrChange = 0;
            log(`epoch ${epoch}: validation stalled ${config.train.lrPatience} epochs, learning rate -> ${learningRate.toExponential(2)}`);
          }
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      const record: EpochRecord = {
        epoch,
        trainRmse: Math.sqrt(sqSum / Math.max(done, 1)),
        validationRmse: v.overall,
        persistenceRmse: validation.persistenceRmse,
        linearRmse: validation.linearRmse,
        validationRmseByLead: v.byLead,
        learningRate,
        seconds,
        samplesPerSecond: done / trainTime,
        improved,
        numTensors: tf.memory().numTensors,
      };
      records.push(record);
      if (!interrupted || done === perEpoch) {
        history = [
          ...history,
          {
            epoch,
            trainLoss: record.trainRmse ** 2,
            validationLoss: v.overall ** 2,
            validationRmse: v.overall,
            persistenceRmse: validation.persistenceRmse,
            learningRate,
            seconds,
            samplesPerSecond: record.samplesPerSecond,
          },
        ];
      }
      appendFileSync(
        logFile,
        JSON.stringify({
          time: new Date().toISOString(),
          ...record,
          interrupted,
          linearRmseByLead: validation.linearByLead,
          persistenceRmseByLead: validation.persistenceByLead,
          backend: options.backend.name,
        }) + '\n',
      );
      const byLead = { model: v.byLead, persistence: validation.persistenceByLead, linear: validation.linearByLead };
      const stalled = sinceImprovement >= config.train.patience;
      if (!interrupted && stalled) stopped = 'early-stopped';
      else if (!interrupted) stopped = epoch === epochs ? 'completed' : 'running';
      if (improved) {
        bestByLead = byLead;
        await writeCheckpoint(tf, runDir, 'best', { model, optimizer, stats, meta: baseMeta(epoch, byLead) }, options.writeHook);
      }
      await writeCheckpoint(tf, runDir, 'last', { model, optimizer, stats, meta: baseMeta(completedEpoch, byLead) }, options.writeHook);
      log(
        `epoch ${epoch}/${epochs}: train ${f3(record.trainRmse)}, validation ${f3(v.overall)} m/s ` +
          `(persistence ${f3(validation.persistenceRmse)}, linear ${f3(validation.linearRmse)})${improved ? ' best' : ''}, ` +
          `${Math.round(record.samplesPerSecond)} samples/s, ${seconds.toFixed(1)} s`,
      );
      if (interrupted) break;
      if (stalled) {
        log(`early stop: no validation improvement for ${sinceImprovement} epochs (patience ${config.train.patience}); best epoch ${bestEpoch}`);
        break;
      }
    }
    task.done();
    if (!bestByLead && bestValidation !== null) {
      try {
        const best = (await import('../model/checkpoint.js')).readMeta(join(runDir, 'best'));
        bestByLead = { model: best.training.validationRmseByLead, persistence: best.training.persistenceRmseByLead, linear: best.training.linearRmseByLead };
      } catch {
        // No best/ readable: report the last epoch's figures below.
      }
    }
    const lastRecord = records[records.length - 1];
    return {
      run: options.run,
      runDir,
      backend: options.backend.name,
      split,
      epochsCompleted: startEpoch + records.filter((r, i) => i < records.length - 1 || stopped !== 'interrupted').length,
      startEpoch,
      stopped: records.length === 0 ? 'completed' : stopped === 'running' ? 'completed' : stopped,
      bestEpoch,
      bestValidationRmse: bestValidation,
      history: records,
      validationRmseByLead: bestByLead?.model ?? lastRecord?.validationRmseByLead ?? [],
      persistenceRmseByLead: bestByLead?.persistence ?? validation.persistenceByLead,
      linearRmseByLead: bestByLead?.linear ?? validation.linearByLead,
      samplesPerSecond: trainSeconds > 0 ? trainSamples / trainSeconds : 0,
      seconds: (performance.now() - started) / 1000,
      logFile,
      notes,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    await batchThread?.close();
    model?.dispose();
    optimizer?.dispose();
    lock.release();
    const leaked = tf.memory().numTensors - tensorsAtStart;
    if (leaked > 0) log(`warning: ${leaked} tensors still allocated after training`);
  }
}

export { ConfigError };
