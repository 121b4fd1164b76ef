/**
 * One file's layout: which variables sit on a regular lat/lon grid, which dimension of each
 * is time, latitude, longitude or expver, which hour each time index is, and how the stored
 * values unpack. Nothing is read here but coordinates.
 *
 * The layouts windcast understands: the new CDS files (valid_time dimension, expver as a
 * string coordinate), the legacy CDS files (time dimension, an expver dimension when ERA5 and
 * ERA5T are mixed), cfgrib files (time = forecast reference plus a valid_time coordinate,
 * scalar step/number/surface), and xarray-written Zarr such as ARCO-ERA5. Dimensions of length
 * one (number, surface, a single level) are dropped; any other extra dimension makes the
 * variable unusable, with the reason kept for messages.
 */
import { DataError } from '../../core/errors.js';
import type { GridSpec } from '../../core/grid.js';
import { HOUR_MS } from '../../core/time.js';
import {
  cropPlacement, decodeTimes, isForecastReference, isLatitude, isLongitude, isTimeCoordinate, packingOf, parseTimeUnits, placeGrid,
  type Area, type GridPlacement, type Packing,
} from './cf.js';
import { identify, type WindRole } from './names.js';
import { attrNumber, attrString, type ArrayStore, type GriddedFormat, type StoredType, type StoredVariable } from './store.js';

export interface FileVariable {
  /** The windcast name (ERA5 short name when known). */
  name: string;
  /** The variable's name in this file. */
  sourceName: string;
  wind?: WindRole;
  units: string;
  longName: string;
  dtype: StoredType;
  packing: Packing;
  shape: number[];
  /** Axis index of each role in the stored dimensions; -1 when the variable has none. */
  axes: { time: number; lat: number; lon: number; expver: number };
}

export interface FileLayout {
  path: string;
  format: GriddedFormat;
  grid: GridSpec;
  /** The stored latitude/longitude index ranges the grid covers. */
  window: GridPlacement['window'];
  flipRows: boolean;
  flipCols: boolean;
  /** Epoch ms of each index along the time dimension (one entry for a single-hour file). */
  times: number[];
  /** Where the hours came from: "valid_time", "time", "time + step". */
  timeSource: string;
  /** Usable variables by windcast name. */
  variables: Map<string, FileVariable>;
  /** Variables that are not usable, with the reason, by windcast name. */
  unusable: Map<string, string>;
  notes: string[];
}

const EXPVER = 'expver';
const HEIGHT_COORDINATES = ['heightAboveGround', 'height'];

function coordinate(store: ArrayStore, dim: string): StoredVariable | undefined {
  const v = store.variables.get(dim);
  return v && v.dims.length === 1 && v.dims[0] === dim ? v : undefined;
}

async function readNumbers(store: ArrayStore, v: StoredVariable): Promise<number[]> {
  const data = await store.read(v.name, v.shape.map(() => 0), v.shape);
  return Array.from(data as ArrayLike<number | bigint>, Number);
}

/** Why a file has no regular lat/lon grid, as specifically as its metadata allows. */
function notLatLon(store: ArrayStore): DataError {
  const vars = [...store.variables.values()];
  const mapping = vars.find((v) => attrString(v.attrs, 'grid_mapping_name'));
  if (mapping) return new DataError(store.path, `not a lat/lon grid: the data are on a ${attrString(mapping.attrs, 'grid_mapping_name')} grid (grid_mapping ${mapping.name}); windcast reads regular latitude/longitude grids`);
  const lat2d = vars.find((v) => v.dims.length === 2 && isLatitude(v));
  if (lat2d) return new DataError(store.path, `not a regular lat/lon grid: ${lat2d.name} is 2-D (${lat2d.dims.join(', ')}), a curvilinear grid; windcast reads regular latitude/longitude grids`);
  const dims = [...new Set(vars.flatMap((v) => v.dims))];
  if (dims.some((d) => /^(rlat|rlon|x|y|xc|yc)$/i.test(d))) return new DataError(store.path, `not a lat/lon grid: dimensions ${dims.join(', ')} are projected or rotated coordinates; windcast reads regular latitude/longitude grids`);
  return new DataError(store.path, `not a lat/lon grid: no latitude and longitude coordinates (dimensions: ${dims.join(', ') || 'none'})`);
}

/** The layout of one store; with `area`, only the cells whose centres lie in it. */
export async function analyseFile(store: ArrayStore, options: { area?: Area } = {}): Promise<FileLayout> {
  const path = store.path;
  const notes: string[] = [];
  const vars = [...store.variables.values()];
  const latDims = new Set(vars.filter((v) => v.dims.length === 1 && v.dims[0] === v.name && isLatitude(v)).map((v) => v.name));
  const lonDims = new Set(vars.filter((v) => v.dims.length === 1 && v.dims[0] === v.name && isLongitude(v)).map((v) => v.name));

  // Variables on a lat/lon grid, grouped by their pair of dimensions; the wind's pair wins.
  const scalarHeight = HEIGHT_COORDINATES.map((n) => store.variables.get(n)).find((v) => v && v.shape.length === 0);
  const height = scalarHeight ? (await readNumbers(store, scalarHeight))[0] ?? null : null;
  const groups = new Map<string, StoredVariable[]>();
  for (const v of vars) {
    const lat = v.dims.find((d) => latDims.has(d));
    const lon = v.dims.find((d) => lonDims.has(d));
    if (!lat || !lon || v.name === lat || v.name === lon || v.dims.length < 2) continue;
    const key = `${lat}\u0000${lon}`;
    groups.set(key, [...(groups.get(key) ?? []), v]);
  }
  if (groups.size === 0) throw notLatLon(store);
  const ranked = [...groups].sort((a, b) => {
    const wind = (g: StoredVariable[]) => g.filter((v) => identify(v, height).wind).length;
    return wind(b[1]) - wind(a[1]) || b[1].length - a[1].length;
  });
  const [key, onGrid] = ranked[0]!;
  const [latName, lonName] = key.split('\u0000') as [string, string];
  const unusable = new Map<string, string>();
  for (const [other, list] of ranked.slice(1)) {
    for (const v of list) unusable.set(identify(v, height).name, `on another grid (${other.replace('\u0000', ' x ')}) than the wind (${latName} x ${lonName})`);
  }
  const mappingName = attrString(onGrid[0]!.attrs, 'grid_mapping');
  const mapping = mappingName ? store.variables.get(mappingName) : undefined;
  const mappingKind = mapping ? attrString(mapping.attrs, 'grid_mapping_name') : null;
  if (mappingKind && mappingKind !== 'latitude_longitude') {
    throw new DataError(path, `not a lat/lon grid: the data are on a ${mappingKind} grid (grid_mapping ${mappingName}); windcast reads regular latitude/longitude grids`);
  }

  const latVar = store.variables.get(latName)!;
  const lonVar = store.variables.get(lonName)!;
  const first = onGrid[0]!;
  const full = placeGrid(
    path,
    { name: latName, values: await readNumbers(store, latVar), float32: latVar.dtype === 'float32' },
    { name: lonName, values: await readNumbers(store, lonVar), float32: lonVar.dtype === 'float32' },
    { dLat: attrNumber(first.attrs, 'GRIB_jDirectionIncrementInDegrees'), dLon: attrNumber(first.attrs, 'GRIB_iDirectionIncrementInDegrees') },
  );
  const placement = options.area ? cropPlacement(path, full, options.area) : full;
  notes.push(...placement.notes);

  // The time dimension: a dimension of the gridded variables with a time coordinate.
  const otherDims = new Set(onGrid.flatMap((v) => v.dims.filter((d) => d !== latName && d !== lonName)));
  for (const d of otherDims) {
    const c = coordinate(store, d);
    // A time axis by name whose units we cannot read: say so rather than "no time".
    if (c && (d === 'time' || d === 'valid_time') && !isTimeCoordinate(c)) parseTimeUnits(path, d, attrString(c.attrs, 'units'), attrString(c.attrs, 'calendar'));
  }
  const timeDims = [...otherDims].filter((d) => {
    const c = coordinate(store, d);
    return c !== undefined && isTimeCoordinate(c);
  });
  if (timeDims.length > 1) {
    if (!timeDims.includes('valid_time') || timeDims.length > 2) {
      throw new DataError(path, `has several time dimensions (${timeDims.join(', ')}): windcast reads one field per hour (forecast steps are not supported)`);
    }
  }
  const timeDim = timeDims.length === 0 ? null : timeDims.length === 1 ? timeDims[0]! : 'valid_time';
  const { times, timeSource } = await hours(store, timeDim, notes);

  const variables = new Map<string, FileVariable>();
  for (const v of onGrid) {
    const id = identify(v, height);
    const axes = { time: timeDim ? v.dims.indexOf(timeDim) : -1, lat: v.dims.indexOf(latName), lon: v.dims.indexOf(lonName), expver: v.dims.indexOf(EXPVER) };
    const extra = v.dims.map((d, i) => ({ d, n: v.shape[i]! })).filter(({ d }) => d !== latName && d !== lonName && d !== timeDim && d !== EXPVER);
    const wide = extra.find(({ n }) => n > 1);
    let why: string | null = null;
    if (wide) why = `has ${wide.n} values along ${wide.d}: windcast needs one field per hour (select one ${wide.d})`;
    else if (timeDim && axes.time < 0) why = `has no ${timeDim} dimension (a constant field)`;
    else if (!['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64'].includes(v.dtype)) why = `is not numeric (${v.dtype})`;
    if (why) {
      if (!variables.has(id.name)) unusable.set(id.name, why);
      continue;
    }
    const previous = variables.get(id.name);
    if (previous) {
      // Two spellings of one variable: keep the one named exactly so.
      if (previous.sourceName === id.name) continue;
      notes.push(`${v.name} and ${previous.sourceName} are both ${id.name}: using ${v.name === id.name ? v.name : previous.sourceName}`);
      if (v.name !== id.name) continue;
    }
    unusable.delete(id.name);
    variables.set(id.name, {
      name: id.name,
      sourceName: v.name,
      ...(id.wind ? { wind: id.wind } : {}),
      units: attrString(v.attrs, 'units') ?? '',
      longName: attrString(v.attrs, 'long_name') ?? '',
      dtype: v.dtype,
      packing: packingOf(v),
      shape: v.shape,
      axes,
    });
    if (axes.expver >= 0 && v.shape[axes.expver]! > 1) {
      notes.push(`${v.name}: ${v.shape[axes.expver]} expver versions (ERA5 and preliminary ERA5T) merged by taking, per hour and cell, the first that is not missing`);
    }
    const dropped = extra.filter(({ n }) => n === 1).map(({ d }) => d);
    if (dropped.length > 0) notes.push(`${v.name}: dimension${dropped.length > 1 ? 's' : ''} ${dropped.join(', ')} of length 1 ignored`);
  }
  return { path, format: store.format, grid: placement.grid, window: placement.window, flipRows: placement.flipRows, flipCols: placement.flipCols, times, timeSource, variables, unusable, notes: [...new Set(notes)] };
}

/** The hour of each index along the time dimension; valid_time is preferred over time. */
async function hours(store: ArrayStore, timeDim: string | null, notes: string[]): Promise<{ times: number[]; timeSource: string }> {
  const path = store.path;
  const decode = async (v: StoredVariable) => decodeTimes(path, v.name, await store.read(v.name, v.shape.map(() => 0), v.shape), parseTimeUnits(path, v.name, attrString(v.attrs, 'units'), attrString(v.attrs, 'calendar')));
  const valid = store.variables.get('valid_time');
  if (timeDim === null) {
    // A single-hour file: a scalar valid_time or time.
    const scalar = [valid, store.variables.get('time')].find((v) => v && v.shape.length === 0 && isTimeUnits(v));
    if (!scalar) throw new DataError(path, 'has no time coordinate: expected a time or valid_time variable with units like "hours since 1900-01-01"');
    return { times: await decode(scalar), timeSource: scalar.name };
  }
  if (valid && timeDim !== 'valid_time' && valid.dims.length === 1 && valid.dims[0] === timeDim && isTimeUnits(valid)) {
    notes.push(`hours from valid_time (${timeDim} is ${isForecastReference(store.variables.get(timeDim)!) ? 'the forecast reference time' : 'not used'})`);
    return { times: await decode(valid), timeSource: 'valid_time' };
  }
  const dimVar = store.variables.get(timeDim)!;
  const times = await decode(dimVar);
  if (isForecastReference(dimVar)) {
    const step = store.variables.get('step');
    if (step && step.shape.length === 0) {
      const units = (attrString(step.attrs, 'units') ?? 'hours').trim().toLowerCase();
      const perUnit = { hours: HOUR_MS, hour: HOUR_MS, h: HOUR_MS, minutes: 60_000, seconds: 1000, s: 1000, days: 86_400_000 }[units];
      if (perUnit === undefined) throw new DataError(path, `step has units "${units}": expected hours, minutes, seconds or days`);
      const [value] = Array.from(await store.read('step', [], []) as ArrayLike<number | bigint>, Number);
      const offset = value! * perUnit;
      if (offset % HOUR_MS !== 0) throw new DataError(path, `step is ${value} ${units}, not a whole number of hours`);
      if (offset !== 0) notes.push(`hours are ${timeDim} + step (${value} ${units})`);
      return { times: times.map((t) => t + offset), timeSource: `${timeDim} + step` };
    }
  }
  return { times, timeSource: timeDim };
}

function isTimeUnits(v: StoredVariable): boolean {
  return /\bsince\b/i.test(attrString(v.attrs, 'units') ?? '');
}
