/**
 * `windcast merge`: assemble the shards of a sharded predict or evaluate (`--shard I/N`) into
 * the files an unsharded run writes. The shards are found and checked first (core/shard.ts:
 * one command, one count, every index once, one checkpoint, data and settings); then
 *  - predict shards: their rows into the forecast's GeoTIFFs and maps (output/forecast-shards.ts),
 *  - evaluate shards: their per-window sums, in time order, into the report (evaluate/evaluation-shards.ts).
 * The shard folders are left as they are; every file written goes through a staging folder or
 * an atomic write, so a failed merge leaves earlier output in place.
 */
import { dirname, resolve } from 'node:path';
import { WindcastError } from '../core/errors.js';
import { readShardSet } from '../core/shard.js';
import type { CommandContext } from './context.js';
import type { EvaluateResult } from './evaluate.js';

export interface MergeArgs {
  /** Shard folders, or folders holding shard-I-of-N folders. */
  shards: string[];
  /** Where the merged files go (default: the folder the shard folders are in). */
  out?: string;
}

export interface MergeResult {
  command: 'predict' | 'evaluate';
  count: number;
  shardDirs: string[];
  out: string;
  files: string[];
  /** predict: the merged forecast's per-lead statistics and cells. */
  forecast?: { cellsForecast: number; leads: { lead: number; validTime: string; min: number; mean: number; max: number; nodataCells: number }[]; png?: string };
  /** evaluate: the merged report. */
  evaluation?: EvaluateResult;
}

export async function merge(args: MergeArgs, ctx: CommandContext): Promise<MergeResult> {
  if (args.shards.length === 0) throw new WindcastError('usage', 'merge needs the shard folders, or the folder holding them (the --out of the sharded runs)');
  const set = readShardSet(args.shards);
  const shardDirs = set.shards.map((s) => s.dir);
  const parents = [...new Set(shardDirs.map((d) => dirname(d)))];
  if (args.out === undefined && parents.length > 1) throw new WindcastError('usage', `the shards are in ${parents.length} folders (${parents.join(', ')}): say where the merged files go with --out`);
  const out = resolve(args.out ?? parents[0]!);
  ctx.progress.log(`merge: ${set.count} ${set.command} shards into ${out}`);
  if (set.command === 'predict') {
    const { mergeForecastShards } = await import('../output/forecast-shards.js');
    const merged = await mergeForecastShards(set, out, ctx.progress);
    const { validTimes } = merged.write.tags;
    const leads = merged.leads.map((f, j) => ({ lead: j + 1, validTime: validTimes[j]!, ...fieldStats(f) }));
    return { command: 'predict', count: set.count, shardDirs, out, files: merged.files, forecast: { cellsForecast: merged.cellsForecast, leads, ...(merged.png ? { png: merged.png } : {}) } };
  }
  const { mergeEvaluationShards } = await import('../evaluate/evaluation-shards.js');
  const evaluation = await mergeEvaluationShards(set, out);
  return { command: 'evaluate', count: set.count, shardDirs, out, files: Object.values(evaluation.files), evaluation };
}

function fieldStats(frame: Float32Array): { min: number; mean: number; max: number; nodataCells: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  for (const v of frame) {
    if (v !== v) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
  }
  return { min: n ? min : NaN, mean: n ? sum / n : NaN, max: n ? max : NaN, nodataCells: frame.length - n };
}

export function formatMergeResult(r: MergeResult): string {
  const lines = [`merged ${r.count} ${r.command} shards (${r.shardDirs[0]} .. ${r.shardDirs[r.shardDirs.length - 1]}) into ${r.out}`];
  if (r.forecast) {
    const f = r.forecast;
    const mean = f.leads.map((l) => l.mean);
    lines.push(`${f.cellsForecast.toLocaleString('en-US')} cells forecast, ${f.leads.length} leads (mean speed ${Math.min(...mean).toFixed(2)} .. ${Math.max(...mean).toFixed(2)} m/s)`);
    lines.push(`wrote ${r.files.length} files${f.png ? `, contact sheet ${f.png}` : ''}`);
  }
  if (r.evaluation) {
    const e = r.evaluation;
    lines.push(`${e.report.testPeriod.windows} test windows at ${e.report.cellSample.cells.toLocaleString('en-US')} cells; wrote ${e.files.markdown}, ${e.files.json} and the charts`);
  }
  return lines.join('\n');
}
