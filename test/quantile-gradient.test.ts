/**
 * The quantile head's hand-written gradient (HeadGradient, model/quantile-head.ts), on both of
 * its paths (TensorFlow ops; WindcastPinballGrad where windcast's kernels load), against
 * autograd through the layer and weightedPinballLoss: the gradient the fit took before.
 *
 * TF_NUM_INTRAOP_THREADS=2 before the backend loads, so WindcastPinballGrad's blocks of 128
 * rows run on two threads (as in test/lstm-kernels.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBackend, type Tf } from '../src/runtime/backend.js';
import { loadLstmOps, whyNotLoaded } from '../src/runtime/lstm-kernels.js';
import { HeadGradient, quantileHeadLayer, weightedPinballLoss } from '../src/model/quantile-head.js';
import { makeRng } from '../src/prepare/windows.js';

process.env.TF_NUM_INTRAOP_THREADS = '2';

type Tensor = ReturnType<Tf['tensor']>;
type Variable = ReturnType<Tf['variable']>;

/** Native TensorFlow with the kernels where they load (required in CI), else the cpu backend and the ops path alone. */
async function backend(): Promise<{ tf: Tf; paths: ('auto' | 'ops')[] }> {
  const requireNative = process.env.WINDCAST_REQUIRE_NATIVE === '1';
  try {
    const { tf } = await loadBackend('tensorflow');
    const ops = loadLstmOps(tf);
    if (!ops.loaded && requireNative) assert.fail(`WINDCAST_REQUIRE_NATIVE=1 but windcast's kernels did not load: ${whyNotLoaded(ops)}`);
    return { tf, paths: ops.loaded ? ['auto', 'ops'] : ['ops'] };
  } catch (err) {
    if (requireNative) throw err;
    return { tf: (await loadBackend('cpu')).tf, paths: ['ops'] };
  }
}

const { tf, paths } = await backend();

interface Case {
  levels: number[];
  horizon: number;
  units: number;
  n: number;
  /** Width scale per lead (the layer uses |scale|). */
  scale: number[];
  /** Ties: kernel 0 and a zero centre offset, and the truth at the point forecast in every other window. */
  ties?: boolean;
}

/** A head with random weights, a random batch (some windows weight 0) and both gradients. */
function gradients(c: Case, path: 'auto' | 'ops') {
  const rng = makeRng(c.n * 31 + c.levels.length);
  const rand = (shape: number[], spread: number) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng() - 0.5) * 2 * spread), shape);
  const Q = c.levels.length;
  const head = quantileHeadLayer(tf, { name: 'quantiles', levels: c.levels, horizon: c.horizon });
  const state = rand([c.n, c.units], 1);
  const point = rand([c.n, c.horizon], 1);
  (head.apply([state, point] as never) as unknown as Tensor).dispose();
  const weights = (head as unknown as { trainableWeights: { read(): Variable }[]; weights: { read(): Variable }[] }).weights.map((w) => w.read());
  const [kernel, bias, scale] = weights as [Variable, Variable, Variable];
  kernel.assign(c.ties ? tf.zerosLike(kernel) : rand(kernel.shape, 0.4));
  const b = rand(bias.shape, 1.5).dataSync() as Float32Array;
  const m = c.levels.reduce((best, l, k) => (Math.abs(l - 0.5) < Math.abs(c.levels[best]! - 0.5) ? k : best), 0);
  if (c.ties) for (let j = 0; j < c.horizon; j++) b[j * Q + m] = 0;
  bias.assign(tf.tensor1d(b));
  scale.assign(tf.tensor1d(c.scale));
  const ys = rand([c.n, c.horizon], 2);
  if (c.ties) {
    const y = ys.dataSync() as Float32Array;
    const p = point.dataSync();
    for (let i = 0; i < c.n; i += 2) for (let j = 0; j < c.horizon; j++) y[i * c.horizon + j] = p[i * c.horizon + j]!;
    ys.dispose();
    return gradientsOf(c, path, { head, kernel, bias, weights, state, point, ys: tf.tensor2d(y, [c.n, c.horizon]), rng });
  }
  return gradientsOf(c, path, { head, kernel, bias, weights, state, point, ys, rng });
}

function gradientsOf(c: Case, path: 'auto' | 'ops', o: { head: ReturnType<typeof quantileHeadLayer>; kernel: Variable; bias: Variable; weights: Variable[]; state: Tensor; point: Tensor; ys: Tensor; rng: () => number }) {
  const { head, kernel, bias, weights, state, point, ys, rng } = o;
  // Every fifth window weighs 0 (an invalid window's weight).
  const w = tf.tensor1d(Float32Array.from({ length: c.n }, (_, i) => (i % 5 === 3 ? 0 : 0.3 + rng())));
  const auto = tf.variableGrads(() => weightedPinballLoss(tf, head.apply([state, point] as never) as unknown as Tensor, ys, w, c.levels) as ReturnType<Tf['scalar']>, [kernel, bias]);
  // The hand gradient sees NaN in the zero-weight windows' state, point and truth: they must not count.
  const nanRows = tf.reshape(tf.tensor1d(Array.from({ length: c.n }, (_, i) => i % 5 === 3 ? 1 : 0), 'bool'), [c.n, 1]);
  const poison = (t: Tensor) => tf.where(tf.tile(nanRows, [1, t.shape[1]!]), tf.fill(t.shape, NaN), t);
  const gradient = new HeadGradient(tf, c.levels, c.scale, path);
  const batch = gradient.batch({ state: poison(state), point: poison(point), ys: poison(ys), w });
  const params = HeadGradient.params(tf, kernel, bias);
  // The second call: the first caches the ops path's broadcast constants (freed by dispose).
  gradient.gradient(batch, params).dispose();
  const before = tf.memory().numTensors;
  const dParams = gradient.gradient(batch, params);
  const leaked = tf.memory().numTensors - before - 1;
  const byHand = HeadGradient.split(tf, dParams);
  const out = {
    fused: gradient.fused,
    leaked,
    kernel: { auto: auto.grads[kernel.name]!.dataSync() as Float32Array, byHand: byHand.kernel.dataSync() as Float32Array },
    bias: { auto: auto.grads[bias.name]!.dataSync() as Float32Array, byHand: byHand.bias.dataSync() as Float32Array },
  };
  tf.dispose([state, point, ys, w, nanRows, params, dParams, byHand.kernel, byHand.bias, batch.inputs, batch.shares, batch.excess, auto.value, ...Object.values(auto.grads)]);
  gradient.dispose();
  weights.forEach((v) => v.dispose());
  return out;
}

/** Largest difference relative to the largest gradient entry. */
function relativeDiff(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    assert.ok(Number.isFinite(b[i]!), `entry ${i} is ${b[i]}`);
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  assert.ok(scale > 0, 'the gradient is not zero');
  return diff / scale;
}

const CASES: Case[] = [
  // The default levels over 300 windows: three blocks of 128 rows (the kernel's) and a short one.
  { levels: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95], horizon: 6, units: 8, n: 300, scale: [1, 1, 1, 1, 1, 1] },
  // No 0.5 level (the centre is 0.6) and width scales, one negative (the layer takes |scale|).
  { levels: [0.1, 0.3, 0.6, 0.8], horizon: 3, units: 5, n: 41, scale: [0.7, 1.6, -1.2] },
  // One level: the head is the point plus an offset.
  { levels: [0.5], horizon: 2, units: 3, n: 20, scale: [1, 1] },
  // Truths exactly at the centre quantile: tf.maximum's gradient at a tie (tau e).
  { levels: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95], horizon: 4, units: 4, n: 50, scale: [1, 1, 1, 1], ties: true },
];

for (const path of paths) {
  test(`the head's gradient by hand (${path === 'auto' ? 'WindcastPinballGrad' : 'TensorFlow ops'}) equals autograd's through the layer and the pinball loss`, () => {
    for (const c of CASES) {
      const g = gradients(c, path);
      const label = `levels ${c.levels.join(',')}${c.ties ? ', ties' : ''}`;
      assert.equal(g.fused, path === 'auto', `${label}: the path asked for`);
      assert.equal(g.leaked, 0, `${label}: tensors left behind`);
      assert.ok(relativeDiff(g.kernel.auto, g.kernel.byHand) < 1e-5, `${label}: kernel gradient off by ${relativeDiff(g.kernel.auto, g.kernel.byHand)}`);
      assert.ok(relativeDiff(g.bias.auto, g.bias.byHand) < 1e-5, `${label}: bias gradient off by ${relativeDiff(g.bias.auto, g.bias.byHand)}`);
    }
  });
}

test('a zero-weight window changes nothing, whatever its values', () => {
  const levels = [0.1, 0.5, 0.9];
  for (const path of paths) {
    tf.engine().startScope();
    const gradient = new HeadGradient(tf, levels, [1, 1], path);
    const params = tf.randomNormal([4, 6], 0, 0.5, 'float32', 7);
    const state = tf.randomNormal([5, 3], 0, 1, 'float32', 8);
    const point = tf.randomNormal([5, 2], 0, 1, 'float32', 9);
    const ys = tf.randomNormal([5, 2], 0, 1, 'float32', 10);
    const w = tf.tensor1d([1, 0.5, 2, 1, 0.7]);
    const one = gradient.batch({ state, point, ys, w });
    // The same windows and a sixth of weight 0 with NaN inputs and an infinite truth.
    const more = gradient.batch({ state: tf.concat([state, tf.fill([1, 3], NaN)]), point: tf.concat([point, tf.fill([1, 2], NaN)]), ys: tf.concat([ys, tf.fill([1, 2], Infinity)]), w: tf.concat([w, tf.zeros([1])]) });
    const a = gradient.gradient(one, params).dataSync() as Float32Array;
    const b = gradient.gradient(more, params).dataSync() as Float32Array;
    assert.ok(relativeDiff(a, b) < 1e-6, `${path}: ${relativeDiff(a, b)}`);
    gradient.dispose();
    tf.engine().endScope();
  }
});

test('on another backend in the same process, the TensorFlow-ops path, whatever the kernels did before', async () => {
  const was = tf.getBackend();
  await loadBackend('cpu');
  try {
    const gradient = new HeadGradient(tf, [0.25, 0.5, 0.75], [1]);
    assert.equal(gradient.fused, false);
    tf.tidy(() => {
      const batch = gradient.batch({ state: tf.ones([2, 2]), point: tf.zeros([2, 1]), ys: tf.ones([2, 1]), w: tf.ones([2]) });
      assert.ok(Array.from(gradient.gradient(batch, tf.zeros([3, 3])).dataSync()).every(Number.isFinite));
    });
    gradient.dispose();
  } finally {
    if (was === 'tensorflow') await loadBackend('tensorflow');
  }
});
