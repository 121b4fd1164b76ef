import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LSTM_OPS_SOURCE, checkLstmOpsBuild, type LstmOpsRecord } from '../src/runtime/lstm-kernels.js';

test('a fused-kernel build is used only when it exists, matches native/lstm_ops.cc and this CPU', () => {
  const dir = mkdtempSync(join(tmpdir(), 'windcast-ops-'));
  try {
    const library = join(dir, 'windcast_lstm_ops.node');
    const recordFile = join(dir, 'windcast_lstm_ops.json');
    assert.match(checkLstmOpsBuild(library, recordFile) ?? '', /^not built/);
    writeFileSync(library, 'not really a library');
    const current = createHash('sha256').update(readFileSync(LSTM_OPS_SOURCE)).digest('hex');
    const record = (r: Partial<LstmOpsRecord>) => writeFileSync(recordFile, JSON.stringify({ sourceSha256: current, cpuFlags: [], ...r }));
    record({});
    assert.equal(checkLstmOpsBuild(library, recordFile), undefined);
    // After a git pull that changed the kernel source, the old build must not run.
    record({ sourceSha256: '0'.repeat(64) });
    assert.match(checkLstmOpsBuild(library, recordFile) ?? '', /built from an older .*lstm_ops\.cc/);
    // Copied to a machine without the instructions it was compiled for: refused, not SIGILL.
    record({ cpuFlags: ['no_such_cpu_flag'] });
    assert.match(checkLstmOpsBuild(library, recordFile) ?? '', /built for a CPU with no_such_cpu_flag, which this one lacks/);
    writeFileSync(recordFile, '{ not json');
    assert.match(checkLstmOpsBuild(library, recordFile) ?? '', /unreadable/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
