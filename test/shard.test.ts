/**
 * Sharded predict and evaluate, and `windcast merge`: on a small synthetic grid, a sharded run
 * merged is the unsharded run, file for file and byte for byte (the forecast's GeoTIFFs, maps,
 * quantiles and capacity factors; the report's numbers, intervals and charts), in-process and
 * with N local processes of bin/windcast given their index as a Kubernetes Indexed Job and a
 * Slurm array give it; GDAL reads the merged GeoTIFFs as the unsharded ones. Then the mistakes:
 * bad --shard values, missing, duplicate and mismatched shards, each a clear error naming the
 * folder, and a failed merge leaves earlier output as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCli } from '../src/cli.js';
import { EXIT_CODES, WindcastError } from '../src/core/errors.js';
import { parseShard, readShardSet, shardRange } from '../src/core/shard.js';
import { predict } from '../src/commands/predict.js';
import { testContext } from '../src/commands/context.js';
import { schemaDefaults } from '../src/core/config.js';
import { withGdal } from './ingest-fixtures.js';
import { writeTinyCliConfig } from './train-fixtures.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/windcast', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'windcast-shard-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

// A model small enough to train in seconds, and quick baselines and intervals.
const tiny = join(root, 'tiny.json');
writeTinyCliConfig(tiny);
const data = join(root, 'data');
const models = join(root, 'models');
await runCli(['--quiet', 'synth', '--out', data, '--bbox', '0,40,10,48', '--step', '1', '--hours', '580', '--bands', 'uv']);
await runCli(['--quiet', '--config', tiny, 'train', '--data', data, '--run', 't', '--models-dir', models]);
const model = join(models, 't');

/** Every file of `a` (not the shard folders) has a twin of the same bytes in `b`; returns how many. */
function sameFiles(a: string, b: string, skip: (name: string) => boolean = () => false): number {
  const names = readdirSync(a).filter((n) => statSync(join(a, n)).isFile() && !skip(n));
  assert.ok(names.length > 0, `${a} holds files`);
  for (const n of names) assert.ok(readFileSync(join(a, n)).equals(readFileSync(join(b, n))), `${n}: the merged file is the unsharded one`);
  const mergedNames = readdirSync(b).filter((n) => statSync(join(b, n)).isFile() && !skip(n));
  assert.deepEqual(mergedNames.sort(), names.sort(), 'the same files');
  return names.length;
}

/** The report minus what a merge cannot share with a single run: its creation time and timings. */
function reportNumbers(dir: string): unknown {
  const r = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  delete r.createdAt;
  delete r.run;
  return r;
}

const markdownWithoutTimings = (dir: string) => readFileSync(join(dir, 'report.md'), 'utf8').replace(/^- Backend: .*$/m, '');

test('--shard I/N, auto and auto/N: 0-based, from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID, usage errors otherwise', () => {
  assert.deepEqual(parseShard('2/4', {}), { index: 2, count: 4 });
  assert.deepEqual(parseShard('auto', { JOB_COMPLETION_INDEX: '3', WINDCAST_SHARD_COUNT: '5' }), { index: 3, count: 5 });
  assert.deepEqual(parseShard('auto/6', { JOB_COMPLETION_INDEX: '0' }), { index: 0, count: 6 });
  // A Slurm array 1-4: SLURM_ARRAY_TASK_MIN makes it 0-based.
  assert.deepEqual(parseShard('auto', { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '4' }), { index: 3, count: 4 });
  assert.deepEqual(parseShard('auto', { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '2' }), { index: 0, count: 2 });
  for (const [value, env, message] of [
    ['4/4', {}, /not below the count 4/],
    ['-1/4', {}, /must be I\/N/],
    ['1', {}, /give the count too/],
    ['a/b', {}, /must be I\/N/],
    ['0/0', {}, /count must be a whole number >= 1/],
    ['auto', {}, /no shard index in the environment/],
    ['auto', { JOB_COMPLETION_INDEX: '1' }, /no shard count in the environment/],
    ['auto', { JOB_COMPLETION_INDEX: 'x', WINDCAST_SHARD_COUNT: '2' }, /JOB_COMPLETION_INDEX must be a whole number/],
    ['auto', { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_STEP: '2', SLURM_ARRAY_TASK_COUNT: '2' }, /must be contiguous/],
  ] as const) {
    assert.throws(() => parseShard(value, env), (err: unknown) => err instanceof WindcastError && err.kind === 'usage' && message.test(err.message), `${value} ${JSON.stringify(env)}`);
  }
  // Shards tile the items: contiguous, in order, sizes within one.
  for (const [n, count] of [[7, 3], [3, 3], [100, 7], [1, 1]] as const) {
    const parts = Array.from({ length: count }, (_, index) => shardRange(n, { index, count }));
    assert.equal(parts[0]![0], 0);
    assert.equal(parts[count - 1]![1], n);
    parts.slice(1).forEach((p, i) => assert.equal(p[0], parts[i]![1]));
    const sizes = parts.map(([a, b]) => b - a);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
  }
});

test('a bad --shard is exit 2 with one line naming the flag; a site forecast is not sharded', async () => {
  const bad = spawnSync(BIN, ['predict', '--model', model, '--data', data, '--out', join(root, 'never'), '--shard', '3/3'], { encoding: 'utf8' });
  assert.equal(bad.status, EXIT_CODES.usage);
  assert.match(bad.stderr, /--shard.*not below the count 3/);
  const noEnv = spawnSync(BIN, ['evaluate', '--model', model, '--data', data, '--out', join(root, 'never'), '--shard', 'auto'], { encoding: 'utf8', env: { ...process.env, JOB_COMPLETION_INDEX: '', SLURM_ARRAY_TASK_ID: '' } });
  assert.equal(noEnv.status, EXIT_CODES.usage);
  assert.match(noEnv.stderr, /no shard index in the environment \(set JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID\)/);
  const config = schemaDefaults();
  await assert.rejects(
    predict({ model, data, out: join(root, 'never'), points: ['45,5'], shard: { index: 0, count: 2 } }, testContext(config)),
    (err: unknown) => err instanceof WindcastError && err.kind === 'usage' && /not sharded/.test(err.message),
  );
  await assert.rejects(
    predict({ model, data, out: join(root, 'never'), shard: { index: 0, count: 10 } }, testContext(config)),
    (err: unknown) => err instanceof WindcastError && err.kind === 'usage' && /the grid has 9 rows, fewer than the 10 shards/.test(err.message),
  );
});

const gridFlags = ['--png', '--turbine', 'iea-3.4mw', '--capacity-factor-maps'];
const single = join(root, 'single');
const sharded = join(root, 'sharded');

test('predict in 3 shards merged is the unsharded forecast byte for byte: speed, quantiles, capacity factor, maps; GDAL agrees', async (t) => {
  await runCli(['--quiet', 'predict', '--model', model, '--data', data, '--out', single, ...gridFlags]);
  for (let i = 0; i < 3; i++) await runCli(['--quiet', 'predict', '--model', model, '--data', data, '--out', sharded, ...gridFlags, '--shard', `${i}/3`]);
  assert.deepEqual(readdirSync(sharded).sort(), ['shard-0-of-3', 'shard-1-of-3', 'shard-2-of-3'], 'shards write only their own folders');
  await runCli(['--quiet', 'merge', sharded]);
  const n = sameFiles(single, sharded);
  assert.equal(n, 24 * 4 + 1, '24 leads of speed, quantiles, capacity factor and maps, and the contact sheet');

  await withGdal(t, 'merged and unsharded GeoTIFFs: the same georeferencing, tags and values', () => {
    for (const name of readdirSync(single).filter((f) => /_f(01|13|24)\.tif$/.test(f))) {
      const info = (dir: string) => {
        const i = JSON.parse(execFileSync('gdalinfo', ['-json', '-mm', join(dir, name)], { encoding: 'utf8' }));
        delete i.description;
        delete i.files;
        return i;
      };
      assert.deepEqual(info(sharded), info(single), `gdalinfo ${name}`);
      const raw = (dir: string) => {
        const out = join(root, `raw-${name}-${dir === single ? 'a' : 'b'}.bin`);
        execFileSync('gdal_translate', ['-q', '-of', 'ENVI', join(dir, name), out]);
        return readFileSync(out);
      };
      assert.ok(raw(sharded).equals(raw(single)), `gdal_translate ${name}: the same values`);
      const at = (dir: string) => execFileSync('gdallocationinfo', ['-valonly', '-wgs84', join(dir, name), '5', '44'], { encoding: 'utf8' });
      assert.equal(at(sharded), at(single));
    }
  });
});

test('4 processes as a Kubernetes Indexed Job (JOB_COMPLETION_INDEX), running together, merged: the unsharded multi-band forecast', async () => {
  const one = join(root, 'multi-single');
  const out = join(root, 'multi-k8s');
  await runCli(['--quiet', 'predict', '--model', model, '--data', data, '--out', one, '--multiband']);
  await Promise.all(
    [0, 1, 2, 3].map((i) =>
      run(BIN, ['--quiet', 'predict', '--model', model, '--data', data, '--out', out, '--multiband', '--shard', 'auto'], { env: { ...process.env, JOB_COMPLETION_INDEX: String(i), WINDCAST_SHARD_COUNT: '4' } }),
    ),
  );
  await run(BIN, ['--quiet', 'merge', out]);
  assert.equal(sameFiles(one, out), 2, 'the speed and the quantiles, each one multi-band file');
});

const evalSingle = join(root, 'eval-single');
const evalFlags = ['--stride', '3', '--turbine', 'iea-3.4mw'];

test('evaluate in 3 shards merged is the unsharded report: every score, skill and bootstrap interval, the charts byte for byte', async () => {
  const out = join(root, 'eval-sharded');
  await runCli(['--quiet', '--config', tiny, 'evaluate', '--model', model, '--data', data, '--out', evalSingle, ...evalFlags]);
  for (let i = 0; i < 3; i++) await runCli(['--quiet', '--config', tiny, 'evaluate', '--model', model, '--data', data, '--out', out, ...evalFlags, '--shard', `${i}/3`]);
  await runCli(['--quiet', 'merge', out]);
  const merged = reportNumbers(out) as { power?: unknown; probabilistic: { modelQuantiles: boolean }; global: { skill: { linear: { interval: { mean: number[] } } } } };
  assert.deepEqual(merged, reportNumbers(evalSingle));
  assert.ok(merged.power && merged.probabilistic.modelQuantiles, 'power and quantile scores are merged too');
  assert.ok(merged.global.skill.linear.interval.mean.every(Number.isFinite), 'with intervals (blocks of 3 windows)');
  assert.equal(markdownWithoutTimings(out), markdownWithoutTimings(evalSingle));
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /merged from 3 shards/);
  sameFiles(evalSingle, out, (n) => n.startsWith('report.'));
});

test('3 processes as a Slurm array 1-3 (SLURM_ARRAY_TASK_ID), running together, merged by a fourth: the unsharded report', async () => {
  const out = join(root, 'eval-slurm');
  await Promise.all(
    [1, 2, 3].map((id) =>
      run(BIN, ['--quiet', '--config', tiny, 'evaluate', '--model', model, '--data', data, '--out', out, ...evalFlags, '--shard', 'auto'], {
        env: { ...process.env, SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '3' },
      }),
    ),
  );
  await run(BIN, ['--quiet', 'merge', out]);
  assert.deepEqual(reportNumbers(out), reportNumbers(evalSingle));
  assert.equal(markdownWithoutTimings(out), markdownWithoutTimings(evalSingle));
});

test('merge refuses missing, duplicate and mismatched shards, naming the folder, and leaves earlier output as it was', async () => {
  const expectData = async (args: string[], message: RegExp) => {
    await assert.rejects(runCli(['--quiet', 'merge', ...args]), (err: unknown) => err instanceof WindcastError && err.kind === 'data' && message.test(err.message), `${args.join(' ')}: ${message}`);
  };
  // Missing: a copy of the forecast's shards without shard 1; earlier merged files stay as they were.
  const missing = join(root, 'missing');
  cpSync(sharded, missing, { recursive: true });
  rmSync(join(missing, 'shard-1-of-3'), { recursive: true });
  const before = readFileSync(join(missing, readdirSync(missing).find((n) => n.endsWith('_f01.tif'))!));
  await expectData([missing], /missing shard 1\/3 \(expected shard-1-of-3\)/);
  assert.ok(readFileSync(join(missing, readdirSync(missing).find((n) => n.endsWith('_f01.tif'))!)).equals(before));

  // Duplicate: the same shard from two folders.
  const twin = join(root, 'twin');
  cpSync(join(sharded, 'shard-0-of-3'), join(twin, 'shard-0-of-3'), { recursive: true });
  await expectData([join(sharded, 'shard-0-of-3'), join(sharded, 'shard-1-of-3'), join(sharded, 'shard-2-of-3'), join(twin, 'shard-0-of-3')], /twin\/shard-0-of-3: duplicates shard 0\/3/);

  // Another count beside them (an older run of 2 shards).
  const mixed = join(root, 'mixed');
  cpSync(sharded, mixed, { recursive: true });
  cpSync(join(sharded, 'shard-0-of-3'), join(mixed, 'shard-0-of-2'), { recursive: true });
  const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'shard.json'), 'utf8'));
  const m2 = manifest(join(mixed, 'shard-0-of-2'));
  writeFileSync(join(mixed, 'shard-0-of-2', 'shard.json'), JSON.stringify({ ...m2, shard: { index: 0, count: 2 } }));
  await expectData([mixed], /shard-0-of-3: is shard 0\/3, .*shard-0-of-2 is shard 0\/2: shards of runs with different counts/);

  // Another checkpoint, and an evaluate shard among predict shards.
  const other = join(root, 'other');
  cpSync(sharded, other, { recursive: true });
  const m = manifest(join(other, 'shard-2-of-3'));
  writeFileSync(join(other, 'shard-2-of-3', 'shard.json'), JSON.stringify({ ...m, identity: { ...m.identity, checkpointMetaSha256: 'f'.repeat(64) } }));
  await expectData([other], /other\/shard-2-of-3: does not belong with .*shard-0-of-3: their checkpointMetaSha256 differ/);
  await expectData([join(sharded, 'shard-0-of-3'), join(root, 'eval-slurm', 'shard-1-of-3')], /is a shard of evaluate, .* one of predict: merge one run at a time/);

  // A truncated records file, and a folder with no shards.
  const cut = join(root, 'cut');
  cpSync(join(root, 'eval-slurm'), cut, { recursive: true });
  const records = join(cut, 'shard-1-of-3', 'window-records.bin');
  writeFileSync(records, readFileSync(records).subarray(0, 800));
  await expectData([cut], /window-records\.bin: holds 800 bytes, expected/);
  await expectData([data], /holds no shard folders/);
});

const DEPLOY = fileURLToPath(new URL('../../docs/deploy/', import.meta.url));

test('docs/deploy/kubernetes-indexed-job.yaml: its shard and merge commands, run as 3 pods with JOB_COMPLETION_INDEX, give the unsharded forecast', async () => {
  const yaml = readFileSync(join(DEPLOY, 'kubernetes-indexed-job.yaml'), 'utf8');
  const docs = yaml.split(/^---$/m);
  assert.equal(docs.length, 2, 'the Indexed Job and the merge Job');
  const [shards, mergeJob] = docs as [string, string];
  assert.match(shards, /completionMode: Indexed/);
  const completions = Number(/^\s+completions: (\d+)$/m.exec(shards)![1]);
  const count = Number(/name: WINDCAST_SHARD_COUNT\s+value: "(\d+)"/.exec(shards)![1]);
  assert.equal(count, completions, 'WINDCAST_SHARD_COUNT is the number of completions');
  const args = (doc: string) => JSON.parse(/^\s+args: (\[.*\])$/m.exec(doc)![1]!) as string[];
  // The manifest's paths on /shared, here in the test's folder; its issue time, the data's last hour.
  const out = join(root, 'k8s');
  const local = (a: string[]) =>
    a.map((s) => s.replace('/shared/models/era5/best', model).replace('/shared/era5', data).replace('/shared/forecasts/2024-01-31T00Z', out).replace('2024-01-31T00Z', '2024-01-25T03Z'));
  const shardArgs = local(args(shards));
  assert.deepEqual(shardArgs.slice(-2), ['--shard', 'auto']);
  await Promise.all([0, 1, 2].map((i) => run(BIN, ['--quiet', ...shardArgs], { env: { ...process.env, JOB_COMPLETION_INDEX: String(i), WINDCAST_SHARD_COUNT: '3' } })));
  await run(BIN, ['--quiet', ...local(args(mergeJob))]);
  const one = join(root, 'k8s-single');
  await runCli(['--quiet', ...shardArgs.slice(0, -2).map((s) => (s === out ? one : s))]);
  assert.equal(sameFiles(one, out), 24 * 2 + 24 + 1, 'speed, quantiles, maps and the contact sheet');
});

test('docs/deploy/slurm-array.sh: submitted to a stand-in sbatch that runs the array as local processes, then the merge: the unsharded report', async () => {
  // sbatch's stand-in: an array's tasks run at once as local processes with Slurm's variables,
  // a job with --dependency=afterok:ID only when that array succeeded; it prints the job id.
  const bin = join(root, 'fake-slurm');
  const log = join(bin, 'jobs.log');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'sbatch'),
    [
      '#!/usr/bin/env bash',
      'set -euo pipefail',
      'array=; dep=; chdir=.',
      'while [ $# -gt 0 ]; do case "$1" in --array=*) array=${1#--array=} ;; --dependency=*) dep=${1#--dependency=} ;; --chdir=*) chdir=${1#--chdir=} ;; --*) ;; *) break ;; esac; shift; done',
      'script=$1; shift; id=$((1000 + $(wc -l < "$FAKE_SLURM_LOG"))); cd "$chdir"',
      'if [ -n "$dep" ]; then',
      '  grep -qx "ok ${dep#afterok:}" "$FAKE_SLURM_LOG" || exit 1',
      '  SLURM_JOB_ID=$id bash "$script" "$@" >&2',
      'else',
      '  lo=${array%-*}; hi=${array#*-}; pids=()',
      '  for i in $(seq "$lo" "$hi"); do SLURM_JOB_ID=$id SLURM_ARRAY_JOB_ID=$id SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_MIN=$lo SLURM_ARRAY_TASK_MAX=$hi SLURM_ARRAY_TASK_COUNT=$((hi - lo + 1)) bash "$script" "$@" >&2 & pids+=($!); done',
      '  for p in "${pids[@]}"; do wait "$p"; done',
      'fi',
      'echo "ok $id" >> "$FAKE_SLURM_LOG"; echo "$id"',
    ].join('\n') + '\n',
    { mode: 0o755 },
  );
  writeFileSync(log, '');
  const out = join(root, 'eval-sbatch');
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_SLURM_LOG: log, WINDCAST_SHARDS: '3', MODEL: model, DATA: data, OUT: out, SLURM_JOB_ID: '', SLURM_ARRAY_TASK_ID: '' };
  const { stdout } = await run(join(DEPLOY, 'slurm-array.sh'), ['evaluate', '--config', tiny, ...evalFlags, '--quiet'], { env });
  assert.match(stdout, /submitted evaluate shards as array job 1000 \(3 tasks\) and the merge as job 1001/);
  assert.deepEqual(readdirSync(out).filter((n) => n.startsWith('shard-')).sort(), ['shard-0-of-3', 'shard-1-of-3', 'shard-2-of-3']);
  assert.deepEqual(reportNumbers(out), reportNumbers(evalSingle));
});
