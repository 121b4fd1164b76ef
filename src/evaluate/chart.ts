/**
 * The evaluation chart: area-weighted RMSE (m/s) against lead hour for the model and every
 * baseline, drawn with the shared canvas in png.ts. The model is drawn last, in black, so it
 * sits on top of the baselines it is compared with.
 */
import type { Scores } from './metrics.js';
import { lineChart, SERIES_COLORS } from '../output/png.js';

export interface RmseChartOptions {
  /** Name of the model series in scores (drawn black, on top). */
  model: string;
  title?: string;
  width?: number;
  height?: number;
}

/** PNG bytes of RMSE against lead hour (global scores). */
export function rmseChart(scores: Scores, options: RmseChartOptions): Buffer {
  const leads = Array.from({ length: scores.horizon }, (_, i) => i + 1);
  const others = scores.names.filter((n) => n !== options.model);
  const ordered = [...others, ...(scores.names.includes(options.model) ? [options.model] : [])];
  const series = ordered.map((name, k) => ({
    name: `${name} (${fmt(scores.global.forecasters[name]!.mean.rmse)})`,
    values: scores.global.forecasters[name]!.rmse,
    color: name === options.model ? '#000000' : SERIES_COLORS[k % (SERIES_COLORS.length - 1)]!,
  }));
  const canvas = lineChart({
    series,
    x: leads,
    xLabel: 'lead time (hours); legend: mean RMSE over leads',
    yLabel: 'RMSE (m/s), area-weighted',
    title: options.title ?? 'RMSE by lead hour, test period',
    width: options.width ?? 800,
    height: options.height ?? 480,
  });
  return canvas.toPng();
}

function fmt(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(2)} m/s` : 'n/a';
}
