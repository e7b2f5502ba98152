import { backoffDelay, parseRetryAfter } from './backoff.js';
import { type Clock, type TimerHandle, systemClock } from './clock.js';
import { type Health, type Quality, QUALITY_WINDOW_MS, healthOf, qualityOf } from './health.js';

/**
 * What a UI shows. `connecting` (the first connect), `open`, `reconnecting` (between connections), `stale` and `down`
 * (nothing received for 30 s / 60 s, or `down` when the automatic retries are spent), `closed` (the stream ended, the
 * credential or stream is gone, or the caller closed it).
 */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'stale' | 'down' | 'closed';

/** Why a subscription is closed. */
export type CloseReason = 'complete' | 'closed' | 'unauthorized' | 'not_found' | 'bad_request' | 'credential_revoked' | 'credential_expired';

/** One event as the server sent it; `id` is null for the server's id-less notices (`history_truncated`, ...). */
export interface SluiceEvent {
  readonly id: number | null;
  readonly type: string;
  readonly data: unknown;
}

/** The data of the contract's event types (API.md section 4), for {@link isEvent}. */
export interface EventDataMap {
  token: { text: string };
  tool: { call_id: string; name: string; arguments: unknown };
  citation: { index: number; source?: string; title?: string; url?: string; quote?: string };
  done: { finish_reason: 'stop' | 'length' | 'tool_calls' | 'cancelled'; usage?: { input_tokens?: number; output_tokens?: number }; ttft_ms?: number; e2e_ms?: number; provider?: string; model?: string };
  error: { code: string; message?: string; retryable?: boolean; first_available_id?: number; last_id?: number };
  safe_response: { text: string; reason: 'contract_violation' | 'content_filter' };
}

/** An event whose type is one of the contract's, with its data typed. */
export interface TypedEvent<K extends keyof EventDataMap> extends SluiceEvent {
  readonly type: K;
  readonly data: EventDataMap[K];
}

/** Narrows an event to one of the contract's types: `if (isEvent(e, 'token')) output.append(e.data.text)`. */
export function isEvent<K extends keyof EventDataMap>(event: SluiceEvent, type: K): event is TypedEvent<K> {
  return event.type === type && typeof event.data === 'object' && event.data !== null;
}

/** A fresh events URL, from `POST /v1/{streams|generations}/{id}/tokens` or the application's own backend. */
export interface TokenGrant {
  readonly events_url: string;
  readonly expires_at?: string | null;
}

export interface ConnectionSnapshot {
  readonly state: ConnectionState;
  readonly health: Health;
  readonly quality: Quality;
  /** Connection attempts after the first one (the browser's own reconnects and this client's). */
  readonly reconnects: number;
  /** Failed connects in a row; reset by a successful one. */
  readonly failedAttempts: number;
  /** True when the automatic retries are spent: the page offers `retry()`. */
  readonly retriesSpent: boolean;
  readonly lastEventId: number;
  /** Milliseconds since the last event (heartbeats count), or since the subscription started when none came yet. */
  readonly lastEventAgeMs: number;
  readonly closeReason: CloseReason | null;
}

/** The part of a browser `EventSource` this client uses; a test hands in a fake. */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: Event | MessageEvent) => void): void;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

export interface SubscribeOptions {
  onEvent?: (event: SluiceEvent) => void;
  onState?: (snapshot: ConnectionSnapshot) => void;
  /** Returns a fresh events URL; called before the token expires and after a `credential_expired` end (or a 401). */
  refresh?: () => Promise<TokenGrant | string>;
  /** When the URL's access token expires (the `expires_at` of the grant), so it is refreshed in time. */
  expiresAt?: string | number | Date | null;
  /** Resume after this id (events at or below it are never delivered). */
  lastEventId?: number;
  /** Failed connects retried automatically before the client waits for `retry()`; default 8. */
  maxRetries?: number;
  /** A connect that gives no response headers within this is a failed attempt; default 10 s. */
  connectTimeoutMs?: number;
  /** The server's heartbeat interval until two heartbeats show it; silence for three of them reconnects. Default 15 s. */
  heartbeatMs?: number;
  /** Custom event types (`x-...`) to deliver besides the contract's own. */
  types?: readonly string[];
  clock?: Clock;
  random?: () => number;
  eventSource?: EventSourceFactory;
  fetch?: typeof globalThis.fetch;
}

/** The target of `subscribe`: an events URL, or a stream or generation on a Sluice base URL with an access token. */
export type SubscribeTarget =
  | string
  | { readonly url: string }
  | { readonly baseUrl?: string; readonly streamId: string; readonly token: string }
  | { readonly baseUrl?: string; readonly generationId: string; readonly token: string };

const CONNECTING = 0;
const CLOSED = 2;

/** The contract's event types (API.md sections 2 and 4); EventSource delivers named events only to named listeners. */
export const EVENT_TYPES: readonly string[] = ['token', 'tool', 'citation', 'done', 'error', 'heartbeat', 'safe_response', 'message'];

const TERMINAL_TYPES = new Set(['done', 'error', 'safe_response']);

/** Codes of the server's id-less `error` notices: an EventSource repeats the previous id on them, so they are told by code. */
const NOTICE_CODES = new Set(['history_truncated', 'event_id_ahead', 'credential_revoked', 'credential_expired', 'store_lost_events']);

/** After a clean end the browser waits the server's `retry:` before it reconnects; the connect timeout starts after it. */
const BROWSER_RETRY_GRACE_MS = 15_000;

type TimerName = 'connect' | 'silence' | 'retry' | 'refresh' | 'tick';

const TICK_MS = 1000;
const MAX_RECONNECT_TIMES = 1000;

/** Opens the subscription at once; see {@link SluiceSubscription}. */
export function subscribe(target: SubscribeTarget, options: SubscribeOptions = {}): SluiceSubscription {
  return new SluiceSubscription(resolveTarget(target), options);
}

export function resolveTarget(target: SubscribeTarget): string {
  if (typeof target === 'string') {
    return target;
  }

  if ('url' in target) {
    return target.url;
  }

  const base = (target.baseUrl ?? '').replace(/\/+$/, '');
  const path = 'streamId' in target
    ? `/v1/streams/${encodeURIComponent(target.streamId)}/events`
    : `/v1/generations/${encodeURIComponent(target.generationId)}/events`;
  return `${base}${path}?access_token=${encodeURIComponent(target.token)}`;
}

/**
 * A resumable subscription on a native `EventSource`. Every event reaches `onEvent` exactly once across reconnects:
 * the client tracks the last id itself, resumes with it (`lastEventId` in the query for a new EventSource, the
 * browser's own `Last-Event-ID` header on its reconnects) and drops anything at or below it.
 *
 * Reconnects: after a clean end the browser reconnects by itself, honouring the server's `retry:`. A failed connect
 * (an error before the response opened, no response within the connect timeout, or the browser giving up for good,
 * which a native EventSource does after any non-200 answer) is retried by this client after 1 s, 2 s, 5 s, then 15 s,
 * ±10 %, and never sooner than a `Retry-After`. The status of a refused connect is learned with one `fetch` of the
 * same URL (an EventSource does not expose it): 204 means the stream is complete, 401 a refresh,
 * 403 and 404 the end (neither is retried).
 * A connection silent for three heartbeat intervals is replaced. After `maxRetries` failed retries it stops and
 * waits for {@link retry}.
 */
export class SluiceSubscription {
  readonly #options: SubscribeOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #factory: EventSourceFactory;
  readonly #fetch: typeof globalThis.fetch | undefined;
  readonly #maxRetries: number;
  readonly #connectTimeoutMs: number;
  readonly #types: readonly string[];

  #url: string;
  #expiresAt: number | null;
  #urlOfConnection = '';
  #es: EventSourceLike | null = null;
  #connection = 0;
  #phase: 'connecting' | 'open' | 'reconnecting' = 'connecting';
  #lastId: number;
  #lastEventAt: number;
  #heartbeatMs: number;
  #lastHeartbeatAt: number | null = null;
  #reconnects = 0;
  #reconnectTimes: number[] = [];
  #failed = 0;
  #spent = false;
  #everOpened = false;
  #openedSinceError = false;
  #closeReason: CloseReason | null = null;
  #refreshing: Promise<boolean> | null = null;
  readonly #timers = new Map<TimerName, TimerHandle>();
  #lastReported = '';

  constructor(url: string, options: SubscribeOptions = {}) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#fetch = options.fetch ?? (typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : undefined);
    this.#factory = options.eventSource ?? ((u) => new EventSource(u));
    this.#maxRetries = Math.max(0, options.maxRetries ?? 8);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#types = [...new Set([...EVENT_TYPES, ...(options.types ?? [])])];
    this.#url = url;
    this.#expiresAt = toEpoch(options.expiresAt);
    this.#lastId = Math.max(0, Math.floor(options.lastEventId ?? 0));
    this.#lastEventAt = this.#clock.now();
    this.#scheduleRefresh();
    this.#open();
    this.#tick();
  }

  /** The id of the last event delivered: where a new subscription would resume. */
  get lastEventId(): number {
    return this.#lastId;
  }

  get state(): ConnectionState {
    return this.snapshot().state;
  }

  snapshot(): ConnectionSnapshot {
    const now = this.#clock.now();
    const age = Math.max(0, now - this.#lastEventAt);
    const health = healthOf(age);
    while (this.#reconnectTimes.length > 0 && now - this.#reconnectTimes[0] > QUALITY_WINDOW_MS) {
      this.#reconnectTimes.shift();
    }

    let state: ConnectionState;
    if (this.#closeReason !== null) {
      state = 'closed';
    } else if (this.#spent || health === 'down') {
      state = 'down';
    } else if (health === 'stale') {
      state = 'stale';
    } else {
      state = this.#phase;
    }

    return {
      state,
      health,
      quality: this.#closeReason === 'complete' ? 'excellent' : qualityOf(health, this.#reconnectTimes.length, this.#spent),
      reconnects: this.#reconnects,
      failedAttempts: this.#failed,
      retriesSpent: this.#spent,
      lastEventId: this.#lastId,
      lastEventAgeMs: age,
      closeReason: this.#closeReason,
    };
  }

  /** Starts again now, with a fresh retry budget (the page's retry button). Nothing happens once the stream is complete. */
  retry(): void {
    if (this.#closeReason === 'complete') {
      return;
    }

    this.#closeReason = null;
    this.#failed = 0;
    this.#spent = false;
    this.#clear();
    this.#closeConnection();
    this.#phase = 'reconnecting';
    this.#scheduleRefresh();
    this.#open();
    this.#tick();
  }

  /** Stops for good; no event is delivered after this. */
  close(): void {
    this.#end('closed');
  }

  #open(): void {
    this.#clearTimer('retry');
    if (this.#connection > 0) { // every connection after the first is a reconnect
      this.#countReconnect();
    }

    const id = ++this.#connection;
    this.#urlOfConnection = this.#url;
    this.#openedSinceError = false;
    let es: EventSourceLike;
    try {
      es = this.#factory(withPosition(this.#url, this.#lastId));
    } catch {
      this.#fail(0);
      return;
    }

    this.#es = es;
    const current = (handler: (event: Event | MessageEvent) => void) => (event: Event | MessageEvent) => {
      if (id === this.#connection && this.#closeReason === null) {
        handler(event);
      }
    };
    es.addEventListener('open', current(() => this.#onOpen()));
    for (const type of this.#types) {
      es.addEventListener(type, current((event) => {
        if (type === 'error' && !isMessage(event)) {
          this.#onError(es);
        } else {
          this.#onMessage(type, event as MessageEvent);
        }
      }));
    }

    this.#armConnectTimer(this.#connectTimeoutMs);
    this.#report();
  }

  #onOpen(): void {
    this.#clearTimer('connect');
    this.#phase = 'open';
    this.#everOpened = true;
    this.#openedSinceError = true;
    this.#failed = 0;
    this.#spent = false;
    this.#armSilenceTimer();
    this.#report();
  }

  #onMessage(type: string, event: MessageEvent): void {
    const now = this.#clock.now();
    this.#lastEventAt = now;
    if (type === 'heartbeat') {
      if (this.#lastHeartbeatAt !== null) {
        // The interval is learned from the heartbeats themselves, so the silence check fits the server's setting.
        const gap = now - this.#lastHeartbeatAt;
        if (gap >= 250) {
          this.#heartbeatMs = gap;
        }
      }

      this.#lastHeartbeatAt = now;
      this.#armSilenceTimer();
      this.#report();
      return;
    }

    this.#armSilenceTimer();

    const data = parse(event.data);
    const code = type === 'error' && typeof data === 'object' && data !== null ? (data as { code?: unknown }).code : undefined;
    if (typeof code === 'string' && NOTICE_CODES.has(code)) {
      if (code === 'credential_expired' || code === 'credential_revoked') {
        void this.#onCredentialEnd(code);
        return;
      }

      this.#deliver({ id: null, type, data });
      return;
    }

    const id = Number(event.lastEventId);
    if (!Number.isSafeInteger(id) || id <= 0) {
      this.#deliver({ id: null, type, data });
      return;
    }

    if (id <= this.#lastId) {
      return; // already delivered: a replay overlapping what this client has
    }

    this.#lastId = id;
    this.#deliver({ id, type, data });
    if (TERMINAL_TYPES.has(type)) {
      this.#end('complete');
    } else {
      this.#report();
    }
  }

  #onError(es: EventSourceLike): void {
    this.#clearTimer('silence');
    if (es.readyState === CLOSED) {
      // The browser gave up for good (a non-200 answer, or a wrong content type): ask the server why.
      this.#closeConnection();
      void this.#probe();
      return;
    }

    if (!this.#openedSinceError || es.readyState !== CONNECTING) {
      // The browser's own reconnect failed too: from here this client paces the retries.
      this.#closeConnection();
      this.#fail(0);
      return;
    }

    this.#openedSinceError = false;
    this.#phase = 'reconnecting';
    this.#countReconnect();
    this.#armConnectTimer(this.#connectTimeoutMs + BROWSER_RETRY_GRACE_MS);
    this.#report();
  }

  async #onCredentialEnd(code: 'credential_expired' | 'credential_revoked'): Promise<void> {
    this.#closeConnection();
    this.#clear();
    if (this.#options.refresh === undefined) {
      this.#end(code);
      return;
    }

    this.#phase = 'reconnecting';
    this.#report();
    // A grant fetched ahead of the expiry is used at once; otherwise one is asked for now.
    if (this.#url !== this.#urlOfConnection || await this.#refresh()) {
      if (this.#closeReason === null) {
        this.#open();
      }
    } else if (this.#closeReason === null) {
      this.#fail(0);
    }
  }

  async #probe(): Promise<void> {
    const connection = this.#connection;
    let status = 0;
    let retryAfterMs = 0;
    if (this.#fetch !== undefined) {
      const abort = new AbortController();
      const timer = this.#clock.setTimeout(() => abort.abort(), this.#connectTimeoutMs);
      try {
        const response = await this.#fetch(withPosition(this.#url, this.#lastId), {
          headers: { accept: 'text/event-stream' },
          cache: 'no-store',
          signal: abort.signal,
        });
        status = response.status;
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.#clock.now());
      } catch {
        status = 0;
      } finally {
        this.#clock.clearTimeout(timer);
        abort.abort(); // the body (an event stream when it is 200) is not read
      }
    }

    if (connection !== this.#connection || this.#closeReason !== null) {
      return;
    }

    if (status === 204) {
      this.#end('complete');
    } else if (status === 401) {
      if (this.#options.refresh !== undefined && await this.#refresh()) {
        this.#fail(0);
      } else {
        this.#end('unauthorized');
      }
    } else if (status === 403) {
      // A valid credential without the right to this stream: a fresh one of the same kind would be refused too.
      this.#end('unauthorized');
    } else if (status === 404) {
      this.#end('not_found');
    } else if (status === 400) {
      this.#end('bad_request');
    } else {
      this.#fail(retryAfterMs);
    }
  }

  /** A failed connect: the next retry after the backoff, or none when they are spent. */
  #fail(retryAfterMs: number): void {
    this.#clearTimer('connect');
    this.#clearTimer('silence');
    this.#closeConnection();
    this.#failed++;
    if (this.#failed > this.#maxRetries) {
      this.#spent = true;
      this.#report();
      return;
    }

    this.#phase = this.#everOpened ? 'reconnecting' : 'connecting';
    const delay = backoffDelay(this.#failed, this.#random, retryAfterMs);
    this.#setTimer('retry', delay, () => {
      if (this.#closeReason === null && !this.#spent) {
        this.#open();
      }
    });
    this.#report();
  }

  /** Asks the caller for a fresh URL; true when one came. */
  #refresh(): Promise<boolean> {
    const refresh = this.#options.refresh;
    if (refresh === undefined) {
      return Promise.resolve(false);
    }

    this.#refreshing ??= (async () => {
      try {
        const grant = await refresh();
        const url = typeof grant === 'string' ? grant : grant.events_url;
        if (typeof url !== 'string' || url.length === 0) {
          return false;
        }

        this.#url = url;
        this.#expiresAt = typeof grant === 'string' ? null : toEpoch(grant.expires_at);
        this.#scheduleRefresh();
        return true;
      } catch {
        return false;
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  #scheduleRefresh(): void {
    this.#clearTimer('refresh');
    if (this.#expiresAt === null || this.#options.refresh === undefined || this.#closeReason !== null) {
      return;
    }

    // Ahead of the expiry by a tenth of the time left (at least 1 s, at most a minute), so the next reconnect,
    // and the reconnect after the server ends the response at the expiry, already have a valid token.
    const left = this.#expiresAt - this.#clock.now();
    const lead = Math.min(60_000, Math.max(1000, left / 10));
    this.#setTimer('refresh', Math.max(0, left - lead), async () => {
      if (!await this.#refresh() && this.#closeReason === null) {
        this.#setTimer('refresh', backoffDelay(2, this.#random), () => this.#scheduleRefresh());
      }
    });
  }

  #deliver(event: SluiceEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch (error) {
      // The application's handler must not break the subscription; its error is still reported (window.onerror).
      const report = (globalThis as { reportError?: (error: unknown) => void }).reportError ?? console.error;
      report(error);
    }
  }

  #end(reason: CloseReason): void {
    if (this.#closeReason !== null) {
      return;
    }

    this.#closeReason = reason;
    this.#clear();
    this.#clearTimer('refresh');
    this.#clearTimer('tick');
    this.#closeConnection();
    this.#report();
  }

  #tick(): void {
    this.#clearTimer('tick');
    if (this.#closeReason !== null) {
      return;
    }

    this.#report();
    this.#setTimer('tick', TICK_MS, () => this.#tick());
  }

  #report(): void {
    const snapshot = this.snapshot();
    const key = `${snapshot.state}|${snapshot.health}|${snapshot.quality}|${snapshot.reconnects}|${snapshot.failedAttempts}|${snapshot.retriesSpent}|${snapshot.lastEventId}|${snapshot.closeReason}`;
    if (key !== this.#lastReported) {
      this.#lastReported = key;
      this.#options.onState?.(snapshot);
    }
  }

  #countReconnect(): void {
    this.#reconnects++;
    this.#reconnectTimes.push(this.#clock.now());
    if (this.#reconnectTimes.length > MAX_RECONNECT_TIMES) {
      this.#reconnectTimes.shift();
    }
  }

  #armConnectTimer(ms: number): void {
    this.#setTimer('connect', ms, () => this.#fail(0));
  }

  #armSilenceTimer(): void {
    this.#setTimer('silence', 3 * this.#heartbeatMs, () => {
      // Silent for three heartbeats: the connection may be open on a dead peer (a paused server, a cut NAT entry).
      this.#closeConnection();
      this.#phase = 'reconnecting';
      this.#open();
    });
  }

  #closeConnection(): void {
    if (this.#es !== null) {
      this.#connection++; // callbacks of the old connection are ignored from here
      this.#es.close();
      this.#es = null;
    }
  }

  #clear(): void {
    this.#clearTimer('connect');
    this.#clearTimer('silence');
    this.#clearTimer('retry');
  }

  /** One timer per purpose: setting one replaces the one before it. */
  #setTimer(name: TimerName, ms: number, callback: () => void): void {
    this.#clearTimer(name);
    this.#timers.set(name, this.#clock.setTimeout(() => {
      this.#timers.delete(name);
      callback();
    }, ms));
  }

  #clearTimer(name: TimerName): void {
    const handle = this.#timers.get(name);
    if (handle !== undefined) {
      this.#timers.delete(name);
      this.#clock.clearTimeout(handle);
    }
  }

}

/** The URL with `lastEventId` set to the position (a new EventSource cannot send the header). */
export function withPosition(url: string, lastEventId: number): string {
  const hash = url.indexOf('#');
  const base = hash >= 0 ? url.slice(0, hash) : url;
  const cleaned = base.replace(/([?&])lastEventId=[^&]*(&|$)/, (_, lead: string, tail: string) => (tail ? lead : '')).replace(/[?&]$/, '');
  if (lastEventId <= 0) {
    return cleaned;
  }

  return `${cleaned}${cleaned.includes('?') ? '&' : '?'}lastEventId=${lastEventId}`;
}

function isMessage(event: Event | MessageEvent): event is MessageEvent {
  return typeof (event as MessageEvent).data === 'string';
}

function parse(data: unknown): unknown {
  if (typeof data !== 'string') {
    return data;
  }

  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

function toEpoch(value: string | number | Date | null | undefined): number | null {
  if (value == null) {
    return null;
  }

  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}
