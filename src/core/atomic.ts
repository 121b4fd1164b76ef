/**
 * The one atomic write: a temporary sibling (same folder, so the rename stays on one file
 * system), fsync, rename over the target, fsync of the folder. Killed at any moment, the target
 * is either the old file or the new one, never half of either. Checkpoints, the cube cache,
 * forecast GeoTIFFs, reports and synth files all write through here.
 *
 * Temporary names carry the writer's process id (`.NAME.PID.HEX.tmp`), so that a later run can
 * tell the leftovers of a killed process from the work of a live one and remove only the former
 * (removeStaleTemporaries).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DataError } from './errors.js';

const TEMPORARY = /^\.(.+)\.(?<pid>\d+)\.[0-9a-f]{8}\.tmp$/;

/** A fresh temporary sibling of `target` for this process: `.NAME.PID.HEX.tmp` in target's folder. */
export function temporarySibling(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Space left on a folder's file system for an unprivileged writer, bytes (statfs: available blocks). */
export type FreeSpace = (dir: string) => number;
const statfsFree: FreeSpace = (dir) => {
  const st = statfsSync(dir);
  return Number(st.bavail) * Number(st.bsize);
};

/**
 * Refuse before writing `bytes` into `dir` when its file system has less free (plus a margin
 * of 1 % or 256 MiB, whichever is more, for everything else on the disk): a cube of tens of GB
 * that fills the disk would fail after minutes of work, with ENOSPC for every other program too.
 */
export function requireFreeSpace(dir: string, bytes: number, what: string, hint: string, free: FreeSpace = statfsFree): void {
  const available = free(dir);
  const need = bytes + Math.max(256 * 2 ** 20, 0.01 * bytes);
  const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;
  if (available < need) throw new DataError(dir, `${what} needs ${gb(bytes)} and the disk has ${gb(available)} free; ${hint}`);
}

/** Appends bytes to the file being written (all of them: short writes are retried). */
export type ByteSink = (bytes: Uint8Array) => void;

/**
 * Write `content` to `path` atomically. `content` is a string (UTF-8), bytes, or a function that
 * streams the bytes through the sink it is given (for data too large to hold twice). On failure
 * the temporary file is removed, the target is untouched, and the error is a DataError naming
 * `path`.
 */
export function writeFileAtomicSync(path: string, content: string | Uint8Array | ((write: ByteSink) => void)): void {
  const file = new TemporaryFile(path);
  try {
    const sink = file.open();
    if (typeof content === 'function') content(sink);
    else sink(typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
    file.commit();
  } catch (err) {
    file.abandon(err);
  }
  fsyncDir(dirname(path));
}

/**
 * writeFileAtomicSync for a producer that awaits between writes (the streamed cell-major cube:
 * it decodes a slab of hours on the decoder threads, then writes it). Same guarantees: a failure
 * or a thrown error removes the temporary file; a kill leaves it to removeStaleTemporaries.
 */
export async function writeFileAtomicStreamed(path: string, produce: (write: ByteSink) => Promise<void>): Promise<void> {
  const file = new TemporaryFile(path);
  try {
    await produce(file.open());
    file.commit();
  } catch (err) {
    file.abandon(err);
  }
  fsyncDir(dirname(path));
}

/**
 * The temporary file of one synchronous-descriptor atomic write (writeFileAtomicSync and its
 * streamed form): opened exclusively beside `path`, then committed (fsync, close, rename over
 * `path`) or abandoned (closed if open, removed, the error rethrown as writeError's DataError).
 */
class TemporaryFile {
  private readonly tmp: string;
  private fd: number | undefined;
  constructor(private readonly path: string) {
    this.tmp = temporarySibling(path);
  }

  open(): ByteSink {
    this.fd = openSync(this.tmp, 'wx');
    return fileSink(this.fd);
  }

  commit(): void {
    const fd = this.fd!;
    fsyncSync(fd);
    closeSync(fd);
    this.fd = undefined;
    renameSync(this.tmp, this.path);
  }

  abandon(err: unknown): never {
    if (this.fd !== undefined) closeSync(this.fd);
    rmSync(this.tmp, { force: true });
    throw writeError(this.path, err);
  }
}

/** writeFileAtomicSync for bytes already in memory, written without blocking the event loop. */
export async function writeFileAtomic(path: string, parts: readonly Uint8Array[]): Promise<void> {
  const tmp = temporarySibling(path);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(tmp, 'wx');
    let pending = parts.slice();
    while (pending.length > 0) {
      const { bytesWritten } = await handle.writev(pending as Uint8Array[]);
      pending = skipBytes(pending, bytesWritten);
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (err) {
    if (handle) await handle.close().catch(() => {});
    await rm(tmp, { force: true });
    throw writeError(path, err);
  }
  // As fsyncDir, on libuv's threads: an encoder thread writing file after file need not block.
  try {
    const dir = await open(dirname(path), 'r');
    await dir.sync().catch(() => {});
    await dir.close();
  } catch {
    // The entry is in place; only its durability across a power cut is unknown.
  }
}

/** Write a file and fsync it, in place: for files inside a temporary folder renamed as a whole. */
export function writeFileSynced(path: string, data: Uint8Array | string): void {
  const fd = openSync(path, 'w');
  try {
    fileSink(fd)(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Make a rename or a new entry in `dir` durable. Some file systems refuse fsync on a folder: harmless. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // See above: the entry is in place, only its durability across a power cut is unknown.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Whether a process with this id is running (a process of another user counts as running). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove the temporary files and folders in `dir` left by processes that no longer run (a kill
 * -9 mid-write); those of live processes are left alone. `alsoNamed`: older naming schemes of
 * temporaries, each with the writer's pid in a group named `pid`. Returns the names removed.
 */
export function removeStaleTemporaries(dir: string, alsoNamed: readonly RegExp[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = [TEMPORARY, ...alsoNamed].map((re) => re.exec(name)?.groups?.['pid']).find((p) => p !== undefined);
    if (pid === undefined || processAlive(Number(pid))) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** Whether `name` is a temporary of this module (so listings of finished files can skip it). */
export function isTemporaryName(name: string): boolean {
  return TEMPORARY.test(name);
}

/** At most this much per write call: a global cube band is over 2 GB, beyond one write(2). */
const MAX_WRITE = 1 << 30;

function fileSink(fd: number): ByteSink {
  return (bytes) => {
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off, Math.min(MAX_WRITE, bytes.byteLength - off));
  };
}

function skipBytes(parts: readonly Uint8Array[], n: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  for (const p of parts) {
    if (n >= p.byteLength) {
      n -= p.byteLength;
      continue;
    }
    rest.push(n > 0 ? p.subarray(n) : p);
    n = 0;
  }
  return rest;
}

function writeError(path: string, err: unknown): DataError {
  if (err instanceof DataError) return err;
  const e = err as NodeJS.ErrnoException;
  return new DataError(path, `cannot write: ${e.code ? `${e.code} ` : ''}${e.message}`, { cause: err });
}

/**
 * Write a folder of files as a whole: into a temporary sibling, each file fsynced, then renamed
 * into place. An older folder of that name is moved aside first and removed once the new one is
 * in place, so a kill leaves the old folder, the new one, or the old one under a temporary name
 * (removed by the next removeStaleTemporaries), never a mix of both. The parent folder is
 * created when missing.
 */
export function writeFolderAtomicSync(target: string, files: Readonly<Record<string, string | Uint8Array>>): void {
  const tmp = temporarySibling(target);
  let old: string | undefined;
  try {
    mkdirSync(dirname(target), { recursive: true });
    // What killed writers (of this folder or its siblings) left behind; a live one's work stays.
    removeStaleTemporaries(dirname(target));
    mkdirSync(tmp);
    for (const [name, data] of Object.entries(files)) writeFileSynced(join(tmp, name), data);
    fsyncDir(tmp);
    if (existsSync(target)) {
      old = temporarySibling(target);
      renameSync(target, old);
    }
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (old !== undefined && !existsSync(target)) renameSync(old, target);
    throw writeError(target, err);
  }
  if (old !== undefined) rmSync(old, { recursive: true, force: true });
  fsyncDir(dirname(target));
}
