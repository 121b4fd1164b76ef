/**
 * Which cube band each GeoTIFF band fills. The cube holds the wind speed at one height (the
 * target), that height's u and v (when the file has them) and the u and v of one other height
 * (4-band files); bandPlan decides, from the first file's header and the ingest choice (target
 * height, variables), which file band goes where. Every file of a dataset has the same bands
 * (decode-pool.ts checks), so one plan serves them all. Refused with one DataError naming the
 * file: a target height or a variable the bands do not have.
 */
import { DataError } from '../core/errors.js';
import { defaultTargetHeight, otherPairHeight } from './gridded/names.js';
import type { BandWind, RasterHeader } from './raster-header.js';

/** A band of the cube (cube.ts): the target height's speed, u, v; the other height's u, v. */
export type CubeBand = 'speed' | 'u' | 'v' | 'uOther' | 'vOther';

/** Which wind to read: ingest.targetHeight and ingest.variables, or a checkpoint's inputs. */
export interface WindChoice {
  /** Height of the speed in metres, or 'auto': 100 m when present, else 10 m. */
  targetHeight: number | 'auto';
  /** ERA5 names of the variables to read (u100, v100, ...); null: all the wind there is. */
  variables: readonly string[] | null;
}

export const ALL_WIND: WindChoice = { targetHeight: 'auto', variables: null };

export interface BandPlan {
  /** Per file band, in file order: the cube band it fills, or null (not read into the cube). */
  slots: (CubeBand | null)[];
  /** Height of the cube's speed in metres; null when the bands do not say (unnamed bands). */
  heightM: number | null;
  /** Height of the other u/v pair, when the cube holds one. */
  otherHeightM: number | null;
  /** ERA5 names of the bands read (empty for unnamed bands). */
  variables: string[];
}

function describe(winds: BandWind[]): string {
  return winds.map((w) => w.name ?? 'unnamed').join(', ');
}

/** The plan for a file with these bands under `choice`. */
export function bandPlan(header: Pick<RasterHeader, 'path' | 'winds'>, choice: WindChoice): BandPlan {
  const { path, winds } = header;
  const named = winds.every((w) => w.name !== null);
  if (!named) {
    if (choice.variables) throw new DataError(path, `the bands have no names (GDAL descriptions such as u100, v100), so variables ${choice.variables.join(', ')} cannot be chosen among them`);
    if (choice.targetHeight !== 'auto') {
      throw new DataError(path, `target height ${choice.targetHeight} m asked for, but the bands do not say their height: name them u${choice.targetHeight}, v${choice.targetHeight} (GDAL band descriptions) or leave ingest.targetHeight at auto`);
    }
    return { slots: winds.map((w) => w.component), heightM: null, otherHeightM: null, variables: [] };
  }
  for (const name of choice.variables ?? []) {
    if (!winds.some((w) => w.name === name)) throw new DataError(path, `no band named ${name} (bands: ${describe(winds)})`);
  }
  const chosen = (w: BandWind) => !choice.variables || choice.variables.includes(w.name!);
  const pairAt = (h: number) => winds.some((w) => chosen(w) && w.heightM === h && w.component === 'u') && winds.some((w) => chosen(w) && w.heightM === h && w.component === 'v');
  const speedAt = (h: number) => winds.some((w) => chosen(w) && w.heightM === h && w.component === 'speed');
  const heights = [...new Set(winds.filter(chosen).map((w) => w.heightM!))].filter((h) => pairAt(h) || speedAt(h)).sort((a, b) => a - b);
  if (heights.length === 0) throw new DataError(path, `the chosen bands (${choice.variables!.join(', ')}) are not a u/v pair or a wind speed`);
  const target = choice.targetHeight === 'auto' ? defaultTargetHeight(heights) : choice.targetHeight;
  if (!heights.includes(target)) throw new DataError(path, `no wind at ${target} m: the bands (${describe(winds)}) hold wind at ${heights.map((h) => `${h} m`).join(' and ')}`);
  const other = otherPairHeight(heights.filter(pairAt), target);
  const slots = winds.map((w): CubeBand | null => {
    if (!chosen(w)) return null;
    if (w.heightM === target) return pairAt(target) ? (w.component === 'speed' ? null : w.component) : w.component === 'speed' ? 'speed' : null;
    if (w.heightM === other) return w.component === 'u' ? 'uOther' : w.component === 'v' ? 'vOther' : null;
    return null;
  });
  return { slots, heightM: target, otherHeightM: other, variables: winds.filter((w, b) => slots[b] !== null).map((w) => w.name!) };
}

/** The plan as a short stable text (part of the cube cache's key: other plans, other bands). */
export function planKey(plan: BandPlan): string {
  return `${plan.slots.map((s) => s ?? '-').join('.')}@${plan.heightM ?? 'unknown'}`;
}
