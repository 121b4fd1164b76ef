/**
 * The geometry every part of the synthetic generator shares: degrees to radians, kilometres
 * per degree, and the 1 degree global coarse grid (row 0 at 90N, column 0 at 0E) on which the
 * large-scale fields are computed before interpolation to the output grid.
 */

export const DEG = Math.PI / 180;
/** Kilometres per degree of latitude. */
export const KM_PER_DEG = 111.195;

export const CW = 360; // coarse columns, lon 0..359
export const CH = 181; // coarse rows, lat 90..-90
