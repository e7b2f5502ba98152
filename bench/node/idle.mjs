// Idle SSE connections held by node's fetch (a client that is not Sluice.Load): N connections over M streams, held
// H seconds; the server's RSS (children included) before and after, per connection.
//   node bench/node/idle.mjs <url> <admin key|-> [N=5000] [M=100] [H=10] <server-pids>
//   API=peer: the peers' contract (POST /pub/{topic}, GET /sub/{topic}). Loopback only, bounded.
import { rssKiB, loopbackOnly } from './cpu.mjs';

const [url, key, N = '5000', M = '100', H = '10', pids = ''] = process.argv.slice(2);
loopbackOnly(url);
const peer = process.env.API === 'peer';
const run = `idle-${Date.now()}`;
const auth = peer ? {} : { authorization: `Bearer ${key}` };
const pub = (s) => peer ? `${url}/pub/${run}-${s}` : `${url}/v1/streams/${run}-${s}/events`;
const sub = (s) => peer ? `${url}/sub/${run}-${s}` : `${url}/v1/streams/${run}-${s}/events`;
for (let s = 0; s < +M; s++) {
  const r = await fetch(pub(s), peer ? { method: 'POST', body: 'x' } : { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"type":"token","data":{"text":"x"}}' });
  await r.arrayBuffer();
}
await new Promise((r) => setTimeout(r, 2000));
const before = rssKiB(pids);
let held = 0, failed = 0; const aborts = [];
const open = async (i) => {
  const ac = new AbortController(); aborts.push(ac);
  try {
    const res = await fetch(sub(i % +M), { headers: { ...auth, accept: 'text/event-stream', 'last-event-id': peer ? '0-0' : '1' }, signal: ac.signal });
    if (res.status === 200) { held++; res.body.getReader().read().catch(() => {}); } else { failed++; await res.arrayBuffer(); }
  } catch { failed++; }
};
for (let i = 0; i < +N; i += 256) await Promise.all(Array.from({ length: Math.min(256, +N - i) }, (_, k) => open(i + k)));
await new Promise((r) => setTimeout(r, +H * 1000));
const after = rssKiB(pids);
aborts.forEach((a) => a.abort());
console.log(JSON.stringify({ client: 'node-fetch', api: peer ? 'peer' : 'sluice', connections: +N, streams: +M, held, failed,
  server_rss_before_kib: before, server_rss_after_kib: after, server_kib_per_connection: held ? +((after - before) / held).toFixed(2) : null }));
process.exit(0);
