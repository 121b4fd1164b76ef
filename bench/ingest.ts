/**
 * Ingest benchmark: decoding a month of hourly global files (720 x 1440 x 721) into the cube,
 * against GDAL reading the same files one after another; cache reload speed; peak memory.
 *
 *   node dist/bench/ingest.js [--dir DIR] [--hours 720] [--workers 0] [--skip-gdal]
 *
 * Without --dir it writes a synthetic dataset with `windcast synth` (ERA5 layout, DEFLATE +
 * floating-point predictor) to /tmp/ingest/bench-synth-<hours> once and reuses it.
 *
 * Every windcast measurement runs in a fresh child process so its peak RSS
 * (process.resourceUsage().maxRSS, which includes worker threads) belongs to that step alone.
 * GDAL baselines, at equal cores and doing the same work (decode every file once), with CPU per
 * file beside wall time:
 *  - loop: `gdal_translate -of ENVI` per file (what a shell script does; includes process start);
 *  - one process reading every file through a `gdalbuildvrt -separate` VRT (`gdalinfo
 *    -checksum`: full decode, no statistics), on one core, and with GDAL_NUM_THREADS=2;
 *  - two such processes at once, half the files each (the two-core figure).
 * windcast decodes with one worker (against one GDAL process) and with every core.
 * The cache reload is measured with the cache file in the OS page cache (it was just written),
 * i.e. memory bandwidth plus copy; a cold read is bounded by the disk.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCatalog } from '../src/ingest/catalog.js';
import { buildCube, cubeBytes } from '../src/ingest/cube.js';
import type { CacheEncoding } from '../src/ingest/cube-cache.js';
import type { Progress } from '../src/core/progress.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface ChildResult {
  step: string;
  seconds: number;
  /** Decode only (the pool), when the step decodes. */
  decodeSeconds?: number;
  cacheHit?: boolean;
  cubeBytes: number;
  maxRssBytes: number;
  /** User + system CPU seconds of the whole process (all threads). */
  cpuSeconds: number;
  files: number;
}

/** Child: one measured step. */
async function child(step: string, dir: string, workers: number, encoding: CacheEncoding): Promise<void> {
  const catalog = await buildCatalog(dir, { glob: '*.tif', timePattern: 'auto' });
  if (step === 'touch') {
    // The floor for any reload: a fresh cube-sized Float32Array written once (page faults only).
    const header = (await import('../src/ingest/raster.js')).readRasterHeader;
    const grid = (await header(catalog.entries[0]!.path)).grid;
    const bytes = cubeBytes(grid, catalog.entries.length, 1);
    const t0 = performance.now();
    const a = new Float32Array(bytes / 4);
    for (let i = 0; i < a.length; i += 1024) a[i] = 1;
    const seconds = (performance.now() - t0) / 1000;
    const usage = process.resourceUsage();
    process.stdout.write(JSON.stringify({ step, seconds, cubeBytes: bytes, maxRssBytes: usage.maxRSS * 1024, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6, files: catalog.entries.length }) + '\n');
    return;
  }
  let decodeEnd = 0;
  const progress: Progress = {
    log: (m) => process.stderr.write(m + '\n'),
    start: () => ({ tick: () => {}, done: () => { decodeEnd = performance.now(); } }),
  };
  const t0 = performance.now();
  const cube = await buildCube(catalog, { cache: step !== 'decode', cacheEncoding: encoding, workers }, progress);
  const seconds = (performance.now() - t0) / 1000;
  const bytes = cubeBytes(cube.grid, cube.times.length, cube.u ? 2 : 1);
  const result: ChildResult = {
    step,
    seconds,
    ...(decodeEnd > 0 ? { decodeSeconds: (decodeEnd - t0) / 1000 } : {}),
    cacheHit: cube.source.cache?.hit ?? false,
    cubeBytes: bytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    cpuSeconds: (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1e6,
    files: catalog.entries.length,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

function runChild(step: string, dir: string, workers: number, encoding: CacheEncoding): ChildResult {
  const r = spawnSync(process.execPath, [SELF, '--child', step, '--dir', dir, '--workers', String(workers), '--encoding', encoding], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${step} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

/** Wall time, and CPU time of the child processes fn starts (from /proc/self/stat's cutime/cstime). */
function timed(fn: () => void): { seconds: number; cpu: number } {
  const before = childCpu();
  const t0 = performance.now();
  fn();
  return { seconds: (performance.now() - t0) / 1000, cpu: childCpu() - before };
}

async function timedAsync(fn: () => Promise<unknown>): Promise<{ seconds: number; cpu: number }> {
  const before = childCpu();
  const t0 = performance.now();
  await fn();
  return { seconds: (performance.now() - t0) / 1000, cpu: childCpu() - before };
}

/** Run a command to completion without blocking the event loop (so two can run at once). */
function spawnAsync(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(cmd, args, { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolveRun() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

function childCpu(): number {
  // Fields 16 and 17 of /proc/self/stat: CPU of waited-for children, in clock ticks (100/s).
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(2);
}

async function main(): Promise<void> {
  const step = arg('child');
  const workers = Number(arg('workers') ?? 0);
  if (step) {
    await child(step, arg('dir')!, workers, (arg('encoding') ?? 'float32') as CacheEncoding);
    return;
  }
  const hours = Number(arg('hours') ?? 720);
  let dir = arg('dir');
  if (!dir) {
    dir = `/tmp/ingest/bench-synth-${hours}`;
    const have = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.tif')).length : 0;
    if (have !== hours) {
      rmSync(dir, { recursive: true, force: true });
      console.log(`writing ${hours} synthetic global hours to ${dir} ...`);
      execFileSync(process.execPath, [join(ROOT, 'bin/windcast'), '--quiet', 'synth', '--out', dir, '--hours', String(hours)], { stdio: 'inherit' });
    }
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.tif')).sort().map((f) => join(dir!, f));
  console.log(`dataset: ${dir}, ${files.length} files`);
  rmSync(join(dir, '.windcast-cache'), { recursive: true, force: true });
  const report: Record<string, unknown> = { dir, files: files.length, cpus: (await import('node:os')).availableParallelism() };

  if (!process.argv.includes('--skip-gdal')) {
    const scratch = '/tmp/ingest/gdal-bench';
    mkdirSync(scratch, { recursive: true });
    const out = join(scratch, 'frame.bin');
    const loop = timed(() => {
      for (const f of files) execFileSync('gdal_translate', ['-q', '-of', 'ENVI', f, out]);
    });
    // The same work as windcast's decode at equal cores: every file decoded once, no statistics.
    // `gdalinfo -checksum` over a VRT of the files decodes each band fully (DEFLATE, predictor)
    // and adds an integer checksum, which costs less than windcast's copy into the cube.
    const vrtOf = (name: string, list: string[]): string => {
      const listFile = join(scratch, `${name}.txt`);
      writeFileSync(listFile, list.join('\n') + '\n');
      const vrt = join(scratch, `${name}.vrt`);
      execFileSync('gdalbuildvrt', ['-q', '-separate', '-input_file_list', listFile, vrt]);
      return vrt;
    };
    const all = vrtOf('all', files);
    const half = Math.ceil(files.length / 2);
    const halves = [vrtOf('half0', files.slice(0, half)), vrtOf('half1', files.slice(half))];
    const checksum = ['-checksum', '-nomd', '-noct'];
    const one = timed(() => execFileSync('gdalinfo', [...checksum, all], { stdio: 'ignore' }));
    const threaded = timed(() => execFileSync('gdalinfo', [...checksum, all], { stdio: 'ignore', env: { ...process.env, GDAL_NUM_THREADS: '2' } }));
    const two = await timedAsync(() => Promise.all(halves.map((v) => spawnAsync('gdalinfo', [...checksum, v]))));
    report.gdal = {
      translateLoopSeconds: loop.seconds, translateLoopCpuSeconds: loop.cpu,
      oneProcessSeconds: one.seconds, oneProcessCpuSeconds: one.cpu,
      oneProcessTwoThreadsSeconds: threaded.seconds, oneProcessTwoThreadsCpuSeconds: threaded.cpu,
      twoProcessesSeconds: two.seconds, twoProcessesCpuSeconds: two.cpu,
    };
    const line = (label: string, t: { seconds: number; cpu: number }) =>
      console.log(`${label.padEnd(44)} ${t.seconds.toFixed(1)} s wall (${(files.length / t.seconds).toFixed(1)} files/s), ${t.cpu.toFixed(1)} s CPU = ${(1000 * t.cpu / files.length).toFixed(1)} ms/file`);
    line('GDAL gdal_translate loop (1 core):', loop);
    line('GDAL one process, -checksum (1 core):', one);
    line('GDAL one process, GDAL_NUM_THREADS=2:', threaded);
    line('GDAL two processes, half the files each:', two);
  }

  // windcast at equal cores: one decoder thread (against one GDAL process) and the default
  // (every core, against two GDAL processes).
  const decode1 = runChild('decode', dir, 1, 'float32');
  const decode = runChild('decode', dir, workers, 'float32');
  for (const [label, d] of [['windcast decode, 1 worker:', decode1], [`windcast decode, ${workers || 'all'} workers:`, decode]] as const) {
    console.log(`${label.padEnd(44)} ${d.decodeSeconds!.toFixed(1)} s wall (${(files.length / d.decodeSeconds!).toFixed(1)} files/s), ${d.cpuSeconds.toFixed(1)} s CPU = ${(1000 * d.cpuSeconds / files.length).toFixed(1)} ms/file (whole process), peak RSS ${gib(d.maxRssBytes)} GiB = ${(d.maxRssBytes / d.cubeBytes).toFixed(2)} x cube (${gib(d.cubeBytes)} GiB)`);
  }
  const build = runChild('build', dir, workers, 'float32');
  console.log(`windcast decode + write cache:      ${build.seconds.toFixed(1)} s, peak RSS ${gib(build.maxRssBytes)} GiB = ${(build.maxRssBytes / build.cubeBytes).toFixed(2)} x cube`);
  const reload = runChild('reload', dir, workers, 'float32');
  if (!reload.cacheHit) throw new Error('reload did not hit the cache');
  console.log(`windcast cache reload (float32):    ${reload.seconds.toFixed(2)} s = ${(reload.cubeBytes / reload.seconds / 1e9).toFixed(2)} GB/s (${reload.cpuSeconds.toFixed(1)} s CPU), peak RSS ${gib(reload.maxRssBytes)} GiB = ${(reload.maxRssBytes / reload.cubeBytes).toFixed(2)} x cube`);
  // Without this the int16 build would find (and reuse) the exact float32 cache.
  rmSync(join(dir, '.windcast-cache'), { recursive: true, force: true });
  const touch = runChild('touch', dir, workers, 'float32');
  console.log(`floor: allocate + touch a fresh ${gib(touch.cubeBytes)} GiB array: ${touch.seconds.toFixed(2)} s = ${(touch.cubeBytes / touch.seconds / 1e9).toFixed(2)} GB/s (kernel page faults)`);
  const build16 = runChild('build', dir, workers, 'int16');
  const reload16 = runChild('reload', dir, workers, 'int16');
  if (!reload16.cacheHit) throw new Error('int16 reload did not hit the cache');
  console.log(`windcast cache reload (int16):      ${reload16.seconds.toFixed(2)} s = ${(reload16.cubeBytes / reload16.seconds / 1e9).toFixed(2)} GB/s of Float32 cube, peak RSS ${(reload16.maxRssBytes / reload16.cubeBytes).toFixed(2)} x cube`);
  Object.assign(report, { decode, build, reload, touch, build16, reload16 });
  Object.assign(report, { decode1 });
  const gdal = report.gdal as { translateLoopSeconds: number; oneProcessSeconds: number; oneProcessTwoThreadsSeconds: number; twoProcessesSeconds: number } | undefined;
  if (gdal) {
    const bestTwo = Math.min(gdal.twoProcessesSeconds, gdal.oneProcessTwoThreadsSeconds);
    console.log(`decode speed vs GDAL at equal cores (wall): 1 core ${(gdal.oneProcessSeconds / decode1.decodeSeconds!).toFixed(2)} x one GDAL process; all cores ${(bestTwo / decode.decodeSeconds!).toFixed(2)} x GDAL's best of two processes and GDAL_NUM_THREADS=2; ${(gdal.translateLoopSeconds / decode.decodeSeconds!).toFixed(2)} x the gdal_translate loop`);
  }
  mkdirSync('/tmp/ingest', { recursive: true });
  writeFileSync('/tmp/ingest/bench-ingest.json', JSON.stringify(report, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
