import type { ConnectionSnapshot, SluiceSubscription } from '../../src/index.js';

const LABELS = { ok: 'OK', stale: 'STALE', down: 'DOWN' } as const;

/**
 * The SSE health widget (API.md section 10): `data-state` ok/stale/down from the age of the last event alone, told by
 * a word and a shape as well as a colour; a retry button when down or the automatic retries are spent. It is not
 * judged while the page is hidden: a background tab's timers are throttled, so its idea of "now" is unreliable.
 */
export class HealthWidget {
  readonly #root: HTMLElement;
  readonly #document: Document;
  readonly #label: HTMLElement;
  readonly #detail: HTMLElement;
  readonly #retry: HTMLButtonElement;
  #subscription: SluiceSubscription | null = null;
  #timer = 0;

  constructor(root: HTMLElement, document: Document) {
    this.#root = root;
    this.#document = document;
    this.#label = root.querySelector<HTMLElement>('.badge')!;
    this.#detail = root.querySelector<HTMLElement>('#health-detail')!;
    this.#retry = root.querySelector<HTMLButtonElement>('[data-sluice-retry]')!;
    this.#retry.addEventListener('click', () => this.#subscription?.retry());
    document.addEventListener('visibilitychange', () => this.#refresh());
  }

  bind(subscription: SluiceSubscription): void {
    this.#subscription = subscription;
    clearInterval(this.#timer);
    // The age moves every second even when the connection's state does not.
    this.#timer = window.setInterval(() => this.#refresh(), 1000);
    this.#refresh();
  }

  render(snapshot: ConnectionSnapshot): void {
    if (this.#document.hidden) {
      return;
    }

    const state = snapshot.closeReason === 'complete' ? 'ok' : snapshot.health;
    this.#root.dataset.state = state;
    this.#root.dataset.connection = snapshot.state;
    this.#root.dataset.retriesSpent = String(snapshot.retriesSpent);
    this.#label.textContent = LABELS[state];
    const age = Math.round(snapshot.lastEventAgeMs / 1000);
    const connection = snapshot.state === 'closed' ? `closed (${snapshot.closeReason})` : snapshot.retriesSpent ? 'retries spent' : snapshot.state;
    this.#detail.textContent = `${connection} · last event ${age} s ago · ${snapshot.reconnects} reconnects · quality ${snapshot.quality}`;
    this.#retry.hidden = !(snapshot.closeReason === null && (snapshot.health === 'down' || snapshot.retriesSpent));
  }

  #refresh(): void {
    if (this.#subscription !== null) {
      this.render(this.#subscription.snapshot());
    }
  }
}
