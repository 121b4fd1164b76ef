/**
 * Backend benchmark: samples/s for training and prediction of windcast's model on the
 * native TensorFlow, wasm and cpu backends, and of the same model in PyTorch and Keras
 * (bench/peers/), with the same thread count, in one run on one machine.
 *
 *   npm run build && node dist/bench/backends.js [--threads 2] [--batch 4096] [--seconds 20]
 *       [--backends tensorflow,wasm,cpu] [--peers torch,torch-compile,keras,keras-xla] [--rounds 3]
 *       [--python PATH] [--lstm layers,fast,fast-fused,fast-fused-split,fast-ops,fast-block] [--profile] [--json FILE]
 *
 * Model: the project's buildModel (src/model/model.ts) with the default config: lookback 24 hours,
 * 18 features per hour (src/prepare/features.ts defaults), LSTM(64), a 24-lead dense head plus the
 * linear path; loss = weighted MSE, Adam. Inputs are random normals (speed does not depend on
 * values). Each backend runs in its own process (thread pools, memory) with
 * TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS = --threads; wasm and cpu are single-threaded
 * in Node whatever is asked (doctor says so), which the table shows.
 * Timing: 2 warm-up steps, then steps until --seconds have passed (at least 3), reported as
 * batch * steps / seconds; cpu, at minutes per step, gets one warm-up and one timed step. --profile adds a per-kernel breakdown of one training step
 * (tf.profile) to find where the time goes. --lstm picks the LSTM: tf.layers.lstm as
 * src/model/model.ts builds it ('layers'), src/model/lstm-fast.ts ('fast': its default backward pass, the
 * fused kernel of native/lstm_ops.cc when built; 'fast-fused', 'fast-ops', 'fast-block' force
 * one: the fused kernel, the same maths as TensorFlow ops, TensorFlow's BlockLSTMGrad), or a
 * list (default layers,fast); list a name twice to alternate runs on a noisy machine.
 * Python peers: python with torch==2.13.0 and tensorflow-cpu==2.21.0 (bench/peers/setup.sh),
 * each in the configuration its users would pick as well as its default: PyTorch eager and
 * torch.compile, Keras with jit_compile off and on (XLA). --rounds alternates every engine
 * over several rounds; the table gives medians with the min..max and every round's figure, and
 * the ratio of each of ours against the best peer by median.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadBackend, type BackendName, type Tf } from '../src/runtime/backend.js';
import { buildModel, createModel, trainStep, trainableVariables, type ModelSpec } from '../src/model/model.js';
import { median } from './stats.js';

type Tensor = ReturnType<Tf['tensor']>;

export interface BenchRow {
  engine: string;
  threads: number;
  trainSamplesPerSec: number;
  predictSamplesPerSec: number;
  trainStepMs: number;
  predictBatchMs: number;
  /** Process CPU time (all threads) per training step and per prediction batch. */
  trainStepCpuMs: number;
  predictBatchCpuMs: number;
  steps: number;
  note?: string;
  profile?: ProfileSummary;
}

interface ProfileSummary {
  wallMs: number;
  kernelCount: number;
  kernelMs: number;
  top: { kernel: string; count: number; ms: number }[];
}

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');

const { values: opts } = parseArgs({
  options: {
    threads: { type: 'string', default: String(availableParallelism()) },
    batch: { type: 'string', default: '4096' },
    seconds: { type: 'string', default: '20' },
    backends: { type: 'string', default: 'tensorflow,wasm,cpu' },
    peers: { type: 'string', default: 'torch,torch-compile,keras,keras-xla' },
    rounds: { type: 'string', default: '3' },
    python: { type: 'string', default: process.env.WINDCAST_BENCH_PYTHON ?? join(process.env.HOME ?? '', '.cache', 'windcast', 'bench-venv', 'bin', 'python') },
    lstm: { type: 'string', default: 'layers,fast' },
    profile: { type: 'boolean', default: false },
    json: { type: 'string' },
    worker: { type: 'string' },
  },
});

const threads = Number(opts.threads);
const batch = Number(opts.batch);
const seconds = Number(opts.seconds);
const spec: ModelSpec = { lookback: 24, nFeatures: 18, horizon: 24, units: 64, layers: 1, dropout: 0, linearSkip: true, seed: 42 };

/**
 * Wall time and process CPU time (user + system, all threads) of the timed steps. On a busy
 * machine wall time depends on the neighbours; CPU time per sample much less so, which makes
 * it the fairer number for comparing engines measured minutes apart.
 */
async function timeLoop(seconds: number, minSteps: number, step: () => Promise<void>, warmUp = 2): Promise<{ steps: number; ms: number; cpuMs: number }> {
  for (let i = 0; i < warmUp; i++) await step();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let steps = 0;
  while (steps < minSteps || performance.now() - t0 < seconds * 1000) {
    await step();
    steps++;
  }
  const c = process.cpuUsage(c0);
  return { steps, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

/** --lstm names: tf.layers.lstm, or src/model/lstm-fast.ts with its default or a named backward pass. */
const FAST_BACKWARD = { fast: 'auto', 'fast-fused': 'fused', 'fast-fused-split': 'fused', 'fast-ops': 'ops', 'fast-block': 'block' } as const;

async function buildBenchModel(tf: Tf) {
  const backward = FAST_BACKWARD[opts.lstm as keyof typeof FAST_BACKWARD];
  if (backward) {
    const { lstmFastOptions } = await import('../src/model/lstm-fast.js');
    lstmFastOptions.backward = backward;
    lstmFastOptions.fusedWeightGrads = opts.lstm !== 'fast-fused-split';
    return createModel(tf, { ...spec, lstm: 'fast' });
  }
  return buildModel(tf, spec);
}

async function worker(name: BackendName): Promise<BenchRow> {
  const { tf, info } = await loadBackend(name);
  const model = await buildBenchModel(tf);
  const xs = tf.randomNormal([batch, spec.lookback, spec.nFeatures]) as Tensor;
  const ys = tf.randomNormal([batch, spec.horizon]) as Tensor;
  const ws = tf.ones([batch]) as Tensor;
  const optimizer = tf.train.adam(3e-3);
  const variables = trainableVariables(model);
  const step = async () => {
    const loss = trainStep(tf, model, optimizer, { xs, ys, ws, wSum: batch }, variables);
    await loss.data();
    loss.dispose();
  };
  // cpu needs minutes per training step at batch 4096: one warm-up and one timed step.
  const minSteps = name === 'cpu' ? 1 : 3;
  const warmUp = name === 'cpu' ? 1 : 2;
  const train = await timeLoop(name === 'cpu' ? 0 : seconds, minSteps, step, warmUp);
  const predict = await timeLoop(name === 'cpu' ? 0 : seconds / 2, minSteps, async () => {
    const out = model.predict(xs, { batchSize: batch }) as Tensor;
    await out.data();
    out.dispose();
  }, warmUp);
  let profile: ProfileSummary | undefined;
  if (opts.profile) {
    const t0 = performance.now();
    const p = await tf.profile(async () => {
      const loss = trainStep(tf, model, optimizer, { xs, ys, ws, wSum: batch }, variables);
      await loss.data();
      loss.dispose();
    });
    const wallMs = performance.now() - t0;
    const byName = new Map<string, { count: number; ms: number }>();
    let kernelMs = 0;
    for (const k of p.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      kernelMs += ms;
      const e = byName.get(k.name) ?? { count: 0, ms: 0 };
      e.count++;
      e.ms += ms;
      byName.set(k.name, e);
    }
    const top = [...byName.entries()].map(([kernel, e]) => ({ kernel, ...e })).sort((a, b) => b.ms - a.ms).slice(0, 12);
    profile = { wallMs, kernelCount: p.kernels.length, kernelMs, top };
  }
  tf.dispose([xs, ys, ws]);
  return {
    engine: `tfjs ${info.name}, ${lstmLabel(opts.lstm!)}`,
    threads: info.threads,
    trainSamplesPerSec: (batch * train.steps) / (train.ms / 1000),
    predictSamplesPerSec: (batch * predict.steps) / (predict.ms / 1000),
    trainStepMs: train.ms / train.steps,
    predictBatchMs: predict.ms / predict.steps,
    trainStepCpuMs: train.cpuMs / train.steps,
    predictBatchCpuMs: predict.cpuMs / predict.steps,
    steps: train.steps,
    ...(profile ? { profile } : {}),
  };
}

function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): BenchRow | { error: string } {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, cwd: ROOT });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    const why = r.error?.message ?? (r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    return { error: `exit ${r.status}: ${why}` };
  }
  return JSON.parse(line) as BenchRow;
}

function lstmLabel(lstm: string): string {
  const labels: Record<string, string> = {
    fast: 'lstm-fast',
    'fast-fused': 'lstm-fast, fused backward kernel',
    'fast-fused-split': 'lstm-fast, fused backward kernel, weight gradients as TensorFlow MatMuls',
    'fast-ops': 'lstm-fast, TensorFlow-ops backward',
    'fast-block': 'lstm-fast, BlockLSTMGrad backward',
  };
  return labels[lstm] ?? 'tf.layers.lstm';
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

/** A peer's name on the command line -> its script and flags (bench/peers/). */
const PEERS: Record<string, { script: string; args: string[] }> = {
  torch: { script: 'torch_lstm.py', args: [] },
  'torch-compile': { script: 'torch_lstm.py', args: ['--compile'] },
  keras: { script: 'keras_lstm.py', args: ['--jit', 'off'] },
  'keras-xla': { script: 'keras_lstm.py', args: ['--jit', 'on'] },
};

interface Engine {
  label: string;
  /** A peer (compared against) or one of ours. */
  peer: boolean;
  run: () => BenchRow | { error: string };
}

/** "median (min..max)" over rounds, and every round's figure, for one column. */
function spread(xs: number[]): string {
  if (xs.length === 1) return fmt(xs[0]!);
  return `${fmt(median(xs))} (${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))})`;
}

async function main(): Promise<void> {
  if (opts.worker) {
    const row = await worker(opts.worker as BackendName);
    process.stdout.write(JSON.stringify(row) + '\n');
    return;
  }
  const env = {
    ...process.env,
    TF_NUM_INTRAOP_THREADS: String(threads),
    TF_NUM_INTEROP_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
    TF_CPP_MIN_LOG_LEVEL: '2',
  };
  const rounds = Number(opts.rounds);
  const loadBefore = loadavg().map((l) => l.toFixed(1)).join(' ');
  const self = fileURLToPath(import.meta.url);
  const engines: Engine[] = [];
  for (const name of opts.backends!.split(',').filter(Boolean)) {
    for (const lstm of opts.lstm!.split(',').filter(Boolean)) {
      // The named backward passes exist on native TensorFlow only; elsewhere they are 'fast'.
      if (name !== 'tensorflow' && lstm.startsWith('fast-')) continue;
      const args = [self, '--worker', name, '--threads', String(threads), '--batch', String(batch), '--seconds', String(seconds), '--lstm', lstm, ...(opts.profile ? ['--profile'] : [])];
      engines.push({ label: `tfjs ${name} ${lstmLabel(lstm)}`, peer: false, run: () => runChild(process.execPath, args, env) });
    }
  }
  for (const peer of opts.peers!.split(',').filter(Boolean)) {
    const known = PEERS[peer];
    if (!known) throw new Error(`unknown peer ${peer} (known: ${Object.keys(PEERS).join(', ')})`);
    const script = join(ROOT, 'bench', 'peers', known.script);
    engines.push({ label: peer, peer: true, run: () => runChild(opts.python!, [script, ...known.args, '--threads', String(threads), '--batch', String(batch), '--seconds', String(seconds)], env) });
  }
  // Rounds alternate the engines, starting each round one engine later, so a slow minute on
  // this shared machine falls on every engine in turn rather than on one.
  const results = engines.map(() => [] as (BenchRow | { error: string })[]);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < engines.length; k++) {
      const i = (k + round) % engines.length;
      process.stderr.write(`bench: round ${round + 1}/${rounds}: ${engines[i]!.label}...\n`);
      results[i]!.push(engines[i]!.run());
    }
  }
  const header = `model: LSTM(${spec.units}) over ${spec.lookback} h x ${spec.nFeatures} features -> ${spec.horizon} leads (+ linear path), batch ${batch}, ${threads} threads requested, ${rounds} alternating round(s) of ${seconds} s training + ${seconds / 2} s prediction per engine; medians (min..max); load average before: ${loadBefore}, after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`;
  const lines = [header, '', '| engine | threads | train samples/s | predict samples/s | train step CPU ms | predict batch CPU ms | train per round | predict per round |', '|---|---:|---:|---:|---:|---:|---|---|'];
  const summary: { label: string; peer: boolean; engine?: string; train: number[]; predict: number[]; rows: BenchRow[]; errors: string[] }[] = [];
  engines.forEach((e, i) => {
    const rows = results[i]!.filter((r): r is BenchRow => !('error' in r));
    const errors = results[i]!.filter((r): r is { error: string } => 'error' in r).map((r) => r.error);
    summary.push({ label: e.label, peer: e.peer, engine: rows[0]?.engine, train: rows.map((r) => r.trainSamplesPerSec), predict: rows.map((r) => r.predictSamplesPerSec), rows, errors });
  });
  for (const s of summary) {
    if (!s.rows.length) {
      lines.push(`| ${s.label} | | failed: ${s.errors[0]} | | | | | |`);
      continue;
    }
    const cpuT = median(s.rows.map((r) => r.trainStepCpuMs));
    const cpuP = median(s.rows.map((r) => r.predictBatchCpuMs));
    lines.push(`| ${s.engine} | ${s.rows[0]!.threads} | ${spread(s.train)} | ${spread(s.predict)} | ${fmt(cpuT)} | ${fmt(cpuP)} | ${s.train.map(fmt).join(' / ')} | ${s.predict.map(fmt).join(' / ')} |${s.errors.length ? ` ${s.errors.length} failed round(s)` : ''}`);
  }
  // Ratios of each of ours against the best peer (by median), for training and for prediction.
  const peers = summary.filter((s) => s.peer && s.rows.length);
  if (peers.length) {
    const bestTrain = peers.reduce((a, b) => (median(b.train) > median(a.train) ? b : a));
    const bestPredict = peers.reduce((a, b) => (median(b.predict) > median(a.predict) ? b : a));
    lines.push('');
    for (const s of summary.filter((x) => !x.peer && x.rows.length)) {
      lines.push(`${s.engine}: training ${(median(s.train) / median(bestTrain.train)).toFixed(2)}x the best peer (${bestTrain.engine}), prediction ${(median(s.predict) / median(bestPredict.predict)).toFixed(2)}x the best peer (${bestPredict.engine})`);
    }
  }
  for (const s of summary) {
    const p = s.rows.find((r) => r.profile)?.profile;
    if (!p) continue;
    lines.push('', `${s.engine}: one training step under tf.profile: ${fmt(p.wallMs)} ms wall, ${p.kernelCount} kernels, ${fmt(p.kernelMs)} ms inside kernels`);
    for (const k of p.top) lines.push(`  ${k.kernel.padEnd(24)} ${String(k.count).padStart(5)} calls ${fmt(k.ms).padStart(9)} ms`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), threads, batch, rounds, spec, engines: summary }, null, 2) + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
