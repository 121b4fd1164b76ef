/**
 * Sites: where wind-farm users want the forecast, as lat/lon points.
 *
 * Parses `--points LAT,LON` (optionally `NAME=LAT,LON`) and `--points-file` CSVs, and maps
 * each site onto a GridSpec: the nearest cell, or the four cells around it for bilinear
 * interpolation. Longitudes are accepted in either convention (-180..180 or 0..360) whatever
 * the grid uses; on a global grid the last column neighbours the first. A site outside a
 * regional grid is an error naming the site, never a silently clamped value.
 */
import { readFileSync } from 'node:fs';
import { DataError, WindcastError } from '../core/errors.js';
import { colLon, rowLat, wrapsLongitude, type GridSpec } from '../core/grid.js';

export interface Site {
  name: string;
  /** Degrees north, -90..90. */
  lat: number;
  /** Degrees east, as given (either convention). */
  lon: number;
}

export type Interpolation = 'nearest' | 'bilinear';

/** A usage error in a --points value (exit code 2, like a bad flag). */
export class PointsError extends WindcastError {
  constructor(message: string) {
    super('usage', message);
    this.name = 'PointsError';
  }
}

/** Round a coordinate for names and messages (6 decimals is ~0.1 m). */
function fmt(x: number): string {
  return String(Math.round(x * 1e6) / 1e6);
}

function checkCoordinates(lat: number, lon: number, where: string): string | undefined {
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return `${where}: latitude and longitude must be numbers`;
  if (lat < -90 || lat > 90) return `${where}: latitude ${lat} is outside -90..90`;
  if (lon < -180 || lon > 360) return `${where}: longitude ${lon} is outside -180..360`;
  return undefined;
}

/** Parse one --points value: "LAT,LON" or "NAME=LAT,LON" (degrees). */
export function parsePoint(value: string): Site {
  const eq = value.indexOf('=');
  const name = eq >= 0 ? value.slice(0, eq).trim() : '';
  const coords = (eq >= 0 ? value.slice(eq + 1) : value).split(',').map((s) => s.trim());
  if (coords.length !== 2 || coords.some((s) => s === '')) {
    throw new PointsError(`--points "${value}": expected LAT,LON in degrees (e.g. 55.7,12.6) or NAME=LAT,LON`);
  }
  const lat = Number(coords[0]);
  const lon = Number(coords[1]);
  const problem = checkCoordinates(lat, lon, `--points "${value}"`);
  if (problem) throw new PointsError(problem);
  if (eq >= 0 && name === '') throw new PointsError(`--points "${value}": empty site name before "="`);
  return { name: name || `${fmt(lat)},${fmt(lon)}`, lat, lon };
}

/** Split one CSV line; handles double-quoted fields with "" escapes. */
function splitCsvLine(line: string): string[] | undefined {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field.trim() === '') {
      quoted = true;
      wasQuoted = true;
      field = '';
    } else if (ch === ',') {
      out.push(wasQuoted ? field : field.trim());
      field = '';
      wasQuoted = false;
    } else field += ch;
  }
  if (quoted) return undefined;
  out.push(wasQuoted ? field : field.trim());
  return out;
}

/**
 * Read sites from a CSV: columns name,lat,lon or lat,lon, with or without a header row
 * (header names: name/site/id, lat/latitude, lon/lng/long/longitude, in any order). Blank
 * lines and lines starting with # are skipped. Errors name the file and the line.
 */
export function readPointsFile(path: string): Site[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(path, code === 'ENOENT' ? 'points file not found' : `cannot read points file (${(err as Error).message})`, { cause: err });
  }
  return parsePointsCsv(text, path);
}

/** The parser behind readPointsFile, on text (source names the file in errors). */
export function parsePointsCsv(text: string, source: string): Site[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let columns: { name: number; lat: number; lon: number } | undefined;
  let width = 0;
  const sites: Site[] = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!;
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    const fields = splitCsvLine(raw);
    if (!fields) throw new DataError(source, `line ${lineNo}: unterminated quote`);
    if (!columns) {
      // A header names a coordinate column, or has a non-number where a longitude would be.
      const lower = fields.map((f) => f.toLowerCase());
      const last = fields[fields.length - 1]!;
      const isHeader = lower.some((f) => /^(lat|latitude|lon|lng|long|longitude)$/.test(f)) || last === '' || !Number.isFinite(Number(last));
      if (isHeader) {
        const find = (re: RegExp) => lower.findIndex((f) => re.test(f));
        const lat = find(/^(lat|latitude)$/);
        const lon = find(/^(lon|lng|long|longitude)$/);
        const name = find(/^(name|site|id|station)$/);
        if (lat < 0 || lon < 0) {
          throw new DataError(source, `line ${lineNo}: header "${raw.trim()}" needs columns lat and lon (and optionally name)`);
        }
        columns = { name, lat, lon };
        width = fields.length;
        continue;
      }
      if (fields.length === 2) columns = { name: -1, lat: 0, lon: 1 };
      else if (fields.length === 3) columns = { name: 0, lat: 1, lon: 2 };
      else throw new DataError(source, `line ${lineNo}: expected name,lat,lon or lat,lon, got ${fields.length} columns`);
      width = fields.length;
    }
    if (fields.length !== width) {
      throw new DataError(source, `line ${lineNo}: expected ${width} columns like the first row, got ${fields.length}`);
    }
    const latText = fields[columns.lat]!;
    const lonText = fields[columns.lon]!;
    const lat = latText === '' ? NaN : Number(latText);
    const lon = lonText === '' ? NaN : Number(lonText);
    if (!Number.isFinite(lat)) throw new DataError(source, `line ${lineNo}: latitude "${latText}" is not a number`);
    if (!Number.isFinite(lon)) throw new DataError(source, `line ${lineNo}: longitude "${lonText}" is not a number`);
    const problem = checkCoordinates(lat, lon, `line ${lineNo}`);
    if (problem) throw new DataError(source, problem);
    const name = columns.name >= 0 ? fields[columns.name]! : '';
    sites.push({ name: name || `${fmt(lat)},${fmt(lon)}`, lat, lon });
  }
  if (sites.length === 0) throw new DataError(source, 'no sites in the points file (expected rows of name,lat,lon or lat,lon)');
  return sites;
}

/** How one site is read off the grid: up to four cells and their weights (summing to 1). */
export interface SitePlan {
  site: Site;
  method: Interpolation;
  /** Cell indices row * width + col into a north-up frame. */
  cells: number[];
  weights: number[];
  /** The nearest cell: its indices and centre, for the report. */
  nearest: { row: number; col: number; lat: number; lon: number };
}

/**
 * Fractional column of a longitude on a grid, choosing the 360-degree shift that puts it
 * inside (or closest to) the grid's longitude span, so -10 and 350 are the same site.
 */
function fractionalColumn(grid: GridSpec, lon: number): number {
  const west = grid.lon0 - grid.dLon / 2;
  const span = grid.width * grid.dLon;
  let best = NaN;
  let bestOut = Infinity;
  for (const shift of [-720, -360, 0, 360, 720]) {
    const l = lon + shift;
    const out = l < west ? west - l : l > west + span ? l - (west + span) : 0;
    if (out < bestOut - 1e-9) {
      bestOut = out;
      best = l;
    }
  }
  return (best - grid.lon0) / grid.dLon;
}

/** Map a site onto the grid; a site outside a regional grid is a PointsError naming it. */
export function planSite(grid: GridSpec, site: Site, method: Interpolation): SitePlan {
  const wraps = wrapsLongitude(grid);
  const fc = fractionalColumn(grid, site.lon);
  const fr = (grid.lat0 - site.lat) / grid.dLat;
  // The grid covers half a cell beyond the outermost centres (a point-grid's samples stand
  // for the same cells); a tiny tolerance absorbs decimal degrees like 0.1 + 0.2.
  const tol = 1e-9;
  const outsideCols = !wraps && (fc < -0.5 - tol || fc > grid.width - 0.5 + tol);
  const outsideRows = fr < -0.5 - tol || fr > grid.height - 0.5 + tol;
  if (outsideCols || outsideRows) {
    const west = grid.lon0 - grid.dLon / 2;
    const east = colLon(grid, grid.width - 1) + grid.dLon / 2;
    const north = grid.lat0 + grid.dLat / 2;
    const south = rowLat(grid, grid.height - 1) - grid.dLat / 2;
    throw new PointsError(
      `site "${site.name}" (${fmt(site.lat)}, ${fmt(site.lon)}) is outside the grid (lon ${fmt(west)}..${fmt(east)}, lat ${fmt(south)}..${fmt(north)})`,
    );
  }
  const wrapCol = (c: number): number => (wraps ? ((c % grid.width) + grid.width) % grid.width : Math.max(0, Math.min(grid.width - 1, c)));
  const clampRow = (r: number): number => Math.max(0, Math.min(grid.height - 1, r));
  const nRow = clampRow(Math.round(fr));
  const nCol = wrapCol(Math.round(fc));
  const nearest = { row: nRow, col: nCol, lat: rowLat(grid, nRow), lon: colLon(grid, nCol) };
  if (method === 'nearest') {
    return { site, method, cells: [nRow * grid.width + nCol], weights: [1], nearest };
  }
  // Bilinear between the four surrounding cell centres. Beyond the outermost centres of a
  // regional grid (or of the polar rows) the weights collapse onto the edge cells, i.e.
  // constant extrapolation over the last half cell.
  const c0 = Math.floor(fc);
  const r0 = Math.floor(fr);
  const tx = fc - c0;
  const ty = fr - r0;
  const cols = [wrapCol(c0), wrapCol(c0 + 1)];
  const rows = [clampRow(r0), clampRow(r0 + 1)];
  const weightsByIndex = new Map<number, number>();
  const wx = [1 - tx, tx];
  const wy = [1 - ty, ty];
  for (let j = 0; j < 2; j++) {
    for (let i = 0; i < 2; i++) {
      const w = wy[j]! * wx[i]!;
      if (w <= 0) continue;
      const idx = rows[j]! * grid.width + cols[i]!;
      weightsByIndex.set(idx, (weightsByIndex.get(idx) ?? 0) + w);
    }
  }
  return { site, method, cells: [...weightsByIndex.keys()], weights: [...weightsByIndex.values()], nearest };
}

/**
 * Value of a site from per-cell values: the weighted mean over the plan's cells, ignoring
 * cells that are NaN (nodata, e.g. a masked coast) and renormalising the remaining weights;
 * NaN when all are missing. `valueOf(k)` returns the value of plan.cells[k].
 */
export function sampleSite(plan: SitePlan, valueOf: (k: number) => number): number {
  let sum = 0;
  let wsum = 0;
  for (let k = 0; k < plan.cells.length; k++) {
    const v = valueOf(k);
    if (Number.isNaN(v)) continue;
    sum += v * plan.weights[k]!;
    wsum += plan.weights[k]!;
  }
  return wsum > 0 ? sum / wsum : NaN;
}

/** Sample a whole north-up frame (one hour) at a site. */
export function sampleFrame(plan: SitePlan, frame: ArrayLike<number>): number {
  return sampleSite(plan, (k) => frame[plan.cells[k]!]!);
}

/** Sites from the --points values and an optional --points-file, in the order given. */
export function collectSites(points: string[] | undefined, pointsFile: string | undefined): Site[] {
  const sites = (points ?? []).map(parsePoint);
  if (pointsFile) sites.push(...readPointsFile(pointsFile));
  return sites;
}
