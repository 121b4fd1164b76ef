/**
 * Opening a TIFF: its bytes, with a specific DataError for a missing, empty, non-TIFF or
 * structurally corrupt file, and its first image (IFD) through geotiff.js. Only the first
 * image is read: later ones are overviews or masks. Also the one place that registers our
 * DEFLATE decoder with geotiff.js and reads a tag's value.
 */
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { fromArrayBuffer, addDecoder, BaseDecoder, type GeoTIFFImage } from 'geotiff';
import { DataError, describeError } from '../core/errors.js';

/**
 * DEFLATE through node:zlib instead of geotiff.js's bundled pako: same bytes, about 3x faster,
 * which is most of the decode time for compressed ERA5-sized frames.
 */
class ZlibDeflateDecoder extends BaseDecoder {
  override decodeBlock(buffer: ArrayBuffer): ArrayBuffer {
    const out = inflateSync(new Uint8Array(buffer));
    if (out.byteOffset === 0 && out.byteLength === out.buffer.byteLength) return out.buffer as ArrayBuffer;
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
  }
}
let decodersRegistered = false;
function registerDecoders(): void {
  if (decodersRegistered) return;
  // preferWorker=false: windcast runs its own worker pool; geotiff.js must decode in-thread.
  addDecoder([8, 32946], () => Promise.resolve(ZlibDeflateDecoder as never), undefined, false);
  decodersRegistered = true;
}

/** Read a whole file into an ArrayBuffer with a specific error for missing/empty files. */
export function readFileBytes(path: string): ArrayBuffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new DataError(path, `cannot open: ${describeError(err)}`, { cause: err });
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) throw new DataError(path, 'empty file (0 bytes), not a GeoTIFF');
    const buffer = new ArrayBuffer(size);
    const view = new Uint8Array(buffer);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, view, done, Math.min(size - done, 1 << 30), done);
      if (n === 0) break;
      done += n;
    }
    return buffer;
  } finally {
    closeSync(fd);
  }
}

function checkMagic(path: string, bytes: ArrayBuffer): void {
  const b = new Uint8Array(bytes, 0, Math.min(4, bytes.byteLength));
  const ok = b.length === 4 && ((b[0] === 0x49 && b[1] === 0x49 && (b[2] === 42 || b[2] === 43) && b[3] === 0)
    || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 42 || b[3] === 43)));
  if (!ok) {
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
    throw new DataError(path, `not a TIFF file (starts with bytes ${hex || 'nothing'}; expected "II*" or "MM*")`);
  }
}

export async function firstImage(path: string, bytes: ArrayBuffer): Promise<GeoTIFFImage> {
  checkMagic(path, bytes);
  registerDecoders();
  try {
    const tiff = await fromArrayBuffer(bytes);
    return await tiff.getImage(0);
  } catch (err) {
    throw new DataError(path, `truncated or corrupt TIFF structure (${describeError(err)})`, { cause: err });
  }
}

/** A tag of the image, loaded if stored out of line; undefined when the tag is absent. */
export async function readTag(image: GeoTIFFImage, name: string): Promise<any> {
  const fd = image.getFileDirectory();
  const key = name as Parameters<typeof fd.hasTag>[0];
  if (!fd.hasTag(key)) return undefined;
  return fd.loadValue(key);
}
