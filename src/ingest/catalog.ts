/**
 * Catalog: which hourly GeoTIFFs make a dataset, in time order, and whether the hours are
 * consecutive.
 *
 * The input is a folder (files matching ingest.glob inside it) or a glob such as
 * "data/era5/2024-01-*.tif". Each file's hour comes from its name (ISO "2024-01-01T06" or
 * "yyyymmddHH", see timePattern) or from its TIFF metadata. listCatalog never fails on gaps
 * or duplicates: it reports exactly which hours are missing or doubled, so inspect can show
 * them; requireConsecutive turns them into a DataError for training.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DataError } from '../core/errors.js';
import { readRasterHeader } from './raster.js';
import { HOUR_MS, isoMinute } from '../core/time.js';

export type TimePattern = 'auto' | 'iso' | 'yyyymmddHH' | 'metadata';

export interface CatalogOptions {
  /** File pattern inside a folder (ignored when the input itself is a glob). */
  glob: string;
  timePattern: TimePattern;
}

export interface CatalogEntry {
  path: string;
  /** Epoch ms (UTC) of the file's hour. */
  time: number;
  /** Where the hour came from. */
  timeSource: 'iso' | 'yyyymmddHH' | 'metadata';
  size: number;
  mtimeMs: number;
}

/** A run of missing hours between two present ones. */
export interface Gap {
  /** First and last missing hour, epoch ms. */
  from: number;
  to: number;
  hours: number;
}

export interface Duplicate {
  time: number;
  files: string[];
}

export interface Catalog {
  /** The folder or glob given, resolved. */
  input: string;
  /** Files in time order (duplicates kept, in name order). */
  entries: CatalogEntry[];
  gaps: Gap[];
  duplicates: Duplicate[];
}

const GLOB_CHARS = /[*?[]/;

export function isGlob(input: string): boolean {
  return GLOB_CHARS.test(input);
}

/** Translate a file-name glob (*, ?, [abc]) into a RegExp; no path separators allowed. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) { re += '\\['; continue; }
      const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
      re += `[${body}]`;
      i = end;
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The files of a folder or a glob, sorted by name. */
export function listFiles(input: string, glob: string): { dir: string; files: string[] } {
  let dir: string;
  let pattern: string;
  if (isGlob(input)) {
    dir = dirname(input);
    pattern = basename(input);
    if (isGlob(dir)) throw new DataError(input, 'wildcards are only supported in the file name, not in folder names');
  } else {
    dir = input;
    pattern = glob;
  }
  let names: string[];
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) throw new DataError(dir, 'not a folder (give a folder of hourly GeoTIFFs or a glob such as "dir/*.tif")');
    names = readdirSync(dir);
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(dir, `cannot read folder: ${(err as Error).message}`, { cause: err });
  }
  const re = globToRegExp(pattern);
  const files = names
    .filter((n) => re.test(n) && !n.startsWith('.'))
    .map((n) => join(dir, n))
    .filter((p) => {
      try {
        return statSync(p).isFile();
      } catch (err) {
        throw new DataError(p, `cannot read: ${(err as Error).message}`, { cause: err });
      }
    })
    .sort();
  if (files.length === 0) throw new DataError(isGlob(input) ? input : join(dir, pattern), 'no files match');
  return { dir, files };
}

// ISO: 2024-01-01T06, 2024-01-01T06:00, 2024-01-01T0600, 2024-01-01_06-00-00Z, 2024-01-01 06.
const ISO_RE = /(?<!\d)(\d{4})-(\d{2})-(\d{2})[T_ ](\d{2})(?:[:-]?(\d{2})(?:[:-]?(\d{2}))?)?(?!\d)/;
// yyyymmddHH: 2024010106, 20240101_06, 20240101T06.
const COMPACT_RE = /(?<!\d)(\d{4})(\d{2})(\d{2})[T_-]?(\d{2})(?!\d)/;

function toTime(path: string, m: RegExpExecArray): number {
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => (m[i] === undefined ? 0 : Number(m[i])));
  const t = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  const back = new Date(t);
  if (mo! < 1 || mo! > 12 || back.getUTCDate() !== d || h! > 23 || mi! > 59 || s! > 59) {
    throw new DataError(path, `"${m[0]}" in the file name is not a valid date and hour`);
  }
  if (mi !== 0 || s !== 0) throw new DataError(path, `"${m[0]}" is not on a whole hour: windcast needs hourly files`);
  return t;
}

/** The hour in a file name, or null when the pattern does not occur. */
export function timeFromName(path: string, pattern: 'iso' | 'yyyymmddHH'): number | null {
  const name = basename(path);
  const m = (pattern === 'iso' ? ISO_RE : COMPACT_RE).exec(name);
  return m ? toTime(path, m) : null;
}

async function timeOf(path: string, pattern: TimePattern): Promise<{ time: number; source: CatalogEntry['timeSource'] }> {
  if (pattern === 'iso' || pattern === 'auto') {
    const t = timeFromName(path, 'iso');
    if (t !== null) return { time: t, source: 'iso' };
  }
  if (pattern === 'yyyymmddHH' || pattern === 'auto') {
    const t = timeFromName(path, 'yyyymmddHH');
    if (t !== null) return { time: t, source: 'yyyymmddHH' };
  }
  if (pattern === 'metadata' || pattern === 'auto') {
    const header = await readRasterHeader(path);
    if (header.metadataTime !== null) {
      if (header.metadataTime % HOUR_MS !== 0) throw new DataError(path, `metadata time ${new Date(header.metadataTime).toISOString()} is not on a whole hour`);
      return { time: header.metadataTime, source: 'metadata' };
    }
  }
  const missing = {
    auto: 'no ISO (2024-01-01T06) or yyyymmddHH (2024010106) hour in the name and no TIFFTAG_DATETIME or GDAL time item',
    iso: 'no ISO hour (e.g. 2024-01-01T06) in the name',
    yyyymmddHH: 'no yyyymmddHH hour (e.g. 2024010106) in the name',
    metadata: 'no TIFFTAG_DATETIME tag or GDAL time metadata item',
  }[pattern];
  throw new DataError(path, `no timestamp: ${missing} (see ingest.timePattern)`);
}


/** List, date and order the files; gaps and duplicates are reported, not thrown. */
export async function listCatalog(input: string, options: CatalogOptions): Promise<Catalog> {
  const { files } = listFiles(input, options.glob);
  const entries: CatalogEntry[] = [];
  for (const path of files) {
    const { time, source } = await timeOf(path, options.timePattern);
    const st = statSync(path);
    entries.push({ path, time, timeSource: source, size: st.size, mtimeMs: st.mtimeMs });
  }
  entries.sort((a, b) => a.time - b.time || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const gaps: Gap[] = [];
  const duplicates: Duplicate[] = [];
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1]!;
    const cur = entries[i]!;
    if (cur.time === prev.time) {
      const last = duplicates[duplicates.length - 1];
      if (last && last.time === cur.time) last.files.push(cur.path);
      else duplicates.push({ time: cur.time, files: [prev.path, cur.path] });
    } else if (cur.time - prev.time > HOUR_MS) {
      const hours = Math.round((cur.time - prev.time) / HOUR_MS) - 1;
      gaps.push({ from: prev.time + HOUR_MS, to: cur.time - HOUR_MS, hours });
    }
  }
  return { input: resolve(input), entries, gaps, duplicates };
}

/** One-line descriptions of the catalog's gaps and duplicates (first few of each). */
export function describeProblems(catalog: Catalog, limit = 5): string[] {
  const out: string[] = [];
  if (catalog.gaps.length > 0) {
    const missing = catalog.gaps.reduce((s, g) => s + g.hours, 0);
    const list = catalog.gaps.slice(0, limit).map((g) => (g.hours === 1 ? isoMinute(g.from) : `${isoMinute(g.from)}..${isoMinute(g.to)} (${g.hours} h)`));
    const more = catalog.gaps.length > limit ? ` and ${catalog.gaps.length - limit} more gaps` : '';
    out.push(`${missing} missing hour${missing === 1 ? '' : 's'} in ${catalog.gaps.length} gap${catalog.gaps.length === 1 ? '' : 's'}: ${list.join(', ')}${more}`);
  }
  if (catalog.duplicates.length > 0) {
    const list = catalog.duplicates.slice(0, limit).map((d) => `${isoMinute(d.time)} in ${d.files.map((f) => basename(f)).join(' and ')}`);
    const more = catalog.duplicates.length > limit ? ` and ${catalog.duplicates.length - limit} more` : '';
    out.push(`${catalog.duplicates.length} duplicate hour${catalog.duplicates.length === 1 ? '' : 's'}: ${list.join(', ')}${more}`);
  }
  return out;
}

/** Throw a DataError naming the missing and duplicate hours unless the hours are consecutive. */
export function requireConsecutive(catalog: Catalog): void {
  const problems = describeProblems(catalog);
  if (problems.length > 0) {
    throw new DataError(catalog.input, `hours are not consecutive: ${problems.join('; ')}`);
  }
}

/** The catalog a training run needs: listed, ordered and consecutive. */
export async function buildCatalog(input: string, options: CatalogOptions): Promise<Catalog> {
  const catalog = await listCatalog(input, options);
  requireConsecutive(catalog);
  return catalog;
}
