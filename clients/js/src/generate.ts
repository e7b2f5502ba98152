import { type SluiceSubscription, type SubscribeOptions, type TokenGrant, subscribe } from './subscription.js';

export interface GenerateOptions extends SubscribeOptions {
  /** Sluice's base URL (`https://sluice.example`); default the page's own origin. */
  readonly baseUrl?: string;
  /** An API key with the `generate` role: for a server-side caller (never ship a key to a browser). */
  readonly apiKey?: string;
  /** For an admin key: the tenant to act for (`X-Tenant-Key`). */
  readonly tenant?: string;
  /** The `POST /v1/generations` body (`model`, `messages`, ...). */
  readonly request?: Readonly<Record<string, unknown>>;
  /** Same key + same body within 24 h: the same generation (a retried create does not start a second one). */
  readonly idempotencyKey?: string;
  /** Instead of creating: an `events_url` the application's backend created (with its access token). */
  readonly eventsUrl?: string;
}

export interface Generation {
  readonly id: string;
  readonly eventsUrl: string;
  readonly subscription: SluiceSubscription;
}

/** Raised when Sluice refuses the create; `problem` is its problem+json body. */
export class SluiceError extends Error {
  constructor(readonly status: number, readonly problem: Readonly<Record<string, unknown>> | null) {
    super(`Sluice answered ${status}${problem && typeof problem.detail === 'string' ? `: ${problem.detail}` : ''}`);
    this.name = 'SluiceError';
  }
}

/**
 * Creates a generation with an API key (or takes the `events_url` a backend created) and streams it. With a key, the
 * token is refreshed through `POST /v1/generations/{id}/tokens` unless the caller supplies its own `refresh`.
 */
export async function generate(options: GenerateOptions): Promise<Generation> {
  const fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
  const base = (options.baseUrl ?? (typeof location === 'undefined' ? '' : location.origin)).replace(/\/+$/, '');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.apiKey !== undefined) {
    headers.authorization = `Bearer ${options.apiKey}`;
  }

  if (options.tenant !== undefined) {
    headers['x-tenant-key'] = options.tenant;
  }

  let eventsUrl = options.eventsUrl;
  if (eventsUrl === undefined) {
    if (options.request === undefined) {
      throw new TypeError('generate needs a request (with an API key) or an eventsUrl');
    }

    const response = await fetcher(`${base}/v1/generations`, {
      method: 'POST',
      headers: options.idempotencyKey === undefined ? headers : { ...headers, 'idempotency-key': options.idempotencyKey },
      body: JSON.stringify(options.request),
    });
    const body = await response.json().catch(() => null) as Record<string, unknown> | null;
    if (response.status !== 202 || body === null || typeof body.events_url !== 'string') {
      throw new SluiceError(response.status, body);
    }

    eventsUrl = body.events_url;
  }

  const id = /\/v1\/generations\/([^/?#]+)\/events/.exec(eventsUrl)?.[1];
  if (id === undefined) {
    throw new TypeError(`not a generation's events URL: ${eventsUrl}`);
  }

  const generationId = decodeURIComponent(id);
  const refresh = options.refresh ?? (options.apiKey === undefined ? undefined : async (): Promise<TokenGrant> => {
    const response = await fetcher(`${base}/v1/generations/${encodeURIComponent(generationId)}/tokens`, {
      method: 'POST', headers, body: '{}',
    });
    const grant = await response.json().catch(() => null) as TokenGrant | null;
    if (response.status !== 200 || grant === null || typeof grant.events_url !== 'string') {
      throw new SluiceError(response.status, grant as Record<string, unknown> | null);
    }

    return grant;
  });
  return { id: generationId, eventsUrl, subscription: subscribe(eventsUrl, { ...options, refresh }) };
}
