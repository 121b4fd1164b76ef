/**
 * Inference engines side by side: predict's global forecast (every cell of one issue hour,
 * features gathered on the feature thread one batch ahead, the one inference path) with the
 * network run by tfjs on the native TensorFlow backend (windcast's fused LSTM kernel) and by
 * onnxruntime-node (the exported graph, model/onnx.ts), in alternating rounds in one process,
 * at equal intra-op threads. Reported: median seconds per forecast and the spread (min..max),
 * cells per second, and the largest difference between the two engines' forecasts.
 *
 *   node dist/bench/engines.js --data DIR --model CHECKPOINT [--backend tensorflow|wasm] [--rounds 3]
 *        [--batch-cells 8192] [--quantiles]
 *
 * DIR holds at least the checkpoint's lookback hours on its grid (e.g. `windcast synth --out DIR
 * --hours 24`; /work/benchdata/g720 with /work/benchdata/models/ab on the project's machine).
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadBackend, type BackendName } from '../src/runtime/backend.js';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { listCatalog } from '../src/ingest/catalog.js';
import { inputCatalog, selectInputHours } from '../src/ingest/input-hours.js';
import { buildCube } from '../src/ingest/cube.js';
import { silentProgress } from '../src/core/progress.js';
import { forecastGrid } from '../src/forecast/grid-forecast.js';
import { onnxEngine } from '../src/forecast/onnx-engine.js';
import { median } from './stats.js';

const { values: opts } = parseArgs({
  options: {
    data: { type: 'string' },
    model: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    'batch-cells': { type: 'string', default: '8192' },
    quantiles: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'tensorflow' },
  },
});
if (!opts.data || !opts.model) throw new Error('usage: node dist/bench/engines.js --data DIR --model CHECKPOINT [--rounds N]');

const spread = (a: number[]) => `${Math.min(...a).toFixed(2)}..${Math.max(...a).toFixed(2)}`;

const backend = await loadBackend(opts.backend as BackendName, () => {});
const { tf, info } = backend;
const loaded = await loadCheckpoint(tf, opts.model, 'best');
const catalog = await listCatalog(opts.data, { glob: '*.tif', timePattern: 'auto' });
const { entries } = selectInputHours(catalog, loaded.meta.features.lookback, undefined);
const cube = await buildCube(inputCatalog(catalog, entries), { cache: false, cacheEncoding: 'float32', workers: 0 }, silentProgress);
const cellsInCube = cube.grid.width * cube.grid.height;
if (loaded.stats.mean.length !== cellsInCube) {
  // A checkpoint of another grid (e.g. bench/predict.ts --save-model's coarse one): its network on
  // this grid with uniform statistics. The time per cell is a trained model's; the values mean nothing.
  console.log(`note: ${opts.model} is for ${loaded.stats.mean.length} cells; run on ${cellsInCube} with uniform statistics`);
  loaded.stats = { ...loaded.stats, mean: new Float32Array(cellsInCube).fill(7), std: new Float32Array(cellsInCube).fill(3) };
}
const engine = await onnxEngine(loaded, { threads: info.threads });
const issued = { tf, loaded, cube, t0: loaded.meta.features.lookback - 1, batchCells: Number(opts['batch-cells']) };
const quantiles = opts.quantiles && (loaded.meta.model.quantiles?.length ?? 0) > 0;

console.log(`engines: ${cube.grid.width} x ${cube.grid.height} cells, model ${opts.model} (${loaded.meta.model.units} units, ${loaded.meta.model.layers} layer(s), ${loaded.meta.model.quantiles?.length ?? 0} quantile levels${quantiles ? ', quantiles forecast' : ''}), batch ${issued.batchCells}`);
console.log(`machine: ${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, tfjs ${info.tfjsVersion} on ${info.name}, ${info.threads} intra-op thread(s) for both engines, Node ${process.version}`);
const seconds: Record<'tfjs' | 'onnx', number[]> = { tfjs: [], onnx: [] };
let results: Partial<Record<'tfjs' | 'onnx', Float32Array[]>> = {};
// Warm-up: one round each (first calls allocate and, for ORT, plan the graph).
for (const name of ['tfjs', 'onnx'] as const) {
  const r = await forecastGrid({ ...issued, ...(name === 'onnx' ? { engine } : {}) }, silentProgress, { quantiles });
  results[name] = r.leads;
}
let maxDiff = 0;
for (let j = 0; j < results.tfjs!.length; j++) {
  const a = results.tfjs![j]!;
  const b = results.onnx![j]!;
  for (let i = 0; i < a.length; i++) if (a[i] === a[i]) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
}
results = {};
const rounds = Number(opts.rounds);
for (let k = 0; k < rounds; k++) {
  // Alternate which engine goes first, so drift in the machine's load falls on both.
  const order = k % 2 === 0 ? (['tfjs', 'onnx'] as const) : (['onnx', 'tfjs'] as const);
  for (const name of order) {
    const start = performance.now();
    await forecastGrid({ ...issued, ...(name === 'onnx' ? { engine } : {}) }, silentProgress, { quantiles });
    seconds[name].push((performance.now() - start) / 1000);
  }
}
const cells = cube.grid.width * cube.grid.height;
console.log('| engine | median s | spread s (min..max) | cells/s |');
console.log('| --- | --- | --- | --- |');
for (const name of ['tfjs', 'onnx'] as const) {
  console.log(`| ${name === 'tfjs' ? `tfjs (${info.name})` : 'onnxruntime-node'} | ${median(seconds[name]).toFixed(2)} | ${spread(seconds[name])} | ${Math.round(cells / median(seconds[name])).toLocaleString('en')} |`);
}
console.log(`rounds: tfjs ${seconds.tfjs.map((s) => s.toFixed(2)).join(' / ')}; onnx ${seconds.onnx.map((s) => s.toFixed(2)).join(' / ')}`);
console.log(`max |onnx - tfjs| over the forecast: ${maxDiff.toExponential(2)} m/s`);
await engine.release();
loaded.model.dispose();
