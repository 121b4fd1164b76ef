/**
 * Training speed with the quantile head against the point model (issue 13: at least 90 %):
 * the default `windcast train` on one dataset, with the default quantiles and with
 * `model.quantiles: []`, alternating over rounds in one process. Reports, per round and as
 * medians with the spread: the point epochs' samples/s (the head's forward pass rides along),
 * the whole run's wall time (including the head's fit after the epochs), and the ratios.
 *
 *   npm run build && node dist/bench/quantiles.js --data FILE_OR_GLOB [--rounds 3] [--height 100] [--json FILE]
 *   npm run build && node dist/bench/quantiles.js --steps 200 [--rounds 5]
 *
 * Both runs use the same seed, so they train the same point model for the same epochs and
 * differ only by the head. Beside each run's wall time: its CPU time (both TensorFlow threads)
 * and the head's fit alone (from its first log line to its last), wall and CPU: on a shared
 * machine CPU time moves far less than wall time.
 *
 * --steps N times the fit's Adam step alone instead, on random head inputs of the default
 * shape (4096 windows, 64 units, 24 leads, 7 levels), alternating over rounds between autograd
 * through the layer and weightedPinballLoss (the fit before HeadGradient) and HeadGradient:
 * per step, median wall and CPU ms over the rounds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { schemaDefaults } from '../src/core/config.js';
import { silentProgress } from '../src/core/progress.js';
import { loadDataCube } from '../src/ingest/cube.js';
import { loadBackend, type Tf } from '../src/runtime/backend.js';
import { runTraining } from '../src/train/train.js';
import { median } from './stats.js';
import { HeadGradient, quantileHeadLayer, setQuantileStart, weightedPinballLoss } from '../src/model/quantile-head.js';

type Tensor = ReturnType<Tf['tensor']>;
type Variable = ReturnType<Tf['variable']>;

const { values: opts } = parseArgs({
  options: {
    data: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    height: { type: 'string' },
    json: { type: 'string' },
    steps: { type: 'string' },
  },
});
if (!opts.data && !opts.steps) throw new Error('--data FILE_OR_GLOB (or --steps N) is required');

const { tf, info } = await loadBackend('tensorflow');
if (opts.steps) {
  await benchSteps(Number(opts.steps), Number(opts.rounds));
  process.exit(0);
}
const data = opts.data!;
const base = schemaDefaults();
if (opts.height) base.ingest.targetHeight = Number(opts.height) as 10 | 100;
const cube = await loadDataCube(data, base.ingest, silentProgress);
const spread = (a: number[]) => `${Math.min(...a).toFixed(0)}..${Math.max(...a).toFixed(0)}`;

type Row = {
  variant: string;
  round: number;
  epochs: number;
  epochSamplesPerSecond: number;
  wallSeconds: number;
  cpuSeconds: number;
  /** From the epoch loop's last log line to the end of the run: for the head, its fit and best/ rewritten. */
  tailWallSeconds: number;
  tailCpuSeconds: number;
  load: number;
};
const cpuSeconds = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6;
const rows: Row[] = [];
for (let round = 1; round <= Number(opts.rounds); round++) {
  // Alternate which goes first, so a slow spell of the shared machine hits both.
  const order = round % 2 === 1 ? ['point', 'quantiles'] : ['quantiles', 'point'];
  for (const variant of order) {
    const config = structuredClone(base);
    if (variant === 'point') config.model.quantiles = [];
    const dir = mkdtempSync(join(tmpdir(), 'windcast-bench-quantiles-'));
    const load = loadavg()[0]!;
    const cpu = process.cpuUsage();
    const started = performance.now();
    let epochsEnd = { wall: started, cpu: process.cpuUsage() };
    const out = await runTraining({
      tf,
      backend: info,
      cube,
      dataDir: data,
      runDir: join(dir, 'run'),
      run: 'run',
      config,
      progress: silentProgress,
      log: (line) => {
        if (/^(epoch \d+\/\d+:|early stop:)/.test(line)) epochsEnd = { wall: performance.now(), cpu: process.cpuUsage() };
      },
    });
    const ended = performance.now();
    const row: Row = {
      variant,
      round,
      epochs: out.epochsCompleted,
      epochSamplesPerSecond: out.samplesPerSecond,
      wallSeconds: (ended - started) / 1000,
      cpuSeconds: cpuSeconds(process.cpuUsage(cpu)),
      tailWallSeconds: (ended - epochsEnd.wall) / 1000,
      tailCpuSeconds: cpuSeconds(process.cpuUsage(epochsEnd.cpu)),
      load,
    };
    rmSync(dir, { recursive: true, force: true });
    rows.push(row);
    console.log(
      `round ${round} ${variant.padEnd(9)} ${row.epochs} epochs, ${row.epochSamplesPerSecond.toFixed(0)} samples/s in the epochs, run ${row.wallSeconds.toFixed(1)} s (CPU ${row.cpuSeconds.toFixed(1)} s), ` +
        `after the epochs ${row.tailWallSeconds.toFixed(2)} s (CPU ${row.tailCpuSeconds.toFixed(2)} s), load ${load.toFixed(1)}`,
    );
  }
}
const of = (v: string) => rows.filter((r) => r.variant === v);
const col = (v: string, k: 'epochSamplesPerSecond' | 'wallSeconds' | 'cpuSeconds' | 'tailWallSeconds' | 'tailCpuSeconds') => of(v).map((r) => r[k]);
const pairs = (f: (p: Row, q: Row) => number) => of('point').map((p, i) => f(p, of('quantiles')[i]!));
const pct = (a: number[]) => `${(median(a) * 100).toFixed(1)} % [${(Math.min(...a) * 100).toFixed(1)}..${(Math.max(...a) * 100).toFixed(1)}]`;
const secs = (a: number[], digits = 1) => `${median(a).toFixed(digits)} [${Math.min(...a).toFixed(digits)}..${Math.max(...a).toFixed(digits)}]`;
const loads = rows.map((r) => r.load);
console.log(`\n${info.name} (${info.threads} threads), data ${data}, ${cube.grid.width}x${cube.grid.height} x ${cube.times.length} h, ${opts.rounds} alternating rounds, load average ${Math.min(...loads).toFixed(1)}..${Math.max(...loads).toFixed(1)}`);
console.log(`  epochs' samples/s   point ${median(col('point', 'epochSamplesPerSecond')).toFixed(0)} (${spread(col('point', 'epochSamplesPerSecond'))}), with quantile head ${median(col('quantiles', 'epochSamplesPerSecond')).toFixed(0)} (${spread(col('quantiles', 'epochSamplesPerSecond'))}): ${pct(pairs((p, q) => q.epochSamplesPerSecond / p.epochSamplesPerSecond))}`);
console.log(`  whole run, wall s   point ${secs(col('point', 'wallSeconds'))}, with quantile head and its fit ${secs(col('quantiles', 'wallSeconds'))}: speed ${pct(pairs((p, q) => p.wallSeconds / q.wallSeconds))} of the point run`);
console.log(`  whole run, CPU s    point ${secs(col('point', 'cpuSeconds'))}, with quantile head and its fit ${secs(col('quantiles', 'cpuSeconds'))}: ${pct(pairs((p, q) => p.cpuSeconds / q.cpuSeconds))}`);
console.log(`  after the epochs    point ${secs(col('point', 'tailWallSeconds'), 2)} s (CPU ${secs(col('point', 'tailCpuSeconds'), 2)}), with the head's fit ${secs(col('quantiles', 'tailWallSeconds'), 2)} s (CPU ${secs(col('quantiles', 'tailCpuSeconds'), 2)})`);
if (opts.json) writeFileSync(opts.json, JSON.stringify({ data, rows }, null, 2) + '\n');

/** The head's Adam step, autograd against HeadGradient, on the same random inputs. */
async function benchSteps(steps: number, rounds: number): Promise<void> {
  const n = 4096;
  const units = 64;
  const horizon = 24;
  const levels = schemaDefaults().model.quantiles;
  const head = quantileHeadLayer(tf, { name: 'quantiles', levels, horizon });
  const state = tf.randomNormal([n, units], 0, 1, 'float32', 1);
  const point = tf.randomNormal([n, horizon], 0, 1, 'float32', 2);
  const ys = tf.randomNormal([n, horizon], 0, 1.2, 'float32', 3);
  const ws = tf.randomUniform([n], 0.5, 1.5, 'float32', 4);
  (head.apply([state, point] as never) as unknown as Tensor).dispose();
  setQuantileStart(tf, { getLayer: () => head as never }, levels, new Array<number>(horizon).fill(0.8));
  const [kernel, bias] = (head as unknown as { trainableWeights: { read(): Variable }[] }).trainableWeights.map((w) => w.read()) as [Variable, Variable];
  const time = (run: () => void) => {
    run(); // warm-up
    const cpu = process.cpuUsage();
    const t = performance.now();
    for (let i = 0; i < steps; i++) run();
    const c = process.cpuUsage(cpu);
    return { wall: (performance.now() - t) / steps, cpu: (c.user + c.system) / 1000 / steps };
  };
  const autograd = () => {
    const optimizer = tf.train.adam(3e-3);
    const r = time(() => {
      optimizer.minimize(() => weightedPinballLoss(tf, head.apply([state, point] as never) as unknown as Tensor, ys, ws, levels) as ReturnType<typeof tf.scalar>, false, [kernel, bias]);
      kernel.dataSync();
    });
    optimizer.dispose();
    return r;
  };
  const byHand = () => {
    const optimizer = tf.train.adam(3e-3);
    const gradient = new HeadGradient(tf, levels, new Array<number>(horizon).fill(1));
    const start = HeadGradient.params(tf, kernel, bias);
    const params = tf.variable(start);
    start.dispose();
    const batch = gradient.batch({ state, point, ys, w: ws });
    const r = time(() => {
      const g = gradient.gradient(batch, params);
      optimizer.applyGradients([{ name: params.name, tensor: g }]);
      g.dispose();
      params.dataSync();
    });
    tf.dispose([batch.inputs, batch.shares, batch.excess, params]);
    gradient.dispose();
    optimizer.dispose();
    return r;
  };
  const results: Record<string, { wall: number; cpu: number }[]> = { autograd: [], 'by hand': [] };
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? (['autograd', 'by hand'] as const) : (['by hand', 'autograd'] as const);
    for (const v of order) {
      const r = v === 'autograd' ? autograd() : byHand();
      results[v]!.push(r);
      console.log(`round ${round} ${v.padEnd(8)} ${r.wall.toFixed(2)} ms/step wall, ${r.cpu.toFixed(2)} ms CPU`);
    }
  }
  for (const [v, r] of Object.entries(results)) {
    const wall = r.map((x) => x.wall);
    const cpu = r.map((x) => x.cpu);
    console.log(`${v.padEnd(8)}: ${median(wall).toFixed(2)} ms/step wall [${Math.min(...wall).toFixed(2)}..${Math.max(...wall).toFixed(2)}], ${median(cpu).toFixed(2)} ms CPU [${Math.min(...cpu).toFixed(2)}..${Math.max(...cpu).toFixed(2)}]`);
  }
}
