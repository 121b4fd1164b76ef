/**
 * A fan chart per site: the forecast's central intervals as nested shaded bands over the lead
 * hours (the widest palest, drawn first), the median and the point forecast (the mean head)
 * as lines; with a turbine, a second panel of power with the same bands (power quantiles,
 * src/power/quantiles.ts). The speed is at hub height when the site has one, else at the
 * forecast's height. A Vega-Lite spec with its data inline, rendered to SVG and PNG by the one
 * chart path (vega.ts), as the evaluation chart is.
 */
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { writeFileSynced } from '../core/atomic.js';
import { FONT_STACK } from './png.js';
import type { SiteForecast } from './site-forecasts.js';
import { renderVegaLite } from './vega.js';

export interface FanChartOptions {
  site: SiteForecast;
  levels: readonly number[];
  issueTime: string;
  run: string;
  /** Height of the site's speeds (the forecast's), when known. */
  forecastHeightM: number | null;
  turbine?: { name: string; ratedKw: number };
}

/** Palest (widest interval) to darkest (narrowest). */
const BAND_COLOURS = ['#deebf7', '#c6dbef', '#9ecae1', '#6baed6', '#4292c6'];
const MEDIAN = 'median';
const MEAN = 'point forecast (mean)';

type Series = (number | null)[];

/** The central intervals of the levels, widest first: pairs of levels k and K-1-k. */
function intervals(levels: readonly number[]): Array<{ lo: number; hi: number; label: string }> {
  const K = levels.length;
  const pairs: Array<{ lo: number; hi: number; label: string }> = [];
  for (let k = 0; k < Math.floor(K / 2); k++) {
    const lo = levels[k]!;
    const hi = levels[K - 1 - k]!;
    pairs.push({ lo: k, hi: K - 1 - k, label: `${Math.round((hi - lo) * 100)} % (q${lo}-q${hi})` });
  }
  return pairs;
}

/** The level the median line follows: 0.5 when it is a level, else the nearest. */
function medianIndex(levels: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < levels.length; k++) if (Math.abs(levels[k]! - 0.5) < Math.abs(levels[best]! - 0.5)) best = k;
  return best;
}

interface Panel {
  title: string;
  yTitle: string;
  quantiles: Series[];
  point: Series;
  /** y from 0 to this (rated power), else from 0 to the data. */
  yMax?: number;
  scale: number;
}

function panelSpec(p: Panel, levels: readonly number[], horizon: number, xTitle: string): Record<string, unknown> {
  const bands = intervals(levels);
  const m = medianIndex(levels);
  const colours = BAND_COLOURS.slice(Math.max(0, BAND_COLOURS.length - bands.length));
  const values: Record<string, unknown>[] = [];
  p.quantiles.forEach((row, j) => {
    bands.forEach((b) => {
      const lo = row[b.lo];
      const hi = row[b.hi];
      if (lo !== null && lo !== undefined && hi !== null && hi !== undefined) values.push({ lead: j + 1, kind: 'band', band: b.label, lo: lo / p.scale, hi: hi / p.scale });
    });
    const median = row[m];
    if (median !== null && median !== undefined) values.push({ lead: j + 1, kind: 'line', series: levels[m] === 0.5 ? MEDIAN : `q${levels[m]}`, value: median / p.scale });
    const point = p.point[j];
    if (point !== null && point !== undefined) values.push({ lead: j + 1, kind: 'line', series: MEAN, value: point / p.scale });
  });
  const x = { field: 'lead', type: 'quantitative', title: xTitle, scale: { domain: [1, Math.max(2, horizon)], nice: false }, axis: { tickMinStep: 1 } };
  // Power runs from 0 to a little above rated, so a forecast at rated is not drawn on the frame.
  const y = { type: 'quantitative', title: p.yTitle, scale: p.yMax !== undefined ? { domain: [0, (1.05 * p.yMax) / p.scale], nice: false } : { zero: true } };
  const colour = { field: 'band', type: 'nominal', title: 'central interval', scale: { domain: bands.map((b) => b.label), range: colours }, legend: { orient: 'right' } };
  const lineNames = [levels[m] === 0.5 ? MEDIAN : `q${levels[m]}`, MEAN];
  return {
    title: { text: p.title, anchor: 'start', fontSize: 13 },
    width: 640,
    height: 260,
    data: { values },
    layer: [
      // One layer per band, widest first, so each narrower band is drawn over the wider one.
      ...bands.map((b) => ({
        transform: [{ filter: { field: 'band', equal: b.label } }],
        mark: { type: 'area', opacity: 1 },
        encoding: { x, y: { ...y, field: 'lo', stack: null }, y2: { field: 'hi' }, color: colour },
      })),
      {
        transform: [{ filter: { field: 'kind', equal: 'line' } }],
        mark: { type: 'line', strokeWidth: 2 },
        encoding: {
          x,
          y: { ...y, field: 'value' },
          // The median solid dark blue, the mean dashed black: one legend for both channels.
          stroke: { field: 'series', type: 'nominal', title: 'line', scale: { domain: lineNames, range: ['#08306b', '#000000'] }, legend: { orient: 'right', symbolType: 'stroke', symbolStrokeWidth: 2 } },
          strokeDash: { field: 'series', type: 'nominal', title: 'line', scale: { domain: lineNames, range: [[1, 0], [6, 3]] } },
        },
      },
    ],
  };
}

/** The fan chart's Vega-Lite spec, data inline. */
export function fanChartSpec(o: FanChartOptions): TopLevelSpec {
  const { site, levels } = o;
  const horizon = site.speeds.length;
  const hub = site.hub;
  const q = site.quantiles;
  const height = hub ? hub.heightM : o.forecastHeightM;
  const at = height !== null ? ` at ${height} m` : '';
  const xTitle = `lead time (hours after ${o.issueTime})`;
  const panels: Panel[] = [
    {
      title: `wind speed${at}${hub ? ' (hub height, power-law shear)' : ''}`,
      yTitle: 'wind speed (m/s)',
      quantiles: (hub ? q?.hubSpeeds : q?.speeds) ?? [],
      point: hub ? hub.speeds : site.speeds,
      scale: 1,
    },
  ];
  if (o.turbine && q?.powerKw && site.powerKw) {
    const mw = o.turbine.ratedKw >= 1000;
    panels.push({
      title: `power of ${o.turbine.name} (${o.turbine.ratedKw} kW rated)`,
      yTitle: `power (${mw ? 'MW' : 'kW'})`,
      quantiles: q.powerKw,
      point: site.powerKw,
      yMax: o.turbine.ratedKw,
      scale: mw ? 1000 : 1,
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    description: `Forecast quantiles of ${site.name} (windcast predict): central intervals shaded, median and point forecast as lines.`,
    title: { text: `${site.name} (${round(site.lat)}, ${round(site.lon)})`, subtitle: `issued ${o.issueTime}, run ${o.run}`, anchor: 'start', fontSize: 16, subtitleFontSize: 12, subtitleColor: '#404040', offset: 10 },
    padding: 14,
    background: '#ffffff',
    vconcat: panels.map((p) => panelSpec(p, levels, horizon, xTitle)),
    config: { font: FONT_STACK, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 300 } },
    // The panels are built as plain objects (their layers depend on the levels): Vega-Lite checks them when compiling.
  } as unknown as TopLevelSpec;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Spec, SVG and PNG of a site's fan chart. */
export async function fanChart(o: FanChartOptions): Promise<{ spec: TopLevelSpec; svg: string; png: Buffer }> {
  const spec = fanChartSpec(o);
  return { spec, ...(await renderVegaLite(spec)) };
}

/**
 * fan_<site>_<issue time>: the stem of a site's chart files, the site's name reduced to
 * letters, digits, '.', '_' and '-', made unique among `used` (which it adds to).
 */
export function fanChartStem(siteName: string, issueTime: string, used: Set<string>): string {
  const slug = siteName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'site';
  let stem = `fan_${slug}_${issueTime}`;
  for (let n = 2; used.has(stem); n++) stem = `fan_${slug}-${n}_${issueTime}`;
  used.add(stem);
  return stem;
}

/**
 * Every site's fan chart into dir as fan_<site>_<issue>.png and .svg (fsynced; the staging
 * folder's commit is atomic). Returns the PNGs' file names, in the sites' order.
 */
export async function writeFanCharts(dir: string, sites: SiteForecast[], o: Omit<FanChartOptions, 'site'>): Promise<string[]> {
  const used = new Set<string>();
  const names: string[] = [];
  for (const site of sites) {
    const stem = fanChartStem(site.name, o.issueTime, used);
    const chart = await fanChart({ ...o, site });
    writeFileSynced(join(dir, `${stem}.png`), chart.png);
    writeFileSynced(join(dir, `${stem}.svg`), chart.svg);
    names.push(`${stem}.png`);
  }
  return names;
}
