/**
 * The model: an LSTM encoder over the lookback hours and a dense head with one output per
 * lead hour (+1..+horizon), as a tfjs-layers model. A linear path from the inputs to the
 * outputs runs beside the LSTM, built at zero (with predictDelta the untrained model is then
 * persistence) and set by train.ts to a ridge fit (setLinearPath) before the first step. That
 * matters on small real datasets, where relearning persistence through an LSTM costs most of
 * the data.
 *
 * The head starts at zero, so the untrained model is exactly its linear path, and training
 * moves away from it only where that lowers the loss.
 *
 * Layer names are fixed so checkpoints, optimizer state order and seeds are reproducible.
 * The loss is weighted: each sample's squared error (normalised units) times its weight
 * (std^2 / meanVariance, see batches.ts) is the squared error in m/s; cells are drawn in
 * proportion to their area (windows.ts), so the expected loss is the area-weighted MSE.
 */
import { z } from 'zod';
import type { Tf } from '../runtime/backend.js';
import { fastLstmLayer, type FastLstmArgs } from './lstm-fast.js';
import { QUANTILE_LAYER, quantileHeadLayer } from './quantile-head.js';

type Tensor = ReturnType<Tf['tensor']>;
type LayersModel = ReturnType<Tf['model']>;
type SymbolicTensor = ReturnType<Tf['input']>;

/** What a model is built from; stored in (and validated with) every checkpoint's meta.json. */
export const ModelSpecSchema = z.object({
  lookback: z.number().int().positive(),
  nFeatures: z.number().int().positive(),
  horizon: z.number().int().positive(),
  units: z.number().int().positive(),
  layers: z.number().int().positive(),
  dropout: z.number().min(0),
  linearSkip: z.boolean(),
  seed: z.number().int(),
  /** LSTM implementation (absent in older checkpoints: 'layers'). */
  lstm: z.enum(['fast', 'layers']).optional(),
  /**
   * The linear path's form (absent in older checkpoints: 'low-rank'): 'low-rank' projects each
   * hour to LINEAR_CHANNELS values first; 'full' is one dense layer on every input at every
   * hour, the form of the same-input ridge (prepare/ridge.ts) it starts from.
   */
  linearPath: z.enum(['low-rank', 'full']).optional(),
  /** The linear path keeps its start (the ridge) and only the LSTM and head train. */
  linearFrozen: z.boolean().optional(),
  /**
   * Quantile levels of the quantile head (quantile-head.ts), rising in (0, 1); absent or empty
   * in point models (and checkpoints older than the head), which have one output.
   */
  quantiles: z.array(z.number().gt(0).lt(1)).optional(),
});

export type ModelSpec = z.infer<typeof ModelSpecSchema>;

/** Channels of the linear path's per-hour projection. */
export const LINEAR_CHANNELS = 3;

/** Makes one LSTM layer from tf.layers.lstm's arguments: the implementation a model is built with. */
export type LstmLayerFactory = (args: FastLstmArgs) => { apply(x: SymbolicTensor): SymbolicTensor | SymbolicTensor[] };

/**
 * The LSTM layer of an implementation: 'fast' is FastLSTM (lstm-fast.ts) with sigmoid gates,
 * the Keras/PyTorch default; 'layers' is tf.layers.lstm as configured (hard-sigmoid gates
 * unless asked otherwise). Both take the same arguments and hold the same weights.
 */
export function lstmLayerFor(tf: Tf, kind: 'fast' | 'layers'): LstmLayerFactory {
  if (kind === 'fast') return (args) => fastLstmLayer(tf, { ...args, recurrentActivation: 'sigmoid' }) as ReturnType<LstmLayerFactory>;
  return (args) => tf.layers.lstm(args as Parameters<Tf['layers']['lstm']>[0]) as unknown as ReturnType<LstmLayerFactory>;
}

/** The model for spec, with the LSTM implementation it names. */
export function createModel(tf: Tf, spec: ModelSpec): LayersModel {
  return buildModel(tf, spec, lstmLayerFor(tf, spec.lstm ?? 'layers'));
}

/** The model of spec with the given LSTM layer (default tf.layers.lstm). */
export function buildModel(tf: Tf, spec: ModelSpec, lstmLayer: LstmLayerFactory = lstmLayerFor(tf, 'layers')): LayersModel {
  const init = (k: number) => spec.seed * 101 + k;
  const input = tf.input({ shape: [spec.lookback, spec.nFeatures], name: 'window' });
  let h = input as unknown as ReturnType<Tf['input']>;
  for (let i = 0; i < spec.layers; i++) {
    const last = i === spec.layers - 1;
    h = lstmLayer({
      units: spec.units,
      returnSequences: !last,
      dropout: spec.dropout,
      name: `lstm${i + 1}`,
      kernelInitializer: tf.initializers.glorotUniform({ seed: init(3 * i + 1) }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: init(3 * i + 2) }),
      // Not unitForgetBias: in tfjs 4.22 its initializer leaks 4 tensors per model build.
      biasInitializer: 'zeros',
    }).apply(h) as typeof h;
  }
  let out = tf.layers
    .dense({ units: spec.horizon, name: 'head', kernelInitializer: 'zeros' })
    .apply(h) as typeof h;
  if (spec.linearSkip && spec.linearPath === 'full') {
    const flat = tf.layers.flatten({ name: 'flatten' }).apply(input) as typeof h;
    const linear = tf.layers
      .dense({ units: spec.horizon, name: 'linear', kernelInitializer: 'zeros', trainable: !spec.linearFrozen })
      .apply(flat) as typeof h;
    out = tf.layers.add({ name: 'sum' }).apply([out, linear]) as typeof h;
  } else if (spec.linearSkip) {
    // Low rank: each hour's features are first projected to LINEAR_CHANNELS values (shared over
    // hours), then one dense layer maps the lookback x channels series to the leads. A full
    // dense on all lookback x features inputs has ~10k weights and overfits small datasets.
    const proj = tf.layers
      .dense({ units: LINEAR_CHANNELS, name: 'linear_proj', useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: init(60) }) })
      .apply(input) as typeof h;
    const flat = tf.layers.flatten({ name: 'flatten' }).apply(proj) as typeof h;
    const linear = tf.layers.dense({ units: spec.horizon, name: 'linear', kernelInitializer: 'zeros' }).apply(flat) as typeof h;
    out = tf.layers.add({ name: 'sum' }).apply([out, linear]) as typeof h;
  }
  if (spec.quantiles?.length) {
    // Outputs [point, quantiles]: the head reads the LSTM's state and the point forecast.
    const quantiles = quantileHeadLayer(tf, { name: QUANTILE_LAYER, levels: spec.quantiles, horizon: spec.horizon }).apply([h, out]);
    return tf.model({ inputs: input, outputs: [out, quantiles], name: 'windcast' });
  }
  return tf.model({ inputs: input, outputs: out, name: 'windcast' });
}

const pointModels = new WeakMap<LayersModel, LayersModel>();

/**
 * The model with its point output only, sharing every layer and weight: the point model's
 * training steps and point-only forecasts run it, so they do not pay for the quantile head.
 * Not to be disposed (it owns nothing; disposing `model` frees the weights).
 */
export function pointModel(tf: Tf, model: LayersModel): LayersModel {
  if (model.outputs.length < 2) return model;
  let point = pointModels.get(model);
  if (!point) {
    point = tf.model({ inputs: model.inputs, outputs: model.outputs[0]!, name: 'windcast_point' });
    pointModels.set(model, point);
  }
  return point;
}

/** Weighted mean squared error over samples and leads: sum(w * mean_lead(err^2)) / sum(w). */
export function weightedLoss(tf: Tf, yPred: Tensor, yTrue: Tensor, w: Tensor, wSum: number): Tensor {
  return tf.tidy(() => {
    const perSample = tf.mean(tf.square(tf.sub(yPred, yTrue)), 1);
    return tf.div(tf.sum(tf.mul(perSample, w)), Math.max(wSum, 1e-12));
  });
}

/**
 * The point model's trainable variables in a fixed order (the order of the optimizer's state):
 * every trainable weight but the quantile head's, which train/quantile-fit.ts fits afterwards.
 */
export function trainableVariables(model: LayersModel): ReturnType<Tf['variable']>[] {
  return model.trainableWeights.filter((w) => !isQuantileWeight(w.originalName ?? w.name)).map((w) => w.read() as ReturnType<Tf['variable']>);
}

/** The quantile head's trainable variables (kernel, bias). */
export function quantileVariables(model: LayersModel): ReturnType<Tf['variable']>[] {
  return model.trainableWeights.filter((w) => isQuantileWeight(w.originalName ?? w.name)).map((w) => w.read() as ReturnType<Tf['variable']>);
}

const isQuantileWeight = (name: string) => name.startsWith(`${QUANTILE_LAYER}/`);

/** One optimisation step; returns the loss (normalised units). */
export function trainStep(
  tf: Tf,
  model: LayersModel,
  optimizer: ReturnType<Tf['train']['adam']>,
  batch: { xs: Tensor; ys: Tensor; ws: Tensor; wSum: number },
  variables: ReturnType<Tf['variable']>[],
): Tensor {
  const cost = optimizer.minimize(
    () => {
      const pred = pointModel(tf, model).apply(batch.xs, { training: true }) as Tensor;
      return weightedLoss(tf, pred, batch.ys, batch.ws, batch.wSum) as ReturnType<Tf['scalar']>;
    },
    true,
    variables,
  );
  return cost!;
}

/**
 * A linear forecast to start the linear path from (fitted by ridge regression in train.ts).
 * Projection channel c reads input feature `channelFeatures[c]` (-1: none) at every hour; each
 * term is a per-lead coefficient on channel `channel` at lookback hour `hour` (oldest 0).
 */
export interface LinearStart {
  channelFeatures: number[];
  terms: { channel: number; hour: number; coef: Float64Array }[];
  /** [horizon]. */
  intercept: Float64Array;
}

/**
 * Set the linear path to `start`. With the head at zero the untrained model then forecasts
 * exactly this linear model.
 */
export function setLinearPath(
  tf: Tf,
  model: LayersModel,
  spec: ModelSpec,
  start: LinearStart,
  makeTensor: (values: Float32Array, shape: number[]) => Tensor,
): void {
  const F = spec.nFeatures;
  const L = spec.lookback;
  const H = spec.horizon;
  const C = LINEAR_CHANNELS;
  if (start.channelFeatures.length > C) throw new Error(`the linear start uses ${start.channelFeatures.length} channels, the path has ${C}`);
  const proj = new Float32Array(F * C);
  start.channelFeatures.forEach((f, c) => {
    if (f >= 0) proj[f * C + c] = 1;
  });
  const kernel = new Float32Array(L * C * H);
  for (const term of start.terms) {
    for (let j = 0; j < H; j++) kernel[(term.hour * C + term.channel) * H + j]! += term.coef[j]!;
  }
  const tensors = [makeTensor(proj, [F, C]), makeTensor(kernel, [L * C, H]), makeTensor(Float32Array.from(start.intercept), [H])];
  try {
    model.getLayer('linear_proj').setWeights([tensors[0]!]);
    model.getLayer('linear').setWeights([tensors[1]!, tensors[2]!]);
  } finally {
    tf.dispose(tensors);
  }
}

/**
 * Set a 'full' linear path to a same-input ridge (prepare/ridge.ts): its coefficients are laid
 * out as gatherWindow writes the inputs (hour-major), which is the order flatten produces, so
 * the untrained model forecasts exactly that ridge.
 */
export function setFullLinearPath(
  tf: Tf,
  model: LayersModel,
  spec: ModelSpec,
  ridge: { inputs: number; horizon: number; coef: Float64Array },
  makeTensor: (values: Float32Array, shape: number[]) => Tensor,
): void {
  const P = spec.lookback * spec.nFeatures;
  if (spec.linearPath !== 'full') throw new Error('setFullLinearPath needs a model built with the full linear path');
  if (ridge.inputs !== P || ridge.horizon !== spec.horizon) throw new Error(`the ridge has ${ridge.inputs} inputs x ${ridge.horizon} leads, the model ${P} x ${spec.horizon}`);
  const H = spec.horizon;
  const tensors = [makeTensor(Float32Array.from(ridge.coef.subarray(0, P * H)), [P, H]), makeTensor(Float32Array.from(ridge.coef.subarray(P * H, (P + 1) * H)), [H])];
  try {
    model.getLayer('linear').setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}
