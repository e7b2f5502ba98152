// Burst replay with node's fetch: H events published, then S subscribers connect at once and each reads the whole
// history (from id 0); time to full replay per subscriber, server CPU for the burst.
//   node bench/node/burst.mjs <url> <admin key|-> [S=2000] [H=1000] <server-pids>
//   API=peer: the peers' contract. Loopback only, bounded (60 s).
import { setMaxListeners } from 'node:events';
import { cpuSeconds, loopbackOnly, quantile } from './cpu.mjs';

const [url, key, S = '2000', H = '1000', pids = ''] = process.argv.slice(2);
loopbackOnly(url);
const peer = process.env.API === 'peer';
const stream = `burst-${Date.now()}`;
const auth = peer ? {} : { authorization: `Bearer ${key}` };
const pubUrl = peer ? `${url}/pub/${stream}` : `${url}/v1/streams/${stream}/events`;
// Publish the history in batches of 100 (the peer takes one event per request).
for (let i = 0; i < +H; i += peer ? 1 : 100) {
  const r = peer
    ? await fetch(pubUrl, { method: 'POST', body: JSON.stringify({ text: `h${i}` }) })
    : await fetch(pubUrl, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ events: Array.from({ length: Math.min(100, +H - i) }, (_, k) => ({ type: 'token', data: { text: `h${i + k}` } })) }) });
  await r.arrayBuffer();
  if (r.status !== 201) throw new Error(`publish answered ${r.status}`);
}
const cpu0 = cpuSeconds(pids);
const t0 = performance.now(); const times = []; let complete = 0, short = 0;
const deadline = AbortSignal.timeout(60000);
setMaxListeners(0, deadline);
await Promise.all(Array.from({ length: +S }, async () => {
  const ac = new AbortController(); deadline.addEventListener('abort', () => ac.abort());
  let n = 0;
  try {
    const res = await fetch(peer ? `${url}/sub/${stream}` : `${url}/v1/streams/${stream}/events`,
      { headers: { ...auth, accept: 'text/event-stream', 'last-event-id': peer ? '0-0' : '0' }, signal: ac.signal });
    const reader = res.body.getReader(); const decoder = new TextDecoder(); let buf = '';
    while (n < +H) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) { if (/^data: /m.test(buf.slice(0, at)) && /^id: /m.test(buf.slice(0, at))) n++; buf = buf.slice(at + 2); }
    }
    ac.abort();
  } catch { /* aborted */ }
  if (n >= +H) { complete++; times.push(performance.now() - t0); } else short++;
}));
const cpu1 = cpuSeconds(pids);
times.sort((a, b) => a - b);
console.log(JSON.stringify({ client: 'node-fetch', api: peer ? 'peer' : 'sluice', subscribers: +S, history: +H, complete, short,
  replay_ms_p50: Math.round(quantile(times, 0.5)), replay_ms_p99: Math.round(quantile(times, 0.99)),
  server_cpu_seconds: +(cpu1 - cpu0).toFixed(2) }));
process.exit(0);
