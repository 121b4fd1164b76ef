/**
 * output/strip-encoder.ts: strips encoded on writer threads as their rows become final give
 * files byte for byte those of encodeGeoTiff once the bands are complete (north-up and
 * south-up grids, a numeric nodata value, several files sharing bands), each strip is encoded
 * once, and only rows declared final are read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WindcastError } from '../src/core/errors.js';
import { era5Grid, type GridSpec } from '../src/core/grid.js';
import { encodeGeoTiff, type GeoTiffWriteOptions } from '../src/output/geotiff-write.js';
import { StripEncoder, type EncodeTask } from '../src/output/strip-encoder.js';

const root = mkdtempSync(join(tmpdir(), 'windcast-strips-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const sharedBand = (n: number) => new Float32Array(new SharedArrayBuffer(n * 4));

/** The final value of band b at a cell: distinct per band and cell, NaN at a few cells. */
function finalValue(b: number, cell: number): number {
  return cell % 17 === 3 ? NaN : 3 + b + Math.sin(cell / 5) * 2;
}

/** Fill rows [r0, r1) of the bands with their final values. */
function fillRows(bands: Float32Array[], grid: GridSpec, r0: number, r1: number): void {
  bands.forEach((band, b) => {
    for (let i = r0 * grid.width; i < r1 * grid.width; i++) band[i] = finalValue(b, i);
  });
}

/** Wait (at most 10 s) until the encoder has encoded `strips` strips. */
async function untilEncoded(encoder: StripEncoder, strips: number): Promise<void> {
  for (let waited = 0; encoder.stats().encoded < strips; waited += 5) {
    if (waited > 10_000) assert.fail(`only ${encoder.stats().encoded} of ${strips} strips encoded after 10 s`);
    await sleep(5);
  }
}

for (const southUp of [false, true]) {
  test(`strips encoded as rows become final make the files encodeGeoTiff makes, each strip once (${southUp ? 'south-up' : 'north-up'})`, async () => {
    const grid: GridSpec = { ...era5Grid({ step: 30 }), sourceSouthUp: southUp };
    const n = grid.width * grid.height;
    const rowsPerStrip = 2; // 7 rows: strips of 2, 2, 2 and 1 rows
    const strips = Math.ceil(grid.height / rowsPerStrip);
    const bands = [sharedBand(n), sharedBand(n), sharedBand(n)];
    // Rows not yet final hold what a forecast's fields hold before their cells are forecast.
    for (const band of bands) band.fill(NaN);
    const common = { grid, nodata: -9999, compress: 'deflate' as const, rowsPerStrip };
    const encoder = StripEncoder.open({ threads: 2, busyThreads: 1 });
    try {
      encoder.track(bands, common);
      // Rows become final two at a time, the fields filled only then; encoding runs meanwhile.
      for (let r = 0; r < grid.height; r += 2) {
        const end = Math.min(grid.height, r + 2);
        fillRows(bands, grid, r, end);
        encoder.rowsFinal(end);
        // The strips whose rows are all final now (of a south-up grid: the file's last ones).
        const final = end === grid.height ? strips : southUp ? strips - Math.ceil((grid.height - end) / rowsPerStrip) : Math.floor(end / rowsPerStrip);
        await untilEncoded(encoder, final * bands.length);
        assert.equal(encoder.stats().encoded, final * bands.length, `rows 0..${end - 1} final: only their strips are encoded`);
      }
      assert.equal(encoder.stats().early, strips * bands.length, 'every strip encoded before write()');
      // Later rows were still NaN while the first strips were encoded: the files must not show it.
      const options = (bandsOf: Float32Array[], name: string): EncodeTask => ({
        path: join(root, `${southUp ? 's' : 'n'}-${name}.tif`),
        options: { ...common, bands: bandsOf, metadata: { NAME: name }, bandDescriptions: bandsOf.map((_, i) => `band ${i}`) },
      });
      // The same bands in three files, and a band in ordinary memory (copied for the threads).
      const plain = new Float32Array(n);
      for (let i = 0; i < n; i++) plain[i] = finalValue(7, i);
      const tasks = [options([bands[0]!], 'first'), options([bands[2]!, bands[1]!], 'two'), options([...bands, plain], 'all')];
      let files = 0;
      await encoder.write(tasks, () => files++);
      assert.equal(files, tasks.length);
      for (const task of tasks) {
        const expected = encodeGeoTiff({ ...task.options, bands: task.options.bands.map((b) => Float32Array.from(b)) } satisfies GeoTiffWriteOptions);
        assert.ok(readFileSync(task.path).equals(expected), `${task.path}: the bytes of encodeGeoTiff`);
      }
      const stats = encoder.stats();
      assert.equal(stats.encoded, strips * (bands.length + 1), 'each band strip encoded once, whatever the files holding it');
      assert.equal(stats.early, strips * bands.length);
    } finally {
      await encoder.close();
    }
  });
}

test('another strip encoding of a band is encoded on its own; track() takes shared bands only', async () => {
  const grid = era5Grid({ step: 30 });
  const n = grid.width * grid.height;
  const band = sharedBand(n);
  fillRows([band], grid, 0, grid.height);
  const encoder = StripEncoder.open({ threads: 1 });
  try {
    assert.throws(() => encoder.track([new Float32Array(n)], { grid, compress: 'deflate' }), (e: unknown) => e instanceof WindcastError && e.kind === 'internal' && /SharedArrayBuffer/.test(e.message));
    encoder.track([band], { grid, compress: 'deflate', rowsPerStrip: 3 });
    encoder.rowsFinal(grid.height);
    const task = (name: string, options: Partial<GeoTiffWriteOptions>): EncodeTask => ({ path: join(root, `${name}.tif`), options: { grid, bands: [band], compress: 'deflate', ...options } });
    // Same strips (NaN and a null nodata both leave NaN cells as they are), other strips, none.
    const tasks = [task('same', { rowsPerStrip: 3, nodata: NaN }), task('level', { rowsPerStrip: 3, deflateLevel: 1 }), task('raw', { compress: 'none' })];
    await encoder.write(tasks);
    for (const t of tasks) assert.ok(readFileSync(t.path).equals(encodeGeoTiff(t.options)), t.path);
    assert.equal(encoder.stats().encoded, 3 + 3 + 1, 'three strips of 3 rows reused, three at level 1, one raw strip of all 7 rows');
  } finally {
    await encoder.close();
  }
});
