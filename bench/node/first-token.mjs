// Added first-token latency with node's fetch: an upstream on 127.0.0.1 that speaks OpenAI's streaming wire format
// and sends its first token at once; N sequential samples of time-to-first-token read directly from it, and N through
// Sluice's /v1/chat/completions (stream: true) with a provider pointed at it. Added = through - direct, per percentile.
// Sluice must run with: --Sluice:Providers:bench:Type openai --Sluice:Providers:bench:BaseUrl http://127.0.0.1:<port>/v1
//   --Sluice:Providers:bench:ApiKey x   (the port is the first argument here).
//   node bench/node/first-token.mjs <upstream-port> <sluice-url> <key> [N=300]
import { createServer } from 'node:http';
import { loopbackOnly, quantile } from './cpu.mjs';

const [port, url, key, N = '300'] = process.argv.slice(2);
loopbackOnly(url);
const head = '"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1741570283,"model":"bench"';
const chunk = (delta, finish) => `data: {${head},"choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish}}],"usage":null}\n\n`;
const upstream = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('{"role":"assistant","content":"first"}', 'null'));
    res.end(chunk('{}', '"stop"') + `data: {${head},"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\ndata: [DONE]\n\n`);
  });
});
await new Promise((r) => upstream.listen(+port, '127.0.0.1', r));

async function firstToken(target, headers, body) {
  const t0 = performance.now();
  const res = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const reader = res.body.getReader(); const decoder = new TextDecoder(); let buf = ''; let at = null;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    if (at === null && buf.includes('"content":"first"')) at = performance.now() - t0;
  }
  if (at === null) throw new Error(`no first token from ${target}: ${res.status} ${buf.slice(0, 300)}`);
  return at;
}

const body = JSON.stringify({ model: 'bench/bench', stream: true, messages: [{ role: 'user', content: 'x' }] });
const direct = [], through = [];
for (let i = 0; i < 20; i++) { // warm-up of both paths (JIT, connection pools)
  await firstToken(`http://127.0.0.1:${port}/v1/chat/completions`, {}, body);
  await firstToken(`${url}/v1/chat/completions`, { authorization: `Bearer ${key}` }, body);
}
for (let i = 0; i < +N; i++) {
  direct.push(await firstToken(`http://127.0.0.1:${port}/v1/chat/completions`, {}, body));
  through.push(await firstToken(`${url}/v1/chat/completions`, { authorization: `Bearer ${key}` }, body));
}
direct.sort((a, b) => a - b); through.sort((a, b) => a - b);
const r = (x) => +x.toFixed(3);
console.log(JSON.stringify({ client: 'node-fetch', samples: +N,
  direct_ms_p50: r(quantile(direct, 0.5)), direct_ms_p99: r(quantile(direct, 0.99)),
  through_ms_p50: r(quantile(through, 0.5)), through_ms_p99: r(quantile(through, 0.99)),
  added_ms_p50: r(quantile(through, 0.5) - quantile(direct, 0.5)), added_ms_p99: r(quantile(through, 0.99) - quantile(direct, 0.99)) }));
upstream.close(); process.exit(0);
