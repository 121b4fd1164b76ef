/**
 * Site forecasts: the forecast of the cells under each site (points.ts plans which cells and
 * their weights) read off as one speed per site and lead, and written as a CSV (one row per
 * site and lead) and a JSON document with the same numbers and what they mean.
 */
import { join } from 'node:path';
import { writeFileSynced } from '../core/atomic.js';
import { sampleSite, type Interpolation, type SitePlan } from './points.js';

export interface SiteForecast {
  name: string;
  lat: number;
  lon: number;
  /** Centre of the nearest grid cell. */
  cellLat: number;
  cellLon: number;
  /** m/s per lead, +1..+horizon (null where the inputs had nodata). */
  speeds: (number | null)[];
}

/** The cells a set of sites reads, each once, in increasing order. */
export function siteCells(plans: SitePlan[]): Int32Array {
  return Int32Array.from([...new Set(plans.flatMap((p) => p.cells))].sort((a, b) => a - b));
}

/**
 * Each site's speeds from `values` [cells.length * horizon], the forecast of siteCells(plans),
 * rounded to 1 mm/s.
 */
export function siteForecasts(plans: SitePlan[], cells: Int32Array, values: Float32Array, horizon: number): SiteForecast[] {
  const slot = new Map(Array.from(cells, (c, i) => [c, i]));
  return plans.map((p) => ({
    name: p.site.name,
    lat: p.site.lat,
    lon: p.site.lon,
    cellLat: p.nearest.lat,
    cellLon: p.nearest.lon,
    speeds: Array.from({ length: horizon }, (_, j) => {
      const v = sampleSite(p, (k) => values[slot.get(p.cells[k]!)! * horizon + j]!);
      return Number.isFinite(v) ? Math.round(v * 1000) / 1000 : null;
    }),
  }));
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
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Write STEM.csv and STEM.json into dir (each fsynced; the staging folder's commit is atomic). */
export function writeSiteFiles(o: SiteFilesOptions): { csv: string; json: string } {
  const csvLines = ['site,lat,lon,cell_lat,cell_lon,interpolation,issue_time,valid_time,lead_hours,speed_ms'];
  for (const s of o.sites) {
    s.speeds.forEach((v, j) => {
      csvLines.push([csvField(s.name), s.lat, s.lon, s.cellLat, s.cellLon, o.interpolation, o.issueTime, o.validTimes[j], j + 1, v ?? ''].join(','));
    });
  }
  const csv = join(o.dir, `${o.stem}.csv`);
  writeFileSynced(csv, csvLines.join('\n') + '\n');
  const document = {
    issueTime: o.issueTime,
    run: o.run,
    checkpoint: o.checkpoint,
    units: 'm/s',
    interpolation: o.interpolation,
    interpolationNote: o.interpolation === 'bilinear' ? 'bilinear between the four surrounding cell centres, nodata cells skipped' : 'value of the nearest cell',
    leads: o.validTimes.map((v, j) => ({ lead: j + 1, validTime: v })),
    sites: o.sites,
  };
  const json = join(o.dir, `${o.stem}.json`);
  writeFileSynced(json, JSON.stringify(document, null, 2) + '\n');
  return { csv, json };
}
