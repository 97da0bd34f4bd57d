// Benchmark receiver ("sink"): answers every POST with 200 and counts it.
// Runs in its own process, on 127.0.0.1 only; no npm packages.
//
//   node bench/sink.js [port]        (port 0 or absent: any free port)
//
// SINK_DELAY_MS (default 0) holds each POST's answer that long after its body arrived, as
// an endpoint on the network would (it is counted on arrival either way).
// SINK_WORKERS (default 1) processes share the port (node:cluster): one Node process answers
// about 40,000 POSTs a second on these machines, less than the runner can deliver. The
// control endpoints then answer for all of them together.
// Prints `sink listening on <port>` once ready. Every POST whose JSON body has
// `data.bench_run` and `data.sent_at` (ms on the machine's monotonic clock, as the load
// driver sets them, in a Tidings envelope or posted straight) is counted under that
// run, with its ingest→receipt delay (now − sent_at). Control endpoints:
//   GET  /_stats?run=ID   {"run","count","p50_ms","p99_ms","max_ms","first_ms","last_ms"}
//   GET  /_count?run=ID   {"count","cpu_us"}   (cheap: no percentile sort)
// `cpu_us` is the CPU time (user + system) the answering processes have used since they
// started, summed: read before and after a phase, it is what the sink spent on it.
// The process exits by itself after SINK_MAX_SECS (default 900) as a safety net.
'use strict';
const cluster = require('cluster');
const http = require('http');
const { performance } = require('perf_hooks');

const now = () => performance.timeOrigin + performance.now();
// The clock `sent_at` is on (bench/load.js): CLOCK_MONOTONIC, the same in every process.
const monotonic = () => Number(process.hrtime.bigint()) / 1e6;
const MAX_SAMPLES = 2_000_000; // per run; beyond this, latencies are no longer stored
const runs = new Map();

function runOf(id) {
  let r = runs.get(id);
  if (!r) {
    r = { count: 0, delays: [], first: null, last: null };
    runs.set(id, r);
  }
  return r;
}

function pct(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i] * 100) / 100;
}

let unlabelled = 0;
const DELAY_MS = Number(process.env.SINK_DELAY_MS || 0);
const answer = (res) => res.writeHead(200, { 'content-length': '0' }).end();
const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    const url = new URL(req.url, 'http://sink');
    const id = url.searchParams.get('run') || '';
    const delays = url.pathname === '/_stats';
    if (url.pathname !== '/_count' && !delays) {
      res.writeHead(404).end();
      return;
    }
    gather(id, delays, (r) => {
      const body = { run: id, count: r.count, cpu_us: r.cpu_us };
      if (delays) {
        const sorted = Float64Array.from(r.delays).sort();
        Object.assign(body, {
          p50_ms: pct(sorted, 50),
          p99_ms: pct(sorted, 99),
          max_ms: sorted.length ? Math.round(sorted[sorted.length - 1]) : null,
          first_ms: r.first,
          last_ms: r.last,
          unlabelled: r.unlabelled,
        });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const t = now();
    const received = monotonic();
    if (DELAY_MS > 0) setTimeout(answer, DELAY_MS, res);
    else answer(res);
    let data;
    try {
      data = JSON.parse(Buffer.concat(chunks).toString('utf8')).data;
    } catch (_) {
      data = null;
    }
    if (!data || typeof data.bench_run !== 'string' || typeof data.sent_at !== 'number') {
      unlabelled++;
      return;
    }
    const r = runOf(data.bench_run);
    r.count++;
    if (r.first === null) r.first = t;
    r.last = t;
    if (r.delays.length < MAX_SAMPLES) r.delays.push(received - data.sent_at);
  });
});
server.keepAliveTimeout = 60_000;

// What this process counted for run `id` (delays only when asked: they are the bulk).
function own(id, delays) {
  const r = runs.get(id) || { count: 0, delays: [], first: null, last: null };
  const cpu = process.cpuUsage();
  return {
    count: r.count,
    delays: delays ? r.delays : [],
    first: r.first,
    last: r.last,
    unlabelled,
    cpu_us: cpu.user + cpu.system,
  };
}

// Several processes' counts of one run as one.
function merge(parts) {
  const min = (xs) => (xs.length ? Math.min(...xs) : null);
  const max = (xs) => (xs.length ? Math.max(...xs) : null);
  const known = (key) => parts.map((p) => p[key]).filter((x) => x !== null);
  const sum = (key) => parts.reduce((n, p) => n + p[key], 0);
  return {
    count: sum('count'),
    delays: parts.flatMap((p) => p.delays),
    first: min(known('first')),
    last: max(known('last')),
    unlabelled: sum('unlabelled'),
    cpu_us: sum('cpu_us'),
  };
}

// Calls `done` with run `id` as every worker counted it: a worker asks the primary, which
// asks every worker (this one too) and merges their answers.
let asked = 0;
const waiting = new Map();
function gather(id, delays, done) {
  if (!cluster.isWorker) return done(own(id, delays));
  const query = ++asked;
  waiting.set(query, done);
  process.send({ gather: { query, id, delays } });
}

const WORKERS = Math.max(1, Number(process.env.SINK_WORKERS || 1));
const MAX_MS = Number(process.env.SINK_MAX_SECS || 900) * 1000;
const port = Number(process.argv[2] || process.env.SINK_PORT || 0);

if (WORKERS > 1 && cluster.isPrimary) {
  // Typed arrays and large arrays of delays pass between processes as they are.
  cluster.setupPrimary({ serialization: 'advanced' });
  const workers = Array.from({ length: WORKERS }, () => cluster.fork());
  let listening = 0;
  let nextRound = 0;
  const rounds = new Map(); // round -> { asker, query, parts }
  for (const worker of workers) {
    worker.on('listening', (address) => {
      if (++listening === WORKERS) console.log(`sink listening on ${address.port}`);
    });
    worker.on('message', (m) => {
      if (m.gather) {
        const round = ++nextRound;
        rounds.set(round, { asker: worker, query: m.gather.query, parts: [] });
        for (const w of workers) w.send({ report: { round, id: m.gather.id, delays: m.gather.delays } });
      } else if (m.reported) {
        const r = rounds.get(m.reported.round);
        r.parts.push(m.reported.part);
        if (r.parts.length === WORKERS) {
          rounds.delete(m.reported.round);
          r.asker.send({ gathered: { query: r.query, run: merge(r.parts) } });
        }
      }
    });
  }
  let stopping = false;
  const stop = (code = 0) => {
    stopping = true;
    for (const w of workers) w.process.kill();
    process.exit(code);
  };
  // A worker gone on its own leaves its counts behind: stop, so the benchmark says so
  // instead of waiting for an answer that cannot come.
  for (const worker of workers) {
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      console.error(`sink: a worker exited (${signal || code}); stopping`);
      stop(1);
    });
  }
  setTimeout(stop, MAX_MS).unref();
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => stop());
} else {
  if (cluster.isWorker) {
    process.on('message', (m) => {
      if (m.report) {
        process.send({ reported: { round: m.report.round, part: own(m.report.id, m.report.delays) } });
      } else if (m.gathered) {
        const done = waiting.get(m.gathered.query);
        waiting.delete(m.gathered.query);
        done(m.gathered.run);
      }
    });
    // The primary gone (stopped, or its time up): so is this worker.
    process.on('disconnect', () => process.exit(0));
  }
  server.listen(port, '127.0.0.1', () => {
    if (!cluster.isWorker) console.log(`sink listening on ${server.address().port}`);
  });
  setTimeout(() => process.exit(0), MAX_MS).unref();
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
}
