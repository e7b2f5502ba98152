// Fan-out with node's own fetch (undici) as the SSE client, a client that is not Sluice.Load: S subscribers on one
// stream, spread over the given subscribe URLs (one node or several), one publisher at R events/s for D s on the
// publish URL. Reports delivery, duplicates, latency and the CPU seconds of the given server and store PIDs (from
// /proc, children included) over the measured part. Loopback only; bounded (D s + 5 s drain).
//   node bench/node/fanout.mjs <publish-url> <subscribe-url[,url...]> <admin key> [S=1000] [R=100] [D=10] [server-pids] [store-pids]
// API=peer speaks the peers' contract (../shared/tools/sseload-peers: POST /pub/{topic} raw body, GET /sub/{topic}), so
// the same client measures peer A; the key is then ignored.
import { cpuSeconds, loopbackOnly, quantile } from './cpu.mjs';

const [pubUrl, subUrls, key, S = '1000', R = '100', D = '10', serverPids = '', storePids = ''] = process.argv.slice(2);
loopbackOnly(pubUrl, ...subUrls.split(','));
const subscribers = +S, rate = +R, seconds = +D, events = rate * seconds;
const stream = `node-fanout-${Date.now()}`;
const peer = process.env.API === 'peer';
const pubPath = peer ? `/pub/${stream}` : `/v1/streams/${stream}/events`;
const subPath = peer ? `/sub/${stream}` : `/v1/streams/${stream}/events`;
const auth = { authorization: `Bearer ${key}` };
async function publish(data) {
  const r = await fetch(`${pubUrl}${pubPath}`, peer
    ? { method: 'POST', body: JSON.stringify(data) }
    : { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'token', data }) });
  await r.arrayBuffer();
  if (r.status !== 201) throw new Error(`publish answered ${r.status}`);
}

await publish({ text: 'warm', t: 0 }); // id 1: every subscriber starts after it
const urls = subUrls.split(',');
const latencies = []; let delivered = 0, duplicates = 0, connected = 0, failed = 0;
const aborts = [];
const subs = Array.from({ length: subscribers }, async (_, i) => {
  const ac = new AbortController(); aborts.push(ac);
  let last = 1, lastMs = -1, lastSeq = -1;
  try {
    const res = await fetch(`${urls[i % urls.length]}${subPath}`, { headers: peer ? { accept: 'text/event-stream' } : { ...auth, 'last-event-id': '1' }, signal: ac.signal });
    if (res.status !== 200) { failed++; return; }
    connected++;
    const reader = res.body.getReader(); const decoder = new TextDecoder(); let buf = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at); buf = buf.slice(at + 2);
        const id = /^id: (\d+(?:-\d+)?)$/m.exec(block); const data = /^data: (.*)$/m.exec(block);
        if (!id || !data || !(peer ? data[1].includes('"t"') : block.includes('event: token'))) continue;
        if (peer && data[1].includes('"t":0}')) continue; // the warm-up event, replayed to a subscriber without an id
        if (peer) {
          // Peer A's ids are Redis stream ids (ms-seq), ordered but not dense: compare them as pairs.
          const [ms, seq] = id[1].split('-').map(Number);
          if (lastMs > ms || (lastMs === ms && lastSeq >= seq)) { duplicates++; continue; }
          lastMs = ms; lastSeq = seq; delivered++;
        } else {
          const n = +id[1];
          if (n <= last) { duplicates++; continue; }
          last = n; delivered++;
        }
        latencies.push(Date.now() - JSON.parse(data[1]).t);
      }
    }
  } catch { /* aborted at the end */ }
});
const t0 = Date.now();
while (connected + failed < subscribers && Date.now() - t0 < 30000) await new Promise((r) => setTimeout(r, 50));

const cpu0 = cpuSeconds(serverPids), store0 = cpuSeconds(storePids);
const start = Date.now(); const pending = [];
for (let i = 0; i < events; i++) {
  const due = start + (i * 1000) / rate;
  if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
  pending.push(publish({ text: `t${i}`, t: Date.now() }));
}
await Promise.all(pending);
const expected = events * connected;
const drainUntil = Date.now() + 5000;
while (delivered + duplicates < expected && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 50));
const cpu1 = cpuSeconds(serverPids), store1 = cpuSeconds(storePids);
aborts.forEach((a) => a.abort()); await Promise.allSettled(subs);

latencies.sort((a, b) => a - b);
const q = (p) => quantile(latencies, p);
console.log(JSON.stringify({
  client: 'node-fetch', api: peer ? 'peer' : 'sluice', subscribe_urls: urls.length, subscribers, connected, failed, rate, events, expected, delivered,
  missing: expected - delivered, duplicates, latency_ms_p50: q(0.5), latency_ms_p99: q(0.99), latency_ms_max: latencies.at(-1),
  server_cpu_seconds: +(cpu1 - cpu0).toFixed(2),
  server_cpu_us_per_delivered: delivered ? +((cpu1 - cpu0) / delivered * 1e6).toFixed(2) : null,
  store_cpu_us_per_delivered: storePids && delivered ? +((store1 - store0) / delivered * 1e6).toFixed(2) : null,
  store_cpu_seconds: storePids ? +(store1 - store0).toFixed(2) : null,
}));
