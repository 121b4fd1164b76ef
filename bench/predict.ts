/**
 * Prediction benchmark: a full 24-hour forecast, reading to writing, per backend.
 *
 *   node dist/bench/predict.js --data DIR [--model DIR | --save-model DIR] [--backends tensorflow,wasm]
 *        [--precision fp32,bf16] [--rounds N] [--batch-cells N] [--png] [--multiband] [--no-breakdown]
 *        [--keep-out DIR] [--reference DIR] [--point] [--no-quantile-maps]
 *
 * DIR holds at least 24 hourly GeoTIFFs (e.g. `windcast synth --out DIR --hours 24`, global
 * 0.25 degree). Without --model a timing checkpoint is made: the default model (config
 * defaults: units, layers, rings, LSTM implementation) trained for one tiny epoch on generated
 * hours of a 0.25 degree box, then put on DIR's grid with uniform normalisation statistics. Its weights are
 * real but its forecasts mean nothing; the time per cell is the same as a trained model's.
 * The default model has the quantile head, so predict also writes the quantile GeoTIFFs (24
 * more files of 7 bands); --point makes the timing checkpoint a point model (24 files), the
 * forecast the issue's 6 s goal was set on. --no-quantile-maps runs predict with
 * `predict.quantileMaps: false`: a quantile checkpoint's point forecast alone (24 files).
 *
 * Each backend runs in its own child process, so peak RSS is that run's alone. Reported per run,
 * wall and CPU seconds side by side (CPU: user + system of every thread of the process; on a
 * shared machine wall time swings with the load, CPU time much less): the command's own phases
 * (read, with the model loading beside it; forecast; write), cells per second, peak RSS, how
 * busy the cores were over the whole run (total CPU / (cores x total wall)), and (unless
 * --no-breakdown) where the forecast time goes: gathering features alone on one thread vs the
 * model alone, each over every cell. The forecast phase runs both at once (gathering on a
 * thread one batch ahead) and, beside them, a writer thread encoding the GeoTIFF strips of the
 * rows already final; the line under each run says how many strips were done by the end of the
 * forecast. So the forecast phase's CPU holds most of the GeoTIFF encoding, and the write phase
 * is what is left: the last rows' strips, the files' headers and the (fsynced) writes.
 * --keep-out DIR keeps the first run's files there; --reference DIR compares every run's files
 * byte for byte with DIR's (e.g. the files of `windcast predict` from an earlier checkout), and
 * a GeoTIFF whose bytes differ band by band in its values' bit patterns, so a change is shown
 * to leave the outputs as they were ("identical") or their values ("same values").
 * --precision lists the LSTM's inference precisions to run (runtime.inferencePrecision); with
 * --rounds every backend and precision runs once per round, alternating, so a slow minute on a
 * shared machine falls on each in turn.
 * Target (issue 14): at most 6 s end to end on 2 cores with the native backend.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fromFile } from 'geotiff';
import { loadBackend, type BackendName } from '../src/runtime/backend.js';
import { inputTensor } from '../src/prepare/batches.js';
import { listCatalog } from '../src/ingest/catalog.js';
import { loadCheckpoint, readMeta, writeCheckpoint } from '../src/model/checkpoint.js';
import { predict, type PredictResult } from '../src/commands/predict.js';
import { inputCatalog, selectInputHours } from '../src/ingest/input-hours.js';
import { schemaDefaults } from '../src/core/config.js';
import { testContext } from '../src/commands/context.js';
import { buildCube, type Cube } from '../src/ingest/cube.js';
import { HOUR_MS } from '../src/core/time.js';
import { featureContext, gatherWindow } from '../src/prepare/features.js';
import { inferTimeMajor, takesTimeMajor } from '../src/model/time-major.js';
import { colLon, era5Grid, rowLat, type GridSpec } from '../src/core/grid.js';
import { readRasterHeader } from '../src/ingest/raster.js';
import { runTraining } from '../src/train/train.js';
import { silentProgress } from '../src/core/progress.js';

const { values: opts } = parseArgs({
  options: {
    data: { type: 'string' },
    model: { type: 'string' },
    backends: { type: 'string', default: 'tensorflow' },
    precision: { type: 'string', default: 'fp32' },
    rounds: { type: 'string', default: '1' },
    'batch-cells': { type: 'string' },
    png: { type: 'boolean', default: false },
    multiband: { type: 'boolean', default: false },
    'no-breakdown': { type: 'boolean', default: false },
    child: { type: 'string' },
    out: { type: 'string' },
    'save-model': { type: 'string' },
    point: { type: 'boolean', default: false },
    'no-quantile-maps': { type: 'boolean', default: false },
    'keep-out': { type: 'string' },
    reference: { type: 'string' },
  },
});

function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return Math.round((d.user + d.system) / 1e4) / 100;
}

function seconds(t0: number): number {
  return Math.round((performance.now() - t0) / 10) / 100;
}

/**
 * Generated hours on a 0.25 degree box of 48 x 48 cells (12 degrees): enough for one tiny
 * training epoch, and fine enough that the default model keeps all its inputs (the 0.25, 1 and
 * 4 degree rings: 16 features an hour, as on the global grid; a coarse 10 degree grid kept only
 * one ring, 10 features, and understated the default model's forecast time by about a third).
 */
function timingCube(): Cube {
  const grid: GridSpec = { ...era5Grid(), width: 48, height: 48, lon0: 0, lat0: 60 };
  const n = grid.width * grid.height;
  const hours = 480;
  const speed = new Float32Array(hours * n);
  for (let t = 0; t < hours; t++) {
    for (let r = 0; r < grid.height; r++) {
      for (let c = 0; c < grid.width; c++) {
        const lat = (rowLat(grid, r) * Math.PI) / 180;
        const lon = (colLon(grid, c) * Math.PI) / 180;
        speed[t * n + r * grid.width + c] = 6 + 4 * Math.cos(20 * lat) + 3 * Math.sin(30 * lon - 0.05 * t) + Math.sin((2 * Math.PI * t) / 24);
      }
    }
  }
  return {
    grid,
    times: Float64Array.from({ length: hours }, (_, t) => Date.UTC(2024, 0, 1) + t * HOUR_MS),
    speed,
    source: { files: [], fingerprint: 'bench-predict-timing' },
  };
}

/** The timing checkpoint described in the header, on `grid`. */
async function timingCheckpoint(grid: GridSpec, dir: string): Promise<string> {
  const { tf, info } = await loadBackend('cpu');
  const config = schemaDefaults();
  config.train.epochs = 1;
  config.train.samplesPerEpoch = 512;
  config.train.validationSamples = 256;
  // The quantile head's fit draws its own windows (100,000 by default): on the JavaScript
  // backend that alone takes many minutes, and the timing needs no trained head.
  config.train.quantileSamples = 512;
  // --point: a point model (no quantile head), the model the 6 s goal was set on.
  if (opts.point) config.model.quantiles = [];
  config.train.batchSize = 256;
  config.runtime.backend = 'cpu';
  const trained = join(dir, 'timing-trained');
  await runTraining({ tf, backend: info, cube: timingCube(), dataDir: 'generated', runDir: trained, run: 'bench-timing', config, progress: silentProgress, log: () => {} });
  const loaded = await loadCheckpoint(tf, trained, 'best');
  const cells = grid.width * grid.height;
  const { files: _f, kind: _k, savedAt: _s, ...meta } = loaded.meta;
  const runDir = join(dir, 'model');
  try {
    await writeCheckpoint(tf, runDir, 'best', {
      model: loaded.model,
      stats: { mode: 'cell', mean: new Float32Array(cells).fill(7), std: new Float32Array(cells).fill(3), globalMean: 7, globalStd: 3, meanVariance: 9 },
      meta: { ...meta, run: 'bench-timing', grid, normalization: { ...meta.normalization, cells } },
    });
  } finally {
    loaded.model.dispose();
  }
  return join(runDir, 'best');
}

interface ChildReport {
  backend: string;
  threads: number;
  result: Pick<PredictResult, 'seconds' | 'cpuSeconds' | 'peakRssMiB' | 'cellsForecast' | 'grid' | 'issueTime' | 'files' | 'geoTiffStrips'>;
  breakdown?: { gatherSeconds: number; gatherCpu: number; modelSeconds: number; modelCpu: number; batch: number };
}

/** Child: one predict run on one backend, then (optionally) gather-only and model-only timings. */
async function child(backend: BackendName): Promise<void> {
  const config = schemaDefaults();
  config.runtime.backend = backend;
  config.runtime.inferencePrecision = opts.precision as 'fp32' | 'bf16';
  config.predict.png = opts.png!;
  config.predict.multiband = opts.multiband!;
  if (opts['no-quantile-maps']) config.predict.quantileMaps = false;
  if (opts['batch-cells']) config.predict.batchCells = Number(opts['batch-cells']);
  const out = opts.out!;
  const result = await predict({ model: opts.model!, data: opts.data!, out }, testContext(config));
  const { tf, info } = await loadBackend(backend);
  const report: ChildReport = {
    backend: info.name,
    threads: info.threads,
    result: { seconds: result.seconds, cpuSeconds: result.cpuSeconds, peakRssMiB: result.peakRssMiB, cellsForecast: result.cellsForecast, grid: result.grid, issueTime: result.issueTime, files: result.files, ...(result.geoTiffStrips ? { geoTiffStrips: result.geoTiffStrips } : {}) },
  };
  if (!opts['no-breakdown']) {
    const catalog = await listCatalog(opts.data!, { glob: config.ingest.glob, timePattern: config.ingest.timePattern });
    const meta = readMeta(result.checkpoint);
    const { entries } = selectInputHours(catalog, meta.features.lookback, undefined);
    const cube = await buildCube(inputCatalog(catalog, entries), { cache: false, cacheEncoding: 'float32', workers: 0 }, silentProgress);
    const loaded = await loadCheckpoint(tf, result.checkpoint, 'best');
    const spec = loaded.meta.features;
    const ctx = featureContext(cube, spec, loaded.stats);
    const B = config.predict.batchCells;
    const n = cube.grid.width * cube.grid.height;
    const x = new Float32Array(B * spec.lookback * spec.nFeatures);
    const t0 = spec.lookback - 1;
    // In the layout the forecast gathers (time-major where the model takes it: forecast.ts).
    const timeMajor = takesTimeMajor(tf, loaded.model);
    let t = performance.now();
    let c = process.cpuUsage();
    for (let s = 0; s < n; s += B) {
      const count = Math.min(B, n - s);
      for (let i = 0; i < count; i++) gatherWindow(ctx, t0, s + i, x, i, timeMajor ? count : undefined);
    }
    const gatherSeconds = seconds(t);
    const gatherCpu = cpuSince(c);
    t = performance.now();
    c = process.cpuUsage();
    for (let s = 0; s < n; s += B) {
      const count = Math.min(B, n - s);
      const xs = inputTensor(tf, x, count, spec.lookback, spec.nFeatures, { timeMajor });
      try {
        // A quantile checkpoint gives [point, quantiles]: predict reads both.
        const y = tf.tidy(() => (timeMajor ? inferTimeMajor(tf, loaded.model, xs) : [loaded.model.apply(xs, { training: false }) as ReturnType<typeof tf.tensor> | ReturnType<typeof tf.tensor>[]].flat()));
        for (const out of y) out.dataSync();
        tf.dispose(y);
      } finally {
        xs.dispose();
      }
    }
    const modelSeconds = seconds(t);
    const modelCpu = cpuSince(c);
    loaded.model.dispose();
    report.breakdown = { gatherSeconds, gatherCpu, modelSeconds, modelCpu, batch: B };
  }
  process.stdout.write(`REPORT ${JSON.stringify(report)}\n`);
}

function loadAverage(): string {
  return loadavg().map((x) => x.toFixed(1)).join(' ');
}

/** "identical (N files)" when every file of `reference` is in `out` with the same bytes (and no more), else what differs. */
async function compareOutputs(out: string, reference: string): Promise<string> {
  const want = readdirSync(reference).filter((f) => f.endsWith('.tif') || f.endsWith('.png')).sort();
  const got = readdirSync(out).filter((f) => f.endsWith('.tif') || f.endsWith('.png')).sort();
  const missing = want.filter((f) => !existsSync(join(out, f)));
  const extra = got.filter((f) => !want.includes(f));
  const bytesDiffer = want.filter((f) => existsSync(join(out, f)) && !readFileSync(join(out, f)).equals(readFileSync(join(reference, f))));
  // A GeoTIFF whose bytes differ may still hold the same values (another DEFLATE stream):
  // compare every band's bit patterns.
  const valuesDiffer: string[] = [];
  for (const f of bytesDiffer) if (!f.endsWith('.tif') || !(await sameRasters(join(out, f), join(reference, f)))) valuesDiffer.push(f);
  if (want.length === 0) return `no files in ${reference}`;
  if (missing.length + extra.length + bytesDiffer.length === 0) return `identical (${want.length} files)`;
  if (missing.length + extra.length + valuesDiffer.length === 0) return `same values (${want.length} files; ${bytesDiffer.length} with other bytes)`;
  return `DIFFERENT: ${valuesDiffer.length} differ in values${valuesDiffer.length ? ` (${valuesDiffer[0]} ..)` : ''}, ${missing.length} missing, ${extra.length} extra`;
}

/** Whether two GeoTIFFs hold the same bands, bit for bit. */
async function sameRasters(a: string, b: string): Promise<boolean> {
  const bands = async (path: string) => (await (await fromFile(path)).getImage()).readRasters() as Promise<unknown> as Promise<Float32Array[]>;
  const [x, y] = [await bands(a), await bands(b)];
  if (x.length !== y.length) return false;
  return x.every((band, k) => Buffer.from(band.buffer, band.byteOffset, band.byteLength).equals(Buffer.from(y[k]!.buffer, y[k]!.byteOffset, y[k]!.byteLength)));
}

async function main(): Promise<void> {
  if (!opts.data) {
    process.stderr.write('usage: node dist/bench/predict.js --data DIR [--model DIR] [--backends tensorflow,wasm] [--precision fp32,bf16] [--rounds N] [--batch-cells N] [--png] [--multiband] [--no-breakdown] [--keep-out DIR] [--reference DIR]\n');
    process.exitCode = 2;
    return;
  }
  if (opts.child) {
    await child(opts.child as BackendName);
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), 'windcast-bench-predict-'));
  try {
    let model = opts.model;
    if (!model) {
      const catalog = await listCatalog(opts.data, { glob: '*.tif', timePattern: 'auto' });
      const header = await readRasterHeader(catalog.entries[catalog.entries.length - 1]!.path);
      const t = performance.now();
      model = await timingCheckpoint(header.grid, opts['save-model'] ?? scratch);
      console.log(`timing checkpoint (default model, untrained-quality weights) on ${header.grid.width}x${header.grid.height}: ${seconds(t)} s`);
    }
    console.log(`machine: ${availableParallelism()} cores; data ${opts.data}; model ${model}; load average before ${loadAverage()}`);
    console.log('seconds, wall / CPU (CPU: every thread of the process). read: decoding the input hours, the model loading beside it;');
    console.log('forecast: features gathered on a thread one batch ahead of the model, the GeoTIFF strips of final rows encoded on a writer thread beside it;');
    console.log('write: the strips left, headers, writes. busy: total CPU / (cores x total wall). gather-only and model-only: each alone over every cell, in the forecast layout.');
    console.log(`${'backend precision'.padEnd(19)} ${'read'.padStart(11)} ${'forecast'.padStart(11)} ${'write'.padStart(11)} ${'total'.padStart(11)}  ${'cells/s'.padStart(8)} ${'peak RSS'.padStart(9)} ${'busy'.padStart(5)}  ${'gather-only'.padStart(11)} ${'model-only'.padStart(11)}  load after  outputs`);
    const runs = opts.backends!.split(',').flatMap((backend) => opts.precision!.split(',').map((precision) => ({ backend, precision })));
    let kept = false;
    for (let round = 0; round < Number(opts.rounds); round++) for (const { backend, precision } of runs) {
      const out = join(scratch, `out-${backend}-${precision}`);
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out, { recursive: true });
      const args = [fileURLToPath(import.meta.url), '--child', backend, '--precision', precision, '--data', opts.data, '--model', model, '--out', out];
      if (opts['batch-cells']) args.push('--batch-cells', opts['batch-cells']);
      if (opts.png) args.push('--png');
      if (opts.multiband) args.push('--multiband');
      if (opts['no-breakdown']) args.push('--no-breakdown');
      if (opts['no-quantile-maps']) args.push('--no-quantile-maps');
      const run = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
      const line = run.stdout.split('\n').find((l) => l.startsWith('REPORT '));
      if (!line) {
        console.log(`${backend.padEnd(11)} failed (exit ${run.status}): ${run.stderr.split('\n').filter((l) => l && !/^I0000|^WARNING/.test(l)).slice(-3).join(' | ')}`);
        continue;
      }
      const r = JSON.parse(line.slice(7)) as ChildReport;
      const s = r.result.seconds;
      const c = r.result.cpuSeconds;
      const rate = Math.round(r.result.cellsForecast / Math.max(1e-9, s.forecast));
      const b = r.breakdown;
      const pair = (wall: number, cpu: number) => `${wall.toFixed(1)} / ${cpu.toFixed(1)}`.padStart(11);
      const outputs = opts.reference ? await compareOutputs(out, opts.reference) : '';
      console.log(
        `${`${r.backend} ${precision} x${r.threads}`.padEnd(19)} ${pair(s.read, c.read)} ${pair(s.forecast, c.forecast)} ${pair(s.write, c.write)} ${pair(s.total, c.total)}  ${String(rate).padStart(8)} ${`${r.result.peakRssMiB} MiB`.padStart(9)} ${`${Math.round((100 * c.total) / (availableParallelism() * s.total))}%`.padStart(5)}` +
          `  ${b ? `${pair(b.gatherSeconds, b.gatherCpu)} ${pair(b.modelSeconds, b.modelCpu)}` : `${'-'.padStart(11)} ${'-'.padStart(11)}`}  ${loadAverage().padEnd(10)}  ${outputs}`,
      );
      const strips = r.result.geoTiffStrips;
      if (strips) console.log(`    overlap: ${strips.early} of ${strips.encoded} GeoTIFF strips encoded during the forecast (writer tasks ${strips.threadSeconds.toFixed(1)} s wall, summed); write = the rest, the files' headers and the writes`);
      console.log(`    (model load ${s.load.toFixed(1)} s wall, inside read; batch ${b?.batch ?? opts['batch-cells'] ?? schemaDefaults().predict.batchCells} cells, ${r.result.cellsForecast} cells, ${r.result.files.length} files, issue ${r.result.issueTime}, ${r.result.grid})`);
      if (opts['keep-out'] && !kept) {
        cpSync(out, opts['keep-out'], { recursive: true });
        kept = true;
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
