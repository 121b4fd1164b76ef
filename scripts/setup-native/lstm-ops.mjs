/**
 * Step 6 of scripts/setup-native.mjs: windcast's fused LSTM kernels (native/lstm_ops.cc, against
 * TensorFlow's C kernel API and the wheel's Eigen) compiled for this CPU's instruction level,
 * cached per (source, wheel, level), linked into tfjs-node's deps/lib and checked in a child
 * process. src/runtime/lstm-kernels.ts loads them and refuses a stale build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENABLE_LATER, ROOT, SetupError, WHEEL, cacheRoot, force, linkOrCopy, logFile, optional, readJson, run, say, sha256 } from './shared.mjs';

const LSTM_OPS_SOURCE = join(ROOT, 'native', 'lstm_ops.cc');
// The names src/runtime/lstm-kernels.ts looks for in tfjs-node's deps/lib.
const LSTM_OPS_LIBRARY = 'windcast_lstm_ops.node';
const LSTM_OPS_RECORD = 'windcast_lstm_ops.json';

/**
 * The instruction level to compile the kernels for, and the /proc/cpuinfo flags it needs (the
 * x86-64 psABI levels). Not -march=native: the build is cached and may be copied with
 * node_modules; src/runtime/lstm-kernels.ts checks the flags before loading, since SIGILL cannot be caught.
 */
function instructionLevel() {
  let flags = new Set();
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    flags = new Set((line?.split(':')[1] ?? '').trim().split(/\s+/));
  } catch {}
  const v3 = ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave', 'sse4_2', 'popcnt', 'ssse3'];
  const levels = [
    // v4: AVX-512 (F, BW, CD, DQ, VL) on top of v3. Where the cores run 512-bit vectors at full
    // width (AMD Zen 5, recent Xeons), the kernels do twice v3's work per cycle.
    ['x86-64-v4', ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl', ...v3]],
    ['x86-64-v3', v3],
    ['x86-64-v2', ['sse4_2', 'sse4_1', 'ssse3', 'popcnt', 'cx16']],
  ];
  for (const [march, needs] of levels) if (needs.every((f) => flags.has(f))) return { march, cpuFlags: needs };
  return { march: 'x86-64', cpuFlags: [] };
}

/** Compile native/lstm_ops.cc once per (source, wheel, instruction level) into the cache. */
async function ensureLstmOps(tfLibDir) {
  const sourceSha256 = await sha256(LSTM_OPS_SOURCE);
  const { march, cpuFlags } = instructionLevel();
  const key = `lstm-ops-${sourceSha256.slice(0, 12)}-tensorflow-cpu-${WHEEL.version}-${march}`;
  const dest = join(cacheRoot, key);
  if (!force && existsSync(join(dest, LSTM_OPS_RECORD))) return dest;
  if (spawnSync('g++', ['--version']).status !== 0) throw new SetupError('g++ is not installed (apt-get install build-essential)');
  const stage = mkdtempSync(join(cacheRoot, 'stage-ops-'));
  try {
    say(`compiling windcast's fused LSTM kernels (native/lstm_ops.cc, -march=${march}; a few seconds, once)`);
    // -DNDEBUG: Eigen's bounds assertions off. rpath $ORIGIN: the library sits beside
    // libtensorflow_framework.so.2 in deps/lib, already loaded by tfjs-node when we load.
    run('g++', ['-O3', `-march=${march}`, '-std=c++17', '-DNDEBUG', '-DEIGEN_MAX_ALIGN_BYTES=64', '-shared', '-fPIC',
      '-fvisibility=hidden', '-Wall', '-I', join(tfLibDir, 'include'), LSTM_OPS_SOURCE, '-o', join(stage, LSTM_OPS_LIBRARY),
      '-L', join(tfLibDir, 'lib'), '-l:libtensorflow_framework.so.2', '-Wl,-rpath,$ORIGIN'], { what: 'g++ native/lstm_ops.cc' });
    const compiler = spawnSync('g++', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
    writeFileSync(join(stage, LSTM_OPS_RECORD), JSON.stringify({ sourceSha256, cpuFlags, march, compiler, builtAt: new Date().toISOString() }, null, 2) + '\n');
    rmSync(dest, { recursive: true, force: true });
    try {
      renameSync(stage, dest);
    } catch (err) {
      if (!existsSync(join(dest, LSTM_OPS_RECORD))) throw err;
    }
    return dest;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Check in a fresh process that the kernels register and compute (see src/runtime/lstm-kernels.ts). */
function verifyLstmOps(tfjsNodeDir) {
  const probe = `
    const tf = require('@tensorflow/tfjs-node');
    require(${JSON.stringify(join(tfjsNodeDir, 'deps', 'lib', LSTM_OPS_LIBRARY))});
    const run = (op, inputs, n) => tf.backend().executeMultipleOutputs(op, [], inputs, n);
    const gate = run('WindcastLstm', [tf.ones([1, 1, 1]), tf.zeros([1, 4]), tf.zeros([1, 4]), tf.zeros([4])], 7)[0].dataSync()[0];
    if (Math.abs(gate - 0.5) > 1e-6) throw new Error('WindcastLstm: wrong result ' + gate);
    const a = tf.fill([1, 1, 1], 0.5);
    const g = run('WindcastLstmGrad', [a, a, a, a, a, a, tf.ones([1, 4]), tf.ones([1, 1])], 1)[0].dataSync();
    if (Math.abs(g[3] - 0.125) > 1e-6) throw new Error('WindcastLstmGrad: wrong result ' + Array.from(g));`;
  const result = run(process.execPath, ['-e', probe], {
    env: { ...process.env, LD_BIND_NOW: '1', TF_CPP_MIN_LOG_LEVEL: '2' },
    allowFail: true,
    what: 'loading the fused LSTM kernels',
  });
  if (result.status !== 0) {
    const message = (result.stderr || '').split('\n').find((l) => /Error|error:|undefined symbol|cannot open|not registered/.test(l)) ?? `exit ${result.status}`;
    throw new SetupError(`the fused LSTM kernels do not load: ${message.trim()}`);
  }
}

/**
 * Build (or take from the cache) the fused kernels and put them beside libtensorflow. They are a
 * speed-up on top of native TensorFlow: without them training uses TensorFlow ops (slower).
 */
async function installLstmOps(tfjsNodeDir, tfLibDir) {
  const opsDir = await ensureLstmOps(tfLibDir);
  for (const name of [LSTM_OPS_LIBRARY, LSTM_OPS_RECORD]) linkOrCopy(join(opsDir, name), join(tfjsNodeDir, 'deps', 'lib', name));
  verifyLstmOps(tfjsNodeDir);
}

/**
 * installLstmOps, but with --optional a failure is one line and native TensorFlow stays set up
 * (the kernels are a speed-up on top of it); without, it fails the set-up.
 */
export async function setUpLstmOps(tfjsNodeDir, tfLibDir) {
  try {
    await installLstmOps(tfjsNodeDir, tfLibDir);
    return true;
  } catch (err) {
    if (!optional) throw err;
    const message = err instanceof SetupError ? err.message : String(err);
    say(`the fused LSTM kernels were not built (${message.split('\n')[0]}); native training uses TensorFlow ops, about 1.7x slower. Retry: ${ENABLE_LATER} (log: ${logFile})`);
    return false;
  }
}

/** Whether deps/lib holds fused kernels built from the current source for this CPU's instruction level. */
export async function lstmOpsCurrent(tfjsNodeDir) {
  const record = join(tfjsNodeDir, 'deps', 'lib', LSTM_OPS_RECORD);
  if (!existsSync(record) || !existsSync(join(tfjsNodeDir, 'deps', 'lib', LSTM_OPS_LIBRARY))) return false;
  try {
    const built = readJson(record);
    return built.sourceSha256 === (await sha256(LSTM_OPS_SOURCE)) && built.march === instructionLevel().march;
  } catch {
    return false;
  }
}
