/**
 * One synthetic hour of global 10 m wind: the field `windcast synth` writes, composed of the
 * steps in the modules beside this one.
 *
 * Every hour is a pure function of (seed, absolute UTC hour, output grid): no state is carried
 * from one hour to the next, so workers can generate hours in any order and the same seed gives
 * the same bytes whatever the worker count, --start or --hours (an hour's field does not depend
 * on which other hours are generated). Randomness comes from an integer hash of the seed and
 * lattice coordinates (no Math.random).
 *
 * Physics, in the order it is added (all winds in m/s, u eastward, v northward):
 *  1. zonal climate: trades converging on a seasonal ITCZ (doldrums between them), mid-latitude
 *     westerlies (stronger in the southern ocean, stronger in winter), polar easterlies, and a
 *     weak stationary planetary wave;
 *  2. synoptic lows and highs: vortices born every few hours at random places in their latitude
 *     belts, that grow and decay over days and are carried by a latitude-dependent steering flow
 *     (eastward near 11 m/s at 45 degrees, westward in the tropics) with a slow meridional drift;
 *  3. advected noise: two octaves of smooth value noise (about 6 and 2.5 degrees, renewed every
 *     18 and 6 hours) carried by the same steering flow, so the future at a cell is partly
 *     visible upstream now;
 *  4. at output resolution: surface friction over land (from a plausible land mask of
 *     continent-shaped blobs with ragged coasts and a rough "orography" factor), a diurnal
 *     cycle tied to local solar time (afternoon maximum, much stronger over land), and a small
 *     unpredictable mesoscale noise (1 degree, renewed every 2 hours).
 * Large-scale fields (1-3) are computed on a 1 degree global grid and interpolated bilinearly;
 * only step 4 runs per output cell, which keeps a 1440 x 721 hour at a few tens of ms.
 *
 * Where each step lives: climate.ts (1 and the steering flow), vortices.ts (2), noise.ts (3
 * and the mesoscale noise), land.ts (the mask), random.ts (the seeded hash); this module
 * composes them. files.ts names the files and the output grid; persistence.ts calibrates.
 */
import { WindcastError } from '../core/errors.js';
import { colLon, rowLat, type GridSpec } from '../core/grid.js';
import { HOUR_MS } from '../core/time.js';
import { climate, gauss, yearPhase } from './climate.js';
import { CH, CW, DEG } from './geometry.js';
import { landMask, sampleLand } from './land.js';
import { addAdvectedNoise, mesoNoise } from './noise.js';
import { unit, valueNoise2 } from './random.js';
import { activeSystems, addSystems } from './vortices.js';

/** The large-scale u and v (m/s) on the 1 degree coarse grid at absolute hour h. */
export function coarseWind(seed: number, h: number): { u: Float32Array; v: Float32Array } {
  const U = new Float32Array(CW * CH);
  const V = new Float32Array(CW * CH);
  const coarseCos = new Float64Array(CH);
  const phase = yearPhase(h * HOUR_MS);
  const wavePhase = 2 * Math.PI * unit(seed, 31);
  const waveU = new Float64Array(CW), waveV = new Float64Array(CW);
  for (let c = 0; c < CW; c++) {
    waveU[c] = Math.sin(2 * c * DEG + wavePhase);
    waveV[c] = 0.6 * Math.cos(2 * c * DEG + wavePhase);
  }
  for (let r = 0; r < CH; r++) {
    const lat = 90 - r;
    coarseCos[r] = Math.cos(lat * DEG);
    const [u0, v0] = climate(lat, phase);
    const waveAmp = 1.2 * gauss(Math.abs(lat) - 45, 15);
    for (let c = 0; c < CW; c++) {
      // A weak stationary planetary wave (wavenumber 2) breaks the zonal symmetry.
      const i = r * CW + c;
      U[i] = u0 + waveAmp * waveU[c]!;
      V[i] = v0 + waveAmp * waveV[c]!;
    }
  }
  addSystems(activeSystems(seed, h), U, V, coarseCos);
  addAdvectedNoise(seed, h, U, V, coarseCos);
  return { u: U, v: V };
}

// ---------------------------------------------------------------------------------------------
// Output resolution.

/** Per-grid tables computed once per worker: interpolation indices, land, friction, diurnal. */
export interface SynthPlan {
  grid: GridSpec;
  seed: number;
  /** Coarse bilinear source per output column / row (1 degree grid and 1 degree mesoscale lattice). */
  colA: Int32Array;
  colB: Int32Array;
  colW: Float32Array;
  rowA: Int32Array;
  rowW: Float32Array;
  /** Multiplicative surface friction per output cell (1 over open sea, about 0.5-0.7 over land). */
  friction: Float32Array;
  /** Diurnal amplitude (fraction of the speed) per output cell. */
  diurnal: Float32Array;
  /** Longitude per column in degrees 0..360, for local solar time. */
  lonDeg: Float64Array;
  /**
   * Square of the unresolved wind (m/s) per row, added in quadrature to the resolved vector
   * wind: calm cells still see some wind, more in the convective tropics.
   */
  gustSq: Float32Array;
}

export function planSynth(grid: GridSpec, seed: number, land: Float32Array = landMask()): SynthPlan {
  const { width, height } = grid;
  const colA = new Int32Array(width), colB = new Int32Array(width), colW = new Float32Array(width);
  const lonDeg = new Float64Array(width);
  for (let c = 0; c < width; c++) {
    const lon = (((colLon(grid, c) % 360) + 360) % 360);
    lonDeg[c] = lon;
    const a = Math.floor(lon);
    colA[c] = a % CW;
    colB[c] = (a + 1) % CW;
    colW[c] = lon - a;
  }
  const rowA = new Int32Array(height), rowW = new Float32Array(height);
  for (let r = 0; r < height; r++) {
    const y = Math.min(CH - 1, Math.max(0, 90 - rowLat(grid, r)));
    const a = Math.min(CH - 2, Math.floor(y));
    rowA[r] = a;
    rowW[r] = y - a;
  }
  const friction = new Float32Array(width * height);
  const diurnal = new Float32Array(width * height);
  for (let r = 0; r < height; r++) {
    const lat = rowLat(grid, r);
    for (let c = 0; c < width; c++) {
      const f = sampleLand(land, lat, lonDeg[c]!);
      // Rough terrain varies from place to place: a static factor with 2 degree features.
      const rough = 0.45 + 0.1 * valueNoise2(0, 903, lonDeg[c]! / 2, lat / 2, 180);
      const i = r * width + c;
      friction[i] = 1 - f * rough;
      diurnal[i] = 0.05 + 0.22 * f;
    }
  }
  const gustSq = new Float32Array(height);
  for (let r = 0; r < height; r++) {
    const g = 2.8 + 1.5 * gauss(rowLat(grid, r), 12);
    gustSq[r] = g * g;
  }
  return { grid, seed, colA, colB, colW, rowA, rowW, friction, diurnal, lonDeg, gustSq };
}

export interface SynthFrame {
  speed: Float32Array;
  u?: Float32Array;
  v?: Float32Array;
}


/**
 * Values are rounded to 1/1024 m/s (about 0.001 m/s, finer than ERA5's 16-bit GRIB packing).
 * Meaningless digits below that would only be incompressible noise: rounding halves the size
 * of a DEFLATE file and the time to compress it.
 */
const QUANTUM = 1024;

/** Relative amplitude of the mesoscale noise on the speed. */
const MESO_AMPLITUDE = 0.13;

/**
 * One hour at output resolution. `hourMs` is the epoch time of the hour; with withUV the
 * returned u and v are scaled so that hypot(u, v) equals the speed.
 */
export function synthHour(plan: SynthPlan, hourMs: number, withUV = false): SynthFrame {
  if (hourMs % HOUR_MS !== 0) throw new WindcastError('internal', `synthHour: ${hourMs} is not on the hour`);
  const h = hourMs / HOUR_MS;
  const { grid, colA, colB, colW, rowA, rowW, friction, diurnal, lonDeg, gustSq } = plan;
  const { width, height } = grid;
  const { u: U, v: V } = coarseWind(plan.seed, h);
  const M = mesoNoise(plan.seed, h);
  const speed = new Float32Array(width * height);
  const uOut = withUV ? new Float32Array(width * height) : undefined;
  const vOut = withUV ? new Float32Array(width * height) : undefined;
  // Diurnal factor per column: local solar hour from UTC and longitude, maximum at 15 h.
  const utcHour = ((h % 24) + 24) % 24;
  const cycle = new Float32Array(width);
  for (let c = 0; c < width; c++) cycle[c] = Math.cos((2 * Math.PI * (utcHour + lonDeg[c]! / 15 - 15)) / 24);
  for (let r = 0; r < height; r++) {
    const ra = rowA[r]! * CW, rb = ra + CW, wy = rowW[r]!;
    for (let c = 0; c < width; c++) {
      const a = colA[c]!, b = colB[c]!, wx = colW[c]!;
      const w00 = (1 - wx) * (1 - wy), w10 = wx * (1 - wy), w01 = (1 - wx) * wy, w11 = wx * wy;
      const u = U[ra + a]! * w00 + U[ra + b]! * w10 + U[rb + a]! * w01 + U[rb + b]! * w11;
      const v = V[ra + a]! * w00 + V[ra + b]! * w10 + V[rb + a]! * w01 + V[rb + b]! * w11;
      const m = M[ra + a]! * w00 + M[ra + b]! * w10 + M[rb + a]! * w01 + M[rb + b]! * w11;
      const i = r * width + c;
      const vector = Math.sqrt(u * u + v * v);
      // Unresolved turbulence adds speed in quadrature: calm cells still see some wind.
      const calm = Math.sqrt(vector * vector + gustSq[r]!);
      // Surface drag grows with the wind: a soft ceiling keeps extremes near 35 m/s.
      const raw = calm < 20 ? calm : 20 + 15 * Math.tanh((calm - 20) / 15);
      // Every factor is positive, so the speed is never negative.
      const s = raw * friction[i]! * (1 + diurnal[i]! * cycle[c]!) * (1 + MESO_AMPLITUDE * m);
      speed[i] = Math.round(s * QUANTUM) / QUANTUM;
      if (uOut && vOut) {
        const k = vector > 1e-6 ? s / vector : 0;
        uOut[i] = Math.round(u * k * QUANTUM) / QUANTUM;
        vOut[i] = Math.round(v * k * QUANTUM) / QUANTUM;
      }
    }
  }
  return uOut && vOut ? { speed, u: uOut, v: vOut } : { speed };
}
