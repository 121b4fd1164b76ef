/**
 * Calibration: how hard is a synthetic set to forecast? The persistence RMSE per lead and the
 * speed's mean and spread, area-weighted, computed from the generator directly.
 */
import { rowLat, type GridSpec } from '../core/grid.js';
import { HOUR_MS } from '../core/time.js';
import { DEG } from './geometry.js';
import { planSynth, synthHour } from './hour.js';

export interface PersistenceStats {
  hours: number;
  grid: string;
  /** Area-weighted (cos latitude) mean speed, m/s. */
  meanSpeed: number;
  /** Area-weighted speed standard deviation over all cells and hours, m/s. */
  stdSpeed: number;
  maxSpeed: number;
  /** Area-weighted RMSE of persistence (speed at t+lead vs t), m/s, per lead in hours. */
  rmse: Record<number, number>;
}

/**
 * Persistence RMSE at each lead over the hours [startMs, startMs + hours), computed from the
 * generator directly (the same numbers as reading back the files it writes on this grid).
 */
export function persistenceStats(options: {
  seed: number;
  startMs: number;
  hours: number;
  grid: GridSpec;
  leads?: number[];
  onHour?: (done: number) => void;
}): PersistenceStats {
  const leads = options.leads ?? [1, 6, 24];
  const maxLead = Math.max(...leads);
  const { grid } = options;
  const plan = planSynth(grid, options.seed);
  const weights = new Float64Array(grid.height);
  for (let r = 0; r < grid.height; r++) weights[r] = Math.max(0, Math.cos(rowLat(grid, r) * DEG));
  const ring: Float32Array[] = [];
  const sq = new Map<number, { sum: number; w: number }>(leads.map((l) => [l, { sum: 0, w: 0 }]));
  let sum = 0, sum2 = 0, wsum = 0, max = 0;
  for (let t = 0; t < options.hours; t++) {
    const { speed } = synthHour(plan, options.startMs + t * HOUR_MS);
    for (let r = 0; r < grid.height; r++) {
      const w = weights[r]!;
      for (let c = 0; c < grid.width; c++) {
        const s = speed[r * grid.width + c]!;
        sum += w * s;
        sum2 += w * s * s;
        if (s > max) max = s;
      }
      wsum += w * grid.width;
    }
    for (const lead of leads) {
      const past = ring[ring.length - lead];
      if (!past) continue;
      const acc = sq.get(lead)!;
      for (let r = 0; r < grid.height; r++) {
        const w = weights[r]!;
        let rowSum = 0;
        for (let c = 0; c < grid.width; c++) {
          const i = r * grid.width + c;
          const d = speed[i]! - past[i]!;
          rowSum += d * d;
        }
        acc.sum += w * rowSum;
        acc.w += w * grid.width;
      }
    }
    ring.push(speed);
    if (ring.length > maxLead) ring.shift();
    options.onHour?.(t + 1);
  }
  const mean = sum / wsum;
  const rmse: Record<number, number> = {};
  for (const [lead, acc] of sq) rmse[lead] = acc.w > 0 ? Math.sqrt(acc.sum / acc.w) : NaN;
  return {
    hours: options.hours,
    grid: `${grid.width}x${grid.height}`,
    meanSpeed: mean,
    stdSpeed: Math.sqrt(Math.max(0, sum2 / wsum - mean * mean)),
    maxSpeed: max,
    rmse,
  };
}
