/**
 * The input hours of a forecast: the `lookback` consecutive hours ending at the issue hour
 * (default: the latest hour in the data), from a catalog of hourly GeoTIFFs or from the hours
 * of a gridded dataset (then as the period to read), or a DataError naming the data and exactly
 * which hours are missing or doubled.
 */
import { basename } from 'node:path';
import { DataError } from '../core/errors.js';
import { HOUR_MS, isoHour } from '../core/time.js';
import type { Catalog, CatalogEntry } from './catalog.js';

/**
 * The lookback files ending at the issue hour, or a DataError naming the folder and exactly
 * which hours are missing or doubled.
 */
export function selectInputHours(catalog: Catalog, lookback: number, issueMs: number | undefined): { issueMs: number; entries: CatalogEntry[] } {
  const all = catalog.entries;
  if (all.length === 0) throw new DataError(catalog.input, 'no hourly GeoTIFFs found');
  const latest = all[all.length - 1]!.time;
  const issue = issueMs ?? latest;
  const first = issue - (lookback - 1) * HOUR_MS;
  const byTime = new Map<number, CatalogEntry[]>();
  for (const e of all) {
    if (e.time < first || e.time > issue) continue;
    const list = byTime.get(e.time);
    if (list) list.push(e);
    else byTime.set(e.time, [e]);
  }
  const need = `a forecast issued at ${isoHour(issue)} needs the ${lookback} hours ${isoHour(first)}..${isoHour(issue)}`;
  if (issueMs !== undefined && issue > latest) {
    throw new DataError(catalog.input, `no file for ${isoHour(issue)}: the latest hour here is ${isoHour(latest)} (${need})`);
  }
  const missing: number[] = [];
  const doubled: string[] = [];
  const entries: CatalogEntry[] = [];
  for (let t = first; t <= issue; t += HOUR_MS) {
    const list = byTime.get(t);
    if (!list) missing.push(t);
    else if (list.length > 1) doubled.push(`${isoHour(t)} in ${list.map((e) => basename(e.path)).join(' and ')}`);
    else entries.push(list[0]!);
  }
  if (missing.length > 0) throw new DataError(catalog.input, `${describeMissing(missing)}; ${need}`);
  if (doubled.length > 0) throw new DataError(catalog.input, `duplicate hours: ${doubled.slice(0, 4).join(', ')}; ${need}`);
  return { issueMs: issue, entries };
}

/** The selected hours as a catalog of their own (consecutive by construction). */
export function inputCatalog(catalog: Catalog, entries: CatalogEntry[]): Catalog {
  return { input: catalog.input, entries, gaps: [], duplicates: [] };
}

/** "3 missing hours: 2024-01-01T05Z..2024-01-01T07Z (3 h)", runs of consecutive hours joined. */
function describeMissing(missing: number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < missing.length; ) {
    let j = i;
    while (j + 1 < missing.length && missing[j + 1]! - missing[j]! === HOUR_MS) j++;
    runs.push(i === j ? isoHour(missing[i]!) : `${isoHour(missing[i]!)}..${isoHour(missing[j]!)} (${j - i + 1} h)`);
    i = j + 1;
  }
  return `${missing.length} missing hour${missing.length === 1 ? '' : 's'}: ${runs.slice(0, 6).join(', ')}${runs.length > 6 ? ', ...' : ''}`;
}

/**
 * The period of a gridded dataset (its sorted, unique hours) a forecast reads: the lookback
 * hours ending at the issue hour, as from/to for openGridded, or a DataError naming the data.
 */
export function selectGriddedHours(data: { input: string; hours: ArrayLike<number> }, lookback: number, issueMs: number | undefined): { issueMs: number; from: number; to: number } {
  const { hours } = data;
  if (hours.length === 0) throw new DataError(data.input, 'no hours');
  const latest = hours[hours.length - 1]!;
  const issue = issueMs ?? latest;
  const first = issue - (lookback - 1) * HOUR_MS;
  const need = `a forecast issued at ${isoHour(issue)} needs the ${lookback} hours ${isoHour(first)}..${isoHour(issue)}`;
  if (issue > latest) throw new DataError(data.input, `no data for ${isoHour(issue)}: the latest hour here is ${isoHour(latest)} (${need})`);
  // Binary search for the first hour >= first; the hours are sorted and unique.
  let lo = 0;
  let hi = hours.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (hours[mid]! < first) lo = mid + 1;
    else hi = mid;
  }
  const present = new Set<number>();
  for (let i = lo; i < hours.length && hours[i]! <= issue; i++) present.add(hours[i]!);
  const missing: number[] = [];
  for (let t = first; t <= issue; t += HOUR_MS) if (!present.has(t)) missing.push(t);
  if (missing.length > 0) throw new DataError(data.input, `${describeMissing(missing)}; ${need}`);
  return { issueMs: issue, from: first, to: issue };
}
