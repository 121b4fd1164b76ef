/**
 * evaluate with quantiles: a fake quantile checkpoint whose quantiles are persistence plus
 * fixed offsets growing with lead, rescored here by hand (pooled area-weighted pinball sums);
 * the probabilistic baselines beside it; the report files and charts; and a point checkpoint,
 * which gets the baselines at the default levels and a report that says it has no quantiles.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { persistenceForecast, truthWindow } from '../src/evaluate/baselines.js';
import { evaluateCube, testAnchors, writeEvaluation } from '../src/evaluate/evaluate.js';
import { crpsWeights } from '../src/evaluate/quantile-scores.js';
import { pinball } from '../src/model/quantile-head.js';
import { sampleCells } from '../src/evaluate/regions.js';
import { silentProgress } from '../src/core/progress.js';
import type { Cube } from '../src/ingest/cube.js';
import { decodePng } from '../src/output/png.js';
import { makeCube } from './train-fixtures.js';
import { fakeCheckpoint, noTf, settings, tempDir } from './evaluate-fixtures.js';

const LEVELS = [0.1, 0.25, 0.5, 0.75, 0.9];
const OFFSETS = [-1.5, -0.6, 0, 0.6, 1.5];
const H = 24;

/** Persistence plus OFFSETS x (1 + lead / 12): quantiles that widen with lead. */
function quantileForecast(c: Cube, t0: number, cells: Int32Array, out?: Float32Array, quantiles?: Float32Array): Float32Array {
  const point = persistenceForecast(c, { t0, cells, horizon: H, ...(out ? { out } : {}) });
  if (quantiles) {
    for (let i = 0; i < cells.length; i++) {
      for (let l = 0; l < H; l++) OFFSETS.forEach((o, k) => (quantiles[(i * H + l) * LEVELS.length + k] = point[i * H + l]! + o * (1 + (l + 1) / 12)));
    }
  }
  return point;
}

test('evaluate scores a quantile checkpoint: CRPS, pinball and coverage recomputed by hand, baselines beside it, charts written', async () => {
  const cube = makeCube({ hours: 300, step: 15 });
  const { dir, meta, forecaster } = fakeCheckpoint(cube, quantileForecast, LEVELS);
  const s = settings({ stride: 2, cellStride: 2, bootstrapBlockHours: 2, bootstrapResamples: 200, turbine: 'nrel-5mw' });
  const report = evaluateCube({ cube, forecaster, checkpointDir: dir, dataDir: '/fixture', settings: s, tf: noTf, backend: 'none', progress: silentProgress });
  const p = report.probabilistic;
  assert.equal(p.modelQuantiles, true);
  assert.deepEqual(p.levels, LEVELS);
  assert.deepEqual(p.forecasters, ['model', 'climatology', 'persistence', 'linear']);
  assert.deepEqual(p.intervals, ['80', '50']);

  // By hand: every test window and sampled cell, pooled with the area weights.
  const sample = sampleCells(cube.grid, 2);
  const w = crpsWeights(LEVELS);
  const crps = new Float64Array(H);
  const inside80 = new Float64Array(H);
  const pin = new Float64Array(H * LEVELS.length);
  const W = new Float64Array(H);
  const truth = new Float32Array(sample.cells.length * H);
  const q = new Float32Array(sample.cells.length * H * LEVELS.length);
  for (const t0 of testAnchors(meta, 2, 24)) {
    truthWindow(cube, { t0, cells: sample.cells, horizon: H, out: truth });
    quantileForecast(cube, t0, sample.cells, undefined, q);
    for (let i = 0; i < sample.cells.length; i++) {
      for (let l = 0; l < H; l++) {
        const y = truth[i * H + l]!;
        const base = (i * H + l) * LEVELS.length;
        const wi = sample.weights[i]!;
        W[l]! += wi;
        LEVELS.forEach((tau, k) => {
          const pk = pinball(tau, y, q[base + k]!);
          pin[l * LEVELS.length + k]! += wi * pk;
          crps[l]! += wi * 2 * w[k]! * pk;
        });
        if (y >= q[base]! && y < q[base + 4]!) inside80[l]! += wi;
      }
    }
  }
  const m = p.global.forecasters.model!;
  for (let l = 0; l < H; l++) {
    assert.ok(Math.abs(m.crps[l]! - crps[l]! / W[l]!) < 1e-9, `CRPS at +${l + 1} h`);
    LEVELS.forEach((_, k) => assert.ok(Math.abs(m.pinball[l]![k]! - pin[l * LEVELS.length + k]! / W[l]!) < 1e-9));
    assert.ok(Math.abs(m.coverage['80']![l]! - inside80[l]! / W[l]!) < 1e-9, `coverage at +${l + 1} h`);
    assert.ok(Math.abs(p.global.weight[l]! - W[l]!) < 1e-9);
  }
  // Sums are kept: pinball sums / weight give the pinball loss.
  assert.ok(Math.abs(m.sums.pinball[3]![2]! / p.global.weight[3]! - m.pinball[3]![2]!) < 1e-12);
  // Skills against the three baselines, with intervals; the baselines are sensible.
  for (const b of ['climatology', 'persistence', 'linear']) {
    const sk = p.global.skill[b]!;
    assert.equal(sk.perLead.length, H);
    assert.ok(sk.interval!.mean.every(Number.isFinite), `interval vs ${b}`);
    assert.ok(p.global.forecasters[b]!.mean.crps > 0);
    const cov80 = p.global.forecasters[b]!.mean.coverage['80']!;
    assert.ok(cov80 > 0.5 && cov80 < 0.98, `${b} 80 % coverage ${cov80}`);
  }
  // The dressed ridge beats dressed persistence at +24 h, as the point ridge does.
  assert.ok(p.global.forecasters.linear!.crps[23]! < p.global.forecasters.persistence!.crps[23]!);
  assert.equal(p.bands.length, 3);
  assert.equal(report.formatVersion, 3);
  // Power: the model's median (persistence + 0 here) goes through the curve as "model-median".
  const power = report.power!;
  assert.deepEqual(power.scores.names, ['model', 'model-median', 'persistence', 'linear']);
  assert.deepEqual(power.scores.forecasters['model-median']!.nmae, power.scores.forecasters.persistence!.nmae);
  assert.deepEqual(power.medianSkill!.persistence!.perLead, new Array(H).fill(0));

  const out = tempDir('windcast-eval-q-');
  const files = await writeEvaluation(out, report);
  const json = JSON.parse(readFileSync(files.json, 'utf8'));
  assert.deepEqual(json.probabilistic.forecasters, p.forecasters);
  assert.equal(json.probabilistic.global.forecasters.model.sums.pinball.length, H);
  const md = readFileSync(files.markdown, 'utf8');
  assert.match(md, /## Probabilistic scores \(quantiles\)/);
  assert.match(md, /^\| \*\*model\*\* \| [\d.]+ \| [\d.]+ % \| [\d.]+ % \| [\d.]+ \| +\|$/m);
  assert.match(md, /^\| persistence \| [\d.]+ \| [\d.]+ % \| [\d.]+ % \| [\d.]+ \| -?[\d.]+ % \[-?[\d.]+, -?[\d.]+\] \|$/m);
  assert.match(md, /!\[crps\]\(crps_by_lead\.png\)/);
  for (const f of [files.crpsChart, files.coverageChart, files.pitChart, files.reliabilityChart, files.spreadSkillChart]) assert.ok(decodePng(readFileSync(f)).width > 400, f);
  for (const f of [files.crpsChartSvg, files.coverageChartSvg, files.pitChartSvg, files.reliabilityChartSvg, files.spreadSkillChartSvg, files.crpsChartSpec, files.coverageChartSpec, files.pitChartSpec, files.reliabilityChartSpec, files.spreadSkillChartSpec]) assert.ok(existsSync(f), f);
  assert.match(readFileSync(files.pitChartSvg, 'utf8'), /^<svg/);
  // The reliability diagram and the spread / skill chart draw the report's own numbers.
  const layerValues = (f: string) => (JSON.parse(readFileSync(f, 'utf8')) as { layer: { data: { values: Record<string, unknown>[] } }[] }).layer[1]!.data.values;
  const reliability = layerValues(files.reliabilityChartSpec).filter((v) => v.forecast === 'model');
  assert.deepEqual(reliability.map((v) => v.level), p.levels);
  assert.deepEqual(reliability.map((v) => v.observed), p.global.forecasters.model!.reliability);
  const spread = layerValues(files.spreadSkillChartSpec).filter((v) => v.forecast === 'persistence');
  assert.deepEqual(spread.map((v) => v.ratio), p.global.forecasters.persistence!.spreadSkill);
  assert.match(md, /!\[reliability\]\(reliability_diagram\.png\)/);
});

test('a point checkpoint keeps its report, says it has no quantiles, and gets the baselines at the default levels', async () => {
  const cube = makeCube({ hours: 300, step: 15, seed: 2 });
  const { dir, forecaster } = fakeCheckpoint(cube);
  const report = evaluateCube({ cube, forecaster, checkpointDir: dir, dataDir: '/fixture', settings: settings({ stride: 4, cellStride: 3 }), tf: noTf, backend: 'none', progress: silentProgress });
  const p = report.probabilistic;
  assert.equal(p.modelQuantiles, false);
  assert.deepEqual(p.levels, [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]);
  assert.deepEqual(p.forecasters, ['climatology', 'persistence', 'linear']);
  assert.deepEqual(p.global.skill, {});
  assert.deepEqual(report.forecasters, ['model', 'persistence', 'yesterday', 'climatology', 'linear', 'linear-speed']);
  const files = await writeEvaluation(tempDir('windcast-eval-p-'), report);
  assert.match(readFileSync(files.markdown, 'utf8'), /The checkpoint has no quantiles \(a point model\)/);
});
