import type { Clock, TimerHandle } from '../src/clock.js';
import type { EventSourceLike } from '../src/subscription.js';

/** A clock that moves only when a test says so; timers run in due order, promises settle between them. */
export class FakeClock implements Clock {
  #now: number;
  #next = 1;
  readonly #timers = new Map<number, { due: number; callback: () => void }>();

  constructor(start = Date.UTC(2026, 11, 4)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.#next++;
    this.#timers.set(id, { due: this.#now + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (;;) {
      let first: [number, { due: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].due <= end && (first === undefined || entry[1].due < first[1].due || (entry[1].due === first[1].due && entry[0] < first[0]))) {
          first = entry;
        }
      }

      if (first === undefined) {
        break;
      }

      this.#timers.delete(first[0]);
      this.#now = first[1].due;
      first[1].callback();
      await settle();
    }

    this.#now = end;
  }
}

/** Lets pending promise callbacks run (a fetch answered by a fake, a refresh). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

type Listener = (event: Event | MessageEvent) => void;

/** A browser EventSource's observable behaviour: its states, its named events, its lastEventId buffer. */
export class FakeEventSource implements EventSourceLike {
  static readonly all: FakeEventSource[] = [];
  readyState = 0;
  closed = false;
  #lastEventId = '';
  readonly #listeners = new Map<string, Listener[]>();

  constructor(readonly url: string, readonly createdAt: number) {
    FakeEventSource.all.push(this);
  }

  static reset(): void {
    FakeEventSource.all.length = 0;
  }

  static get last(): FakeEventSource {
    const es = FakeEventSource.all.at(-1);
    if (es === undefined) {
      throw new Error('no EventSource was created');
    }

    return es;
  }

  addEventListener(type: string, listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.readyState = 2;
    this.closed = true;
  }

  /** The response opened (200, text/event-stream). */
  open(): void {
    this.readyState = 1;
    this.#dispatch('open', new Event('open'));
  }

  /** One event as the wire carries it; no id keeps the previous one, as the SSE parser does. */
  send(type: string, data: unknown, id?: number): void {
    if (id !== undefined) {
      this.#lastEventId = String(id);
    }

    this.#dispatch(type, new MessageEvent(type, { data: JSON.stringify(data), lastEventId: this.#lastEventId }));
  }

  /** The response ended or the network failed: the browser will reconnect by itself (after `retry:`). */
  drop(): void {
    this.readyState = 0;
    this.#dispatch('error', new Event('error'));
  }

  /** The browser gave up for good (a non-200 answer). */
  refuse(): void {
    this.readyState = 2;
    this.#dispatch('error', new Event('error'));
  }

  #dispatch(type: string, event: Event | MessageEvent): void {
    if (this.closed) {
      return;
    }

    for (const listener of this.#listeners.get(type) ?? []) {
      listener(event);
    }
  }
}

/** A fetch that answers with what the test queued, recording every request. */
export class FakeFetch {
  readonly requests: { url: string; init: RequestInit | undefined }[] = [];
  readonly #answers: (() => Response)[] = [];

  answer(status: number, body: unknown = null, headers: Record<string, string> = {}): this {
    this.#answers.push(() => new Response(status === 204 || body === null ? null : JSON.stringify(body), { status, headers }));
    return this;
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    this.requests.push({ url: String(input), init });
    const next = this.#answers.shift();
    if (next === undefined) {
      throw new TypeError('network error');
    }

    return next();
  };
}
