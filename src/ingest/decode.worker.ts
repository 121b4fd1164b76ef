/**
 * Decoder thread (decode-pool.ts): decodes one file per task straight into its hour's slice of
 * the shared cube (or, with no outputs, into one reusable frame for statistics) and reports
 * per-file statistics or the reason the file was refused.
 */
import { workerData } from 'node:worker_threads';
import { DataError, describeError } from '../core/errors.js';
import { poolTask } from '../runtime/pool.js';
import { checkAgainstReference, type DecoderSetup, type DecodeTask, type FileDecodeResult } from './decode-pool.js';
import { decodeRasterInto, type BandStats, type RasterHeader } from './raster.js';

const init = workerData as DecoderSetup;
const { cells, outputs } = init;
const speedOut = outputs ? new Float32Array(outputs.speed) : undefined;
const uOut = outputs?.u ? new Float32Array(outputs.u) : undefined;
const vOut = outputs?.v ? new Float32Array(outputs.v) : undefined;
let scratch: Float32Array[] | undefined;

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
    const { header, stats } = await decodeRasterInto(task.path, (h: RasterHeader) => {
      const problem = checkAgainstReference(h, init.reference);
      if (problem) throw new Mismatch(problem);
      if (h.bandCount === 1) frames = [slice(speedOut) ?? scratchFrames(1)[0]!];
      else frames = uOut && vOut ? [slice(uOut)!, slice(vOut)!] : scratchFrames(3).slice(0, 2);
      return { bands: frames };
    }, { stats: !outputs });
    let speed = stats[0];
    if (header.bandCount === 2 && !outputs) {
      speed = speedFromUV(frames[0]!, frames[1]!, scratchFrames(3)[2]!);
    } else if (header.bandCount === 2) {
      speedFromUV(frames[0]!, frames[1]!, slice(speedOut)!);
    }
    const { dataType, bandCount, nodata, compression, layout, scale, offset, warnings } = header;
    return { index: t, path: task.path, header: { dataType, bandCount, nodata, compression, layout, scale, offset, warnings }, speed };
  } catch (err) {
    if (err instanceof Mismatch) return { index: t, path: task.path, error: { message: err.message, kind: 'data' } };
    if (err instanceof DataError) return { index: t, path: task.path, error: { message: err.message, kind: 'data' } };
    return { index: t, path: task.path, error: { message: `${task.path}: unexpected failure while decoding: ${describeError(err)}`, kind: 'internal' } };
  }
}

export default poolTask(decode);
