import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatInspectResult, inspect } from '../src/commands/inspect.js';
import { schemaDefaults } from '../src/core/config.js';
import { testContext } from '../src/commands/context.js';
import { latLonFixture, writeFixture } from './ingest-fixtures.js';

const BIN = fileURLToPath(new URL('../../bin/windcast', import.meta.url));
const T0 = Date.UTC(2024, 0, 1, 0);
const name = (t: number) => `era5_${new Date(T0 + t * 3_600_000).toISOString().slice(0, 13).replace(/[-T]/g, '')}.tif`;

/** 6 hours of a 4 x 3 grid, hour 3 missing, one cell nodata per file; values t + col. */
function dataset(): string {
  const dir = mkdtempSync(join(tmpdir(), 'windcast-inspect-'));
  for (const t of [0, 1, 2, 4, 5]) {
    writeFixture(join(dir, name(t)), latLonFixture(4, 3, (r, c) => (r === 1 && c === 1 ? -999 : t + c), {
      step: 60, top: 90, type: 'int16', nodata: '-999', compress: 'deflate',
    }));
  }
  return dir;
}

test('inspect reports hours, the gap, grid, type, nodata share, values and memory', async () => {
  const dir = dataset();
  try {
    const r = await inspect({ dir }, testContext(schemaDefaults()));
    assert.equal(r.files, 5);
    assert.deepEqual(r.timeRange, { first: '2024-01-01T00:00Z', last: '2024-01-01T05:00Z', spanHours: 6 });
    assert.deepEqual(r.timeSources, { yyyymmddHH: 5 });
    assert.equal(r.consecutive, false);
    assert.deepEqual(r.gaps, [{ from: '2024-01-01T03:00Z', to: '2024-01-01T03:00Z', hours: 1 }]);
    assert.equal(r.grid?.width, 4);
    assert.equal(r.grid?.lat0, 60);
    assert.deepEqual(r.dataTypes, ['int16']);
    assert.deepEqual(r.bands, { count: 1, meaning: 'wind speed' });
    assert.deepEqual(r.nodataValues, [-999]);
    assert.equal(r.values?.cells, 60);
    assert.ok(Math.abs(r.values!.nodataShare - 1 / 12) < 1e-12);
    assert.equal(r.values?.min, 0);
    assert.equal(r.values?.max, 8);
    // Mean over the 11 valid cells per hour of (t + c), t in {0,1,2,4,5}.
    const perHour = (t: number) => [0, 1, 2, 3].reduce((s, c) => s + 3 * (t + c), 0) - (t + 1);
    const mean = [0, 1, 2, 4, 5].reduce((s, t) => s + perHour(t), 0) / 55;
    assert.ok(Math.abs(r.values!.mean! - mean) < 1e-9);
    assert.equal(r.memory?.cubeBytes, 5 * 12 * 4);
    assert.deepEqual(r.refused, []);
    const text = formatInspectResult(r);
    assert.match(text, /1 missing hour in 1 gap: 2024-01-01T03:00Z/);
    assert.match(text, /NOT ready for training/);
    assert.match(text, /4x3 at 60x60 deg/);
    assert.match(text, /memory +cube 240 B \(Float32\), within the memory budget of .* train holds it once/);
    // Over the budget (a tiny one): train and evaluate read GeoTIFFs from a cell file; with the cache off both refuse.
    const tight = schemaDefaults();
    tight.runtime.memoryBudget = '100';
    const over = await inspect({ dir }, testContext(tight));
    assert.deepEqual([over.memory?.budgetBytes, over.memory?.overBudget, over.memory?.overBudgetReads], [100, true, 'disk']);
    assert.match(formatInspectResult(over), /memory +cube 240 B \(Float32\), over the memory budget of \S+ \S+ .*: train and evaluate read it from a cell file on disk .*, evaluate a slab of test hours at a time/);
    tight.ingest.cache = false;
    const uncached = await inspect({ dir }, testContext(tight));
    assert.equal(uncached.memory?.overBudgetReads, 'refused');
    assert.match(formatInspectResult(uncached), /over the memory budget .*: train and evaluate refuse it \(with ingest\.cache off nothing is written beside the data/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('inspect lists refused files instead of stopping', async () => {
  const dir = dataset();
  try {
    writeFileSync(join(dir, name(3)), 'not a tiff');
    writeFixture(join(dir, name(6)), latLonFixture(5, 3, () => 1, { step: 60 }));
    const r = await inspect({ dir }, testContext(schemaDefaults()));
    assert.equal(r.consecutive, true);
    assert.deepEqual(r.refused.map((x) => x.file), [join(dir, name(3)), join(dir, name(6))]);
    assert.match(r.refused[0]!.reason, /^not a TIFF file/);
    assert.match(r.refused[1]!.reason, /grid differs from the first file .*size 4x3 vs 5x3/);
    assert.match(formatInspectResult(r), /REFUSED {4}2 files/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI: a folder NOT ready for training prints its report and exits with the data error (4); a ready one exits 0', () => {
  const dir = dataset();
  try {
    const text = spawnSync(process.execPath, [BIN, '--quiet', 'inspect', dir], { encoding: 'utf8' });
    assert.equal(text.status, 4, text.stderr);
    assert.match(text.stdout, /1 missing hour in 1 gap: 2024-01-01T03:00Z/);
    assert.match(text.stdout, /NOT ready for training: fix the problems above\n$/);
    assert.equal(text.stderr, `windcast: ${dir}: NOT ready for training: 1 missing hour in 1 gap\n`);

    const json = spawnSync(process.execPath, [BIN, '--quiet', 'inspect', dir, '--json'], { encoding: 'utf8' });
    assert.equal(json.status, 4, json.stderr);
    assert.equal(JSON.parse(json.stdout).files, 5, 'the report is printed whole before the error');
    assert.equal(json.stderr.trim().split('\n').length, 1);

    writeFileSync(join(dir, name(3)), 'not a tiff');
    const refused = spawnSync(process.execPath, [BIN, '--quiet', 'inspect', dir], { encoding: 'utf8' });
    assert.equal(refused.status, 4);
    assert.equal(refused.stderr, `windcast: ${dir}: NOT ready for training: 1 refused file\n`);

    writeFixture(join(dir, name(3)), latLonFixture(4, 3, (_r, c) => 3 + c, { step: 60, top: 90, type: 'int16', nodata: '-999', compress: 'deflate' }));
    const ready = spawnSync(process.execPath, [BIN, '--quiet', 'inspect', dir], { encoding: 'utf8' });
    assert.equal(ready.status, 0, ready.stderr);
    assert.match(ready.stdout, /\nready for training\n$/);
    assert.equal(ready.stderr, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI: --json for scripts; errors are one line and a non-zero exit, stack only with --verbose', () => {
  const dir = dataset();
  try {
    writeFixture(join(dir, name(3)), latLonFixture(4, 3, (_r, c) => 3 + c, { step: 60, top: 90, type: 'int16', nodata: '-999', compress: 'deflate' }));
    const ok = spawnSync(process.execPath, [BIN, '--quiet', 'inspect', dir, '--json'], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).files, 6);

    const missing = spawnSync(process.execPath, [BIN, '--quiet', 'inspect', join(dir, 'nope')], { encoding: 'utf8' });
    assert.equal(missing.status, 4);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
    assert.match(missing.stderr, /^windcast: .*nope: cannot read folder/);

    writeFixture(join(dir, 'bad.tif'), latLonFixture(4, 3, () => 1, { step: 60 }));
    const noTime = spawnSync(process.execPath, [BIN, '--quiet', 'inspect', dir], { encoding: 'utf8' });
    assert.equal(noTime.status, 4, noTime.stderr);
    assert.match(noTime.stderr, /bad\.tif: no timestamp/);
    assert.equal(noTime.stderr.trim().split('\n').length, 1);
    const verbose = spawnSync(process.execPath, [BIN, '--quiet', '--verbose', 'inspect', dir], { encoding: 'utf8' });
    assert.match(verbose.stderr, /\n\s+at /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
