/**
 * Training memory and speed, in memory and out of core (issue 14): `windcast train --epochs 1`
 * as a child process under /usr/bin/time -v, variants in alternating rounds (the machine is
 * shared: each run records the load average before and after it).
 *
 *   npm run build && node dist/bench/ooc.js --data DIR[,DIR2...] [--rounds 3] [--base /path/to/other/checkout]
 *       [--budget 1GiB] [--variants base,memory,disk] [--json FILE]
 *
 * Variants: base = --base's bin/windcast (e.g. a worktree of main: the cube time-major plus a
 * cell-major copy); memory = this checkout (one cell-major copy); disk = this checkout with
 * --memory-budget BUDGET (windows read from the cell file on disk). A variant may add
 * `:SAMPLER` (train.sampler: uniform, blocks, auto) and `@N` (the Nth --data folder, from 0),
 * e.g. `--data month,d90 --variants memory@0,memory:uniform@1,memory:blocks@1,disk:blocks@1`.
 * Reports per variant the median [min..max] of peak RSS (GiB and x its cube's bytes) and of the
 * epoch's samples/s, and the ratio of its median samples/s to the first variant's.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './stats.js';

const { values: opts } = parseArgs({
  options: {
    data: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    base: { type: 'string' },
    budget: { type: 'string', default: '1GiB' },
    variants: { type: 'string', default: 'base,memory,disk' },
    json: { type: 'string' },
    /** Epochs per run (samples/s is the last epoch's; train and validation RMSE too). */
    epochs: { type: 'string', default: '1' },
  },
});
if (!opts.data) throw new Error('--data DIR is required (a folder of hourly GeoTIFFs with its cube cache)');
const folders = opts.data.split(',').map((d) => resolve(d));
const here = resolve(new URL('../..', import.meta.url).pathname);

/** Bytes of the cube: the float32 cube cache's values (the file less its header). */
function cubeBytes(data: string): number {
  const dir = join(data, '.windcast-cache');
  const cache = readdirSync(dir).find((f) => /^cube-.*-float32\.bin$/.test(f));
  if (!cache) throw new Error(`no float32 cube cache in ${dir}: run windcast train on it once`);
  return statSync(join(dir, cache)).size;
}

interface Run {
  variant: string;
  round: number;
  peakRssKiB: number;
  samplesPerSecond: number;
  trainRmse: number;
  /** Validation RMSE after each epoch, m/s. */
  validationRmse: number[];
  /** User + system seconds of the whole run (/usr/bin/time -v). */
  cpuSeconds: number;
  wallSeconds: number;
  loadBefore: number[];
  loadAfter: number[];
}

/** "memory:blocks@1" -> kind memory, sampler blocks, the second --data folder. */
function parseVariant(variant: string): { kind: string; sampler?: string; data: string } {
  const m = /^(base|memory|disk)(?::(auto|uniform|blocks))?(?:@(\d+))?$/.exec(variant);
  if (!m) throw new Error(`variant "${variant}": write base, memory or disk, optionally :SAMPLER and @N`);
  const data = folders[Number(m[3] ?? 0)];
  if (!data) throw new Error(`variant "${variant}": no --data folder ${m[3]}`);
  return { kind: m[1]!, ...(m[2] ? { sampler: m[2] } : {}), data };
}

function runOnce(variant: string, round: number): Run {
  const { kind, sampler, data } = parseVariant(variant);
  const bin = kind === 'base' ? join(resolve(opts.base!), 'bin', 'windcast') : join(here, 'bin', 'windcast');
  const models = mkdtempSync(join(tmpdir(), 'windcast-bench-ooc-'));
  const args = ['-v', bin, 'train', '--data', data, '--run', 'bench', '--models-dir', models, '--epochs', opts.epochs!, ...(kind === 'disk' ? ['--memory-budget', opts.budget!] : []), ...(sampler ? ['--sampler', sampler] : [])];
  const loadBefore = loadavg();
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const wallSeconds = (performance.now() - started) / 1000;
  const loadAfter = loadavg();
  rmSync(models, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`${variant}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const epochs = [...r.stderr.matchAll(/^epoch \d+\/\d+: train ([\d.]+), validation ([\d.]+) m\/s.*?, (\d+) samples\/s/gm)];
  const rate = epochs.at(-1);
  if (!rss || !rate) throw new Error(`${variant}: cannot read peak RSS or samples/s\n${r.stderr.slice(-2000)}`);
  const cpu = ['User', 'System'].map((k) => Number(new RegExp(`${k} time \\(seconds\\): ([\\d.]+)`).exec(r.stderr)?.[1] ?? NaN));
  return { variant, round, peakRssKiB: Number(rss[1]), samplesPerSecond: Number(rate[3]), trainRmse: Number(rate[1]), validationRmse: epochs.map((e) => Number(e[2])), cpuSeconds: cpu[0]! + cpu[1]!, wallSeconds, loadBefore, loadAfter };
}


const variants = opts.variants!.split(',');
if (variants.some((v) => parseVariant(v).kind === 'base') && !opts.base) throw new Error('variant base needs --base CHECKOUT');
const cubes = new Map(folders.map((d) => [d, cubeBytes(d)]));
const runs: Run[] = [];
for (let round = 1; round <= Number(opts.rounds); round++) {
  // Alternate the order each round, so a slow spell of the shared machine is spread over the variants.
  const order = round % 2 ? variants : [...variants].reverse();
  for (const v of order) {
    const run = runOnce(v, round);
    runs.push(run);
    console.error(`round ${round} ${v}: peak ${(run.peakRssKiB / 2 ** 20).toFixed(2)} GiB, ${run.samplesPerSecond} samples/s, train ${run.trainRmse}, validation ${run.validationRmse.join(' ')} m/s, cpu ${run.cpuSeconds.toFixed(0)} s, ${run.wallSeconds.toFixed(0)} s wall, load ${run.loadBefore[0]!.toFixed(2)} -> ${run.loadAfter[0]!.toFixed(2)}`);
  }
}
console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), node ${process.version}; ${opts.rounds} alternating rounds`);
folders.forEach((d, i) => console.log(`data @${i}: ${d}, cube ${(cubes.get(d)! / 2 ** 30).toFixed(2)} GiB`));
const first = runs.filter((r) => r.variant === variants[0]).map((r) => r.samplesPerSecond);
for (const v of variants) {
  const rs = runs.filter((r) => r.variant === v);
  const cube = cubes.get(parseVariant(v).data)!;
  const rss = rs.map((r) => r.peakRssKiB * 1024);
  const rate = rs.map((r) => r.samplesPerSecond);
  const cpu = rs.map((r) => r.cpuSeconds);
  const vsFirst = v !== variants[0] ? `, ${(median(rate) / median(first)).toFixed(2)} x ${variants[0]}` : '';
  console.log(
    `${v.padEnd(16)} peak RSS ${(median(rss) / 2 ** 30).toFixed(2)} GiB [${(Math.min(...rss) / 2 ** 30).toFixed(2)}..${(Math.max(...rss) / 2 ** 30).toFixed(2)}] = ${(median(rss) / cube).toFixed(2)} x cube; ` +
      `samples/s ${median(rate)} [${Math.min(...rate)}..${Math.max(...rate)}]${vsFirst}; validation ${rs.map((r) => r.validationRmse.at(-1)).join('/')} m/s; process CPU ${median(cpu).toFixed(0)} s, wall ${median(rs.map((r) => r.wallSeconds)).toFixed(0)} s; load ${rs.map((r) => r.loadBefore[0]!.toFixed(1)).join('/')}`,
  );
}
if (opts.json) writeFileSync(opts.json, JSON.stringify({ folders, cubeBytes: Object.fromEntries(cubes), runs }, null, 2) + '\n');
