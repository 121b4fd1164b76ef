import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../src/core/errors.js';
import { anchorRange, periodOfHour, splitHours, windowHours } from '../src/prepare/split.js';
import { periodAnchors } from '../src/prepare/windows.js';

const base = { lookback: 24, horizon: 24, fractions: [0.7, 0.1, 0.2] as const };

test('720 hours split 70/10/20 in time order, covering every hour once', () => {
  const s = splitHours({ hours: 720, ...base });
  assert.deepEqual(s.train, { startHour: 0, endHour: 504 });
  assert.deepEqual(s.validation, { startHour: 504, endHour: 576 });
  assert.deepEqual(s.test, { startHour: 576, endHour: 720 });
  assert.equal(s.gapHours, 47);
});

test('no training or validation window touches a test hour, and no window touches two periods', () => {
  for (const hours of [480, 733, 720, 1000]) {
    for (const stride of [1, 5]) {
      const s = splitHours({ hours, ...base });
      for (const name of ['train', 'validation', 'test'] as const) {
        const anchors = periodAnchors(s, s[name], stride);
        assert.ok(anchors.length > 0, `${name} has windows (${hours} h)`);
        for (const t0 of anchors) {
          const { first, last } = windowHours(s, t0);
          assert.equal(periodOfHour(s, first), name, `window ${t0} starts in ${name}`);
          assert.equal(periodOfHour(s, last), name, `window ${t0} ends in ${name}`);
          if (name !== 'test') assert.ok(last < s.test.startHour, `${name} window ${t0} reaches test hour ${last}`);
        }
      }
      // The unused anchors between periods are the gap: lookback + horizon - 1 of them.
      const trainLast = anchorRange(s, s.train).last;
      const valFirst = anchorRange(s, s.validation).first;
      assert.equal(valFirst - trainLast - 1, s.gapHours);
    }
  }
});

test('too few hours for a window in a period is a ConfigError saying what is needed', () => {
  assert.throws(
    () => splitHours({ hours: 300, ...base }),
    (err: unknown) => err instanceof ConfigError && /validation period has 30 hours/.test(err.message) && /needs 48/.test(err.message),
  );
});

test('fractions need not be normalised to 1 exactly to split in proportion', () => {
  const s = splitHours({ hours: 1000, lookback: 24, horizon: 24, fractions: [0.8, 0.1, 0.1] });
  assert.equal(s.train.endHour, 800);
  assert.equal(s.validation.endHour, 900);
  assert.equal(s.test.endHour, 1000);
});
