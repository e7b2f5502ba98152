import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, parseRetryAfter } from '../src/backoff.js';
import { DOWN_AFTER_MS, STALE_AFTER_MS, healthOf, qualityOf } from '../src/health.js';

test('backoff is 1 s, 2 s, 5 s, then 15 s for every later retry', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 20].map((n) => backoffDelay(n, () => 0.5)), [1000, 2000, 5000, 15000, 15000, 15000]);
});

test('backoff jitter stays within ±10 %', () => {
  assert.deepEqual([backoffDelay(1, () => 0), backoffDelay(1, () => 0.999999)], [900, 1100]);
  assert.deepEqual([backoffDelay(4, () => 0), backoffDelay(4, () => 0.999999)], [13500, 16500]);
});

test('backoff is never shorter than Retry-After, which is capped at five minutes', () => {
  assert.equal(backoffDelay(1, () => 0.5, 7000), 7000);
  assert.equal(backoffDelay(4, () => 0.5, 7000), 15000);
  assert.equal(backoffDelay(1, () => 0.5, 3_600_000), 300_000);
});

test('Retry-After reads seconds and HTTP dates; anything else is 0', () => {
  const now = Date.UTC(2026, 11, 4, 12, 0, 0);
  assert.equal(parseRetryAfter('2', now), 2000);
  assert.equal(parseRetryAfter(' 30 ', now), 30000);
  assert.equal(parseRetryAfter(new Date(now + 5000).toUTCString(), now), 5000);
  assert.equal(parseRetryAfter(new Date(now - 5000).toUTCString(), now), 0);
  assert.equal(parseRetryAfter('soon', now), 0);
  assert.equal(parseRetryAfter('-1', now), 0);
  assert.equal(parseRetryAfter(null, now), 0);
  assert.equal(parseRetryAfter('99999999', now), 300_000);
});

test('health is ok under 30 s, stale from 30 s to 60 s, down beyond', () => {
  assert.deepEqual(
    [0, STALE_AFTER_MS - 1, STALE_AFTER_MS, DOWN_AFTER_MS, DOWN_AFTER_MS + 1].map(healthOf),
    ['ok', 'ok', 'stale', 'stale', 'down']);
});

test('quality: critical when down or spent, poor when stale or 3+ reconnects, good after 1-2, excellent otherwise', () => {
  assert.equal(qualityOf('ok', 0, false), 'excellent');
  assert.equal(qualityOf('ok', 1, false), 'good');
  assert.equal(qualityOf('ok', 2, false), 'good');
  assert.equal(qualityOf('ok', 3, false), 'poor');
  assert.equal(qualityOf('stale', 0, false), 'poor');
  assert.equal(qualityOf('down', 0, false), 'critical');
  assert.equal(qualityOf('ok', 0, true), 'critical');
});
