/**
 * Quantiles of power from quantiles of hub-height wind speed.
 *
 * A power curve f is non-decreasing from 0 up to cut-out and drops to 0 there. Were it
 * non-decreasing everywhere, the power quantile at level tau would simply be f(speed quantile
 * at tau). Above cut-out it is not, so the method is:
 *
 *  1. The speed distribution between the forecast quantiles is taken as piecewise linear in
 *     its CDF (linear interpolation between the points (q_k, tau_k)); beyond the outermost
 *     quantiles the nearest segment is extended (speeds clamped at 0 m/s, probability at 1).
 *  2. The probability of a shut-down, p_out = 1 - F(cut-out), is read off that CDF.
 *  3. That mass is 0 kW, the bottom of the power distribution. So the power quantile at tau is
 *     0 for tau <= p_out, and f(F^-1(tau - p_out)) above: the speed quantiles below cut-out,
 *     shifted up by the shut-down probability.
 *
 * When every speed quantile is below cut-out (nearly always) and the CDF's extension does not
 * reach it, p_out = 0 and this is exactly f(q_k). The result is non-decreasing in k by
 * construction (F^-1 and f below cut-out are non-decreasing); a final running maximum absorbs
 * the source tables' sub-kW wobbles above rated power. Speed quantiles are made non-decreasing
 * the same way first. Any NaN speed makes every quantile NaN.
 */
import { powerKw, type PowerCurve } from './curve.js';

/** The CDF through (q_k, tau_k) at v, with the outer segments extended (module header). */
export function cdfAt(levels: readonly number[], q: ArrayLike<number>, v: number): number {
  const K = levels.length;
  // The last quantile at or below v (ties: the highest level with that speed).
  let k = -1;
  while (k + 1 < K && q[k + 1]! <= v) k++;
  const slope = (a: number) => (q[a + 1]! > q[a]! ? (levels[a + 1]! - levels[a]!) / (q[a + 1]! - q[a]!) : NaN);
  if (k === -1) {
    const s = K >= 2 ? slope(0) : NaN;
    return Number.isFinite(s) ? Math.max(0, levels[0]! - (q[0]! - v) * s) : 0;
  }
  if (q[k] === v) return levels[k]!;
  if (k === K - 1) {
    const s = K >= 2 ? slope(K - 2) : NaN;
    return Number.isFinite(s) ? Math.min(1, levels[K - 1]! + (v - q[K - 1]!) * s) : 1;
  }
  return levels[k]! + ((v - q[k]!) / (q[k + 1]! - q[k]!)) * (levels[k + 1]! - levels[k]!);
}

/** The quantile function through (tau_k, q_k) at tau, with the outer segments extended, speeds >= 0. */
export function quantileAt(levels: readonly number[], q: ArrayLike<number>, tau: number): number {
  const K = levels.length;
  if (K === 1) return q[0]!;
  if (tau <= levels[0]!) {
    const dq = q[1]! - q[0]!;
    return Math.max(0, q[0]! - ((levels[0]! - tau) / (levels[1]! - levels[0]!)) * dq);
  }
  if (tau >= levels[K - 1]!) {
    const dq = q[K - 1]! - q[K - 2]!;
    return q[K - 1]! + ((tau - levels[K - 1]!) / (levels[K - 1]! - levels[K - 2]!)) * dq;
  }
  let k = 0;
  while (levels[k + 1]! < tau) k++;
  return q[k]! + ((tau - levels[k]!) / (levels[k + 1]! - levels[k]!)) * (q[k + 1]! - q[k]!);
}

/**
 * Power quantiles (kW) at `levels` from the hub-height speed quantiles `speeds` (m/s) at the
 * same levels (module header for the method). Returns the shut-down probability beside them.
 */
export function powerQuantiles(curve: PowerCurve, levels: readonly number[], speeds: ArrayLike<number>): { powerKw: number[]; shutdownProbability: number } {
  const K = levels.length;
  const q = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const v = speeds[k]!;
    if (Number.isNaN(v)) return { powerKw: new Array<number>(K).fill(NaN), shutdownProbability: NaN };
    q[k] = k > 0 ? Math.max(q[k - 1]!, v) : v;
  }
  const pOut = Math.max(0, 1 - cdfAt(levels, q, curve.cutOutMs));
  // Just below cut-out: f's value as the speed approaches cut-out from below.
  const belowCutOut = curve.cutOutMs * (1 - 1e-12);
  const out: number[] = [];
  for (let k = 0; k < K; k++) {
    const tau = levels[k]!;
    const p = tau <= pOut ? 0 : powerKw(curve, Math.min(belowCutOut, quantileAt(levels, q, tau - pOut)));
    out.push(k > 0 ? Math.max(out[k - 1]!, p) : p);
  }
  return { powerKw: out, shutdownProbability: pOut };
}
