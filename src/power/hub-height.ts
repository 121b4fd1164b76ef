/**
 * A forecast at hub height: the model forecasts the wind at one height (the checkpoint's
 * target, 100 m or 10 m); a turbine's hub is often elsewhere (80, 110, 150 m). Each cell and
 * lead is scaled by the power law (shear.ts) with its own shear exponent, taken from the
 * observed wind at the input's two heights (the cube's speed and its other height's u/v) in
 * the same hour of day yesterday: a lead valid at 03 UTC uses 03 UTC of the day before the
 * issue, inside the 24 input hours, so night-time stable profiles extrapolate night-time
 * forecasts and the diurnal cycle of stability is kept. Where the input has one height only,
 * every cell and lead takes DEFAULT_SHEAR_EXPONENT, and the result says so.
 */
import type { Cube } from '../ingest/cube.js';
import { DEFAULT_SHEAR_EXPONENT, shearExponentBetween } from './shear.js';

export interface HubHeightPlan {
  /** Height the forecast is at, and the hub height, metres. */
  fromHeightM: number;
  toHeightM: number;
  /** Where the exponents come from, for the outputs. */
  shear: 'none' | 'observed' | 'default';
  /** One line saying how the forecast was brought to hub height. */
  note: string;
}

/** The same hour of day as lead j (1-based) at or before t0 inside the input hours (else t0). */
export function sameHourYesterday(t0: number, lead: number, lookback: number): number {
  const t = t0 + lead - 24 * Math.ceil(lead / 24);
  return t >= t0 - lookback + 1 && t >= 0 ? t : t0;
}

/** How a forecast at fromHeightM reaches toHeightM with the wind this cube holds. */
export function planHubHeight(cube: Pick<Cube, 'other'>, fromHeightM: number, toHeightM: number): HubHeightPlan {
  if (fromHeightM === toHeightM) return { fromHeightM, toHeightM, shear: 'none', note: `hub height ${toHeightM} m: the forecast's own height, no extrapolation` };
  if (cube.other) {
    return {
      fromHeightM,
      toHeightM,
      shear: 'observed',
      note: `hub height ${toHeightM} m from the ${fromHeightM} m forecast by the power law, alpha per cell and lead from the observed ${Math.min(fromHeightM, cube.other.heightM)} m and ${Math.max(fromHeightM, cube.other.heightM)} m wind at the same hour yesterday (calm hours: ${DEFAULT_SHEAR_EXPONENT.toFixed(3)})`,
    };
  }
  return {
    fromHeightM,
    toHeightM,
    shear: 'default',
    note: `hub height ${toHeightM} m from the ${fromHeightM} m forecast by the power law with the default alpha ${DEFAULT_SHEAR_EXPONENT.toFixed(3)} (1/7): the input has wind at one height only`,
  };
}

/** The exponent of one cell at hour index t (flat index into the cube's frames), as the plan says. */
function exponentAt(cube: Pick<Cube, 'speed' | 'other'>, plan: HubHeightPlan, at: number): number {
  const other = cube.other;
  if (plan.shear !== 'observed' || !other) return DEFAULT_SHEAR_EXPONENT;
  const own = cube.speed[at]!;
  const second = Math.hypot(other.u[at]!, other.v[at]!);
  return plan.fromHeightM < other.heightM
    ? shearExponentBetween(own, plan.fromHeightM, second, other.heightM)
    : shearExponentBetween(second, other.heightM, own, plan.fromHeightM);
}

/**
 * Shear exponents [cells.length * horizon] (cell-major, like the forecasts) for the given
 * cells of the cube's grid, the forecast issued at hour index t0.
 */
export function shearExponents(cube: Pick<Cube, 'grid' | 'speed' | 'other'>, plan: HubHeightPlan, t0: number, cells: Int32Array, horizon: number, lookback: number): Float32Array {
  const alphas = new Float32Array(cells.length * horizon).fill(DEFAULT_SHEAR_EXPONENT);
  if (plan.shear !== 'observed') return alphas;
  const n = cube.grid.width * cube.grid.height;
  for (let j = 0; j < horizon; j++) {
    const base = sameHourYesterday(t0, j + 1, lookback) * n;
    for (let i = 0; i < cells.length; i++) alphas[i * horizon + j] = exponentAt(cube, plan, base + cells[i]!);
  }
  return alphas;
}

/** One lead's whole-grid forecast frame at hub height (a new frame; NaN stays NaN). */
export function hubHeightFrame(cube: Pick<Cube, 'grid' | 'speed' | 'other'>, plan: HubHeightPlan, frame: Float32Array, t0: number, lead: number, lookback: number): Float32Array {
  if (plan.fromHeightM === plan.toHeightM) return frame.slice();
  const n = cube.grid.width * cube.grid.height;
  const base = sameHourYesterday(t0, lead, lookback) * n;
  const ratio = plan.toHeightM / plan.fromHeightM;
  const out = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    const v = frame[c]!;
    out[c] = v !== v ? NaN : v * Math.pow(ratio, exponentAt(cube, plan, base + c));
  }
  return out;
}

/**
 * Scale forecasts in place to hub height: values [cells * horizon * per] (per = 1 for the
 * point forecast, the number of levels for quantiles), each (cell, lead) by (to/from)^alpha.
 */
export function scaleToHubHeight(values: Float32Array, alphas: Float32Array, plan: HubHeightPlan, per = 1): void {
  if (plan.fromHeightM === plan.toHeightM) return;
  const ratio = plan.toHeightM / plan.fromHeightM;
  for (let w = 0; w < alphas.length; w++) {
    const factor = Math.pow(ratio, alphas[w]!);
    for (let k = w * per; k < (w + 1) * per; k++) values[k] = values[k]! * factor;
  }
}
