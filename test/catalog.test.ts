import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCatalog, globToRegExp, listCatalog, requireConsecutive, timeFromName } from '../src/ingest/catalog.js';
import { DataError } from '../src/core/errors.js';
import { latLonFixture, writeFixture } from './ingest-fixtures.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1, 0);

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'windcast-catalog-'));
}

/** Empty placeholder files: the name carries the hour, contents are never read. */
function touch(dir: string, names: string[]): void {
  for (const n of names) writeFileSync(join(dir, n), '');
}

function iso(h: number): string {
  return new Date(T0 + h * H).toISOString().slice(0, 13);
}

test('hours from ISO and yyyymmddHH names', () => {
  assert.equal(timeFromName('a/wind_2024-01-01T06.tif', 'iso'), Date.UTC(2024, 0, 1, 6));
  assert.equal(timeFromName('a/2024-03-31T23:00:00Z.tif', 'iso'), Date.UTC(2024, 2, 31, 23));
  assert.equal(timeFromName('a/x_2024-02-29_05-00.tif', 'iso'), Date.UTC(2024, 1, 29, 5));
  assert.equal(timeFromName('a/era5_2024010106.tif', 'yyyymmddHH'), Date.UTC(2024, 0, 1, 6));
  assert.equal(timeFromName('a/era5_20240101_06.tif', 'yyyymmddHH'), Date.UTC(2024, 0, 1, 6));
  assert.equal(timeFromName('a/era5_20240101.tif', 'yyyymmddHH'), null);
  assert.equal(timeFromName('a/wind.tif', 'iso'), null);
  assert.throws(() => timeFromName('a/2023-02-29T01.tif', 'iso'), /not a valid date and hour/);
  assert.throws(() => timeFromName('a/2024-01-01T06:30.tif', 'iso'), /not on a whole hour/);
  assert.equal(timeFromName('a/2024013123.tif', 'yyyymmddHH'), Date.UTC(2024, 0, 31, 23));
  assert.throws(() => timeFromName('a/2024133106.tif', 'yyyymmddHH'), /not a valid date/);
  assert.throws(() => timeFromName('a/2024010124.tif', 'yyyymmddHH'), /not a valid date/);
});

test('globs translate to anchored expressions', () => {
  assert.ok(globToRegExp('*.tif').test('a.tif'));
  assert.ok(!globToRegExp('*.tif').test('a.tiff'));
  assert.ok(globToRegExp('era5_2024-0[12]-*.tif').test('era5_2024-02-03T00.tif'));
  assert.ok(!globToRegExp('era5_2024-0[12]-*.tif').test('era5_2024-03-03T00.tif'));
  assert.ok(globToRegExp('a?.tif').test('ab.tif'));
});

test('a consecutive folder is ordered by time, not by name', async () => {
  const dir = tmp();
  try {
    // Names sort differently from times: b_ < c_ but the c_ file is earlier.
    touch(dir, ['b_2024-01-01T02.tif', 'c_2024-01-01T00.tif', 'a_2024-01-01T01.tif', 'notes.txt']);
    const cat = await buildCatalog(dir, { glob: '*.tif', timePattern: 'auto' });
    assert.deepEqual(cat.entries.map((e) => e.time), [T0, T0 + H, T0 + 2 * H]);
    assert.deepEqual(cat.entries.map((e) => e.path.slice(dir.length + 1)), ['c_2024-01-01T00.tif', 'a_2024-01-01T01.tif', 'b_2024-01-01T02.tif']);
    assert.equal(cat.gaps.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gaps and duplicates are reported precisely, and are an error for training', async () => {
  const dir = tmp();
  try {
    const hours = [0, 1, 2, 5, 6, 8, 9];
    touch(dir, hours.map((h) => `w_${iso(h)}.tif`));
    touch(dir, [`x_${iso(6).replace(/-/g, '').replace('T', '')}.tif`]); // yyyymmddHH duplicate of hour 6
    const cat = await listCatalog(dir, { glob: '*.tif', timePattern: 'auto' });
    assert.deepEqual(cat.gaps, [
      { from: T0 + 3 * H, to: T0 + 4 * H, hours: 2 },
      { from: T0 + 7 * H, to: T0 + 7 * H, hours: 1 },
    ]);
    assert.equal(cat.duplicates.length, 1);
    assert.equal(cat.duplicates[0]!.time, T0 + 6 * H);
    assert.deepEqual(cat.duplicates[0]!.files.map((f) => f.slice(dir.length + 1)).sort(), ['w_2024-01-01T06.tif', 'x_2024010106.tif']);
    assert.throws(() => requireConsecutive(cat), (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.match(err.message, /3 missing hours in 2 gaps: 2024-01-01T03:00Z\.\.2024-01-01T04:00Z \(2 h\), 2024-01-01T07:00Z/);
      assert.match(err.message, /1 duplicate hour: 2024-01-01T06:00Z in w_2024-01-01T06\.tif and x_2024010106\.tif/);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
    await assert.rejects(buildCatalog(dir, { glob: '*.tif', timePattern: 'auto' }), DataError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('explicit patterns: yyyymmddHH ignores ISO names; a glob input selects files', async () => {
  const dir = tmp();
  try {
    touch(dir, ['era5_2024010100.tif', 'era5_2024010101.tif', 'other_2024010102.tif']);
    const cat = await buildCatalog(join(dir, 'era5_*.tif'), { glob: 'ignored', timePattern: 'yyyymmddHH' });
    assert.equal(cat.entries.length, 2);
    await assert.rejects(listCatalog(dir, { glob: '*.tif', timePattern: 'iso' }), /no ISO hour \(e\.g\. 2024-01-01T06\) in the name/);
    await assert.rejects(listCatalog(join(dir, 'nothing_*.tif'), { glob: '*.tif', timePattern: 'auto' }), /no files match/);
    await assert.rejects(listCatalog(join(dir, 'missing-folder'), { glob: '*.tif', timePattern: 'auto' }), /cannot read folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hours from TIFF metadata: TIFFTAG_DATETIME and GDAL time items', async () => {
  const dir = tmp();
  try {
    const base = latLonFixture(4, 2, () => 1, { step: 90 });
    writeFixture(join(dir, 'b.tif'), { ...base, dateTime: '2024:01:01 00:00:00' });
    writeFixture(join(dir, 'a.tif'), { ...base, items: { time: '2024-01-01T01:00:00Z' } });
    mkdirSync(join(dir, 'sub.tif')); // a folder matching the glob is not a file
    const cat = await buildCatalog(dir, { glob: '*.tif', timePattern: 'metadata' });
    assert.deepEqual(cat.entries.map((e) => [e.path.slice(dir.length + 1), e.time, e.timeSource]), [
      ['b.tif', T0, 'metadata'],
      ['a.tif', T0 + H, 'metadata'],
    ]);
    writeFixture(join(dir, 'c.tif'), base);
    await assert.rejects(listCatalog(dir, { glob: '*.tif', timePattern: 'auto' }), /c\.tif: no timestamp/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
