/**
 * Gridded input (NetCDF, Zarr) over the memory budget against in memory (issue 14):
 * `windcast train --epochs 1` and `windcast evaluate` as child processes under /usr/bin/time -v,
 * memory and disk (--memory-budget BUDGET: the dataset streamed into a cell file beside it, then
 * read from there) in alternating rounds; each run records the load average before and after it
 * (the machine is shared) and whether the cell file existed before it (the first disk run
 * writes it). Variant base is memory with another checkout's bin/windcast (--base, e.g. main
 * built: before against after).
 *
 *   npm run build && node dist/bench/gridded-ooc.js --data FILE_OR_GLOB_OR_STORE [--rounds 2] [--budget 1GiB]
 *       [--variants memory,disk] [--base /path/to/other/checkout] [--json FILE]
 *
 * Evaluate runs on the checkpoint of a first, unmeasured in-memory train. The cell file is left
 * in DATA_FOLDER/.windcast-cache: delete it when done.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './stats.js';

const { values: opts } = parseArgs({
  options: {
    data: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    budget: { type: 'string', default: '1GiB' },
    variants: { type: 'string', default: 'memory,disk' },
    base: { type: 'string' },
    json: { type: 'string' },
  },
});
if (!opts.data) throw new Error('--data FILE (a NetCDF file, a glob of them in quotes, or a Zarr store) is required');
const data = resolve(opts.data);
const bin = join(resolve(new URL('../..', import.meta.url).pathname), 'bin', 'windcast');
type Variant = 'memory' | 'disk' | 'base';
const variants = opts.variants!.split(',') as Variant[];
for (const v of variants) if (!['memory', 'disk', 'base'].includes(v)) throw new Error(`variant "${v}": write memory, disk or base`);
if (variants.includes('base') && !opts.base) throw new Error('variant base needs --base CHECKOUT');
const binOf = (variant: Variant) => (variant === 'base' ? join(resolve(opts.base!), 'bin', 'windcast') : bin);
const cacheDir = join(dirname(data), '.windcast-cache');
const hasCellFile = () => existsSync(cacheDir) && readdirSync(cacheDir).some((f) => f.startsWith('cells-'));

interface Run {
  command: 'train' | 'evaluate';
  variant: Variant;
  round: number;
  cellFileBefore: boolean;
  peakRssKiB: number;
  userSeconds: number;
  systemSeconds: number;
  wallSeconds: number;
  loadBefore: number;
  loadAfter: number;
  /** train: the epoch's samples/s line; evaluate: the model's RMSE line. */
  result: string;
}

function timed(args: string[], variant: Variant = 'memory'): { stderr: string; stdout: string; wall: number; before: number; after: number } {
  const before = loadavg()[0]!;
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-v', binOf(variant), ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const wall = (performance.now() - started) / 1000;
  if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status}\n${r.stderr.slice(-3000)}`);
  return { stderr: r.stderr, stdout: r.stdout, wall, before, after: loadavg()[0]! };
}

const root = mkdtempSync(join(tmpdir(), 'windcast-bench-gridded-'));
const budgetArgs = (variant: string) => (variant === 'disk' ? ['--memory-budget', opts.budget!] : []);
try {
  console.error('training the checkpoint evaluate uses (in memory, not measured)');
  timed(['train', '--data', data, '--run', 'model', '--models-dir', join(root, 'models'), '--epochs', '1']);
  const runs: Run[] = [];
  const once = (command: Run['command'], variant: Run['variant'], round: number) => {
    const cellFileBefore = hasCellFile();
    const args =
      command === 'train'
        ? ['train', '--data', data, '--run', `${variant}-${round}`, '--models-dir', join(root, 'models'), '--epochs', '1', ...budgetArgs(variant)]
        : ['evaluate', '--model', join(root, 'models', 'model'), '--data', data, '--out', join(root, `eval-${variant}-${round}`), ...budgetArgs(variant)];
    const r = timed(args, variant);
    const text = r.stderr + r.stdout;
    const num = (re: RegExp) => Number(re.exec(r.stderr)?.[1] ?? NaN);
    const result = command === 'train' ? (/^epoch 1\/1: .*$/m.exec(text)?.[0] ?? '?') : (/^ {2}model +[\d.]+ m\/s.*$/m.exec(text)?.[0]?.trim() ?? '?');
    const run: Run = { command, variant, round, cellFileBefore, peakRssKiB: num(/Maximum resident set size \(kbytes\): (\d+)/), userSeconds: num(/User time \(seconds\): ([\d.]+)/), systemSeconds: num(/System time \(seconds\): ([\d.]+)/), wallSeconds: r.wall, loadBefore: r.before, loadAfter: r.after, result };
    runs.push(run);
    console.error(`round ${round} ${command} ${variant}${variant === 'disk' && !cellFileBefore ? ' (writes the cell file)' : ''}: peak ${(run.peakRssKiB / 2 ** 20).toFixed(2)} GiB, cpu ${run.userSeconds.toFixed(0)} + ${run.systemSeconds.toFixed(0)} s, wall ${run.wallSeconds.toFixed(0)} s, load ${run.loadBefore.toFixed(2)} -> ${run.loadAfter.toFixed(2)}; ${result}`);
  };
  for (let round = 1; round <= Number(opts.rounds); round++) {
    const order = round % 2 ? [...variants].reverse() : variants;
    for (const command of ['train', 'evaluate'] as const) for (const v of order) once(command, v, round);
  }
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), node ${process.version}; data ${data}; budget ${opts.budget}; variants ${variants.join(', ')}${opts.base ? ` (base ${resolve(opts.base)})` : ''}; ${opts.rounds} alternating rounds`);
  for (const command of ['train', 'evaluate'] as const) {
    for (const variant of variants) {
      const rs = runs.filter((r) => r.command === command && r.variant === variant && (variant !== 'disk' || r.cellFileBefore));
      if (rs.length === 0) continue;
      const gib = rs.map((r) => r.peakRssKiB / 2 ** 20);
      const cpu = rs.map((r) => r.userSeconds + r.systemSeconds);
      const wall = rs.map((r) => r.wallSeconds);
      const span = (xs: number[], d: number) => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}..${Math.max(...xs).toFixed(d)}]`;
      console.log(`${command.padEnd(8)} ${variant.padEnd(6)} peak RSS ${span(gib, 2)} GiB; CPU ${span(cpu, 0)} s; wall ${span(wall, 0)} s; load ${rs.map((r) => `${r.loadBefore.toFixed(1)}/${r.loadAfter.toFixed(1)}`).join(', ')} (${rs.length} runs${variant === 'disk' ? ', cell file present' : ''})`);
    }
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ data, budget: opts.budget, runs }, null, 2) + '\n');
} finally {
  rmSync(root, { recursive: true, force: true });
}
