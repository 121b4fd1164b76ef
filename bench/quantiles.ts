/**
 * Training speed with the quantile head against the point model (issue 13: at least 90 %):
 * the default `windcast train` on one dataset, with the default quantiles and with
 * `model.quantiles: []`, alternating over rounds in one process. Reports, per round and as
 * medians with the spread: the point epochs' samples/s (the head's forward pass rides along),
 * the whole run's wall time (including the head's fit after the epochs), and the ratios.
 *
 *   npm run build && node dist/bench/quantiles.js --data FILE_OR_GLOB [--rounds 3] [--height 100] [--json FILE]
 *
 * Both runs use the same seed, so they train the same point model for the same epochs and
 * differ only by the head.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { schemaDefaults } from '../src/core/config.js';
import { silentProgress } from '../src/core/progress.js';
import { loadDataCube } from '../src/ingest/cube.js';
import { loadBackend } from '../src/runtime/backend.js';
import { runTraining } from '../src/train/train.js';
import { median } from './stats.js';

const { values: opts } = parseArgs({
  options: {
    data: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    height: { type: 'string' },
    json: { type: 'string' },
  },
});
if (!opts.data) throw new Error('--data FILE_OR_GLOB is required');

const { tf, info } = await loadBackend('tensorflow');
const base = schemaDefaults();
if (opts.height) base.ingest.targetHeight = Number(opts.height) as 10 | 100;
const cube = await loadDataCube(opts.data, base.ingest, silentProgress);
const spread = (a: number[]) => `${Math.min(...a).toFixed(0)}..${Math.max(...a).toFixed(0)}`;

type Row = { variant: string; round: number; epochs: number; epochSamplesPerSecond: number; wallSeconds: number };
const rows: Row[] = [];
for (let round = 1; round <= Number(opts.rounds); round++) {
  // Alternate which goes first, so a slow spell of the shared machine hits both.
  const order = round % 2 === 1 ? ['point', 'quantiles'] : ['quantiles', 'point'];
  for (const variant of order) {
    const config = structuredClone(base);
    if (variant === 'point') config.model.quantiles = [];
    const dir = mkdtempSync(join(tmpdir(), 'windcast-bench-quantiles-'));
    const started = performance.now();
    const out = await runTraining({
      tf,
      backend: info,
      cube,
      dataDir: opts.data,
      runDir: join(dir, 'run'),
      run: 'run',
      config,
      progress: silentProgress,
      log: () => {},
    });
    const wallSeconds = (performance.now() - started) / 1000;
    rmSync(dir, { recursive: true, force: true });
    const row: Row = { variant, round, epochs: out.epochsCompleted, epochSamplesPerSecond: out.samplesPerSecond, wallSeconds };
    rows.push(row);
    console.log(`round ${round} ${variant.padEnd(9)} ${row.epochs} epochs, ${row.epochSamplesPerSecond.toFixed(0)} samples/s in the epochs, run ${wallSeconds.toFixed(1)} s`);
  }
}
const of = (v: string) => rows.filter((r) => r.variant === v);
const rate = (v: string) => of(v).map((r) => r.epochSamplesPerSecond);
const wall = (v: string) => of(v).map((r) => r.wallSeconds);
const ratios = of('point').map((p, i) => p.wallSeconds / of('quantiles')[i]!.wallSeconds);
const epochRatios = of('point').map((p, i) => of('quantiles')[i]!.epochSamplesPerSecond / p.epochSamplesPerSecond);
console.log(`\n${info.name} (${info.threads} threads), data ${opts.data}, ${cube.grid.width}x${cube.grid.height} x ${cube.times.length} h, ${opts.rounds} alternating rounds`);
console.log(`  epochs' samples/s   point ${median(rate('point')).toFixed(0)} (${spread(rate('point'))}), with quantile head ${median(rate('quantiles')).toFixed(0)} (${spread(rate('quantiles'))}): ${(median(epochRatios) * 100).toFixed(1)} % (rounds ${epochRatios.map((r) => (r * 100).toFixed(1)).join(' / ')})`);
console.log(`  whole run, s        point ${median(wall('point')).toFixed(1)}, with quantile head and its fit ${median(wall('quantiles')).toFixed(1)}: speed ${(median(ratios) * 100).toFixed(1)} % of the point run (rounds ${ratios.map((r) => (r * 100).toFixed(1)).join(' / ')})`);
if (opts.json) writeFileSync(opts.json, JSON.stringify({ data: opts.data, rows }, null, 2) + '\n');
