/**
 * Georeferencing: the GridSpec a file's GeoTIFF tags describe, as GDAL reads them, and the
 * refusal of every grid windcast cannot use (projected or non-WGS 84 CRSs, rotated or sheared
 * transforms, GCP-only or missing georeferencing, extents beyond the globe).
 *
 * Decisions, with reasons:
 * - Negative ModelPixelScale Y: GDAL (by default) treats the file as north-up and warns; we do
 *   the same so values and coordinates match gdalinfo/gdal_translate, and record a warning.
 *   Only a ModelTransformation with a positive Y term marks a south-up file; its rows are
 *   flipped on read and grid.sourceSouthUp is set.
 * - CRS: EPSG:4326, or a user-defined geographic CRS on the WGS 84 datum/ellipsoid (e.g. one
 *   carrying GeogTOWGS84GeoKey). At 0.25 degree any WGS 84 realisation is the same grid; other
 *   datums are refused rather than silently treated as WGS 84.
 * - Longitudes keep the file's convention (0..360 or -180..180); data is never rotated.
 */
import type { GeoTIFFImage } from 'geotiff';
import { DataError } from '../core/errors.js';
import type { GridSpec } from '../core/grid.js';
import { readTag } from './tiff-file.js';

const GEOGRAPHIC_WGS84 = 4326;
const USER_DEFINED = 32767;

function checkCrs(path: string, keys: Record<string, any> | null): void {
  if (!keys || Object.keys(keys).length === 0) {
    throw new DataError(path, 'missing georeferencing: no GeoKeys (no coordinate reference system); windcast needs a lat/lon grid in EPSG:4326');
  }
  const model = keys.GTModelTypeGeoKey;
  const projectionKeys = Object.keys(keys).filter((k) => k.startsWith('Proj') || k.startsWith('PCS'));
  if (model === 1 || projectionKeys.length > 0) {
    const code = keys.ProjectedCSTypeGeoKey;
    const name = code && code !== USER_DEFINED ? ` EPSG:${code}` : keys.GTCitationGeoKey ? ` "${String(keys.GTCitationGeoKey).slice(0, 60)}"` : '';
    throw new DataError(path, `projected CRS${name} is not supported: windcast needs a geographic lat/lon grid (reproject with gdalwarp -t_srs EPSG:4326)`);
  }
  if (model !== undefined && model !== 2) {
    throw new DataError(path, `unsupported GTModelTypeGeoKey ${model}: windcast needs a geographic lat/lon grid (EPSG:4326)`);
  }
  if (model !== 2 && keys.GeographicTypeGeoKey === undefined) {
    throw new DataError(path, 'missing georeferencing: no GTModelTypeGeoKey and no geographic CRS; windcast needs a lat/lon grid in EPSG:4326');
  }
  const units = keys.GeogAngularUnitsGeoKey;
  if (units !== undefined && units !== 9102 && units !== 9122) {
    throw new DataError(path, `geographic CRS with angular unit ${units} is not supported: windcast needs degrees`);
  }
  const geog = keys.GeographicTypeGeoKey;
  if (geog === GEOGRAPHIC_WGS84) return;
  if (geog === undefined || geog === USER_DEFINED) {
    const datum = keys.GeogGeodeticDatumGeoKey;
    const ellipsoid = keys.GeogEllipsoidGeoKey;
    const citation = String(keys.GeogCitationGeoKey ?? keys.GTCitationGeoKey ?? '');
    if (datum === 6326 || ellipsoid === 7030 || /WGS[ _]?84/i.test(citation)) return;
    const towgs = keys.GeogTOWGS84GeoKey !== undefined ? ' with a TOWGS84 datum shift' : '';
    throw new DataError(path, `user-defined geographic CRS not on WGS 84 (datum ${datum ?? '?'}, ellipsoid ${ellipsoid ?? '?'}${towgs}): windcast reads EPSG:4326 lat/lon grids (reproject with gdalwarp -t_srs EPSG:4326)`);
  }
  throw new DataError(path, `geographic CRS EPSG:${geog} is not WGS 84: windcast reads EPSG:4326 lat/lon grids (reproject with gdalwarp -t_srs EPSG:4326)`);
}

/**
 * GDAL's geotransform (corner of the first stored pixel, with the PixelIsPoint half-cell shift
 * GDAL applies by default) turned into a north-up GridSpec of cell centres.
 */
export async function deriveGrid(path: string, image: GeoTIFFImage, warnings: string[]): Promise<GridSpec> {
  const width = image.getWidth();
  const height = image.getHeight();
  const keys = image.getGeoKeys() as Record<string, any> | null;
  const scale = await readTag(image, 'ModelPixelScale');
  const tie = await readTag(image, 'ModelTiepoint');
  const transform = await readTag(image, 'ModelTransformation');
  const pixelIsPoint = keys?.GTRasterTypeGeoKey === 2;

  let x0: number; let dx: number; let y0: number; let dy: number;
  if (scale && tie && tie.length >= 6) {
    if (tie.length > 6) {
      warnings.push(`${tie.length / 6} tie points with a pixel scale: using the first, like GDAL`);
    }
    const [sx, syRaw] = [Number(scale[0]), Number(scale[1])];
    if (syRaw < 0) {
      warnings.push('negative ModelPixelScale Y: treated as north-up, as GDAL does by default');
    }
    const sy = Math.abs(syRaw);
    dx = sx;
    dy = -sy;
    x0 = Number(tie[3]) - Number(tie[0]) * sx;
    y0 = Number(tie[4]) + Number(tie[1]) * sy;
  } else if (transform && transform.length >= 16) {
    const [a, b, , c, d, e, , f] = Array.from(transform as ArrayLike<number>, Number);
    if (b !== 0 || d !== 0) {
      throw new DataError(path, `rotated or sheared grid (ModelTransformation has rotation terms ${b}, ${d}): windcast needs a regular north-up or south-up lat/lon grid`);
    }
    x0 = c!; dx = a!; y0 = f!; dy = e!;
  } else if (tie && tie.length > 6) {
    throw new DataError(path, `georeferenced only by ${tie.length / 6} ground control points, not a regular grid (warp it with gdalwarp -t_srs EPSG:4326 first)`);
  } else {
    throw new DataError(path, 'missing georeferencing: no ModelPixelScale + ModelTiepoint and no ModelTransformation');
  }
  if (!(dx > 0) || dy === 0 || !Number.isFinite(x0) || !Number.isFinite(y0) || !Number.isFinite(dy)) {
    throw new DataError(path, `unusable georeferencing: cell size ${dx} x ${dy}`);
  }
  checkCrs(path, keys);
  if (pixelIsPoint) {
    x0 -= dx / 2;
    y0 -= dy / 2;
  }
  const southUp = dy > 0;
  const dLat = Math.abs(dy);
  // Centre of the northernmost row: first stored row for north-up, last for south-up.
  const lat0 = southUp ? y0 + height * dLat - dLat / 2 : y0 - dLat / 2;
  const lon0 = x0 + dx / 2;
  const north = lat0 + dLat / 2;
  const south = lat0 - (height - 1) * dLat - dLat / 2;
  const tol = dLat * 0.51;
  if (north > 90 + tol || south < -90 - tol) {
    throw new DataError(path, `not a lat/lon grid: rows span latitudes ${round(south)}..${round(north)} (beyond +-90)`);
  }
  const west = x0;
  const east = x0 + width * dx;
  if (west < -180 - dx || east > 360 + dx || east - west > 360 + dx * 0.51) {
    throw new DataError(path, `not a lat/lon grid: columns span longitudes ${round(west)}..${round(east)}`);
  }
  return { width, height, lon0: clean(lon0), lat0: clean(lat0), dLon: clean(dx), dLat: clean(dLat), pixelIsPoint, sourceSouthUp: southUp, epsg: 4326 };
}

/** Snap float noise from tag arithmetic (e.g. 89.87500000000001) to 12 significant digits. */
function clean(x: number): number {
  return Number(x.toPrecision(12));
}
function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
