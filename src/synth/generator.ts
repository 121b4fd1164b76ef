/**
 * Synthetic global hourly 10 m wind: the generator behind `windcast synth`.
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
 */
import { WindcastError } from '../core/errors.js';
import { colLon, rowLat, type GridSpec } from '../core/grid.js';
import { HOUR_MS, isoHour } from '../core/time.js';

/** One hour in milliseconds (as in cube.ts, not imported from there to keep the generator free of the ingest stage). */

/** Bumped whenever the generator's output changes (recorded in every file's metadata). */
export const SYNTH_VERSION = '1';

const DEG = Math.PI / 180;
/** Kilometres per degree of latitude. */
const KM_PER_DEG = 111.195;

// ---------------------------------------------------------------------------------------------
// Hashing: a seeded integer hash gives every lattice point and every system its random numbers.

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of up to four integers and the seed, as an unsigned 32-bit integer. */
export function hash32(seed: number, a: number, b = 0, c = 0, d = 0): number {
  let h = mix32(seed ^ 0x9e3779b9);
  h = mix32((h + Math.imul(a | 0, 0x85ebca6b)) | 0);
  h = mix32((h + Math.imul(b | 0, 0xc2b2ae35)) | 0);
  h = mix32((h + Math.imul(c | 0, 0x27d4eb2f)) | 0);
  h = mix32((h + Math.imul(d | 0, 0x165667b1)) | 0);
  return h;
}

/** Uniform in [0, 1) from a hash. */
export function unit(seed: number, a: number, b = 0, c = 0, d = 0): number {
  return hash32(seed, a, b, c, d) / 4294967296;
}

function gauss(x: number, width: number): number {
  const q = x / width;
  return Math.exp(-q * q);
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

// ---------------------------------------------------------------------------------------------
// Time and file names.



/** The file name of one hour: the ISO hour in the name, which the catalog parses. */
export function synthFileName(ms: number, bands: 'speed' | 'uv'): string {
  return `${bands === 'uv' ? 'wind_uv' : 'windspeed'}_${isoHour(ms)}.tif`;
}

/** Names synth writes (any hour, either band kind), to tell our files from a user's. */
export const SYNTH_FILE_PATTERN = /^(windspeed|wind_uv)_\d{4}-\d{2}-\d{2}T\d{2}Z\.tif$/;

// ---------------------------------------------------------------------------------------------
// Output grid.

export interface OutputGridOptions {
  step: number;
  bbox: [number, number, number, number] | null;
  lon180: boolean;
}

/**
 * The ERA5-layout global grid at `step` (first row 90N, first column 0E or 180W), or the cells
 * of it whose centres fall inside bbox (W,S,E,N; W > E crosses the seam of the convention).
 */
export function synthGrid(options: OutputGridOptions): GridSpec {
  const { step, bbox, lon180 } = options;
  const fullWidth = 360 / step;
  const fullHeightM1 = 180 / step;
  if (!(step > 0) || Math.abs(fullWidth - Math.round(fullWidth)) > 1e-6 || Math.abs(fullHeightM1 - Math.round(fullHeightM1)) > 1e-6) {
    throw new WindcastError('usage', `--step must divide 180 degrees evenly (e.g. 0.25, 0.5, 1, 2.5, 5), got ${step}`);
  }
  const width = Math.round(fullWidth);
  const height = Math.round(fullHeightM1) + 1;
  const west = lon180 ? -180 : 0;
  const base: GridSpec = { width, height, lon0: west, lat0: 90, dLon: step, dLat: step, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 };
  if (!bbox) return base;
  const [w, s, e, n] = bbox;
  if (!(s < n) || s < -90 || n > 90) throw new WindcastError('usage', `--bbox needs -90 <= S < N <= 90, got ${bbox.join(',')}`);
  const eps = 1e-9;
  const r0 = Math.ceil((90 - n) / step - eps);
  const r1 = Math.floor((90 - s) / step + eps);
  const norm = (x: number) => ((((x - west) % 360) + 360) % 360) + west;
  const wN = norm(w);
  let eN = norm(e);
  if (eN <= wN) eN += 360;
  const c0 = Math.ceil((wN - west) / step - eps);
  const c1 = Math.min(Math.floor((eN - west) / step + eps), c0 + width - 1);
  if (r1 < r0 || c1 < c0) {
    throw new WindcastError('usage', `--bbox ${bbox.join(',')} holds no cell centre of the ${step} degree grid`);
  }
  return { ...base, width: c1 - c0 + 1, height: r1 - r0 + 1, lon0: west + c0 * step, lat0: 90 - r0 * step };
}

// ---------------------------------------------------------------------------------------------
// Land mask: continent-shaped ellipses (centre lon/lat, half-axes in degrees, rotation in
// degrees) with coasts made ragged by static noise. Plausible, not geographic truth.

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

/**
 * Smooth value noise on an integer lattice in (x, y), wrapping x with period `wrap` lattice
 * cells; values in about [-1.7, 1.7] with unit variance at lattice points.
 */
function valueNoise2(seed: number, stream: number, x: number, y: number, wrap: number): number {
  const x0 = Math.floor(x), y0 = Math.floor(y);
  const fx = smooth(x - x0), fy = smooth(y - y0);
  const xa = ((x0 % wrap) + wrap) % wrap, xb = (xa + 1) % wrap;
  const v = (ix: number, iy: number) => (unit(seed, stream, ix, iy) * 2 - 1) * 1.7320508;
  const top = v(xa, y0) * (1 - fx) + v(xb, y0) * fx;
  const bot = v(xa, y0 + 1) * (1 - fx) + v(xb, y0 + 1) * fx;
  return top * (1 - fy) + bot * fy;
}

// ---------------------------------------------------------------------------------------------
// Large-scale flow on the 1 degree coarse grid.

const CW = 360; // coarse columns, lon 0..359
const CH = 181; // coarse rows, lat 90..-90

/** Steering flow for systems and advected noise, m/s eastward, by latitude. */
export function steeringFlow(latDeg: number): number {
  const a = Math.abs(latDeg);
  const q = latDeg / 20;
  return 11 * gauss(a - 45, 17) - 6.5 * Math.exp(-q * q * q * q) - 2 * gauss(a - 80, 6);
}

/** Day of year as a fraction of the year (0 at 1 January). */
function yearPhase(ms: number): number {
  const d = new Date(ms);
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  return (ms - start) / (365.25 * 24 * HOUR_MS);
}

/** Zonal-mean climate, m/s, with seasonal ITCZ and winter-strengthened westerlies. */
function climate(lat: number, phase: number): [number, number] {
  const itcz = 4 + 5 * Math.sin(2 * Math.PI * (phase - 0.29));
  const psi = lat - itcz;
  const nhWinter = Math.cos(2 * Math.PI * (phase - 0.04)); // +1 in mid January
  const u =
    -8.0 * gauss(psi - 14, 10) - 8.5 * gauss(psi + 15, 10) + // trades (doldrums between)
    6.5 * (1 + 0.2 * nhWinter) * gauss(lat - 46, 12) + // NH westerlies
    9.5 * (1 - 0.12 * nhWinter) * gauss(lat + 50, 12) - // southern-ocean westerlies
    4.5 * gauss(Math.abs(lat) - 75, 9); // polar easterlies
  const v =
    -3.2 * gauss(psi - 11, 8) + 3.2 * gauss(psi + 11, 8) + // trades flow toward the ITCZ
    1.2 * gauss(lat - 42, 9) - 1.2 * gauss(lat + 42, 9) - // poleward at mid-latitudes
    1.5 * gauss(lat - 72, 7) + 1.5 * gauss(lat + 72, 7); // polar outflow
  return [u, v];
}

interface Vortex {
  lat: number;
  lon: number;
  /** Radius of maximum wind, km. */
  radius: number;
  /** Maximum tangential wind now (envelope applied), m/s. */
  vmax: number;
  /** +1 counter-clockwise, -1 clockwise. */
  spin: number;
  /** Inflow (+) or outflow (-) as a fraction of the tangential wind. */
  inflow: number;
}

/** Birth slots of 6 hours; each spawns BIRTHS systems. Maximum lifetime in slots below. */
const SLOT_HOURS = 6;
const BIRTHS = 5;
const MAX_LIFE_HOURS = 9 * 24;

/** The systems alive at absolute hour h (hours since 1970), each at its current position. */
export function activeSystems(seed: number, h: number): Vortex[] {
  const out: Vortex[] = [];
  const lastSlot = Math.floor(h / SLOT_HOURS);
  const firstSlot = Math.floor((h - MAX_LIFE_HOURS) / SLOT_HOURS) - 1;
  for (let slot = firstSlot; slot <= lastSlot; slot++) {
    for (let k = 0; k < BIRTHS; k++) {
      const u = (j: number) => unit(seed, 7001, slot, k, j);
      const born = slot * SLOT_HOURS + u(0) * SLOT_HOURS;
      const kind = u(1);
      const south = u(2) < 0.5;
      const hem = south ? -1 : 1;
      let lat0: number, life: number, radius: number, vmax: number, cyclonic: boolean, drift: number;
      if (kind < 0.55) {
        // Mid-latitude low: the storm-track workhorse; stronger over the southern ocean.
        lat0 = 35 + 25 * u(3);
        life = 60 + 108 * u(4);
        radius = 450 + 550 * u(5);
        vmax = (7 + 10 * u(6)) * (south ? 1.15 : 1);
        cyclonic = true;
        drift = 1.5 * u(7);
      } else if (kind < 0.8) {
        // High: large, slow, weaker winds; drifts equatorward.
        lat0 = 25 + 25 * u(3);
        life = 96 + 120 * u(4);
        radius = 800 + 600 * u(5);
        vmax = 2 + 3 * u(6);
        cyclonic = false;
        drift = -0.8 * u(7);
      } else {
        // Tropical disturbance (easterly wave): small, weak, carried westward.
        lat0 = 5 + 17 * u(3);
        life = 72 + 120 * u(4);
        radius = 300 + 350 * u(5);
        vmax = 2 + 4 * u(6);
        cyclonic = true;
        drift = 1.0 * u(7);
      }
      const age = h - born;
      if (age < 0 || age > life) continue;
      const x = age / life;
      // Grow and decay: zero at birth and death, peak a little before mid-life.
      const env = Math.sin(Math.PI * Math.pow(x, 0.8));
      const envelope = env * env;
      const lat = Math.max(-82, Math.min(82, hem * lat0 + hem * drift * age * 3.6 / KM_PER_DEG));
      const latMid = (hem * lat0 + lat) / 2;
      const speedFactor = 0.8 + 0.4 * u(8);
      const lonShift = (steeringFlow(latMid) * speedFactor * age * 3.6) / (KM_PER_DEG * Math.max(0.15, Math.cos(latMid * DEG)));
      const lon = (((360 * u(9) + lonShift) % 360) + 360) % 360;
      out.push({
        lat,
        lon,
        radius: radius * (0.75 + 0.25 * env),
        vmax: vmax * envelope,
        spin: (cyclonic ? 1 : -1) * hem,
        inflow: cyclonic ? 0.3 : -0.2,
      });
    }
  }
  return out;
}

/**
 * Add the vortices' winds to the coarse fields. Each vortex reaches 3 radii, where a taper
 * brings its wind smoothly to zero (so the cull leaves no ring).
 */
function addSystems(systems: Vortex[], U: Float32Array, V: Float32Array, coarseCos: Float64Array): void {
  for (const s of systems) {
    const reachDeg = (3 * s.radius) / KM_PER_DEG;
    const rMin = Math.max(0, Math.floor(90 - (s.lat + reachDeg)));
    const rMax = Math.min(CH - 1, Math.ceil(90 - (s.lat - reachDeg)));
    const invR = 1 / s.radius;
    for (let r = rMin; r <= rMax; r++) {
      const lat = 90 - r;
      const cosLat = coarseCos[r]!;
      const dy = (lat - s.lat) * KM_PER_DEG;
      const lonReach = Math.min(180, reachDeg / Math.max(0.05, cosLat));
      const c0 = Math.floor(s.lon - lonReach), c1 = Math.ceil(s.lon + lonReach);
      const cEnd = Math.min(c1, c0 + CW - 1);
      for (let cc = c0; cc <= cEnd; cc++) {
        const dx = (cc - s.lon) * cosLat * KM_PER_DEG;
        const q2 = (dx * dx + dy * dy) * invR * invR;
        if (q2 >= 9) continue;
        // Gaussian vortex: tangential wind peaks at vmax at one radius.
        const taper = (1 - q2 / 9) * (1 - q2 / 9);
        const vtOverR = s.vmax * Math.exp(0.5 * (1 - q2)) * taper * invR; // vt / r
        const c = ((cc % CW) + CW) % CW;
        const i = r * CW + c;
        U[i] = U[i]! + vtOverR * (-s.spin * dy - s.inflow * dx);
        V[i] = V[i]! + vtOverR * (s.spin * dx - s.inflow * dy);
      }
    }
  }
}

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
function addAdvectedNoise(seed: number, h: number, U: Float32Array, V: Float32Array, coarseCos: Float64Array): void {
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

/** Bilinear land fraction from the global 0.25 degree mask. */
function sampleLand(land: Float32Array, lat: number, lon: number): number {
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

/**
 * Mesoscale noise on the 1 degree lattice: not advected and renewed every 2 hours, the part
 * of the wind that nothing upstream can predict. Unit variance at lattice points.
 */
function mesoNoise(seed: number, h: number): Float32Array {
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

// ---------------------------------------------------------------------------------------------
// Calibration: how hard is the set to forecast?

export interface PersistenceStats {
  hours: number;
  grid: string;
  /** Area-weighted (cos latitude) mean speed, m/s. */
  meanSpeed: number;
  /** Area-weighted speed standard deviation over all cells and hours, m/s. */
  stdSpeed: number;
  maxSpeed: number;
  /** Area-weighted RMSE of persistence (speed at t+lead vs t), m/s, per lead in hours. */
  rmse: Record<number, number>;
}

/**
 * Persistence RMSE at each lead over the hours [startMs, startMs + hours), computed from the
 * generator directly (the same numbers as reading back the files it writes on this grid).
 */
export function persistenceStats(options: {
  seed: number;
  startMs: number;
  hours: number;
  grid: GridSpec;
  leads?: number[];
  onHour?: (done: number) => void;
}): PersistenceStats {
  const leads = options.leads ?? [1, 6, 24];
  const maxLead = Math.max(...leads);
  const { grid } = options;
  const plan = planSynth(grid, options.seed);
  const weights = new Float64Array(grid.height);
  for (let r = 0; r < grid.height; r++) weights[r] = Math.max(0, Math.cos(rowLat(grid, r) * DEG));
  const ring: Float32Array[] = [];
  const sq = new Map<number, { sum: number; w: number }>(leads.map((l) => [l, { sum: 0, w: 0 }]));
  let sum = 0, sum2 = 0, wsum = 0, max = 0;
  for (let t = 0; t < options.hours; t++) {
    const { speed } = synthHour(plan, options.startMs + t * HOUR_MS);
    for (let r = 0; r < grid.height; r++) {
      const w = weights[r]!;
      for (let c = 0; c < grid.width; c++) {
        const s = speed[r * grid.width + c]!;
        sum += w * s;
        sum2 += w * s * s;
        if (s > max) max = s;
      }
      wsum += w * grid.width;
    }
    for (const lead of leads) {
      const past = ring[ring.length - lead];
      if (!past) continue;
      const acc = sq.get(lead)!;
      for (let r = 0; r < grid.height; r++) {
        const w = weights[r]!;
        let rowSum = 0;
        for (let c = 0; c < grid.width; c++) {
          const i = r * grid.width + c;
          const d = speed[i]! - past[i]!;
          rowSum += d * d;
        }
        acc.sum += w * rowSum;
        acc.w += w * grid.width;
      }
    }
    ring.push(speed);
    if (ring.length > maxLead) ring.shift();
    options.onHour?.(t + 1);
  }
  const mean = sum / wsum;
  const rmse: Record<number, number> = {};
  for (const [lead, acc] of sq) rmse[lead] = acc.w > 0 ? Math.sqrt(acc.sum / acc.w) : NaN;
  return {
    hours: options.hours,
    grid: `${grid.width}x${grid.height}`,
    meanSpeed: mean,
    stdSpeed: Math.sqrt(Math.max(0, sum2 / wsum - mean * mean)),
    maxSpeed: max,
    rmse,
  };
}
