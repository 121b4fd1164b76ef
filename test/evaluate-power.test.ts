/**
 * evaluate --turbine: power NMAE / NRMSE in % of rated power per lead, recomputed here by hand
 * through a user power curve (0 kW to 3 m/s, linear to 1000 kW at 13 m/s, rated to the 25 m/s
 * cut-out: P(v) = 100 (v - 3) kW between 3 and 13 m/s), for the model (a persistence
 * forecaster), persistence and the same-input ridge; hub-height extrapolation with the default
 * exponent where the data has wind at one height; and the mistakes a user can make.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { persistenceForecast, truthWindow } from '../src/evaluate/baselines.js';
import { evaluateCube, testAnchors, writeEvaluation } from '../src/evaluate/evaluate.js';
import { sampleCells } from '../src/evaluate/regions.js';
import { fitPeriodRidge, ridgeForecast } from '../src/prepare/ridge.js';
import { ConfigError, DataError } from '../src/core/errors.js';
import { silentProgress } from '../src/core/progress.js';
import { DEFAULT_SHEAR_EXPONENT } from '../src/power/shear.js';
import { formatEvaluateResult } from '../src/commands/evaluate.js';
import { makeCube } from './train-fixtures.js';
import { fakeCheckpoint, FAKE_TRAIN, noTf, settings, tempDir } from './evaluate-fixtures.js';

const H = 24;

/** The test curve by hand. */
function handPower(v: number): number {
  if (v < 3 || v >= 25) return 0;
  return Math.min(1000, 100 * (v - 3));
}

function curveFile(): string {
  const path = join(tempDir('windcast-power-'), 'turbine.csv');
  writeFileSync(path, 'speed_ms,power_kw\n0,0\n3,0\n13,1000\n25,1000\n');
  return path;
}

/** NMAE, NRMSE (% of 1000 kW) per lead and forecaster, by hand over the test windows. */
function handScores(cube: ReturnType<typeof makeCube>, fake: ReturnType<typeof fakeCheckpoint>, cellStride: number, stride: number, scale: number) {
  const sample = sampleCells(cube.grid, cellStride);
  const ctx = fake.forecaster.context(cube);
  const ridge = fitPeriodRidge(ctx, { split: fake.meta.split, windows: FAKE_TRAIN.linearFitWindows, validationWindows: FAKE_TRAIN.validationSamples, seed: FAKE_TRAIN.seed });
  const m = sample.cells.length;
  const truth = new Float32Array(m * H);
  const pers = new Float32Array(m * H);
  const lin = new Float32Array(m * H);
  const abs = [new Float64Array(H), new Float64Array(H)];
  const sq = [new Float64Array(H), new Float64Array(H)];
  const W = new Float64Array(H);
  for (const t0 of testAnchors(fake.meta, stride, 24)) {
    truthWindow(cube, { t0, cells: sample.cells, horizon: H, out: truth });
    persistenceForecast(cube, { t0, cells: sample.cells, horizon: H, out: pers });
    ridgeForecast(ridge, ctx, t0, sample.cells, lin);
    for (let i = 0; i < m; i++) {
      for (let l = 0; l < H; l++) {
        const p = i * H + l;
        if (![truth[p]!, pers[p]!, lin[p]!].every(Number.isFinite)) continue;
        const w = sample.weights[i]!;
        const pt = handPower(truth[p]! * scale);
        W[l]! += w;
        [pers[p]!, lin[p]!].forEach((v, f) => {
          const e = handPower(v * scale) - pt;
          abs[f]![l]! += w * Math.abs(e);
          sq[f]![l]! += w * e * e;
        });
      }
    }
  }
  const nmae = abs.map((a) => Array.from(a, (v, l) => (100 * v) / W[l]! / 1000));
  const nrmse = sq.map((a) => Array.from(a, (v, l) => (100 * Math.sqrt(v / W[l]!)) / 1000));
  return { nmae, nrmse };
}

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);

test('power NMAE and NRMSE per lead through a user curve, by hand; persistence as the model has NMAE skill 0', async () => {
  const cube = makeCube({ hours: 300, step: 15, seed: 4 });
  const fake = fakeCheckpoint(cube);
  const turbine = curveFile();
  const report = evaluateCube({ cube, forecaster: fake.forecaster, checkpointDir: fake.dir, dataDir: '/fixture', settings: settings({ stride: 3, cellStride: 2, bootstrapBlockHours: 3, turbine }), tf: noTf, backend: 'none', progress: silentProgress });
  const p = report.power!;
  assert.equal(p.turbine.ratedKw, 1000);
  assert.equal(p.turbine.cutInMs, 3);
  assert.equal(p.turbine.cutOutMs, 25);
  assert.equal(p.hubHeightM, null);
  assert.match(p.hubHeightNote, /own height/);
  const hand = handScores(cube, fake, 2, 3, 1);
  const f = p.scores.forecasters;
  for (let l = 0; l < H; l++) {
    close(f.model!.nmae[l]!, hand.nmae[0]![l]!, `model NMAE +${l + 1} h`);
    close(f.persistence!.nmae[l]!, hand.nmae[0]![l]!, `persistence NMAE +${l + 1} h`);
    close(f.linear!.nmae[l]!, hand.nmae[1]![l]!, `linear NMAE +${l + 1} h`);
    close(f.linear!.nrmse[l]!, hand.nrmse[1]![l]!, `linear NRMSE +${l + 1} h`);
  }
  assert.deepEqual(p.skill.persistence!.perLead, new Array(H).fill(0));
  assert.deepEqual(p.skill.persistence!.interval!.mean, [0, 0]);
  assert.ok(f.persistence!.nmae[23]! > f.persistence!.nmae[0]!, 'persistence power errors grow with lead');
  const files = await writeEvaluation(tempDir('windcast-power-out-'), report);
  const md = readFileSync(files.markdown, 'utf8');
  assert.match(md, /## Power: .*turbine\.csv \(1,000 kW rated\)/);
  const powerTable = md.slice(md.indexOf('## Power'));
  assert.match(powerTable, /^\| forecast \| NMAE \(%\) \| NRMSE \(%\) \| bias \(%\) \| model NMAE skill over it \|$/m);
  assert.match(powerTable, /^\| persistence \| [\d.]+ \| [\d.]+ \| -?[\d.]+ \| 0\.0 % \[0\.0, 0\.0\] \|$/m);
  assert.equal(p.medianSkill, undefined, 'a point model has no median');
  assert.match(formatEvaluateResult({ report, files }), /power through .* NMAE \/ NRMSE in % of 1000 kW/);
  assert.equal(JSON.parse(readFileSync(files.json, 'utf8')).power.scores.forecasters.linear.sums.absError.length, H);
});

test('a hub height above the forecast\'s scales truth and forecasts by the power law (the default exponent with wind at one height)', () => {
  const cube = makeCube({ hours: 300, step: 15, seed: 5 });
  cube.heightM = 100;
  const fake = fakeCheckpoint(cube);
  fake.meta.features.heightM = 100;
  const report = evaluateCube({ cube, forecaster: fake.forecaster, checkpointDir: fake.dir, dataDir: '/fixture', settings: settings({ stride: 6, cellStride: 3, turbine: curveFile(), hubHeight: 150 }), tf: noTf, backend: 'none', progress: silentProgress });
  const p = report.power!;
  assert.equal(p.hubHeightM, 150);
  assert.match(p.hubHeightNote, /default alpha 0\.143/);
  const hand = handScores(cube, fake, 3, 6, Math.pow(1.5, DEFAULT_SHEAR_EXPONENT));
  for (let l = 0; l < H; l++) close(p.scores.forecasters.linear!.nmae[l]!, hand.nmae[1]![l]!, `linear NMAE at 150 m, +${l + 1} h`);
});

test('power mistakes are typed errors: an unknown turbine, a hub height without a turbine or without a named height', () => {
  const cube = makeCube({ hours: 300, step: 15, seed: 6 });
  const fake = fakeCheckpoint(cube);
  const run = (s: Parameters<typeof settings>[0]) => evaluateCube({ cube, forecaster: fake.forecaster, checkpointDir: fake.dir, dataDir: '/fixture', settings: settings(s), tf: noTf, backend: 'none', progress: silentProgress });
  assert.throws(() => run({ turbine: 'no-such-turbine' }), (e: unknown) => e instanceof DataError && /not a built-in turbine/.test(e.message));
  assert.throws(() => run({ hubHeight: 120 }), (e: unknown) => e instanceof ConfigError && /name a --turbine/.test(e.message));
  assert.throws(() => run({ turbine: 'nrel-5mw', hubHeight: 120 }), (e: unknown) => e instanceof ConfigError && /does not say the height/.test(e.message));
});
