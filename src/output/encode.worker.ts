/**
 * GeoTIFF writer thread (output/strip-encoder.ts, through runtime/pool.ts): encodes strips of
 * bands that live in shared memory (geotiff-write.ts encodeStrip: the floating-point predictor
 * and DEFLATE, a few milliseconds of one core per strip of a global grid) and answers with
 * their bytes, one after the other, in a SharedArrayBuffer (so the answer is not copied again)
 * and their lengths. The main thread writes the files.
 */
import { poolTask } from '../runtime/pool.js';
import { encodeStrip, type StripEncoding } from './geotiff-write.js';

export interface StripJob {
  /** Bands in shared memory, read in place. */
  bands: Float32Array[];
  items: Array<{ band: number; encoding: StripEncoding; strip: number }>;
}

export interface StripResult {
  /** The items' encoded strips, one after the other. */
  bytes: Uint8Array;
  lengths: number[];
  /** Wall seconds this thread spent on the job. */
  seconds: number;
}

export default poolTask((job: StripJob): StripResult => {
  const started = performance.now();
  const strips = job.items.map((item) => encodeStrip(job.bands[item.band]!, item.encoding, item.strip));
  const bytes = new Uint8Array(new SharedArrayBuffer(strips.reduce((sum, s) => sum + s.length, 0)));
  let at = 0;
  for (const s of strips) {
    bytes.set(s, at);
    at += s.length;
  }
  return { bytes, lengths: strips.map((s) => s.length), seconds: (performance.now() - started) / 1000 };
});
