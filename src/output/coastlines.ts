/**
 * Coastlines for the quick-look maps: Natural Earth's land outlines (public domain) as packaged
 * by world-atlas (TopoJSON, ISC), turned into GeoJSON lines by topojson-client once per process.
 *
 * The mesh of the land object is every arc once: the coastlines, without assembling polygons
 * that would only be stroked. 1:110m suits whole-globe and continental maps, 1:50m regional
 * ones (Natural Earth's own scale guidance).
 */
import { createRequire } from 'node:module';
import type { MultiLineString } from 'geojson';
import { mesh } from 'topojson-client';
import type { GeometryObject, Topology } from 'topojson-specification';

const require = createRequire(import.meta.url);

export type CoastlineScale = '110m' | '50m';

const cache = new Map<CoastlineScale, MultiLineString>();

/** The land outlines at a scale as one GeoJSON MultiLineString (lon -180..180, degrees). */
export function coastlines(scale: CoastlineScale): MultiLineString {
  let lines = cache.get(scale);
  if (!lines) {
    const topology = require(`world-atlas/land-${scale}.json`) as Topology<{ land: GeometryObject }>;
    lines = mesh(topology, topology.objects.land);
    cache.set(scale, lines);
  }
  return lines;
}

/** The scale to draw at for a map spanning spanDeg degrees. */
export function coastlineScale(spanDeg: number): CoastlineScale {
  return spanDeg > 60 ? '110m' : '50m';
}
