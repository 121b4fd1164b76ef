/**
 * Air-density correction of the wind speed a power curve is read at (IEC 61400-12-1, the
 * normalisation for pitch-regulated turbines): a curve holds at the reference density
 * rho0 = 1.225 kg/m3, and air of density rho carries the power of wind V_n = V (rho / rho0)^(1/3)
 * at rho0 (power goes as rho V^3).
 *
 * Density needs temperature and pressure: rho = p / (R_d T), dry air (IEC 61400-12-1 also has
 * a humidity term, within about 1 % of this). From 2 m temperature and surface pressure (ERA5
 * t2m, sp) the hub's values follow from the standard lapse rate (-6.5 K/km) and the hydrostatic
 * law (the approach of windpowerlib's "barometric" density). Where the data has no temperature
 * and pressure the correction is off, and the outputs say so.
 */

/** Reference air density of power curves, kg/m3 (IEC 61400-12-1; ISO standard atmosphere at sea level, 15 degC). */
export const REFERENCE_AIR_DENSITY = 1.225;

/** Specific gas constant of dry air, J/(kg K). */
export const GAS_CONSTANT_DRY_AIR = 287.05;

/** Standard atmosphere lapse rate, K/m (temperature falls with height). */
export const LAPSE_RATE_K_PER_M = 0.0065;

const GRAVITY = 9.80665;

/** Density of dry air, kg/m3, from temperature (K) and pressure (Pa). */
export function airDensity(temperatureK: number, pressurePa: number): number {
  return pressurePa / (GAS_CONSTANT_DRY_AIR * temperatureK);
}

/**
 * Density at hub height from temperature and pressure measured at measuredHeightM (ERA5: 2 m
 * temperature, surface pressure taken at the same level): temperature falls at the standard
 * lapse rate, pressure hydrostatically at the layer's mean temperature.
 */
export function densityAtHeight(temperatureK: number, pressurePa: number, measuredHeightM: number, hubHeightM: number): number {
  const dz = hubHeightM - measuredHeightM;
  const hubT = temperatureK - LAPSE_RATE_K_PER_M * dz;
  const meanT = (temperatureK + hubT) / 2;
  const hubP = pressurePa * Math.exp((-GRAVITY * dz) / (GAS_CONSTANT_DRY_AIR * meanT));
  return airDensity(hubT, hubP);
}

/** V_n = V (rho / rho0)^(1/3): the speed to read a rho0 power curve at (NaN in, NaN out). */
export function densityCorrectedSpeed(speedMs: number, densityKgM3: number, referenceKgM3 = REFERENCE_AIR_DENSITY): number {
  return speedMs * Math.cbrt(densityKgM3 / referenceKgM3);
}

/** 2 m temperature (K) and surface pressure (Pa) of the input hours, frames [hours * cells] like the cube's. */
export interface AirInputs {
  temperatureK: Float32Array;
  pressurePa: Float32Array;
}

/** Height of the temperature the density is computed from (ERA5 t2m), metres; the surface pressure is taken at it too (0.02 % off). */
export const AIR_INPUT_HEIGHT_M = 2;

/**
 * Hub-height air density (kg/m3) of cell `cell` at hour index t of the input frames (n cells
 * per frame); NaN where the temperature or pressure is missing.
 */
export function hubAirDensity(air: AirInputs, n: number, t: number, cell: number, hubHeightM: number): number {
  const T = air.temperatureK[t * n + cell]!;
  const p = air.pressurePa[t * n + cell]!;
  if (!(T > 0) || !(p > 0)) return NaN;
  return densityAtHeight(T, p, AIR_INPUT_HEIGHT_M, hubHeightM);
}
