/**
 * Coastlines for the quick-look maps: Natural Earth's land outlines (public domain) as packaged
 * by world-atlas (TopoJSON, ISC), decoded once per process into lon/lat polylines.
 *
 * A TopoJSON "arc" is a run of quantized, delta-encoded points shared by the shapes that border
 * it; the land outlines' arcs are exactly the coastlines, so every arc is drawn once and the
 * polygons themselves are never assembled. 1:110m suits whole-globe and continental maps,
 * 1:50m regional ones (Natural Earth's own scale guidance).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface Topology {
  transform: { scale: [number, number]; translate: [number, number] };
  arcs: [number, number][][];
}

export type CoastlineScale = '110m' | '50m';

/** One polyline per arc: [lon0, lat0, lon1, lat1, ...] in degrees (lon -180..180). */
export type Polyline = Float64Array;

const cache = new Map<CoastlineScale, Polyline[]>();

/** The land outlines at a scale, decoded once. */
export function coastlines(scale: CoastlineScale): Polyline[] {
  let lines = cache.get(scale);
  if (!lines) {
    lines = decodeArcs(require(`world-atlas/land-${scale}.json`) as Topology);
    cache.set(scale, lines);
  }
  return lines;
}

/** Decode quantized, delta-encoded TopoJSON arcs to lon/lat polylines. */
export function decodeArcs(topology: Topology): Polyline[] {
  const [sx, sy] = topology.transform.scale;
  const [tx, ty] = topology.transform.translate;
  return topology.arcs.map((arc) => {
    const out = new Float64Array(arc.length * 2);
    let x = 0;
    let y = 0;
    arc.forEach(([dx, dy], i) => {
      x += dx;
      y += dy;
      out[2 * i] = x * sx + tx;
      out[2 * i + 1] = y * sy + ty;
    });
    return out;
  });
}

/** The scale to draw at for a map spanning spanDeg degrees. */
export function coastlineScale(spanDeg: number): CoastlineScale {
  return spanDeg > 60 ? '110m' : '50m';
}
