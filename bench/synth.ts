/**
 * Synth benchmark: the default `windcast synth` run (720 global hourly files, 1440 x 721,
 * DEFLATE) timed end to end, GDAL's view of one file, and the realism calibration of the set:
 * area-weighted (cos latitude) persistence RMSE at +1, +6 and +24 h and the mean speed.
 *
 *   node dist/bench/synth.js [--out DIR] [--hours 720] [--workers N] [--stats-step 0.25] [--skip-write] [--skip-stats] [--keep]
 *
 * Learnability: at the storm tracks (35-65 degrees N and S), "advected persistence" (the value
 * now at the cell the steering flow will carry here in 6 h) is compared with plain persistence
 * at +6 h on a 1 degree grid: when it wins, the future at a cell is partly visible upstream.
 *
 * Target: 720 files in at most 60 s on 2 cores. The statistics are computed from the generator
 * itself (in this process, one hour after another), which gives the same numbers as reading the
 * written files back; --stats-step 1 gives a quick estimate on a 1 degree grid.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { synth } from '../src/commands/synth.js';
import { parseConfig } from '../src/core/config.js';
import { silentProgress } from '../src/core/progress.js';
import { HOUR_MS, parseIsoHour } from '../src/core/time.js';
import { steeringFlow } from '../src/synth/climate.js';
import { synthGrid } from '../src/synth/files.js';
import { planSynth, synthHour } from '../src/synth/hour.js';
import { persistenceStats } from '../src/synth/persistence.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const hours = Number(arg('hours') ?? 720);
const out = arg('out') ?? '/tmp/synth-bench/default';
const workers = arg('workers') !== undefined ? Number(arg('workers')) : availableParallelism();
const statsStep = Number(arg('stats-step') ?? 0.25);
const config = parseConfig({ synth: { hours } }, 'bench');

console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}`);

if (!flag('skip-write')) {
  rmSync(out, { recursive: true, force: true });
  const cpu0 = process.cpuUsage();
  const result = await synth({ out, workers }, { config, progress: silentProgress, verbose: false });
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `write: ${result.files} files ${result.grid.width}x${result.grid.height} in ${result.seconds.toFixed(1)} s ` +
      `(${result.filesPerSecond.toFixed(1)} files/s, ${result.workers} workers, ` +
      `${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU, ${(result.bytes / 1e6).toFixed(0)} MB, ` +
      `${(result.bytes / result.files / 1e6).toFixed(2)} MB/file) target <= 60 s for 720 files on 2 cores`,
  );
  try {
    const info = JSON.parse(execFileSync('gdalinfo', ['-json', join(out, result.firstFile)], { encoding: 'utf8' })) as {
      size: number[];
      geoTransform: number[];
      bands: Array<{ type: string }>;
      coordinateSystem: { wkt: string };
    };
    const wgs84 = /GEOGCRS\["WGS 84"/.test(info.coordinateSystem.wkt) && /ID\["EPSG",4326\]/.test(info.coordinateSystem.wkt);
    console.log(`gdalinfo ${result.firstFile}: size ${info.size.join('x')}, ${info.bands[0]?.type}, geotransform ${info.geoTransform.join(',')}, ${wgs84 ? 'WGS 84 (EPSG:4326)' : 'CRS NOT WGS 84'}`);
  } catch {
    console.log('gdalinfo: not installed, skipped');
  }
  if (!flag('keep')) rmSync(out, { recursive: true, force: true });
}

if (!flag('skip-stats')) {
  const grid = synthGrid({ step: statsStep, bbox: null, lon180: false });
  const t0 = performance.now();
  const stats = persistenceStats({ seed: config.synth.seed, startMs: parseIsoHour(config.synth.start, 'synth.start'), hours, grid });
  const r = stats.rmse;
  console.log(
    `stats (${stats.grid}, ${hours} h from ${config.synth.start}, seed ${config.synth.seed}, ${((performance.now() - t0) / 1000).toFixed(0)} s): ` +
      `mean ${stats.meanSpeed.toFixed(2)} m/s, std ${stats.stdSpeed.toFixed(2)}, max ${stats.maxSpeed.toFixed(1)}; ` +
      `persistence RMSE +1 h ${r[1]!.toFixed(2)}, +6 h ${r[6]!.toFixed(2)}, +24 h ${r[24]!.toFixed(2)} m/s ` +
      `(targets 0.4-1.0, 1.5-3, 2.5-4.5; mean 6-8)`,
  );
}

if (!flag('skip-stats')) {
  const grid = synthGrid({ step: 1, bbox: null, lon180: false });
  const plan = planSynth(grid, config.synth.seed);
  const start = parseIsoHour(config.synth.start, 'synth.start');
  const lead = 6;
  let plain = 0, advected = 0, weight = 0;
  const frames: Float32Array[] = [];
  const span = Math.min(hours, 240);
  for (let t = 0; t < span; t++) {
    frames.push(synthHour(plan, start + t * HOUR_MS).speed);
    if (t < lead) continue;
    const now = frames[t - lead]!, later = frames[t]!;
    for (let r = 0; r < grid.height; r++) {
      const lat = 90 - r;
      if (Math.abs(lat) < 35 || Math.abs(lat) > 65) continue;
      const w = Math.cos((lat * Math.PI) / 180);
      // Degrees of longitude the steering flow covers in `lead` hours.
      const shift = Math.round((steeringFlow(lat) * lead * 3.6) / (111.195 * w));
      for (let c = 0; c < grid.width; c++) {
        const up = (((c - shift) % grid.width) + grid.width) % grid.width;
        const truth = later[r * grid.width + c]!;
        plain += w * (truth - now[r * grid.width + c]!) ** 2;
        advected += w * (truth - now[r * grid.width + up]!) ** 2;
        weight += w;
      }
    }
  }
  console.log(
    `upstream (1 deg, 35-65 N/S, ${span} h, +${lead} h): persistence RMSE ${Math.sqrt(plain / weight).toFixed(2)}, ` +
      `advected persistence ${Math.sqrt(advected / weight).toFixed(2)} m/s`,
  );
}
