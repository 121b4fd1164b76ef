/**
 * Every real GeoTIFF in ../shared/data/geotiff-corpus is either read with GDAL's georeferencing
 * and values, or refused with a specific one-line DataError. The INDEX.tsv columns gdal_size,
 * gdal_dtype and gdal_geotransform are the reference without GDAL. With gdal-bin installed
 * (required in CI: WINDCAST_REQUIRE_GDAL=1) every value of every file we read is compared with
 * GDAL's: gdal_translate -ot Float64 -of ENVI gives the raw values, which are then treated as
 * windcast promises to treat them (see ingest-fixtures.ts gdalRead): the band's GDAL
 * scale/offset applied (value = raw * scale + offset), and GDAL's nodata value, compared in
 * the band's own precision, or a NaN sample, becoming NaN. Our Float32 value must equal that
 * value rounded to Float32, cell by cell. Every file we refuse is one GDAL reads (INDEX.tsv
 * gdal_status), so the refusal must say why in one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from '../src/core/errors.js';
import { readRaster, type Raster } from '../src/ingest/raster.js';
import { flipRows, gdalOrSkip, gdalRead, valueMismatches } from './ingest-fixtures.js';

const CORPUS = fileURLToPath(new URL('../../../shared/data/geotiff-corpus', import.meta.url));

/** The outcome we promise per file: 'read', or the refusal's reason. */
const EXPECTED: Record<string, 'read' | RegExp> = {
  'earthkit__dgm50hs_col_32_368_5616_nw_bigtiff.tiff': /projected CRS EPSG:25832/,
  'georust__austrian_capitals_model_tie_point_and_pixel_scale_pixel_is_area.tif': /projected CRS EPSG:3035/,
  'georust__austrian_capitals_model_tie_point_and_pixel_scale_pixel_is_point.tif': /projected CRS EPSG:3035/,
  'georust__zh_dem_25.tif': /missing georeferencing: no GeoKeys/,
  'gtifftestdata__GeogToWGS84GeoKey5.tif': /user-defined geographic CRS not on WGS 84 .*TOWGS84/,
  'gtifftestdata__gpm_1d.20240617.tif': 'read',
  'gtifftestdata__lcv_landuse.cropland_hyde_p_10km_s0..0cm_2016_v3.2.tif': 'read',
  'imagetiff__geo-5b.tif': /projected CRS EPSG:21897/,
  'imagetiff__int16_zstd.tif': /missing georeferencing: no ModelPixelScale/,
  'imagetiff__predictor-3-gray-f32.tif': /missing georeferencing: no ModelPixelScale/,
  'imagetiff__usda_naip_256_webp_z3.tif': /projected CRS EPSG:3857/,
  'libgeotiff__epsg_27563_allgeokeys.tif': /projected CRS EPSG:27563/,
  'libgeotiff__pixel_is_point_wgs84.tif': 'read',
  'proj__test_hgrid_tiled_separate.tif': 'read',
  'proj__test_vgrid_bigendian.tif': 'read',
  'proj__test_vgrid_bigtiff.tif': 'read',
  'proj__test_vgrid_bottomup_with_scale.tif': 'read',
  'proj__test_vgrid_deflate_floatingpointpredictor.tif': 'read',
  'proj__test_vgrid_float64.tif': 'read',
  'proj__test_vgrid_int16.tif': 'read',
  'proj__test_vgrid_nodata.tif': 'read',
  'proj__test_vgrid_pixelisarea.tif': 'read',
  'proj__test_vgrid_pixelispoint.tif': 'read',
  'rasterio__RGBA.uint16.tif': /projected CRS EPSG:32612/,
  'rasterio__all-nodata.tif': /projected CRS EPSG:32628/,
  'rasterio__byte.tif': /projected CRS EPSG:26711/,
  'rasterio__float32.tif': /missing georeferencing: no GeoKeys/,
  'rasterio__float_nan.tif': /missing georeferencing: no GeoKeys/,
  'rasterio__float_raster_with_nodata.tif': /projected CRS/,
  'rasterio__green.tif': /3 bands: windcast wants 1 band \(wind speed\) or 2 bands \(u, v\)/,
  'rasterio__rotated.tif': /rotated or sheared grid/,
  'rasterio__test_esri_wkt.tif': /projected CRS "USA_Contiguous_Albers/,
  'rasterio__world.byte.tif': 'read',
  'rasterio__world.rgb.tif': /3 bands/,
  'riotiler__cog_gradient.tif': 'read',
  'riotiler__cog_nonearth.tif': /projected CRS/,
  'riotiler__cog_rgb.tif': /projected CRS EPSG:26913/,
  'riotiler__cog_uint8_rgb_mask.tif': /3 bands/,
  'riotiler__web.tif': /projected CRS EPSG:3857/,
  'rioxarray__2d_test.tif': /rotated or sheared grid/,
  'rioxarray__cint16.tif': /unsupported sample type: complex integer/,
  'rioxarray__test_rpcs.tif': /not a lat\/lon grid: rows span latitudes 0\.\.274/,
};

const GDAL_TYPES: Record<string, string> = {
  Byte: 'uint8', Int8: 'int8', UInt16: 'uint16', Int16: 'int16', UInt32: 'uint32', Int32: 'int32', Float32: 'float32', Float64: 'float64',
};

interface IndexRow { [column: string]: string }

function readIndex(): IndexRow[] {
  const [head, ...lines] = readFileSync(join(CORPUS, 'INDEX.tsv'), 'utf8').trim().split('\n');
  const cols = head!.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i]!, v])));
}

/** GDAL's geotransform of the file as stored, rebuilt from our north-up GridSpec. */
function geoTransformOf(r: Raster): number[] {
  const g = r.grid;
  const left = g.lon0 - g.dLon / 2;
  const top = g.lat0 + g.dLat / 2;
  return g.sourceSouthUp ? [left, g.dLon, 0, top - g.height * g.dLat, 0, g.dLat] : [left, g.dLon, 0, top, 0, -g.dLat];
}

const present = existsSync(join(CORPUS, 'INDEX.tsv'));

test('the corpus index and the expectations cover the same files', { skip: !present && 'corpus not present' }, () => {
  const listed = readIndex().map((r) => r.file!).sort();
  const onDisk = readdirSync(CORPUS).filter((f) => /\.tiff?$/i.test(f)).sort();
  assert.deepEqual(listed, onDisk);
  assert.deepEqual(Object.keys(EXPECTED).sort(), onDisk);
});

/** Each file is read once for its two tests (they run in order, in one process). */
const reads = new Map<string, Promise<Raster>>();
function readOnce(path: string): Promise<Raster> {
  if (!reads.has(path)) reads.set(path, readRaster(path));
  return reads.get(path)!;
}

for (const row of present ? readIndex() : []) {
  const name = row.file!;
  const path = join(CORPUS, name);
  const expected = EXPECTED[name];
  if (expected !== 'read') {
    test(`corpus ${name}: GDAL reads it, we refuse it in one clear line`, async () => {
      assert.ok(expected, `no expectation for ${name}`);
      assert.equal(row.gdal_status, 'ok', 'INDEX.tsv: GDAL opens the file');
      await assert.rejects(readRaster(path), (err: unknown) => {
        assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
        assert.ok(err.message.startsWith(`${path}: `));
        assert.match(err.message, expected);
        assert.ok(!err.message.includes('\n'));
        assert.doesNotMatch(err.message, /undefined|\[object|NaN/, 'no placeholder leaks into the message');
        return true;
      });
    });
    continue;
  }
  test(`corpus ${name}: size, type and georeferencing as GDAL (INDEX.tsv) reports`, async () => {
    const r = await readOnce(path);
    const [w, h, bands] = row.gdal_size!.split('x').map(Number);
    assert.deepEqual([r.grid.width, r.grid.height, r.bandCount], [w, h, bands]);
    assert.equal(r.dataType, GDAL_TYPES[row.gdal_dtype!]);
    const ref = row.gdal_geotransform!.split(',').map(Number);
    const ours = geoTransformOf(r);
    // INDEX.tsv rounds to 10 significant digits.
    ref.forEach((x, i) => assert.ok(Math.abs(x - ours[i]!) <= 1e-9 * Math.max(1, Math.abs(x)) + 5e-10, `geotransform ${ours} vs GDAL ${ref}`));
  });
  test(`corpus ${name}: every value, nodata, scale and offset equal GDAL's`, async (t) => {
    if (!gdalOrSkip(t)) return;
    const r = await readOnce(path);
    const gdal = gdalRead(path);
    const ours = geoTransformOf(r);
    assert.deepEqual(gdal.geoTransform!.map((x, i) => Math.abs(x - ours[i]!) < 1e-9), [true, true, true, true, true, true], `geotransform ${ours} vs gdalinfo ${gdal.geoTransform}`);
    assert.deepEqual([gdal.width, gdal.height, gdal.bands.length], [r.grid.width, r.grid.height, r.bandCount]);
    r.bands.forEach((band, b) => {
      const info = gdal.info[b]!;
      const what = `band ${b + 1}`;
      assert.ok(info.nodata === null ? r.nodata === null : Object.is(r.nodata, info.nodata) || r.nodata === info.nodata, `${what}: nodata ${r.nodata}, GDAL ${info.nodata}`);
      assert.deepEqual([r.scale[b], r.offset[b]], [info.scale, info.offset], `${what}: scale/offset`);
      const theirs = r.grid.sourceSouthUp ? flipRows(gdal.bands[b]!, gdal.width, gdal.height) : gdal.bands[b]!;
      const { count, first } = valueMismatches(band, theirs);
      assert.equal(count, 0, `${what}: ${count} cells differ from GDAL, first cell ${first?.cell}: ours ${first?.ours}, GDAL ${first?.gdal}`);
      assert.ok(band.some((v) => v === v), `${what}: holds values to compare, not only nodata`);
    });
  });
}
