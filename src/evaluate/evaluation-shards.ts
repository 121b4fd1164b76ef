/**
 * Sharded evaluation: what `evaluate --shard I/N` writes for its part of the test windows, and
 * how `windcast merge` turns the shards into the report an unsharded evaluate writes.
 *
 * Shard I of N scores the contiguous test windows shardRange(windows, I/N) (every shard fits
 * the same baselines on the same training period: deterministic, seeded fits) and writes
 * OUT/shard-I-of-N/ with
 *  - shard.json: the head of the report (evaluate.ts EvaluationHead: checkpoint, data, periods,
 *    cells, methods, the baselines' fits, what the accumulators hold), an identity every shard
 *    of one run shares (checkpoint, data, settings, backend, and a hash of the head), and where
 *    each accumulator's records are in window-records.bin;
 *  - window-records.bin: little-endian Float64, for the point scores, then the quantile scores,
 *    then the power scores, each window's sums as its accumulator folds them into its totals
 *    (window-records.ts), in time order, plus the counters in shard.json.
 * These are the sufficient statistics of every number in the report, the per-window series
 * the block bootstrap resamples included. Merge replays the shards' windows in index (= time)
 * order into empty accumulators: the same additions in the same order as one process, so every
 * score, skill and bootstrap interval (same seed) is the unsharded one bit for bit. Not merged
 * exactly: createdAt (the merge's time) and the run section's timings, which are sums over the
 * shards (each shard fits the baselines again: their fit time is counted once per shard).
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFolderAtomicSync } from '../core/atomic.js';
import { DataError } from '../core/errors.js';
import { MANIFEST_FILE, manifestJson, shardFolderName, type Shard, type ShardManifest, type ShardSet } from '../core/shard.js';
import { emptyScoring, finishEvaluation, writeEvaluation, type EvaluationFiles, type EvaluationHead, type EvaluationScoring } from './evaluate.js';
import type { EvaluationReport } from './report.js';
import type { AccumulatorRecords } from './window-records.js';

export const RECORDS_FILE = 'window-records.bin';

const PARTS = ['score', 'quantiles', 'power'] as const;
type Part = (typeof PARTS)[number];

interface RecordsEntry {
  windows: number;
  /** Float64 offset and length in window-records.bin. */
  offset: number;
  length: number;
  counts: number[];
}

export interface EvaluationShardManifest extends ShardManifest {
  command: 'evaluate';
  head: EvaluationHead;
  records: Partial<Record<Part, RecordsEntry>>;
}

/** What every shard of one evaluation must share; `settings`: the evaluate section of the config and the runtime's (runtimeIdentity). */
export function evaluationIdentity(head: EvaluationHead, settings: unknown): Record<string, unknown> {
  const r = head.report;
  // The head without what differs between shards (their windows, timings) or machines (mount points).
  const { windows: _w, run: _r, ...shared } = head;
  const canonical = { ...shared, report: { ...r, checkpoint: { ...r.checkpoint, dir: '' }, data: { ...r.data, dir: '' } } };
  return {
    checkpoint: r.checkpoint.id,
    checkpointMetaSha256: r.checkpoint.metaSha256,
    dataFingerprint: r.data.fingerprint,
    testWindows: r.testPeriod.windows,
    cells: head.cells,
    settings,
    // The backend and its versions and settings, not its thread count (which may differ between nodes).
    backend: head.run.backend.replace(/, \d+ threads?/, ''),
    headSha256: createHash('sha256').update(manifestJson(canonical)).digest('hex'),
  };
}

/** Write a shard's head and window records into OUT/shard-I-of-N/; returns the folder. */
export function writeEvaluationShard(o: { out: string; shard: Shard; scoring: EvaluationScoring; settings: unknown }): string {
  const { head } = o.scoring;
  const parts: Partial<Record<Part, AccumulatorRecords>> = {
    score: o.scoring.score.windowRecords(),
    quantiles: o.scoring.quantiles.windowRecords(),
    ...(o.scoring.power ? { power: o.scoring.power.windowRecords() } : {}),
  };
  const records: Partial<Record<Part, RecordsEntry>> = {};
  let offset = 0;
  for (const p of PARTS) {
    const r = parts[p];
    if (!r) continue;
    records[p] = { windows: r.windows, offset, length: r.records.length, counts: r.counts };
    offset += r.records.length;
  }
  const values = new Float64Array(offset);
  for (const p of PARTS) if (parts[p]) values.set(parts[p]!.records, records[p]!.offset);
  const manifest: EvaluationShardManifest = {
    format: 'windcast-shard',
    formatVersion: 1,
    command: 'evaluate',
    shard: o.shard,
    part: head.windows,
    total: head.report.testPeriod.windows,
    identity: evaluationIdentity(head, o.settings),
    createdAt: new Date().toISOString(),
    head,
    records,
  };
  const dir = join(o.out, shardFolderName(o.shard));
  writeFolderAtomicSync(dir, { [RECORDS_FILE]: new Uint8Array(values.buffer), [MANIFEST_FILE]: manifestJson(manifest) });
  return dir;
}

/** Replay a complete, checked set of evaluate shards (core/shard.ts readShardSet) into the report, and write it into `out`. */
export async function mergeEvaluationShards(set: ShardSet, out: string): Promise<{ report: EvaluationReport; files: EvaluationFiles }> {
  const manifests = set.shards.map((s) => s.manifest as EvaluationShardManifest);
  const first = manifests[0]!;
  const scoring = emptyScoring(first.head);
  set.shards.forEach(({ dir }, i) => {
    const m = manifests[i]!;
    const path = join(dir, RECORDS_FILE);
    const length = PARTS.reduce((n, p) => n + (m.records[p]?.length ?? 0), 0);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      throw new DataError(path, `missing: ${MANIFEST_FILE} lists it`);
    }
    if (size !== length * 8) throw new DataError(path, `holds ${size} bytes, expected ${length * 8} (${length} Float64 window sums)`);
    const bytes = readFileSync(path);
    const values = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const windows = m.part[1] - m.part[0];
    const take = (p: Part): AccumulatorRecords => {
      const e = m.records[p];
      if (!e || e.windows !== windows) throw new DataError(dir, `its ${p} records hold ${e?.windows ?? 0} windows, expected ${windows}`);
      return { windows: e.windows, records: values.subarray(e.offset, e.offset + e.length), counts: e.counts };
    };
    try {
      scoring.score.absorb(take('score'));
      scoring.quantiles.absorb(take('quantiles'));
      if (scoring.power) scoring.power.absorb(take('power'));
    } catch (err) {
      if (err instanceof DataError) throw err;
      throw new DataError(dir, `window records that do not fit the shards' head (${(err as Error).message})`, { cause: err });
    }
  });
  const report = finishEvaluation(scoring);
  // Timings: sums over the shards (the head's are shard 0's); the rest is the unsharded report.
  const sum = (f: (m: EvaluationShardManifest) => number) => manifests.reduce((s, m) => s + f(m), 0);
  const fitSeconds: Record<string, number> = {};
  for (const key of Object.keys(first.head.run.fitSeconds)) fitSeconds[key] = sum((m) => m.head.run.fitSeconds[key] ?? 0);
  report.run = {
    ...report.run,
    seconds: sum((m) => m.head.run.seconds) + report.run.bootstrapSeconds,
    forecastSeconds: sum((m) => m.head.run.forecastSeconds),
    baselineSeconds: sum((m) => m.head.run.baselineSeconds),
    fitSeconds,
    ...(first.head.run.loadSeconds !== undefined ? { loadSeconds: sum((m) => m.head.run.loadSeconds ?? 0) } : {}),
    ...(first.head.run.totalSeconds !== undefined ? { totalSeconds: sum((m) => m.head.run.totalSeconds ?? 0) } : {}),
    shards: set.count,
  };
  const files = await writeEvaluation(out, report);
  return { report, files };
}
