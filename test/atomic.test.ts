import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { isTemporaryName, removeStaleTemporaries, requireFreeSpace, temporarySibling, writeFileAtomic, writeFileAtomicSync } from '../src/core/atomic.js';
import { DataError } from '../src/core/errors.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'windcast-atomic-'));
}

/** The id of a process that has exited (so no process runs under it, barring pid reuse). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

test('atomic writes replace the target whole and leave no temporary behind', async () => {
  const dir = tempDir();
  try {
    const path = join(dir, 'report.json');
    writeFileSync(path, 'old');
    writeFileAtomicSync(path, 'new text');
    assert.equal(readFileSync(path, 'utf8'), 'new text');
    writeFileAtomicSync(path, (write) => {
      write(Buffer.from('streamed '));
      write(new Uint8Array([0x6f, 0x6b]));
    });
    assert.equal(readFileSync(path, 'utf8'), 'streamed ok');
    await writeFileAtomic(path, [Buffer.from('a'), Buffer.alloc(0), Buffer.from('bc')]);
    assert.equal(readFileSync(path, 'utf8'), 'abc');
    assert.deepEqual(readdirSync(dir), ['report.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed write names the file, keeps the old content and removes its temporary', async () => {
  const dir = tempDir();
  try {
    const path = join(dir, 'cube.bin');
    writeFileSync(path, 'previous');
    assert.throws(
      () =>
        writeFileAtomicSync(path, (write) => {
          write(Buffer.from('half'));
          throw new Error('disk full');
        }),
      (err: unknown) => err instanceof DataError && err.message.startsWith(`${path}: cannot write`) && err.message.includes('disk full'),
    );
    assert.equal(readFileSync(path, 'utf8'), 'previous');
    assert.deepEqual(readdirSync(dir), ['cube.bin']);
    await assert.rejects(writeFileAtomic(join(dir, 'missing', 'x.tif'), [Buffer.from('x')]), (err: unknown) => err instanceof DataError && err.message.includes('missing/x.tif: cannot write: ENOENT'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("stale temporaries of dead processes are removed, a live process's are kept", () => {
  const dir = tempDir();
  try {
    const mine = temporarySibling(join(dir, 'last'));
    mkdirSync(mine);
    const dead = join(dir, `.best.${deadPid()}.0123abcd.tmp`);
    mkdirSync(dead);
    writeFileSync(join(dead, 'weights.bin'), 'partial');
    const deadFile = join(dir, `.windspeed_2024-01-01T00Z.tif.${deadPid()}.89abcdef.tmp`);
    writeFileSync(deadFile, 'partial');
    writeFileSync(join(dir, 'windspeed_2024-01-01T00Z.tif'), 'finished');
    writeFileSync(join(dir, '.keep.tmp'), 'not ours');
    assert.ok(isTemporaryName(basename(mine)) && isTemporaryName(basename(dead)));
    assert.equal(isTemporaryName('.keep.tmp'), false);
    const removed = removeStaleTemporaries(dir).sort();
    assert.deepEqual(removed, [basename(dead), basename(deadFile)].sort());
    assert.ok(existsSync(mine), 'the live process keeps its temporary folder');
    assert.deepEqual(readdirSync(dir).sort(), ['.keep.tmp', basename(mine), 'windspeed_2024-01-01T00Z.tif'].sort());
    assert.deepEqual(removeStaleTemporaries(join(dir, 'no-such-folder')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('requireFreeSpace refuses a write the disk cannot hold, naming the folder and both sizes, before anything is written', () => {
  const dir = tempDir();
  // The machine's own disk: a byte fits, an exabyte does not.
  requireFreeSpace(dir, 1, 'a test file', 'free space');
  assert.throws(() => requireFreeSpace(dir, 1e18, 'the streamed cell-major cube (float32)', 'free space there'), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.match(err.message, new RegExp(`^${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the streamed cell-major cube \\(float32\\) needs 1000000000\\.0 GB and the disk has [\\d.]+ GB free; free space there$`));
    return true;
  });
  assert.deepEqual(readdirSync(dir), []);
  // The margin: 1 % or 256 MiB beyond the bytes themselves.
  const free = () => 10e9;
  requireFreeSpace(dir, 9.7e9, 'x', 'y', free);
  assert.throws(() => requireFreeSpace(dir, 9.99e9, 'x', 'y', free), /needs 10\.0 GB and the disk has 10\.0 GB free/);
  assert.throws(() => requireFreeSpace(dir, 9.8e9 + 1, 'x', 'y', () => 9.8e9 + 200 * 2 ** 20), DataError);
});
