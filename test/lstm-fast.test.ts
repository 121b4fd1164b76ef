import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBackend, type Tf } from '../src/runtime/backend.js';
import { lstmFastOptions, lstmSequence, loopLstm, registerFastLstm, setInferencePrecision, whyNoBf16 } from '../src/model/lstm-fast.js';
import { inferTimeMajor, takesTimeMajor } from '../src/model/time-major.js';
import { loadLstmOps } from '../src/runtime/lstm-kernels.js';
import { buildModel, createModel, trainStep, trainableVariables, type ModelSpec } from '../src/model/model.js';

type Tensor = ReturnType<Tf['tensor']>;

function maxAbs(tf: Tf, a: Tensor, b: Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/**
 * The native backward passes to check: TensorFlow ops, BlockLSTMGrad and, when setup-native
 * built it, the fused kernel. CI (WINDCAST_REQUIRE_NATIVE=1) requires the fused kernel.
 */
function nativePasses(tf: Tf): ('fused' | 'ops' | 'block')[] {
  const ops = loadLstmOps(tf);
  if (!ops.loaded && process.env.WINDCAST_REQUIRE_NATIVE === '1' && tf.getBackend() === 'tensorflow') {
    assert.fail(`the fused LSTM kernels must load here: ${ops.reason}`);
  }
  return ops.loaded ? ['fused', 'ops', 'block'] : ['ops', 'block'];
}

async function setup(backend: 'auto' | 'wasm' = 'auto') {
  const { tf, info } = await loadBackend(backend);
  const B = 6, T = 9, F = 4, H = 5;
  const x = tf.randomNormal([B, T, F], 0, 1, 'float32', 1);
  const kernel = tf.randomNormal([F, 4 * H], 0, 0.5, 'float32', 2);
  const recurrent = tf.randomNormal([H, 4 * H], 0, 0.5, 'float32', 3);
  const bias = tf.randomNormal([4 * H], 0, 0.5, 'float32', 4);
  return { tf, info, x, kernel, recurrent, bias, H };
}

test('lstmSequence computes what tf.layers.lstm (sigmoid gates) computes, last step and sequence', async () => {
  // 'auto' is native TensorFlow where it loads (both forward kernels); wasm runs the op loop.
  const initial = lstmFastOptions.forward;
  try {
    for (const backend of ['auto', 'wasm'] as const) {
      const { tf, info, x, kernel, recurrent, bias, H } = await setup(backend);
      const forwards = info.name === 'tensorflow' ? nativePasses(tf).filter((p) => p !== 'ops') as ('fused' | 'block')[] : ['auto' as const];
      for (const forward of forwards) {
        lstmFastOptions.forward = forward;
        for (const returnSequences of [false, true]) {
          const layer = tf.layers.lstm({ units: H, recurrentActivation: 'sigmoid', returnSequences });
          layer.apply(x);
          layer.setWeights([kernel, recurrent, bias]);
          const expected = layer.apply(x) as Tensor;
          const actual = lstmSequence(tf, x, kernel, recurrent, bias, returnSequences);
          assert.deepEqual(actual.shape, expected.shape);
          const gap = maxAbs(tf, actual, expected);
          assert.ok(gap < 1e-5, `${info.name} ${forward}, returnSequences ${returnSequences}: differs by ${gap}`);
        }
      }
    }
  } finally {
    lstmFastOptions.forward = initial;
  }
});

test('its gradients (every native backward pass) equal autodiff through the op-by-op loop', async () => {
  const { tf, info, x, kernel, recurrent, bias } = await setup();
  const initial = lstmFastOptions.backward;
  try {
    for (const backward of nativePasses(tf)) {
      lstmFastOptions.backward = backward;
      for (const returnSequences of [false, true]) {
        for (const inputGrad of [true, false]) {
          const weightsOut = (impl: typeof lstmSequence) => (a: Tensor, k: Tensor, r: Tensor, b: Tensor) => {
            const y = impl(tf, a, k, r, b, returnSequences, inputGrad);
            // A fixed random projection, so every output element gets its own gradient.
            return tf.sum(tf.mul(y, tf.randomNormal(y.shape, 0, 1, 'float32', 9)));
          };
          const fast = tf.grads(weightsOut(lstmSequence))([x, kernel, recurrent, bias]);
          const loop = tf.grads(weightsOut(loopLstm))([x, kernel, recurrent, bias]);
          for (const [i, name] of ['x', 'kernel', 'recurrent', 'bias'].entries()) {
            // Without inputGrad the data's gradient is not computed (the loop has no such option).
            if (i === 0 && !inputGrad) continue;
            const scale = tf.tidy(() => tf.max(tf.abs(loop[i]!)).dataSync()[0]!);
            const gap = maxAbs(tf, fast[i]!, loop[i]!);
            const what = `${info.name} ${backward}, returnSequences ${returnSequences}, inputGrad ${inputGrad}`;
            assert.ok(gap <= 1e-5 * Math.max(1, scale), `${what}: d/d${name} differs by ${gap} (scale ${scale})`);
          }
        }
      }
    }
  } finally {
    lstmFastOptions.backward = initial;
  }
});

test('in a two-layer model, each native backward pass gives the weight gradients BlockLSTMGrad gives', async () => {
  // The first layer reads the model input and skips its data gradient; the second must not.
  const { tf } = await loadBackend('auto');
  const spec: ModelSpec = { lookback: 7, nFeatures: 3, horizon: 4, units: 6, layers: 2, dropout: 0, linearSkip: true, seed: 5 };
  const model = createModel(tf, { ...spec, lstm: 'fast' });
  const xs = tf.randomNormal([10, spec.lookback, spec.nFeatures], 0, 1, 'float32', 7);
  const ys = tf.randomNormal([10, spec.horizon], 0, 1, 'float32', 8);
  // The head starts at zero, which would cut every LSTM gradient: give it weights.
  const head = model.getLayer('head');
  head.setWeights(head.getWeights().map((w, k) => tf.randomNormal(w.shape, 0, 0.5, 'float32', 20 + k)));
  const variables = trainableVariables(model);
  const gradients = () => tf.variableGrads(() => tf.mean(tf.square(tf.sub(model.apply(xs, { training: true }) as Tensor, ys))) as ReturnType<Tf['scalar']>, variables).grads;
  const initial = lstmFastOptions.backward;
  try {
    lstmFastOptions.backward = 'block';
    const block = gradients();
    const lstmWeights = variables.filter((w) => w.name.includes('lstm'));
    assert.equal(lstmWeights.length, 6, `two layers of kernel, recurrent kernel, bias: ${variables.map((w) => w.name)}`);
    for (const pass of nativePasses(tf).filter((p) => p !== 'block')) {
      lstmFastOptions.backward = pass;
      const other = gradients();
      for (const v of lstmWeights) {
        const scale = tf.tidy(() => tf.max(tf.abs(block[v.name]!)).dataSync()[0]!);
        const gap = maxAbs(tf, other[v.name]!, block[v.name]!);
        assert.ok(scale > 0, `${v.name}: the test needs a nonzero gradient`);
        assert.ok(gap <= 1e-5 * Math.max(1, scale), `${pass} ${v.name}: differs by ${gap} (scale ${scale})`);
      }
    }
  } finally {
    lstmFastOptions.backward = initial;
  }
  tf.dispose([xs, ys]);
  model.dispose();
});

test('the fused kernels match BlockLSTM and the TensorFlow-ops backward over partial row blocks, one hour, odd units', async (t) => {
  const { tf } = await loadBackend('auto');
  if (tf.getBackend() !== 'tensorflow' || !nativePasses(tf).includes('fused')) {
    t.skip('needs native TensorFlow and the fused kernels (npm run setup:native); CI requires both');
    return;
  }
  const initial = { ...lstmFastOptions };
  try {
    // 300 rows: two full blocks of 128 and a partial one (on two threads where there are two
    // cores; lstm-kernels.test.ts forces two); 7 units: no SIMD multiple.
    for (const [B, T, F, H] of [[300, 5, 3, 7], [3, 1, 2, 4], [130, 4, 1, 16]] as const) {
      const x = tf.randomNormal([B, T, F], 0, 1, 'float32', 11);
      const kernel = tf.randomNormal([F, 4 * H], 0, 0.5, 'float32', 12);
      const recurrent = tf.randomNormal([H, 4 * H], 0, 0.5, 'float32', 13);
      const bias = tf.randomNormal([4 * H], 0, 0.5, 'float32', 14);
      for (const returnSequences of [false, true]) {
        const grads = (pass: 'fused' | 'ops') => {
          lstmFastOptions.backward = pass;
          lstmFastOptions.forward = pass === 'fused' ? 'fused' : 'block';
          return tf.grads((a: Tensor, k: Tensor, r: Tensor, b: Tensor) => {
            const y = lstmSequence(tf, a, k, r, b, returnSequences, true);
            return tf.sum(tf.mul(y, tf.randomNormal(y.shape, 0, 1, 'float32', 15)));
          })([x, kernel, recurrent, bias]);
        };
        const fused = grads('fused');
        const ops = grads('ops');
        if (!returnSequences) {
          // The inference kernel (last hour only) gives the training kernel's last h exactly.
          lstmFastOptions.forward = 'fused';
          const trained = lstmSequence(tf, x, kernel, recurrent, bias, false, true, false);
          const inferred = lstmSequence(tf, x, kernel, recurrent, bias, false, true, true);
          assert.deepEqual(inferred.shape, [B, H]);
          assert.equal(maxAbs(tf, trained, inferred), 0, `B ${B} T ${T} H ${H}: WindcastLstmLast differs`);
          tf.dispose([trained, inferred]);
        }
        for (const [i, name] of ['x', 'kernel', 'recurrent', 'bias'].entries()) {
          const scale = tf.tidy(() => tf.max(tf.abs(ops[i]!)).dataSync()[0]!);
          const gap = maxAbs(tf, fused[i]!, ops[i]!);
          // With one hour h_{-1} = 0, so the recurrent kernel's gradient is exactly zero.
          const zeroExpected = name === 'recurrent' && T === 1;
          assert.ok(zeroExpected ? scale === 0 : scale > 0, `B ${B} T ${T} H ${H}: d/d${name} has scale ${scale}`);
          assert.ok(gap <= 1e-5 * Math.max(1, scale), `B ${B} T ${T} H ${H} seq ${returnSequences}: d/d${name} differs by ${gap} (scale ${scale})`);
        }
        tf.dispose([...fused, ...ops]);
      }
      tf.dispose([x, kernel, recurrent, bias]);
    }
  } finally {
    Object.assign(lstmFastOptions, initial);
  }
});

test('the fused kernels refuse inconsistent shapes with an error, not a crash', async (t) => {
  const { tf } = await loadBackend('auto');
  if (tf.getBackend() !== 'tensorflow' || !nativePasses(tf).includes('fused')) {
    t.skip('needs native TensorFlow and the fused kernels (npm run setup:native); CI requires both');
    return;
  }
  const backend = tf.backend() as unknown as { executeMultipleOutputs(n: string, a: unknown[], i: unknown[], k: number): Tensor[] };
  const a = tf.ones([2, 3, 4]);
  const run = (recurrent: Tensor, dh: Tensor) => backend.executeMultipleOutputs('WindcastLstmGrad', [], [a, a, a, a, a, a, recurrent, dh], 1);
  assert.throws(() => run(tf.ones([4, 8]), tf.ones([3, 4])), /recurrent kernel must be \[units, 4 \* units\]/);
  assert.throws(() => run(tf.ones([4, 16]), tf.ones([2, 4])), /dh must be/);
  const ok = run(tf.ones([4, 16]), tf.ones([3, 4]));
  assert.deepEqual(ok[0]!.shape, [2, 3, 16]);
  const forward = (x: Tensor, k: Tensor, r: Tensor, b: Tensor) => backend.executeMultipleOutputs('WindcastLstm', [], [x, k, r, b], 7);
  const x = tf.ones([2, 3, 5]);
  assert.throws(() => forward(x, tf.ones([4, 16]), tf.ones([4, 16]), tf.ones([16])), /kernel must be \[features, 4 \* units\]/);
  assert.throws(() => forward(x, tf.ones([5, 16]), tf.ones([4, 12]), tf.ones([16])), /recurrent kernel must be/);
  assert.throws(() => forward(x, tf.ones([5, 16]), tf.ones([4, 16]), tf.ones([12])), /bias must be \[4 \* units\]/);
  assert.throws(() => forward(tf.ones([6, 5]), tf.ones([5, 16]), tf.ones([4, 16]), tf.ones([16])), /x must be \[hours, batch, features\]/);
  assert.deepEqual(forward(x, tf.ones([5, 16]), tf.ones([4, 16]), tf.ones([16])).map((t) => t.shape), Array(7).fill([2, 3, 4]));
  const last = (xIn: Tensor, r: Tensor) => backend.executeMultipleOutputs('WindcastLstmLast', [], [xIn, tf.ones([5, 16]), r, tf.ones([16])], 1);
  assert.throws(() => last(x, tf.ones([4, 12])), /WindcastLstmLast: recurrent kernel must be/);
  assert.throws(() => last(tf.ones([0, 3, 5]), tf.ones([4, 16])), /WindcastLstmLast: x must have at least one hour/);
  assert.deepEqual(last(x, tf.ones([4, 16]))[0]!.shape, [3, 4]);
});

test('the fast model has the weights of buildModel, trains without leaking tensors and survives a save/load', async () => {
  const { tf } = await loadBackend('auto');
  const spec: ModelSpec = { lookback: 6, nFeatures: 3, horizon: 4, units: 8, layers: 2, dropout: 0, linearSkip: true, seed: 3 };
  const fast = createModel(tf, { ...spec, lstm: 'fast' });
  const reference = buildModel(tf, spec);
  assert.deepEqual(fast.getWeights().map((w) => w.shape), reference.getWeights().map((w) => w.shape));
  reference.dispose();

  const xs = tf.randomNormal([16, spec.lookback, spec.nFeatures], 0, 1, 'float32', 5);
  const ys = tf.randomNormal([16, spec.horizon], 0, 1, 'float32', 6);
  const ws = tf.ones([16]);
  const optimizer = tf.train.adam(1e-2);
  const variables = trainableVariables(fast);
  const step = () => {
    const loss = trainStep(tf, fast, optimizer, { xs, ys, ws, wSum: 16 }, variables);
    const value = loss.dataSync()[0]!;
    loss.dispose();
    return value;
  };
  const first = step(); // creates the optimizer's slots
  const before = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 5; i++) last = step();
  assert.equal(tf.memory().numTensors, before, 'a training step must not leave tensors behind');
  assert.ok(last < first, `loss should fall: ${first} -> ${last}`);

  let saved: { modelTopology: unknown; weightSpecs: unknown; weightData: ArrayBuffer } | undefined;
  await fast.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = { modelTopology: artifacts.modelTopology, weightSpecs: artifacts.weightSpecs, weightData: artifacts.weightData as ArrayBuffer };
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  registerFastLstm(tf);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as never));
  const a = fast.predict(xs) as Tensor;
  const b = loaded.predict(xs) as Tensor;
  assert.ok(maxAbs(tf, a, b) === 0, 'the loaded model predicts exactly what the saved one did');
  tf.dispose([a, b, xs, ys, ws]);
  optimizer.dispose();
  fast.dispose();
  loaded.dispose();
});

test('inferTimeMajor on a time-major batch gives the bytes model.apply gives on the batch-major one (fp32 and bf16)', async () => {
  const { tf } = await loadBackend('auto');
  const fused = loadLstmOps(tf).loaded;
  if (!fused && process.env.WINDCAST_REQUIRE_NATIVE === '1' && tf.getBackend() === 'tensorflow') assert.fail('the fused LSTM kernels must load here');
  const base: ModelSpec = { lookback: 5, nFeatures: 3, horizon: 4, units: 16, layers: 1, dropout: 0, linearSkip: true, seed: 7, lstm: 'fast' };
  const specs: ModelSpec[] = [
    base,
    { ...base, quantiles: [0.1, 0.5, 0.9] },
    { ...base, linearPath: 'full' },
    { ...base, linearSkip: false },
    { ...base, layers: 2 },
  ];
  const layersModel = createModel(tf, { ...base, lstm: 'layers' });
  assert.equal(takesTimeMajor(tf, layersModel), false, 'tf.layers.lstm reads batch-major input');
  layersModel.dispose();
  const precisions = fused && !whyNoBf16(tf) ? (['fp32', 'bf16'] as const) : (['fp32'] as const);
  for (const spec of specs) {
    const model = createModel(tf, spec);
    // Every weight random (the head starts at zero): each path must reach the outputs.
    model.setWeights(model.getWeights().map((w, k) => tf.randomNormal(w.shape, 0, 0.3, 'float32', 100 + k)));
    // Two layers: the first gives every hour's h, batch-major, so the forecast gathers batch-major
    // (inferTimeMajor still runs it, transposing the input back for that layer).
    assert.equal(takesTimeMajor(tf, model), fused && spec.layers === 1, `takesTimeMajor, ${spec.layers} layer(s), fused kernels ${fused ? '' : 'not '}loaded`);
    if (!fused) {
      model.dispose();
      continue;
    }
    for (const precision of precisions) {
      setInferencePrecision(tf, precision);
      for (const count of [1, 37, 100, 1000]) {
        const x = tf.randomNormal([count, spec.lookback, spec.nFeatures], 0, 1, 'float32', count);
        const xT = tf.transpose(x, [1, 0, 2]);
        const before = tf.memory().numTensors;
        const got = tf.tidy(() => inferTimeMajor(tf, model, xT));
        assert.equal(tf.memory().numTensors, before + got.length, 'only the outputs are left');
        const want = [model.apply(x, { training: false }) as Tensor | Tensor[]].flat();
        assert.equal(got.length, want.length);
        for (let k = 0; k < want.length; k++) {
          assert.deepEqual(got[k]!.shape, want[k]!.shape);
          const a = Buffer.from((got[k]!.dataSync() as Float32Array).buffer);
          const b = Buffer.from((want[k]!.dataSync() as Float32Array).buffer);
          assert.ok(a.equals(b), `${JSON.stringify(spec)} ${precision} count ${count} output ${k}: not the same bytes`);
        }
        tf.dispose([x, xT, ...got, ...want]);
      }
    }
    setInferencePrecision(tf, 'fp32');
    model.dispose();
  }
});
