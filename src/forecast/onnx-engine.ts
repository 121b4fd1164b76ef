/**
 * The onnx engine: the checkpoint's network run by onnxruntime-node (its bundled CPU build)
 * instead of tfjs. The graph is the exported one in its 'normalised' form (model/onnx.ts):
 * window in, the model's normalised point (and quantile) outputs out, so forecast.ts
 * denormalises both engines' outputs with the same code, and the forecasts agree within float
 * rounding (test/engine.test.ts). ONNX Runtime's run is asynchronous, so the engine serves the
 * prefetched (asynchronous) form of the inference path, which predict uses.
 *
 * Threads: intra-op as many as the tfjs backend uses, one inter-op (one batch at a time), so a
 * comparison of the engines (bench/engines.ts) is at equal threads.
 */
import type * as Ort from 'onnxruntime-node';
import type { Tf } from '../runtime/backend.js';
import type { CheckpointMeta } from '../model/checkpoint.js';
import { networkWeights } from '../model/network.js';
import { onnxModel } from '../model/onnx.js';

type LayersModel = ReturnType<Tf['model']>;

export type EngineName = 'tfjs' | 'onnx';

/** A network runner: normalised outputs of the first `count` windows of x ([count, lookback, features]). */
export interface OnnxEngine {
  readonly name: 'onnx';
  readonly threads: number;
  run(x: Float32Array, count: number, quantiles: boolean): Promise<{ point: Float32Array; quantiles?: Float32Array }>;
  release(): Promise<void>;
}

/** The engine `predict.engine` names for a tfjs backend: 'auto' is the faster one measured (bench/engines.ts). */
export function chooseEngine(preference: 'auto' | EngineName, backend: string): EngineName {
  if (preference !== 'auto') return preference;
  return backend === 'tensorflow' ? 'tfjs' : 'onnx';
}

export async function onnxEngine(loaded: { model: LayersModel; meta: CheckpointMeta }, options: { threads: number }): Promise<OnnxEngine> {
  const ort: typeof Ort = await import('onnxruntime-node');
  const { lookback, nFeatures } = loaded.meta.features;
  const bytes = onnxModel(networkWeights(loaded.model, loaded.meta), { form: 'normalised' });
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const hasQuantiles = session.outputNames.includes('quantiles');
  return {
    name: 'onnx',
    threads: options.threads,
    async run(x, count, quantiles) {
      // ORT reads the input as it is; a view on the feature thread's shared slot is copied once.
      const data = x.buffer instanceof ArrayBuffer ? x.subarray(0, count * lookback * nFeatures) : x.slice(0, count * lookback * nFeatures);
      const fetches = quantiles && hasQuantiles ? ['point', 'quantiles'] : ['point'];
      const out = await session.run({ window: new ort.Tensor('float32', data, [count, lookback, nFeatures]) }, fetches);
      const point = out.point!.data as Float32Array;
      return { point, ...(fetches.length > 1 ? { quantiles: out.quantiles!.data as Float32Array } : {}) };
    },
    release: () => session.release(),
  };
}
