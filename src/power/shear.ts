/**
 * Wind at hub height: the power law V(z) = V(z_ref) (z / z_ref)^alpha, with the shear exponent
 * alpha taken from the wind at two heights (ERA5's 10 m and 100 m) where the data has both,
 * else a stated default.
 *
 * alpha = ln(V100 / V10) / ln(100 / 10). It varies by hour and place: small by day over land
 * and over the sea (a well-mixed, unstable or neutral layer), large on stable nights, so a
 * forecast uses the alpha of the hour and cell it extrapolates (predict takes the same hour of
 * day yesterday, inside the 24 input hours, to keep the diurnal cycle).
 *
 * Guards: a calm hour (either speed below MIN_SHEAR_SPEED_MS, or not a number) says nothing
 * about the profile (the ratio of two small numbers is noise), so it gets the default; other
 * hours are clamped to SHEAR_EXPONENT_RANGE.
 */

/**
 * 1/7 = 0.143: the textbook exponent for neutral air over open, flat land (the "one-seventh
 * power law"; e.g. Peterson & Hennessey 1978, J. Appl. Meteorol. 17, 390), used where the data
 * has wind at one height only. Over the sea the true mean is smaller (about 0.1), on stable
 * nights over land larger (0.3 and more).
 */
export const DEFAULT_SHEAR_EXPONENT = 1 / 7;

/** Below this speed (m/s) at either height an hour counts as calm: the default exponent. */
export const MIN_SHEAR_SPEED_MS = 1;

/**
 * The exponents kept: 0 (a well-mixed layer; a decrease with height between 10 and 100 m is a
 * low-level jet or a reanalysis artefact, not a profile to extrapolate) to 0.6 (very stable
 * nights over land; measured values rarely exceed it).
 */
export const SHEAR_EXPONENT_RANGE: readonly [number, number] = [0, 0.6];

/** The exponent between two heights' speeds (guarded, module header). */
export function shearExponentBetween(lowSpeed: number, lowHeightM: number, highSpeed: number, highHeightM: number): number {
  if (!(lowSpeed >= MIN_SHEAR_SPEED_MS) || !(highSpeed >= MIN_SHEAR_SPEED_MS)) return DEFAULT_SHEAR_EXPONENT;
  const alpha = Math.log(highSpeed / lowSpeed) / Math.log(highHeightM / lowHeightM);
  return Math.min(SHEAR_EXPONENT_RANGE[1], Math.max(SHEAR_EXPONENT_RANGE[0], alpha));
}

/** alpha = ln(V100 / V10) / ln(100 / 10), guarded for calm hours and clamped (module header). */
export function shearExponent(v10: number, v100: number): number {
  return shearExponentBetween(v10, 10, v100, 100);
}

/** The power law: speed at toHeightM from speed at fromHeightM. NaN in, NaN out. */
export function speedAtHeight(speed: number, fromHeightM: number, toHeightM: number, alpha: number): number {
  if (fromHeightM === toHeightM) return speed;
  return speed * Math.pow(toHeightM / fromHeightM, alpha);
}
