/**
 * The power side of `windcast predict`: the turbine, hub-height and air-density checks made
 * before any heavy work, the temperature and pressure of the input hours (ERA5 t2m and sp in
 * gridded input: the IEC 61400-12-1 density correction runs only where both exist), and the
 * site values brought to hub height (power/hub-height.ts) for output/site-forecasts.ts.
 */
import type { CheckpointMeta } from '../model/checkpoint.js';
import type { Config } from '../core/config.js';
import { WindcastError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import type { Cube } from '../ingest/cube.js';
import { openGridded, readGridded, type GriddedDataset } from '../ingest/gridded.js';
import { loadPowerCurve, type PowerCurve } from '../power/curve.js';
import { hubAirDensity, REFERENCE_AIR_DENSITY, type AirInputs } from '../power/density.js';
import { planHubHeight, sameHourYesterday, scaleToHubHeight, shearExponents, type HubHeightPlan } from '../power/hub-height.js';
import { AIR_DENSITY_OFF } from '../output/power-maps.js';
import type { SitePowerInfo, SiteValues } from '../output/site-forecasts.js';

/** ERA5's 2 m temperature and surface pressure, the variables the density is computed from. */
const AIR_VARIABLES = ['t2m', 'sp'] as const;

/** Where the temperature and pressure of the input hours are read from (gridded input that has both). */
export interface AirSource {
  data: string;
  from: number;
  to: number;
  /** The wind the period was opened with (a selection needs wind beside t2m and sp). */
  wind: string[];
}

export interface PowerPlan {
  /** The turbine (--turbine). */
  curve?: PowerCurve;
  /** --hub-height, else the forecast's own height (null when the data does not say it). */
  hubHeightM: number | null;
}

/** Turbine, hub height and capacity-factor maps, checked against the checkpoint: throws the first problem. */
export function planPower(config: Config, meta: CheckpointMeta, sites: boolean, progress: Progress): PowerPlan {
  const pc = config.predict;
  const forecastHeight = meta.features.heightM ?? null;
  if (pc.hubHeight !== null && forecastHeight === null) {
    throw new WindcastError('usage', `--hub-height ${pc.hubHeight}: the checkpoint's data does not say the height of its wind (unnamed GeoTIFF bands), so there is nothing to extrapolate from; name the bands (u100, v100) and retrain, or leave --hub-height out`);
  }
  if (pc.capacityFactorMaps && pc.turbine === null) throw new WindcastError('usage', '--capacity-factor-maps needs --turbine NAME|CSV (the power curve)');
  const curve = pc.turbine !== null ? loadPowerCurve(pc.turbine) : undefined;
  if (sites && pc.capacityFactorMaps) progress.log('sites only: no grids are written, so --capacity-factor-maps does not apply');
  if (!sites && pc.hubHeight !== null && !pc.capacityFactorMaps) progress.log(`--hub-height applies to power and site speeds; the wind-speed GeoTIFFs stay at the forecast's ${forecastHeight} m`);
  return { ...(curve ? { curve } : {}), hubHeightM: pc.hubHeight ?? forecastHeight };
}

/** The air source of a gridded period, when a turbine is used, the correction is on (auto) and the data has t2m and sp. */
export function airSource(config: Config, plan: PowerPlan, data: string, period: GriddedDataset, from: number, to: number): AirSource | undefined {
  if (!plan.curve || config.predict.airDensity === 'off') return undefined;
  if (!AIR_VARIABLES.every((name) => period.variables.some((v) => v.name === name))) return undefined;
  return { data, from, to, wind: period.selected };
}

/** The temperature and pressure of the input hours, frames like the cube's. */
export async function readAir(source: AirSource, cube: Cube): Promise<AirInputs> {
  const dataset = await openGridded(source.data, { from: source.from, to: source.to, variables: [...source.wind, ...AIR_VARIABLES] });
  const read = await readGridded(dataset, { variables: [...AIR_VARIABLES] });
  if (read.times.length !== cube.times.length || read.times.some((t, i) => t !== cube.times[i])) {
    throw new WindcastError('internal', `temperature and pressure were read for ${read.times.length} hours, the wind for ${cube.times.length}`);
  }
  return { temperatureK: read.fields.get('t2m')!, pressurePa: read.fields.get('sp')! };
}

/** What the air-density correction does, said wherever power is given. */
export function airDensityNote(config: Config, air: AirInputs | undefined): string {
  if (air) return `on (IEC 61400-12-1): the curve is read at V (rho / ${REFERENCE_AIR_DENSITY})^(1/3), rho at hub height from the input's 2 m temperature (t2m) and surface pressure (sp) at the same hour yesterday`;
  if (config.predict.airDensity === 'off') return 'off (predict.airDensity: off)';
  return AIR_DENSITY_OFF;
}

/** The hub-height plan of a forecast, when its height and the hub's are known. */
export function hubPlan(cube: Cube, meta: CheckpointMeta, plan: PowerPlan): HubHeightPlan | undefined {
  const forecastHeight = meta.features.heightM ?? null;
  return plan.hubHeightM !== null && forecastHeight !== null ? planHubHeight(cube, forecastHeight, plan.hubHeightM) : undefined;
}

/** What the JSON, the table and the result say about the power (undefined: wind only, at the forecast's height). */
export function powerInfo(config: Config, meta: CheckpointMeta, plan: PowerPlan, hub: HubHeightPlan | undefined, air: AirInputs | undefined): SitePowerInfo | undefined {
  const { curve } = plan;
  if (!curve && config.predict.hubHeight === null) return undefined;
  return {
    forecastHeightM: meta.features.heightM ?? null,
    hubHeightM: plan.hubHeightM,
    hubHeightNote: hub?.note ?? "the forecast's own height (the data does not say which)",
    ...(curve ? { turbine: { name: curve.name, ratedKw: curve.ratedKw, cutInMs: curve.cutInMs, cutOutMs: curve.cutOutMs, source: curve.source } } : {}),
    airDensityCorrection: airDensityNote(config, air),
  };
}

export interface SiteForecastInputs {
  cube: Cube;
  hub: HubHeightPlan | undefined;
  curve: PowerCurve | undefined;
  air: AirInputs | undefined;
  t0: number;
  lookback: number;
  horizon: number;
  cells: Int32Array;
  /** The forecast of the cells [cells * horizon], and its quantiles [cells * horizon * levels]. */
  speeds: Float32Array;
  quantiles?: Float32Array;
  levels: readonly number[];
}

/** The cells' forecast with hub-height speeds and air density added as asked, for siteForecasts. */
export function siteValues(o: SiteForecastInputs): SiteValues {
  const { hub, horizon } = o;
  const Q = o.levels.length;
  const values: SiteValues = { horizon, speeds: o.speeds, ...(o.curve ? { curve: o.curve } : {}), ...(o.quantiles ? { quantiles: { levels: o.levels, speeds: o.quantiles } } : {}) };
  if (hub && hub.shear !== 'none') {
    const alphas = shearExponents(o.cube, hub, o.t0, o.cells, horizon, o.lookback);
    const hubSpeeds = o.speeds.slice();
    scaleToHubHeight(hubSpeeds, alphas, hub);
    values.hub = { heightM: hub.toHeightM, speeds: hubSpeeds, shearExponents: alphas };
    if (values.quantiles) {
      const hubQuantiles = values.quantiles.speeds.slice();
      scaleToHubHeight(hubQuantiles, alphas, hub, Q);
      values.quantiles.hubSpeeds = hubQuantiles;
    }
  }
  if (o.air && o.curve) {
    const n = o.cube.grid.width * o.cube.grid.height;
    const height = hub?.toHeightM ?? o.cube.heightM ?? 100;
    const rho = new Float32Array(o.cells.length * horizon);
    for (let j = 0; j < horizon; j++) {
      const t = sameHourYesterday(o.t0, j + 1, o.lookback);
      for (let i = 0; i < o.cells.length; i++) rho[i * horizon + j] = hubAirDensity(o.air, n, t, o.cells[i]!, height);
    }
    values.airDensity = rho;
  }
  return values;
}
