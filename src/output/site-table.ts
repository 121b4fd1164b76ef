/**
 * The site forecasts as a terminal table (predict prints it). Wind only: sites as columns
 * when few (easy to read across leads), else one row per site and lead. With hub height,
 * power or quantiles: one block per site, a row per lead with the speed, its widest forecast
 * interval, the hub-height speed, and the power (MW for turbines of 1 MW and more, else kW)
 * and capacity factor with their intervals.
 */
import type { SiteForecast } from './site-forecasts.js';

export interface SiteTableOptions {
  sites: SiteForecast[];
  validTimes: string[];
  quantileLevels: readonly number[];
  /** Rated power of the turbine, when there is one. */
  ratedKw?: number;
  /** Height of the forecast speeds (the header says it when known). */
  forecastHeightM?: number | null;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

const cell = (v: number | null | undefined, digits = 2): string => (v === null || v === undefined ? 'nodata' : v.toFixed(digits));

export function siteTable(o: SiteTableOptions): string[] {
  const { sites } = o;
  const rich = sites.some((s) => s.hub || s.powerKw || s.quantiles);
  if (rich) return siteBlocks(o);
  const lines: string[] = [];
  if (sites.length <= 6) {
    const names = sites.map((s) => (s.name.length > 14 ? s.name.slice(0, 13) + '~' : s.name));
    const widths = names.map((n) => Math.max(7, n.length));
    lines.push(['lead', 'valid time     ', ...names.map((n, i) => n.padStart(widths[i]!))].join('  '));
    // A second header line with the coordinates, unless the names already are coordinates.
    const coords = sites.map((s) => `${round(s.lat)},${round(s.lon)}`);
    if (sites.some((s, i) => s.name !== coords[i])) {
      lines.push(['    ', '               ', ...coords.map((c, i) => (c === sites[i]!.name ? '' : c).slice(0, widths[i]!).padStart(widths[i]!))].join('  '));
    }
    o.validTimes.forEach((valid, j) => {
      const lead = `+${String(j + 1).padStart(2)}h`;
      lines.push([lead, valid.padEnd(15), ...sites.map((s, i) => cell(s.speeds[j]).padStart(widths[i]!))].join('  '));
    });
    return lines;
  }
  lines.push('site                  lat       lon     lead  valid time       speed');
  for (const s of sites) {
    s.speeds.forEach((v, j) => {
      lines.push(`${s.name.slice(0, 20).padEnd(20)} ${String(round(s.lat)).padStart(8)} ${String(round(s.lon)).padStart(9)}  +${String(j + 1).padStart(2)}h  ${o.validTimes[j]!.padEnd(15)} ${cell(v).padStart(6)}`);
    });
  }
  return lines;
}

/** One block per site: lead rows with speed, interval, hub speed, power and capacity factor. */
function siteBlocks(o: SiteTableOptions): string[] {
  const levels = o.quantileLevels;
  const K = levels.length;
  const inMw = (o.ratedKw ?? 0) >= 1000;
  const unit = inMw ? 'MW' : 'kW';
  const power = (kw: number | null | undefined) => (kw === null || kw === undefined ? 'nodata' : inMw ? (kw / 1000).toFixed(2) : kw.toFixed(0));
  const interval = K >= 2 ? `q${levels[0]}..q${levels[K - 1]}` : '';
  const lines: string[] = [];
  for (const s of o.sites) {
    const hub = s.hub ? `, hub ${s.hub.heightM} m` : '';
    lines.push(`${s.name} (${round(s.lat)}, ${round(s.lon)})${hub}`);
    const head = ['lead', 'valid time     ', (o.forecastHeightM ? `${o.forecastHeightM} m` : 'speed').padStart(6)];
    if (K >= 2) head.push(`${interval} m/s`.padStart(15));
    if (s.hub) head.push(`${s.hub.heightM} m`.padStart(6), ' alpha');
    if (s.powerKw) {
      head.push(`${unit}`.padStart(7), '    CF');
      if (K >= 2) head.push(`${interval} ${unit}`.padStart(15));
    }
    lines.push(head.join('  '));
    o.validTimes.forEach((valid, j) => {
      const row = [`+${String(j + 1).padStart(2)}h`, valid.padEnd(15), cell(s.speeds[j]).padStart(6)];
      const q = s.quantiles;
      if (K >= 2) row.push(`${cell(q?.speeds[j]?.[0])}..${cell(q?.speeds[j]?.[K - 1])}`.padStart(15));
      if (s.hub) row.push(cell(s.hub.speeds[j]).padStart(6), cell(s.hub.shearExponents[j], 3).padStart(6));
      if (s.powerKw) {
        row.push(power(s.powerKw[j]).padStart(7), cell(s.capacityFactor?.[j]).padStart(6));
        if (K >= 2) row.push(`${power(q?.powerKw?.[j]?.[0])}..${power(q?.powerKw?.[j]?.[K - 1])}`.padStart(15));
      }
      lines.push(row.join('  '));
    });
    lines.push('');
  }
  lines.pop();
  return lines;
}
