/**
 * Running a model on time-major batches, [lookback, batch, features]: the layout the fused
 * LSTM kernel reads (lstm-fast.ts). The forecast gathers its batches so where the model takes
 * them (forecast/forecast.ts), so no [batch, T, F] -> [T, batch, F] transpose runs per batch;
 * the outputs are the bytes model.apply gives on the batch-major batch (test/lstm-fast.test.ts).
 */
import type { Tf } from '../runtime/backend.js';
import { fusedLastHour, isLastHourFastLstm, lastHourTimeMajor } from './lstm-fast.js';

type Tensor = ReturnType<Tf['tensor']>;
type LayersModel = ReturnType<Tf['model']>;

/**
 * Whether inferTimeMajor saves the transpose on `model`: native TensorFlow with the fused
 * kernels, and a FastLSTM giving only its last hour's h reads the model's input. Otherwise the
 * inference path gathers its batches batch-major, as training does.
 */
export function takesTimeMajor(tf: Tf, model: LayersModel): boolean {
  const input = model.inputs[0]!;
  if (model.inputs.length !== 1 || input.shape.length !== 3 || !fusedLastHour(tf)) return false;
  return model.layers.some((l) => isLastHourFastLstm(l) && inputsOf(l).includes(input));
}

/**
 * The model's outputs (model.apply(x, {training: false})) from its input given time-major,
 * xTimeMajor [T, batch, F]. The layers run in the model's order on concrete tensors, as
 * model.apply runs them, except: a last-hour FastLSTM reads the time-major input directly, and
 * every other layer gets it transposed back to batch-major first (the default model's full
 * linear path flattens it). So every value comes from the same kernels on the same rows, in
 * the same order, as model.apply's: the same bytes. A Dense layer on the time-major input (the
 * low-rank linear path's projection) used to keep it time-major, since a dense layer is per
 * row; but a GEMM's rows are not all summed alike (on an AVX2 build of TensorFlow a row in a
 * block's tail came out 1 ulp off in about one of 100 batches), so row order matters too.
 * Needs the fused kernels (fusedLastHour); call inside tf.tidy.
 */
export function inferTimeMajor(tf: Tf, model: LayersModel, xTimeMajor: Tensor): Tensor[] {
  if (!fusedLastHour(tf)) throw new Error(`inferTimeMajor needs native TensorFlow with the fused LSTM kernels (backend ${tf.getBackend()})`);
  const input = model.inputs[0];
  const values = new Map<unknown, { t: Tensor; timeMajor: boolean }>([[input, { t: xTimeMajor, timeMajor: true }]]);
  const batchMajor = (v: { t: Tensor; timeMajor: boolean }) => (v.timeMajor ? tf.transpose(v.t, [1, 0, 2]) : v.t);
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const args = inputsOf(layer).map((s) => {
      const v = values.get(s);
      if (!v) throw new Error(`inferTimeMajor: layer ${layer.name} reads a tensor not computed yet`);
      return v;
    });
    const out = layer.output as unknown;
    if (Array.isArray(out)) throw new Error(`inferTimeMajor: layer ${layer.name} has several outputs`);
    const only = args.length === 1 && args[0]!.timeMajor ? args[0]!.t : undefined;
    const h = only ? lastHourTimeMajor(tf, layer, only) : undefined;
    let result: { t: Tensor; timeMajor: boolean };
    if (h) result = { t: h, timeMajor: false };
    else {
      const concrete = args.map(batchMajor);
      result = { t: layer.apply(concrete.length === 1 ? concrete[0]! : concrete, { training: false }) as Tensor, timeMajor: false };
    }
    values.set(out, result);
  }
  return model.outputs.map((o) => {
    const v = values.get(o);
    if (!v) throw new Error(`inferTimeMajor: output ${o.name} was not computed`);
    return batchMajor(v);
  });
}

/** The symbolic tensors a layer of a functional model reads. */
function inputsOf(layer: { input: unknown }): unknown[] {
  const input = layer.input;
  return Array.isArray(input) ? input : [input];
}
