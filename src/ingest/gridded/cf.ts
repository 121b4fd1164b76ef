/**
 * CF conventions, the parts ERA5 files use: time units and calendars, packing
 * (scale_factor, add_offset, _FillValue, missing_value, valid range), and latitude/longitude
 * coordinates turned into our GridSpec (north-up in memory, the file's orientation and
 * longitude convention remembered). Every refusal is a DataError naming the file.
 */
import { DataError } from '../../core/errors.js';
import type { GridSpec } from '../../core/grid.js';
import { HOUR_MS, isoMinute } from '../../core/time.js';
import { attrNumber, attrNumbers, attrString, type NumericArray, type StoredType, type StoredVariable } from './store.js';

// ------------------------------------------------------------------------------------------
// Time

const UNIT_MS: Record<string, number> = {
  nanoseconds: 1e-6, nanosecond: 1e-6, ns: 1e-6,
  microseconds: 1e-3, microsecond: 1e-3, us: 1e-3,
  milliseconds: 1, millisecond: 1, ms: 1, msec: 1,
  seconds: 1000, second: 1000, secs: 1000, sec: 1000, s: 1000,
  minutes: 60_000, minute: 60_000, mins: 60_000, min: 60_000,
  hours: HOUR_MS, hour: HOUR_MS, hrs: HOUR_MS, hr: HOUR_MS, h: HOUR_MS,
  days: 86_400_000, day: 86_400_000, d: 86_400_000,
};

const CALENDARS = new Set(['standard', 'gregorian', 'proleptic_gregorian']);

export interface TimeUnits {
  /** Milliseconds per unit. */
  unitMs: number;
  /** Epoch ms of the reference date. */
  epochMs: number;
  text: string;
}

const REFERENCE_RE = /^(-?\d{1,4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2})(?::(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?)?)?\s*(Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?)?$/i;

/**
 * Days from 1970-01-01 to a date of the Julian calendar (the Julian day number formula; its
 * (m - 9) / 7 truncates towards zero, counting January and February with the year before).
 */
function julianCalendarDays(y: number, m: number, d: number): number {
  const jdn = 367 * y - Math.floor((7 * (y + 5001 + Math.trunc((m - 9) / 7))) / 4) + Math.floor((275 * m) / 9) + d + 1729777;
  return jdn - 2440588;
}

/**
 * "hours since 1900-01-01 00:00:00.0" and its calendar as a unit and a reference instant.
 * The standard (mixed Julian/Gregorian) calendar equals proleptic Gregorian after 1582-10-15;
 * an earlier reference date is read in the Julian calendar, as CF says.
 */
export function parseTimeUnits(path: string, variable: string, units: string | null, calendarAttr: string | null): TimeUnits {
  const calendar = (calendarAttr ?? 'standard').trim().toLowerCase();
  if (!CALENDARS.has(calendar)) {
    throw new DataError(path, `${variable} uses the "${calendarAttr}" calendar: windcast reads real hours only (calendar standard, gregorian or proleptic_gregorian)`);
  }
  const m = units ? /^\s*([a-zA-Z]+)\s+since\s+(.+?)\s*$/.exec(units) : null;
  if (!units || !m) throw new DataError(path, `${variable} has time units "${units ?? ''}": expected "<hours|seconds|days|...> since <date>"`);
  const unit = m[1]!.toLowerCase();
  const unitMs = UNIT_MS[unit];
  if (unitMs === undefined) {
    throw new DataError(path, `${variable} has time units "${units}": "${m[1]}" is not a fixed length of time (use seconds, minutes, hours or days)`);
  }
  const r = REFERENCE_RE.exec(m[2]!);
  if (!r) throw new DataError(path, `${variable} has time units "${units}": cannot read the reference date "${m[2]}"`);
  const [y, mo, d, h, mi] = [1, 2, 3, 4, 5].map((i) => Number(r[i] ?? 0)) as [number, number, number, number, number];
  const sec = Number(r[6] ?? 0);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec >= 61) {
    throw new DataError(path, `${variable} has time units "${units}": "${m[2]}" is not a valid date`);
  }
  let days: number;
  const gregorianStart = y > 1582 || (y === 1582 && (mo > 10 || (mo === 10 && d >= 15)));
  if (calendar !== 'proleptic_gregorian' && !gregorianStart) {
    if (y === 1582 && mo === 10 && d > 4) throw new DataError(path, `${variable} has time units "${units}": ${m[2]} does not exist in the standard calendar`);
    days = julianCalendarDays(y, mo, d);
  } else {
    const date = new Date(0);
    date.setUTCFullYear(y, mo - 1, d);
    if (date.getUTCDate() !== d) throw new DataError(path, `${variable} has time units "${units}": "${m[2]}" is not a valid date`);
    days = Math.round(date.getTime() / 86_400_000);
  }
  let zoneMs = 0;
  const zone = r[7];
  if (zone && /^[+-]/.test(zone)) {
    const z = /^([+-])(\d{1,2}):?(\d{2})?$/.exec(zone)!;
    zoneMs = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0)) * 60_000;
  }
  const epochMs = days * 86_400_000 + h * HOUR_MS + mi * 60_000 + Math.round(sec * 1000) - zoneMs;
  return { unitMs, epochMs, text: units };
}

/** Time values as epoch ms on whole hours; values within a second of an hour are snapped. */
export function decodeTimes(path: string, variable: string, values: NumericArray, units: TimeUnits): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const ms = units.epochMs + Number(values[i]!) * units.unitMs;
    if (!Number.isFinite(ms)) throw new DataError(path, `${variable}[${i}] is not a valid time (${String(values[i])} ${units.text})`);
    const hour = Math.round(ms / HOUR_MS) * HOUR_MS;
    if (Math.abs(ms - hour) > 1000) {
      throw new DataError(path, `${variable}[${i}] = ${isoMinute(ms)} is not on a whole hour: windcast needs hourly data`);
    }
    out[i] = hour;
  }
  return out;
}

/** A time coordinate: by name, standard_name, axis, or "since" units. */
export function isTimeCoordinate(v: StoredVariable): boolean {
  const units = attrString(v.attrs, 'units') ?? '';
  return /\bsince\b/i.test(units) && (['time', 'valid_time', 'date', 't'].includes(v.name.toLowerCase())
    || attrString(v.attrs, 'standard_name') === 'time' || attrString(v.attrs, 'axis') === 'T' || v.dims[0] === v.name);
}

/** cfgrib's "time": the forecast's start, not the hour the field is valid for. */
export function isForecastReference(v: StoredVariable): boolean {
  return attrString(v.attrs, 'standard_name') === 'forecast_reference_time'
    || /initial time of forecast/i.test(attrString(v.attrs, 'long_name') ?? '');
}

// ------------------------------------------------------------------------------------------
// Packing

export interface Packing {
  scale: number;
  offset: number;
  /** Stored values that mean "missing", already in the stored type's precision. */
  fills: number[];
  /** Valid range of stored values (inclusive); outside it is missing. */
  validMin: number;
  validMax: number;
  /** netCDF3 unsigned integers stored as signed (_Unsigned = "true"). */
  unsignedBits: number;
  /** Half the quantisation step, in physical units: how far two packings of one value may differ. */
  precision: number;
}

const INTEGER_BITS: Partial<Record<StoredType, number>> = { int8: 8, int16: 16, int32: 32, int64: 64 };

export function packingOf(v: StoredVariable): Packing {
  const scale = attrNumber(v.attrs, 'scale_factor') ?? 1;
  const offset = attrNumber(v.attrs, 'add_offset') ?? 0;
  const declared = attrNumbers(v.attrs, '_FillValue');
  const fills = [...(declared.length > 0 ? declared.slice(0, 1) : v.formatFill === null ? [] : [v.formatFill]), ...attrNumbers(v.attrs, 'missing_value')]
    .filter((f) => !Number.isNaN(f))
    .map((f) => (v.dtype === 'float32' ? Math.fround(f) : f));
  const range = attrNumbers(v.attrs, 'valid_range');
  const validMin = range.length === 2 ? range[0]! : attrNumber(v.attrs, 'valid_min') ?? -Infinity;
  const validMax = range.length === 2 ? range[1]! : attrNumber(v.attrs, 'valid_max') ?? Infinity;
  const unsigned = (attrString(v.attrs, '_Unsigned') ?? '').toLowerCase() === 'true';
  const isInteger = INTEGER_BITS[v.dtype] !== undefined || /^uint/.test(v.dtype);
  return {
    scale,
    offset,
    fills,
    validMin,
    validMax,
    unsignedBits: unsigned ? INTEGER_BITS[v.dtype] ?? 0 : 0,
    precision: isInteger ? Math.abs(scale) / 2 : 0,
  };
}

// ------------------------------------------------------------------------------------------
// Latitude / longitude

const NORTH_UNITS = /^degrees?_?n(orth)?$/i;
const EAST_UNITS = /^degrees?_?e(ast)?$/i;

export function isLatitude(v: StoredVariable): boolean {
  const units = attrString(v.attrs, 'units') ?? '';
  const std = attrString(v.attrs, 'standard_name');
  if (std === 'grid_latitude') return false;
  return NORTH_UNITS.test(units) || std === 'latitude' || (['latitude', 'lat'].includes(v.name.toLowerCase()) && (units === '' || /^degrees?$/i.test(units)));
}

export function isLongitude(v: StoredVariable): boolean {
  const units = attrString(v.attrs, 'units') ?? '';
  const std = attrString(v.attrs, 'standard_name');
  if (std === 'grid_longitude') return false;
  return EAST_UNITS.test(units) || std === 'longitude' || (['longitude', 'lon'].includes(v.name.toLowerCase()) && (units === '' || /^degrees?$/i.test(units)));
}

export interface GridPlacement {
  grid: GridSpec;
  /** The stored rows and columns the grid covers (all of them unless cropped to an area). */
  window: { latStart: number; latCount: number; lonStart: number; lonCount: number };
  /** The file's rows run south to north: output row r is stored row height-1-r. */
  flipRows: boolean;
  /** The file's columns run east to west. */
  flipCols: boolean;
  notes: string[];
}

/** The shortest decimal that a float32 coordinate is the rounding of: 52.599998474 -> 52.6. */
function tidy(x: number, float32: boolean): number {
  if (!float32) return x;
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === Math.fround(x)) return y;
  }
  return x;
}

function tidyStep(x: number): number {
  return Number(x.toPrecision(10));
}

interface AxisCheck {
  first: number;
  step: number;
}

/** A regular axis: constant spacing within float precision. Returns the first value and the step. */
function regularAxis(path: string, what: string, values: number[], fallbackStep: number | null): AxisCheck {
  const n = values.length;
  if (n === 1) {
    if (fallbackStep === null || !Number.isFinite(fallbackStep) || fallbackStep === 0) throw new DataError(path, `not a lat/lon grid windcast can place: one ${what} value and no cell size (GRIB_*DirectionIncrementInDegrees) to tell the spacing`);
    return { first: values[0]!, step: fallbackStep };
  }
  const step = (values[n - 1]! - values[0]!) / (n - 1);
  // Float32 coordinates near 360 carry ~3e-5 degrees of rounding; anything larger is a real
  // irregularity (a Gaussian grid, a hand-made list of cells).
  const tolerance = Math.abs(step) * 1e-3 + 3e-5;
  if (values.some((x, i) => Math.abs(x - (values[0]! + i * step)) > tolerance)) {
    const steps = values.slice(1).map((x, i) => Math.abs(x - values[i]!));
    const fmt = (x: number) => tidyStep(Number(x.toPrecision(6)));
    throw new DataError(path, `not a regular lat/lon grid: ${what} steps vary from ${fmt(Math.min(...steps))} to ${fmt(Math.max(...steps))} degrees; windcast reads regular lat/lon grids (not Gaussian or irregular ones)`);
  }
  return { first: values[0]!, step: tidyStep(step) };
}

/**
 * Latitudes and longitudes (cell centres, as CF and ERA5 give them) as a north-up GridSpec,
 * PixelIsPoint. Descending or ascending latitude, 0..360 or -180..180 longitude; a region that
 * crosses the 0..360 seam (350, 355, 0, 5) is given in -180..180 terms (-10 .. 5).
 */
export function placeGrid(path: string, lat: { name: string; values: number[]; float32: boolean }, lon: { name: string; values: number[]; float32: boolean }, cellSize: { dLat: number | null; dLon: number | null }): GridPlacement {
  const notes: string[] = [];
  for (const [c, label] of [[lat, 'latitude'], [lon, 'longitude']] as const) {
    const bad = c.values.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new DataError(path, `not a lat/lon grid windcast can place: ${label} ${c.name}[${bad}] is missing`);
  }
  const lats = lat.values.map((x) => tidy(x, lat.float32));
  let lons = lon.values.map((x) => tidy(x, lon.float32));
  if (lats.some((x) => x < -90.0001 || x > 90.0001)) throw new DataError(path, `not a lat/lon grid: ${lat.name} runs ${lats[0]}..${lats[lats.length - 1]}, outside -90..90 (projected coordinates?)`);
  if (lons.some((x) => x < -180.0001 || x > 360.0001)) throw new DataError(path, `not a lat/lon grid: ${lon.name} runs ${lons[0]}..${lons[lons.length - 1]}, outside -180..360 (projected coordinates?)`);

  let flipCols = false;
  if (lons.length > 1 && lons[1]! < lons[0]! && lons.every((x, i) => i === 0 || x < lons[i - 1]!)) {
    flipCols = true;
    lons = [...lons].reverse();
  }
  const seam = lons.findIndex((x, i) => i > 0 && x < lons[i - 1]!);
  if (seam > 0) {
    const unwrapped = lons.map((x, i) => (i >= seam ? x + 360 : x));
    if (unwrapped.some((x, i) => i > 0 && x <= unwrapped[i - 1]!)) throw new DataError(path, `not a regular lat/lon grid: ${lon.name} is not monotonic`);
    lons = unwrapped.map((x) => (unwrapped[0]! >= 180 ? x - 360 : x));
    notes.push(`longitudes cross the 0/360 seam: placed as ${lons[0]}..${tidy(lons[lons.length - 1]!, false)} degrees east`);
  }
  const lonAxis = regularAxis(path, `longitude (${lon.name})`, lons, cellSize.dLon ?? null);
  if (lonAxis.step <= 0) throw new DataError(path, `not a regular lat/lon grid: ${lon.name} is not monotonic`);

  const ascending = lats.length > 1 && lats[1]! > lats[0]!;
  const north = ascending ? [...lats].reverse() : lats;
  const latAxis = regularAxis(path, `latitude (${lat.name})`, north, cellSize.dLat === null ? null : -cellSize.dLat);
  if (latAxis.step >= 0) throw new DataError(path, `not a regular lat/lon grid: ${lat.name} is not monotonic`);

  const dLon = lonAxis.step;
  const dLat = -latAxis.step;
  if (lons.length * dLon > 360 + dLon * 1e-3) throw new DataError(path, `not a lat/lon grid: ${lons.length} longitudes at ${dLon} degrees span more than 360 degrees`);
  return {
    grid: {
      width: lons.length,
      height: lats.length,
      lon0: lonAxis.first,
      lat0: latAxis.first,
      dLon,
      dLat,
      pixelIsPoint: true,
      sourceSouthUp: ascending,
      epsg: 4326,
    },
    window: { latStart: 0, latCount: lats.length, lonStart: 0, lonCount: lons.length },
    flipRows: ascending,
    flipCols,
    notes,
  };
}

/** A box in degrees, in the CDS "area" order: north, west, south, east. */
export interface Area {
  north: number;
  west: number;
  south: number;
  east: number;
}

/**
 * The cells whose centres lie in `area` (edges included), as a smaller grid and the stored
 * rows/columns to read. West/east may be given in either longitude convention; an area that
 * would need columns from both sides of a global grid's edge is refused (one block is read).
 */
export function cropPlacement(path: string, placement: GridPlacement, area: Area): GridPlacement {
  const { grid } = placement;
  const eps = 1e-6;
  if (!(area.north >= area.south)) throw new DataError(path, `area north ${area.north} is south of its south ${area.south}`);
  const r0 = Math.max(0, Math.ceil((grid.lat0 - area.north) / grid.dLat - eps));
  const r1 = Math.min(grid.height - 1, Math.floor((grid.lat0 - area.south) / grid.dLat + eps));
  const lonEnd = grid.lon0 + (grid.width - 1) * grid.dLon;
  const east = area.east < area.west ? area.east + 360 : area.east;
  // The shift of the area's longitudes into the grid's convention that overlaps it most.
  const overlap = (k: number) => Math.min(east + k, lonEnd) - Math.max(area.west + k, grid.lon0);
  const shift = [-360, 0, 360].reduce((best, k) => (overlap(k) > overlap(best) ? k : best), 0);
  const west = area.west + shift;
  const c0 = Math.max(0, Math.ceil((west - grid.lon0) / grid.dLon - eps));
  const c1 = Math.min(grid.width - 1, Math.floor((east + shift - grid.lon0) / grid.dLon + eps));
  const box = `${area.north}N ${area.west}E ${area.south}N ${area.east}E (north, west, south, east)`;
  if (r0 > r1 || c0 > c1) throw new DataError(path, `area ${box} holds no cell centre of the data's grid (lon ${grid.lon0}..${tidyStep(lonEnd)}, lat ${tidyStep(grid.lat0 - (grid.height - 1) * grid.dLat)}..${grid.lat0})`);
  const wraps = Math.abs(grid.width * grid.dLon - 360) < grid.dLon * 1e-3;
  if (wraps && (west < grid.lon0 - eps || east + shift > lonEnd + grid.dLon - eps)) {
    throw new DataError(path, `area ${box} crosses the grid's edge at ${grid.lon0} degrees east: windcast reads one block of columns (give the area in the grid's own longitudes, ${grid.lon0}..${tidyStep(grid.lon0 + 360)})`);
  }
  const rows = r1 - r0 + 1;
  const cols = c1 - c0 + 1;
  const w = placement.window;
  return {
    grid: { ...grid, width: cols, height: rows, lon0: tidyStep(grid.lon0 + c0 * grid.dLon), lat0: tidyStep(grid.lat0 - r0 * grid.dLat) },
    window: {
      latStart: w.latStart + (placement.flipRows ? grid.height - 1 - r1 : r0),
      latCount: rows,
      lonStart: w.lonStart + (placement.flipCols ? grid.width - 1 - c1 : c0),
      lonCount: cols,
    },
    flipRows: placement.flipRows,
    flipCols: placement.flipCols,
    notes: [...placement.notes, `cropped to ${box}: ${cols} x ${rows} cells of ${grid.width} x ${grid.height}`],
  };
}
