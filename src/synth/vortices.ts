/**
 * Synoptic weather systems: lows, highs and tropical disturbances born every few hours at
 * random places in their latitude belts, growing and decaying over days, carried by the
 * steering flow with a slow meridional drift, and their winds added to the coarse fields as
 * gaussian vortices.
 */
import { steeringFlow } from './climate.js';
import { CH, CW, DEG, KM_PER_DEG } from './geometry.js';
import { unit } from './random.js';

export interface Vortex {
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
export function addSystems(systems: Vortex[], U: Float32Array, V: Float32Array, coarseCos: Float64Array): void {
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
