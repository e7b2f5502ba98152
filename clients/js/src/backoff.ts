/** The waits before the 1st, 2nd, 3rd and every later retry of a failed connect (API.md section 10). */
export const BACKOFF_MS: readonly number[] = [1000, 2000, 5000, 15000];

/** ±10 %: clients cut off together come back spread out, not as one wave. */
export const JITTER = 0.1;

/** Retry-After beyond this is treated as this: a proxy's "come back tomorrow" must not freeze a page. */
export const MAX_RETRY_AFTER_MS = 300_000;

/**
 * The wait before retry number `retry` (1-based) after a failed connect: 1 s, 2 s, 5 s, then 15 s, each ±10 %,
 * and never less than what the server asked for (`Retry-After`, `atLeastMs`).
 */
export function backoffDelay(retry: number, random: () => number = Math.random, atLeastMs = 0): number {
  const step = BACKOFF_MS[Math.min(Math.max(Math.floor(retry), 1), BACKOFF_MS.length) - 1];
  const jittered = step * (1 - JITTER + 2 * JITTER * random());
  return Math.round(Math.max(jittered, Math.min(atLeastMs, MAX_RETRY_AFTER_MS)));
}

/** A `Retry-After` header (delay-seconds or an HTTP date) in milliseconds from `nowMs`; 0 when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number {
  if (value == null) {
    return 0;
  }

  const text = value.trim();
  if (/^\d{1,9}$/.test(text)) {
    return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  }

  const at = Date.parse(text);
  return Number.isNaN(at) ? 0 : Math.min(Math.max(at - nowMs, 0), MAX_RETRY_AFTER_MS);
}
