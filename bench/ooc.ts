/**
 * Training memory and speed, in memory and out of core (issue 14): `windcast train --epochs 1`
 * as a child process under /usr/bin/time -v, variants in alternating rounds (the machine is
 * shared: each run records the load average before and after it).
 *
 *   npm run build && node dist/bench/ooc.js --data DIR [--rounds 3] [--base /path/to/other/checkout]
 *       [--budget 1GiB] [--variants base,memory,disk] [--json FILE]
 *
 * Variants: base = --base's bin/windcast (e.g. a worktree of main: the cube time-major plus a
 * cell-major copy); memory = this checkout (one cell-major copy); disk = this checkout with
 * --memory-budget BUDGET (windows read from the cell file on disk). Reports per variant the
 * median [min..max] of peak RSS (GiB and x the cube's bytes) and of the epoch's samples/s.
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
  },
});
if (!opts.data) throw new Error('--data DIR is required (a folder of hourly GeoTIFFs with its cube cache)');
const data = resolve(opts.data);
const here = resolve(new URL('../..', import.meta.url).pathname);

/** Bytes of the cube: the float32 cube cache's values (the file less its header). */
function cubeBytes(): number {
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
  wallSeconds: number;
  loadBefore: number[];
  loadAfter: number[];
}

function runOnce(variant: string, round: number): Run {
  const bin = variant === 'base' ? join(resolve(opts.base!), 'bin', 'windcast') : join(here, 'bin', 'windcast');
  const models = mkdtempSync(join(tmpdir(), 'windcast-bench-ooc-'));
  const args = ['-v', bin, 'train', '--data', data, '--run', 'bench', '--models-dir', models, '--epochs', '1', ...(variant === 'disk' ? ['--memory-budget', opts.budget!] : [])];
  const loadBefore = loadavg();
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const wallSeconds = (performance.now() - started) / 1000;
  const loadAfter = loadavg();
  rmSync(models, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`${variant}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const rate = /^epoch 1\/1: .*?, (\d+) samples\/s/m.exec(r.stderr);
  if (!rss || !rate) throw new Error(`${variant}: cannot read peak RSS or samples/s\n${r.stderr.slice(-2000)}`);
  return { variant, round, peakRssKiB: Number(rss[1]), samplesPerSecond: Number(rate[1]), wallSeconds, loadBefore, loadAfter };
}


const variants = opts.variants!.split(',');
if (variants.includes('base') && !opts.base) throw new Error('variant base needs --base CHECKOUT');
const cube = cubeBytes();
const runs: Run[] = [];
for (let round = 1; round <= Number(opts.rounds); round++) {
  // Alternate the order each round, so a slow spell of the shared machine is spread over the variants.
  const order = round % 2 ? variants : [...variants].reverse();
  for (const v of order) {
    const run = runOnce(v, round);
    runs.push(run);
    console.error(`round ${round} ${v}: peak ${(run.peakRssKiB / 2 ** 20).toFixed(2)} GiB, ${run.samplesPerSecond} samples/s, ${run.wallSeconds.toFixed(0)} s wall, load ${run.loadBefore[0]!.toFixed(2)} -> ${run.loadAfter[0]!.toFixed(2)}`);
  }
}
console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), node ${process.version}; data ${data}, cube ${(cube / 2 ** 30).toFixed(2)} GiB; ${opts.rounds} alternating rounds`);
const memory = runs.filter((r) => r.variant === 'memory');
for (const v of variants) {
  const rs = runs.filter((r) => r.variant === v);
  const rss = rs.map((r) => r.peakRssKiB * 1024);
  const rate = rs.map((r) => r.samplesPerSecond);
  const vsMemory = memory.length && v !== 'memory' ? `, ${(median(rate) / median(memory.map((r) => r.samplesPerSecond))).toFixed(2)} x memory's samples/s` : '';
  console.log(
    `${v.padEnd(7)} peak RSS ${(median(rss) / 2 ** 30).toFixed(2)} GiB [${(Math.min(...rss) / 2 ** 30).toFixed(2)}..${(Math.max(...rss) / 2 ** 30).toFixed(2)}] = ${(median(rss) / cube).toFixed(2)} x cube; ` +
      `samples/s ${median(rate)} [${Math.min(...rate)}..${Math.max(...rate)}]${vsMemory}; load ${rs.map((r) => r.loadBefore[0]!.toFixed(1)).join('/')}`,
  );
}
if (opts.json) writeFileSync(opts.json, JSON.stringify({ data, cubeBytes: cube, runs }, null, 2) + '\n');
