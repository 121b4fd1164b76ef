import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crpsWeights, QuantileAccumulator, quantileCrps, spreadInterval } from '../src/evaluate/quantile-scores.js';
import { centralIntervals, pinball } from '../src/model/quantile-head.js';
import { normalQuantile } from '../src/model/quantile-head.js';
import { bootstrapRatioSkill } from '../src/evaluate/bootstrap.js';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} vs ${b}`);

test('pinball and CRPS of a 3-quantile forecast, worked by hand', () => {
  // Levels 0.25, 0.5, 0.75; tau cells [0, 0.375), [0.375, 0.625), [0.625, 1]: w = 0.375, 0.25, 0.375.
  // Quantiles 4, 5, 7 m/s and truth 6:
  //   pinball 0.25: y - q = 2 >= 0    -> 0.25 * 2           = 0.5
  //   pinball 0.5:  y - q = 1         -> 0.5 * 1            = 0.5
  //   pinball 0.75: y - q = -1 < 0    -> (0.75 - 1) * -1    = 0.25
  //   CRPS = 2 * (0.375 * 0.5 + 0.25 * 0.5 + 0.375 * 0.25) = 2 * 0.40625 = 0.8125
  const levels = [0.25, 0.5, 0.75];
  assert.deepEqual(crpsWeights(levels), [0.375, 0.25, 0.375]);
  assert.equal(pinball(0.25, 6, 4), 0.5);
  assert.equal(pinball(0.5, 6, 5), 0.5);
  assert.equal(pinball(0.75, 6, 7), 0.25);
  close(quantileCrps(levels, crpsWeights(levels), 6, [4, 5, 7]), 0.8125);
  // Two levels 0.1, 0.9: w = 0.5, 0.5. Quantiles 2, 8, truth 9: pinballs 0.1 * 7 = 0.7, 0.9 * 1 = 0.9;
  // CRPS = 2 * (0.5 * 0.7 + 0.5 * 0.9) = 1.6.
  close(quantileCrps([0.1, 0.9], crpsWeights([0.1, 0.9]), 9, [2, 8]), 1.6);
  // A sharp forecast at the truth scores 0; the default weights are the documented ones.
  assert.equal(quantileCrps(levels, crpsWeights(levels), 5, [5, 5, 5]), 0);
  crpsWeights([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]).forEach((w, k) => close(w, [0.075, 0.1, 0.2, 0.25, 0.2, 0.1, 0.075][k]!, 1e-12));
  assert.throws(() => crpsWeights([0.5, 0.25]), /rise strictly/);
});

test('the quantile CRPS of a calibrated Gaussian is 0.983 of its exact CRPS at the default levels', () => {
  // E pinball_tau(Y - z_tau) = phi(z_tau) for Y ~ N(0, 1), and the exact CRPS is 1 / sqrt(pi).
  const levels = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95];
  const w = crpsWeights(levels);
  const phi = (z: number) => Math.exp((-z * z) / 2) / Math.sqrt(2 * Math.PI);
  const expected = 2 * levels.reduce((s, t, k) => s + w[k]! * phi(normalQuantile(t)), 0);
  close(expected * Math.sqrt(Math.PI), 0.9834, 1e-4);
  // And the same by Monte Carlo through quantileCrps (a deterministic grid of truths).
  const q = levels.map(normalQuantile);
  let s = 0;
  const N = 20000;
  for (let i = 0; i < N; i++) s += quantileCrps(levels, w, normalQuantile((i + 0.5) / N), q);
  close(s / N, expected, 1e-3);
});

test('coverage, reliability and the PIT histogram on a constructed case', () => {
  const levels = [0.1, 0.25, 0.5, 0.75, 0.9];
  assert.deepEqual(centralIntervals(levels).map((i) => [i.lower, i.upper]), [[0, 4], [1, 3]]);
  const sp = spreadInterval(levels)!;
  assert.deepEqual([sp.lower, sp.upper], [0, 4]);
  // One cell, one lead, quantiles 1..5 every window; truths placed in each PIT bin:
  // bins (<1), [1,2), [2,3), [3,4), [4,5), (>=5); truths 0.5, 1.5, 2.5, 2.5, 3.5, 4.5, 6, 6, and one tie at 3.
  const truths = [0.5, 1.5, 2.5, 2.5, 3.5, 4.5, 6, 6, 3];
  const acc = new QuantileAccumulator({ names: ['f'], horizon: 1, levels });
  for (const y of truths) acc.add(Float32Array.of(y), [Float32Array.of(1, 2, 3, 4, 5)], [2]);
  const f = acc.result().global.forecasters.f!;
  // Below q_k (a tie counts 1/2): q=1: 1; q=2: 2; q=3: 4 + 0.5; q=4: 6; q=5: 7 of 9.
  const below = [1, 2, 4.5, 6, 7].map((c) => c / 9);
  f.below[0]!.forEach((b, k) => close(b, below[k]!));
  f.reliability.forEach((b, k) => close(b, below[k]!));
  close(f.coverage['80']![0]!, below[4]! - below[0]!);
  close(f.coverage['50']![0]!, below[3]! - below[1]!);
  close(f.mean.coverage['80']!, 6 / 9);
  // PIT density: bin frequency / bin width, bins [0, .1, .25, .5, .75, .9, 1].
  const widths = [0.1, 0.15, 0.25, 0.25, 0.15, 0.1];
  const freq = [1, 1, 2.5, 1.5, 1, 2].map((c) => c / 9);
  f.pit.forEach((d, b) => close(d, freq[b]! / widths[b]!));
  // The sums are weight 2 times the counts, and the weight is 2 per window.
  assert.equal(acc.result().global.weight[0], 18);
  close(f.sums.below[0]![2]!, 9);
  // Spread from the 80 % interval: (5 - 1) / (2 z_0.9); central error: median 3 against the truths.
  close(f.spread[0]!, 4 / (2 * normalQuantile(0.9)), 1e-12);
  close(f.centralRmse[0]!, Math.sqrt(truths.reduce((s, y) => s + (3 - y) ** 2, 0) / 9), 1e-12);
});

test('pairs with a NaN truth or quantile are excluded for every forecaster; groups and window sums add up', () => {
  const levels = [0.25, 0.5, 0.75];
  const acc = new QuantileAccumulator({ names: ['a', 'b'], horizon: 2, levels, groupNames: ['g0', 'g1'] });
  // Two cells x two leads; cell 1 lead 2 has a NaN quantile in b.
  const truth = Float32Array.of(6, 6, 6, 6);
  const a = Float32Array.of(4, 5, 7, 4, 5, 7, 4, 5, 7, 4, 5, 7);
  const b = Float32Array.of(6, 6, 6, 6, 6, 6, 6, 6, 6, NaN, 6, 6);
  acc.add(truth, [a, b], [1, 3], [0, 1]);
  const r = acc.result();
  assert.deepEqual(r.global.scored, [2, 1]);
  assert.deepEqual(r.global.excluded, [0, 1]);
  assert.deepEqual(r.global.weight, [4, 1]);
  close(r.global.forecasters.a!.crps[0]!, 0.8125);
  assert.equal(r.global.forecasters.b!.crps[0], 0);
  assert.deepEqual(r.groups[1]!.scored, [1, 0]);
  assert.ok(Number.isNaN(r.groups[1]!.forecasters.a!.crps[1]!));
  const ws = acc.windowSums();
  close(ws.sums[0]!, 4 * 0.8125);
  assert.equal(ws.weights[1], 1);
  // A forecaster that is the baseline has CRPS skill 0 with a [0, 0] interval.
  const acc2 = new QuantileAccumulator({ names: ['m', 'base'], horizon: 1, levels });
  for (let w = 0; w < 12; w++) acc2.add(Float32Array.of(w % 5), [Float32Array.of(1, 2, 3), Float32Array.of(1, 2, 3)], [1]);
  const boot = bootstrapRatioSkill({ stats: acc2.windowSums(), model: 'm', baselines: ['base'], blockWindows: 2, resamples: 50, seed: 1 });
  assert.deepEqual(boot.skill.base!.mean, [0, 0]);
});
