/**
 * The land mask: continent-shaped ellipses (centre lon/lat, half-axes in degrees, rotation in
 * degrees) with coasts made ragged by static noise, on a global 0.25 degree grid, and its
 * bilinear sample at any lat/lon. Plausible, not geographic truth; the same for every seed.
 */
import { DEG } from './geometry.js';
import { valueNoise2 } from './random.js';

const CONTINENTS: Array<[number, number, number, number, number]> = [
  [-100, 45, 27, 15, -10], [-100, 62, 32, 9, 0], [-152, 64, 13, 6, 0], [-102, 26, 9, 9, -30], [-88, 15, 7, 3, -35],
  [-42, 72, 13, 10, 0], [-80, 37, 8, 8, 30], [-118, 40, 10, 9, 0],
  [-60, -7, 17, 13, 0], [-64, -27, 9, 14, 15], [-70, -44, 5, 9, 5], [-40, -8, 6, 5, 0],
  [12, 14, 28, 12, 0], [28, -5, 14, 14, 0], [26, -24, 9, 9, 0], [40, 8, 7, 6, 0], [47, 22, 9, 8, -20], [47, -19, 3, 7, 15],
  [12, 49, 15, 7, 0], [28, 57, 16, 9, 0], [15, 64, 8, 6, 30], [-4, 40, 5, 4, 0], [-2, 54, 2.5, 4.5, 0], [12, 43, 3, 6, -40],
  [85, 50, 45, 17, 0], [100, 66, 48, 8, 0], [140, 63, 22, 8, 0], [79, 21, 9, 10, 0], [103, 15, 7, 9, 0],
  [115, 32, 13, 10, 0], [52, 34, 12, 8, 0], [138, 37, 2.5, 6, 40], [128, 42, 5, 6, 0],
  [134, -25, 17, 11, 0], [145, -37, 5, 3, 0], [113, -1, 6, 3, 20], [140, -5, 7, 3, 0], [122, 8, 3, 6, 0], [172, -42, 2.5, 6, 35],
];

/**
 * Land fraction (0 sea .. 1 land) on a global 0.25 degree grid (1440 x 721, lon 0..359.75),
 * with a smooth coastal transition about 0.5 degrees wide. The same for every seed: the seed
 * changes the weather, not the geography.
 */
export function landMask(): Float32Array {
  // Seed-independent and read-only: build it once per thread.
  cachedLand ??= buildLandMask();
  return cachedLand;
}

let cachedLand: Float32Array | undefined;

function buildLandMask(): Float32Array {
  const W = 1440, H = 721, step = 0.25;
  const d = new Float32Array(W * H).fill(9);
  for (const [lonC, latC, a, b, rot] of CONTINENTS) {
    const reach = Math.max(a, b) * 1.35;
    const rMin = Math.max(0, Math.floor((90 - (latC + reach)) / step));
    const rMax = Math.min(H - 1, Math.ceil((90 - (latC - reach)) / step));
    const cr = Math.cos(rot * DEG), sr = Math.sin(rot * DEG);
    for (let r = rMin; r <= rMax; r++) {
      const lat = 90 - r * step;
      const cosLat = Math.max(0.2, Math.cos(lat * DEG));
      const lonReach = Math.min(180, reach / cosLat);
      const c0 = Math.floor((lonC - lonReach) / step), c1 = Math.ceil((lonC + lonReach) / step);
      for (let cc = c0; cc <= c1; cc++) {
        const c = ((cc % W) + W) % W;
        // Distances in "degrees of latitude" so shapes keep their size poleward.
        let dl = cc * step - lonC;
        dl = (dl * cosLat) / Math.max(0.2, Math.cos(latC * DEG));
        const dp = lat - latC;
        const x = (dl * cr + dp * sr) / a, y = (-dl * sr + dp * cr) / b;
        const q = x * x + y * y;
        const i = r * W + c;
        if (q < d[i]!) d[i] = q;
      }
    }
  }
  const land = new Float32Array(W * H);
  for (let r = 0; r < H; r++) {
    const lat = 90 - r * step;
    for (let c = 0; c < W; c++) {
      const lon = c * step;
      // Ragged coasts: perturb the threshold with two octaves of static noise.
      const ragged = 0.1 * valueNoise2(0, 901, lon / 4, lat / 4, 90) + 0.05 * valueNoise2(0, 902, lon / 1.5, lat / 1.5, 240);
      const q = Math.sqrt(d[r * W + c]!) - (1 + ragged);
      let f = Math.min(1, Math.max(0, 0.5 - q / 0.08));
      // Antarctica: everything south of a wavy line near 68-72S.
      const ant = -70 + 2.5 * Math.sin(2 * lon * DEG + 1) + 1.5 * Math.sin(3 * lon * DEG);
      f = Math.max(f, Math.min(1, Math.max(0, (ant - lat) / 1.0 + 0.5)));
      land[r * W + c] = f;
    }
  }
  return land;
}

/** Bilinear land fraction from the global 0.25 degree mask. */
export function sampleLand(land: Float32Array, lat: number, lon: number): number {
  const W = 1440, H = 721;
  const y = Math.min(H - 1, Math.max(0, (90 - lat) / 0.25));
  const x = lon / 0.25;
  const y0 = Math.min(H - 2, Math.floor(y)), x0 = Math.floor(x);
  const fy = y - y0, fx = x - x0;
  const xa = ((x0 % W) + W) % W, xb = (xa + 1) % W;
  const top = land[y0 * W + xa]! * (1 - fx) + land[y0 * W + xb]! * fx;
  const bot = land[(y0 + 1) * W + xa]! * (1 - fx) + land[(y0 + 1) * W + xb]! * fx;
  return top * (1 - fy) + bot * fy;
}
