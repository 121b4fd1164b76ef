/**
 * The quantile head's fit, after the point model's epochs: on the best point checkpoint, the
 * head alone (model/quantile-head.ts) learns with a pinball loss on training windows, early
 * stopped on the validation windows' mean pinball loss; then one width scale per lead is
 * chosen on the validation windows (the one of a grid that minimises their pinball loss, a
 * conformal-style recalibration: a model fitted on training windows is a little too sure of
 * itself on hours it has not seen). best/ is rewritten with the fitted head; the point forecast
 * is untouched, since nothing of the point model trains here.
 *
 * Why after and not jointly: a pinball term in the LSTM's loss would move the point forecast,
 * the headline score, away from the model early stopping chose on squared error (not tried);
 * a head on the fixed LSTM state keeps that model bit for bit, and since that state does not
 * change, it is computed once for the head's training windows and the head's epochs cost
 * only the head.
 */
import type { Tf } from '../runtime/backend.js';
import type { Progress } from '../core/progress.js';
import { denormalize, gatherWindow, windowValid, type FeatureContext } from '../prepare/features.js';
import { inputTensor, type BatchWorker } from '../prepare/batches.js';
import { makeRng, mixSeed, sampleWindows } from '../prepare/windows.js';
import { quantileVariables } from '../model/model.js';
import { centralIntervals, centralLevel, disposePinballBatch, HeadGradient, pinball, QUANTILE_LAYER, setQuantileScale, setQuantileStart, type PinballBatch } from '../model/quantile-head.js';
import { releaseLstmBuffers } from '../runtime/lstm-kernels.js';
import { stepsOnSample } from './epoch.js';
import { windowWeight, type ValidationSet } from './validation.js';

type Tensor = ReturnType<Tf['tensor']>;
type LayersModel = ReturnType<Tf['model']>;
type SymbolicTensor = ReturnType<Tf['input']>;

/** Width scales tried per lead. */
const WIDTH_SCALES = Array.from({ length: 31 }, (_, i) => 0.5 + 0.05 * i);
const QUANTILE_SEED = 0x9a417;
const MIN_STEPS_PER_EPOCH = 24;

/** What the fit did, recorded in best/'s meta.json and logged. */
export interface QuantileFit {
  levels: number[];
  epochs: number;
  bestEpoch: number;
  /** Validation mean pinball loss (m/s, over windows, leads and levels) at the Gaussian start, the best epoch and after the width scale. */
  startPinball: number;
  fittedPinball: number;
  calibratedPinball: number;
  widthScale: number[];
  /** Validation coverage of the central intervals the levels give (e.g. 0.1..0.9 -> 80 %), after calibration. */
  coverage: { central: number; observed: number }[];
}

/**
 * Start the head as a Gaussian around the point forecast whose deviation per lead is the
 * validation RMSE of the same-input ridge (or of persistence without it), in normalised units.
 */
export function startQuantileHead(tf: Tf, model: LayersModel, levels: readonly number[], rmseByLead: readonly number[], meanVariance: number): void {
  const sd = Math.sqrt(meanVariance);
  setQuantileStart(tf, model, levels, rmseByLead.map((r) => (Number.isFinite(r) ? r / sd : 1)));
}

/** Mean pinball loss (m/s) over windows, leads and levels of quantiles q [n x H x Q] against truth [n x H], NaN pairs skipped, windows weighted by `weight`. */
export function meanPinball(q: Float32Array, truth: Float32Array, levels: readonly number[], horizon: number, weight?: Float32Array): { overall: number; byLead: number[] } {
  return new PinballSums(levels, horizon).add(q, truth, weight).result();
}

/**
 * meanPinball's sums fed a batch of whole windows at a time, in window order: the same sums in
 * the same order as over the whole array, so the same figures, without holding every
 * window's quantiles (60,000 validation windows x 24 leads x 7 levels are 40 MB).
 */
export class PinballSums {
  private readonly sum: Float64Array;
  private readonly count: Float64Array;
  constructor(
    private readonly levels: readonly number[],
    private readonly horizon: number,
  ) {
    this.sum = new Float64Array(horizon);
    this.count = new Float64Array(horizon);
  }

  /** Windows' quantiles q [n x H x Q], their truth [n x H] and weights [n] (none: 1 each). */
  add(q: Float32Array, truth: Float32Array, weight?: Float32Array): this {
    const { levels, horizon, sum, count } = this;
    const Q = levels.length;
    const w = windowWeight(weight, truth);
    for (let i = 0; i < truth.length; i++) {
      const y = truth[i]!;
      if (y !== y) continue;
      const base = i * Q;
      if (q[base]! !== q[base]!) continue;
      let s = 0;
      for (let k = 0; k < Q; k++) s += pinball(levels[k]!, y, q[base + k]!);
      const wi = w(i);
      sum[i % horizon]! += (wi * s) / Q;
      count[i % horizon]! += wi;
    }
    return this;
  }

  result(): { overall: number; byLead: number[] } {
    const byLead = Array.from(this.sum, (s, j) => (this.count[j]! > 0 ? s / this.count[j]! : NaN));
    return { overall: byLead.reduce((a, b) => a + b, 0) / this.horizon, byLead };
  }
}

/**
 * The validation windows' head inputs (LSTM state and point forecast per batch of the
 * validation scratch), computed once: the head's fit scores validation after every epoch and
 * twice more for the width scale, and only the head changes in between, so each score costs
 * the head alone instead of a forecast of every window (about 1 s of Berlin's 1.5 s fit).
 */
export class ValidationHeadInputs {
  private constructor(
    private readonly batches: { start: number; count: number; state: Tensor; point: Tensor }[],
    private readonly valid: Uint8Array,
  ) {}

  static compute(tf: Tf, model: LayersModel, ctx: FeatureContext, validation: ValidationSet): ValidationHeadInputs {
    const { sample, scratch } = validation;
    const { lookback, nFeatures } = ctx.spec;
    const inputsModel = headInputsModel(tf, model);
    const n = sample.t0.length;
    const valid = new Uint8Array(n);
    const batches: { start: number; count: number; state: Tensor; point: Tensor }[] = [];
    try {
      for (let start = 0; start < n; start += scratch.batch) {
        const count = Math.min(scratch.batch, n - start);
        for (let i = 0; i < count; i++) valid[start + i] = gatherWindow(ctx, sample.t0[start + i]!, sample.cell[start + i]!, scratch.x, i) ? 1 : 0;
        const xs = inputTensor(tf, scratch.x, count, lookback, nFeatures);
        try {
          const [state, point] = inputsModel.apply(xs, { training: false }) as Tensor[];
          batches.push({ start, count, state: state!, point: point! });
        } finally {
          xs.dispose();
        }
      }
    } catch (err) {
      for (const b of batches) tf.dispose([b.state, b.point]);
      throw err;
    }
    return new ValidationHeadInputs(batches, valid);
  }

  /**
   * The quantiles (m/s) the model's head as it stands gives these windows, those forecastWindows
   * gives them, a batch at a time in window order: visit(q, truth, start) sees windows
   * [start, start + q.length / (H x Q)) and their truth. The fit scores validation this way
   * (PinballSums and the like) instead of holding all the windows' quantiles.
   */
  eachBatch(tf: Tf, model: LayersModel, ctx: FeatureContext, validation: ValidationSet, Q: number, visit: (q: Float32Array, truth: Float32Array, start: number) => void): void {
    const { sample, truth } = validation;
    const H = ctx.spec.horizon;
    const head = model.getLayer(QUANTILE_LAYER);
    for (const b of this.batches) {
      const t = tf.tidy(() => head.apply([b.state, b.point]) as Tensor);
      let q: Float32Array;
      try {
        // dataSync's copy is the batch's own: denormalised in place.
        q = t.dataSync() as Float32Array;
      } finally {
        t.dispose();
      }
      for (let i = 0; i < b.count; i++) {
        const w = b.start + i;
        if (this.valid[w]) denormalize(ctx, sample.t0[w]!, sample.cell[w]!, q, i * H * Q, Q);
        else q.fill(NaN, i * H * Q, (i + 1) * H * Q);
      }
      visit(q, truth.subarray(b.start * H, (b.start + b.count) * H), b.start);
    }
  }

  /** All the windows' quantiles at once (eachBatch's values in one array). */
  quantiles(tf: Tf, model: LayersModel, ctx: FeatureContext, validation: ValidationSet, Q: number): Float32Array {
    const out = new Float32Array(validation.sample.t0.length * ctx.spec.horizon * Q);
    this.eachBatch(tf, model, ctx, validation, Q, (q, _truth, start) => out.set(q, start * ctx.spec.horizon * Q));
    return out;
  }

  dispose(tf: Tf): void {
    for (const b of this.batches) tf.dispose([b.state, b.point]);
    this.batches.length = 0;
  }
}

/** A model from the network's input to the head's two inputs: the LSTM state and the point forecast. */
function headInputsModel(tf: Tf, model: LayersModel): LayersModel {
  const [stateInput, pointInput] = model.getLayer(QUANTILE_LAYER).input as unknown as SymbolicTensor[];
  return tf.model({ inputs: model.inputs, outputs: [stateInput!, pointInput!], name: 'quantile_head_inputs' });
}

/**
 * Per lead, the width scale s (of WIDTH_SCALES) that minimises the validation pinball loss of
 * q_k(s) = max(0, c + s (q_k - c)), c the central level: the head's scale acts on its
 * increments in normalised units, which is this in m/s (up to the clip at calm).
 *
 * One scale per lead, not one per lead and level: chosen on the first half of the validation
 * period and scored on the second (scripts/calibration-holdout.mjs; the per-level variant was
 * commit b4cd34f), a scale per level overfitted the short Berlin period (pinball 0.4524 m/s
 * against 0.4255 per lead and 0.4264 unscaled); on the Arabian Sea all three scored 0.2340.
 */
export function chooseWidthScale(q: Float32Array, truth: Float32Array, levels: readonly number[], horizon: number, weight?: Float32Array): number[] {
  return new WidthScaleSums(levels, horizon).add(q, truth, weight).result();
}

/** chooseWidthScale's sums fed a batch of whole windows at a time, in window order (as PinballSums). */
export class WidthScaleSums {
  private readonly loss: Float64Array[];
  constructor(
    private readonly levels: readonly number[],
    private readonly horizon: number,
  ) {
    this.loss = Array.from({ length: horizon }, () => new Float64Array(WIDTH_SCALES.length));
  }

  add(q: Float32Array, truth: Float32Array, weight?: Float32Array): this {
    const { levels, horizon, loss } = this;
    const Q = levels.length;
    const m = centralLevel(levels);
    const w = windowWeight(weight, truth);
    for (let i = 0; i < truth.length; i++) {
      const y = truth[i]!;
      const base = i * Q;
      if (y !== y || q[base]! !== q[base]!) continue;
      const c = q[base + m]!;
      const row = loss[i % horizon]!;
      for (let g = 0; g < WIDTH_SCALES.length; g++) {
        const s = WIDTH_SCALES[g]!;
        let l = 0;
        for (let k = 0; k < Q; k++) {
          const v = c + s * (q[base + k]! - c);
          l += pinball(levels[k]!, y, v > 0 ? v : 0);
        }
        row[g]! += w(i) * l;
      }
    }
    return this;
  }

  /** Per lead, the scale of least loss (1 on ties with it). */
  result(): number[] {
    return this.loss.map((row) => {
      let best = WIDTH_SCALES.indexOf(1);
      for (let g = 0; g < row.length; g++) if (row[g]! < row[best]!) best = g;
      return WIDTH_SCALES[best]!;
    });
  }
}

/** Observed coverage of each central interval the levels hold symmetric pairs for (tau, 1 - tau). */
export function centralCoverage(q: Float32Array, truth: Float32Array, levels: readonly number[], weight?: Float32Array): { central: number; observed: number }[] {
  return new CoverageCounts(levels).add(q, truth, weight).result();
}

/** centralCoverage's counts fed a batch of whole windows at a time. */
export class CoverageCounts {
  private readonly intervals: { lower: number; upper: number; coverage: number; inside: number; n: number }[];
  constructor(private readonly levels: readonly number[]) {
    this.intervals = centralIntervals(levels).map((c) => ({ ...c, inside: 0, n: 0 }));
  }

  add(q: Float32Array, truth: Float32Array, weight?: Float32Array): this {
    const Q = this.levels.length;
    const w = windowWeight(weight, truth);
    for (const c of this.intervals) {
      const { lower: lo, upper: hi } = c;
      for (let i = 0; i < truth.length; i++) {
        const y = truth[i]!;
        if (y !== y || q[i * Q]! !== q[i * Q]!) continue;
        const wi = w(i);
        c.n += wi;
        if (y >= q[i * Q + lo]! && y <= q[i * Q + hi]!) c.inside += wi;
      }
    }
    return this;
  }

  result(): { central: number; observed: number }[] {
    return this.intervals.map((c) => ({ central: Math.round(c.coverage * 1000) / 1000, observed: c.n > 0 ? c.inside / c.n : NaN }));
  }
}

export interface QuantileFitOptions {
  tf: Tf;
  model: LayersModel;
  levels: readonly number[];
  ctx: FeatureContext;
  validation: ValidationSet;
  trainAnchors: Int32Array;
  /** The run's batch thread (the epochs' one; the fit gives it its own sample and leaves it running). */
  batches: BatchWorker;
  /** Training windows the head is fitted on (their LSTM states are computed once). */
  samples: number;
  epochs: number;
  learningRate: number;
  batchSize: number;
  seed: number;
  progress: Progress;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * The head's inputs for a seeded sample of training windows: the point model is fixed, so its
 * LSTM state and point forecast are computed once (the fused inference kernel, in the one
 * batch loop of epoch.ts) and the head's epochs run on them, at the cost of a small dense layer.
 */
async function headInputs(o: QuantileFitOptions, gradient: HeadGradient, task: ReturnType<Progress['start']>): Promise<PinballBatch[]> {
  const { tf, model, ctx } = o;
  const inputsModel = headInputsModel(tf, model);
  const sample = sampleWindows({ grid: ctx.cube.grid, anchors: o.trainAnchors, count: o.samples, seed: mixSeed(o.seed, QUANTILE_SEED), accept: (t, c) => windowValid(ctx, t, c, true) });
  const cached: PinballBatch[] = [];
  try {
    await stepsOnSample(tf, {
      batches: o.batches,
      sample,
      batchSize: o.batchSize,
      step: (batch) => {
        // HeadGradient.batch's tensors are computed, not views of the batch buffer the batch
        // thread refills two batches on. The weight is the squared-error weight's square root:
        // pinball is linear in the error.
        const [state, point] = inputsModel.apply(batch.xs, { training: false }) as Tensor[];
        const w = tf.sqrt(batch.ws);
        try {
          cached.push(gradient.batch({ state: state!, point: point!, ys: batch.ys, w }));
        } finally {
          tf.dispose([state!, point!, w]);
        }
        return tf.scalar(0);
      },
      total: () => 0,
      tick: (count) => task.tick(count, 'quantile head inputs'),
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } catch (err) {
    for (const b of cached) disposePinballBatch(tf, b);
    throw err;
  }
  return cached;
}

/** Fit the head of `model` (in place) and choose its width scale; returns what was done. */
export async function fitQuantileHead(o: QuantileFitOptions): Promise<QuantileFit> {
  // A head starts its fit at width scale 1 (a resumed run's best/ may hold a chosen one).
  setQuantileScale(o.tf, o.model, new Array<number>(o.ctx.spec.horizon).fill(1));
  // The epochs are over and the fit trains no LSTM: the fused kernels' buffers for the training
  // step's outputs go back to the system first (168 MiB on the global month), so the fit's own
  // memory does not come on top of them.
  releaseLstmBuffers(o.tf);
  const validationInputs = ValidationHeadInputs.compute(o.tf, o.model, o.ctx, o.validation);
  try {
    return await fitOnValidationInputs(o, validationInputs);
  } finally {
    validationInputs.dispose(o.tf);
  }
}

async function fitOnValidationInputs(o: QuantileFitOptions, validationInputs: ValidationHeadInputs): Promise<QuantileFit> {
  const { tf, model, levels, ctx, validation } = o;
  const H = ctx.spec.horizon;
  const Q = levels.length;
  // Sums over the validation windows, fed a batch of quantiles at a time, each window weighted
  // as in the validation RMSE (its area weight, when the sample has distinct windows).
  const weight = validation.sample.weight;
  const tally = <T extends { add(q: Float32Array, truth: Float32Array, weight?: Float32Array): unknown }>(...sums: T[]): T[] => {
    validationInputs.eachBatch(tf, model, ctx, validation, Q, (q, truth, start) => {
      const w = weight?.subarray(start, start + truth.length / H);
      sums.forEach((s) => s.add(q, truth, w));
    });
    return sums;
  };
  const score = () => tally(new PinballSums(levels, H))[0]!.result().overall;
  const variables = quantileVariables(model);
  const [kernel, bias] = variables;
  if (variables.length !== 2 || kernel?.rank !== 2 || bias?.rank !== 1) throw new Error('the quantile head has no kernel and bias to fit');
  const startPinball = score();
  let best = { pinball: startPinball, epoch: 0, weights: variables.map((v) => tf.clone(v)) };
  const optimizer = tf.train.adam(o.learningRate);
  const task = o.progress.start({ unit: 'samples', total: o.samples, label: 'quantiles' });
  // The fit runs at width scale 1 (fitQuantileHead set it).
  const gradient = new HeadGradient(tf, levels, new Array<number>(H).fill(1));
  const start = HeadGradient.params(tf, kernel, bias);
  // A variable keeps its initial value's data but not the tensor: that one is ours to free.
  const params = tf.variable(start, true, undefined, 'float32');
  start.dispose();
  // The layer's kernel and bias from the fit's P, for scoring validation through the layer.
  const toLayer = () => {
    const kb = HeadGradient.split(tf, params);
    kernel.assign(kb.kernel);
    bias.assign(kb.bias);
    tf.dispose([kb.kernel, kb.bias]);
  };
  let cached: PinballBatch[] = [];
  let taskDone = false;
  let epochs = 0;
  try {
    cached = await headInputs(o, gradient, task);
    task.done();
    taskDone = true;
    const rng = makeRng(mixSeed(o.seed, QUANTILE_SEED + 1));
    // An epoch is a pass over the cached batches, or several on small data: at least
    // MIN_STEPS_PER_EPOCH Adam steps between validations, so early stopping does not judge the
    // head on its first few noisy steps from the Gaussian start.
    const passes = Math.max(1, Math.ceil(MIN_STEPS_PER_EPOCH / Math.max(1, cached.length)));
    for (let epoch = 1; epoch <= o.epochs && !o.signal?.aborted && cached.length > 0; epoch++) {
      for (let pass = 0; pass < passes; pass++) {
        // The cached batches in a fresh seeded order each pass.
        const order = cached.map((_, i) => i);
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(rng() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        for (const i of order) {
          // The gradient by hand (HeadGradient), then tf.train.adam's own update: the step
          // optimizer.minimize on weightedPinballLoss through the layer takes, to float rounding.
          const dParams = gradient.gradient(cached[i]!, params);
          try {
            optimizer.applyGradients([{ name: params.name, tensor: dParams }]);
          } finally {
            dParams.dispose();
          }
        }
      }
      epochs = epoch;
      toLayer();
      const pinball = score();
      const improved = pinball < best.pinball - 1e-6;
      o.log(`quantile epoch ${epoch}/${o.epochs}: validation pinball ${pinball.toFixed(4)} m/s${improved ? ' best' : ''}`);
      if (!improved) break;
      tf.dispose(best.weights);
      best = { pinball, epoch, weights: variables.map((v) => tf.clone(v)) };
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    for (const b of cached) disposePinballBatch(tf, b);
    gradient.dispose();
    params.dispose();
    optimizer.dispose();
    if (!taskDone) task.done();
    variables.forEach((v, i) => v.assign(best.weights[i]!));
    tf.dispose(best.weights);
  }
  const widthScale = tally(new WidthScaleSums(levels, H))[0]!.result();
  setQuantileScale(tf, model, widthScale);
  const calibratedPinball = new PinballSums(levels, H);
  const coverage = new CoverageCounts(levels);
  tally<PinballSums | CoverageCounts>(calibratedPinball, coverage);
  return {
    levels: [...levels],
    epochs,
    bestEpoch: best.epoch,
    startPinball,
    fittedPinball: best.pinball,
    calibratedPinball: calibratedPinball.result().overall,
    widthScale,
    coverage: coverage.result(),
  };
}
