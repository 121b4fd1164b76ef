/**
 * A faster LSTM layer for windcast's model, same maths as tf.layers.lstm with
 * recurrentActivation 'sigmoid' (the Keras and PyTorch default), same weights and layout.
 *
 * Why: tfjs-layers runs the recurrence op by op. One training step of the default model
 * (batch 4096, 24 hours) is ~3,700 kernel launches on native TensorFlow, a third of them for
 * hardSigmoid's clip and its gradient (Select/ZerosLike/GreaterEqual/LessEqual per gate and
 * hour), and 24 small input matMuls with K = 18 that use the CPU badly (bench/backends.ts
 * --profile). Here:
 *   - on native TensorFlow the whole sequence is one fused kernel forward, and, wrapped in
 *     tf.customGrad, our own backward pass: the recurrence of the gate gradients, then the
 *     weight gradients as large matMuls over all hours. The kernels are windcast's own
 *     (WindcastLstm, WindcastLstmGrad in native/lstm_ops.cc, see src/runtime/lstm-kernels.ts; and
 *     WindcastLstmLast for inference, which writes only the last h) when setup-native built
 *     them; else TensorFlow's BlockLSTM forward (its fused C++ LSTM, in every tensorflow-cpu
 *     build, called through tfjs-node's op executor) and the recurrence as TensorFlow ops
 *     (gateGradsWithOps), about 1.5x slower per step. TensorFlow's BlockLSTMGrad stays
 *     available for comparison (lstmFastOptions);
 *   - on wasm/cpu it is the same hour-by-hour loop as tf.layers.lstm (plain tf ops, autodiff
 *     gradient) with sigmoid gates: there the fused kernels do not exist, and it is no slower.
 * Weights: kernel [features, 4*units], recurrent_kernel [units, 4*units], bias [4*units], gates
 * in tfjs/Keras order i, f, c, o — interchangeable with tf.layers.lstm's (getWeights order too).
 * BlockLSTM wants i, c, f, o: the columns are permuted on the way in and the gradient back;
 * windcast's kernels take the Keras order.
 */
import { createRequire } from 'node:module';
import type { Tf } from '../runtime/backend.js';
import { loadLstmOps, whyNotLoaded } from '../runtime/lstm-kernels.js';

type Tensor = ReturnType<Tf['tensor']>;
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
 * Which kernels the native path uses. forward: 'fused' (WindcastLstm, native/lstm_ops.cc) or
 * 'block' (TensorFlow's BlockLSTM); backward: 'fused' (WindcastLstmGrad), 'ops' (the same
 * maths as TensorFlow ops) or 'block' (TensorFlow's BlockLSTMGrad). 'auto': fused when the
 * kernels load, else block forward and ops backward. Every combination computes the same
 * thing; mutable so bench/backends.ts and the tests can run each in one process.
 */
export const lstmFastOptions: {
  forward: 'auto' | 'fused' | 'block';
  backward: 'auto' | 'fused' | 'ops' | 'block';
  /**
   * The products of inference (predict, evaluate; never training or its validation) in fp32, or
   * in bfloat16 with fp32 sums (WindcastLstmLastBf16; set through setInferencePrecision).
   */
  inferencePrecision: InferencePrecision;
  /**
   * With the fused backward: a layer that needs no input gradient (the first) gets its weight
   * gradients from inside WindcastLstmGradWeights; false: from TensorFlow MatMuls over the gate
   * gradients of all hours, as every other layer (bench/backends.ts --lstm fast-fused-split).
   */
  fusedWeightGrads: boolean;
} = {
  forward: 'auto',
  backward: 'auto',
  inferencePrecision: 'fp32',
  fusedWeightGrads: true,
};

export type InferencePrecision = 'fp32' | 'bf16';

/**
 * Why bf16 inference cannot run here (no fused kernels, no AVX512_BF16, a build without
 * AVX-512), or undefined when it can: src/runtime/lstm-kernels.ts tries it when it loads them.
 */
export function whyNoBf16(tf: Tf): string | undefined {
  const ops = nativeBackend(tf) ? loadLstmOps(tf) : undefined;
  if (!ops?.loaded) return `it needs native TensorFlow with the fused LSTM kernels (${ops ? whyNotLoaded(ops) : 'backend ' + tf.getBackend()})`;
  return ops.noBf16;
}

/** Sets the precision of every later inference in this process; an Error saying why when bf16 cannot run. */
export function setInferencePrecision(tf: Tf, precision: InferencePrecision): void {
  if (precision === 'bf16') {
    const why = whyNoBf16(tf);
    if (why) throw new Error(`bf16 inference is not available: ${why}`);
  }
  lstmFastOptions.inferencePrecision = precision;
}

function requireFused(tf: Tf): void {
  const ops = loadLstmOps(tf);
  if (!ops.loaded) throw new Error(`the fused LSTM kernels are not loaded: ${whyNotLoaded(ops)}`);
}

/** The forward kernel 'auto' stands for in this process. */
export function nativeForwardPass(tf: Tf): 'fused' | 'block' {
  const choice = lstmFastOptions.forward;
  if (choice === 'auto') return loadLstmOps(tf).loaded ? 'fused' : 'block';
  if (choice === 'fused') requireFused(tf);
  return choice;
}

/** The backward pass 'auto' stands for in this process. */
export function nativeBackwardPass(tf: Tf): 'fused' | 'ops' | 'block' {
  const choice = lstmFastOptions.backward;
  if (choice === 'auto') return loadLstmOps(tf).loaded ? 'fused' : 'ops';
  if (choice === 'fused') requireFused(tf);
  return choice;
}

/** The forward kernel's saved activations (WindcastLstm or BlockLSTM, time-major [T, batch, H]) and what the backward pass needs. */
interface SavedForward {
  x: Tensor; kernel: Tensor; recurrent: Tensor;
  i: Tensor; cs: Tensor; f: Tensor; o: Tensor; ci: Tensor; co: Tensor; h: Tensor;
  dy: Tensor; returnSequences: boolean; inputGrad: boolean;
}

/**
 * The LSTM backward pass from the forward kernel's saved activations, split so that only what is
 * truly sequential runs per hour: dc, the gate gradients dG and dh_{t-1} = dG_t U^T (in the fused
 * kernel or as TensorFlow ops). The weight and input gradients are then three large matMuls
 * over all hours at once (dK = X^T dG, dU = H_prev^T dG, dx = dG K^T), where BlockLSTMGrad
 * does two [batch, F + H] x [.., 4H] matMuls per hour. dG is in tfjs/Keras gate order
 * i, f, c, o, so no permuting. Returns [dKernel, dRecurrent, dBias, dx].
 */
function splitBackward(tf: Tf, backend: NativeBackend, a: SavedForward, fused: boolean): Tensor[] {
  const [steps, batch, features] = a.x.shape as [number, number, number];
  const units = a.recurrent.shape[0]!;
  if (fused && lstmFastOptions.fusedWeightGrads && !a.inputGrad && !a.returnSequences) {
    // The first layer (its input is data): the weight gradients are summed inside the kernel,
    // block by block, and no [T, batch, 4H] gate gradient is written (native/lstm_ops.cc).
    const dw = backend.executeMultipleOutputs('WindcastLstmGradWeights', [], [a.i, a.cs, a.f, a.o, a.ci, a.co, a.recurrent, a.dy, a.x, a.h], 1)[0]!;
    const [kGrad, rGrad, bGrad] = tf.split(dw, [features, units, 1], 0);
    return [kGrad!, rGrad!, tf.reshape(bGrad!, [4 * units]), tf.zeros([batch, steps, features])];
  }
  const dh = a.returnSequences ? tf.transpose(a.dy, [1, 0, 2]) : a.dy;
  const gates = fused
    ? tf.reshape(backend.executeMultipleOutputs('WindcastLstmGrad', [], [a.i, a.cs, a.f, a.o, a.ci, a.co, a.recurrent, dh], 1)[0]!, [steps * batch, 4 * units])
    : gateGradsWithOps(tf, backend, a, dh);
  // Kernel and bias (a column of ones) gradients in one matMul; the recurrent kernel's from
  // hours 0..T-2 of h against hours 1..T-1 of the gate gradients (h_{-1} = 0).
  const inputs = tf.concat([a.x, tf.ones([steps, batch, 1])], 2);
  const kbGrad = tf.matMul(tf.reshape(inputs, [steps * batch, features + 1]), gates, true, false);
  const [kGrad, bGrad] = tf.split(kbGrad, [features, 1], 0);
  const rGrad = steps > 1
    ? tf.matMul(tf.reshape(tf.slice(a.h, [0, 0, 0], [steps - 1, batch, units]), [(steps - 1) * batch, units]), tf.slice(gates, [batch, 0], [(steps - 1) * batch, 4 * units]), true, false)
    : tf.zeros([units, 4 * units]);
  // The first layer's input is data: its gradient is never used, so it is not computed.
  const xGrad = a.inputGrad
    ? tf.transpose(tf.reshape(tf.matMul(gates, a.kernel, false, true), [steps, batch, features]), [1, 0, 2])
    : tf.zeros([batch, steps, features]);
  return [kGrad!, rGrad!, tf.reshape(bGrad!, [4 * units]), xGrad];
}

/**
 * The gate-gradient recurrence as TensorFlow ops (what WindcastLstmGrad computes in one
 * kernel): [T * batch, 4H], hour-major. dh is [batch, H] (last hour) or [T, batch, H].
 */
function gateGradsWithOps(tf: Tf, backend: NativeBackend, a: SavedForward, dhIn: Tensor): Tensor {
  const [steps, batch] = a.x.shape as [number, number, number];
  const units = a.recurrent.shape[0]!;
  const T = { name: 'T', type: backend.binding.TF_ATTR_TYPE, value: backend.binding.TF_FLOAT };
  // TensorFlow's fused derivative kernels: SigmoidGrad(y, d) = d y (1 - y), TanhGrad(y, d) = d (1 - y^2).
  const sigmoidGrad = (y: Tensor, d: Tensor) => backend.executeMultipleOutputs('SigmoidGrad', [T], [y, d], 1)[0]!;
  const tanhGrad = (y: Tensor, d: Tensor) => backend.executeMultipleOutputs('TanhGrad', [T], [y, d], 1)[0]!;
  // Slices along axis 0 (whole hours) are views on TensorFlow, not copies.
  const early = (m: Tensor) => tf.slice(m, [0, 0, 0], [steps - 1, batch, units]);
  const late = (m: Tensor) => tf.slice(m, [1, 0, 0], [steps - 1, batch, units]);
  // Per gate, d(pre-activation) = (what dc or dh is multiplied by) x (the activation's slope):
  //   i: dc ci i(1-i); f: dc c_{t-1} f(1-f); c: dc i (1-ci^2); o: dh co o(1-o).
  // Kept per gate (a concat of all four would copy [T, batch, 4H] once more); unstacked along
  // axis 0, which on TensorFlow gives views, not copies.
  const [fi, fc, fo] = [sigmoidGrad(a.i, a.ci), tanhGrad(a.ci, a.i), sigmoidGrad(a.o, a.co)].map((m) => tf.unstack(m, 0));
  // c_{-1} = 0: the first hour's forget gate gets no gradient.
  const ff = [tf.zeros([batch, units]), ...(steps > 1 ? tf.unstack(sigmoidGrad(late(a.f), early(a.cs)), 0) : [])];
  // dc_t gets dh_t o_t (1 - co_t^2) from h_t = o_t tanh(c_t).
  const dhToDc = tf.unstack(tanhGrad(a.co, a.o), 0);
  const forget = tf.unstack(a.f, 0);
  const dyT = a.returnSequences ? tf.unstack(dhIn, 0) : undefined;
  const recurrentT = tf.transpose(a.recurrent);
  const dG: Tensor[] = new Array(steps);
  let dh: Tensor = dyT ? dyT[steps - 1]! : dhIn;
  let dcNext: Tensor | undefined;
  for (let t = steps - 1; t >= 0; t--) {
    const fromH = tf.mul(dh, dhToDc[t]!);
    const dc = dcNext ? tf.add(fromH, dcNext) : fromH;
    dG[t] = tf.concat([tf.mul(dc, fi![t]!), tf.mul(dc, ff[t]!), tf.mul(dc, fc![t]!), tf.mul(dh, fo![t]!)], 1);
    if (t > 0) {
      dcNext = tf.mul(dc, forget[t]!);
      const rec = tf.matMul(dG[t]!, recurrentT);
      dh = dyT ? tf.add(rec, dyT[t - 1]!) : rec;
    }
  }
  return tf.concat(dG, 0);
}

/**
 * The LSTM over a whole sequence on native TensorFlow: x [batch, T, F] -> h [batch, T, H]
 * (returnSequences) or the last h [batch, H].
 */
function blockLstm(tf: Tf, backend: NativeBackend, x: Tensor, kernel: Tensor, recurrent: Tensor, bias: Tensor, returnSequences: boolean, inputGrad: boolean): Tensor {
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
  // BlockLSTM's and BlockLSTMGrad's weight inputs: one [F + H, 4H] matrix and the bias, gates
  // in their order i, c, f, o; zero initial state and (unused) peepholes.
  const blockInputs = (k: Tensor, r: Tensor, b: Tensor) => ({
    w: swapForgetAndCell(tf, tf.concat([k, r], 0), units),
    bb: swapForgetAndCell(tf, b, units),
    zeros: tf.zeros([batch, units]),
    peephole: tf.zeros([units]),
  });
  const run = tf.customGrad(((xIn: Tensor, kIn: Tensor, rIn: Tensor, bIn: Tensor, save: (t: Tensor[]) => void) => {
    const xT = tf.transpose(xIn, [1, 0, 2]);
    let outs: Tensor[];
    if (nativeForwardPass(tf) === 'fused') {
      outs = backend.executeMultipleOutputs('WindcastLstm', [], [xT, kIn, rIn, bIn], 7);
    } else {
      const { w, bb, zeros, peephole } = blockInputs(kIn, rIn, bIn);
      outs = backend.executeMultipleOutputs('BlockLSTM', attrs, [new int64Scalar!(steps), xT, zeros, zeros, w, peephole, peephole, peephole, bb], 7);
    }
    // Both give BlockLSTM's outputs: gates after their nonlinearity, c, tanh(c), h.
    const [i, cs, f, o, ci, co, h] = outs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
    save([xT, i, cs, f, o, ci, co, h, kIn, rIn, bIn]);
    const value = returnSequences ? tf.transpose(h, [1, 0, 2]) : tf.reshape(tf.slice(h, [steps - 1, 0, 0], [1, batch, units]), [batch, units]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, si, scs, sf, so, sci, sco, sh, sk, sr, sb] = saved as Tensor[];
        const pass = nativeBackwardPass(tf);
        if (pass !== 'block') {
          const forward: SavedForward = { x: sx!, kernel: sk!, recurrent: sr!, i: si!, cs: scs!, f: sf!, o: so!, ci: sci!, co: sco!, h: sh!, dy, returnSequences, inputGrad };
          const [kGrad, rGrad, bGrad, xGrad] = splitBackward(tf, backend, forward, pass === 'fused');
          return [xGrad, kGrad, rGrad, bGrad];
        }
        // Only the last hour's h reaches the loss: one Pad instead of zeros + concat.
        const hGrad = returnSequences
          ? tf.transpose(dy, [1, 0, 2])
          : tf.pad(tf.reshape(dy, [1, batch, units]), [[steps - 1, 0], [0, 0], [0, 0]]);
        const { w, bb, zeros, peephole } = blockInputs(sk!, sr!, sb!);
        const grads = backend.executeMultipleOutputs('BlockLSTMGrad', gradAttrs, [
          new int64Scalar!(steps), sx, zeros, zeros, w, peephole, peephole, peephole, bb, si, scs, sf, so, sci, sco, sh, tf.zerosLike(scs!), hGrad,
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
 * The same LSTM with tf ops (wasm, cpu), hour by hour as tf.layers.lstm does it. Hoisting the
 * input projection into one big matMul does not pay here: wasm's SplitV takes seconds to hand
 * the [hours * batch, 4 * units] result out per hour (measured: forward 2.6 s vs 0.93 s CPU).
 */
export function loopLstm(tf: Tf, x: Tensor, kernel: Tensor, recurrent: Tensor, bias: Tensor, returnSequences = false): Tensor {
  const [batch, steps] = x.shape as [number, number, number];
  const units = recurrent.shape[0]!;
  const perHour = tf.unstack(tf.transpose(x, [1, 0, 2]), 0);
  let h = tf.zeros([batch, units]);
  let c = tf.zeros([batch, units]);
  const hs: Tensor[] = [];
  for (let t = 0; t < steps; t++) {
    const z = tf.add(tf.add(tf.matMul(perHour[t]!, kernel), tf.matMul(h, recurrent)), bias);
    const [zi, zf, zc, zo] = tf.split(z, 4, 1);
    c = tf.add(tf.mul(tf.sigmoid(zf!), c), tf.mul(tf.sigmoid(zi!), tf.tanh(zc!)));
    h = tf.mul(tf.sigmoid(zo!), tf.tanh(c));
    if (returnSequences) hs.push(h);
  }
  return returnSequences ? tf.stack(hs, 1) : h;
}

/**
 * x [batch, T, F] -> [batch, H] (or [batch, T, H]): the fastest implementation for the backend.
 * inputGrad false: x is data, its gradient is not needed (the native backward returns zeros).
 * inference true: no gradient will be taken (predict, evaluate, validation), so on native with
 * the fused kernels the last hour's h comes from WindcastLstmLast, which keeps every other
 * activation in cache instead of writing seven [T, batch, H] tensors for a backward pass.
 */
export function lstmSequence(tf: Tf, x: Tensor, kernel: Tensor, recurrent: Tensor, bias: Tensor, returnSequences = false, inputGrad = true, inference = false): Tensor {
  const native = nativeBackend(tf);
  if (!native) return loopLstm(tf, x, kernel, recurrent, bias, returnSequences);
  if (inference && !returnSequences && nativeForwardPass(tf) === 'fused') return lastHourFused(native, tf.transpose(x, [1, 0, 2]), kernel, recurrent, bias);
  return blockLstm(tf, native, x, kernel, recurrent, bias, returnSequences, inputGrad);
}

/** WindcastLstmLast(Bf16) on a time-major x [T, batch, F]: the last hour's h [batch, H]. */
function lastHourFused(native: NativeBackend, xTimeMajor: Tensor, kernel: Tensor, recurrent: Tensor, bias: Tensor): Tensor {
  // bf16 runs the register tiles, 16 units at a time; a layer of other widths stays fp32.
  const op = lstmFastOptions.inferencePrecision === 'bf16' && recurrent.shape[0]! % 16 === 0 ? 'WindcastLstmLastBf16' : 'WindcastLstmLast';
  return native.executeMultipleOutputs(op, [], [xTimeMajor, kernel, recurrent, bias], 1)[0]!;
}

/** Whether the fused last-hour kernel runs here (native TensorFlow, the kernels loaded: it loads them). */
export function fusedLastHour(tf: Tf): boolean {
  return nativeBackend(tf) !== undefined && nativeForwardPass(tf) === 'fused';
}

/**
 * When `layer` is a FastLSTM giving only its last hour's h and the fused kernel runs here
 * (fusedLastHour): that h [batch, H] from a time-major input [T, batch, F]; else undefined.
 * model/time-major.ts runs a model on time-major batches with it.
 */
export function lastHourTimeMajor(tf: Tf, layer: unknown, xTimeMajor: Tensor): Tensor | undefined {
  if (!isLastHourFastLstm(layer) || !fusedLastHour(tf)) return undefined;
  const l = layer as unknown as { weightsForInference(): [Tensor, Tensor, Tensor] };
  return lastHourFused(nativeBackend(tf)!, xTimeMajor, ...l.weightsForInference());
}

/** A FastLSTM layer that gives only its last hour's h. */
export function isLastHourFastLstm(layer: unknown): boolean {
  return layerClass !== undefined && layer instanceof layerClass && !(layer as unknown as { returnSequences: boolean }).returnSequences;
}

/** The tf.layers.lstm arguments FastLSTM honours; the gates are always sigmoid (see header). */
export interface FastLstmArgs {
  units: number;
  returnSequences?: boolean;
  /** Input dropout with one mask per sample and feature for all hours, as tf.layers.lstm. */
  dropout?: number;
  name?: string;
  kernelInitializer?: unknown;
  recurrentInitializer?: unknown;
  biasInitializer?: unknown;
  unitForgetBias?: boolean;
  recurrentActivation?: string;
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
  if (layerClass) return;
  type Init = { apply(shape: number[]): Tensor };
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
    readonly dropout: number;
    private readonly inits: { kernel: unknown; recurrent: unknown; bias: unknown };
    private kernel?: { read(): Tensor };
    private recurrentKernel?: { read(): Tensor };
    private bias?: { read(): Tensor };
    constructor(a: FastLstmArgs) {
      super(a);
      if (a.recurrentActivation !== undefined && a.recurrentActivation !== 'sigmoid') {
        throw new Error(`FastLSTM computes sigmoid gates; recurrentActivation '${a.recurrentActivation}' is not supported`);
      }
      this.units = a.units;
      this.returnSequences = a.returnSequences ?? false;
      this.dropout = a.dropout ?? 0;
      const u = a.units;
      // unitForgetBias: the forget gate starts open, as tf.layers.lstm({unitForgetBias: true}).
      const forgetOpen: Init = { apply: () => tf.concat([tf.zeros([u]), tf.ones([u]), tf.zeros([2 * u])]) };
      this.inits = {
        kernel: a.kernelInitializer ?? 'glorotUniform',
        recurrent: a.recurrentInitializer ?? 'orthogonal',
        bias: a.unitForgetBias ? forgetOpen : (a.biasInitializer ?? 'zeros'),
      };
    }
    build(inputShape: number[] | number[][]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as number[];
      const features = shape[shape.length - 1]!;
      const u = this.units;
      const named: Record<string, () => unknown> = {
        zeros: () => tf.initializers.zeros(),
        glorotUniform: () => tf.initializers.glorotUniform({}),
        orthogonal: () => tf.initializers.orthogonal({}),
      };
      const init = (i: unknown) => {
        if (typeof i !== 'string') return i;
        const make = named[i];
        if (!make) throw new Error(`FastLSTM: unsupported initializer name '${i}' (pass an initializer object)`);
        return make();
      };
      this.kernel = this.addWeight('kernel', [features, 4 * u], undefined, init(this.inits.kernel));
      this.recurrentKernel = this.addWeight('recurrent_kernel', [u, 4 * u], undefined, init(this.inits.recurrent));
      this.bias = this.addWeight('bias', [4 * u], undefined, init(this.inits.bias));
      this.built = true;
    }
    computeOutputShape(inputShape: number[]): number[] {
      return this.returnSequences ? [inputShape[0]!, inputShape[1]!, this.units] : [inputShape[0]!, this.units];
    }
    call(inputs: Tensor | Tensor[], kwargs: { training?: boolean }): Tensor {
      return tf.tidy(() => {
        let x = Array.isArray(inputs) ? inputs[0]! : inputs;
        if (kwargs?.training && this.dropout > 0) {
          const [batch, , features] = x.shape as [number, number, number];
          x = tf.mul(x, tf.expandDims(tf.dropout(tf.ones([batch, features]), this.dropout), 1));
        }
        // Only a training call (trainStep: model.apply(xs, {training: true})) takes gradients.
        return lstmSequence(tf, x, this.kernel!.read(), this.recurrentKernel!.read(), this.bias!.read(), this.returnSequences, !this.readsModelInput(), !kwargs?.training);
      });
    }
    /** kernel, recurrent kernel, bias (lastHourTimeMajor). */
    weightsForInference(): [Tensor, Tensor, Tensor] {
      return [this.kernel!.read(), this.recurrentKernel!.read(), this.bias!.read()];
    }
    /** Whether this layer's input is the model's input (data, so no gradient is needed for it). */
    private readsModelInput(): boolean {
      const self = this as unknown as { inboundNodes?: { inboundLayers: { getClassName(): string }[] }[] };
      const nodes = self.inboundNodes ?? [];
      return nodes.length > 0 && nodes.every((n) => n.inboundLayers.length > 0 && n.inboundLayers.every((l) => l.getClassName() === 'InputLayer'));
    }
    override getConfig(): Record<string, unknown> {
      return { ...super.getConfig(), units: this.units, returnSequences: this.returnSequences, dropout: this.dropout };
    }
  }
  tf.serialization.registerClass(FastLSTM as unknown as Parameters<Tf['serialization']['registerClass']>[0]);
  layerClass = FastLSTM as unknown as typeof layerClass;
}
