/**
 * The evaluation chart: area-weighted RMSE (m/s) against lead hour for the model and every
 * baseline, as a Vega-Lite spec (data inline, so a user can restyle it in any Vega-Lite
 * editor), the SVG Vega renders from it, and a PNG drawn by Vega onto a @napi-rs/canvas
 * context in our font.
 *
 * The model is drawn last, in black and thicker, so it sits on top of the baselines it is
 * compared with. The legend sits right of the plot, so it never covers a curve. Rendering is
 * output/vega.ts's, shared with predict's charts; the probabilistic charts (prob-charts.ts)
 * share renderChart and CHART_CONFIG.
 */
import type { TopLevelSpec } from 'vega-lite';
import { schemeTableau10 } from 'd3-scale-chromatic';
import type { Scores } from './metrics.js';
import { FONT_STACK } from '../output/png.js';
import { renderVegaLite } from '../output/vega.js';

export interface RmseChartOptions {
  /** Name of the model series in scores (drawn black, on top). */
  model: string;
  title?: string;
  /** Size of the whole picture in pixels; default 800 x 480. */
  width?: number;
  height?: number;
}

/** The chart in the three forms report.ts writes. */
export interface RmseChart {
  spec: TopLevelSpec;
  svg: string;
  png: Buffer;
}

/** The legend label of a series: its name and mean RMSE over leads. */
export function seriesLabel(scores: Scores, name: string): string {
  const v = scores.global.forecasters[name]!.mean.rmse;
  return `${name} (${Number.isFinite(v) ? `${v.toFixed(2)} m/s` : 'n/a'})`;
}

/** The Vega-Lite spec of RMSE against lead hour (global scores), data inline. */
export function rmseChartSpec(scores: Scores, options: RmseChartOptions): TopLevelSpec {
  const others = scores.names.filter((n) => n !== options.model);
  const ordered = [...others, ...(scores.names.includes(options.model) ? [options.model] : [])];
  const labels = ordered.map((n) => seriesLabel(scores, n));
  const modelLabel = scores.names.includes(options.model) ? seriesLabel(scores, options.model) : undefined;
  const colors = ordered.map((n, k) => (n === options.model ? '#000000' : schemeTableau10[k % schemeTableau10.length]!));
  const values = ordered.flatMap((name, k) =>
    Array.from(scores.global.forecasters[name]!.rmse, (rmse, l) => ({ lead: l + 1, forecast: labels[k]!, rmse: Number.isFinite(rmse) ? rmse : null })),
  );
  const isModel = { field: 'forecast', equal: modelLabel ?? '' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    description: 'Area-weighted RMSE by lead hour of the model and its baselines on the test period (windcast evaluate).',
    title: { text: options.title ?? 'RMSE by lead hour, test period', subtitle: 'legend: mean RMSE over all leads' },
    width: options.width ?? 800,
    height: options.height ?? 480,
    autosize: { type: 'fit', contains: 'padding' },
    padding: 14,
    background: '#ffffff',
    data: { values },
    encoding: {
      // A few pixels of padding keep the first and last points off the axes.
      x: { field: 'lead', type: 'quantitative', title: 'lead time (hours)', scale: { domain: [1, Math.max(2, scores.horizon)], nice: false, padding: 10 }, axis: { tickMinStep: 1 } },
      y: { field: 'rmse', type: 'quantitative', title: 'RMSE (m/s), area-weighted', scale: { zero: true } },
      color: { field: 'forecast', type: 'nominal', title: 'forecast', scale: { domain: labels, range: colors }, legend: { orient: 'right', symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 300 } },
    },
    layer: [
      { transform: [{ filter: { not: isModel } }], mark: { type: 'line', point: true, strokeWidth: 2 } },
      { transform: [{ filter: isModel }], mark: { type: 'line', point: { size: 40 }, strokeWidth: 3 } },
    ],
    config: CHART_CONFIG,
  };
}

/** Spec, SVG and PNG of RMSE against lead hour (global scores). */
export async function rmseChart(scores: Scores, options: RmseChartOptions): Promise<RmseChart> {
  return renderChart(rmseChartSpec(scores, options));
}

/** Any Vega-Lite spec as the three forms the report writes: the spec, Vega's SVG and a PNG in our font (output/vega.ts). */
export async function renderChart(spec: TopLevelSpec): Promise<RmseChart> {
  return { spec, ...(await renderVegaLite(spec)) };
}

/** The chart look every evaluation chart shares (fonts, title). */
export const CHART_CONFIG = {
  font: FONT_STACK,
  title: { fontSize: 16, fontWeight: 600, anchor: 'start', subtitleColor: '#404040', subtitleFontSize: 12, offset: 12 },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 400 },
} as const;
