/**
 * Power curves: electrical power (kW) of a turbine against hub-height wind speed (m/s), from one
 * of the reference turbines shipped in config/turbines/ (their sources, licences and caveats in
 * config/turbines/README.md) or from a user's CSV.
 *
 * The curve is the table, linearly interpolated, with three regions the table does not hold
 * on its own: 0 kW below cut-in, 0 kW at and above cut-out (no shipped table includes the drop
 * at cut-out: they end at the cut-out speed with rated power), and never more than the rated
 * power (the shipped tables overshoot it by at most 0.02 %, e.g. NREL 5 MW 5000.92 kW at
 * 11.4 m/s; capping keeps a capacity factor at or below 1).
 *
 * A user CSV is two columns, speed in m/s and power in kW, comma, semicolon or tab separated,
 * with an optional header line; blank lines and lines starting with # are skipped. Its rated
 * power is the table's largest power, its cut-in the last 0 kW speed before the power rises
 * (else its first speed), its cut-out its last speed with power above 0. Hand-written: a
 * two-column table of numbers needs no quoting rules, and every error names the file and line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../core/errors.js';
import { PROJECT_ROOT } from '../runtime/backend.js';

export interface PowerCurve {
  name: string;
  /** Rated (nameplate) electrical power, kW. */
  ratedKw: number;
  /** Below this hub-height speed the turbine does not run (0 kW). */
  cutInMs: number;
  /** At and above this speed the turbine is shut down (0 kW). */
  cutOutMs: number;
  /** The table: strictly increasing speeds (m/s) and their power (kW). */
  speedsMs: Float64Array;
  powerKw: Float64Array;
  /** Where the curve comes from: the shipped file and its source, or the user's file. */
  source: string;
  /** The reference turbine's hub height, metres (shipped turbines only; a hint, not a default). */
  hubHeightM?: number;
}

/** What config/turbines/README.md states about each shipped turbine (rated, cut-in, cut-out as the sources give them). */
interface BuiltIn {
  file: string;
  title: string;
  ratedKw: number;
  cutInMs: number;
  cutOutMs: number;
  hubHeightM: number;
  origin: string;
}

export const BUILT_IN_TURBINES: Readonly<Record<string, BuiltIn>> = {
  'iea-3.4mw': {
    file: 'iea-3.4mw.csv',
    title: 'IEA Wind Task 37 IEA-3.4-130-RWT (onshore)',
    ratedKw: 3370,
    cutInMs: 3,
    cutOutMs: 25,
    hubHeightM: 110,
    origin: 'IEAWindTask37/IEA-3.4-130-RWT@c036f783 performance/performance_ccblade.dat, Apache-2.0',
  },
  'nrel-5mw': {
    file: 'nrel-5mw.csv',
    title: 'NREL 5-MW reference turbine (offshore)',
    ratedKw: 5000,
    cutInMs: 3,
    cutOutMs: 25,
    hubHeightM: 90,
    origin: 'NREL/turbine-models@556c128f Offshore/NREL_Reference_5MW_126.csv, BSD-3-Clause',
  },
  'iea-15mw': {
    file: 'iea-15mw.csv',
    title: 'IEA Wind Task 37 IEA-15-240-RWT, v1.0 table (offshore)',
    ratedKw: 15000,
    cutInMs: 3,
    cutOutMs: 25,
    hubHeightM: 150,
    origin: 'NREL/turbine-models@556c128f Offshore/IEA_Reference_15MW_240.csv, BSD-3-Clause (upstream IEA data Apache-2.0)',
  },
  'vestas-v82-1.65mw': {
    file: 'vestas-v82-1.65mw.csv',
    title: 'Vestas V82-1.65 MW MK II (manufacturer\'s calculated curve)',
    ratedKw: 1650,
    cutInMs: 3.5,
    cutOutMs: 20,
    hubHeightM: 78,
    origin: 'NREL/turbine-models@556c128f Onshore/VestasV82_1.65MW_82.csv, BSD-3-Clause on the repository; the curve is from a Vestas document the licence does not address',
  },
};

/** Where the shipped curves live. */
export function turbinesDir(projectRoot: string): string {
  return join(projectRoot, 'config', 'turbines');
}

/** Above this a "kW" column is almost surely in W (the largest turbines are ~25 MW). */
const MAX_PLAUSIBLE_KW = 100_000;

/**
 * A shipped turbine by name ('iea-3.4mw', 'nrel-5mw', 'iea-15mw', 'vestas-v82-1.65mw'), else a
 * user CSV by path. Errors are DataErrors naming the file (and the line).
 */
export function loadPowerCurve(nameOrCsvPath: string): PowerCurve {
  const builtIn = BUILT_IN_TURBINES[nameOrCsvPath.toLowerCase()];
  if (builtIn) {
    const path = join(turbinesDir(PROJECT_ROOT), builtIn.file);
    const table = parsePowerCurveCsv(readText(path), path);
    return {
      name: nameOrCsvPath.toLowerCase(),
      ratedKw: builtIn.ratedKw,
      cutInMs: builtIn.cutInMs,
      cutOutMs: builtIn.cutOutMs,
      speedsMs: table.speedsMs,
      powerKw: table.powerKw,
      source: `${builtIn.title}; config/turbines/${builtIn.file} from ${builtIn.origin}`,
      hubHeightM: builtIn.hubHeightM,
    };
  }
  const looksLikeName = !/[\\/.]/.test(nameOrCsvPath);
  const text = readText(nameOrCsvPath, looksLikeName ? `not a built-in turbine (${Object.keys(BUILT_IN_TURBINES).join(', ')}) and no such power-curve file` : undefined);
  const table = parsePowerCurveCsv(text, nameOrCsvPath);
  return { name: nameOrCsvPath, ...tableFacts(table), ...table, source: `user power curve ${nameOrCsvPath}` };
}

function readText(path: string, missing = 'power-curve file not found'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(path, code === 'ENOENT' ? missing : `cannot read the power-curve file (${(err as Error).message})`, { cause: err });
  }
}

/** Rated power, cut-in and cut-out of a user table (module header). */
function tableFacts(t: { speedsMs: Float64Array; powerKw: Float64Array }): Pick<PowerCurve, 'ratedKw' | 'cutInMs' | 'cutOutMs'> {
  const n = t.speedsMs.length;
  const firstPositive = t.powerKw.findIndex((p) => p > 0);
  let lastPositive = n - 1;
  while (lastPositive > 0 && !(t.powerKw[lastPositive]! > 0)) lastPositive--;
  return {
    ratedKw: Math.max(...t.powerKw),
    cutInMs: t.speedsMs[Math.max(0, firstPositive - 1)]!,
    cutOutMs: t.speedsMs[lastPositive]!,
  };
}

/**
 * The table of a power-curve CSV (module header for the format); `source` names the file in
 * errors. At least two points, speeds strictly increasing and non-negative, power >= 0 in kW
 * and above zero somewhere.
 */
export function parsePowerCurveCsv(text: string, source: string): { speedsMs: Float64Array; powerKw: Float64Array } {
  const speeds: number[] = [];
  const power: number[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let seenFirst = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const at = `line ${i + 1}`;
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s*[,;\t]\s*/);
    if (fields.length !== 2) throw new DataError(source, `${at}: expected two columns, wind speed (m/s) and power (kW), got ${fields.length}: "${line}"`);
    const [s, p] = fields.map((f) => (f === '' ? NaN : Number(f))) as [number, number];
    const first = !seenFirst;
    seenFirst = true;
    // Only the first line may be a header: words where the numbers go.
    if (first && fields.every((f) => f === '' || !Number.isFinite(Number(f)))) continue;
    if (!Number.isFinite(s)) throw new DataError(source, `${at}: wind speed "${fields[0]}" is not a number`);
    if (!Number.isFinite(p)) throw new DataError(source, `${at}: power "${fields[1]}" is not a number`);
    if (s < 0) throw new DataError(source, `${at}: wind speed ${s} m/s is negative`);
    if (p < 0) throw new DataError(source, `${at}: power ${p} kW is negative`);
    if (p > MAX_PLAUSIBLE_KW) throw new DataError(source, `${at}: power ${p} kW is more than any turbine makes (is the column in W? windcast reads kW)`);
    const previous = speeds[speeds.length - 1];
    if (previous !== undefined && !(s > previous)) throw new DataError(source, `${at}: wind speed ${s} m/s is not above the previous row's ${previous} m/s (speeds must increase)`);
    speeds.push(s);
    power.push(p);
  }
  if (speeds.length < 2) throw new DataError(source, `a power curve needs at least two rows of wind speed (m/s), power (kW); found ${speeds.length}`);
  if (!power.some((p) => p > 0)) throw new DataError(source, 'every power in the curve is 0 kW');
  return { speedsMs: Float64Array.from(speeds), powerKw: Float64Array.from(power) };
}

/**
 * Power (kW) at a hub-height speed (m/s): the table linearly interpolated, 0 below cut-in and
 * below the table, the last value between the table's end and cut-out, 0 at and above cut-out,
 * capped at rated. NaN in, NaN out.
 */
export function powerKw(curve: PowerCurve, speedMs: number): number {
  if (Number.isNaN(speedMs)) return NaN;
  const s = curve.speedsMs;
  const n = s.length;
  if (speedMs < curve.cutInMs || speedMs >= curve.cutOutMs || speedMs < s[0]!) return 0;
  if (speedMs >= s[n - 1]!) return Math.min(curve.ratedKw, curve.powerKw[n - 1]!);
  // The last table speed at or below speedMs, by bisection.
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (s[mid]! <= speedMs) lo = mid;
    else hi = mid;
  }
  const f = (speedMs - s[lo]!) / (s[hi]! - s[lo]!);
  const p = curve.powerKw[lo]! + f * (curve.powerKw[hi]! - curve.powerKw[lo]!);
  return Math.min(curve.ratedKw, p);
}

/** Capacity factor: power over rated power, 0..1 (NaN in, NaN out). */
export function capacityFactor(curve: PowerCurve, speedMs: number): number {
  return powerKw(curve, speedMs) / curve.ratedKw;
}

/** One line for reports: "nrel-5mw: 5000 kW, cut-in 3 m/s, cut-out 25 m/s (source ...)". */
export function describeCurve(curve: PowerCurve): string {
  return `${curve.name}: ${curve.ratedKw} kW rated, cut-in ${curve.cutInMs} m/s, cut-out ${curve.cutOutMs} m/s (${curve.source})`;
}
