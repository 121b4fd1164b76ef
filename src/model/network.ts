/**
 * The trained network as plain arrays, independent of tfjs: what the exporters (onnx.ts,
 * keras.ts) write. Read once from a loaded model by layer name (model.ts fixes the names).
 *
 * Layouts are tfjs/Keras's own: an LSTM kernel is [inputs, 4 * units] and its recurrent kernel
 * [units, 4 * units], gate blocks in the order i, f, c, o; dense kernels are [inputs, outputs].
 * Each exporter converts to its format's layout (ONNX's LSTM wants W [4 * units, inputs] with
 * the gates i, o, f, c).
 */
import type { Tf } from '../runtime/backend.js';
import type { CheckpointMeta } from './checkpoint-meta.js';
import { LINEAR_CHANNELS } from './model.js';
import { centralLevel, cumulativeMatrix, QUANTILE_LAYER } from './quantile-head.js';

type LayersModel = ReturnType<Tf['model']>;

export interface LstmWeights {
  /** [inputs, 4 * units], gates i, f, c, o. */
  kernel: Float32Array;
  /** [units, 4 * units]. */
  recurrent: Float32Array;
  /** [4 * units]. */
  bias: Float32Array;
  inputs: number;
  /** The gates' activation: FastLSTM's sigmoid, or tf.layers.lstm's hard sigmoid (clip(0.2 x + 0.5, 0, 1)). */
  gate: 'sigmoid' | 'hardSigmoid';
}

export interface DenseWeights {
  /** [inputs, outputs]. */
  kernel: Float32Array;
  /** [outputs], or absent (no bias). */
  bias?: Float32Array;
  inputs: number;
  outputs: number;
}

export interface NetworkWeights {
  lookback: number;
  nFeatures: number;
  horizon: number;
  units: number;
  /** Outputs are the change from the last input hour (the cell's mean otherwise), in the cell's standard deviations. */
  predictDelta: boolean;
  lstm: LstmWeights[];
  /** LSTM state -> leads. */
  head: DenseWeights;
  /**
   * The linear path beside the LSTM: 'full' is one dense layer on the flattened window
   * (hour-major); 'low-rank' projects each hour to LINEAR_CHANNELS values (no bias) first.
   */
  linear?: { kind: 'full'; dense: DenseWeights } | { kind: 'low-rank'; projection: DenseWeights; dense: DenseWeights };
  /** The quantile head (quantile-head.ts): raw = state x kernel + bias, [horizon x levels] lead-major. */
  quantiles?: { levels: number[]; central: number; dense: DenseWeights; scale: Float32Array };
}

function dense(model: LayersModel, name: string): DenseWeights {
  const w = model.getLayer(name).getWeights();
  const [inputs, outputs] = w[0]!.shape as [number, number];
  return {
    kernel: Float32Array.from(w[0]!.dataSync() as Float32Array),
    ...(w[1] ? { bias: Float32Array.from(w[1].dataSync() as Float32Array) } : {}),
    inputs,
    outputs,
  };
}

/** The weights of a windcast model (createModel's layers) with what its checkpoint says about it. */
export function networkWeights(model: LayersModel, meta: Pick<CheckpointMeta, 'model' | 'features'>): NetworkWeights {
  const spec = meta.model;
  const lstm: LstmWeights[] = [];
  for (let i = 0; i < spec.layers; i++) {
    const layer = model.getLayer(`lstm${i + 1}`);
    const [k, r, b] = layer.getWeights();
    const config = layer.getConfig() as { recurrentActivation?: string };
    // FastLSTM is always sigmoid; tf.layers.lstm says in its config (hardSigmoid by default).
    const gate = layer.getClassName() === 'FastLSTM' || config.recurrentActivation === 'sigmoid' ? 'sigmoid' : 'hardSigmoid';
    if (gate === 'hardSigmoid' && config.recurrentActivation !== undefined && config.recurrentActivation !== 'hardSigmoid') {
      throw new Error(`lstm${i + 1}: recurrent activation '${config.recurrentActivation}' cannot be exported`);
    }
    lstm.push({
      kernel: Float32Array.from(k!.dataSync() as Float32Array),
      recurrent: Float32Array.from(r!.dataSync() as Float32Array),
      bias: Float32Array.from(b!.dataSync() as Float32Array),
      inputs: k!.shape[0]!,
      gate,
    });
  }
  let linear: NetworkWeights['linear'];
  if (spec.linearSkip && spec.linearPath === 'full') linear = { kind: 'full', dense: dense(model, 'linear') };
  else if (spec.linearSkip) linear = { kind: 'low-rank', projection: dense(model, 'linear_proj'), dense: dense(model, 'linear') };
  let quantiles: NetworkWeights['quantiles'];
  if (spec.quantiles?.length) {
    const [k, b, s] = model.getLayer(QUANTILE_LAYER).getWeights();
    const [inputs, outputs] = k!.shape as [number, number];
    quantiles = {
      levels: [...spec.quantiles],
      central: centralLevel(spec.quantiles),
      dense: { kernel: Float32Array.from(k!.dataSync() as Float32Array), bias: Float32Array.from(b!.dataSync() as Float32Array), inputs, outputs },
      scale: Float32Array.from(s!.dataSync() as Float32Array),
    };
  }
  if (linear?.kind === 'low-rank' && linear.projection.outputs !== LINEAR_CHANNELS) throw new Error(`linear_proj has ${linear.projection.outputs} channels, expected ${LINEAR_CHANNELS}`);
  return {
    lookback: spec.lookback,
    nFeatures: spec.nFeatures,
    horizon: spec.horizon,
    units: spec.units,
    predictDelta: meta.features.predictDelta,
    lstm,
    head: dense(model, 'head'),
    ...(linear ? { linear } : {}),
    ...(quantiles ? { quantiles } : {}),
  };
}

/**
 * The quantile head's fixed parts as matrices: stepScale [horizon x levels] (|scale_j| for the
 * steps, 0 at the central level, whose raw value is an offset) and cumulative [levels x levels]
 * (entry (k', k) adds step k' into level k), as quantile-head.ts builds them.
 */
export function quantileMatrices(q: NonNullable<NetworkWeights['quantiles']>, horizon: number): { stepScale: Float32Array; cumulative: Float32Array } {
  const Q = q.levels.length;
  const m = q.central;
  const stepScale = new Float32Array(horizon * Q);
  for (let j = 0; j < horizon; j++) for (let k = 0; k < Q; k++) stepScale[j * Q + k] = k === m ? 0 : Math.abs(q.scale[j]!);
  const cumulative = cumulativeMatrix(q.levels);
  return { stepScale, cumulative };
}
