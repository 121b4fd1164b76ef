/**
 * The prefetch helper (runtime/prefetch.ts) on a fixture worker: jobs are consumed in order from
 * alternating slots; slot k+1 is filled while slot k is consumed; an error thrown on the thread
 * rejects with its class and message; close() ends the thread and settles what was pending.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataError } from '../src/core/errors.js';
import { doubleBuffered, Prefetcher, type Slot } from '../src/runtime/prefetch.js';
import type { FixtureFill, FixtureSetup } from './pool-fixture.worker.js';

const FIXTURE = new URL('./pool-fixture.worker.js', import.meta.url);

function start() {
  const slots: [Int32Array, Int32Array] = [new Int32Array(new SharedArrayBuffer(64)), new Int32Array(new SharedArrayBuffer(64))];
  const prefetcher = Prefetcher.start<FixtureFill, { slot: Slot; value: number }>({ worker: FIXTURE, role: 'fixture', workerData: { slots } satisfies FixtureSetup });
  return { slots, prefetcher };
}

/** Wait (up to 5 s) until the slot holds value: the thread writes it while this thread waits. */
async function filledWith(slot: Int32Array, value: number): Promise<boolean> {
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    if (slot.every((v) => v === value)) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return false;
}

test('jobs are consumed in order from alternating slots, the next one filled while this one is consumed', async () => {
  const { slots, prefetcher } = start();
  try {
    const jobs: FixtureFill[] = Array.from({ length: 7 }, (_, k) => ({ value: 100 + k }));
    const consumed: Array<[Slot, number]> = [];
    const count = await doubleBuffered(prefetcher, jobs, async (slot, job, filled) => {
      assert.deepEqual(filled, { slot, value: job.value }, 'the answer is for this slot and job');
      assert.ok(slots[slot].every((v) => v === job.value), `slot ${slot} holds job ${job.value}`);
      const k = consumed.length;
      consumed.push([slot, job.value]);
      // While job k is consumed here, the thread fills job k+1 into the other slot.
      if (k + 1 < jobs.length) assert.ok(await filledWith(slots[1 - slot]!, jobs[k + 1]!.value), `job ${k + 1} filled during job ${k}`);
      // ...and leaves this slot alone until it is handed back.
      assert.ok(slots[slot].every((v) => v === job.value), `slot ${slot} untouched while consumed`);
    });
    assert.equal(count, 7);
    assert.deepEqual(consumed, jobs.map((j, k) => [k % 2, j.value]));
  } finally {
    await prefetcher.close();
  }
});

test('consume returning false stops early', async () => {
  const { prefetcher } = start();
  try {
    const jobs: FixtureFill[] = Array.from({ length: 5 }, (_, k) => ({ value: k }));
    const seen: number[] = [];
    assert.equal(await doubleBuffered(prefetcher, jobs, (_slot, job) => (seen.push(job.value), job.value < 2)), 3);
    assert.deepEqual(seen, [0, 1, 2]);
  } finally {
    await prefetcher.close();
  }
});

test('an error thrown on the thread rejects the run with its class and message', async () => {
  const { prefetcher } = start();
  try {
    const seen: number[] = [];
    await assert.rejects(
      doubleBuffered(prefetcher, [{ value: 1 }, { value: 2, fail: 'window 2' }, { value: 3 }], (_slot, job) => {
        seen.push(job.value);
      }),
      (e: unknown) => e instanceof DataError && e.message === 'window 2: cannot be gathered',
    );
    assert.deepEqual(seen, [1], 'nothing after the failed fill is consumed');
    // The thread still serves fills after a failed one.
    assert.deepEqual(await prefetcher.fill(0, { value: 9 }), { slot: 0, value: 9 });
  } finally {
    await prefetcher.close();
  }
});

test('close: an outstanding fill resolves to null, later fills too, closing twice is harmless', async () => {
  const { prefetcher } = start();
  const outstanding = prefetcher.fill(1, { value: 5 });
  await prefetcher.close();
  assert.equal(await outstanding, null);
  assert.equal(await prefetcher.fill(0, { value: 6 }), null);
  await prefetcher.close();
});
