/** The SSE health widget's states (API.md section 10), judged by the age of the last event received alone. */
export type Health = 'ok' | 'stale' | 'down';

/** How good a connection has been lately, for a UI that wants one word. */
export type Quality = 'excellent' | 'good' | 'poor' | 'critical';

export const STALE_AFTER_MS = 30_000;
export const DOWN_AFTER_MS = 60_000;

/** Reconnects counted for quality are those of the last five minutes (as `/v1/sse/health`'s `reconnects_5m`). */
export const QUALITY_WINDOW_MS = 300_000;

/** ok under 30 s since the last event (heartbeats count), stale from 30 s to 60 s, down beyond. */
export function healthOf(lastEventAgeMs: number): Health {
  if (lastEventAgeMs > DOWN_AFTER_MS) {
    return 'down';
  }

  return lastEventAgeMs >= STALE_AFTER_MS ? 'stale' : 'ok';
}

/**
 * critical when down or the automatic retries are spent; poor when stale or after 3 or more reconnects in five
 * minutes; good after one or two; excellent otherwise.
 */
export function qualityOf(health: Health, recentReconnects: number, retriesSpent: boolean): Quality {
  if (retriesSpent || health === 'down') {
    return 'critical';
  }

  if (health === 'stale' || recentReconnects >= 3) {
    return 'poor';
  }

  return recentReconnects >= 1 ? 'good' : 'excellent';
}
