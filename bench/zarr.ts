/**
 * Zarr v3 against windcast's cell file, as the out-of-core cube (issue 14: "consider a cache
 * format that other tools open (Zarr v3, which xarray reads) and measure it against your own:
 * keep yours if Zarr costs more than 20 % of read speed").
 *
 *   node dist/bench/zarr.js --cache CUBE_CACHE.bin [--rows 280:440] [--out DIR] [--windows 20000]
 *        [--blocks 1024] [--rounds 3] [--seconds 5] [--keep]
 *
 * CUBE_CACHE.bin is a float32 cube cache (`cube-<key>-float32.bin` in a data folder's
 * .windcast-cache). The bench takes rows r0..r1-1 of every hour (the slice is cells x hours,
 * cell-major, as the out-of-core path keeps it) and stores the same values as:
 *  - cell:     ingest/cell-cube.ts's cell file (writeCellFile, production code);
 *  - raw:      a Zarr v3 array [cell, hour], chunks of CHUNK_CELLS cells x all hours, `bytes` codec;
 *  - gzip:     the same chunks with `gzip` (level 1) after `bytes`;
 *  - sharded:  `sharding_indexed`, shards of SHARD_CELLS cells x all hours, inner chunks of one
 *              cell x all hours (`bytes`), the index at the end of each shard file.
 * zarr.json files are written by zarrita (zarr.create); the chunk and shard bytes by this bench
 * (zarrita 0.7 encodes neither gzip nor shards), and zarrita reading them back must give the
 * cell file's values (checked before timing). `python3 bench/zarr_check.py DIR` opens them with
 * zarr-python and xarray.
 *
 * Read patterns, each over the same random windows or blocks for every store:
 *  - window: the out-of-core window reader's reads (prepare/window-reader.ts): per random
 *    (t0, cell), the centre's lookback + horizon hours and each of the 24 stencil points'
 *    lookback hours, 25 small runs. cell: WindowReader itself. Zarr through zarrita: one
 *    zarr.get per run, the 25 of a window awaited together. Zarr through our own positioned
 *    reads (raw-pread, sharded-pread): chunk/shard files held open, offsets computed from the
 *    chunk grid (and the shard index, read once), i.e. what a windcast reader of these stores
 *    would do; it shows the format's own cost apart from zarrita's.
 *  - block: sequential blocks of --blocks cells x all hours, the whole slice in order.
 * A reader's pass stops after --seconds (the gzip store through zarrita decompresses a whole
 * chunk per run and would take hours over 20,000 windows), so rates are over what it read.
 * Reported per store and pattern: median [min..max] over rounds of windows/s or MB/s, CPU
 * seconds, and the ratio to the cell file. Variants alternate within a round; the page cache is
 * warm (the slice fits in memory), so this measures the format and the reader, not the disk.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import * as zarr from 'zarrita';
import FileSystemStore from '@zarrita/storage/fs';
import { openCubeCache, readFully } from '../src/ingest/cube-cache.js';
import { readCellRange, writeCellFile, type CellFile } from '../src/ingest/cell-file.js';
import { WindowReader } from '../src/prepare/window-reader.js';
import { buildStencil, stencilCell } from '../src/prepare/features.js';
import { rowLat, type GridSpec } from '../src/core/grid.js';
import { silentProgress } from '../src/core/progress.js';
import { median } from './stats.js';

const { values: opts } = parseArgs({
  options: {
    cache: { type: 'string' },
    rows: { type: 'string', default: '280:440' },
    out: { type: 'string', default: '/tmp/windcast-zarr-bench' },
    windows: { type: 'string', default: '20000' },
    blocks: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    keep: { type: 'boolean', default: false },
  },
});

const CHUNK_CELLS = 256;
const SHARD_CELLS = 4096;
const LOOKBACK = 24;
const HORIZON = 24;
/** The default model's rings (config defaults): 24 stencil points. */
const RINGS_DEG = [0.25, 1, 4];

interface Slice {
  grid: GridSpec;
  cells: number;
  hours: number;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

/** Deterministic windows (mulberry32): cells at least one 4-degree ring from the slice's edge rows. */
function randomWindows(slice: Slice, count: number): { t0: Int32Array; cell: Int32Array } {
  let a = 12345;
  const rand = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const margin = Math.round(RINGS_DEG[RINGS_DEG.length - 1]! / slice.grid.dLat);
  const rows = slice.grid.height - 2 * margin;
  if (rows < 1) throw new Error(`--rows: the slice needs more than ${2 * margin} rows (the 4-degree ring reaches ${margin} rows)`);
  const t0 = new Int32Array(count);
  const cell = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    t0[i] = LOOKBACK - 1 + Math.floor(rand() * (slice.hours - LOOKBACK - HORIZON + 1));
    cell[i] = (margin + Math.floor(rand() * rows)) * slice.grid.width + Math.floor(rand() * slice.grid.width);
  }
  return { t0, cell };
}

// ---------------------------------------------------------------------------------------------
// Writing the stores

function rawBytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

async function writeStores(cache: string, r0: number, r1: number, dir: string): Promise<{ slice: Slice; cell: CellFile; bytes: Record<string, number> }> {
  const key = /cube-(.+)-float32\.bin$/.exec(basename(cache))?.[1];
  if (!key) throw new Error(`${cache}: not a float32 cube cache (cube-<key>-float32.bin)`);
  const file = openCubeCache(cache, key);
  if (!file) throw new Error(`${cache}: not a current cube cache`);
  const g = file.grid;
  if (!(r0 >= 0 && r1 <= g.height && r1 > r0)) throw new Error(`--rows ${r0}:${r1} outside the grid's 0:${g.height}`);
  const grid: GridSpec = { ...g, height: r1 - r0, lat0: rowLat(g, r0) };
  const hours = file.times.length;
  const cells = grid.width * grid.height;
  const slice = { grid, cells, hours };
  const first = r0 * g.width;
  const all = g.width * g.height;
  mkdirSync(dir, { recursive: true });
  const cellPath = join(dir, 'cells.bin');
  const cell = writeCellFile(cellPath, 'zarr-bench', { cells, hours, bands: ['speed'], values: 'float32', read: (_b, index, n, out) => file.readValues('speed', Math.floor(index / cells) * all + first + (index % cells), n, out) }, silentProgress);
  file.close();

  const store = new FileSystemStore(join(dir, 'slice.zarr'));
  const root = zarr.root(store);
  await zarr.create(root, { attributes: { description: 'windcast zarr bench: cells x hours, cell-major wind speed', grid: JSON.stringify(grid) } });
  const common = { shape: [cells, hours], dtype: 'float32' as const, dimensionNames: ['cell', 'hour'], fillValue: 0 };
  const bytesCodec = { name: 'bytes', configuration: { endian: 'little' } };
  await zarr.create(root.resolve('raw'), { ...common, chunkShape: [CHUNK_CELLS, hours], codecs: [bytesCodec] });
  await zarr.create(root.resolve('gzip'), { ...common, chunkShape: [CHUNK_CELLS, hours], codecs: [bytesCodec, { name: 'gzip', configuration: { level: 1 } }] });
  await zarr.create(root.resolve('sharded'), {
    ...common,
    chunkShape: [SHARD_CELLS, hours],
    codecs: [{ name: 'sharding_indexed', configuration: { chunk_shape: [1, hours], codecs: [bytesCodec], index_codecs: [bytesCodec], index_location: 'end' } }],
  });
  // Chunks are cell-major blocks of the cell file, so each is one range of it. A last chunk
  // past the array's end is padded with the fill value, as the spec has it.
  const fd = openSync(cellPath, 'r');
  try {
    const block = new Float32Array(SHARD_CELLS * hours);
    for (let c0 = 0; c0 < cells; c0 += SHARD_CELLS) {
      const n = Math.min(SHARD_CELLS, cells - c0);
      block.fill(0);
      readCellRange(fd, cell, 'speed', c0, n, block);
      for (let k = 0; k < SHARD_CELLS; k += CHUNK_CELLS) {
        if (c0 + k >= cells) break;
        const chunk = rawBytes(block.subarray(k * hours, (k + CHUNK_CELLS) * hours));
        await store.set(`/raw/c/${(c0 + k) / CHUNK_CELLS}/0`, chunk);
        await store.set(`/gzip/c/${(c0 + k) / CHUNK_CELLS}/0`, gzipSync(chunk, { level: 1 }));
      }
      // Shard: the inner chunks (one cell x all hours) in order, then the index of
      // (offset, nbytes) uint64 pairs; a chunk wholly past the array's end is absent (2^64-1).
      const chunkBytes = hours * 4;
      const index = new BigUint64Array(2 * SHARD_CELLS);
      for (let k = 0; k < SHARD_CELLS; k++) {
        index[2 * k] = k < n ? BigInt(k * chunkBytes) : 0xffffffffffffffffn;
        index[2 * k + 1] = k < n ? BigInt(chunkBytes) : 0xffffffffffffffffn;
      }
      const shard = new Uint8Array(n * chunkBytes + index.byteLength);
      shard.set(rawBytes(block.subarray(0, n * hours)), 0);
      shard.set(new Uint8Array(index.buffer), n * chunkBytes);
      await store.set(`/sharded/c/${c0 / SHARD_CELLS}/0`, shard);
    }
  } finally {
    closeSync(fd);
  }
  const du = (p: string): number => Number(/^(\d+)/.exec(execFileSync('du', ['-sk', '--apparent-size', p], { encoding: 'utf8' }))![1]) * 1024;
  return { slice, cell, bytes: { cell: statSync(cellPath).size, raw: du(join(dir, 'slice.zarr', 'raw')), gzip: du(join(dir, 'slice.zarr', 'gzip')), sharded: du(join(dir, 'slice.zarr', 'sharded')) } };
}

// ---------------------------------------------------------------------------------------------
// Readers: each reads a window's 25 runs or a block, into the same scratch layout

type ZArray = zarr.Array<'float32', FileSystemStore>;

/** The cells of a window's stencil, in WindowReader's point order. */
function stencilOf(slice: Slice) {
  const stencil = buildStencil(slice.grid, RINGS_DEG);
  const around = new Int32Array(stencil.pointsPerRow);
  return {
    points: stencil.pointsPerRow,
    cellsAround(cell: number): Int32Array {
      for (let p = 0; p < stencil.pointsPerRow; p++) around[p] = stencilCell(stencil, cell, p);
      return around;
    },
  };
}

/** Sum of a window's values: the same for every store, so a reader that reads wrong shows it. */
function checksum(a: Float32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i]!;
  return s;
}

interface Reader {
  name: string;
  /** Read window (t0, cell) and return the checksum of its values. */
  window(t0: number, cell: number): Promise<number> | number;
  /** Read cells [c0, c0 + n) x all hours and return their checksum. */
  block?(c0: number, n: number): Promise<number> | number;
  close(): void;
}

function cellReader(slice: Slice, file: CellFile): Reader {
  const st = stencilOf(slice);
  const reader = new WindowReader(file, LOOKBACK, HORIZON, st.points, { uv: false, other: false });
  const offsets = new Float64Array(st.points);
  const fd = openSync(file.path, 'r');
  const block = new Float32Array(Number(opts.blocks) * slice.hours);
  return {
    name: 'cell file',
    window(t0, cell) {
      reader.load(t0, cell, st.cellsAround(cell), offsets);
      return checksum(reader.speed, reader.speed.length);
    },
    block(c0, n) {
      readCellRange(fd, file, 'speed', c0, n, block);
      return checksum(block, n * slice.hours);
    },
    close() {
      reader.close();
      closeSync(fd);
    },
  };
}

/** Through zarrita, as a user of the library would read it. */
function zarritaReader(name: string, slice: Slice, arr: ZArray): Reader {
  const st = stencilOf(slice);
  const span = LOOKBACK + HORIZON;
  const scratch = new Float32Array((1 + st.points) * span);
  return {
    name: `${name} (zarrita)`,
    async window(t0, cell) {
      const first = t0 - LOOKBACK + 1;
      const around = st.cellsAround(cell);
      const runs = [zarr.get(arr, [zarr.slice(cell, cell + 1), zarr.slice(first, first + span)])];
      for (let p = 0; p < st.points; p++) runs.push(zarr.get(arr, [zarr.slice(around[p]!, around[p]! + 1), zarr.slice(first, first + LOOKBACK)]));
      const got = await Promise.all(runs);
      got.forEach((chunk, i) => scratch.set(chunk.data as Float32Array, i === 0 ? 0 : i * span));
      return checksum(scratch, scratch.length);
    },
    async block(c0, n) {
      const chunk = await zarr.get(arr, [zarr.slice(c0, c0 + n), null]);
      return checksum(chunk.data as Float32Array, n * slice.hours);
    },
    close() {},
  };
}

/**
 * Positioned reads into the store's files at offsets computed from the chunk grid (raw) or the
 * shard index read once per shard (sharded), files held open: a windcast reader of Zarr.
 */
function preadReader(name: 'raw' | 'sharded', slice: Slice, dir: string): Reader {
  const st = stencilOf(slice);
  const span = LOOKBACK + HORIZON;
  const hours = slice.hours;
  const scratch = new Float32Array((1 + st.points) * span);
  const bytes = new Uint8Array(scratch.buffer);
  const per = name === 'raw' ? CHUNK_CELLS : SHARD_CELLS;
  // Per chunk or shard file: its descriptor and where each cell's hours start in it (the shard
  // index's offsets as numbers, converted once: BigInt arithmetic per read cost a fifth).
  const fds = new Int32Array(Math.ceil(slice.cells / per)).fill(-1);
  const starts: Float64Array[] = [];
  const open = (k: number) => {
    const path = join(dir, 'slice.zarr', name, 'c', String(k), '0');
    fds[k] = openSync(path, 'r');
    const start = new Float64Array(per);
    if (name === 'sharded') {
      const index = new BigUint64Array(2 * SHARD_CELLS);
      readFully(fds[k]!, new Uint8Array(index.buffer), statSync(path).size - index.byteLength, path);
      for (let i = 0; i < per; i++) start[i] = Number(index[2 * i]!);
    } else {
      for (let i = 0; i < per; i++) start[i] = i * hours * 4;
    }
    starts[k] = start;
  };
  const run = (cell: number, first: number, n: number, at: number) => {
    const k = Math.floor(cell / per);
    if (fds[k]! < 0) open(k);
    readFully(fds[k]!, bytes.subarray(at * 4, (at + n) * 4), starts[k]![cell - k * per]! + first * 4, name);
  };
  return {
    name: `${name} (own preads)`,
    window(t0, cell) {
      const first = t0 - LOOKBACK + 1;
      const around = st.cellsAround(cell);
      run(cell, first, span, 0);
      for (let p = 0; p < st.points; p++) run(around[p]!, first, LOOKBACK, (1 + p) * span);
      return checksum(scratch, scratch.length);
    },
    close() {
      for (const fd of fds) if (fd >= 0) closeSync(fd);
    },
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!opts.cache) {
    process.stderr.write('usage: node dist/bench/zarr.js --cache CUBE_CACHE.bin [--rows 280:440] [--out DIR] [--windows 20000] [--blocks 1024] [--rounds 3] [--keep]\n');
    process.exitCode = 2;
    return;
  }
  const [r0, r1] = opts.rows!.split(':').map(Number) as [number, number];
  const dir = opts.out!;
  const t = performance.now();
  const { slice, cell, bytes } = await writeStores(opts.cache, r0, r1, dir);
  console.log(`slice: rows ${r0}..${r1 - 1} of ${basename(opts.cache)}, ${slice.cells} cells x ${slice.hours} hours (${slice.grid.width}x${slice.grid.height}), written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  for (const [k, v] of Object.entries(bytes)) console.log(`  ${k.padEnd(8)} ${(v / 2 ** 20).toFixed(1)} MiB`);

  const store = new FileSystemStore(join(dir, 'slice.zarr'));
  const root = zarr.root(store);
  const arrays: Record<string, ZArray> = {};
  for (const name of ['raw', 'gzip', 'sharded']) arrays[name] = (await zarr.open.v3(root.resolve(name), { kind: 'array' })) as ZArray;
  const readers: Reader[] = [
    cellReader(slice, cell),
    zarritaReader('raw', slice, arrays['raw']!),
    zarritaReader('gzip', slice, arrays['gzip']!),
    zarritaReader('sharded', slice, arrays['sharded']!),
    preadReader('raw', slice, dir),
    preadReader('sharded', slice, dir),
  ];

  // Every reader must read the cell file's values: checksums of a few windows and one block.
  const check = randomWindows(slice, 50);
  for (const r of readers) {
    for (let i = 0; i < check.t0.length; i++) {
      const want = await readers[0]!.window(check.t0[i]!, check.cell[i]!);
      const got = await r.window(check.t0[i]!, check.cell[i]!);
      if (got !== want) throw new Error(`${r.name}: window ${i} reads ${got}, the cell file ${want}`);
    }
    if (r.block) {
      const n = Math.min(Number(opts.blocks), slice.cells - 5000);
      const want = await readers[0]!.block!(5000, n);
      const got = await r.block(5000, n);
      if (got !== want) throw new Error(`${r.name}: a block reads ${got}, the cell file ${want}`);
    }
  }
  console.log(`values: every reader reads the cell file's values (50 windows, one block of ${opts.blocks} cells)`);

  const windows = randomWindows(slice, Number(opts.windows));
  const blockCells = Number(opts.blocks);
  const results = new Map<string, { window: number[]; windowCpu: number[]; block: number[]; blockCpu: number[] }>();
  for (const r of readers) results.set(r.name, { window: [], windowCpu: [], block: [], blockCpu: [] });
  const rounds = Number(opts.rounds);
  const budgetMs = Number(opts.seconds) * 1000;
  console.log(`rounds: ${rounds}; per reader and round, up to ${windows.t0.length} random windows (25 runs each) and the slice in blocks of ${blockCells} cells, each pass at most ${opts.seconds} s; load average before ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? readers : [...readers].reverse();
    for (const r of order) {
      const res = results.get(r.name)!;
      let c = process.cpuUsage();
      let t0 = performance.now();
      let done = 0;
      while (done < windows.t0.length && performance.now() - t0 < budgetMs) {
        await r.window(windows.t0[done]!, windows.cell[done]!);
        done++;
      }
      res.window.push(done / ((performance.now() - t0) / 1000));
      res.windowCpu.push(cpuSeconds(c) / done);
      if (r.block) {
        c = process.cpuUsage();
        t0 = performance.now();
        let read = 0;
        for (let c0 = 0; c0 < slice.cells && performance.now() - t0 < budgetMs; c0 += blockCells) {
          const n = Math.min(blockCells, slice.cells - c0);
          await r.block(c0, n);
          read += n * slice.hours * 4;
        }
        res.block.push(read / 1e6 / ((performance.now() - t0) / 1000));
        res.blockCpu.push((cpuSeconds(c) / read) * 1e9);
      }
    }
    console.log(`  round ${round + 1} done, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  }
  const fmt = (xs: number[], digits = 0) => `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}..${Math.max(...xs).toFixed(digits)}]`;
  const base = results.get(readers[0]!.name)!;
  console.log('');
  console.log('Ratios: the cell file\'s cost over the store\'s (1 = as fast, 0.8 = Zarr costs 20 % more), from the medians of wall rates and of CPU per window or per GB.');
  console.log('| store (reader) | windows/s | CPU us per window | x cell file, wall / CPU | block read MB/s | CPU ms per GB | x cell file, wall / CPU |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of readers) {
    const res = results.get(r.name)!;
    const wr = `${(median(res.window) / median(base.window)).toFixed(3)} / ${(median(base.windowCpu) / median(res.windowCpu)).toFixed(3)}`;
    const br = res.block.length ? `${(median(res.block) / median(base.block)).toFixed(3)} / ${(median(base.blockCpu) / median(res.blockCpu)).toFixed(3)}` : '-';
    const us = res.windowCpu.map((x) => x * 1e6);
    console.log(`| ${r.name} | ${fmt(res.window)} | ${fmt(us, 1)} | ${wr} | ${res.block.length ? fmt(res.block) : '-'} | ${res.block.length ? fmt(res.blockCpu.map((x) => x * 1e3)) : '-'} | ${br} |`);
  }
  for (const r of readers) r.close();
  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir} (python3 bench/zarr_check.py ${join(dir, 'slice.zarr')} ${join(dir, 'cells.bin')})`);
}

await main();
