/**
 * The probabilistic charts of an evaluation, as Vega-Lite specs (data inline) rendered by
 * chart.ts's renderChart: CRPS by lead (the model beside the three probabilistic baselines),
 * coverage of the central 50 % and 80 % intervals by lead (nominal levels as grey rules), and
 * the PIT histogram of each forecaster (bins between consecutive quantile levels, drawn at
 * their true widths as densities, so a calibrated forecast is flat at 1), the reliability
 * diagram (observed frequency below each quantile against its level, on the diagonal when
 * calibrated) and spread / skill by lead (1 when the spread matches the error).
 *
 * Colours follow the forecaster, the same in every chart: the model black, drawn last.
 */
import type { TopLevelSpec } from 'vega-lite';
import { schemeTableau10 } from 'd3-scale-chromatic';
import { CHART_CONFIG, renderChart, type RmseChart } from './chart.js';
import type { ProbabilisticReport } from './probabilistic.js';

const BASE = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  padding: 14,
  background: '#ffffff',
  config: CHART_CONFIG,
} as const;

function palette(names: readonly string[], model: string): { domain: string[]; range: string[] } {
  const ordered = [...names.filter((n) => n !== model), ...names.filter((n) => n === model)];
  return { domain: ordered, range: ordered.map((n, k) => (n === model ? '#000000' : schemeTableau10[k % schemeTableau10.length]!)) };
}

const finite = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : null);

/** CRPS (m/s) against lead hour, global. */
export function crpsChartSpec(p: ProbabilisticReport, o: { model: string; title: string }): TopLevelSpec {
  const g = p.global;
  const labelOf = (n: string) => `${n} (${Number.isFinite(g.forecasters[n]!.mean.crps) ? g.forecasters[n]!.mean.crps.toFixed(3) : 'n/a'} m/s)`;
  const names = palette(p.forecasters, o.model);
  const labels = names.domain.map(labelOf);
  const values = names.domain.flatMap((n) => g.forecasters[n]!.crps.map((v, l) => ({ lead: l + 1, forecast: labelOf(n), crps: finite(v) })));
  const modelLabel = p.forecasters.includes(o.model) ? labelOf(o.model) : '';
  return {
    ...BASE,
    description: 'Area-weighted CRPS by lead hour of the model and the probabilistic baselines on the test period (windcast evaluate).',
    title: { text: o.title, subtitle: `scored at the quantile levels ${p.levels.join(', ')}; legend: mean CRPS over leads` },
    width: 800,
    height: 440,
    autosize: { type: 'fit', contains: 'padding' },
    data: { values },
    encoding: {
      x: { field: 'lead', type: 'quantitative', title: 'lead time (hours)', scale: { domain: [1, Math.max(2, g.weight.length)], nice: false, padding: 10 }, axis: { tickMinStep: 1 } },
      y: { field: 'crps', type: 'quantitative', title: 'CRPS (m/s), area-weighted', scale: { zero: true } },
      color: { field: 'forecast', type: 'nominal', title: 'forecast', scale: { domain: labels, range: names.range }, legend: { orient: 'right', symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 300 } },
    },
    layer: [
      { transform: [{ filter: { not: { field: 'forecast', equal: modelLabel } } }], mark: { type: 'line', point: true, strokeWidth: 2 } },
      { transform: [{ filter: { field: 'forecast', equal: modelLabel } }], mark: { type: 'line', point: { size: 40 }, strokeWidth: 3 } },
    ],
  };
}

/** Coverage (%) of the central 50 % and 80 % intervals against lead hour, global. */
export function coverageChartSpec(p: ProbabilisticReport, o: { model: string; title: string }): TopLevelSpec {
  const g = p.global;
  const intervals = p.intervals.filter((k) => k === '50' || k === '80').sort((a, b) => Number(a) - Number(b));
  const names = palette(p.forecasters, o.model);
  const values = names.domain.flatMap((n) =>
    intervals.flatMap((k) => (g.forecasters[n]!.coverage[k] ?? []).map((v, l) => ({ lead: l + 1, forecast: n, interval: `central ${k} %`, coverage: finite(v * 100) }))),
  );
  return {
    ...BASE,
    description: 'Coverage of the central 50 % and 80 % intervals by lead hour (windcast evaluate).',
    title: { text: o.title, subtitle: 'share of the truths inside the interval: dashed the central 50 %, solid the central 80 %; grey rules: the nominal levels' },
    width: 800,
    height: 440,
    autosize: { type: 'fit', contains: 'padding' },
    layer: [
      { data: { values: intervals.map((k) => ({ nominal: Number(k) })) }, mark: { type: 'rule', color: '#9a9a9a', strokeDash: [4, 4] }, encoding: { y: { field: 'nominal', type: 'quantitative' } } },
      {
        data: { values },
        mark: { type: 'line', point: true, strokeWidth: 2 },
        encoding: {
          x: { field: 'lead', type: 'quantitative', title: 'lead time (hours)', scale: { domain: [1, Math.max(2, g.weight.length)], nice: false, padding: 10 }, axis: { tickMinStep: 1 } },
          y: { field: 'coverage', type: 'quantitative', title: 'coverage (%)', scale: { domain: [0, 100] } },
          color: { field: 'forecast', type: 'nominal', title: 'forecast', scale: names, legend: { orient: 'right', symbolType: 'stroke', symbolStrokeWidth: 2.5 } },
          // Vega-Lite draws a strokeDash legend with invisible strokes: the subtitle says which is which.
          strokeDash: { field: 'interval', type: 'nominal', scale: { domain: intervals.map((k) => `central ${k} %`), range: [[6, 3], [1, 0]] }, legend: null },
          detail: { field: 'interval' },
        },
      },
    ],
    resolve: { scale: { y: 'shared' } },
  };
}

/** PIT histograms (all leads pooled), one panel per forecaster. */
export function pitChartSpec(p: ProbabilisticReport, o: { model: string; title: string }): TopLevelSpec {
  const g = p.global;
  const names = palette(p.forecasters, o.model);
  const taus = [0, ...p.levels, 1];
  const values = names.domain.flatMap((n) =>
    g.forecasters[n]!.pit.map((d, b) => ({ forecast: n, from: taus[b]!, to: taus[b + 1]!, density: finite(d) })),
  );
  return {
    ...BASE,
    description: 'PIT histograms: where the truth falls among the forecast quantiles, all leads pooled (windcast evaluate).',
    title: { text: o.title, subtitle: 'density of the truth between consecutive quantile levels; 1 (dashed) is calibrated, a U overconfident, a hump underconfident' },
    data: { values },
    facet: { field: 'forecast', type: 'nominal', title: null, sort: names.domain, header: { labelFontSize: 13, labelFontWeight: 600 } },
    columns: Math.min(4, names.domain.length),
    spec: {
      width: 200,
      height: 200,
      layer: [
        {
          mark: { type: 'rect', stroke: '#ffffff', strokeWidth: 1 },
          encoding: {
            x: { field: 'from', type: 'quantitative', title: 'quantile level (PIT)', scale: { domain: [0, 1] } },
            x2: { field: 'to' },
            y: { field: 'density', type: 'quantitative', title: 'density' },
            y2: { datum: 0 },
            color: { field: 'forecast', type: 'nominal', scale: names, legend: null },
          },
        },
        { mark: { type: 'rule', color: '#404040', strokeDash: [4, 4] }, encoding: { y: { datum: 1 } } },
      ],
    },
  };
}

/** Reliability diagram: observed frequency of the truth below each quantile (all leads pooled) against its level. */
export function reliabilityChartSpec(p: ProbabilisticReport, o: { model: string; title: string }): TopLevelSpec {
  const g = p.global;
  const names = palette(p.forecasters, o.model);
  const values = names.domain.flatMap((n) => g.forecasters[n]!.reliability.map((f, k) => ({ forecast: n, level: p.levels[k]!, observed: finite(f) })));
  const axis = { scale: { domain: [0, 1] }, axis: { values: [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1], format: '.2' } };
  return {
    ...BASE,
    description: 'Reliability diagram: how often the truth fell below each forecast quantile, all leads pooled (windcast evaluate).',
    title: { text: o.title, subtitle: ['observed frequency of the truth below each quantile against its level,', 'all leads pooled; on the diagonal (dashed) is calibrated'] },
    width: 560,
    height: 520,
    autosize: { type: 'fit', contains: 'padding' },
    layer: [
      { data: { values: [{ a: 0 }, { a: 1 }] }, mark: { type: 'line', color: '#9a9a9a', strokeDash: [4, 4] }, encoding: { x: { field: 'a', type: 'quantitative', ...axis }, y: { field: 'a', type: 'quantitative' } } },
      {
        data: { values },
        mark: { type: 'line', point: true, strokeWidth: 2 },
        encoding: {
          x: { field: 'level', type: 'quantitative', title: 'quantile level', ...axis },
          y: { field: 'observed', type: 'quantitative', title: 'observed frequency below it', ...axis },
          color: { field: 'forecast', type: 'nominal', title: 'forecast', scale: names, legend: { orient: 'right', symbolType: 'stroke', symbolStrokeWidth: 2.5 } },
        },
      },
    ],
  };
}

/** Spread / skill by lead: the spread read from the central interval against the central quantile's RMSE. */
export function spreadSkillChartSpec(p: ProbabilisticReport, o: { model: string; title: string }): TopLevelSpec {
  const g = p.global;
  const names = palette(p.forecasters, o.model);
  const values = names.domain.flatMap((n) => g.forecasters[n]!.spreadSkill.map((v, l) => ({ lead: l + 1, forecast: n, ratio: finite(v) })));
  return {
    ...BASE,
    description: 'Spread / skill ratio by lead hour (windcast evaluate).',
    title: { text: o.title, subtitle: `spread (a deviation read from the central ${p.spreadInterval ?? '?'} % interval) over the central quantile's RMSE; 1 (dashed) is a spread that matches the error` },
    width: 800,
    height: 400,
    autosize: { type: 'fit', contains: 'padding' },
    layer: [
      { data: { values: [{ one: 1 }] }, mark: { type: 'rule', color: '#9a9a9a', strokeDash: [4, 4] }, encoding: { y: { field: 'one', type: 'quantitative' } } },
      {
        data: { values },
        mark: { type: 'line', point: true, strokeWidth: 2 },
        encoding: {
          x: { field: 'lead', type: 'quantitative', title: 'lead time (hours)', scale: { domain: [1, Math.max(2, g.weight.length)], nice: false, padding: 10 }, axis: { tickMinStep: 1 } },
          y: { field: 'ratio', type: 'quantitative', title: 'spread / skill', scale: { zero: true } },
          color: { field: 'forecast', type: 'nominal', title: 'forecast', scale: names, legend: { orient: 'right', symbolType: 'stroke', symbolStrokeWidth: 2.5 } },
        },
      },
    ],
  };
}

export interface ProbabilisticCharts {
  crps: RmseChart;
  coverage: RmseChart;
  pit: RmseChart;
  reliability: RmseChart;
  spreadSkill: RmseChart;
}

export async function probabilisticCharts(p: ProbabilisticReport, o: { model: string; run: string }): Promise<ProbabilisticCharts> {
  return {
    crps: await renderChart(crpsChartSpec(p, { model: o.model, title: `CRPS by lead hour: ${o.run} on the test period` })),
    coverage: await renderChart(coverageChartSpec(p, { model: o.model, title: `Central-interval coverage by lead hour: ${o.run}` })),
    pit: await renderChart(pitChartSpec(p, { model: o.model, title: `PIT histograms: ${o.run} on the test period` })),
    reliability: await renderChart(reliabilityChartSpec(p, { model: o.model, title: `Reliability of the quantiles: ${o.run}` })),
    spreadSkill: await renderChart(spreadSkillChartSpec(p, { model: o.model, title: `Spread / skill by lead hour: ${o.run}` })),
  };
}
