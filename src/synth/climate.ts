/**
 * The zonal-mean climate and the steering flow, by latitude and season: trades converging on
 * a seasonal ITCZ (doldrums between them), mid-latitude westerlies (stronger in the southern
 * ocean, stronger in winter), polar easterlies; the flow that carries weather systems and
 * advected noise (eastward near 11 m/s at 45 degrees, westward in the tropics).
 */
import { HOUR_MS } from '../core/time.js';

/** A gaussian bump exp(-(x / width)^2): the shape every profile here is built from. */
export function gauss(x: number, width: number): number {
  const q = x / width;
  return Math.exp(-q * q);
}

/** Steering flow for systems and advected noise, m/s eastward, by latitude. */
export function steeringFlow(latDeg: number): number {
  const a = Math.abs(latDeg);
  const q = latDeg / 20;
  return 11 * gauss(a - 45, 17) - 6.5 * Math.exp(-q * q * q * q) - 2 * gauss(a - 80, 6);
}

/** Day of year as a fraction of the year (0 at 1 January). */
export function yearPhase(ms: number): number {
  const d = new Date(ms);
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  return (ms - start) / (365.25 * 24 * HOUR_MS);
}

/** Zonal-mean climate, m/s, with seasonal ITCZ and winter-strengthened westerlies. */
export function climate(lat: number, phase: number): [number, number] {
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
