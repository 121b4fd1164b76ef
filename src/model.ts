/**
 * The model: an LSTM encoder over the lookback hours and a dense head with one output per
 * lead hour (+1..+horizon), as a tfjs-layers model. A linear path from the flattened inputs to
 * the outputs runs beside the LSTM, initialised at zero: with predictDelta the untrained model
 * is persistence, and it can become at least the per-cell linear regression before the LSTM
 * adds anything. That matters on small real datasets, where relearning persistence through an
 * LSTM costs most of the data.
 *
 * The head starts at zero too, so the whole untrained model is exactly persistence (with
 * predictDelta) and training moves away from it only where that lowers the loss.
 *
 * Layer names are fixed so checkpoints, optimizer state order and seeds are reproducible.
 * The loss is weighted: each sample's squared error (normalised units) times its weight
 * (std^2 / meanVariance, see batches.ts) is the squared error in m/s; cells are drawn in
 * proportion to their area (windows.ts), so the expected loss is the area-weighted MSE.
 */
import type { Tf } from './backend.js';

type Tensor = ReturnType<Tf['tensor']>;
type LayersModel = ReturnType<Tf['model']>;

export interface ModelSpec {
  lookback: number;
  nFeatures: number;
  horizon: number;
  units: number;
  layers: number;
  dropout: number;
  linearSkip: boolean;
  seed: number;
  /** LSTM implementation (absent in older checkpoints: 'layers'). */
  lstm?: 'fast' | 'layers';
}

/** Channels of the linear path's per-hour projection. */
export const LINEAR_CHANNELS = 3;

/** The model for spec, with the LSTM implementation it names. */
export async function createModel(tf: Tf, spec: ModelSpec): Promise<LayersModel> {
  if (spec.lstm === 'fast') {
    const { buildFastModel } = await import('./lstm-fast.js');
    return buildFastModel(tf, spec);
  }
  return buildModel(tf, spec);
}

export function buildModel(tf: Tf, spec: ModelSpec): LayersModel {
  const init = (k: number) => spec.seed * 101 + k;
  const input = tf.input({ shape: [spec.lookback, spec.nFeatures], name: 'window' });
  let h = input as unknown as ReturnType<Tf['input']>;
  for (let i = 0; i < spec.layers; i++) {
    const last = i === spec.layers - 1;
    h = tf.layers
      .lstm({
        units: spec.units,
        returnSequences: !last,
        dropout: spec.dropout,
        name: `lstm${i + 1}`,
        kernelInitializer: tf.initializers.glorotUniform({ seed: init(3 * i + 1) }),
        recurrentInitializer: tf.initializers.orthogonal({ seed: init(3 * i + 2) }),
        // Not unitForgetBias: in tfjs 4.22 its initializer leaks 4 tensors per model build.
        biasInitializer: 'zeros',
      })
      .apply(h) as typeof h;
  }
  let out = tf.layers
    .dense({ units: spec.horizon, name: 'head', kernelInitializer: 'zeros' })
    .apply(h) as typeof h;
  if (spec.linearSkip) {
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
  return tf.model({ inputs: input, outputs: out, name: 'windcast' });
}

/** Weighted mean squared error over samples and leads: sum(w * mean_lead(err^2)) / sum(w). */
export function weightedLoss(tf: Tf, yPred: Tensor, yTrue: Tensor, w: Tensor, wSum: number): Tensor {
  return tf.tidy(() => {
    const perSample = tf.mean(tf.square(tf.sub(yPred, yTrue)), 1);
    return tf.div(tf.sum(tf.mul(perSample, w)), Math.max(wSum, 1e-12));
  });
}

/** The model's trainable variables in a fixed order (the order of the optimizer's state). */
export function trainableVariables(model: LayersModel): ReturnType<Tf['variable']>[] {
  return model.trainableWeights.map((w) => w.read() as ReturnType<Tf['variable']>);
}

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
      const pred = model.apply(batch.xs, { training: true }) as Tensor;
      return weightedLoss(tf, pred, batch.ys, batch.ws, batch.wSum) as ReturnType<Tf['scalar']>;
    },
    true,
    variables,
  );
  return cost!;
}

/**
 * A linear forecast to start the linear path from: per lead, coefficients on the normalised
 * speed of each lookback hour, on sin/cos of the solar hour at the last input hour, and an
 * intercept (fitted by least squares in train.ts).
 */
export interface LinearStart {
  /** [lookback * horizon]: speed at hour h (oldest first) -> lead j at h * horizon + j. */
  speed: Float64Array;
  /** [horizon] each. */
  solarSin: Float64Array;
  solarCos: Float64Array;
  intercept: Float64Array;
  /** Feature indices of the speed and solar sin/cos inputs. */
  speedFeature: number;
  solarSinFeature: number;
}

/**
 * Set the linear path to `start`: projection channel 0 reads the speed, channels 1 and 2 the
 * solar hour sin/cos; the dense layer applies the coefficients (sin/cos at the last hour only).
 * With the head at zero the untrained model then forecasts exactly this linear model.
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
  const proj = new Float32Array(F * C);
  proj[start.speedFeature * C + 0] = 1;
  proj[start.solarSinFeature * C + 1] = 1;
  proj[(start.solarSinFeature + 1) * C + 2] = 1;
  const kernel = new Float32Array(L * C * H);
  for (let h = 0; h < L; h++) for (let j = 0; j < H; j++) kernel[(h * C + 0) * H + j] = start.speed[h * H + j]!;
  for (let j = 0; j < H; j++) {
    kernel[((L - 1) * C + 1) * H + j] = start.solarSin[j]!;
    kernel[((L - 1) * C + 2) * H + j] = start.solarCos[j]!;
  }
  const tensors = [makeTensor(proj, [F, C]), makeTensor(kernel, [L * C, H]), makeTensor(Float32Array.from(start.intercept), [H])];
  try {
    model.getLayer('linear_proj').setWeights([tensors[0]!]);
    model.getLayer('linear').setWeights([tensors[1]!, tensors[2]!]);
  } finally {
    tf.dispose(tensors);
  }
}
