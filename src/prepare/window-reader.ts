/**
 * Windows of a cube that stays on disk (ingest/cell-file.ts's cell file): before a window is
 * gathered, its centre cell's hours t0-lookback+1..t0+horizon (every band the features read) and
 * each stencil point's input hours are read with one positioned read each (two where the hours
 * cross from one chunk of the file into the next) into small scratch
 * arrays, and the FeatureContext reads those with the same arithmetic as a resident cube
 * (value(point, t) = speed[points[p] + t], centre at centreBase + t). The values are the same
 * bits, so windows, losses and forecasts are those of the in-memory path for the same seed.
 *
 * One reader per thread (each opens its own descriptor): the batch thread builds its own from
 * the file's description (batches.ts). The last window read is remembered, so gathering a
 * window's inputs, then its targets and weight, reads it once.
 */
import { closeSync, openSync } from 'node:fs';
import { readFully } from '../ingest/cube-cache.js';
import type { CellBand, CellFile } from '../ingest/cell-cube.js';
import { cellPosition, chunkEnd, readCellValues } from '../ingest/cell-file.js';

export class WindowReader {
  /** Scratch: slot 0 the centre cell (span hours), slots 1..points the stencil points. */
  readonly speed: Float32Array;
  readonly u?: Float32Array;
  readonly v?: Float32Array;
  readonly uOther?: Float32Array;
  readonly vOther?: Float32Array;
  /** Hours a slot holds: lookback + horizon. */
  readonly span: number;
  private readonly fd: number;
  /** Byte views of the scratch arrays, made once: a view per read was a third of a read's cost. */
  private readonly bytes = new Map<Float32Array, Uint8Array>();
  private readonly bandIndex: Map<CellBand, number>;
  /** int16 codes read before they are expanded (an int16 cell file). */
  private readonly codes: { codes?: Int16Array } = {};
  private t0 = -1;
  private cell = -1;
  private stencil = false;
  private first = 0;
  /** Reads done (for benches). */
  reads = 0;

  constructor(
    readonly file: CellFile,
    readonly lookback: number,
    readonly horizon: number,
    readonly points: number,
    bands: { uv: boolean; other: boolean },
  ) {
    this.span = lookback + horizon;
    this.speed = new Float32Array((1 + points) * this.span);
    if (bands.uv) {
      this.u = new Float32Array(this.span);
      this.v = new Float32Array(this.span);
    }
    if (bands.other) {
      this.uOther = new Float32Array(this.span);
      this.vOther = new Float32Array(this.span);
    }
    this.bandIndex = new Map(file.bands.map((b, i) => [b, i]));
    for (const [need, b] of [[bands.uv, 'u'], [bands.uv, 'v'], [bands.other, 'uOther'], [bands.other, 'vOther']] as const) {
      if (need && !this.bandIndex.has(b)) throw new Error(`${file.path} has no ${b} band`);
    }
    this.fd = openSync(file.path, 'r');
    for (const a of [this.speed, this.u, this.v, this.uOther, this.vOther]) if (a) this.bytes.set(a, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }

  /** Hours [first, first + n) of `cell` in `band` into out at `at`; hours outside the cube are NaN. */
  private read(band: CellBand, cell: number, first: number, n: number, out: Float32Array, at: number): void {
    const { hours } = this.file;
    const lo = Math.max(0, first);
    const hi = Math.min(hours, first + n);
    if (lo > first) out.fill(NaN, at, at + (lo - first));
    if (hi < first + n) out.fill(NaN, at + Math.max(0, hi - first), at + n);
    // float32: straight into the scratch's bytes; int16: expanded (readCellValues).
    const target = this.file.encoding === 'float32' ? this.bytes.get(out)! : undefined;
    const b = this.bandIndex.get(band)!;
    // One read per chunk of hours the run spans (one or two; always one in a one-chunk file).
    for (let h = lo; h < hi; ) {
      const end = Math.min(hi, chunkEnd(this.file, h));
      const start = (at + h - first) * 4;
      if (target) readFully(this.fd, target.subarray(start, start + (end - h) * 4), cellPosition(this.file, b, cell, h), this.file.path);
      else readCellValues(this.fd, this.file, cellPosition(this.file, b, cell, h), end - h, out, at + h - first, this.codes);
      this.reads++;
      h = end;
    }
  }

  /**
   * Make the scratch hold window (t0, cell): the centre always, the stencil points (cells as
   * stencilCell gives them, in point order) when `stencilCells` is given, whose slot offsets go
   * into `offsets`. Returns the centre's base: value(centre, t) = speed[base + t].
   */
  load(t0: number, cell: number, stencilCells?: ArrayLike<number>, offsets?: Float64Array): number {
    const { span, lookback } = this;
    const first = t0 - lookback + 1;
    if (t0 !== this.t0 || cell !== this.cell) {
      this.read('speed', cell, first, span, this.speed, 0);
      if (this.u) this.read('u', cell, first, span, this.u, 0);
      if (this.v) this.read('v', cell, first, span, this.v, 0);
      if (this.uOther) this.read('uOther', cell, first, span, this.uOther, 0);
      if (this.vOther) this.read('vOther', cell, first, span, this.vOther, 0);
      this.t0 = t0;
      this.cell = cell;
      this.first = first;
      this.stencil = false;
    }
    if (stencilCells && offsets) {
      if (!this.stencil) {
        for (let p = 0; p < stencilCells.length; p++) this.read('speed', stencilCells[p]!, first, lookback, this.speed, (1 + p) * span);
        this.stencil = true;
      }
      for (let p = 0; p < stencilCells.length; p++) offsets[p] = (1 + p) * span - first;
    }
    return -this.first;
  }

  close(): void {
    closeSync(this.fd);
  }
}
