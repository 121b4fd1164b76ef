import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockWindowsFor, bootstrapSkill } from '../src/evaluate/bootstrap.js';
import type { WindowStats } from '../src/evaluate/metrics.js';
import { makeRng } from '../src/prepare/windows.js';

const H = 3;

/**
 * Per-window MSEs of a model and baselines: window w, lead l, forecaster f gets
 * scale[f] * (1 + l) * (1 + 0.5 * e), e a standard normal draw that is shared across
 * forecasters with weight `shared` (weather that is hard for everyone) and follows an AR(1)
 * in time with coefficient `phi` (a hard week is hard every day).
 */
function stats(o: { windows: number; scale: number[]; seed: number; shared?: number; phi?: number }): WindowStats {
  const F = o.scale.length;
  const rng = makeRng(o.seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const shared = o.shared ?? 0.5;
  const phi = o.phi ?? 0;
  const mse = new Float64Array(o.windows * H * F);
  const state = new Float64Array(H * (F + 1));
  for (let w = 0; w < o.windows; w++) {
    for (let k = 0; k < state.length; k++) state[k] = phi * state[k]! + Math.sqrt(1 - phi * phi) * normal();
    for (let l = 0; l < H; l++) {
      for (let f = 0; f < F; f++) {
        const e = shared * state[l * (F + 1) + F]! + Math.sqrt(1 - shared * shared) * state[l * (F + 1) + f]!;
        mse[(w * H + l) * F + f] = o.scale[f]! * (1 + l) * Math.max(0.05, 1 + 0.5 * e);
      }
    }
  }
  return { names: ['model', 'base', 'twin'].slice(0, F), horizon: H, windows: o.windows, mse, scored: new Uint8Array(o.windows * H).fill(1) };
}

/** The point estimate, computed the way the report does: from the RMSEs over all windows. */
function pointSkill(s: WindowStats, b: number): { mean: number; perLead: number[] } {
  const F = s.names.length;
  const rmse = (f: number, l: number) => {
    let sum = 0;
    for (let w = 0; w < s.windows; w++) sum += s.mse[(w * H + l) * F + f]!;
    return Math.sqrt(sum / s.windows);
  };
  const perLead = Array.from({ length: H }, (_, l) => 1 - rmse(0, l) / rmse(b, l));
  const mean = (f: number) => Array.from({ length: H }, (_, l) => rmse(f, l)).reduce((a, x) => a + x, 0) / H;
  return { mean: 1 - mean(0) / mean(b), perLead };
}

const width = (i: [number, number]) => i[1] - i[0];

test('the interval is reproducible for a seed and contains the point estimate, per lead and on the mean', () => {
  const s = stats({ windows: 300, scale: [0.8, 1], seed: 1 });
  const run = (seed: number) => bootstrapSkill({ stats: s, model: 'model', baselines: ['base'], blockWindows: 8, resamples: 500, seed });
  const a = run(7);
  assert.deepEqual(run(7), a);
  assert.notDeepEqual(run(8).skill.base!.mean, a.skill.base!.mean);
  assert.equal(a.blocks, Math.ceil(300 / 8));
  const point = pointSkill(s, 1);
  const inside = (i: [number, number], v: number, what: string) => assert.ok(i[0] < v && v < i[1], `${what}: ${v} outside [${i[0]}, ${i[1]}]`);
  inside(a.skill.base!.mean, point.mean, 'mean');
  a.skill.base!.perLead.forEach((i, l) => inside(i, point.perLead[l]!, `lead ${l + 1}`));
  // A true skill near 1 - sqrt(0.8) = 10.6 %: the interval is around it and excludes 0.
  assert.ok(a.skill.base!.mean[0] > 0.05 && a.skill.base!.mean[1] < 0.16, `${a.skill.base!.mean}`);
});

test('the interval shrinks with more windows', () => {
  const interval = (windows: number) =>
    bootstrapSkill({ stats: stats({ windows, scale: [0.9, 1], seed: 2 }), model: 'model', baselines: ['base'], blockWindows: 4, resamples: 400, seed: 3 }).skill.base!.mean;
  const few = width(interval(50));
  const many = width(interval(800));
  // Sixteen times the windows: about a quarter of the width.
  assert.ok(many < 0.5 * few, `width with 50 windows ${few}, with 800 ${many}`);
});

test('a model equal to a baseline has skill 0 with an interval at 0; one as good gets an interval around 0', () => {
  const s = stats({ windows: 200, scale: [1, 1.1, 1], seed: 4 });
  // 'twin' has scale 1 like the model but its own errors; make a second copy identical to the model.
  const same: WindowStats = { ...s, mse: s.mse.slice() };
  for (let i = 0; i < same.mse.length; i += 3) same.mse[i + 2] = same.mse[i]!;
  const exact = bootstrapSkill({ stats: same, model: 'model', baselines: ['twin'], blockWindows: 5, resamples: 200, seed: 1 }).skill.twin!;
  assert.deepEqual(exact.mean, [0, 0]);
  exact.perLead.forEach((i) => assert.deepEqual(i, [0, 0]));
  const twin = bootstrapSkill({ stats: s, model: 'model', baselines: ['twin'], blockWindows: 5, resamples: 1000, seed: 1 }).skill.twin!;
  assert.ok(twin.mean[0] < 0 && twin.mean[1] > 0, `${twin.mean}`);
  assert.ok(width(twin.mean) < 0.1, `${twin.mean}`);
});

test('blocks carry the dependence between neighbouring windows: single windows understate it', () => {
  // Strongly persistent difficulty (phi 0.95, unshared between forecasters): the skill varies
  // slowly through the test period, and resampling single windows hides how slowly.
  const s = stats({ windows: 2000, scale: [0.9, 1], seed: 5, shared: 0, phi: 0.95 });
  const interval = (blockWindows: number) => bootstrapSkill({ stats: s, model: 'model', baselines: ['base'], blockWindows, resamples: 400, seed: 6 }).skill.base!.mean;
  const single = width(interval(1));
  const blocked = width(interval(100));
  assert.ok(blocked > 2 * single, `block of 1: ${single}, of 100: ${blocked}`);
});

test('windows never scored at a lead leave that lead without an interval; block length from hours', () => {
  const s = stats({ windows: 40, scale: [0.9, 1], seed: 7 });
  for (let w = 0; w < 40; w++) s.scored[w * H + 2] = 0;
  const r = bootstrapSkill({ stats: s, model: 'model', baselines: ['base'], blockWindows: 4, resamples: 100, seed: 1 });
  assert.ok(r.skill.base!.perLead[2]!.every(Number.isNaN));
  assert.ok(r.skill.base!.perLead[0]!.every(Number.isFinite));
  assert.ok(r.skill.base!.mean.every(Number.isNaN), 'the lead mean needs every lead');
  // A test period of fewer than 5 blocks has no interval: each resample would be nearly it again.
  const few = bootstrapSkill({ stats: s, model: 'model', baselines: ['base'], blockWindows: 10, resamples: 100, seed: 1 });
  assert.equal(few.blocks, 4);
  assert.ok(few.skill.base!.mean.every(Number.isNaN) && few.skill.base!.perLead[0]!.every(Number.isNaN));
  const five = bootstrapSkill({ stats: s, model: 'model', baselines: ['base'], blockWindows: 8, resamples: 100, seed: 1 });
  assert.equal(five.blocks, 5);
  assert.ok(five.skill.base!.perLead[0]!.every(Number.isFinite));
  assert.equal(blockWindowsFor(96, 6), 16);
  assert.equal(blockWindowsFor(96, 1), 96);
  assert.equal(blockWindowsFor(96, 200), 1);
  assert.throws(() => bootstrapSkill({ stats: s, model: 'nobody', baselines: ['base'], blockWindows: 4, resamples: 100, seed: 1 }), /no forecaster named 'nobody'/);
});
