/**
 * Band statistics: cell count, NaN count, min, max and sum of a decoded band (NaN cells
 * excluded), gathered as each file is decoded so loading a cube or inspecting a folder needs
 * no second pass over the pixels.
 */

/** Per-band statistics gathered while decoding (NaN cells excluded). */
export interface BandStats {
  cells: number;
  nan: number;
  min: number;
  max: number;
  sum: number;
}

/** The statistics of one band. */
export function bandStats(band: Float32Array): BandStats {
  let nan = 0; let min = Infinity; let max = -Infinity; let sum = 0;
  for (let i = 0; i < band.length; i++) {
    const f = band[i]!;
    if (f !== f) {
      nan++;
    } else {
      if (f < min) min = f;
      if (f > max) max = f;
      sum += f;
    }
  }
  return { cells: band.length, nan, min, max, sum };
}
