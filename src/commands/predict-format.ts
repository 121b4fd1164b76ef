/**
 * The human summary of a `windcast predict` run (PredictResult, from predict.ts): inputs,
 * outputs, per-lead statistics or the site table, timings. Printing stays apart from the
 * command, which returns data.
 */
import { basename } from 'node:path';
import { siteTable } from '../output/site-table.js';
import type { PredictResult } from './predict.js';

function fmt2(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : 'nodata';
}

/** Human summary: inputs, outputs, per-lead statistics or the site table, timings. */
export function formatPredictResult(r: PredictResult): string {
  const lines: string[] = [];
  lines.push(`Forecast issued ${r.issueTime} from ${r.lookbackHours} hours ${r.inputs.first}..${r.inputs.last}`);
  lines.push(`Model: ${r.checkpoint} (run ${r.run}), backend ${r.backend}${r.engine === 'onnx' ? ', network run by onnxruntime' : ''}`);
  lines.push(`Grid: ${r.grid}`);
  if (r.power) {
    lines.push(`Hub height: ${r.power.hubHeightNote}`);
    if (r.power.turbine) {
      const t = r.power.turbine;
      lines.push(`Turbine: ${t.name}, ${t.ratedKw} kW rated, cut-in ${t.cutInMs} m/s, cut-out ${t.cutOutMs} m/s (${t.source})`);
      lines.push(`Air-density correction: ${r.power.airDensityCorrection}`);
    }
  }
  if (r.mode === 'points' && r.sites) {
    lines.push(`Sites: ${r.sites.length}, ${r.interpolation === 'bilinear' ? 'bilinear interpolation between the four surrounding cells' : 'nearest cell'}; wind speed in m/s`);
    lines.push('');
    lines.push(...siteTable({ sites: r.sites, validTimes: r.leads.map((l) => l.validTime), quantileLevels: r.quantileLevels ?? [], forecastHeightM: r.power?.forecastHeightM ?? null, ...(r.power?.turbine ? { ratedKw: r.power.turbine.ratedKw } : {}) }));
    lines.push('');
    lines.push(`Saved: ${r.csv}`);
    lines.push(`       ${r.json}`);
    if (r.fanCharts) lines.push(`Fan charts: ${r.fanCharts.length === 1 ? r.fanCharts[0] : `${r.fanCharts.length} (${basename(r.fanCharts[0]!)} ..)`} (PNG, and SVG of the same name)`);
  } else if (r.shard) {
    const sh = r.shard;
    lines.push(`Shard ${sh.index}/${sh.count}: rows ${sh.rows[0]}..${sh.rows[1] - 1}, ${r.cellsForecast.toLocaleString('en-US')} cells forecast`);
    lines.push(`Wrote ${sh.dir} (${r.files.length} files); once every shard is done, \`windcast merge ${r.out}\` writes the forecast's GeoTIFFs`);
  } else {
    lines.push(`Cells forecast: ${r.cellsForecast.toLocaleString('en-US')}`);
    lines.push('');
    lines.push('lead  valid time       min    mean     max  (m/s)');
    for (const l of r.leads) {
      lines.push(`+${String(l.lead).padStart(2)} h ${l.validTime.padEnd(15)} ${fmt2(l.min).padStart(6)} ${fmt2(l.mean).padStart(7)} ${fmt2(l.max).padStart(7)}${l.nodataCells ? `  (${l.nodataCells} nodata cells)` : ''}`);
    }
    lines.push('');
    if (r.multiband) lines.push(`Wrote ${r.multiband} (${r.leads.length} bands)`);
    else lines.push(`Wrote ${r.leads.length} GeoTIFFs to ${r.out} (${basename(r.leads[0]?.file ?? '')} .. ${basename(r.leads[r.leads.length - 1]?.file ?? '')})`);
    if (r.quantileFiles && r.quantileLevels) {
      const bands = `${r.quantileLevels.length} bands each, q${r.quantileLevels[0]} .. q${r.quantileLevels[r.quantileLevels.length - 1]}`;
      lines.push(`Quantiles: ${r.quantileFiles.length === 1 ? `${basename(r.quantileFiles[0]!)} (${r.quantileLevels.length} per lead)` : `${r.quantileFiles.length} GeoTIFFs (${basename(r.quantileFiles[0]!)} .., ${bands})`}`);
    }
    if (r.capacityFactorFiles) lines.push(`Capacity factor: ${r.capacityFactorFiles.length === 1 ? basename(r.capacityFactorFiles[0]!) : `${r.capacityFactorFiles.length} GeoTIFFs (${basename(r.capacityFactorFiles[0]!)} ..)`}`);
    if (r.png) lines.push(`Contact sheet: ${r.png} (and a map per lead, windspeed_<valid>_fNN.png)`);
  }
  const s = r.seconds;
  lines.push(`Time: ${s.total.toFixed(1)} s (read ${s.read.toFixed(1)}, with the model loading alongside in ${s.load.toFixed(1)}; forecast ${s.forecast.toFixed(1)}${r.geoTiffStrips ? ', the GeoTIFFs encoded alongside' : ''}; write ${s.write.toFixed(1)}); peak memory ${r.peakRssMiB} MiB`);
  return lines.join('\n');
}
