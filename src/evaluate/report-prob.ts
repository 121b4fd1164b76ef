/**
 * The probabilistic and power sections of report.md: CRPS, coverage, pinball, reliability, PIT
 * and spread-skill of the model's quantiles beside the probabilistic baselines
 * (probabilistic.ts), and the power NMAE / NRMSE beside persistence and the ridge
 * (power-scores.ts).
 */
import type { ProbabilisticReport } from './probabilistic.js';
import type { PowerReport } from './power-scores.js';
import { MIN_BLOCKS } from './bootstrap.js';
import { f3, pct, skillWithInterval, table } from './format.js';

export const PROB_CHART_FILES = {
  crps: 'crps_by_lead',
  coverage: 'coverage_by_lead',
  pit: 'pit_histogram',
  reliability: 'reliability_diagram',
  spreadSkill: 'spread_skill_by_lead',
} as const;

/** The lines of the probabilistic section. */
export function formatProbabilisticMarkdown(p: ProbabilisticReport, model: string): string[] {
  const out: string[] = [];
  const g = p.global;
  const names = p.forecasters;
  const baselines = names.filter((n) => n !== model);
  const hasModel = p.modelQuantiles;
  const bs = p.bootstrap;
  const cov = (n: string, k: string) => pct(g.forecasters[n]!.mean.coverage[k]);
  out.push('## Probabilistic scores (quantiles)');
  out.push('');
  out.push(`${p.note[0]!.toUpperCase()}${p.note.slice(1)}: levels ${p.levels.join(', ')}. CRPS in m/s (lower is better); the model's CRPS skill is 1 - CRPS(model) / CRPS(baseline).`);
  out.push('');
  const has50 = p.intervals.includes('50');
  const has80 = p.intervals.includes('80');
  out.push(
    table(
      ['forecast', 'CRPS (m/s)', 'coverage 50 %', 'coverage 80 %', `spread / skill (${p.spreadInterval ?? 'n/a'} %)`, ...(hasModel ? [`model CRPS skill over it [${Math.round(bs.level * 100)} % interval]`] : [])],
      names.map((n) => [
        n === model ? `**${n}**` : n,
        f3(g.forecasters[n]!.mean.crps),
        has50 ? cov(n, '50') : 'n/a',
        has80 ? cov(n, '80') : 'n/a',
        f3(g.forecasters[n]!.mean.spreadSkill),
        ...(hasModel ? [n === model ? '' : skillWithInterval(g.skill[n]?.mean, g.skill[n]?.interval?.mean)] : []),
      ]),
    ),
  );
  out.push('');
  if (hasModel && bs.blocks < MIN_BLOCKS) out.push(`No CRPS skill intervals: the test windows make ${bs.blocks} bootstrap blocks, fewer than ${MIN_BLOCKS}.`, '');
  const leads = g.weight.map((_, l) => l);
  out.push('### CRPS by lead hour (m/s, area-weighted)');
  out.push('');
  out.push(
    table(
      ['lead', ...names, ...(hasModel ? baselines.map((b) => `skill vs ${b}`) : [])],
      leads.map((l) => [
        `+${l + 1} h`,
        ...names.map((n) => f3(g.forecasters[n]!.crps[l])),
        ...(hasModel ? baselines.map((b) => skillWithInterval(g.skill[b]?.perLead[l], g.skill[b]?.interval?.perLead[l])) : []),
      ]),
    ),
  );
  out.push('');
  const shown = p.intervals.filter((k) => k === '50' || k === '80');
  if (shown.length > 0) {
    out.push(`### Coverage of the central ${shown.join(' % and ')} % intervals by lead hour`);
    out.push('');
    out.push(
      table(
        ['lead', ...shown.flatMap((k) => names.map((n) => `${k} % ${n}`))],
        leads.map((l) => [`+${l + 1} h`, ...shown.flatMap((k) => names.map((n) => pct(g.forecasters[n]!.coverage[k]?.[l])))]),
      ),
    );
    out.push('');
  }
  out.push('### Pinball loss per quantile level (m/s, mean over leads)');
  out.push('');
  out.push(table(['forecast', ...p.levels.map((t) => `tau ${t}`)], names.map((n) => [n, ...g.forecasters[n]!.mean.pinball.map(f3)])));
  out.push('');
  out.push('### Reliability and PIT (all leads pooled)');
  out.push('');
  out.push('Reliability: the share of truths below each forecast quantile (calibrated: the level itself).');
  out.push('');
  out.push(table(['level', ...names], p.levels.map((t, k) => [String(t), ...names.map((n) => f3(g.forecasters[n]!.reliability[k]))])));
  out.push('');
  out.push('PIT histogram: the density of the truth between consecutive quantiles (calibrated: 1 in every bin).');
  out.push('');
  const taus = [0, ...p.levels, 1];
  out.push(table(['PIT bin', ...names], taus.slice(0, -1).map((t, b) => [`${t}..${taus[b + 1]}`, ...names.map((n) => f3(g.forecasters[n]!.pit[b]))])));
  out.push('');
  out.push(`### Spread and skill by lead hour`);
  out.push('');
  out.push(
    `Spread: the deviation the central ${p.spreadInterval ?? '?'} % interval implies for a normal law, sqrt(mean sigma^2); skill: the RMSE of the central quantile. A ratio near 1 is calibrated spread, below 1 overconfident.`,
  );
  out.push('');
  out.push(
    table(
      ['lead', ...names.map((n) => `spread ${n}`), ...names.map((n) => `RMSE ${n}`), ...names.map((n) => `ratio ${n}`)],
      leads.map((l) => [
        `+${l + 1} h`,
        ...names.map((n) => f3(g.forecasters[n]!.spread[l])),
        ...names.map((n) => f3(g.forecasters[n]!.centralRmse[l])),
        ...names.map((n) => f3(g.forecasters[n]!.spreadSkill[l])),
      ]),
    ),
  );
  out.push('');
  out.push('### CRPS by latitude band (mean over leads, m/s)');
  out.push('');
  out.push(table(['band', ...names], p.bands.map((b) => [b.label, ...names.map((n) => f3(b.forecasters[n]!.mean.crps))])));
  out.push('');
  out.push('### Probabilistic method');
  out.push('');
  out.push(`- CRPS: ${p.crpsMethod}; weights ${p.crpsWeights.map((w) => w.toFixed(3)).join(', ')}.`);
  out.push(`- Aggregation: ${p.aggregation}.`);
  out.push(`- climatology: ${p.baselines.climatology}.`);
  out.push(`- persistence: ${p.baselines.persistence}.`);
  out.push(`- linear: ${p.baselines.linear} (sigma ${p.fit.ridgeSigma.map((s) => s.toFixed(2)).join(', ')} m/s by lead).`);
  out.push(`- Every quantile is at least 0 (speeds are not negative); a pair is scored only where the truth and every forecaster's quantiles are finite.`);
  out.push('');
  for (const [key, name] of Object.entries(PROB_CHART_FILES)) {
    out.push(`![${key}](${name}.png)`);
    out.push('');
  }
  out.push(`The charts are also in ${Object.values(PROB_CHART_FILES).map((n) => `[${n}.svg](${n}.svg)`).join(', ')}, with their Vega-Lite specs (\`.vl.json\`).`);
  out.push('');
  return out;
}

/** The lines of the power section. */
export function formatPowerMarkdown(p: PowerReport): string[] {
  const names = p.scores.names;
  const models = names.filter((n) => n.startsWith('model'));
  const baselines = names.filter((n) => !n.startsWith('model'));
  const skillOf = (model: string) => (model === 'model' ? p.skill : p.medianSkill);
  const f = p.scores.forecasters;
  const n2 = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v.toFixed(2) : 'n/a');
  const out: string[] = [];
  out.push(`## Power: ${p.turbine.name} (${p.turbine.ratedKw.toLocaleString('en-US')} kW rated)`);
  out.push('');
  out.push(
    `${p.hubHeightNote[0]!.toUpperCase()}${p.hubHeightNote.slice(1)}. NMAE and NRMSE in % of rated power (lower is better); NMAE skill is 1 - NMAE(model) / NMAE(baseline), with its 95 % block-bootstrap interval.` +
      (models.length > 1 ? ' model: the mean forecast through the curve; model-median: the median quantile, the median power (what minimises absolute error).' : ''),
  );
  out.push('');
  out.push(
    table(
      ['forecast', 'NMAE (%)', 'NRMSE (%)', 'bias (%)', ...models.map((m) => `${m} NMAE skill over it`)],
      names.map((n) => [
        models.includes(n) ? `**${n}**` : n,
        n2(f[n]!.mean.nmae),
        n2(f[n]!.mean.nrmse),
        n2(f[n]!.mean.nbias),
        ...models.map((m) => (models.includes(n) ? '' : skillWithInterval(skillOf(m)?.[n]?.mean, skillOf(m)?.[n]?.interval?.mean))),
      ]),
    ),
  );
  out.push('');
  out.push('### Power errors by lead hour (% of rated power)');
  out.push('');
  out.push(
    table(
      ['lead', ...names.map((n) => `NMAE ${n}`), ...names.map((n) => `NRMSE ${n}`), ...models.flatMap((m) => baselines.map((b) => `${m} skill vs ${b}`))],
      p.scores.weight.map((_, l) => [
        `+${l + 1} h`,
        ...names.map((n) => n2(f[n]!.nmae[l])),
        ...names.map((n) => n2(f[n]!.nrmse[l])),
        ...models.flatMap((m) => baselines.map((b) => skillWithInterval(skillOf(m)?.[b]?.perLead[l], skillOf(m)?.[b]?.interval?.perLead[l]))),
      ]),
    ),
  );
  out.push('');
  out.push(`- Definition: ${p.definition}.`);
  out.push(`- Turbine: ${p.turbine.description}.`);
  out.push('');
  return out;
}
