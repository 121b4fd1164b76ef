/**
 * Shards: one of N processes doing a disjoint part of a predict (rows of the grid) or an
 * evaluate (issue times), so that `windcast merge` can assemble the whole.
 *
 * The index is 0-based, as Kubernetes' JOB_COMPLETION_INDEX and a Slurm array started at 0.
 * `--shard I/N` names both; `--shard auto` reads the index from the environment
 * (JOB_COMPLETION_INDEX, else SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN) and the count
 * from WINDCAST_SHARD_COUNT, else SLURM_ARRAY_TASK_COUNT; `--shard auto/N` takes the index from
 * the environment and the count from the flag. Without --shard nothing is sharded, whatever the
 * environment holds: a command run inside an array job for another reason does its whole work.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataError, describeError, WindcastError } from './errors.js';

export interface Shard {
  /** 0-based. */
  index: number;
  count: number;
}

/** Environment variables read by `--shard auto`, in the order they are tried. */
export const SHARD_ENV = {
  index: ['JOB_COMPLETION_INDEX', 'SLURM_ARRAY_TASK_ID'],
  count: ['WINDCAST_SHARD_COUNT', 'SLURM_ARRAY_TASK_COUNT'],
} as const;

function wholeNumber(text: string, what: string, min: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new WindcastError('usage', `${what} must be a whole number >= ${min}, got "${text}"`);
  return n;
}

function fromEnv(env: NodeJS.ProcessEnv, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return { name, value };
  }
  return undefined;
}

/** The shard a --shard value names (I/N, auto or auto/N); usage errors for anything else. */
export function parseShard(value: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const m = /^\s*(auto|\d+)\s*(?:\/\s*(\d+)\s*)?$/.exec(value);
  if (!m) throw new WindcastError('usage', `--shard must be I/N (0-based index I of N shards, e.g. 0/4), auto or auto/N, got "${value}"`);
  let index: number;
  if (m[1] === 'auto') {
    const found = fromEnv(env, SHARD_ENV.index);
    if (!found) throw new WindcastError('usage', `--shard ${value}: no shard index in the environment (set ${SHARD_ENV.index.join(' or ')})`);
    index = wholeNumber(found.value, found.name, 0);
    if (found.name === 'SLURM_ARRAY_TASK_ID') {
      // An array may start elsewhere than 0 (--array=1-4); its step must be 1 for the shards to tile.
      const min = env.SLURM_ARRAY_TASK_MIN;
      if (min !== undefined && min !== '') index -= wholeNumber(min, 'SLURM_ARRAY_TASK_MIN', 0);
      const step = env.SLURM_ARRAY_TASK_STEP;
      if (step !== undefined && step !== '' && step !== '1') throw new WindcastError('usage', `--shard ${value}: SLURM_ARRAY_TASK_STEP is ${step}; the array must be contiguous (--array=0-N-1)`);
    }
  } else {
    if (m[2] === undefined) throw new WindcastError('usage', `--shard ${value}: give the count too, I/N (e.g. ${m[1]}/4)`);
    index = wholeNumber(m[1]!, '--shard index', 0);
  }
  let count: number;
  if (m[2] !== undefined) count = wholeNumber(m[2], '--shard count', 1);
  else {
    const found = fromEnv(env, SHARD_ENV.count);
    if (!found) throw new WindcastError('usage', `--shard ${value}: no shard count in the environment (set ${SHARD_ENV.count.join(' or ')}, or write auto/N)`);
    count = wholeNumber(found.value, found.name, 1);
  }
  if (index >= count) throw new WindcastError('usage', `--shard ${value}: index ${index} is not below the count ${count} (indices are 0-based: 0..${count - 1})`);
  return { index, count };
}

/**
 * The part [start, end) of n items that shard i of N does: contiguous, in order, sizes differing
 * by at most one, together exactly 0..n-1.
 */
export function shardRange(n: number, shard: Shard): [number, number] {
  return [Math.floor((shard.index * n) / shard.count), Math.floor(((shard.index + 1) * n) / shard.count)];
}

/** shard-I-of-N: the folder a shard writes under the command's --out. */
export function shardFolderName(shard: Shard): string {
  return `shard-${shard.index}-of-${shard.count}`;
}

export const SHARD_FOLDER = /^shard-(?<index>\d+)-of-(?<count>\d+)$/;

/**
 * The runtime settings shards must share, for their identity: every key of the runtime section
 * but the backend as configured (auto and tensorflow may load the same one: the identity names
 * the loaded backend) and the models folder; a setting that changes the numbers (e.g. the
 * precision of the model's products) is compared without being named here.
 */
export function runtimeIdentity(runtime: Record<string, unknown>): Record<string, unknown> {
  const { backend: _b, modelsDir: _m, ...rest } = runtime;
  return rest;
}

/** "shard 2/4" */
export function describeShard(shard: Shard): string {
  return `shard ${shard.index}/${shard.count}`;
}

/** What every shard folder's shard.json starts with; the command adds its own fields. */
export interface ShardManifest {
  format: 'windcast-shard';
  formatVersion: 1;
  command: 'predict' | 'evaluate';
  shard: Shard;
  /** The shard's items [start, end) of `total` (rows of the grid, or test windows). */
  part: [number, number];
  total: number;
  /** What every shard of one run must agree on (checkpoint, data, issue time, settings): merge compares them. */
  identity: Record<string, unknown>;
  createdAt: string;
}

export const MANIFEST_FILE = 'shard.json';

/**
 * A manifest as JSON, NaN and the infinities kept ({"$number": "NaN"}: plain JSON would make them
 * null, and a nodata value or a fitted number must come back as it was).
 */
export function manifestJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? { $number: String(v) } : v), 2) + '\n';
}

function reviveNumbers(_k: string, v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const keys = Object.keys(v);
  const n = (v as { $number?: unknown }).$number;
  return keys.length === 1 && typeof n === 'string' ? Number(n) : v;
}

/** The shard.json of a folder, or undefined when it has none. */
export function readManifest(dir: string): ShardManifest | undefined {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return undefined;
  let m: ShardManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8'), reviveNumbers) as ShardManifest;
  } catch (err) {
    throw new DataError(path, `not a readable shard manifest (${describeError(err)})`, { cause: err });
  }
  if (m?.format !== 'windcast-shard' || m.formatVersion !== 1) throw new DataError(path, 'not a windcast shard manifest (format windcast-shard, version 1)');
  return m;
}

export interface ShardSet {
  command: ShardManifest['command'];
  count: number;
  /** Index order: shards[i] is shard i. */
  shards: { dir: string; manifest: ShardManifest }[];
}

/**
 * The complete set of shards in `paths` (each a shard folder, or a folder holding shard-I-of-N
 * folders), checked: one command, one count, every index 0..N-1 exactly once, the same
 * identity, parts that tile the whole. Throws a DataError naming the folder at fault.
 */
export function readShardSet(paths: readonly string[]): ShardSet {
  const found: { dir: string; manifest: ShardManifest }[] = [];
  for (const p of paths) {
    const dir = resolve(p);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataError(dir, 'no such folder');
    const own = readManifest(dir);
    if (own) {
      found.push({ dir, manifest: own });
      continue;
    }
    const inside = readdirSync(dir).filter((n) => SHARD_FOLDER.test(n)).sort();
    if (inside.length === 0) throw new DataError(dir, `holds no shard folders (${MANIFEST_FILE}, or shard-I-of-N folders written by predict or evaluate --shard)`);
    for (const name of inside) {
      const m = readManifest(join(dir, name));
      if (!m) throw new DataError(join(dir, name), `has no ${MANIFEST_FILE}: an unfinished or foreign shard folder`);
      found.push({ dir: join(dir, name), manifest: m });
    }
  }
  const first = found[0]!;
  const count = first.manifest.shard.count;
  const byIndex = new Map<number, { dir: string; manifest: ShardManifest }>();
  for (const f of found) {
    const m = f.manifest;
    if (m.command !== first.manifest.command) throw new DataError(f.dir, `is a shard of ${m.command}, ${first.dir} one of ${first.manifest.command}: merge one run at a time`);
    if (m.shard.count !== count) throw new DataError(f.dir, `is ${describeShard(m.shard)}, ${first.dir} is ${describeShard(first.manifest.shard)}: shards of runs with different counts (remove the folders of the older run)`);
    const key = identityDifference(first.manifest.identity, m.identity);
    if (key !== undefined) throw new DataError(f.dir, `does not belong with ${first.dir}: their ${key} differ (${JSON.stringify(m.identity[key])} vs ${JSON.stringify(first.manifest.identity[key])})`);
    const twin = byIndex.get(m.shard.index);
    if (twin) throw new DataError(f.dir, `duplicates ${describeShard(m.shard)} of ${twin.dir}`);
    byIndex.set(m.shard.index, f);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    const where = paths.length === 1 ? resolve(paths[0]!) : 'the folders given';
    throw new DataError(where, `missing ${missing.length === 1 ? 'shard' : 'shards'} ${missing.map((i) => `${i}/${count}`).join(', ')} (expected ${missing.map((i) => shardFolderName({ index: i, count })).join(', ')}): run them, then merge again`);
  }
  const shards = Array.from({ length: count }, (_, i) => byIndex.get(i)!);
  let next = 0;
  for (const s of shards) {
    const [start, end] = s.manifest.part;
    if (start !== next || s.manifest.total !== first.manifest.total) throw new DataError(s.dir, `covers items ${start}..${end - 1} of ${s.manifest.total}; expected to start at ${next} of ${first.manifest.total}`);
    next = end;
  }
  if (next !== first.manifest.total) throw new DataError(shards[count - 1]!.dir, `the shards end at item ${next} of ${first.manifest.total}`);
  return { command: first.manifest.command, count, shards };
}

/** The first identity key on which two shards differ, or undefined. */
function identityDifference(a: Record<string, unknown>, b: Record<string, unknown>): string | undefined {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.find((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}
