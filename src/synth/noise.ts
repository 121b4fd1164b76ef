/**
 * The two noises of the generator. Advected noise: two octaves of smooth value noise (about 6
 * and 2.5 degrees, renewed every 18 and 6 hours) carried by the steering flow, so the future
 * at a cell is partly visible upstream now. Mesoscale noise: 1 degree, renewed every 2 hours,
 * not advected: the part of the wind nothing upstream can predict.
 */
import { gauss, steeringFlow } from './climate.js';
import { CH, CW, KM_PER_DEG } from './geometry.js';
import { hash32, smooth, unit } from './random.js';

interface NoiseOctave {
  stream: number;
  /** Lattice spacing, degrees (divides 360). */
  spacing: number;
  /** Hours between independent noise slices. */
  renew: number;
  /** Amplitude, m/s, of each wind component at the storm tracks. */
  amplitude: number;
}

const OCTAVES: NoiseOctave[] = [
  { stream: 11, spacing: 6, renew: 18, amplitude: 2.0 },
  { stream: 12, spacing: 2.5, renew: 6, amplitude: 1.4 },
];

/** Lattice values of one noise slice for u and v: unit variance, `wrap` x `rows` nodes. */
function noiseLattice(seed: number, o: NoiseOctave, slice: number, wrap: number, rows: number): { lu: Float32Array; lv: Float32Array } {
  const lu = new Float32Array(wrap * rows), lv = new Float32Array(wrap * rows);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < wrap; x++) {
      // One hash per node, split into independent u and v values.
      const hv = hash32(seed, o.stream, slice, x, y);
      lu[y * wrap + x] = ((hv & 0xffff) / 32768 - 1) * 1.7320508;
      lv[y * wrap + x] = ((hv >>> 16) / 32768 - 1) * 1.7320508;
    }
  }
  return { lu, lv };
}

/**
 * Add advected noise: each slice is a fixed random pattern carried by the steering flow from
 * its own time; consecutive slices are blended with cos/sin weights (constant variance).
 */
export function addAdvectedNoise(seed: number, h: number, U: Float32Array, V: Float32Array, coarseCos: Float64Array): void {
  for (const o of OCTAVES) {
    const k = Math.floor(h / o.renew);
    const f = (h - k * o.renew) / o.renew;
    const weights = [Math.cos((Math.PI / 2) * f), Math.sin((Math.PI / 2) * f)];
    const wrap = Math.round(360 / o.spacing);
    const rows = Math.ceil(180 / o.spacing) + 2;
    for (let s = 0; s < 2; s++) {
      const slice = k + s;
      const w = weights[s]!;
      if (w < 1e-9) continue;
      const { lu, lv } = noiseLattice(seed, o, slice, wrap, rows);
      const dtHours = h - slice * o.renew;
      for (let r = 0; r < CH; r++) {
        const lat = 90 - r;
        const cosLat = Math.max(0.15, coarseCos[r]!);
        const shiftDeg = (steeringFlow(lat) * dtHours * 3.6) / (KM_PER_DEG * cosLat);
        const amp = w * o.amplitude * (0.7 + 0.5 * gauss(Math.abs(lat) - 50, 18));
        const y = r / o.spacing;
        const y0 = Math.floor(y);
        const fy = smooth(y - y0);
        const ta = y0 * wrap, tb = ta + wrap;
        for (let c = 0; c < CW; c++) {
          const x = (c - shiftDeg) / o.spacing;
          const x0 = Math.floor(x);
          const fx = smooth(x - x0);
          const xa = ((x0 % wrap) + wrap) % wrap, xb = xa + 1 === wrap ? 0 : xa + 1;
          const nu = (lu[ta + xa]! * (1 - fx) + lu[ta + xb]! * fx) * (1 - fy) + (lu[tb + xa]! * (1 - fx) + lu[tb + xb]! * fx) * fy;
          const nv = (lv[ta + xa]! * (1 - fx) + lv[ta + xb]! * fx) * (1 - fy) + (lv[tb + xa]! * (1 - fx) + lv[tb + xb]! * fx) * fy;
          const i = r * CW + c;
          U[i] = U[i]! + amp * nu;
          V[i] = V[i]! + amp * nv;
        }
      }
    }
  }
}

/**
 * Mesoscale noise on the 1 degree lattice: not advected and renewed every 2 hours, the part
 * of the wind that nothing upstream can predict. Unit variance at lattice points.
 */
export function mesoNoise(seed: number, h: number): Float32Array {
  const renew = 2;
  const k = Math.floor(h / renew);
  const f = (h - k * renew) / renew;
  const w0 = Math.cos((Math.PI / 2) * f), w1 = Math.sin((Math.PI / 2) * f);
  const out = new Float32Array(CW * CH);
  for (let r = 0; r < CH; r++) {
    for (let c = 0; c < CW; c++) {
      const a = (unit(seed, 13, k, c, r) * 2 - 1) * 1.7320508;
      const b = w1 > 1e-9 ? (unit(seed, 13, k + 1, c, r) * 2 - 1) * 1.7320508 : 0;
      out[r * CW + c] = w0 * a + w1 * b;
    }
  }
  return out;
}
