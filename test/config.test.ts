import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { DEFAULTS, keyChoices, loadConfig, parseConfig, schemaDefaults } from '../src/core/config.js';
import { CheckpointMetaSchema, readMeta } from '../src/model/checkpoint.js';
import { CheckpointError, ConfigError } from '../src/core/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'windcast-config-'));

/**
 * Every default, written out: what config/default.json held before the schema became the only
 * source, plus the defaults that were literals in code (train.linearFitWindows,
 * evaluate.linearLookback, evaluate.linearSampleCells, runtime.modelsDir) and train.backend
 * moved to runtime.backend. Changing a default means changing this table on purpose.
 */
const PINNED = {
  synth: { hours: 720, seed: 42, start: '2024-01-01T00Z', step: 0.25, bbox: null, bands: 'speed', compress: 'deflate', lon180: false },
  ingest: { timePattern: 'auto', glob: '*.tif', cacheEncoding: 'float32', cache: true, workers: 0, targetHeight: 'auto', variables: null },
  model: {
    lookback: 24, horizon: 24, units: 64, layers: 1, dropout: 0, ringsDeg: [0.25, 1, 4],
    predictDelta: true, normalization: 'cell', linearSkip: true, linearPath: 'full', linearFrozen: true, useUV: true, lstm: 'fast', quantiles: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95],
  },
  train: {
    epochs: 24, samplesPerEpoch: 300000, maxPassesPerEpoch: 0.5, validationSamples: 60000, batchSize: 4096,
    learningRate: 0.001, lrDecay: 0.5, lrPatience: 3, patience: 6, split: [0.7, 0.1, 0.2], stride: 1, sampler: 'uniform', seed: 42,
    linearFitWindows: 50000, quantileEpochs: 4, quantileSamples: 100000, quantileLearningRate: 3e-3,
  },
  predict: { batchCells: 8192, multiband: false, png: false, interpolation: 'bilinear', compress: 'deflate', turbine: null, hubHeight: null, airDensity: 'auto', capacityFactorMaps: false, quantileMaps: true, engine: 'auto' },
  evaluate: {
    stride: 6, cellStride: 4, ridgeLambda: 0.001, linearLookback: 24, linearSampleCells: 4096,
    climatologyWindowDays: 61, bootstrapBlockHours: 96, bootstrapResamples: 1000, bootstrapSeed: 42, turbine: null, hubHeight: null,
  },
  runtime: { backend: 'auto', modelsDir: 'models', inferencePrecision: 'fp32', memoryBudget: null },
};

test('the schema defaults are pinned: none changes silently', () => {
  assert.deepEqual(schemaDefaults(), PINNED);
  assert.deepEqual(DEFAULTS, PINNED);
  assert.deepEqual(loadConfig(), PINNED, 'without --config every value is the schema default');
});

test('no defaults file restates the schema', () => {
  assert.equal(existsSync(fileURLToPath(new URL('../../config/default.json', import.meta.url))), false);
});

test('DEFAULTS cannot be changed by a caller; schemaDefaults() is a fresh copy', () => {
  assert.throws(() => {
    (DEFAULTS.train as { epochs: number }).epochs = 1;
  }, TypeError);
  const mine = schemaDefaults();
  mine.model.ringsDeg.push(8);
  assert.deepEqual(schemaDefaults().model.ringsDeg, [0.25, 1, 4]);
});

test('a config file with keys left out takes the rest from the schema', () => {
  const path = join(tmp(), 'partial.json');
  writeFileSync(path, JSON.stringify({ train: { epochs: 3 }, runtime: { backend: 'cpu' } }));
  const expected = structuredClone(PINNED);
  expected.train.epochs = 3;
  expected.runtime.backend = 'cpu';
  assert.deepEqual(loadConfig(path), expected);
});

test('an unknown key is one line naming the file and the key', () => {
  const path = join(tmp(), 'bad.json');
  writeFileSync(path, JSON.stringify({ train: { epochz: 3 } }));
  assert.throws(() => loadConfig(path), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, `${path}: invalid configuration: train.epochz: unknown key`);
    return true;
  });
});

test('a mistyped value names the key path and the problem', () => {
  assert.throws(() => parseConfig({ synth: { hours: 'many' } }, 'cfg.json'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, 'cfg.json: invalid configuration: synth.hours: expected number, received string');
    return true;
  });
  assert.throws(() => parseConfig({ train: { split: [0.5, 'x', 0.5] } }, 'c.json'), {
    message: 'c.json: invalid configuration: train.split[1]: expected number, received string',
  });
});

test('several problems are joined with "; " on one line, and a long list is cut with a count', () => {
  const raw = { trian: {}, synth: { hours: 0, bands: 'wind' }, model: { units: -1, layers: 9, dropout: 2, lstm: 'slow' } };
  assert.throws(() => parseConfig(raw, 'c.json'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.ok(!err.message.includes('\n'), err.message);
    assert.match(err.message, /^c\.json: invalid configuration: /);
    const problems = err.message.replace(/^c\.json: invalid configuration: /, '').split('; ');
    assert.equal(problems.length, 7, err.message);
    assert.equal(problems[6], 'and 1 more');
    assert.equal(problems[0], 'trian: unknown key', 'unknown keys first');
    assert.ok(problems.includes('synth.bands: expected one of "speed"|"uv"'), err.message);
    assert.ok(problems.some((p) => p.startsWith('synth.hours: too small')), err.message);
    return true;
  });
});

test('a file that is not an object, or not JSON, names the file', () => {
  const dir = tmp();
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{ "train": ');
  assert.throws(() => loadConfig(broken), /broken\.json: not valid JSON/);
  const list = join(dir, 'list.json');
  writeFileSync(list, '[1]');
  assert.throws(() => loadConfig(list), { message: `${list}: invalid configuration: top level: expected object, received array` });
  assert.throws(() => loadConfig(join(dir, 'missing.json')), /missing\.json: cannot read config file/);
});

test('split fractions must add up to one', () => {
  assert.throws(() => parseConfig({ train: { split: [0.5, 0.1, 0.1] } }, 'c.json'), /add up to 1/);
});

test('train.backend from an older config is refused with where it went', () => {
  const path = join(tmp(), 'old.json');
  writeFileSync(path, JSON.stringify({ train: { epochs: 2, backend: 'wasm' } }));
  assert.throws(() => loadConfig(path), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, `${path}: train.backend is now runtime.backend (it picks the backend of every command): write "runtime": {"backend": "wasm"} instead`);
    return true;
  });
  assert.equal(parseConfig({ runtime: { backend: 'wasm' } }, 'new.json').runtime.backend, 'wasm');
});

test('enum keys give their values (the CLI choices); other keys none', () => {
  assert.deepEqual(keyChoices('runtime', 'backend'), ['auto', 'tensorflow', 'wasm', 'cpu']);
  assert.deepEqual(keyChoices('synth', 'bands'), ['speed', 'uv']);
  assert.equal(keyChoices('synth', 'hours'), undefined);
  assert.equal(keyChoices('synth', 'bbox'), undefined);
});

test('checkpoints written with train.backend in their config still validate', () => {
  const stored = CheckpointMetaSchema.shape.config.parse({ model: {}, train: { ...PINNED.train, backend: 'auto' } });
  assert.equal(stored.train.backend, 'auto');
  assert.equal(stored.train.epochs, PINNED.train.epochs);
  assert.throws(() => CheckpointMetaSchema.shape.config.parse({ model: {}, train: { backend: 'gpu' } }));
});

test('invalid checkpoint metadata is one line naming meta.json and each bad key', () => {
  const dir = join(tmp(), 'best');
  mkdirSync(dir);
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ format: 'windcast-checkpoint', formatVersion: 2 }));
  assert.throws(() => readMeta(dir), (err: unknown) => {
    assert.ok(err instanceof CheckpointError);
    assert.ok(!err.message.includes('\n'), err.message);
    assert.ok(err.message.startsWith(`${join(dir, 'meta.json')}: invalid checkpoint metadata: formatVersion: expected 1; kind: expected one of "last"|"best"; run: missing (expected string); `), err.message);
    assert.match(err.message, /; and \d+ more$/);
    return true;
  });
});
