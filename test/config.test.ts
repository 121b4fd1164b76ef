import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_CONFIG_PATH, loadConfig, parseConfig, schemaDefaults } from '../src/core/config.js';
import { ConfigError } from '../src/core/errors.js';

test('config/default.json is exactly the schema defaults', () => {
  const file = JSON.parse(readFileSync(DEFAULT_CONFIG_PATH, 'utf8'));
  assert.deepEqual(file, schemaDefaults());
  assert.deepEqual(loadConfig(), schemaDefaults());
});

test('a partial file takes the rest from the schema', () => {
  const config = parseConfig({ train: { epochs: 3 } }, 'x.json');
  assert.equal(config.train.epochs, 3);
  assert.equal(config.train.batchSize, schemaDefaults().train.batchSize);
  assert.equal(config.synth.hours, 720);
});

test('an unknown key is an error naming the file and the key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'windcast-config-'));
  const path = join(dir, 'bad.json');
  writeFileSync(path, JSON.stringify({ train: { epochz: 3 } }));
  assert.throws(() => loadConfig(path), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /bad\.json/);
    assert.match(err.message, /epochz/);
    return true;
  });
});

test('a mistyped value names the key', () => {
  assert.throws(() => parseConfig({ synth: { hours: 'many' } }, 'cfg.json'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /cfg\.json/);
    assert.match(err.message, /synth\.hours/);
    return true;
  });
});

test('an unknown top-level section is refused', () => {
  assert.throws(() => parseConfig({ trian: {} }, 'c.json'), /trian/);
});

test('split fractions must add up to one', () => {
  assert.throws(() => parseConfig({ train: { split: [0.5, 0.1, 0.1] } }, 'c.json'), /add up to 1/);
});

test('a file that is not JSON names the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'windcast-config-'));
  const path = join(dir, 'broken.json');
  writeFileSync(path, '{ "train": ');
  assert.throws(() => loadConfig(path), /broken\.json: not valid JSON/);
});
