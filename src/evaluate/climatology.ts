/**
 * Climatology, the baseline that knows the calendar and nothing of the weather: per cell, the
 * training-period mean speed at the target's UTC hour of day, and, when the training period
 * covers a year or more, at its day of year too.
 *
 * The seasonal form follows WeatherBench 2 (weatherbench2/utils.py, compute_hourly_stat): for
 * each hour of day, the values of every training year at day of year d (1..366 as xarray's
 * dayofyear counts them: Dec 31 of a leap year is day 366) are averaged over a window of days
 * centred on d, wrapping from December to January, with triangular weights 1 - |k| / half
 * (zero at the window's ends), NaN skipped. The default window is WeatherBench 2's 61 days:
 * long enough that each (day, hour) averages about 30 days x the training years (a single year
 * is still a usable estimate), short enough to keep the monsoon's onset within a few weeks.
 * WeatherBench 2 fills day 366 of common years with their day 365; here day 366 simply has the
 * leap years' values, which the window's other days outweigh.
 *
 * Shorter training periods get the per-hour-of-day mean: from less than a year the seasonal
 * cycle cannot be estimated. Means are kept only for the (day, hour) slots of the hours the
 * caller will forecast (`forHours`), so the memory is cells x slots x 4 bytes.
 */
import type { Cube } from '../ingest/cube.js';
import { COMMON_YEAR_HOURS, HOUR_MS, hourOfDay } from '../core/time.js';

/** Half-open range of hour indices [start, end) into a cube. */
export type HourRange = readonly [number, number];

export type ClimatologyKind = 'hour-of-day' | 'day-of-year-and-hour';

/** WeatherBench 2's window (days) for the seasonal climatology. */
export const DEFAULT_WINDOW_DAYS = 61;

/** Day-of-year slots: 1..366 stored as 0..365. */
const DAYS = 366;

export interface Climatology {
  kind: ClimatologyKind;
  /** Smoothing window in days (seasonal only). */
  windowDays?: number;
  /** Training hours the means come from. */
  hours: HourRange;
  /** The cells fitted (flat indices); mean row i belongs to cells[i]. */
  cells: Int32Array;
  /** Slots per cell: 24 (hour of day), or the (day, hour) pairs of the forecast hours. */
  slots: number;
  /** Key (hour of day, or day-of-year index * 24 + hour of day) -> slot, -1 when not kept. */
  slotOfKey: Int32Array;
  /** Mean speed, index i * slots + slot; NaN where the cell never had a finite value there. */
  mean: Float32Array;
  /** Flat cell index -> row in mean, -1 when not fitted. */
  position: Int32Array;
}

/** 0-based day of year of epoch ms (UTC): Jan 1 is 0, Dec 31 is 364, or 365 in a leap year. */
export function dayOfYearIndex(ms: number): number {
  const year = new Date(ms).getUTCFullYear();
  return Math.floor((ms - Date.UTC(year, 0, 1)) / (24 * HOUR_MS));
}

/**
 * True when the (consecutive) hours [start, end) span at least 365 days: the seasonal form
 * applies. The same rule as the model's day-of-year features (train/run.ts).
 */
export function coversYear(hours: HourRange): boolean {
  return hours[1] - hours[0] >= COMMON_YEAR_HOURS;
}

export interface ClimatologyOptions {
  /** Training hours [start, end). */
  hours: HourRange;
  /** Cells to fit (all cells when omitted). */
  cells?: Int32Array;
  /** Hours [start, end) that will be forecast (seasonal: only their slots are kept; default every hour of the cube). */
  forHours?: HourRange;
  /** 'auto' (default): seasonal when the training hours cover 365 days, else hour of day. */
  kind?: ClimatologyKind | 'auto';
  /** Seasonal smoothing window, days, odd (default 61). */
  windowDays?: number;
}

/** Fit the climatology on the training hours. */
export function fitClimatology(cube: Cube, options: ClimatologyOptions): Climatology {
  const n = cube.grid.width * cube.grid.height;
  const [start, end] = options.hours;
  if (!(start >= 0 && end <= cube.times.length && end > start)) {
    throw new Error(`climatology hours [${start}, ${end}) are not inside the cube's ${cube.times.length} hours`);
  }
  const cells = options.cells ?? Int32Array.from({ length: n }, (_, i) => i);
  const position = new Int32Array(n).fill(-1);
  for (let i = 0; i < cells.length; i++) position[cells[i]!] = i;
  const kind = !options.kind || options.kind === 'auto' ? (coversYear(options.hours) ? 'day-of-year-and-hour' : 'hour-of-day') : options.kind;
  if (kind === 'hour-of-day') return { kind, hours: [start, end], cells, position, ...hourOfDayMeans(cube, start, end, cells) };
  const windowDays = options.windowDays ?? DEFAULT_WINDOW_DAYS;
  if (!(Number.isInteger(windowDays) && windowDays >= 1 && windowDays % 2 === 1 && windowDays <= DAYS)) {
    throw new Error(`the climatology window must be an odd number of days from 1 to ${DAYS}, got ${windowDays}`);
  }
  const [from, to] = options.forHours ?? [0, cube.times.length];
  return { kind, windowDays, hours: [start, end], cells, position, ...seasonalMeans(cube, { start, end, cells, from, to, windowDays }) };
}

/** The slot of the hour `ms` in a climatology, -1 when it has none. */
function slotOf(clim: Climatology, ms: number): number {
  const hod = hourOfDay(ms);
  return clim.slotOfKey[clim.kind === 'hour-of-day' ? hod : dayOfYearIndex(ms) * 24 + hod] ?? -1;
}

/** Climatology for the hours t0 + 1..horizon into out [cells x horizon]; NaN for cells or slots not fitted. */
export function climatologyForecast(clim: Climatology, cube: Cube, req: { t0: number; cells: Int32Array; horizon: number; out?: Float32Array }): Float32Array {
  const H = req.horizon;
  const out = req.out ?? new Float32Array(req.cells.length * H);
  if (out.length !== req.cells.length * H) throw new Error(`output holds ${out.length} values, expected ${req.cells.length} cells x ${H} leads`);
  if (!(Number.isInteger(req.t0) && req.t0 >= 0 && req.t0 < cube.times.length)) {
    throw new Error(`climatology needs hour index ${req.t0}, outside the cube's ${cube.times.length} hours`);
  }
  const slots = new Int32Array(H);
  // Hours past the cube's end (a forecast from its last hour) are still hours of the calendar.
  for (let h = 1; h <= H; h++) slots[h - 1] = slotOf(clim, cube.times[req.t0 + h] ?? cube.times[req.t0]! + h * HOUR_MS);
  for (let i = 0; i < req.cells.length; i++) {
    const p = clim.position[req.cells[i]!] ?? -1;
    for (let h = 0; h < H; h++) out[i * H + h] = p >= 0 && slots[h]! >= 0 ? clim.mean[p * clim.slots + slots[h]!]! : NaN;
  }
  return out;
}

function hourOfDayMeans(cube: Cube, start: number, end: number, cells: Int32Array): Pick<Climatology, 'slots' | 'slotOfKey' | 'mean'> {
  const n = cube.grid.width * cube.grid.height;
  // Sums are laid out hour-of-day major so each hour's pass writes one contiguous block.
  const m = cells.length;
  const sums = new Float64Array(m * 24);
  const counts = new Uint32Array(m * 24);
  for (let t = start; t < end; t++) {
    const o = hourOfDay(cube.times[t]!) * m;
    const base = t * n;
    for (let i = 0; i < m; i++) {
      const v = cube.speed[base + cells[i]!]!;
      if (Number.isFinite(v)) {
        sums[o + i]! += v;
        counts[o + i]!++;
      }
    }
  }
  const mean = new Float32Array(m * 24);
  for (let i = 0; i < m; i++) {
    for (let hod = 0; hod < 24; hod++) {
      const k = hod * m + i;
      mean[i * 24 + hod] = counts[k]! > 0 ? sums[k]! / counts[k]! : NaN;
    }
  }
  return { slots: 24, slotOfKey: Int32Array.from({ length: 24 }, (_, h) => h), mean };
}

/** Cells summed at once: their (day, hour) sums take 366 x 24 x 16 bytes each (36 MB for 256). */
const CELL_BLOCK = 256;

function seasonalMeans(
  cube: Cube,
  o: { start: number; end: number; cells: Int32Array; from: number; to: number; windowDays: number },
): Pick<Climatology, 'slots' | 'slotOfKey' | 'mean'> {
  const n = cube.grid.width * cube.grid.height;
  const keys = DAYS * 24;
  const keyOf = (ms: number) => dayOfYearIndex(ms) * 24 + hourOfDay(ms);
  // The slots kept: the (day, hour) pairs of the hours to forecast, in order of first use.
  const slotOfKey = new Int32Array(keys).fill(-1);
  let slots = 0;
  for (let t = o.from; t < o.to; t++) {
    const k = keyOf(cube.times[t] ?? cube.times[0]! + t * HOUR_MS);
    if (slotOfKey[k] === -1) slotOfKey[k] = slots++;
  }
  const trainKey = new Int32Array(o.end - o.start);
  for (let t = o.start; t < o.end; t++) trainKey[t - o.start] = keyOf(cube.times[t]!);
  const m = o.cells.length;
  const mean = new Float32Array(m * slots);
  const B = Math.min(CELL_BLOCK, Math.max(1, m));
  // Key-major [key][cell in block]: each training hour adds one contiguous run.
  const sums = new Float64Array(keys * B);
  const counts = new Float64Array(keys * B);
  const daySums = new Float64Array(DAYS);
  const dayCounts = new Float64Array(DAYS);
  const scratch = new Float64Array(DAYS);
  const half = (o.windowDays - 1) / 2;
  for (let b0 = 0; b0 < m; b0 += B) {
    const b1 = Math.min(m, b0 + B);
    sums.fill(0);
    counts.fill(0);
    for (let t = o.start; t < o.end; t++) {
      const base = t * n;
      const row = trainKey[t - o.start]! * B;
      for (let i = b0; i < b1; i++) {
        const v = cube.speed[base + o.cells[i]!]!;
        if (v === v) {
          sums[row + i - b0]! += v;
          counts[row + i - b0]!++;
        }
      }
    }
    for (let i = b0; i < b1; i++) {
      for (let hod = 0; hod < 24; hod++) {
        for (let d = 0; d < DAYS; d++) {
          daySums[d] = sums[(d * 24 + hod) * B + i - b0]!;
          dayCounts[d] = counts[(d * 24 + hod) * B + i - b0]!;
        }
        triangularSmooth(daySums, half, scratch);
        triangularSmooth(dayCounts, half, scratch);
        for (let d = 0; d < DAYS; d++) {
          const slot = slotOfKey[d * 24 + hod]!;
          if (slot >= 0) mean[i * slots + slot] = dayCounts[d]! > 0 ? daySums[d]! / dayCounts[d]! : NaN;
        }
      }
    }
  }
  return { slots, slotOfKey, mean };
}

/**
 * In place, the circular weighted sum a'[d] = sum over |k| < half of (half - |k|) a[d + k]: a
 * triangle is two boxes of width `half` one after the other, each a running sum, so it costs
 * O(days) whatever the window. half 0 leaves a as it is.
 */
export function triangularSmooth(a: Float64Array, half: number, scratch: Float64Array): void {
  if (half < 1) return;
  const N = a.length;
  const w = Math.min(half, N);
  // Box 1, trailing: s[d] = a[d - w + 1] + ... + a[d].
  let run = 0;
  for (let j = 0; j < w; j++) run += a[(((0 - j) % N) + N) % N]!;
  for (let d = 0; d < N; d++) {
    if (d > 0) run += a[d]! - a[(((d - w) % N) + N) % N]!;
    scratch[d] = run;
  }
  // Box 2, leading: a'[d] = s[d] + ... + s[d + w - 1]; together offsets -(w-1)..(w-1), centred.
  run = 0;
  for (let j = 0; j < w; j++) run += scratch[j % N]!;
  for (let d = 0; d < N; d++) {
    if (d > 0) run += scratch[(d + w - 1) % N]! - scratch[d - 1]!;
    a[d] = run;
  }
}
