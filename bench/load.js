// Benchmark load driver: posts events flat out (N connections) or at a fixed rate,
// with keep-alive agents from Node's own `http` module (no npm packages).
//
//   node bench/load.js target=http://127.0.0.1:3000/v1/events key=tdk_bench \
//        conns=32 duration=10 rate=0 run=a sink=http://127.0.0.1:4000 fanout=3 drain=15
//
// target   URL every event is POSTed to (Tidings' /v1/events, or the sink itself for the bare baseline)
// key      bearer key (omitted: no Authorization header)
// conns    connections (flat out: that many requests in flight; fixed rate: the agent's socket cap)
// duration seconds of load (the window)
// rate     events per second; 0 = flat out
// max      stop after this many events even if the window is not over (0 = no cap)
// run      label put in each event's data (`bench_run`), so the sink counts this run apart
// sink     the sink's base URL, for its counters (optional)
// fanout   deliveries the sink should receive per accepted event (for the drain wait)
// drain    at most this many seconds to wait, after the window, for the sink to receive them all
// type     event type (default order.created)
//
// Each event's data carries `sent_at` (ms on the machine's monotonic clock, taken just
// before the request); the sink, on the same machine, computes ingest→receipt from it.
// Prints one JSON object on stdout.
'use strict';
const http = require('http');
const { performance } = require('perf_hooks');

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const i = a.indexOf('=');
    return i < 0 ? [a, 'true'] : [a.slice(0, i), a.slice(i + 1)];
  }),
);
const target = new URL(args.target || 'http://127.0.0.1:3000/v1/events');
if (target.hostname !== '127.0.0.1') {
  console.error('load.js only sends to 127.0.0.1');
  process.exit(2);
}
const key = args.key || '';
const conns = Math.max(1, Number(args.conns || 32));
const duration = Math.min(600, Math.max(0.1, Number(args.duration || 10)));
const rate = Number(args.rate || 0);
const max = Number(args.max || 0) || Infinity;
const run = args.run || `run${process.pid}`;
const sink = args.sink ? new URL(args.sink) : null;
const fanout = Number(args.fanout || 0);
const drain = Math.min(600, Number(args.drain || 0));
const type = args.type || 'order.created';

const now = () => performance.timeOrigin + performance.now();
// CLOCK_MONOTONIC, which every process on the machine reads alike: `now()` fixes its origin
// from the wall clock once, at the start, so two processes' `now()`s stand apart by however
// much the wall clock was stepped in between (4.3 ms in one run).
const monotonic = () => Number(process.hrtime.bigint()) / 1e6;
const agent = new http.Agent({ keepAlive: true, maxSockets: conns, maxFreeSockets: conns });
const ctlAgent = new http.Agent({ keepAlive: true, maxSockets: 2 });

let sent = 0;
let accepted = 0;
let failed = 0;
let firstError = null;
const latencies = [];

function post(seq) {
  return new Promise((resolve) => {
    const t0 = now();
    const sentAt = monotonic();
    const body = JSON.stringify({
      type,
      data: { bench_run: run, sent_at: sentAt, seq, order_id: `order_${seq}`, total: '99.99' },
    });
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (key) headers.authorization = `Bearer ${key}`;
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers, timeout: 30_000 },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          latencies.push(now() - t0);
          if (res.statusCode >= 200 && res.statusCode < 300) accepted++;
          else {
            failed++;
            if (!firstError) firstError = `${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 200)}`;
          }
          resolve();
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out after 30 s')));
    req.on('error', (e) => {
      failed++;
      if (!firstError) firstError = String(e.message || e);
      resolve();
    });
    req.end(body);
  });
}

function getJson(path) {
  return new Promise((resolve) => {
    const req = http.get(
      { host: sink.hostname, port: sink.port, path, agent: ctlAgent, timeout: 10_000 },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString()));
          } catch (_) {
            resolve(null);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(null));
  });
}
const sinkCount = async () => (sink ? ((await getJson(`/_count?run=${encodeURIComponent(run)}`)) || {}).count || 0 : 0);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function pct(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i] * 100) / 100;
}

async function flatOut(deadline) {
  const worker = async () => {
    while (now() < deadline && sent < max) {
      await post(sent++);
    }
  };
  await Promise.all(Array.from({ length: conns }, worker));
}

async function fixedRate(start, deadline) {
  const total = Math.min(max, Math.floor(rate * duration));
  const pending = new Set();
  await new Promise((resolve) => {
    const tick = () => {
      const t = now();
      const due = Math.min(total, Math.floor(((Math.min(t, deadline) - start) / 1000) * rate));
      while (sent < due) {
        const p = post(sent++);
        pending.add(p);
        p.then(() => pending.delete(p));
      }
      if (sent >= total || t >= deadline) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
  });
  await Promise.all([...pending]);
}

(async () => {
  const start = now();
  const deadline = start + duration * 1000;
  if (rate > 0) await fixedRate(start, deadline);
  else await flatOut(deadline);
  const end = now();
  const window = (end - start) / 1000;
  const inWindow = await sinkCount();

  // Wait (bounded) for the sink to receive every delivery of the accepted events.
  const expected = accepted * fanout;
  let received = inWindow;
  let drained = null;
  if (sink && fanout > 0) {
    const until = now() + drain * 1000;
    while (received < expected && now() < until) {
      await sleep(100);
      received = await sinkCount();
    }
    if (received >= expected) drained = Math.round((now() - end) / 100) / 10;
  }
  const stats = sink ? await getJson(`/_stats?run=${encodeURIComponent(run)}`) : null;
  const sorted = Float64Array.from(latencies).sort();
  const out = {
    run,
    target: target.href,
    mode: rate > 0 ? `${rate}/s` : 'flat out',
    conns,
    window_s: Math.round(window * 100) / 100,
    window_start_ms: Math.round(start),
    window_end_ms: Math.round(end),
    sent,
    accepted,
    failed,
    first_error: firstError,
    accepted_per_s: Math.round(accepted / window),
    ingest_p50_ms: pct(sorted, 50),
    ingest_p99_ms: pct(sorted, 99),
    sink_in_window: inWindow,
    deliveries_per_s: Math.round(inWindow / window),
    expected_deliveries: expected,
    received_deliveries: stats ? stats.count : received,
    drained_after_s: drained,
    e2e_p50_ms: stats ? stats.p50_ms : null,
    e2e_p99_ms: stats ? stats.p99_ms : null,
    e2e_max_ms: stats ? stats.max_ms : null,
  };
  console.log(JSON.stringify(out));
  agent.destroy();
  ctlAgent.destroy();
  process.exit(0);
})();
setTimeout(() => {
  console.error('load.js: hard time limit reached');
  process.exit(3);
}, (duration + drain + 60) * 1000).unref();
