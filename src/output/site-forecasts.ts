/**
 * Site forecasts: the forecast of the cells under each site (points.ts plans which cells and
 * their weights) read off as one speed per site and lead, and written as a CSV (one row per
 * site and lead) and a JSON document with the same numbers and what they mean.
 *
 * Beside the speed, when asked: the speed at hub height (each cell scaled by its own shear
 * exponent, power/hub-height.ts, then read off like the speed), the power and capacity factor
 * of a turbine at that speed (the curve applied to the site's speed, not an average of the
 * cells' powers), and the forecast quantiles. A site's quantile at a level is the weighted
 * mean of its cells' quantiles at that level (the same weights as the speed), which keeps them
 * non-decreasing; power quantiles come from those through power/quantiles.ts.
 */
import { join } from 'node:path';
import { writeFileSynced } from '../core/atomic.js';
import { capacityFactor, powerKw, type PowerCurve } from '../power/curve.js';
import { densityCorrectedSpeed } from '../power/density.js';
import { powerQuantiles } from '../power/quantiles.js';
import { sampleSite, type Interpolation, type SitePlan } from './points.js';

type Series = (number | null)[];

export interface SiteForecast {
  name: string;
  lat: number;
  lon: number;
  /** Centre of the nearest grid cell. */
  cellLat: number;
  cellLon: number;
  /** m/s per lead, +1..+horizon (null where the inputs had nodata), at the forecast's height. */
  speeds: Series;
  /** At hub height, when it differs from the forecast's: speeds (m/s) and the shear exponent used. */
  hub?: { heightM: number; speeds: Series; shearExponents: Series };
  /** Hub-height air density (kg/m3) the power was corrected for (IEC 61400-12-1), when the input has temperature and pressure. */
  airDensityKgM3?: Series;
  /** With a turbine: power (kW) and capacity factor (0..1) per lead, from the hub-height speed. */
  powerKw?: Series;
  capacityFactor?: Series;
  /**
   * With a quantile model: per lead, one value per level (levels in the document). speeds at
   * the forecast's height, hubSpeeds at hub height (when it differs), powerKw and
   * capacityFactor with a turbine; shutdownProbability: the chance of wind above cut-out.
   */
  quantiles?: { speeds: Series[]; hubSpeeds?: Series[]; powerKw?: Series[]; capacityFactor?: Series[]; shutdownProbability?: Series };
}

/** The cells a set of sites reads, each once, in increasing order. */
export function siteCells(plans: SitePlan[]): Int32Array {
  return Int32Array.from([...new Set(plans.flatMap((p) => p.cells))].sort((a, b) => a - b));
}

/** What the forecast of siteCells(plans) holds, cell-major like forecastCells' output. */
export interface SiteValues {
  horizon: number;
  /** m/s [cells * horizon] at the forecast's height. */
  speeds: Float32Array;
  /** Hub height (when other than the forecast's): m/s [cells * horizon] and the exponents used. */
  hub?: { heightM: number; speeds: Float32Array; shearExponents: Float32Array };
  /** Quantile levels and m/s [cells * horizon * levels] (and at hub height). */
  quantiles?: { levels: readonly number[]; speeds: Float32Array; hubSpeeds?: Float32Array };
  curve?: PowerCurve;
  /** Hub-height air density, kg/m3 [cells * horizon] (NaN: uncorrected): the curve is read at V (rho/1.225)^(1/3). */
  airDensity?: Float32Array;
}

/** v rounded to `scale` steps per unit (1000: three decimals); null where not a number. */
function round(v: number, scale: number): number | null {
  return Number.isFinite(v) ? Math.round(v * scale) / scale : null;
}

/** Numbers as the files carry them: 1 mm/s, 1 W, 1e-4 of capacity (and of a shear exponent). */
const MS = 1000;
const KW = 1000;
const CF = 10000;

/** Each site's speeds (rounded to 1 mm/s) and, as given, hub speeds, power and quantiles. */
export function siteForecasts(plans: SitePlan[], cells: Int32Array, values: SiteValues): SiteForecast[] {
  const slot = new Map(Array.from(cells, (c, i) => [c, i]));
  const H = values.horizon;
  const Q = values.quantiles?.levels.length ?? 0;
  const leads = (f: (j: number) => number, step: number): Series => Array.from({ length: H }, (_, j) => round(f(j), step));
  return plans.map((p) => {
    const read = (field: Float32Array, j: number, per = 1, k = 0) => sampleSite(p, (c) => field[(slot.get(p.cells[c]!)! * H + j) * per + k]!);
    const site: SiteForecast = {
      name: p.site.name,
      lat: p.site.lat,
      lon: p.site.lon,
      cellLat: p.nearest.lat,
      cellLon: p.nearest.lon,
      speeds: leads((j) => read(values.speeds, j), MS),
    };
    const hubSpeedsRaw = Array.from({ length: H }, (_, j) => read(values.hub?.speeds ?? values.speeds, j));
    if (values.hub) {
      site.hub = { heightM: values.hub.heightM, speeds: leads((j) => hubSpeedsRaw[j]!, MS), shearExponents: leads((j) => read(values.hub!.shearExponents, j), CF) };
    }
    const curve = values.curve;
    // The speed the curve is read at: the hub speed, density-corrected where the density is known.
    const rho = values.airDensity ? Array.from({ length: H }, (_, j) => read(values.airDensity!, j)) : undefined;
    const equivalent = (v: number, j: number) => (rho && Number.isFinite(rho[j]!) ? densityCorrectedSpeed(v, rho[j]!) : v);
    if (curve) {
      if (rho) site.airDensityKgM3 = leads((j) => rho[j]!, CF);
      site.powerKw = leads((j) => powerKw(curve, equivalent(hubSpeedsRaw[j]!, j)), KW);
      site.capacityFactor = leads((j) => capacityFactor(curve, equivalent(hubSpeedsRaw[j]!, j)), CF);
    }
    const q = values.quantiles;
    if (q) {
      const at = (field: Float32Array) => Array.from({ length: H }, (_, j) => Array.from({ length: Q }, (_, k) => read(field, j, Q, k)));
      const speeds = at(q.speeds);
      const hub = q.hubSpeeds ? at(q.hubSpeeds) : speeds;
      const rounded = (rows: number[][], step: number): Series[] => rows.map((row) => row.map((v) => round(v, step)));
      site.quantiles = { speeds: rounded(speeds, MS) };
      if (q.hubSpeeds) site.quantiles.hubSpeeds = rounded(hub, MS);
      if (curve) {
        const mapped = hub.map((row, j) => powerQuantiles(curve, q.levels, row.map((v) => equivalent(v, j))));
        site.quantiles.powerKw = rounded(mapped.map((m) => m.powerKw), KW);
        site.quantiles.capacityFactor = rounded(mapped.map((m) => m.powerKw.map((kw) => kw / curve.ratedKw)), CF);
        site.quantiles.shutdownProbability = mapped.map((m) => round(m.shutdownProbability, CF));
      }
    }
    return site;
  });
}

/** What the power columns mean, for the JSON document (and the table's header). */
export interface SitePowerInfo {
  /** The forecast's own height (null when the data does not say) and the hub height used. */
  forecastHeightM: number | null;
  hubHeightM: number | null;
  hubHeightNote: string;
  turbine?: { name: string; ratedKw: number; cutInMs: number; cutOutMs: number; source: string };
  airDensityCorrection: string;
}

export interface SiteFilesOptions {
  /** Folder to write in (the staging folder) and the stem of both names. */
  dir: string;
  stem: string;
  sites: SiteForecast[];
  interpolation: Interpolation;
  issueTime: string;
  validTimes: string[];
  run: string;
  checkpoint: string;
  /** Quantile levels of sites[].quantiles (none for a point model). */
  quantileLevels?: readonly number[];
  power?: SitePowerInfo;
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The CSV's columns after speed_ms, and each one's value for a site and lead. */
function extraColumns(o: SiteFilesOptions): Array<{ name: string; value: (s: SiteForecast, j: number) => number | null | undefined }> {
  const levels = o.quantileLevels ?? [];
  const sample = o.sites[0];
  const columns: Array<{ name: string; value: (s: SiteForecast, j: number) => number | null | undefined }> = [];
  const quantileColumns = (prefix: string, suffix: string, pick: (s: SiteForecast) => Series[] | undefined) => {
    levels.forEach((level, k) => columns.push({ name: `${prefix}_q${level}${suffix}`, value: (s, j) => pick(s)?.[j]?.[k] }));
  };
  quantileColumns('speed', '_ms', (s) => s.quantiles?.speeds);
  if (sample?.hub) {
    columns.push({ name: 'hub_height_m', value: (s) => s.hub?.heightM }, { name: 'shear_exponent', value: (s, j) => s.hub?.shearExponents[j] }, { name: 'hub_speed_ms', value: (s, j) => s.hub?.speeds[j] });
    quantileColumns('hub_speed', '_ms', (s) => s.quantiles?.hubSpeeds);
  }
  if (sample?.airDensityKgM3) columns.push({ name: 'air_density_kgm3', value: (s, j) => s.airDensityKgM3?.[j] });
  if (sample?.powerKw) {
    columns.push({ name: 'power_kw', value: (s, j) => s.powerKw?.[j] }, { name: 'capacity_factor', value: (s, j) => s.capacityFactor?.[j] });
    quantileColumns('power', '_kw', (s) => s.quantiles?.powerKw);
    quantileColumns('capacity_factor', '', (s) => s.quantiles?.capacityFactor);
    if (levels.length > 0) columns.push({ name: 'shutdown_probability', value: (s, j) => s.quantiles?.shutdownProbability?.[j] });
  }
  return columns;
}

/** Write STEM.csv and STEM.json into dir (each fsynced; the staging folder's commit is atomic). */
export function writeSiteFiles(o: SiteFilesOptions): { csv: string; json: string } {
  const extra = extraColumns(o);
  const csvLines = [['site,lat,lon,cell_lat,cell_lon,interpolation,issue_time,valid_time,lead_hours,speed_ms', ...extra.map((c) => c.name)].join(',')];
  for (const s of o.sites) {
    s.speeds.forEach((v, j) => {
      csvLines.push([csvField(s.name), s.lat, s.lon, s.cellLat, s.cellLon, o.interpolation, o.issueTime, o.validTimes[j], j + 1, v ?? '', ...extra.map((c) => c.value(s, j) ?? '')].join(','));
    });
  }
  const csv = join(o.dir, `${o.stem}.csv`);
  writeFileSynced(csv, csvLines.join('\n') + '\n');
  const levels = o.quantileLevels ?? [];
  const document = {
    issueTime: o.issueTime,
    run: o.run,
    checkpoint: o.checkpoint,
    units: 'm/s',
    interpolation: o.interpolation,
    interpolationNote: o.interpolation === 'bilinear' ? 'bilinear between the four surrounding cell centres, nodata cells skipped' : 'value of the nearest cell',
    ...(levels.length > 0
      ? {
          quantileLevels: levels,
          quantileNote:
            "quantiles[lead][level]: a site's quantile is the weighted mean of its cells' quantiles at that level; power quantiles map the hub-height speed quantiles through the curve, the chance of wind above cut-out (shutdownProbability) counted as 0 kW at the bottom (src/power/quantiles.ts)",
        }
      : {}),
    ...(o.power
      ? {
          forecastHeightM: o.power.forecastHeightM,
          hubHeightM: o.power.hubHeightM,
          hubHeightNote: o.power.hubHeightNote,
          ...(o.power.turbine ? { turbine: o.power.turbine, powerUnits: 'kW', capacityFactorNote: 'power / rated power, 0..1' } : {}),
          airDensityCorrection: o.power.airDensityCorrection,
        }
      : {}),
    leads: o.validTimes.map((v, j) => ({ lead: j + 1, validTime: v })),
    sites: o.sites,
  };
  const json = join(o.dir, `${o.stem}.json`);
  writeFileSynced(json, JSON.stringify(document, null, 2) + '\n');
  return { csv, json };
}
