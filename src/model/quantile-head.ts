/**
 * The quantile head: from the last LSTM layer's state and the point forecast, the forecast's
 * quantiles at fixed levels for every lead, in the model's normalised units. They cannot
 * cross, by construction: the central level is the point forecast plus a free offset, and
 * each level above (below) it adds (subtracts) a softplus increment, so every step between
 * neighbouring levels is positive whatever the weights are.
 *
 * The point forecast stays the mean head (model.ts, trained on squared error): RMSE is the
 * headline score and the mean is what minimises it, while the central quantile is the
 * median. The head sits after the LSTM, so the fused LSTM kernels run unchanged.
 *
 * Weights: a dense kernel [units, horizon x levels] (starts at zero), a bias (starts at a
 * Gaussian spread per lead, so the untrained head is the point forecast dressed with the
 * same-input ridge's validation errors), and a per-lead width scale that training does not
 * touch: train/quantile-fit.ts sets it on the validation windows after fitting the rest.
 *
 * Output layout: [n, horizon x levels], lead-major (lead j, level k at j * levels + k).
 */
import type { Tf } from '../runtime/backend.js';
import { loadLstmOps } from '../runtime/lstm-kernels.js';

type Tensor = ReturnType<Tf['tensor']>;
type SymbolicTensor = ReturnType<Tf['input']>;

/** The level the head centres on: the one nearest 0.5 (the median when 0.5 is a level). */
export function centralLevel(levels: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < levels.length; k++) if (Math.abs(levels[k]! - 0.5) < Math.abs(levels[best]! - 0.5)) best = k;
  return best;
}

/** Quantile levels must rise strictly inside (0, 1): the head, the scores and the baselines all check this. */
export function checkLevels(levels: readonly number[]): void {
  if (levels.length === 0 || levels.some((l, k) => !(l > 0 && l < 1) || (k > 0 && !(l > levels[k - 1]!)))) {
    throw new Error(`quantile levels must rise strictly inside (0, 1), got ${levels.join(', ')}`);
  }
}

/** The central intervals the levels allow: pairs (k, K-1-k) with tau_k + tau_{K-1-k} = 1. */
export function centralIntervals(levels: readonly number[]): { lower: number; upper: number; coverage: number }[] {
  const out: { lower: number; upper: number; coverage: number }[] = [];
  for (let lo = 0; lo < levels.length; lo++) {
    const hi = levels.findIndex((l) => Math.abs(l - (1 - levels[lo]!)) < 1e-9);
    if (hi > lo) out.push({ lower: lo, upper: hi, coverage: levels[hi]! - levels[lo]! });
  }
  return out;
}

/** Pinball loss of the quantile q at level tau for the truth y. */
export function pinball(tau: number, y: number, q: number): number {
  const e = y - q;
  return e >= 0 ? tau * e : (tau - 1) * e;
}

/** Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155222095];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  if (!(p > 0 && p < 1)) return p === 0 ? -Infinity : p === 1 ? Infinity : NaN;
  const tail = (q: number) => (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** softplus^-1: the raw value whose softplus is x (> 0). */
function inverseSoftplus(x: number): number {
  return x > 30 ? x : Math.log(Math.expm1(Math.max(x, 1e-6)));
}

/**
 * The head's starting bias for a Gaussian of deviation sigma[j] (normalised units) around the
 * point forecast: centre offset 0, increments the normal quantile gaps times sigma.
 */
export function gaussianStartBias(levels: readonly number[], sigma: readonly number[]): Float32Array {
  const Q = levels.length;
  const m = centralLevel(levels);
  const bias = new Float32Array(sigma.length * Q);
  for (let j = 0; j < sigma.length; j++) {
    const s = Math.max(sigma[j]!, 1e-3);
    for (let k = 0; k < Q; k++) {
      if (k === m) continue;
      const gap = Math.abs(normalQuantile(levels[k]!) - normalQuantile(levels[k > m ? k - 1 : k + 1]!)) * s;
      bias[j * Q + k] = inverseSoftplus(gap);
    }
  }
  return bias;
}

/**
 * [Q x Q], row-major: entry (k', k) adds step k' into level k: +1 for m < k' <= k above the
 * centre m, -1 for k <= k' < m below it. The head's offsets are steps x this matrix.
 */
export function cumulativeMatrix(levels: readonly number[]): Float32Array {
  const Q = levels.length;
  const m = centralLevel(levels);
  const values = new Float32Array(Q * Q);
  for (let k = 0; k < Q; k++) {
    for (let from = 0; from < Q; from++) {
      if (k > m && from > m && from <= k) values[from * Q + k] = 1;
      if (k < m && from < m && from >= k) values[from * Q + k] = -1;
    }
  }
  return values;
}

export interface QuantileHeadArgs {
  name: string;
  levels: number[];
  horizon: number;
}

let layerClass: (new (args: QuantileHeadArgs) => { apply(x: SymbolicTensor[]): SymbolicTensor }) | undefined;

/** A QuantileHead layer, applied to [lstmState, pointForecast]. */
export function quantileHeadLayer(tf: Tf, args: QuantileHeadArgs) {
  registerQuantileHead(tf);
  return new layerClass!(args);
}

/** Define and register the 'QuantileHead' layer class. Call before tf.loadLayersModel on a checkpoint with quantiles. */
export function registerQuantileHead(tf: Tf): void {
  if (layerClass) return;
  const Base = tf.layers.Layer as unknown as new (args: object) => {
    name: string;
    addWeight(name: string, shape: number[], dtype: undefined, init: unknown, regularizer?: unknown, trainable?: boolean): { read(): Tensor };
    getConfig(): Record<string, unknown>;
    built: boolean;
  };
  class QuantileHead extends Base {
    static className = 'QuantileHead';
    readonly levels: number[];
    readonly horizon: number;
    private kernel?: { read(): Tensor };
    private bias?: { read(): Tensor };
    private scale?: { read(): Tensor };
    constructor(a: QuantileHeadArgs) {
      super(a);
      checkLevels(a.levels);
      this.levels = [...a.levels];
      this.horizon = a.horizon;
    }
    build(inputShape: number[][]): void {
      const units = inputShape[0]![inputShape[0]!.length - 1]!;
      const width = this.horizon * this.levels.length;
      // Zeros until train/quantile-fit.ts sets the Gaussian start (setQuantileStart).
      this.kernel = this.addWeight('kernel', [units, width], undefined, tf.initializers.zeros());
      this.bias = this.addWeight('bias', [width], undefined, tf.initializers.zeros());
      this.scale = this.addWeight('scale', [this.horizon], undefined, tf.initializers.ones(), undefined, false);
      this.built = true;
    }
    computeOutputShape(inputShape: number[][]): number[] {
      return [inputShape[0]![0]!, this.horizon * this.levels.length];
    }
    call(inputs: Tensor | Tensor[]): Tensor {
      return tf.tidy(() => {
        const [state, point] = inputs as Tensor[];
        const Q = this.levels.length;
        const m = centralLevel(this.levels);
        const raw = tf.reshape(tf.add(tf.matMul(state!, this.kernel!.read()), this.bias!.read()), [-1, this.horizon, Q]);
        // |scale|: the order holds for any stored weights, not only the scales quantile-fit.ts chooses.
        const scale = tf.reshape(tf.abs(this.scale!.read()), [1, this.horizon, 1]);
        // Each level's step from its inner neighbour, and the central level's offset from the point.
        const steps = tf.mul(tf.mul(tf.softplus(raw), scale), this.stepMask(tf));
        const centre = tf.add(point!, tf.reshape(tf.slice(raw, [0, 0, m], [-1, -1, 1]), [-1, this.horizon]));
        // Cumulative sums outward from the centre as one matrix product (few ops: the head's cost
        // is per-op overhead, not arithmetic).
        const offsets = tf.reshape(tf.matMul(tf.reshape(steps, [-1, Q]), this.cumulative(tf)), [-1, this.horizon, Q]);
        return tf.reshape(tf.add(offsets, tf.expandDims(centre, 2)), [-1, this.horizon * Q]);
      });
    }
    /** [Q]: 1 for the levels that are steps, 0 for the central level (its raw value is the offset). */
    private stepMask(t: Tf): Tensor {
      const m = centralLevel(this.levels);
      return t.tensor1d(this.levels.map((_, k) => (k === m ? 0 : 1)));
    }
    /** [Q x Q]: the cumulative sums outward from the centre (cumulativeMatrix). */
    private cumulative(t: Tf): Tensor {
      const Q = this.levels.length;
      return t.tensor2d(cumulativeMatrix(this.levels), [Q, Q]);
    }
    override getConfig(): Record<string, unknown> {
      return { ...super.getConfig(), levels: this.levels, horizon: this.horizon };
    }
  }
  tf.serialization.registerClass(QuantileHead as unknown as Parameters<Tf['serialization']['registerClass']>[0]);
  layerClass = QuantileHead as unknown as typeof layerClass;
}

/**
 * Weighted pinball (quantile) loss: sum_i w_i * mean_(lead, level) pinball_i / sum(w), with
 * yPred [n, H*Q] and yTrue [n, H] in normalised units. Pinball is linear in the error, so a
 * window's weight is its cell's deviation (the square root of the squared-error weight) for a
 * loss proportional to pinball in m/s.
 */
export function weightedPinballLoss(tf: Tf, yPred: Tensor, yTrue: Tensor, w: Tensor, levels: readonly number[]): Tensor {
  return tf.tidy(() => {
    const Q = levels.length;
    const [n, H] = yTrue.shape as [number, number];
    const q = tf.reshape(yPred, [n, H, Q]);
    const err = tf.sub(tf.expandDims(yTrue, 2), q); // y - q: positive when the truth is above
    const tau = tf.tensor1d(Float32Array.from(levels));
    const loss = tf.maximum(tf.mul(tau, err), tf.mul(tf.sub(tau, 1), err));
    const perSample = tf.mean(tf.reshape(loss, [n, H * Q]), 1);
    return tf.div(tf.sum(tf.mul(perSample, w)), tf.maximum(tf.sum(w), 1e-12));
  });
}

/** Set the head to the Gaussian start for deviations sigma [horizon] (normalised units), width scale 1. */
export function setQuantileStart(tf: Tf, model: { getLayer(name: string): { getWeights(): Tensor[]; setWeights(w: Tensor[]): void } }, levels: readonly number[], sigma: readonly number[]): void {
  const layer = model.getLayer(QUANTILE_LAYER);
  const [kernel] = layer.getWeights();
  const tensors = [tf.zerosLike(kernel!), tf.tensor1d(gaussianStartBias(levels, sigma)), tf.ones([sigma.length])];
  try {
    layer.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}

/** Set the head's per-lead width scale (train/quantile-fit.ts: chosen on validation). */
export function setQuantileScale(tf: Tf, model: { getLayer(name: string): { getWeights(): Tensor[]; setWeights(w: Tensor[]): void } }, scale: readonly number[]): void {
  const layer = model.getLayer(QUANTILE_LAYER);
  const [kernel, bias] = layer.getWeights();
  const s = tf.tensor1d(Float32Array.from(scale));
  try {
    layer.setWeights([kernel!, bias!, s]);
  } finally {
    s.dispose();
  }
}

/** The head's layer name in a model. */
export const QUANTILE_LAYER = 'quantiles';

/**
 * The quantile head's fit by hand-written gradient steps (train/quantile-fit.ts): the same
 * gradients as autograd through the layer and weightedPinballLoss, to float rounding, in a
 * dozen TF ops where autograd records ~45 (a step's cost is per-op overhead on
 * [windows x horizon x levels]). The head's kernel K [units, horizon x levels] and bias b are
 * fitted as one matrix P = [K; b] against the state with a column of ones appended: one
 * product forward, one backward, one Adam variable (Adam is element-wise, so this is the same
 * update as on K and b apart).
 *
 * With raw = [state, 1] P, for output (window i, lead j, level k):
 *   dL/dq = share_i (1[y < q] - tau_k)   (tf.maximum's gradient: at y = q it takes tau e),
 *   q - point = raw' @ outward, raw' = softplus(raw) |scale_j| off the centre, raw at it, so
 *   dL/draw = (dL/dq @ outward^T) x (sigmoid(raw) |scale_j| off the centre, 1 at it),
 *   dL/dP = [state, 1]^T @ dL/draw, with share_i = w_i / (sum(w) x horizon x levels), the loss's
 *   mean over leads and levels weighted by w, folded into the state's rows.
 * On native TensorFlow with windcast's kernels loaded, dL/draw is one kernel
 * (WindcastPinballGrad, native/lstm_ops.cc: one pass instead of a dozen element-wise ops);
 * elsewhere the same maths as TensorFlow ops.
 */
export class HeadGradient {
  private readonly stepScale: Tensor;
  private readonly centreMask: Tensor;
  /** cumulativeMatrix with the central row set to ones: raw' @ outward is each level's distance from the point. */
  private readonly outward: Tensor;
  /** 1 - tau and -tau broadcast to [rows x horizon, levels], per row count (tf.where would tile them every step). */
  private readonly signs = new Map<number, [Tensor, Tensor]>();
  private readonly Q: number;
  private readonly tau: Tensor;
  private readonly scale: Tensor;
  /** Whether dL/draw comes from WindcastPinballGrad. */
  readonly fused: boolean;

  /** kernel: 'auto' uses WindcastPinballGrad where it is loaded, 'ops' never (tests compare the two). */
  constructor(
    private readonly tf: Tf,
    private readonly levels: readonly number[],
    scale: readonly number[],
    kernel: 'auto' | 'ops' = 'auto',
  ) {
    const Q = levels.length;
    const m = centralLevel(levels);
    const stepScale = new Float32Array(scale.length * Q);
    const centreMask = new Float32Array(scale.length * Q);
    for (let j = 0; j < scale.length; j++) {
      for (let k = 0; k < Q; k++) {
        stepScale[j * Q + k] = k === m ? 0 : Math.abs(scale[j]!);
        centreMask[j * Q + k] = k === m ? 1 : 0;
      }
    }
    const outward = cumulativeMatrix(levels);
    outward.fill(1, m * Q, (m + 1) * Q);
    this.Q = Q;
    this.stepScale = tf.tensor1d(stepScale);
    this.centreMask = tf.tensor1d(centreMask);
    this.outward = tf.tensor2d(outward, [Q, Q]);
    this.tau = tf.tensor1d(Float32Array.from(levels));
    this.scale = tf.tensor1d(Float32Array.from(scale));
    // The kernels' status is per process, the backend can change within it (tests, --backend).
    this.fused = kernel === 'auto' && tf.getBackend() === 'tensorflow' && loadLstmOps(tf).loaded;
  }

  /** P = [K; b] [units + 1, horizon x levels]: the Adam variable of the fit. */
  static params(tf: Tf, kernel: Tensor, bias: Tensor): Tensor {
    return tf.tidy(() => tf.concat([kernel, tf.expandDims(bias, 0)], 0));
  }

  /** K and b of P. */
  static split(tf: Tf, params: Tensor): { kernel: Tensor; bias: Tensor } {
    const [rows, width] = params.shape as [number, number];
    return tf.tidy(() => ({ kernel: tf.slice(params, [0, 0], [rows - 1, width]), bias: tf.reshape(tf.slice(params, [rows - 1, 0], [1, width]), [width]) }));
  }

  /**
   * What a batch of training windows gives every step, made once (the point model is fixed):
   * [state, 1] with zero-weight windows' rows set to 0 (a NaN there would otherwise reach the
   * gradient as 0 x NaN), each window's share_i (0 for those rows), and the truth's excess over
   * the point forecast [windows, horizon]. [state, 1] x share is formed in each step instead of
   * kept: the same product, but the month's 100,000 cached windows hold 26 MB less.
   */
  batch(o: { state: Tensor; point: Tensor; ys: Tensor; w: Tensor }): PinballBatch {
    const tf = this.tf;
    return tf.tidy(() => {
      const [n, H] = o.ys.shape as [number, number];
      const used = tf.reshape(tf.greater(o.w, 0), [n, 1]);
      const withOnes = tf.concat([o.state, tf.ones([n, 1])], 1);
      const inputs = tf.where(tf.broadcastTo(used, withOnes.shape), withOnes, tf.zerosLike(withOnes));
      const share = tf.div(o.w, tf.mul(tf.maximum(tf.sum(o.w), 1e-12), H * this.Q));
      const shares = tf.reshape(tf.where(tf.reshape(used, [n]), share, tf.zerosLike(share)), [n, 1]);
      const excess = tf.where(tf.broadcastTo(used, [n, H]), tf.sub(o.ys, o.point), tf.zerosLike(o.ys));
      return { inputs, shares, excess };
    });
  }

  /** dL/dP for one batch at P. */
  gradient(batch: PinballBatch, params: Tensor): Tensor {
    const tf = this.tf;
    return tf.tidy(() => {
      const raw = tf.matMul(batch.inputs, params);
      const weighted = tf.mul(batch.inputs, batch.shares);
      if (this.fused) {
        const backend = tf.backend() as unknown as NativeExecutor;
        const dRaw = backend.executeMultipleOutputs('WindcastPinballGrad', [], [raw, batch.excess, this.tau, this.scale], 1)[0]!;
        return tf.matMul(weighted, dRaw, true, false);
      }
      const rawPrime = tf.add(tf.mul(tf.softplus(raw), this.stepScale), tf.mul(raw, this.centreMask));
      const fromPoint = tf.matMul(tf.reshape(rawPrime, [-1, this.Q]), this.outward);
      const [above, below] = this.signsFor(fromPoint.shape[0]!);
      const dq = tf.where(tf.less(tf.reshape(batch.excess, [-1, 1]), fromPoint), above, below);
      const dRawPrime = tf.reshape(tf.matMul(dq, this.outward, false, true), raw.shape);
      const dRaw = tf.mul(dRawPrime, tf.add(tf.mul(tf.sigmoid(raw), this.stepScale), this.centreMask));
      return tf.matMul(weighted, dRaw, true, false);
    });
  }

  private signsFor(rows: number): [Tensor, Tensor] {
    let s = this.signs.get(rows);
    if (!s) {
      const tf = this.tf;
      s = tf.tidy(() => {
        const tau = tf.tensor2d(Float32Array.from(this.levels), [1, this.Q]);
        return [tf.broadcastTo(tf.sub(1, tau), [rows, this.Q]), tf.broadcastTo(tf.neg(tau), [rows, this.Q])] as [Tensor, Tensor];
      });
      tf.keep(s[0]);
      tf.keep(s[1]);
      this.signs.set(rows, s);
    }
    return s;
  }

  dispose(): void {
    this.tf.dispose([this.stepScale, this.centreMask, this.outward, this.tau, this.scale, ...[...this.signs.values()].flat()]);
    this.signs.clear();
  }
}

interface NativeExecutor {
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: unknown[], numOutputs: number): Tensor[];
}

/** One batch of HeadGradient.batch. */
export interface PinballBatch {
  /** [state, 1], zero rows for zero-weight windows. */
  inputs: Tensor;
  /** [windows, 1]: each window's share of the loss (0 for zero-weight windows). */
  shares: Tensor;
  /** truth - point [windows, horizon]. */
  excess: Tensor;
}

/** Free the tensors of a HeadGradient.batch. */
export function disposePinballBatch(tf: Tf, batch: PinballBatch): void {
  tf.dispose([batch.inputs, batch.shares, batch.excess]);
}
