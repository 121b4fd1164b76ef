/**
 * windcast's fused LSTM kernels (native/lstm_ops.cc via src/runtime/lstm-kernels.ts): when a
 * build may be used, and that what the kernels compute is what autodiff computes.
 *
 * The kernels split the batch into blocks of 128 rows (kRows) and hand the blocks to
 * threadCount() threads, which native/lstm_ops.cc takes, once per process, from
 * TF_NUM_INTRAOP_THREADS (else one per core), the variable TensorFlow's own intra-op pool reads.
 * This file sets it to 2 before the backend loads (node --test runs each file in its own
 * process), so batches of more than 128 rows run on two threads on any machine.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadBackend, type Tf } from '../src/runtime/backend.js';
import { LSTM_OPS_SOURCE, checkLstmOpsBuild, loadLstmOps, releaseLstmBuffers, whyNotLoaded, type LstmOpsRecord } from '../src/runtime/lstm-kernels.js';
import { loopLstm, lstmFastOptions, lstmSequence, setInferencePrecision, whyNoBf16 } from '../src/model/lstm-fast.js';

type Tensor = ReturnType<Tf['tensor']>;

// Before loadBackend: the imports above load no TensorFlow, and the kernels read it once.
process.env.TF_NUM_INTRAOP_THREADS = '2';

/** Whether the fused kernels loaded; if not, the test fails under WINDCAST_REQUIRE_NATIVE=1 (CI) and is skipped elsewhere. */
function kernelsLoaded(tf: Tf, t: TestContext): boolean {
  const ops = loadLstmOps(tf);
  if (ops.loaded) return true;
  if (process.env.WINDCAST_REQUIRE_NATIVE === '1') assert.fail(`WINDCAST_REQUIRE_NATIVE=1 but the fused LSTM kernels did not load: ${whyNotLoaded(ops)}`);
  t.skip(`the fused LSTM kernels are not loaded (${whyNotLoaded(ops)}); CI requires them`);
  return false;
}

test('a fused-kernel build is used only when it exists, matches native/lstm_ops.cc and this CPU', () => {
  const dir = mkdtempSync(join(tmpdir(), 'windcast-ops-'));
  try {
    const library = join(dir, 'windcast_lstm_ops.node');
    const recordFile = join(dir, 'windcast_lstm_ops.json');
    assert.match(checkLstmOpsBuild(library, recordFile) ?? '', /^not built/);
    writeFileSync(library, 'not really a library');
    const current = createHash('sha256').update(readFileSync(LSTM_OPS_SOURCE)).digest('hex');
    const record = (r: Partial<LstmOpsRecord>) => writeFileSync(recordFile, JSON.stringify({ sourceSha256: current, cpuFlags: [], ...r }));
    record({});
    assert.equal(checkLstmOpsBuild(library, recordFile), undefined);
    // After a git pull that changed the kernel source, the old build must not run.
    record({ sourceSha256: '0'.repeat(64) });
    assert.match(checkLstmOpsBuild(library, recordFile) ?? '', /built from an older .*lstm_ops\.cc/);
    // Copied to a machine without the instructions it was compiled for: refused, not SIGILL.
    record({ cpuFlags: ['no_such_cpu_flag'] });
    assert.match(checkLstmOpsBuild(library, recordFile) ?? '', /built for a CPU with no_such_cpu_flag, which this one lacks/);
    writeFileSync(recordFile, '{ not json');
    assert.match(checkLstmOpsBuild(library, recordFile) ?? '', /unreadable/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fused kernel gradients equal autodiff through the op loop: batches of 1, 127, 129 and 300 rows, two threads', async (t) => {
  const { tf, info } = await loadBackend('auto');
  if (!kernelsLoaded(tf, t)) return;
  assert.equal(info.threads, 2, 'TF_NUM_INTRAOP_THREADS=2 reached native TensorFlow');
  const initial = { ...lstmFastOptions };
  try {
    lstmFastOptions.forward = 'fused';
    lstmFastOptions.backward = 'fused';
    // 1 and 127: one partial block (one thread); 129: a full block and a 1-row one, one per
    // thread; 300: two full blocks and a partial one shared by the two threads. 7 units: no
    // SIMD multiple; 5 hours: the recurrence runs.
    const T = 5, F = 3, H = 7;
    for (const B of [1, 127, 129, 300]) {
      const inputs = [
        tf.randomNormal([B, T, F], 0, 1, 'float32', 21),
        tf.randomNormal([F, 4 * H], 0, 0.5, 'float32', 22),
        tf.randomNormal([H, 4 * H], 0, 0.5, 'float32', 23),
        tf.randomNormal([4 * H], 0, 0.5, 'float32', 24),
      ];
      for (const returnSequences of [false, true]) {
        const shape = returnSequences ? [B, T, H] : [B, H];
        // A fixed random projection of the output: every output element gets its own gradient.
        const projection = tf.randomNormal(shape, 0, 1, 'float32', 25);
        type Forward = (x: Tensor, k: Tensor, r: Tensor, b: Tensor) => Tensor;
        const loss = (forward: Forward) => (x: Tensor, k: Tensor, r: Tensor, b: Tensor) => tf.sum(tf.mul(forward(x, k, r, b), projection));
        const viaKernels: Forward = (x, k, r, b) => lstmSequence(tf, x, k, r, b, returnSequences, true);
        const viaOps: Forward = (x, k, r, b) => loopLstm(tf, x, k, r, b, returnSequences);
        const fused = tf.grads(loss(viaKernels))(inputs);
        const autodiff = tf.grads(loss(viaOps))(inputs);
        const [x, k, r, b] = inputs as [Tensor, Tensor, Tensor, Tensor];
        const outputs = [viaKernels(x, k, r, b), viaOps(x, k, r, b)];
        const pairs: Array<[string, Tensor, Tensor]> = [
          ['output', outputs[0]!, outputs[1]!],
          ...['x', 'kernel', 'recurrent kernel', 'bias'].map((name, i) => [`d/d${name}`, fused[i]!, autodiff[i]!] as [string, Tensor, Tensor]),
        ];
        for (const [name, got, want] of pairs) {
          const [scale, gap] = tf.tidy(() => [tf.max(tf.abs(want)).dataSync()[0]!, tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]!]);
          assert.ok(scale! > 0, `B ${B}, sequences ${returnSequences}: ${name} is all zero, nothing compared`);
          // Float32 sums over up to 300 rows x 5 hours in another order: the gaps measured are
          // up to 1.1e-6 of the largest element; a row or block handled wrongly is off by O(1).
          assert.ok(gap! <= 1e-5 * Math.max(1, scale!), `B ${B}, sequences ${returnSequences}: ${name} differs by ${gap} (largest ${scale})`);
        }
        tf.dispose([projection, ...fused, ...autodiff, ...outputs]);
      }
      tf.dispose(inputs);
    }
  } finally {
    Object.assign(lstmFastOptions, initial);
  }
});

test('inference kernels (register tiles in fp32, and bf16 products) match the op loop over partial tiles, blocks and odd features', async (t) => {
  const { tf } = await loadBackend('auto');
  if (!kernelsLoaded(tf, t)) return;
  const initial = { ...lstmFastOptions };
  const bf16 = whyNoBf16(tf) === undefined;
  try {
    lstmFastOptions.forward = 'fused';
    // 64, 32 and 16 units: the register tiles (units a multiple of 16 in AVX-512 builds, of 8
    // in AVX2 builds); 8: tiles in AVX2 builds only; 12: the Eigen path. Rows 1, 5, 7, 131 and
    // 300: partial tiles (6 rows on AVX-512, 3 on AVX2) and 128-row blocks on two threads. 18
    // and 7 features: bf16 pairs the inputs, 7 needs its zero pad. 1 hour: h = 0.
    const cases = [
      { B: 300, T: 24, F: 18, H: 64 }, { B: 131, T: 5, F: 7, H: 32 }, { B: 5, T: 1, F: 7, H: 64 },
      { B: 1, T: 3, F: 2, H: 16 }, { B: 129, T: 4, F: 5, H: 12 }, { B: 7, T: 2, F: 3, H: 8 },
    ];
    for (const [n, { B, T, F, H }] of cases.entries()) {
      const [x, k, r, b] = [
        tf.randomNormal([B, T, F], 0, 1, 'float32', 31 + n),
        tf.randomNormal([F, 4 * H], 0, 0.4, 'float32', 41 + n),
        tf.randomNormal([H, 4 * H], 0, 0.2, 'float32', 51 + n),
        tf.randomNormal([4 * H], 0, 0.3, 'float32', 61 + n),
      ] as [Tensor, Tensor, Tensor, Tensor];
      const want = loopLstm(tf, x, k, r, b, false);
      const gaps = (got: Tensor) => tf.tidy(() => {
        const d = tf.abs(tf.sub(got, want));
        return [tf.max(d).dataSync()[0]!, tf.mean(d).dataSync()[0]!];
      });
      setInferencePrecision(tf, 'fp32');
      const fp32 = lstmSequence(tf, x, k, r, b, false, false, true);
      const [maxFp32] = gaps(fp32);
      // Another summation order in float32: measured up to 4.1e-7 on h in [-1, 1].
      assert.ok(maxFp32! <= 1e-5, `${JSON.stringify({ B, T, F, H })}: fp32 inference differs by ${maxFp32}`);
      const toDispose = [x, k, r, b, want, fp32];
      if (bf16 && H % 16 === 0) {
        setInferencePrecision(tf, 'bf16');
        const half = lstmSequence(tf, x, k, r, b, false, false, true);
        toDispose.push(half);
        const [maxBf16, meanBf16] = gaps(half);
        // bfloat16 keeps 8 significant bits: products off by up to 2^-8 relative, summed in fp32.
        // Measured on 300 x 24 h x 64 units: largest gap 0.013, mean 5e-4; a wrong pairing or
        // pad is off by O(0.1) on average.
        assert.ok(maxBf16! <= 0.05 && meanBf16! <= 3e-3, `${JSON.stringify({ B, T, F, H })}: bf16 inference differs by up to ${maxBf16}, ${meanBf16} on average`);
        assert.ok(maxBf16! > 0, 'bf16 gave exactly the fp32 results: the bf16 kernel did not run');
      }
      tf.dispose(toDispose);
    }
    if (!bf16) assert.throws(() => setInferencePrecision(tf, 'bf16'), /bf16 inference is not available/);
  } finally {
    Object.assign(lstmFastOptions, initial);
  }
});

test('weight gradients summed inside the backward kernel (first layer, no input gradient) equal autodiff and the split path', async (t) => {
  const { tf } = await loadBackend('auto');
  if (!kernelsLoaded(tf, t)) return;
  const initial = { ...lstmFastOptions };
  try {
    lstmFastOptions.forward = 'fused';
    lstmFastOptions.backward = 'fused';
    // Blocks of 128 rows summed in block order: 1 row, a partial block, three blocks on two
    // threads; 7 and 64 units; 1 hour (h_{-1} = 0: no recurrent gradient) and 24.
    for (const [B, T, F, H] of [[1, 3, 2, 7], [127, 1, 3, 16], [300, 24, 18, 64], [129, 5, 5, 7]] as const) {
      const inputs = [
        tf.randomNormal([B, T, F], 0, 1, 'float32', 71),
        tf.randomNormal([F, 4 * H], 0, 0.4, 'float32', 72),
        tf.randomNormal([H, 4 * H], 0, 0.3, 'float32', 73),
        tf.randomNormal([4 * H], 0, 0.3, 'float32', 74),
      ] as [Tensor, Tensor, Tensor, Tensor];
      const projection = tf.randomNormal([B, H], 0, 1, 'float32', 75);
      const gradsOf = (forward: (k: Tensor, r: Tensor, b: Tensor) => Tensor) =>
        tf.grads((k: Tensor, r: Tensor, b: Tensor) => tf.sum(tf.mul(forward(k, r, b), projection)))(inputs.slice(1));
      lstmFastOptions.fusedWeightGrads = true;
      const inKernel = gradsOf((k, r, b) => lstmSequence(tf, inputs[0], k, r, b, false, false));
      lstmFastOptions.fusedWeightGrads = false;
      const split = gradsOf((k, r, b) => lstmSequence(tf, inputs[0], k, r, b, false, false));
      const autodiff = gradsOf((k, r, b) => loopLstm(tf, inputs[0], k, r, b, false));
      for (const [i, name] of ['kernel', 'recurrent', 'bias'].entries()) {
        const scale = tf.tidy(() => tf.max(tf.abs(autodiff[i]!)).dataSync()[0]!);
        assert.ok(name === 'recurrent' && T === 1 ? scale === 0 : scale > 0, `B ${B} T ${T}: d/d${name} has scale ${scale}`);
        for (const [label, got] of [['in the kernel', inKernel[i]!], ['split', split[i]!]] as const) {
          const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(got, autodiff[i]!))).dataSync()[0]!);
          assert.ok(gap <= 1e-5 * Math.max(1, scale), `B ${B} T ${T} H ${H}: d/d${name} ${label} differs by ${gap} (scale ${scale})`);
        }
      }
      tf.dispose([...inputs, projection, ...inKernel, ...split, ...autodiff]);
    }
  } finally {
    Object.assign(lstmFastOptions, initial);
  }
});

test('the kernels reuse their output buffers (also for smaller outputs) until releaseLstmBuffers frees them; outputs stay the same', async (t) => {
  const { tf } = await loadBackend('auto');
  if (!kernelsLoaded(tf, t)) return;
  const backend = tf.backend() as unknown as { executeMultipleOutputs(name: string, attrs: unknown[], inputs: unknown[], n: number): Tensor[] };
  const [T, F, H] = [6, 5, 24];
  const weights = [tf.randomNormal([F, 4 * H], 0, 0.4, 'float32', 82), tf.randomNormal([H, 4 * H], 0, 0.3, 'float32', 83), tf.randomNormal([4 * H], 0, 0.3, 'float32', 84)];
  const xs = { big: tf.randomNormal([T, 200, F], 0, 1, 'float32', 81), small: tf.randomNormal([T, 60, F], 0, 1, 'float32', 85) };
  // WindcastLstm's 7 outputs [T, B, H]: the values, the outputs freed (back to the pool).
  const forward = (x: Tensor) => {
    const outs = backend.executeMultipleOutputs('WindcastLstm', [], [x, ...weights], 7);
    const values = outs.map((o) => Array.from(o.dataSync()));
    tf.dispose(outs);
    return values;
  };
  const outputMiB = (rows: number) => (7 * T * rows * H * 4) / 2 ** 20;
  try {
    // Earlier tests in this process may have left buffers of other sizes.
    releaseLstmBuffers(tf);
    assert.equal(releaseLstmBuffers(tf), 0, 'nothing left to free');
    const smallFresh = forward(xs.small);
    assert.ok(Math.abs(releaseLstmBuffers(tf) - outputMiB(60)) < 1e-6, 'the small outputs were kept');
    const big = forward(xs.big);
    // The small batch (a short last batch) runs in the big one's buffers, which hold other values.
    const smallReused = forward(xs.small);
    assert.ok(Math.abs(releaseLstmBuffers(tf) - outputMiB(200)) < 1e-6, 'only the big buffers were allocated');
    assert.deepEqual(smallReused, smallFresh);
    // Fresh buffers after the release: the same values.
    assert.deepEqual(forward(xs.big), big);
    releaseLstmBuffers(tf);
  } finally {
    tf.dispose([...weights, xs.big, xs.small]);
  }
});
