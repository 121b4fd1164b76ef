/**
 * Power on the grid: capacity-factor GeoTIFFs, per lead (or one multi-band file), written by
 * the forecast's one GeoTIFF path (forecast-files.ts) with the turbine, hub height and air
 * density in their tags.
 */
import type { Cube } from '../ingest/cube.js';
import { capacityFactor, describeCurve, type PowerCurve } from '../power/curve.js';
import { densityCorrectedSpeed, hubAirDensity, type AirInputs } from '../power/density.js';
import { hubHeightFrame, sameHourYesterday, type HubHeightPlan } from '../power/hub-height.js';
import { leadGeoTiffTasks, type ForecastProduct } from './forecast-files.js';

/** Said wherever power is given: the cube holds wind only, so the IEC 61400-12-1 correction cannot run. */
export const AIR_DENSITY_OFF = 'off: the input has no temperature and pressure, so power is read at the curve\'s own air density (1.225 kg/m3)';

/** What capacityFactorMaps needs: the forecast, the turbine, the hub and the air. */
export interface CapacityFactorInputs {
  curve: PowerCurve;
  hub: HubHeightPlan | undefined;
  cube: Cube;
  leads: Float32Array[];
  t0: number;
  lookback: number;
  /** Temperature and pressure of the input hours: the curve is read at the density-corrected speed. */
  air?: AirInputs;
  /** What the air-density correction did, for the tags. */
  airDensity: string;
  /** Height the density is computed at (the hub, else the forecast's). */
  densityHeightM: number;
}

/**
 * The capacity-factor fields, one per lead: the turbine's power at the hub-height point
 * forecast over its rated power (not the expected power over the forecast distribution), NaN
 * where the forecast is nodata; and the product the GeoTIFFs are tagged with.
 */
export function capacityFactorMaps(o: CapacityFactorInputs): { leads: Float32Array[]; product: ForecastProduct } {
  const { curve, hub, air } = o;
  const n = o.cube.grid.width * o.cube.grid.height;
  const fields = o.leads.map((frame, j) => {
    const speeds = hub ? hubHeightFrame(o.cube, hub, frame, o.t0, j + 1, o.lookback) : frame.slice();
    const t = sameHourYesterday(o.t0, j + 1, o.lookback);
    for (let c = 0; c < speeds.length; c++) {
      const rho = air ? hubAirDensity(air, n, t, c, o.densityHeightM) : NaN;
      speeds[c] = capacityFactor(curve, Number.isFinite(rho) ? densityCorrectedSpeed(speeds[c]!, rho) : speeds[c]!);
    }
    return speeds;
  });
  const at = hub ? ` at ${hub.toHeightM} m` : '';
  return {
    leads: fields,
    product: {
      prefix: 'capacity-factor',
      quantity: `capacity factor of ${curve.name}${at}`,
      units: '1',
      metadata: {
        TURBINE: describeCurve(curve),
        RATED_KW: String(curve.ratedKw),
        ...(hub ? { HUB_HEIGHT_M: String(hub.toHeightM), HUB_HEIGHT: hub.note } : {}),
        CAPACITY_FACTOR: 'power of the point forecast at hub height / rated power, 0..1',
        AIR_DENSITY_CORRECTION: o.airDensity,
      },
    },
  };
}

/** The capacity-factor GeoTIFFs (capacityFactorMaps through the one lead-file writer). */
export function capacityFactorTasks(o: CapacityFactorInputs & { common: Omit<Parameters<typeof leadGeoTiffTasks>[0], 'leads' | 'product'> }): ReturnType<typeof leadGeoTiffTasks> {
  const { leads, product } = capacityFactorMaps(o);
  return leadGeoTiffTasks({ ...o.common, leads, product });
}
