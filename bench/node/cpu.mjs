// CPU seconds and RSS of server processes from /proc, their children included (uvicorn's workers).
import { readFileSync, readdirSync, existsSync } from 'node:fs';

const tick = 100; // USER_HZ on Linux

function tree(pid, seen = new Set()) {
  if (seen.has(pid) || !existsSync(`/proc/${pid}/stat`)) return seen;
  seen.add(pid);
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const c = `/proc/${pid}/task/${task}/children`;
    if (existsSync(c)) for (const child of readFileSync(c, 'utf8').split(' ').filter(Boolean)) tree(child, seen);
  }
  return seen;
}

const pids = (list) => String(list || '').split(',').filter(Boolean);

export function cpuSeconds(list) {
  let t = 0;
  for (const root of pids(list)) for (const p of tree(root)) {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    t += (+f[11] + +f[12]) / tick;
  }
  return t;
}

export function rssKiB(list) {
  let kib = 0;
  for (const root of pids(list)) for (const p of tree(root)) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
    if (m) kib += +m[1];
  }
  return kib;
}

export function loopbackOnly(...urls) {
  for (const u of urls) if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(u)) { console.error(`loopback only: ${u}`); process.exit(2); }
}

export const quantile = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null;
