/**
 * Gridded input: ERA5 as users download it (NetCDF3, NetCDF4/HDF5, Zarr v2/v3), one file, a
 * glob of files joined in time, or a store, read into the cube layout.
 *
 * openGridded describes the data without reading it: the variables found (by ERA5 short
 * name), the grid (a GridSpec, north-up in memory, PixelIsPoint for cell centres), every hour
 * as epoch ms, each file's time range, and the problems (gaps, variables missing some hours,
 * overlapping files) reported, never thrown, as catalog.ts does for GeoTIFFs. readGridded then
 * fills one Float32Array per variable, index (t * height + row) * width + col, NaN where
 * missing, plus the wind speed at the chosen height (sqrt(u^2 + v^2), or a speed variable
 * such as si10 when only speed is there); the dataset also names the u/v pair of its other
 * height (`other`, features use it), and atHeight moves the speed to another height without
 * opening the files again. A period (from/to) and an area (north, west, south, east) restrict
 * both, so a long global store (ARCO-ERA5) is read only where it is needed. cube.ts turns a
 * dataset into the cube.
 * Formats, CF rules and names live in gridded/.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { DataError } from '../core/errors.js';
import { cellCount, describeGrid, gridDifferences, type GridSpec } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import { HOUR_MS, isoMinute } from '../core/time.js';
import { describeProblems as describeCatalogGaps, isGlob, listFiles, type Gap } from './catalog.js';
import { openStore } from './gridded/formats.js';
import { readFrames } from './gridded/frames.js';
import { describeOverlap, joinFiles, type MissingHours, type Overlap, type Segment } from './gridded/join.js';
import type { Area } from './gridded/cf.js';
import { analyseFile, type FileLayout } from './gridded/layout.js';
import { defaultTargetHeight, knownWindNames, otherPairHeight, type WindRole } from './gridded/names.js';
import { detectFormat, type GriddedFormat } from './gridded/store.js';

export type { Area } from './gridded/cf.js';
export type { GriddedFormat } from './gridded/store.js';
export type { MissingHours, Overlap } from './gridded/join.js';
export type { WindComponent, WindRole } from './gridded/names.js';

export interface GriddedOptions {
  /** Variables to read (--variables): ERA5 short names or the files' own names. Default: all wind. */
  variables?: string[];
  /** Height of the wind speed, metres (--target-height). Default: 100 when present, else 10. */
  height?: number;
  /** Only hours from..to (epoch ms, inclusive): a period of a long store such as ARCO-ERA5. */
  from?: number;
  to?: number;
  /** Only the cells whose centres lie in this box (degrees; CDS order north, west, south, east). */
  area?: Area;
}

export interface GriddedVariable {
  /** The windcast name: the ERA5 short name when known (u100), else the file's own name. */
  name: string;
  /** What the files call it (10m_u_component_of_wind in ARCO stores). */
  sourceNames: string[];
  units: string;
  longName: string;
  /** Set for wind components and speeds. */
  wind?: WindRole;
}

export interface GriddedFile {
  path: string;
  format: GriddedFormat;
  /** First and last hour in the file, epoch ms, and how many time steps it holds. */
  start: number;
  end: number;
  steps: number;
  /** Which coordinate gave the hours: "valid_time", "time", "time + step". */
  timeSource: string;
  /** Windcast names of the usable variables in this file. */
  variables: string[];
  /** Size and modification time that identify this version of the file (see fingerprintGridded). */
  stamp: { bytes: number; mtimeMs: number };
}

export interface SpeedSource {
  height: number;
  /** The variables the speed comes from: [u, v] (sqrt(u^2 + v^2)) or [speed]. */
  from: string[];
  derived: boolean;
}

/** The wind components at a second height (ERA5: u10/v10 beside a 100 m target, or u100/v100 beside 10 m). */
export interface OtherWind {
  height: number;
  /** [u, v] variable names. */
  from: [string, string];
}

export interface GriddedDataset {
  /** The file, glob or store given, resolved. */
  input: string;
  files: GriddedFile[];
  grid: GridSpec;
  /** Every hour any file holds for the selected variables: sorted, unique, epoch ms. */
  hours: Float64Array;
  /** Every usable variable on the grid, selected or not. */
  variables: GriddedVariable[];
  /** Variables on the grid that cannot be read, and why. */
  unusable: { name: string; why: string }[];
  /** What readGridded reads by default. */
  selected: string[];
  /** Heights (m) at which wind is available: a u/v pair or a speed variable. */
  heights: number[];
  speed: SpeedSource;
  /** The u/v pair at another height than the speed's, when the selection has one (features use it). */
  other: OtherWind | null;
  /** Missing hours between the first and last hour (no file has them). */
  gaps: Gap[];
  /** Hours some selected variable lacks although another has them. */
  missing: MissingHours[];
  /** Hours held twice: identical ones are read once, conflicting ones from the earlier file. */
  overlaps: Overlap[];
  /** What was done that a careful user wants to know (expver merged, seam crossed, ...). */
  notes: string[];
  /** How readGridded fills each variable (for readGridded only). */
  readonly plan: { layouts: FileLayout[]; segments: Map<string, Segment[]> };
}

export interface GriddedData {
  grid: GridSpec;
  /** Epoch ms of each hour, equal to the dataset's hours. */
  times: Float64Array;
  /** Per variable: (t * height + row) * width + col, north-up, physical units, NaN where missing. */
  fields: Map<string, Float32Array>;
  /** Wind speed (m/s) at speedHeight, same layout; the speed variable's own array when not derived. */
  speed: Float32Array;
  speedHeight: number;
}

/**
 * True when the input is for this module: a NetCDF/HDF5 file, a Zarr store, a glob or folder
 * of NetCDF files, or a ZIP/GRIB download that openGridded refuses with what to do instead.
 */
export function isGriddedInput(input: string): boolean {
  try {
    if (isGlob(input)) return listFiles(input, '*').files.some((f) => detectFormat(f) !== null);
    const format = detectFormat(input);
    if (format !== null) return true;
    return statSync(input).isDirectory() && netcdfFilesIn(input).length > 0;
  } catch {
    return false;
  }
}

function netcdfFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .map((n) => join(dir, n))
    .filter((p) => {
      const f = statSync(p).isFile() ? detectFormat(p) : null;
      return f === 'netcdf3' || f === 'netcdf4' || f === 'netcdf3-cdf5';
    })
    .sort();
}

/** The files (or the one store) an input names. */
function inputPaths(input: string): string[] {
  if (isGlob(input)) return listFiles(input, '*').files;
  const format = detectFormat(input);
  if (format !== null) return [input];
  let isDir = false;
  try {
    isDir = statSync(input).isDirectory();
  } catch {
    throw new DataError(input, 'no such file or folder');
  }
  if (!isDir) return [input]; // openStore says what the file is not
  const files = netcdfFilesIn(input);
  if (files.length === 0) throw new DataError(input, 'neither a Zarr store (no zarr.json, .zgroup or .zarray) nor a folder of NetCDF files');
  return files;
}

export async function openGridded(input: string, options: GriddedOptions = {}): Promise<GriddedDataset> {
  const paths = inputPaths(input);
  const layouts: FileLayout[] = [];
  for (const path of paths) {
    const store = await openStore(path);
    try {
      layouts.push(await analyseFile(store, options.area ? { area: options.area } : {}));
    } finally {
      store.close();
    }
  }
  const reference = layouts[0]!;
  for (const layout of layouts.slice(1)) {
    const diffs = gridDifferences(layout.grid, reference.grid);
    if (diffs.length > 0) throw new DataError(layout.path, `grid differs from ${basename(reference.path)}: ${diffs.join('; ')} (${describeGrid(layout.grid)} vs ${describeGrid(reference.grid)})`);
  }

  const variables = collectVariables(layouts);
  const unusable = new Map<string, string>();
  for (const l of layouts) for (const [name, why] of l.unusable) if (!variables.has(name)) unusable.set(name, `${basename(l.path)}: ${name} ${why}`);
  const { selected, speed, heights, other } = choose(input, variables, unusable, options);

  const from = options.from ?? -Infinity;
  const to = options.to ?? Infinity;
  const join = await joinFiles(layouts, selected, (file) => openStore(layouts[file]!.path), (t) => t >= from && t <= to);
  if (join.hours.length === 0) {
    const first = Math.min(...layouts.map((l) => extent(l.times).start));
    const last = Math.max(...layouts.map((l) => extent(l.times).end));
    throw new DataError(input, `no hours between ${isoMinute(Number.isFinite(from) ? from : first)} and ${isoMinute(Number.isFinite(to) ? to : last)}: the data hold ${isoMinute(first)}..${isoMinute(last)}`);
  }
  const notes = fileNotes(layouts);
  for (const o of join.overlaps) if (o.identical) notes.push(`${describeOverlap(o)}: identical values, read once`);
  return {
    input: resolve(input),
    files: layouts.map((l) => ({
      path: l.path,
      format: l.format,
      ...extent(l.times),
      steps: l.times.length,
      timeSource: l.timeSource,
      variables: [...l.variables.keys()],
      stamp: stampOf(l),
    })),
    grid: reference.grid,
    hours: Float64Array.from(join.hours),
    variables: [...variables.values()],
    unusable: [...unusable].map(([name, why]) => ({ name, why })),
    selected,
    heights,
    speed,
    other,
    gaps: join.gaps,
    missing: join.missing,
    overlaps: join.overlaps,
    notes,
    plan: { layouts, segments: join.segments },
  };
}

/**
 * A file's size and mtime; for a Zarr store, those of its metadata files and of the folders of
 * the arrays read (a folder's mtime changes when chunks are added or removed; chunks rewritten
 * in place go unseen, a price for not stat-ing the million chunk files of an ARCO store).
 */
function stampOf(layout: FileLayout): { bytes: number; mtimeMs: number } {
  if (!layout.format.startsWith('zarr')) {
    const st = statSync(layout.path);
    return { bytes: st.size, mtimeMs: st.mtimeMs };
  }
  const meta = ['zarr.json', '.zgroup', '.zattrs', '.zmetadata', '.zarray'];
  const paths = [layout.path, ...[...layout.variables.values()].map((v) => join(layout.path, v.sourceName))];
  let bytes = 0;
  let mtimeMs = 0;
  for (const p of paths) {
    for (const m of ['', ...meta]) {
      try {
        const st = statSync(m === '' ? p : join(p, m));
        if (m !== '') bytes += st.size;
        mtimeMs = Math.max(mtimeMs, st.mtimeMs);
      } catch {
        // not every metadata file exists in every Zarr version
      }
    }
  }
  return { bytes, mtimeMs };
}

/**
 * A short hex digest of what readGridded would return: the files' names and stamps, the grid,
 * the hours, the variables read and the speed's source. Equal digests, equal cubes; for the
 * cube cache and a checkpoint's record of its training data.
 */
export function fingerprintGridded(dataset: GriddedDataset): string {
  const h = createHash('sha256');
  h.update('windcast-gridded-v1\n');
  for (const f of dataset.files) h.update(`${basename(f.path)}\t${f.stamp.bytes}\t${f.stamp.mtimeMs}\n`);
  const g = dataset.grid;
  h.update(`${g.width}x${g.height} ${g.lon0} ${g.lat0} ${g.dLon} ${g.dLat}\n`);
  h.update(`${dataset.hours.length} ${dataset.hours[0]} ${dataset.hours[dataset.hours.length - 1]}\n`);
  // Sorted: the same variables asked for in another order read the same cube.
  h.update(`${[...dataset.selected].sort().join(',')} speed ${dataset.speed.height} ${dataset.speed.from.join(',')}\n`);
  return h.digest('hex').slice(0, 20);
}

/** Each file's notes once: "note" for one file or all of them, "a.nc, b.nc: note" otherwise. */
function fileNotes(layouts: FileLayout[]): string[] {
  const files = new Map<string, string[]>();
  for (const l of layouts) for (const n of l.notes) files.set(n, [...(files.get(n) ?? []), basename(l.path)]);
  return [...files].map(([note, names]) => (layouts.length === 1 ? note : names.length === layouts.length ? `${note} (all ${names.length} files)` : `${names.join(', ')}: ${note}`));
}

/** First and last of many hours (a loop: ARCO-ERA5 has more hours than a spread can pass). */
function extent(times: number[]): { start: number; end: number } {
  let start = Infinity;
  let end = -Infinity;
  for (const t of times) {
    if (t < start) start = t;
    if (t > end) end = t;
  }
  return { start, end };
}

function collectVariables(layouts: FileLayout[]): Map<string, GriddedVariable> {
  const out = new Map<string, GriddedVariable>();
  for (const l of layouts) {
    for (const v of l.variables.values()) {
      const seen = out.get(v.name);
      if (seen) {
        if (!seen.sourceNames.includes(v.sourceName)) seen.sourceNames.push(v.sourceName);
        continue;
      }
      out.set(v.name, { name: v.name, sourceNames: [v.sourceName], units: v.units, longName: v.longName, ...(v.wind ? { wind: v.wind } : {}) });
    }
  }
  return out;
}

/** The variables to read and where the speed comes from; DataErrors for unknown names or no wind. */
function choose(input: string, variables: Map<string, GriddedVariable>, unusable: Map<string, string>, options: GriddedOptions): { selected: string[]; speed: SpeedSource; heights: number[]; other: OtherWind | null } {
  let selected: string[];
  if (options.variables && options.variables.length > 0) {
    selected = options.variables.map((asked) => {
      const v = variables.get(asked) ?? [...variables.values()].find((x) => x.sourceNames.includes(asked));
      if (v) return v.name;
      const why = unusable.get(asked);
      if (why) throw new DataError(input, `cannot read variable ${asked}: ${why}`);
      throw new DataError(input, `no variable "${asked}" (found: ${[...variables.keys()].join(', ') || 'none'})`);
    });
    selected = [...new Set(selected)];
  } else {
    selected = [...variables.values()].filter((v) => v.wind).map((v) => v.name);
  }
  const wind = selected.map((n) => variables.get(n)!).filter((v) => v.wind);
  const pairAt = (h: number): string[] | null => {
    const u = wind.find((v) => v.wind!.component === 'u' && v.wind!.height === h);
    const v = wind.find((x) => x.wind!.component === 'v' && x.wind!.height === h);
    return u && v ? [u.name, v.name] : null;
  };
  const speedAt = (h: number) => wind.find((v) => v.wind!.component === 'speed' && v.wind!.height === h)?.name;
  const heights = [...new Set(wind.map((v) => v.wind!.height))].filter((h) => pairAt(h) || speedAt(h)).sort((a, b) => a - b);
  if (heights.length === 0) {
    const have = [...variables.keys()].join(', ') || 'none';
    const lone = wind.map((v) => v.name);
    const hint = lone.length > 0 ? ` (${lone.join(', ')} without its other component)` : '';
    throw new DataError(input, `no wind${options.variables ? ' in the chosen variables' : ''}${hint}: windcast needs u and v at one height (${knownWindNames().filter((n) => /^[uv]/.test(n)).join(', ')}) or a wind speed (si10); found ${have}`);
  }
  const height = options.height ?? defaultTargetHeight(heights);
  if (!heights.includes(height)) {
    throw new DataError(input, `no wind at ${height} m${options.variables ? ' in the chosen variables' : ''}: wind is available at ${heights.map((h) => `${h} m`).join(' and ')}`);
  }
  const pair = pairAt(height);
  const speed: SpeedSource = pair ? { height, from: pair, derived: true } : { height, from: [speedAt(height)!], derived: false };
  const otherHeight = otherPairHeight(heights.filter((h) => pairAt(h)), height);
  const other = otherHeight === null ? null : { height: otherHeight, from: pairAt(otherHeight) as [string, string] };
  return { selected, speed, heights, other };
}

/**
 * The same dataset with its speed at another of its heights (and the other u/v pair chosen
 * again): what openGridded with that height would give, without opening the files again.
 */
export function atHeight(dataset: GriddedDataset, height: number): GriddedDataset {
  const variables = new Map(dataset.variables.map((v) => [v.name, v]));
  const unusable = new Map(dataset.unusable.map((u) => [u.name, u.why]));
  const { speed, other } = choose(dataset.input, variables, unusable, { variables: dataset.selected, height });
  return { ...dataset, speed, other };
}

/**
 * Read the chosen variables (default: the dataset's selection) and the speed, whole: the slab
 * reader's one frame loop over all the hours at once (a file's store open only while it is read).
 */
export async function readGridded(dataset: GriddedDataset, options: { variables?: string[]; progress?: Progress } = {}): Promise<GriddedData> {
  const names = options.variables ?? dataset.selected;
  requireSelected(dataset, [...names, ...dataset.speed.from]);
  const wanted = [...new Set([...names, ...dataset.speed.from])];
  const hours = dataset.hours.length;
  const size = cellCount(dataset.grid) * hours;
  const fields = new Map<string, Float32Array>();
  for (const n of wanted) fields.set(n, new Float32Array(size));
  const task = options.progress?.start({ unit: 'files', total: dataset.files.length, label: 'reading gridded data' });
  const reader = openGriddedSlabs(dataset, wanted, { onFilePassed: (path) => task?.tick(1, basename(path)) });
  try {
    await reader.read(0, hours, fields);
  } finally {
    reader.close();
  }
  task?.done();
  // The speed variable's own array, or sqrt(u^2 + v^2) of the pair.
  const [source, v] = dataset.speed.from.map((n) => fields.get(n)!);
  const speed = dataset.speed.derived ? new Float32Array(size) : source!;
  if (dataset.speed.derived) speedFromUv(source!, v!, speed, size);
  for (const n of wanted) if (!names.includes(n)) fields.delete(n);
  return { grid: dataset.grid, times: Float64Array.from(dataset.hours), fields, speed, speedHeight: dataset.speed.height };
}

/** The wind speed of the first `count` values of u and v: sqrt(u^2 + v^2), the double result rounded to float32 on store. */
export function speedFromUv(u: Float32Array, v: Float32Array, out: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) out[i] = Math.sqrt(u[i]! * u[i]! + v[i]! * v[i]!);
}

/** Variables to read must be ones the dataset was opened with (readGridded, openGriddedSlabs). */
function requireSelected(dataset: GriddedDataset, names: readonly string[]): void {
  for (const n of names) {
    if (!dataset.plan.segments.has(n)) throw new DataError(dataset.input, `variable ${n} was not selected when the data were opened (selected: ${dataset.selected.join(', ')})`);
  }
}

/** Hours of a dataset read a slab at a time (openGriddedSlabs). */
export interface GriddedSlabReader {
  /**
   * Hours [first, first + count) of each named variable into out (count x cells each, the
   * layout of readGridded's fields for those hours; NaN where a variable lacks an hour).
   */
  read(first: number, count: number, out: Map<string, Float32Array>): Promise<void>;
  close(): void;
}

/**
 * The dataset's hours a slab at a time (readGridded reads them all as one slab; gridded-cells.ts
 * builds the cell-major cube, in memory or on disk, slab by slab): per slab, file by file in
 * order, each variable's segments cut to the slab, so every value is the same however the hours
 * are split. A file's store stays open while later slabs still read it (one NetCDF4 header parse
 * per file, not per slab) and is closed as soon as a slab has passed its last hour, so a glob of
 * thousands of files has a file or two open at a time. `onFilePassed` hears each file once, when
 * the slabs are past it (progress).
 */
export function openGriddedSlabs(dataset: GriddedDataset, names: string[], options: { onFilePassed?: (path: string) => void } = {}): GriddedSlabReader {
  requireSelected(dataset, names);
  const { layouts, segments } = dataset.plan;
  const cells = cellCount(dataset.grid);
  // Per file, the segments it gives each variable, and the last hour it is read for (-1: never).
  const reads = layouts.map(() => [] as { name: string; segment: Segment }[]);
  for (const name of names) for (const segment of segments.get(name)!) reads[segment.file]!.push({ name, segment });
  const lastHour = reads.map((r) => r.reduce((m, { segment: s }) => Math.max(m, s.dstStart + s.count - 1), -1));
  const open = new Map<number, Awaited<ReturnType<typeof openStore>>>();
  let passed = 0;
  const close = () => {
    for (const store of open.values()) store.close();
    open.clear();
  };
  return {
    async read(first, count, out) {
      const end = first + count;
      for (const n of names) {
        const target = out.get(n);
        if (!target || target.length < count * cells) throw new Error(`slab of ${n} holds ${target?.length ?? 0} values, expected ${count} hours x ${cells} cells`);
        target.fill(NaN, 0, count * cells);
      }
      for (let file = passed; file < layouts.length; file++) {
        const layout = layouts[file]!;
        for (const { name, segment: s } of reads[file]!) {
          const lo = Math.max(first, s.dstStart);
          const hi = Math.min(end, s.dstStart + s.count);
          if (lo >= hi) continue;
          let store = open.get(file);
          if (!store) {
            store = await openStore(layout.path);
            open.set(file, store);
          }
          await readFrames(store, layout, layout.variables.get(name)!, s.srcStart + (lo - s.dstStart), hi - lo, { out: out.get(name)!, outFrame: lo - first });
        }
        if (lastHour[file]! < end) {
          open.get(file)?.close();
          open.delete(file);
        }
        // Heard as the files are read (a whole-period slab reads them all); a file whose hours
        // reach past this slab waits for a later one, and so do the files after it.
        for (; passed <= file && lastHour[passed]! < end; passed++) options.onFilePassed?.(layouts[passed]!.path);
      }
    },
    close,
  };
}

/** One-line descriptions of gaps, missing hours, conflicting overlaps and a non-hourly step. */
export function describeGriddedProblems(dataset: GriddedDataset, limit = 5): string[] {
  const out: string[] = [];
  const h = dataset.hours;
  if (h.length > 2) {
    const step = h[1]! - h[0]!;
    if (step > HOUR_MS && h.every((t, i) => i === 0 || t - h[i - 1]! === step)) {
      return [`the time step is ${step / HOUR_MS} h: windcast needs hourly data (${isoMinute(h[0]!)}..${isoMinute(h[h.length - 1]!)})`];
    }
  }
  out.push(...describeCatalogGaps({ input: dataset.input, entries: [], gaps: dataset.gaps, duplicates: [] }, limit));
  for (const m of dataset.missing) {
    const list = m.gaps.slice(0, limit).map((g) => (g.hours === 1 ? isoMinute(g.from) : `${isoMinute(g.from)}..${isoMinute(g.to)} (${g.hours} h)`));
    out.push(`${m.variable} lacks ${m.hours} hour${m.hours === 1 ? '' : 's'} the other variables have: ${list.join(', ')}${m.gaps.length > limit ? ` and ${m.gaps.length - limit} more` : ''}`);
  }
  const conflicts = dataset.overlaps.filter((o) => !o.identical);
  if (conflicts.length > 0) {
    const hours = conflicts.reduce((s, o) => s + o.hours, 0);
    out.push(`${hours} hour${hours === 1 ? '' : 's'} held twice with different values: ${conflicts.slice(0, limit).map(describeOverlap).join('; ')}${conflicts.length > limit ? ` and ${conflicts.length - limit} more` : ''}`);
  }
  return out;
}

/** Throw a DataError naming every problem unless the hours are consecutive, complete and unambiguous. */
export function requireConsecutiveHours(dataset: GriddedDataset): void {
  const problems = describeGriddedProblems(dataset);
  if (problems.length > 0) throw new DataError(dataset.input, `hours are not consecutive: ${problems.join('; ')}`);
}
