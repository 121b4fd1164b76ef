import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NATIVE_FIX_COMMAND, PROJECT_ROOT, formatBackendLine, loadBackend, probeNativeBackend } from '../src/runtime/backend.js';
import { doctor, formatDoctorResult } from '../src/commands/doctor.js';
import { parseConfig } from '../src/core/config.js';
import { testContext } from '../src/commands/context.js';
import { WindcastError } from '../src/core/errors.js';

/** .ci/run sets this after the strict native set-up: then native TensorFlow must be what 'auto' picks. */
const requireNative = process.env.WINDCAST_REQUIRE_NATIVE === '1';

test('wasm loads from node_modules, computes, and a second call returns the same tf', async () => {
  const lines: string[] = [];
  const first = await loadBackend('wasm', (l) => lines.push(l));
  const second = await loadBackend('wasm');
  assert.equal(first.tf, second.tf);
  assert.equal(first.info.name, 'wasm');
  assert.equal(first.tf.getBackend(), 'wasm');
  assert.equal(first.info.threads, 1);
  assert.match(first.info.library ?? '', /tfjs-backend-wasm.*\.wasm$/);
  assert.ok(first.info.reasonNativeUnavailable, 'a non-native backend always says why');
  assert.deepEqual(Array.from(first.tf.matMul(first.tf.tensor2d([[1, 2]]), first.tf.tensor2d([[3], [4]])).dataSync()), [11]);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^backend: wasm \(tfjs 4\.22\.0, 1 thread\)/);
});

test('cpu can be chosen explicitly and the engine switches to it', async () => {
  const { tf, info } = await loadBackend('cpu');
  assert.equal(info.name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.deepEqual(Array.from(tf.add(tf.tensor1d([1, 2]), 1).dataSync()), [2, 3]);
});

test("'tensorflow' either loads native TensorFlow or fails with the reason and the fix", async () => {
  const probe = await probeNativeBackend();
  if (requireNative) assert.ok(probe.ok, `native TensorFlow must load here: ${probe.reason}`);
  if (probe.ok) {
    const { tf, info } = await loadBackend('tensorflow');
    assert.equal(tf.getBackend(), 'tensorflow');
    assert.match(info.tensorflowVersion ?? '', /^2\.\d+\.\d+/);
    assert.ok(info.threads >= 1);
    assert.equal(info.reasonNativeUnavailable, undefined);
    assert.equal(info.fix, undefined);
    assert.match(info.library ?? '', /libtensorflow/);
    assert.match(formatBackendLine(info), /^backend: tensorflow \(tfjs 4\.22\.0, TensorFlow 2\./);
    const auto = await loadBackend('auto');
    assert.equal(auto.info.name, 'tensorflow');
    assert.equal(auto.tf, tf);
  } else {
    await assert.rejects(loadBackend('tensorflow'), (err: unknown) => {
      assert.ok(err instanceof WindcastError);
      assert.equal(err.kind, 'backend');
      assert.ok(err.message.includes(NATIVE_FIX_COMMAND), err.message);
      assert.ok(err.message.includes(probe.reason!), err.message);
      return true;
    });
  }
});

test('doctor reports the configured backend and, when native is not active, why and the fix', async () => {
  const wasmConfig = parseConfig({ runtime: { backend: 'wasm' } }, 'test');
  const result = await doctor({}, testContext(wasmConfig));
  assert.equal(result.configured, 'wasm');
  assert.equal(result.backend?.name, 'wasm');
  assert.equal(result.native.active, false);
  assert.ok(result.native.reason);
  assert.ok(result.native.fix);
  const text = formatDoctorResult(result);
  assert.match(text, /^backend\s+wasm \(runtime\.backend: wasm\)/m);
  assert.match(text, /^native\s+not active: /m);
  assert.match(text, /^fix\s+\S/m);
  if (result.native.available) {
    // Native loads but the config chose wasm: the fix names the flag and the config key.
    assert.match(text, /^fix\s+pass --backend auto \(or tensorflow\), or set "runtime": \{"backend": "auto"\} in the --config file$/m);
  }

  const auto = await doctor({}, testContext(parseConfig({}, 'test')));
  if (requireNative || auto.native.available) {
    assert.equal(auto.backend?.name, 'tensorflow');
    assert.equal(auto.native.active, true);
    assert.doesNotMatch(formatDoctorResult(auto), /^fix/m);
    // The fused LSTM kernels come with the same set-up: doctor says whether they loaded.
    assert.ok(auto.native.lstmOps, 'doctor reports the LSTM kernels on native');
    if (requireNative) assert.equal(auto.native.lstmOps.loaded, true, auto.native.lstmOps.reason);
    assert.match(formatDoctorResult(auto), /^LSTM kernels\s+(windcast's fused forward and backward kernels|TensorFlow ops \(fused kernels not loaded: .+\))/m);
  } else {
    assert.equal(auto.backend?.name, 'wasm');
    assert.equal(auto.native.fix, NATIVE_FIX_COMMAND);
    assert.ok(formatDoctorResult(auto).includes(NATIVE_FIX_COMMAND));
  }
});

test('set-up without pip: --optional still exits 0 with one line naming the fix; plain mode fails', () => {
  const cache = mkdtempSync(join(tmpdir(), 'windcast-native-'));
  try {
    // --force skips "already loads"; an empty cache and a PATH without python make pip unreachable.
    const env = { HOME: cache, PATH: join(cache, 'no-bin'), WINDCAST_NATIVE_CACHE: cache };
    const script = join(PROJECT_ROOT, 'scripts', 'setup-native.mjs');
    const optional = spawnSync(process.execPath, [script, '--optional', '--force'], { env, encoding: 'utf8' });
    assert.equal(optional.status, 0, optional.stderr);
    const lines = optional.stderr.trim().split('\n');
    assert.equal(lines.length, 1, optional.stderr);
    assert.match(lines[0]!, /native TensorFlow not set up \(.+\); windcast will use wasm\. Enable later: cd .+ && npm run setup:native/);
    const strict = spawnSync(process.execPath, [script, '--force'], { env, encoding: 'utf8' });
    assert.equal(strict.status, 1);
    assert.match(strict.stderr, /failed: /);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
