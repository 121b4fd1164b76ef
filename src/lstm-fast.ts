/**
 * A faster LSTM layer for windcast's model, same maths as tf.layers.lstm with
 * recurrentActivation 'sigmoid' (the Keras and PyTorch default), same weights and layout.
 *
 * Why: tfjs-layers runs the recurrence op by op. One training step of the default model
 * (batch 4096, 24 hours) is ~3,700 kernel launches on native TensorFlow, a third of them for
 * hardSigmoid's clip and its gradient (Select/ZerosLike/GreaterEqual/LessEqual per gate and
 * hour), and 24 small input matMuls with K = 18 that use the CPU badly (bench/backends.ts
 * --profile). Here:
 *   - on native TensorFlow the whole sequence is one BlockLSTM kernel forward and one
 *     BlockLSTMGrad kernel backward (TensorFlow's fused C++ LSTM, in every tensorflow-cpu
 *     build), called through tfjs-node's op executor and wrapped in tf.customGrad;
 *   - on wasm/cpu the input projection of all hours is one matMul before the loop, and the
 *     loop does one matMul and the gate arithmetic per hour (plain tf ops, autodiff gradient).
 * Weights: kernel [features, 4*units], recurrent_kernel [units, 4*units], bias [4*units], gates
 * in tfjs/Keras order i, f, c, o — interchangeable with tf.layers.lstm's (getWeights order too).
 * BlockLSTM wants i, c, f, o: the columns are permuted on the way in and the gradient back.
 */
import { createRequire } from 'node:module';
import type { Tf } from './backend.js';
import type { ModelSpec } from './model.js';

type Tensor = ReturnType<Tf['tensor']>;
type LayersModel = ReturnType<Tf['model']>;
type SymbolicTensor = ReturnType<Tf['input']>;

const require = createRequire(import.meta.url);

interface NativeBackend {
  binding: { TF_ATTR_FLOAT: number; TF_ATTR_BOOL: number; TF_ATTR_TYPE: number; TF_FLOAT: number };
  executeMultipleOutputs(name: string, attrs: { name: string; type: number; value: unknown }[], inputs: unknown[], numOutputs: number): Tensor[];
}

let int64Scalar: (new (value: number) => unknown) | undefined;

function nativeBackend(tf: Tf): NativeBackend | undefined {
  if (tf.getBackend() !== 'tensorflow') return undefined;
  const backend = tf.backend() as unknown as Partial<NativeBackend>;
  if (typeof backend.executeMultipleOutputs !== 'function' || !backend.binding) return undefined;
  // seq_len_max is int64, a dtype tfjs lacks; tfjs-node has a scalar wrapper for exactly this.
  int64Scalar ??= (require('@tensorflow/tfjs-node/dist/int64_tensors') as { Int64Scalar: new (v: number) => unknown }).Int64Scalar;
  return backend as NativeBackend;
}

/** Columns of a [.., 4H] matrix from gate order i,f,c,o to i,c,f,o (and back: the same swap). */
function swapForgetAndCell(tf: Tf, m: Tensor, units: number): Tensor {
  const axis = m.rank - 1;
  const [i, f, c, o] = tf.split(m, [units, units, units, units], axis);
  return tf.concat([i!, c!, f!, o!], axis);
}

/**
 * The LSTM over a whole sequence on native TensorFlow: x [batch, T, F] -> h [batch, T, H]
 * (returnSequences) or the last h [batch, H].
 */
function blockLstm(tf: Tf, backend: NativeBackend, x: Tensor, kernel: Tensor, recurrent: Tensor, bias: Tensor, returnSequences: boolean): Tensor {
  const [batch, steps] = x.shape as [number, number, number];
  const units = recurrent.shape[0]!;
  const b = backend.binding;
  const attrs = [
    { name: 'forget_bias', type: b.TF_ATTR_FLOAT, value: 0 },
    { name: 'cell_clip', type: b.TF_ATTR_FLOAT, value: -1 }, // negative: no clipping (Keras has none)
    { name: 'use_peephole', type: b.TF_ATTR_BOOL, value: false },
    { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
  ];
  const gradAttrs = [attrs[2]!, attrs[3]!];
  const run = tf.customGrad(((xIn: Tensor, kIn: Tensor, rIn: Tensor, bIn: Tensor, save: (t: Tensor[]) => void) => {
    const xT = tf.transpose(xIn, [1, 0, 2]);
    const w = swapForgetAndCell(tf, tf.concat([kIn, rIn], 0), units);
    const bb = swapForgetAndCell(tf, bIn, units);
    const zeros = tf.zeros([batch, units]);
    const peephole = tf.zeros([units]);
    const seqLen = new int64Scalar!(steps);
    const outs = backend.executeMultipleOutputs('BlockLSTM', attrs, [seqLen, xT, zeros, zeros, w, peephole, peephole, peephole, bb], 7);
    const [i, cs, f, o, ci, co, h] = outs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
    save([xT, zeros, w, peephole, bb, i, cs, f, o, ci, co, h]);
    const value = returnSequences ? tf.transpose(h, [1, 0, 2]) : tf.reshape(tf.slice(h, [steps - 1, 0, 0], [1, batch, units]), [batch, units]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sZeros, sw, sPeep, sb, si, scs, sf, so, sci, sco, sh] = saved as Tensor[];
        const hGrad = returnSequences
          ? tf.transpose(dy, [1, 0, 2])
          : tf.concat([tf.zeros([steps - 1, batch, units]), tf.reshape(dy, [1, batch, units])], 0);
        const csGrad = tf.zerosLike(scs!);
        const grads = backend.executeMultipleOutputs('BlockLSTMGrad', gradAttrs, [
          new int64Scalar!(steps), sx, sZeros, sZeros, sw, sPeep, sPeep, sPeep, sb, si, scs, sf, so, sci, sco, sh, csGrad, hGrad,
        ], 8);
        const [xGrad, , , wGrad, , , , bGrad] = grads as Tensor[];
        const wGradIfco = swapForgetAndCell(tf, wGrad!, units);
        const features = kIn.shape[0]!;
        const [kGrad, rGrad] = tf.split(wGradIfco, [features, units], 0);
        return [tf.transpose(xGrad!, [1, 0, 2]), kGrad!, rGrad!, swapForgetAndCell(tf, bGrad!, units)];
      },
    };
  }) as unknown as Parameters<Tf['customGrad']>[0]);
  return (run as unknown as (...t: Tensor[]) => Tensor)(x, kernel, recurrent, bias);
}

/**
 * The same LSTM with tf ops (wasm, cpu): the input projection of all hours is one matMul, done
 * time-major so each hour is a contiguous block that split (gradient: one concat) hands out;
 * unstack along axis 1 of a batch-major tensor costs seconds on wasm.
 */
export function loopLstm(tf: Tf, x: Tensor, kernel: Tensor, recurrent: Tensor, bias: Tensor, returnSequences = false): Tensor {
  const [batch, steps, features] = x.shape as [number, number, number];
  const units = recurrent.shape[0]!;
  const timeMajor = tf.reshape(tf.transpose(x, [1, 0, 2]), [steps * batch, features]);
  const perHour = tf.split(tf.add(tf.matMul(timeMajor, kernel), bias), steps, 0);
  let h = tf.zeros([batch, units]);
  let c = tf.zeros([batch, units]);
  const hs: Tensor[] = [];
  for (let t = 0; t < steps; t++) {
    const z = tf.add(perHour[t]!, tf.matMul(h, recurrent));
    const [zi, zf, zc, zo] = tf.split(z, 4, 1);
    c = tf.add(tf.mul(tf.sigmoid(zf!), c), tf.mul(tf.sigmoid(zi!), tf.tanh(zc!)));
    h = tf.mul(tf.sigmoid(zo!), tf.tanh(c));
    if (returnSequences) hs.push(h);
  }
  return returnSequences ? tf.transpose(tf.stack(hs, 0), [1, 0, 2]) : h;
}

/** x [batch, T, F] -> [batch, H] (or [batch, T, H]): the fastest implementation for the backend. */
export function lstmSequence(tf: Tf, x: Tensor, kernel: Tensor, recurrent: Tensor, bias: Tensor, returnSequences = false): Tensor {
  const native = nativeBackend(tf);
  return native ? blockLstm(tf, native, x, kernel, recurrent, bias, returnSequences) : loopLstm(tf, x, kernel, recurrent, bias, returnSequences);
}

export interface FastLstmArgs {
  units: number;
  returnSequences?: boolean;
  name?: string;
  seed?: number;
}

let layerClass: (new (args: FastLstmArgs) => { apply(x: SymbolicTensor | Tensor): SymbolicTensor | Tensor }) | undefined;

/** A FastLSTM layer (see registerFastLstm). */
export function fastLstmLayer(tf: Tf, args: FastLstmArgs) {
  registerFastLstm(tf);
  return new layerClass!(args);
}

/**
 * Define the layer class from the loaded tf (it extends tf.layers.Layer) and register it for
 * serialisation as 'FastLSTM'. Call before tf.loadLayersModel on a checkpoint that uses it.
 */
export function registerFastLstm(tf: Tf): void {
  if (!layerClass) {
    const Base = (tf.layers.Layer as unknown) as new (args: object) => {
      name: string;
      addWeight(name: string, shape: number[], dtype: undefined, init: unknown): { read(): Tensor };
      getConfig(): Record<string, unknown>;
      built: boolean;
    };
    class FastLSTM extends Base {
      static className = 'FastLSTM';
      readonly units: number;
      readonly returnSequences: boolean;
      readonly seed: number;
      private kernel?: { read(): Tensor };
      private recurrentKernel?: { read(): Tensor };
      private bias?: { read(): Tensor };
      constructor(a: FastLstmArgs) {
        super(a);
        this.units = a.units;
        this.returnSequences = a.returnSequences ?? false;
        this.seed = a.seed ?? 0;
      }
      build(inputShape: number[] | number[][]): void {
        const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as number[];
        const features = shape[shape.length - 1]!;
        const u = this.units;
        this.kernel = this.addWeight('kernel', [features, 4 * u], undefined, tf.initializers.glorotUniform({ seed: this.seed + 1 }));
        this.recurrentKernel = this.addWeight('recurrent_kernel', [u, 4 * u], undefined, tf.initializers.orthogonal({ seed: this.seed + 2 }));
        // unitForgetBias: the forget gate starts open, as in tf.layers.lstm({unitForgetBias: true}).
        const forgetOpen = { apply: () => tf.concat([tf.zeros([u]), tf.ones([u]), tf.zeros([2 * u])]) };
        this.bias = this.addWeight('bias', [4 * u], undefined, forgetOpen);
        this.built = true;
      }
      computeOutputShape(inputShape: number[]): number[] {
        return this.returnSequences ? [inputShape[0]!, inputShape[1]!, this.units] : [inputShape[0]!, this.units];
      }
      call(inputs: Tensor | Tensor[]): Tensor {
        const x = Array.isArray(inputs) ? inputs[0]! : inputs;
        return lstmSequence(tf, x, this.kernel!.read(), this.recurrentKernel!.read(), this.bias!.read(), this.returnSequences);
      }
      override getConfig(): Record<string, unknown> {
        return { ...super.getConfig(), units: this.units, returnSequences: this.returnSequences, seed: this.seed };
      }
    }
    tf.serialization.registerClass(FastLSTM as unknown as Parameters<Tf['serialization']['registerClass']>[0]);
    layerClass = FastLSTM as unknown as typeof layerClass;
  }
}

/**
 * buildModel (src/model.ts) with FastLSTM layers: same inputs, head, linear path, names and
 * seeds scheme, so model.ts can switch with a flag once the training engineer adopts it.
 */
export function buildFastModel(tf: Tf, spec: ModelSpec): LayersModel {
  const init = (k: number) => spec.seed * 101 + k;
  const input = tf.input({ shape: [spec.lookback, spec.nFeatures], name: 'window' });
  let h: SymbolicTensor = input;
  for (let i = 0; i < spec.layers; i++) {
    const last = i === spec.layers - 1;
    if (spec.dropout > 0) h = tf.layers.dropout({ rate: spec.dropout, name: `dropout${i + 1}` }).apply(h) as SymbolicTensor;
    h = fastLstmLayer(tf, { units: spec.units, returnSequences: !last, name: `lstm${i + 1}`, seed: init(3 * i) }).apply(h) as SymbolicTensor;
  }
  let out = tf.layers.dense({ units: spec.horizon, name: 'head', kernelInitializer: tf.initializers.glorotUniform({ seed: init(50) }) }).apply(h) as SymbolicTensor;
  if (spec.linearSkip) {
    const flat = tf.layers.flatten({ name: 'flatten' }).apply(input) as SymbolicTensor;
    const linear = tf.layers.dense({ units: spec.horizon, name: 'linear', kernelInitializer: 'zeros' }).apply(flat) as SymbolicTensor;
    out = tf.layers.add({ name: 'sum' }).apply([out, linear]) as SymbolicTensor;
  }
  return tf.model({ inputs: input, outputs: out, name: 'windcast' });
}
