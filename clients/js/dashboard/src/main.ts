// The operator dashboard, served by Sluice at /dashboard. Plain DOM (no framework), text only through textContent
// (nothing from the server is parsed as HTML), one EventSource at most (the stream viewer); everything else polls,
// and only while the tab is visible.
import { type ConnectionSnapshot, type SluiceSubscription, type TokenGrant, isEvent, subscribe } from '../../src/index.js';
import { HealthWidget } from './widget.js';

const KEY = 'sluice.key';
const TENANT = 'sluice.tenant';
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let key = '';
let tenant = '';
let viewer: SluiceSubscription | null = null;
let viewing = '';
let admin = false;
const widget = new HealthWidget(document.querySelector<HTMLElement>('[data-sluice-health]')!, document);
const output = document.querySelector<HTMLElement>('[data-sluice-output]')!;

// A key in the fragment (#key=...) is taken once and removed from the address bar at once: a fragment is never
// sent to a server, but it stays in the history and in a shoulder-surfed address bar.
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.has('key')) {
  sessionStorage.setItem(KEY, fragment.get('key') ?? '');
  history.replaceState(null, '', location.pathname + location.search);
}

key = sessionStorage.getItem(KEY) ?? '';
tenant = sessionStorage.getItem(TENANT) ?? '';

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${key}`);
  if (tenant !== '') {
    headers.set('x-tenant-key', tenant);
  }

  if (init.body !== undefined) {
    headers.set('content-type', 'application/json');
  }

  const response = await fetch(path, { ...init, headers, cache: 'no-store' });
  const node = response.headers.get('x-sluice-node');
  if (node) {
    $('node').textContent = `node ${node}`;
  }

  return response;
}

async function json<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await api(path, init);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(describe(response.status, body));
  }

  return body as T;
}

function describe(status: number, body: unknown): string {
  const problem = body as { detail?: string; title?: string; code?: string } | null;
  return `${status}${problem?.code ? ` ${problem.code}` : ''}${problem?.detail ? `: ${problem.detail}` : problem?.title ? `: ${problem.title}` : ''}`;
}

function idempotencyKey(): string {
  // getRandomValues, not randomUUID: the latter needs a secure context, and an operator may reach a node over plain http.
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string>> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value !== undefined) {
      node.setAttribute(name, value);
    }
  }

  node.append(...children);
  return node;
}

function show(signedIn: boolean): void {
  $('sign-in').hidden = signedIn;
  $('app').hidden = !signedIn;
  $('sign-out').hidden = !signedIn;
}

async function signIn(): Promise<boolean> {
  const response = await api('/v1/models');
  if (response.status === 401 || response.status === 403) {
    $('sign-in-error').textContent = response.status === 401 ? 'That key is not valid (or was revoked).' : 'That key may not act for this tenant.';
    return false;
  }

  if (!response.ok) {
    $('sign-in-error').textContent = `Sluice answered ${response.status}.`;
    return false;
  }

  const models = await response.json() as { data: { id: string }[] };
  const select = $<HTMLSelectElement>('model');
  select.replaceChildren(...models.data.map((m) => el('option', { value: m.id }, m.id)));
  show(true);
  admin = (await api('/v1/ops/llm/providers/health?verbose=true')).ok;
  $('admin').hidden = !admin;
  void pollGenerations();
  void pollAdmin();
  return true;
}

// Generations: polled every second (a feed would hold a second EventSource; browsers allow six per origin, shared by
// every tab), so a new one shows within two seconds.
interface GenerationView { id: string; status: string; model: string; created_at: string; last_event_id: number }

let generationsTimer = 0;
async function pollGenerations(): Promise<void> {
  clearTimeout(generationsTimer);
  if (!document.hidden && key !== '') {
    try {
      const list = await json<{ data: GenerationView[] }>('/v1/generations?limit=20');
      renderGenerations(list.data);
    } catch {
      // shown by the next successful poll; the widget tells about the stream
    }
  }

  generationsTimer = window.setTimeout(() => void pollGenerations(), 1000);
}

function renderGenerations(list: GenerationView[]): void {
  const live = (s: string) => s === 'queued' || s === 'running';
  const sorted = [...list].sort((a, b) => Number(live(b.status)) - Number(live(a.status)) || b.created_at.localeCompare(a.created_at));
  $('generations').replaceChildren(...sorted.map((g) => {
    const button = el('button', { type: 'button', 'data-generation': g.id, 'aria-label': `Watch ${g.id}` }, g.id === viewing ? 'Watching' : 'Watch');
    button.addEventListener('click', () => void watch(g.id));
    return el('li', { 'data-status': g.status }, el('code', {}, g.id), el('span', {}, `${g.status} · ${g.model}`), button);
  }));
}

// The viewer: one subscription, resumed by the client library; tokens go into [data-sluice-output] exactly once.
async function watch(id: string): Promise<void> {
  viewer?.close();
  viewer = null;
  viewing = id;
  output.textContent = '';
  output.dataset.lastEventId = '0';
  output.dataset.generation = id;
  $('viewer-status').textContent = `Connecting to ${id}…`;
  const grant = async (): Promise<TokenGrant> => json<TokenGrant>(`/v1/generations/${encodeURIComponent(id)}/tokens`, { method: 'POST', body: '{}' });
  let first: TokenGrant;
  try {
    first = await grant();
  } catch (error) {
    $('viewer-status').textContent = `Could not open ${id}: ${(error as Error).message}`;
    return;
  }

  if (viewing !== id) {
    return;
  }

  const subscription = subscribe(first.events_url, {
    expiresAt: first.expires_at ?? null,
    refresh: grant,
    maxRetries: 3,
    onEvent: (event) => {
      if (event.id !== null) {
        output.dataset.lastEventId = String(event.id);
      }

      if (isEvent(event, 'token')) {
        output.append(event.data.text);
      } else if (isEvent(event, 'done')) {
        $('viewer-status').textContent = `${id}: done (${event.data.finish_reason})`;
      } else if (isEvent(event, 'error')) {
        $('viewer-status').textContent = `${id}: error ${event.data.code}${event.id === null ? ' (notice)' : ''}`;
      } else if (isEvent(event, 'safe_response')) {
        output.textContent = event.data.text;
        $('viewer-status').textContent = `${id}: safe_response (${event.data.reason})`;
      }
    },
    onState: (snapshot: ConnectionSnapshot) => {
      widget.render(snapshot);
      if (snapshot.state === 'closed' && snapshot.closeReason !== 'complete') {
        $('viewer-status').textContent = `${id}: closed (${snapshot.closeReason})`;
      } else if (snapshot.state === 'open' && !$('viewer-status').textContent?.includes(': ')) {
        $('viewer-status').textContent = `Watching ${id}`;
      }
    },
  });
  viewer = subscription;
  widget.bind(subscription);
}

// Admin: providers with their kill-switches, this node's SSE health, the audit trail; every 5 s while visible.
interface ProviderView { provider: string; state: string; circuit_state: string; success_rate: number | null; p95_ttft_ms: number | null; kill_switch: { expires_at: string; reason: string | null } | null }
interface AuditView { at: string; actor: { key_id: string; tenant: string }; action: string; target: string; reason: string | null }

let adminTimer = 0;
async function pollAdmin(): Promise<void> {
  clearTimeout(adminTimer);
  if (admin && !document.hidden) {
    await refreshAdmin(false);
  }

  adminTimer = window.setTimeout(() => void pollAdmin(), 5000);
}

/** `force` false (the poll) leaves the providers table alone while the operator is typing in it. */
async function refreshAdmin(force = true): Promise<void> {
  try {
    // One after another: a browser has six connections per origin for every tab, and a stalled node would hold
    // each of them until it answers.
    const providers = await json<{ providers: ProviderView[] }>('/v1/ops/llm/providers/health?verbose=true');
    const sse = await json<{ status: string; open_connections: number; last_event_age_seconds: number | null; reconnects_5m: number }>('/v1/sse/health');
    const audit = await json<{ data: AuditView[] }>('/v1/ops/audit?size=20');
    if (force || !$('providers').contains(document.activeElement)) {
      renderProviders(providers.providers);
    }

    $('sse-health').textContent = `${sse.status}: ${sse.open_connections} open, last event ${sse.last_event_age_seconds ?? '–'} s ago, ${sse.reconnects_5m} reconnects in 5 min`;
    $('audit').replaceChildren(...audit.data.map((a) => el('tr', {},
      el('td', { 'data-label': 'When' }, new Date(a.at).toLocaleString()), el('td', { 'data-label': 'Who' }, a.actor.key_id),
      el('td', { 'data-label': 'Action' }, a.action), el('td', { 'data-label': 'Target' }, a.target), el('td', { 'data-label': 'Reason' }, a.reason ?? ''))));
    $('admin-error').textContent = '';
  } catch (error) {
    $('admin-error').textContent = (error as Error).message;
  }
}

function renderProviders(list: ProviderView[]): void {
  $('providers').replaceChildren(...list.map((p) => {
    const form = el('form', { 'data-provider': p.provider, 'aria-label': `Kill-switch for ${p.provider}` });
    const reasonId = `reason-${p.provider}`;
    const secondsId = `seconds-${p.provider}`;
    const killed = p.kill_switch !== null;
    form.append(
      el('span', {}, killed ? `on until ${new Date(p.kill_switch!.expires_at).toLocaleTimeString()}${p.kill_switch!.reason ? ` (${p.kill_switch!.reason})` : ''}` : 'off'),
      el('label', { for: reasonId }, 'Reason'), el('input', { id: reasonId, name: 'reason', maxlength: '500', required: '' }),
      el('label', { for: secondsId }, 'Seconds'), el('input', { id: secondsId, name: 'seconds', type: 'number', min: '1', max: '86400', value: '600' }),
      el('button', { type: 'submit', name: 'action', value: killed ? 'disable' : 'enable', class: killed ? '' : 'danger' }, killed ? 'Disable kill-switch' : 'Enable kill-switch'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const data = new FormData(form);
      void kill(p.provider, killed ? 'disable' : 'enable', String(data.get('reason') ?? ''), Number(data.get('seconds') ?? 600));
    });
    return el('tr', { 'data-provider': p.provider, 'data-state': p.state },
      el('th', { scope: 'row' }, p.provider), el('td', { 'data-label': 'State' }, p.state), el('td', { 'data-label': 'Circuit' }, p.circuit_state),
      el('td', { 'data-label': 'Success' }, p.success_rate === null ? '–' : `${(p.success_rate * 100).toFixed(1)} %`),
      el('td', { 'data-label': 'p95 TTFT' }, p.p95_ttft_ms === null ? '–' : `${Math.round(p.p95_ttft_ms)} ms`), el('td', { 'data-label': 'Kill-switch' }, form));
  }));
}

async function kill(provider: string, action: 'enable' | 'disable', reason: string, seconds: number): Promise<void> {
  try {
    await json(`/v1/ops/llm/providers/${encodeURIComponent(provider)}/kill-switch`, {
      method: 'POST', headers: { 'idempotency-key': idempotencyKey() }, body: JSON.stringify({ action, reason, effective_seconds: seconds }),
    });
  } catch (error) {
    $('admin-error').textContent = (error as Error).message;
  }

  await refreshAdmin();
}

function confirmThen(title: string, text: string, action: () => Promise<void>): void {
  const dialog = $<HTMLDialogElement>('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  dialog.returnValue = '';
  dialog.addEventListener('close', () => {
    if (dialog.returnValue === 'ok') {
      void action();
    }
  }, { once: true });
  dialog.showModal();
}

async function control(path: string, body: unknown): Promise<void> {
  try {
    await json(path, { method: 'POST', headers: { 'idempotency-key': idempotencyKey() }, body: JSON.stringify(body) });
  } catch (error) {
    $('admin-error').textContent = (error as Error).message;
  }

  await refreshAdmin();
}

$('broadcast').addEventListener('click', () => confirmThen('Broadcast reconnect',
  'Every open SSE response on every node is sent retry: and ended; clients resume without loss.',
  () => control('/v1/admin/sse/broadcast-reconnect', {})));
$('drain').addEventListener('click', () => confirmThen('Drain this node',
  'This node stops taking streams and generations (readiness fails) and sends its clients elsewhere. Running generations finish.',
  () => control('/v1/admin/drain', {})));

$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  key = $<HTMLInputElement>('key').value.trim();
  tenant = $<HTMLInputElement>('tenant').value.trim();
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(TENANT, tenant);
  $<HTMLInputElement>('key').value = '';
  void signIn();
});

$('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(TENANT);
  key = '';
  viewer?.close();
  viewer = null;
  show(false);
});

$('start-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  void (async () => {
    try {
      const created = await json<{ id: string }>('/v1/generations', {
        method: 'POST', headers: { 'idempotency-key': idempotencyKey() },
        body: JSON.stringify({ model: form.get('model'), messages: [{ role: 'user', content: form.get('prompt') }], max_tokens: Number(form.get('max_tokens')) }),
      });
      $('start-error').textContent = '';
      await watch(created.id);
    } catch (error) {
      $('start-error').textContent = (error as Error).message;
    }
  })();
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) {
    void pollGenerations();
    void pollAdmin();
  }
});

if (key === '') {
  show(false);
} else {
  void signIn().then((ok) => show(ok));
}
