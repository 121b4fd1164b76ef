/**
 * GeoTIFF bands with heights: what a band holds comes from its name (GDAL band description,
 * NETCDF_VARNAME or GRIB_ELEMENT), 4 bands are u/v at two heights, and the cube holds the
 * target height's speed (hypot of its u/v), u/v, and the other height's u/v, through the
 * decoder threads and the cube cache. GDAL writes the 4-band file the README's loop makes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { bandPlan } from '../src/ingest/band-plan.js';
import { buildCatalog } from '../src/ingest/catalog.js';
import { buildCube, type WindChoice } from '../src/ingest/cube.js';
import { readRasterHeader } from '../src/ingest/raster.js';
import { DataError } from '../src/core/errors.js';
import { silentProgress } from '../src/core/progress.js';
import { gdalOrSkip, latLonFixture, writeFixture, type FixtureOptions } from './ingest-fixtures.js';

const scratch = mkdtempSync(join(tmpdir(), 'windcast-heights-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const W = 5;
const HT = 3;
const T0 = Date.UTC(2024, 0, 1);
const NAMES = ['u10', 'v10', 'u100', 'v100'];

/** u10, v10, u100, v100 at (hour, row, col): 100 m wind is stronger and turned from 10 m. */
function wind(name: string, t: number, r: number, c: number): number {
  const u = 3 + 0.2 * t + 0.5 * r - 0.3 * c;
  const v = -1 + 0.1 * t - 0.4 * r + 0.2 * c;
  return { u10: u, v10: v, u100: 1.4 * u + 0.3 * v, v100: 1.4 * v - 0.3 * u }[name]!;
}

function fourBand(t: number, order = NAMES, items: (name: string) => Record<string, string> = (n) => ({ DESCRIPTION: n })): FixtureOptions {
  return latLonFixture(W, HT, (r, c, b) => wind(order[b]!, t, r, c), { step: 10, top: 60, west: 0, bandCount: order.length, bandItems: order.map(items) });
}

function folder(name: string, hours: number, make: (t: number) => FixtureOptions): string {
  const dir = join(scratch, name);
  execFileSync('mkdir', ['-p', dir]);
  for (let t = 0; t < hours; t++) writeFixture(join(dir, `era5_${new Date(T0 + t * 3_600_000).toISOString().slice(0, 13)}.tif`), make(t));
  return dir;
}

const cubeOf = async (dir: string, wind: WindChoice, cache = false) =>
  buildCube(await buildCatalog(dir, { glob: '*.tif', timePattern: 'auto' }), { cacheEncoding: 'float32', cache, workers: 2, wind }, silentProgress);

const AUTO: WindChoice = { targetHeight: 'auto', variables: null };

function refuses(promise: Promise<unknown> | (() => unknown), message: string | RegExp) {
  const check = (err: unknown) => {
    assert.ok(err instanceof DataError, String(err));
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  };
  return typeof promise === 'function' ? assert.throws(promise, check) : assert.rejects(promise, check);
}

test('4 bands named u10, v10, u100, v100: each band\'s height; the target is 100 m unless 10 m is asked for', async () => {
  const path = join(scratch, 'one.tif');
  writeFixture(path, fourBand(0));
  const header = await readRasterHeader(path);
  assert.equal(header.bandCount, 4);
  assert.deepEqual(header.winds, [
    { component: 'u', heightM: 10, name: 'u10' }, { component: 'v', heightM: 10, name: 'v10' },
    { component: 'u', heightM: 100, name: 'u100' }, { component: 'v', heightM: 100, name: 'v100' },
  ]);
  assert.deepEqual(bandPlan(header, AUTO), { slots: ['uOther', 'vOther', 'u', 'v'], heightM: 100, otherHeightM: 10, variables: NAMES });
  assert.deepEqual(bandPlan(header, { targetHeight: 10, variables: null }), { slots: ['u', 'v', 'uOther', 'vOther'], heightM: 10, otherHeightM: 100, variables: NAMES });
  assert.deepEqual(bandPlan(header, { targetHeight: 'auto', variables: ['u10', 'v10'] }), { slots: ['u', 'v', null, null], heightM: 10, otherHeightM: null, variables: ['u10', 'v10'] });
  refuses(() => bandPlan(header, { targetHeight: 100, variables: ['u10', 'v10'] }), `${path}: no wind at 100 m: the bands (u10, v10, u100, v100) hold wind at 10 m`);
  refuses(() => bandPlan(header, { targetHeight: 'auto', variables: ['u10', 't2m'] }), `${path}: no band named t2m (bands: u10, v10, u100, v100)`);
});

test('the cube of 4-band files: speed = hypot(u, v) of the target height, the other height\'s u/v beside it; 10 m and 100 m differ', async () => {
  const dir = folder('four', 4, (t) => fourBand(t));
  const cells = W * HT;
  const at100 = await cubeOf(dir, AUTO);
  const at10 = await cubeOf(dir, { targetHeight: 10, variables: null });
  assert.equal(at100.heightM, 100);
  assert.equal(at10.heightM, 10);
  assert.equal(at100.other?.heightM, 10);
  assert.equal(at10.other?.heightM, 100);
  assert.deepEqual(at100.source.variables, NAMES);
  let differ = 0;
  for (let t = 0; t < 4; t++) {
    for (let i = 0; i < cells; i++) {
      const r = Math.floor(i / W);
      const c = i % W;
      const k = t * cells + i;
      const close = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) < 1e-5, `${what} t${t} cell ${i}: ${got} vs ${want}`);
      close(at100.speed[k]!, Math.hypot(wind('u100', t, r, c), wind('v100', t, r, c)), 'speed at 100 m');
      close(at10.speed[k]!, Math.hypot(wind('u10', t, r, c), wind('v10', t, r, c)), 'speed at 10 m');
      close(at100.u![k]!, wind('u100', t, r, c), 'u at 100 m');
      close(at100.other!.v[k]!, wind('v10', t, r, c), 'v at 10 m beside 100 m');
      close(at10.other!.u[k]!, wind('u100', t, r, c), 'u at 100 m beside 10 m');
      if (Math.abs(at100.speed[k]! - at10.speed[k]!) > 0.1) differ++;
    }
  }
  assert.equal(differ, 4 * cells, 'every 100 m speed differs from the 10 m one');
});

test('the cube cache keeps the other height\'s bands and heights; another target height is another cache', async () => {
  const dir = folder('cached', 3, (t) => fourBand(t));
  const first = await cubeOf(dir, AUTO, true);
  assert.equal(first.source.cache?.hit, false);
  const again = await cubeOf(dir, AUTO, true);
  assert.equal(again.source.cache?.hit, true);
  assert.equal(again.heightM, 100);
  assert.equal(again.other?.heightM, 10);
  assert.deepEqual(again.speed, first.speed);
  assert.deepEqual(again.u, first.u);
  assert.deepEqual(again.other?.u, first.other?.u);
  assert.deepEqual(again.other?.v, first.other?.v);
  assert.equal(again.source.fingerprint, first.source.fingerprint);
  const ten = await cubeOf(dir, { targetHeight: 10, variables: null }, true);
  assert.equal(ten.source.cache?.hit, false, 'the 100 m cache does not serve a 10 m cube');
  assert.notEqual(ten.source.cache?.path, first.source.cache?.path);
  assert.equal(ten.source.fingerprint, first.source.fingerprint, 'the data\'s identity does not depend on the height read');
  assert.deepEqual((await cubeOf(dir, { targetHeight: 10, variables: null }, true)).other?.u, first.u);
});

test('2 bands named by NETCDF_VARNAME or GRIB_ELEMENT (as gdal_translate keeps them) carry their height, in either order', async () => {
  const named = join(scratch, 'nc-named.tif');
  writeFixture(named, fourBand(0, ['v100', 'u100'], (n) => ({ NETCDF_VARNAME: n })));
  const h = await readRasterHeader(named);
  assert.deepEqual(h.winds.map((w) => [w.component, w.heightM]), [['v', 100], ['u', 100]]);
  assert.deepEqual(bandPlan(h, AUTO), { slots: ['v', 'u'], heightM: 100, otherHeightM: null, variables: ['v100', 'u100'] });
  const dir = folder('grib', 2, (t) => fourBand(t, ['u10', 'v10'], (n) => ({ GRIB_ELEMENT: n === 'u10' ? '10U' : '10V' })));
  const cube = await cubeOf(dir, AUTO);
  assert.equal(cube.heightM, 10);
  assert.equal(cube.other, undefined);
  assert.ok(Math.abs(cube.speed[7]! - Math.hypot(wind('u10', 0, 1, 2), wind('v10', 0, 1, 2))) < 1e-5);
  // Unnamed 2-band files keep their meaning of old: u, v, no height.
  const plain = join(scratch, 'plain.tif');
  writeFixture(plain, latLonFixture(W, HT, (r, c, b) => wind(NAMES[b]!, 0, r, c), { step: 10, top: 60, bandCount: 2 }));
  const p = await readRasterHeader(plain);
  assert.deepEqual(bandPlan(p, AUTO), { slots: ['u', 'v'], heightM: null, otherHeightM: null, variables: [] });
});

test('bands windcast cannot place are refused, naming the file and the bands', async () => {
  const write = async (name: string, o: FixtureOptions) => {
    const path = join(scratch, name);
    writeFixture(path, o);
    return path;
  };
  const unnamed4 = await write('unnamed4.tif', latLonFixture(W, HT, () => 1, { step: 10, top: 60, bandCount: 4 }));
  await refuses(readRasterHeader(unnamed4), `${unnamed4}: 4 bands without names: windcast reads 4 bands u10, v10, u100, v100 named by their band descriptions (GDAL DESCRIPTION, or NETCDF_VARNAME / GRIB_ELEMENT items), to know which height each is`);
  const mixed = await write('mixed.tif', fourBand(0, ['u10', 'v100']));
  await refuses(readRasterHeader(mixed), `${mixed}: bands u10, v100: windcast wants 2 bands u and v of one height`);
  const twoU = await write('twou.tif', fourBand(0, ['u10', 'v10', 'u100', 'u10']));
  await refuses(readRasterHeader(twoU), `${twoU}: bands u10, v10, u100, u10: windcast wants 4 bands u10, v10, u100, v100 named by their band descriptions, u and v at each of two heights`);
  const lone = await write('lone.tif', fourBand(0, ['u10']));
  await refuses(readRasterHeader(lone), `${lone}: its one band is u10: windcast needs u and v together (2 or 4 bands) or a wind speed`);
  const temperature = await write('t2m.tif', fourBand(0, ['t2m']));
  await refuses(readRasterHeader(temperature), `${temperature}: band 1 is t2m (DESCRIPTION "t2m"), not wind: windcast reads wind speed or u/v bands`);
  const three = await write('three.tif', latLonFixture(W, HT, () => 1, { step: 10, top: 60, bandCount: 3 }));
  await refuses(readRasterHeader(three), /3 bands: windcast wants 1 band \(wind speed\) or 2 bands \(u, v\), or 4 bands u10, v10, u100, v100 named by their band descriptions$/);
  const plain = await write('plain2.tif', latLonFixture(W, HT, () => 1, { step: 10, top: 60, bandCount: 2 }));
  const h = await readRasterHeader(plain);
  refuses(() => bandPlan(h, { targetHeight: 100, variables: null }), `${plain}: target height 100 m asked for, but the bands do not say their height: name them u100, v100 (GDAL band descriptions) or leave ingest.targetHeight at auto`);
  refuses(() => bandPlan(h, { targetHeight: 'auto', variables: ['u100'] }), `${plain}: the bands have no names (GDAL descriptions such as u100, v100), so variables u100 cannot be chosen among them`);
});

test('a file whose bands differ from the first file\'s is refused by name while the cube is built', async () => {
  const dir = folder('switch', 3, (t) => (t === 2 ? fourBand(t, ['u100', 'v100', 'u10', 'v10']) : fourBand(t)));
  await refuses(cubeOf(dir, AUTO), /era5_2024-01-01T02\.tif: grid differs from the first file .*: bands u10, v10, u100, v100 vs u100, v100, u10, v10/);
});

test('GDAL referee: gdal_translate of a VRT with band descriptions (the README\'s loop) reads as u/v at 10 m and 100 m', async (t) => {
  if (!gdalOrSkip(t)) return;
  const dir = join(scratch, 'gdal');
  execFileSync('mkdir', ['-p', dir]);
  const sources = NAMES.map((n) => {
    const path = join(dir, `${n}.tif`);
    writeFixture(path, latLonFixture(W, HT, (r, c) => wind(n, 0, r, c), { step: 10, top: 60 }));
    return path;
  });
  // What gdalbuildvrt -separate writes, plus the <Description> the README adds to each band.
  const bands = sources.map((src, i) => `<VRTRasterBand dataType="Float32" band="${i + 1}"><Description>${NAMES[i]}</Description><SimpleSource><SourceFilename relativeToVRT="1">${NAMES[i]}.tif</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand>`);
  writeFileSync(join(dir, 'uv.vrt'), `<VRTDataset rasterXSize="${W}" rasterYSize="${HT}"><SRS>EPSG:4326</SRS><GeoTransform>0, 10, 0, 60, 0, -10</GeoTransform>${bands.join('')}</VRTDataset>`);
  const out = join(dir, 'era5_2024010100.tif');
  execFileSync('gdal_translate', ['-q', '-co', 'COMPRESS=DEFLATE', join(dir, 'uv.vrt'), out]);
  const info = execFileSync('gdalinfo', [out], { encoding: 'utf8' });
  assert.match(info, /Description = u100/);
  const header = await readRasterHeader(out);
  assert.deepEqual(header.winds.map((w) => w.name), NAMES);
  const cube = await cubeOf(join(dir, 'era5_*.tif'), AUTO);
  assert.equal(cube.heightM, 100);
  assert.equal(cube.other?.heightM, 10);
  assert.ok(Math.abs(cube.speed[0]! - Math.hypot(wind('u100', 0, 0, 0), wind('v100', 0, 0, 0))) < 1e-5);
  assert.ok(Math.abs(cube.other!.u[W * HT - 1]! - wind('u10', 0, HT - 1, W - 1)) < 1e-5);
});
