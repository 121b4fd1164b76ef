/**
 * GeoTIFF writer thread (writeGeoTiffs in forecast-files.ts, through runtime/pool.ts): DEFLATE
 * of a global Float32 lead takes a few hundred milliseconds on one core, 24 leads several
 * seconds, so leads are encoded and written on a pool of these threads (one per core) instead
 * of one after the other on the main thread. Each task writes one file with writeGeoTiff
 * (temporary name, fsync, rename); a file that cannot be written is a DataError naming it.
 */
import { poolTask } from '../runtime/pool.js';
import { writeGeoTiff, type GeoTiffWriteOptions } from './geotiff-write.js';

export interface EncodeTask {
  path: string;
  options: GeoTiffWriteOptions;
}

export default poolTask((task: EncodeTask) => writeGeoTiff(task.path, task.options));
