import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScoreAccumulator, scoreForecasts, skillScore } from '../src/evaluate/metrics.js';
import { latitudeWeights } from '../src/evaluate/regions.js';
import type { GridSpec } from '../src/core/grid.js';

function close(actual: number, expected: number, what = '', tol = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} != ${expected}`);
}

// Three cells in one column: rows at 90N (pole), the equator, 90S (pole).
// Weights, hand-computed: a = 1.5 (1 - sin 45), b = 1.5 * 2 sin 45, a + b + a = 3.
const s45 = Math.SQRT1_2;
const a = 1.5 * (1 - s45);
const b = 1.5 * 2 * s45;
const grid: GridSpec = { width: 1, height: 3, lon0: 0, lat0: 90, dLon: 360, dLat: 90, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 };
const weights = latitudeWeights(grid);
// Groups: 0 = polar, 1 = tropics.
const groups = [0, 1, 0];

test('the weights used here are the hand-computed ones', () => {
  close(weights[0]!, a, 'pole');
  close(weights[1]!, b, 'equator');
});

test('hand-computed RMSE, MAE and bias over two windows with a NaN truth and a NaN forecast', () => {
  const acc = new ScoreAccumulator({ names: ['model', 'persistence'], horizon: 2, groupNames: ['polar', 'tropics'] });
  // Window 1 (layout cell * 2 + lead - 1). Cell 2 has no truth at lead 2.
  const truth1 = Float32Array.from([1, 2, 3, 4, 5, NaN]);
  const model1 = Float32Array.from([2, 2, 3, 6, 4, 1]); // errors (1, 0), (0, 2), (-1, -)
  const pers1 = Float32Array.from([1, 1, 3, 3, 5, 5]); // errors (0, -1), (0, -1), (0, -)
  acc.add(truth1, [model1, pers1], weights, groups);
  // Window 2: the model is 1 too high everywhere; persistence has no value for cell 1 at lead 1.
  const truth2 = Float32Array.from([0, 0, 0, 0, 0, 0]);
  const model2 = Float32Array.from([1, 1, 1, 1, 1, 1]);
  const pers2 = Float32Array.from([2, 2, NaN, 2, 2, 2]);
  acc.add(truth2, [model2, pers2], weights, groups);
  const r = acc.result();

  assert.equal(r.windows, 2);
  // Lead 1. Window 1: all three cells, weights sum to 3. Window 2: cell 1 excluded (NaN persistence).
  const mse1w1 = (a * 1 + b * 0 + a * 1) / 3;
  const mse1w2 = (a + a) / (2 * a);
  close(r.global.forecasters.model!.rmse[0]!, Math.sqrt((mse1w1 + mse1w2) / 2), 'model rmse +1');
  close(r.global.forecasters.model!.mae[0]!, (2 * a / 3 + 1) / 2, 'model mae +1');
  close(r.global.forecasters.model!.bias[0]!, (0 + 1) / 2, 'model bias +1');
  close(r.global.forecasters.persistence!.rmse[0]!, Math.sqrt((0 + 4) / 2), 'persistence rmse +1');
  close(r.global.forecasters.persistence!.bias[0]!, (0 + 2) / 2, 'persistence bias +1');
  // Lead 2. Window 1: cell 2 excluded (NaN truth), weights a + b. Window 2: all cells.
  const mse2w1 = (a * 0 + b * 4) / (a + b);
  close(r.global.forecasters.model!.rmse[1]!, Math.sqrt((mse2w1 + 1) / 2), 'model rmse +2');
  close(r.global.forecasters.model!.mae[1]!, ((2 * b) / (a + b) + 1) / 2, 'model mae +2');
  close(r.global.forecasters.model!.bias[1]!, ((2 * b) / (a + b) + 1) / 2, 'model bias +2');
  close(r.global.forecasters.persistence!.rmse[1]!, Math.sqrt((1 + 4) / 2), 'persistence rmse +2');
  close(r.global.forecasters.persistence!.bias[1]!, (-1 + 2) / 2, 'persistence bias +2');
  // The per-window statistics the bootstrap resamples: each window's weighted spatial MSE.
  const ws = acc.windowStats();
  assert.deepEqual([ws.windows, ws.horizon, ws.names], [2, 2, ['model', 'persistence']]);
  assert.deepEqual([...ws.scored], [1, 1, 1, 1]);
  close(ws.mse[(0 * 2 + 0) * 2 + 0]!, mse1w1, 'window 1 lead 1 model');
  close(ws.mse[(1 * 2 + 0) * 2 + 0]!, mse1w2, 'window 2 lead 1 model');
  close(ws.mse[(0 * 2 + 1) * 2 + 0]!, mse2w1, 'window 1 lead 2 model');
  close(ws.mse[(1 * 2 + 0) * 2 + 1]!, 4, 'window 2 lead 1 persistence');
  // Lead-averaged values are the plain means over leads.
  const m = r.global.forecasters.model!;
  close(m.mean.rmse, (m.rmse[0]! + m.rmse[1]!) / 2, 'mean rmse');

  // Exclusions are counted per lead, with the reason.
  assert.deepEqual(r.global.excluded, [1, 1]);
  assert.deepEqual(r.global.scored, [5, 5]);
  assert.deepEqual(r.global.windows, [2, 2]);
  assert.equal(r.exclusions.truthNotFinite, 1);
  assert.deepEqual(r.exclusions.forecastNotFinite, { model: 0, persistence: 1 });

  // Polar group: cells 0 and 2 (equal weights). Lead 1, window 1: errors 1 and -1.
  const polar = r.groups[0]!;
  assert.equal(polar.name, 'polar');
  close(polar.forecasters.model!.rmse[0]!, 1, 'polar rmse +1');
  close(polar.forecasters.model!.bias[0]!, (0 + 1) / 2, 'polar bias +1');
  // Lead 2, window 1: only cell 0 with error 0; window 2: error 1.
  close(polar.forecasters.model!.rmse[1]!, Math.sqrt(0.5), 'polar rmse +2');
  assert.deepEqual(polar.excluded, [0, 1]);
  // Tropics: cell 1 only. Lead 1: window 2 excluded, so only window 1 (error 0) counts.
  const tropics = r.groups[1]!;
  assert.deepEqual(tropics.windows, [1, 2]);
  close(tropics.forecasters.model!.rmse[0]!, 0, 'tropics rmse +1');
  close(tropics.forecasters.model!.rmse[1]!, Math.sqrt((4 + 1) / 2), 'tropics rmse +2');
});

test('RMSE is the root of the time-mean MSE, not the mean of per-window RMSEs', () => {
  const w = [1];
  const r = scoreForecasts({ names: ['f'], horizon: 1 }, [
    { truth: Float32Array.of(0), forecasts: [Float32Array.of(3)], weights: w },
    { truth: Float32Array.of(0), forecasts: [Float32Array.of(4)], weights: w },
  ]);
  close(r.global.forecasters.f!.rmse[0]!, Math.sqrt((9 + 16) / 2), 'rmse');
  close(r.global.forecasters.f!.mae[0]!, 3.5, 'mae');
});

test('a lead with no scorable pair is NaN, not zero', () => {
  const r = scoreForecasts({ names: ['f'], horizon: 2 }, [
    { truth: Float32Array.of(1, NaN), forecasts: [Float32Array.of(2, 2)], weights: [1] },
  ]);
  close(r.global.forecasters.f!.rmse[0]!, 1, 'lead 1');
  assert.ok(Number.isNaN(r.global.forecasters.f!.rmse[1]));
  assert.ok(Number.isNaN(r.global.forecasters.f!.mean.rmse));
  assert.deepEqual(r.global.windows, [1, 0]);
});

test('uniform errors give the same score whatever the weights', () => {
  const r = scoreForecasts({ names: ['f'], horizon: 1 }, [
    { truth: Float32Array.of(0, 0, 0), forecasts: [Float32Array.of(2, -2, 2)], weights: weights },
  ]);
  close(r.global.forecasters.f!.rmse[0]!, 2, 'rmse');
  close(r.global.forecasters.f!.bias[0]!, (2 * a - 2 * b + 2 * a) / 3, 'bias weighted');
});

test('skill is 1 - RMSE / RMSE_baseline per lead and on the lead means', () => {
  const r = scoreForecasts({ names: ['model', 'base'], horizon: 2 }, [
    { truth: Float32Array.of(0, 0), forecasts: [Float32Array.of(1, 1), Float32Array.of(2, 4)], weights: [1] },
  ]);
  const s = skillScore(r.global.forecasters.model!, r.global.forecasters.base!);
  close(s.perLead[0]!, 0.5, 'lead 1');
  close(s.perLead[1]!, 0.75, 'lead 2');
  close(s.mean, 1 - 1 / 3, 'mean');
  const zero = scoreForecasts({ names: ['model', 'base'], horizon: 1 }, [
    { truth: Float32Array.of(0), forecasts: [Float32Array.of(1), Float32Array.of(0)], weights: [1] },
  ]);
  assert.ok(Number.isNaN(skillScore(zero.global.forecasters.model!, zero.global.forecasters.base!).perLead[0]));
});

test('shape mistakes are refused', () => {
  const acc = new ScoreAccumulator({ names: ['f'], horizon: 2 });
  assert.throws(() => acc.add(Float32Array.of(1), [Float32Array.of(1, 2)], [1]), /truth has 1 values/);
  assert.throws(() => acc.add(Float32Array.of(1, 2), [], [1]), /expected 1 forecasts/);
  assert.throws(() => new ScoreAccumulator({ names: ['f', 'f'], horizon: 1 }), /unique/);
  const grouped = new ScoreAccumulator({ names: ['f'], horizon: 1, groupNames: ['x'] });
  assert.throws(() => grouped.add(Float32Array.of(1), [Float32Array.of(1)], [1]), /group index/);
});

test('a group with no cells (a regional grid without polar rows) scores NaN, not zero', () => {
  const r = scoreForecasts({ names: ['f'], horizon: 1, groupNames: ['tropics', 'polar'] }, [
    { truth: Float32Array.of(1, 2), forecasts: [Float32Array.of(2, 2)], weights: [1, 1], groups: [0, 0] },
  ]);
  close(r.groups[0]!.forecasters.f!.rmse[0]!, Math.sqrt(0.5), 'tropics');
  assert.ok(Number.isNaN(r.groups[1]!.forecasters.f!.rmse[0]));
  assert.deepEqual(r.groups[1]!.windows, [0]);
  assert.deepEqual(r.groups[1]!.scored, [0]);
});

test('per-window statistics keep every window in order, however many, and mark unscored leads', () => {
  const acc = new ScoreAccumulator({ names: ['model'], horizon: 2 });
  const one = [1];
  for (let w = 0; w < 130; w++) acc.add(Float32Array.of(0, w % 7 === 0 ? NaN : 0), [Float32Array.of(w, w)], one);
  const ws = acc.windowStats();
  assert.equal(ws.windows, 130);
  assert.equal(ws.mse.length, 130 * 2);
  for (let w = 0; w < 130; w++) {
    assert.equal(ws.mse[w * 2], w * w);
    assert.equal(ws.scored[w * 2 + 1], w % 7 === 0 ? 0 : 1);
    assert.equal(ws.mse[w * 2 + 1], w % 7 === 0 ? 0 : w * w);
  }
  // The RMSE of a lead is the root of the mean of the windows' MSEs over the windows scored there.
  const r = acc.result();
  let sum = 0;
  let n = 0;
  for (let w = 0; w < 130; w++) if (ws.scored[w * 2 + 1]) (sum += ws.mse[w * 2 + 1]!, n++);
  close(r.global.forecasters.model!.rmse[1]!, Math.sqrt(sum / n), 'lead 2');
});
