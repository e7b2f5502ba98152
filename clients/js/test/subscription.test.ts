import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { generate } from '../src/generate.js';
import { type ConnectionSnapshot, type SluiceEvent, type SubscribeOptions, isEvent, subscribe, withPosition } from '../src/subscription.js';
import { FakeClock, FakeEventSource, FakeFetch, settle } from './fakes.js';

const URL = 'https://sluice.test/v1/generations/gen_1/events?access_token=t1';

beforeEach(() => FakeEventSource.reset());

function start(options: SubscribeOptions = {}, url = URL) {
  const clock = new FakeClock();
  const events: SluiceEvent[] = [];
  const states: ConnectionSnapshot[] = [];
  const fetch = new FakeFetch();
  const subscription = subscribe(url, {
    clock,
    random: () => 0.5,
    eventSource: (u) => new FakeEventSource(u, clock.now()),
    fetch: fetch.fetch,
    onEvent: (e) => events.push(e),
    onState: (s) => states.push(s),
    ...options,
  });
  return { clock, events, states, fetch, subscription };
}

const ids = (events: SluiceEvent[]) => events.map((e) => e.id);

test('every event once across a reconnect whose replay overlaps what was delivered', async () => {
  const { events, subscription } = start();
  const first = FakeEventSource.last;
  first.open();
  for (const id of [1, 2, 3]) first.send('token', { text: `t${id}` }, id);
  first.drop(); // the server ended the response; the browser reconnects with Last-Event-ID by itself
  assert.equal(subscription.state, 'reconnecting');
  first.open();
  for (const id of [2, 3, 4]) first.send('token', { text: `t${id}` }, id);
  first.send('done', { finish_reason: 'stop' }, 5);
  first.send('token', { text: 'after the end' }, 6);

  assert.deepEqual(ids(events), [1, 2, 3, 4, 5]);
  assert.deepEqual(events.map((e) => (e.data as { text?: string }).text ?? e.type), ['t1', 't2', 't3', 't4', 'done']);
  assert.equal(subscription.state, 'closed');
  assert.equal(subscription.snapshot().closeReason, 'complete');
  assert.equal(subscription.snapshot().reconnects, 1);
  assert.ok(first.closed);
});

test('a connect with no response within 10 s is a failed attempt; retries wait 1, 2, 5, 15 s; then they are spent', async () => {
  const { clock, subscription } = start({ maxRetries: 4 });
  await clock.advance(100_000); // every connect times out after 10 s

  const created = FakeEventSource.all.map((es) => es.createdAt - FakeEventSource.all[0].createdAt);
  assert.deepEqual(created, [0, 11_000, 23_000, 38_000, 63_000]);
  assert.ok(FakeEventSource.all.every((es) => es.closed));
  const snapshot = subscription.snapshot();
  assert.equal(snapshot.retriesSpent, true);
  assert.equal(snapshot.state, 'down');
  assert.equal(snapshot.quality, 'critical');

  await clock.advance(600_000);
  assert.equal(FakeEventSource.all.length, 5, 'no attempt after the retries are spent');

  subscription.retry();
  assert.equal(FakeEventSource.all.length, 6);
  FakeEventSource.last.open();
  FakeEventSource.last.send('token', { text: 'x' }, 1);
  assert.equal(subscription.snapshot().retriesSpent, false);
  assert.equal(subscription.state, 'open');
});

test('a browser reconnect that fails again is paced by the backoff, not by the browser', async () => {
  const { clock } = start();
  const first = FakeEventSource.last;
  first.open();
  first.send('token', { text: 'a' }, 1);
  first.drop(); // browser retries by itself (after retry:)
  assert.equal(FakeEventSource.all.length, 1);
  first.drop(); // and that reconnect failed too
  assert.ok(first.closed);
  await clock.advance(999);
  assert.equal(FakeEventSource.all.length, 1);
  await clock.advance(1);
  assert.equal(FakeEventSource.all.length, 2);
  assert.equal(FakeEventSource.last.url, withPosition(URL, 1));
});

test('a new EventSource resumes after the last delivered id through lastEventId in the query', async () => {
  const { clock } = start({ lastEventId: 7 });
  assert.equal(FakeEventSource.last.url, `${URL}&lastEventId=7`);
  FakeEventSource.last.open();
  FakeEventSource.last.send('token', { text: 'old' }, 7);
  FakeEventSource.last.send('token', { text: 'new' }, 8);
  FakeEventSource.last.refuse();
  await clock.advance(2000);
  assert.equal(FakeEventSource.last.url, `${URL}&lastEventId=8`);
});

test('states on a fake clock: stale at 30 s without an event, down past 60 s, open again on the next event', async () => {
  const { clock, states, subscription } = start({ heartbeatMs: 1_000_000 });
  assert.equal(subscription.state, 'connecting');
  FakeEventSource.last.open();
  FakeEventSource.last.send('token', { text: 'a' }, 1);
  assert.equal(subscription.state, 'open');
  await clock.advance(29_999);
  assert.equal(subscription.snapshot().health, 'ok');
  await clock.advance(1);
  assert.equal(subscription.state, 'stale');
  await clock.advance(30_000);
  assert.equal(subscription.state, 'stale');
  await clock.advance(1000);
  assert.equal(subscription.state, 'down');
  FakeEventSource.last.send('heartbeat', { server_time: 'now' });
  assert.equal(subscription.state, 'open');
  assert.deepEqual([...new Set(states.map((s) => s.state))], ['connecting', 'open', 'stale', 'down']);
  assert.equal(states.at(-1)?.state, 'open');
});

test('heartbeats count as events for health but are not delivered', async () => {
  const { clock, events, subscription } = start({ heartbeatMs: 1_000_000 });
  FakeEventSource.last.open();
  for (let i = 0; i < 5; i++) {
    await clock.advance(20_000);
    FakeEventSource.last.send('heartbeat', { server_time: 'now' });
  }

  assert.equal(subscription.state, 'open');
  assert.deepEqual(events, []);
});

test('a connection silent for three heartbeat intervals (learned from the heartbeats) is replaced', async () => {
  const { clock, subscription } = start();
  const first = FakeEventSource.last;
  first.open();
  first.send('token', { text: 'a' }, 1);
  first.send('heartbeat', {});
  await clock.advance(2000);
  first.send('heartbeat', {}); // 2 s apart: silence is 6 s
  await clock.advance(5999);
  assert.equal(FakeEventSource.all.length, 1);
  await clock.advance(1);
  assert.ok(first.closed);
  assert.equal(FakeEventSource.all.length, 2);
  assert.equal(FakeEventSource.last.url, `${URL}&lastEventId=1`);
  assert.equal(subscription.state, 'reconnecting');
});

test('the browser giving up: 204 means the stream is complete', async () => {
  const { fetch, subscription } = start();
  fetch.answer(204);
  FakeEventSource.last.refuse();
  await settle();
  assert.equal(subscription.snapshot().closeReason, 'complete');
  assert.equal(fetch.requests[0].url, URL);
});

test('the browser giving up: 503 with Retry-After waits at least that long', async () => {
  const { clock, fetch } = start();
  fetch.answer(503, { code: 'overloaded' }, { 'retry-after': '7' });
  FakeEventSource.last.refuse();
  await clock.advance(6999);
  assert.equal(FakeEventSource.all.length, 1);
  await clock.advance(1);
  assert.equal(FakeEventSource.all.length, 2);
});

test('the browser giving up: 401 asks for a fresh URL and connects with it', async () => {
  let refreshed = 0;
  const { clock, fetch } = start({ refresh: async () => ({ events_url: `${URL.replace('t1', 't2')}`, expires_at: null }) });
  fetch.answer(401, { code: 'unauthorized' });
  FakeEventSource.last.open();
  FakeEventSource.last.send('token', {}, 3);
  FakeEventSource.last.refuse();
  await clock.advance(1000);
  refreshed = FakeEventSource.all.length;
  assert.equal(refreshed, 2);
  assert.equal(FakeEventSource.last.url, 'https://sluice.test/v1/generations/gen_1/events?access_token=t2&lastEventId=3');
});

test('the browser giving up: 401 without a refresh closes as unauthorized, 404 as not found', async () => {
  const a = start();
  a.fetch.answer(401);
  FakeEventSource.last.refuse();
  await settle();
  assert.equal(a.subscription.snapshot().closeReason, 'unauthorized');
  const b = start();
  b.fetch.answer(404);
  FakeEventSource.last.refuse();
  await settle();
  assert.equal(b.subscription.snapshot().closeReason, 'not_found');
});

test('the browser giving up: 403 ends as unauthorized without asking for a fresh URL or retrying', async () => {
  let refreshes = 0;
  const { clock, fetch, subscription } = start({ refresh: async () => { refreshes++; return URL.replace('t1', 't2'); } });
  fetch.answer(403, { code: 'forbidden' });
  FakeEventSource.last.refuse();
  await settle();
  assert.equal(subscription.snapshot().closeReason, 'unauthorized');
  await clock.advance(60_000);
  assert.equal(refreshes, 0);
  assert.equal(FakeEventSource.all.length, 1);
});

test('credential_expired: refreshed and resumed at once, the notice not delivered', async () => {
  const grants = ['t2', 't3'];
  const { events } = start({ refresh: async () => ({ events_url: URL.replace('t1', grants.shift()!) }) });
  const first = FakeEventSource.last;
  first.open();
  first.send('token', { text: 'a' }, 1);
  first.send('error', { code: 'credential_expired' });
  await settle();
  assert.ok(first.closed);
  assert.equal(FakeEventSource.last.url, 'https://sluice.test/v1/generations/gen_1/events?access_token=t2&lastEventId=1');
  FakeEventSource.last.open();
  FakeEventSource.last.send('token', { text: 'b' }, 2);
  assert.deepEqual(ids(events), [1, 2]);
});

test('credential_expired without a refresh, or credential_revoked: closed', async () => {
  const { subscription, events } = start();
  FakeEventSource.last.open();
  FakeEventSource.last.send('token', {}, 1);
  FakeEventSource.last.send('error', { code: 'credential_revoked' });
  await settle();
  assert.equal(subscription.snapshot().closeReason, 'credential_revoked');
  assert.deepEqual(ids(events), [1]);
});

test('the token is refreshed before it expires, and the next connect uses the fresh one', async () => {
  const clock = new FakeClock();
  let calls = 0;
  const subscription = subscribe(URL, {
    clock, random: () => 0.5, eventSource: (u) => new FakeEventSource(u, clock.now()), heartbeatMs: 10_000_000,
    expiresAt: clock.now() + 600_000,
    refresh: async () => ({ events_url: URL.replace('t1', `r${++calls}`), expires_at: new Date(clock.now() + 600_000).toISOString() }),
  });
  FakeEventSource.last.open();
  await clock.advance(539_999);
  assert.equal(calls, 0);
  await clock.advance(1);
  assert.equal(calls, 1);
  await clock.advance(540_000);
  assert.equal(calls, 2);
  FakeEventSource.last.send('token', {}, 1);
  FakeEventSource.last.send('error', { code: 'credential_expired' });
  await settle();
  assert.equal(calls, 2, 'the grant fetched ahead is used, not a third one');
  assert.equal(FakeEventSource.last.url, 'https://sluice.test/v1/generations/gen_1/events?access_token=r2&lastEventId=1');
  subscription.close();
});

test('id-less notices are delivered with a null id and never deduplicated away', async () => {
  const { events } = start();
  FakeEventSource.last.open();
  FakeEventSource.last.send('token', {}, 5);
  FakeEventSource.last.send('error', { code: 'event_id_ahead', last_id: 5 });
  FakeEventSource.last.send('token', {}, 6);
  assert.deepEqual(events.map((e) => [e.id, e.type]), [[5, 'token'], [null, 'error'], [6, 'token']]);
});

test('a stored error event ends the subscription like done', async () => {
  const { subscription, events } = start();
  FakeEventSource.last.open();
  FakeEventSource.last.send('error', { code: 'worker_lost', retryable: true }, 1);
  assert.equal(subscription.snapshot().closeReason, 'complete');
  assert.equal(events[0].id, 1);
});

test('an application handler that throws does not break the subscription', async () => {
  const seen: number[] = [];
  const reported: unknown[] = [];
  const original = console.error;
  console.error = (e: unknown) => reported.push(e);
  try {
    start({ onEvent: (e) => { seen.push(e.id!); if (e.id === 1) throw new Error('app bug'); } });
    FakeEventSource.last.open();
    FakeEventSource.last.send('token', {}, 1);
    FakeEventSource.last.send('token', {}, 2);
  } finally {
    console.error = original;
  }

  assert.deepEqual(seen, [1, 2]);
  assert.equal((reported[0] as Error).message, 'app bug');
});

test('close() stops everything: no event, no reconnect', async () => {
  const { clock, subscription, events } = start();
  FakeEventSource.last.open();
  subscription.close();
  FakeEventSource.last.send('token', {}, 1);
  await clock.advance(600_000);
  assert.deepEqual(events, []);
  assert.equal(FakeEventSource.all.length, 1);
  assert.equal(subscription.state, 'closed');
});

test('withPosition replaces an earlier lastEventId and keeps the token', () => {
  assert.equal(withPosition('https://x/e?access_token=a', 0), 'https://x/e?access_token=a');
  assert.equal(withPosition('https://x/e?access_token=a&lastEventId=3', 9), 'https://x/e?access_token=a&lastEventId=9');
  assert.equal(withPosition('https://x/e?lastEventId=3&access_token=a', 9), 'https://x/e?access_token=a&lastEventId=9');
  assert.equal(withPosition('/e', 2), '/e?lastEventId=2');
});

test('generate creates with the key, streams the events_url, and refreshes through the tokens endpoint', async () => {
  const clock = new FakeClock();
  const fetch = new FakeFetch()
    .answer(202, { id: 'gen_9', status: 'queued', events_url: 'https://s.test/v1/generations/gen_9/events?access_token=a' })
    .answer(200, { events_url: 'https://s.test/v1/generations/gen_9/events?access_token=b', expires_at: null });
  const generation = await generate({
    baseUrl: 'https://s.test/', apiKey: 'sk_x', idempotencyKey: 'k1', request: { model: 'simulated/default', messages: [] },
    clock, fetch: fetch.fetch, eventSource: (u) => new FakeEventSource(u, clock.now()), random: () => 0.5,
  });
  assert.equal(generation.id, 'gen_9');
  assert.equal(fetch.requests[0].url, 'https://s.test/v1/generations');
  const headers = fetch.requests[0].init?.headers as Record<string, string>;
  assert.equal(headers.authorization, 'Bearer sk_x');
  assert.equal(headers['idempotency-key'], 'k1');
  assert.equal(FakeEventSource.last.url, 'https://s.test/v1/generations/gen_9/events?access_token=a');
  FakeEventSource.last.open();
  FakeEventSource.last.send('error', { code: 'credential_expired' });
  await settle();
  assert.equal(fetch.requests[1].url, 'https://s.test/v1/generations/gen_9/tokens');
  assert.equal(FakeEventSource.last.url, 'https://s.test/v1/generations/gen_9/events?access_token=b');
  generation.subscription.close();
});

test('generate surfaces a refused create as a SluiceError with the problem', async () => {
  const fetch = new FakeFetch().answer(400, { type: 'x', code: 'invalid_request', detail: 'model is required' });
  await assert.rejects(generate({ baseUrl: 'https://s.test', apiKey: 'k', request: {}, fetch: fetch.fetch }),
    (e: Error) => e.name === 'SluiceError' && e.message.includes('model is required'));
});

test('isEvent narrows to the contract types', () => {
  const token: SluiceEvent = { id: 1, type: 'token', data: { text: 'hi' } };
  const done: SluiceEvent = { id: 2, type: 'done', data: { finish_reason: 'stop' } };
  assert.equal(isEvent(token, 'token') ? token.data.text : null, 'hi');
  assert.equal(isEvent(done, 'done') ? done.data.finish_reason : null, 'stop');
  assert.equal(isEvent(token, 'done'), false);
  assert.equal(isEvent({ id: 3, type: 'token', data: 'not an object' }, 'token'), false);
});
