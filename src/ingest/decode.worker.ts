/**
 * Decoder thread (decode-pool.ts): decodes one file per task straight into its hour's slice of
 * the shared cube, each band into the cube band the plan names (band-plan.ts), or, with no
 * outputs, into reusable frames for statistics, and reports per-file statistics or the reason
 * the file was refused.
 */
import { workerData } from 'node:worker_threads';
import { DataError, describeError } from '../core/errors.js';
import { poolTask } from '../runtime/pool.js';
import { checkAgainstReference, type DecoderSetup, type DecodeTask, type FileDecodeResult } from './decode-pool.js';
import { bandStats } from './band-stats.js';
import { decodeRasterInto, type BandStats, type RasterHeader } from './raster.js';

const init = workerData as DecoderSetup;
const { cells, outputs, slots } = init;
const speedOut = outputs ? new Float32Array(outputs.speed) : undefined;
/** Per file band, the cube band's shared array it is decoded into (undefined: scratch). */
const bandOut = slots.map((slot) => (outputs && slot && outputs[slot] ? new Float32Array(outputs[slot]) : undefined));
const uBand = slots.indexOf('u');
const vBand = slots.indexOf('v');
const speedBand = slots.indexOf('speed');
let scratch: Float32Array[] | undefined;

/** Reusable frames: one per file band, and one more for a speed computed from u/v. */
function scratchFrames(n: number): Float32Array[] {
  if (!scratch || scratch.length < n) scratch = Array.from({ length: n }, () => new Float32Array(cells));
  return scratch;
}

/** Thrown from the decode target callback to stop before any pixel is decoded. */
class Mismatch extends Error {}

function speedFromUV(u: Float32Array, v: Float32Array, out: Float32Array): BandStats {
  let nan = 0; let min = Infinity; let max = -Infinity; let sum = 0;
  for (let i = 0; i < u.length; i++) {
    const s = Math.fround(Math.hypot(u[i]!, v[i]!));
    out[i] = s;
    if (s !== s) nan++;
    else {
      if (s < min) min = s;
      if (s > max) max = s;
      sum += s;
    }
  }
  return { cells: u.length, nan, min, max, sum };
}

async function decode(task: DecodeTask): Promise<FileDecodeResult> {
  const t = task.index;
  const slice = (buf: Float32Array | undefined) => buf?.subarray(t * cells, (t + 1) * cells);
  try {
    let frames: Float32Array[] = [];
    const { header } = await decodeRasterInto(task.path, (h: RasterHeader) => {
      const problem = checkAgainstReference(h, init.reference);
      if (problem) throw new Mismatch(problem);
      const spare = scratchFrames(h.bandCount + 1);
      frames = h.winds.map((_, b) => slice(bandOut[b]) ?? spare[b]!);
      return { bands: frames };
    }, { stats: false });
    // The speed: its own band, or hypot of the target height's u and v into the cube (or scratch).
    let speed: BandStats | undefined;
    if (speedBand >= 0) speed = outputs ? undefined : bandStats(frames[speedBand]!);
    else speed = speedFromUV(frames[uBand]!, frames[vBand]!, slice(speedOut) ?? scratchFrames(header.bandCount + 1)[header.bandCount]!);
    const { dataType, bandCount, nodata, compression, layout, scale, offset, warnings } = header;
    return { index: t, path: task.path, header: { dataType, bandCount, nodata, compression, layout, scale, offset, warnings }, ...(outputs ? {} : { speed }) };
  } catch (err) {
    if (err instanceof Mismatch) return { index: t, path: task.path, error: { message: err.message, kind: 'data' } };
    if (err instanceof DataError) return { index: t, path: task.path, error: { message: err.message, kind: 'data' } };
    return { index: t, path: task.path, error: { message: `${task.path}: unexpected failure while decoding: ${describeError(err)}`, kind: 'internal' } };
  }
}

export default poolTask(decode);
