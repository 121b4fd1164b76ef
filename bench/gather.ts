/**
 * Window gathering alone, uniform against block sampling (issue 14): the cube read once (in
 * memory, or on disk with --budget), then an epoch's windows of each sampler gathered with
 * fillBatch in batches of 4096 on this thread, samplers alternating over rounds. Reports per
 * sampler the median [min..max] windows per second of wall time and of this thread's CPU time
 * (process.cpuUsage): on a shared machine the CPU figure is the one the other engineers' load
 * disturbs least, since a gather that waits on memory is charged the wait.
 *
 *   npm run build && node dist/bench/gather.js --data DIR [--rounds 3] [--windows 300000] [--budget SIZE]
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { schemaDefaults } from '../src/core/config.js';
import { silentProgress } from '../src/core/progress.js';
import { memoryBudget, openCellCube } from '../src/ingest/cell-cube.js';
import { BatchBuffers, fillBatch } from '../src/prepare/batches.js';
import { cellFeatureContext, distinctRings, featureSpec, windowValid } from '../src/prepare/features.js';
import { computeStats } from '../src/prepare/normalize.js';
import { splitHours } from '../src/prepare/split.js';
import { blockSampling, periodAnchors, sampleWindows } from '../src/prepare/windows.js';
import { median } from './stats.js';

const { values: opts } = parseArgs({
  options: {
    data: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    windows: { type: 'string', default: '300000' },
    budget: { type: 'string' },
  },
});
if (!opts.data) throw new Error('--data DIR is required (a folder of hourly GeoTIFFs with its cube cache)');
const config = schemaDefaults();
const cube = await openCellCube(resolve(opts.data), config.ingest, silentProgress, { budget: memoryBudget(opts.budget ?? null) });
const split = splitHours({ hours: cube.times.length, lookback: config.model.lookback, horizon: config.model.horizon, fractions: config.train.split });
const stats = computeStats(cube, split.train, 'cell');
const spec = featureSpec({ lookback: split.lookback, horizon: split.horizon, ringsDeg: distinctRings(cube.grid, config.model.ringsDeg), uv: false, dayOfYear: false, predictDelta: config.model.predictDelta, normalization: 'cell' });
const ctx = cellFeatureContext(cube, spec, stats);
const anchors = periodAnchors(split, split.train, config.train.stride);
const B = config.train.batchSize;
const buf = new BatchBuffers(B, spec.lookback, spec.nFeatures, spec.horizon);
const samplers = { uniform: null, blocks: blockSampling(cube.grid, 'blocks') };
console.log(`data ${opts.data}: ${cube.grid.width} x ${cube.grid.height} cells, ${cube.times.length} hours, ${cube.disk ? 'on disk' : 'in memory'}; ${opts.windows} windows per sampler and round, batches of ${B}`);
const rates: Record<string, { wall: number[]; cpu: number[] }> = { uniform: { wall: [], cpu: [] }, blocks: { wall: [], cpu: [] } };
for (let round = 1; round <= Number(opts.rounds); round++) {
  const names = Object.keys(samplers) as (keyof typeof samplers)[];
  for (const name of round % 2 ? names : names.reverse()) {
    const sample = sampleWindows({ grid: cube.grid, anchors, count: Number(opts.windows), seed: round, accept: (t, c) => windowValid(ctx, t, c, true), blocks: samplers[name] });
    const load = loadavg()[0]!;
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    for (let start = 0; start < sample.t0.length; start += B) fillBatch(ctx, sample, start, Math.min(B, sample.t0.length - start), buf);
    const wall = (performance.now() - wall0) / 1000;
    const cpuUsed = process.cpuUsage(cpu0);
    const cpu = (cpuUsed.user + cpuUsed.system) / 1e6;
    rates[name]!.wall.push(sample.t0.length / wall);
    rates[name]!.cpu.push(sample.t0.length / cpu);
    console.error(`round ${round} ${name}: ${Math.round(sample.t0.length / wall)} windows/s wall, ${Math.round(sample.t0.length / cpu)} per CPU second, load ${load.toFixed(1)}`);
  }
}
for (const [name, r] of Object.entries(rates)) {
  const f = (xs: number[]) => `${Math.round(median(xs))} [${Math.round(Math.min(...xs))}..${Math.round(Math.max(...xs))}]`;
  console.log(`${name.padEnd(8)} windows/s wall ${f(r.wall)}, per CPU second ${f(r.cpu)}`);
}
