// 32 concurrent durable single-event publishes, 20,000 in all, with node's own fetch (undici): a client that is not Sluice.Load.
const [url, key, total = '20000', conc = '32'] = process.argv.slice(2);
const body = JSON.stringify({ type: 'token', data: { text: 'hello' } });
let next = 0, failed = 0; const lat = [];
async function worker(w) {
  while (next < +total) {
    const i = next++; const t0 = performance.now();
    const r = await fetch(`${url}/v1/streams/node-${w}/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
    await r.arrayBuffer(); if (r.status !== 201) failed++; lat.push(performance.now() - t0);
  }
}
const t = performance.now();
await Promise.all(Array.from({ length: +conc }, (_, w) => worker(w)));
const s = (performance.now() - t) / 1000; lat.sort((a, b) => a - b);
console.log(JSON.stringify({ publishes_per_second: Math.round(+total / s), p99_ms: +lat[Math.floor(lat.length * 0.99)].toFixed(2), failed, wall_seconds: +s.toFixed(2) }));
