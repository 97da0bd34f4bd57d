// Prints the table of scripts/bench from the JSON files the scenarios left in a directory.
//   node bench/report.js DIR DATE MACHINE CONNS RATE SUBS DURATION WAITING LATENCY_MS
'use strict';
const fs = require('fs');
const path = require('path');

const [dir, date, machine, conns, rate, subs, duration, waiting, latencyMs] = process.argv.slice(2);
const read = (name) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8'));
  } catch (_) {
    return null;
  }
};
const bareFlat = read('bare-flat');
const bareRate = read('bare-rate');
const b = read('b');
// The rounds of (a), (c) and (e), taking turns (a-1, c-1, e-1, then c-2, e-2, a-2…).
const rounds = [];
for (let i = 1; read(`a-${i}`) || read(`c-${i}`) || read(`e-${i}`); i++) {
  rounds.push({
    i,
    a: read(`a-${i}`),
    c: read(`c-${i}`),
    attemptsC: read(`attempts-c-${i}`),
    e: read(`e-${i}`),
    eRate: read(`e-rate-${i}`),
    attemptsE: read(`attempts-e-${i}`),
    settled: read(`e-settled-${i}`),
    cpu: Object.fromEntries(['a', 'c', 'e'].map((side) => [side, read(`cpu-${side}-${i}`)])),
  });
}
const median = (xs) => {
  const s = xs.filter((x) => x !== null && x !== undefined).map(Number).sort((p, q) => p - q);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
// A figure's median over the rounds, as one run's object (so the rows below read it alike).
const medianRun = (side, keys) => {
  const runs = rounds.map((r) => r[side]).filter(Boolean);
  if (!runs.length) return null;
  // Rates as whole numbers; latencies as measured.
  const value = (k, m) => (m !== null && k.endsWith('_per_s') ? Math.round(m) : m);
  return Object.fromEntries(keys.map((k) => [k, value(k, median(runs.map((r) => r[k])))]));
};
const a = medianRun('a', ['accepted_per_s', 'deliveries_per_s']);
const c = medianRun('c', ['accepted_per_s', 'deliveries_per_s']);
const e = medianRun('e', ['accepted_per_s', 'deliveries_per_s']);
const eRate = medianRun('eRate', ['e2e_p50_ms', 'e2e_p99_ms']);
// The runner's CPU time per accepted event of one round's flat-out run, in µs (over its window
// and drain, as scripts/bench reads it).
const cpuPerEvent = (r, side) => {
  const cpu = r.cpu[side];
  return cpu && r[side] && r[side].accepted ? (cpu.cpu_s * 1e6) / r[side].accepted : null;
};
const cpuMedian = (side) => median(rounds.map((r) => cpuPerEvent(r, side)));
// Each round's (c) or (e) against the (a) of that round, of the figure `value(round, side)`
// reads (rounds without it left out); the report takes the median of those ratios.
const roundRatios = (side, value) =>
  rounds.map((r) => [value(r, side), value(r, 'a')]).filter(([x, y]) => x != null && y).map(([x, y]) => x / y);
const pairRatios = (side, key) => roundRatios(side, (r, s) => r[s] && r[s][key]);
const cpuPairRatios = (side) => roundRatios(side, cpuPerEvent);
const medianAttempts = (side) =>
  rounds.some((r) => r[side]) ? { failed_per_s: Math.round(median(rounds.map((r) => r[side] && r[side].failed_per_s))) } : null;
const attemptsC = medianAttempts('attemptsC');
const attemptsE = medianAttempts('attemptsE');
// The fewest that settled in any round (each round's prefill is its own).
const settledCounts = rounds.filter((r) => r.settled).map((r) => r.settled.settled);
const settled = settledCounts.length ? { settled: Math.min(...settledCounts) } : null;
// How far behind their events (a)'s deliveries may fall (ingest→receipt p50, median of the
// rounds) while the runner still sets the pace: 10-35 ms when it does, most of a second when
// the sink, not the runner, is saturated.
const SINK_LAG_MS = 100;
const dispatch = read('dispatch');
const dispatchSlow = read('dispatch-slow');

const rows = [];
const fmt = (v, unit) => (v === null || v === undefined ? '—' : `${Number(v).toLocaleString('en-US')}${unit}`);
// `ratio`, when given, is shown instead of value ÷ baseline (the median of paired rounds).
function row(figure, value, baseline, unit, target, baselineName, ratioOf) {
  const ratio =
    ratioOf !== undefined
      ? ratioOf === null ? '—' : `${ratioOf.toFixed(2)}×`
      : value !== null && value !== undefined && baseline && Number(baseline) !== 0
        ? `${(Number(value) / Number(baseline)).toFixed(2)}×`
        : '—';
  rows.push([figure, fmt(value, unit), baseline === undefined ? '—' : `${fmt(baseline, unit)}${baselineName ? ` (${baselineName})` : ''}`, ratio, target || '']);
}
const g = (r, k) => (r ? r[k] : null);

row(`(a) events/s accepted, ${subs} subs, flat out`, g(a, 'accepted_per_s'), g(bareFlat, 'accepted_per_s'), '/s', '', 'd: bare req/s');
row(`(a) deliveries/s, ${subs} subs, flat out`, g(a, 'deliveries_per_s'), g(bareFlat, 'deliveries_per_s'), '/s', '≥ 5,000/s', 'd: bare req/s');
row(`(b) events/s accepted at ${rate} ev/s`, g(b, 'accepted_per_s'), g(bareRate, 'accepted_per_s'), '/s', '', 'd: bare req/s');
// Against what falls due (each event to every subscription), not the bare loop's single POSTs.
row(`(b) deliveries/s at ${rate} ev/s × ${subs}`, g(b, 'deliveries_per_s'), b ? rate * subs : null, '/s', '', 'due');
row(`(b) ingest p50 at ${rate} ev/s`, g(b, 'ingest_p50_ms'), g(bareRate, 'ingest_p50_ms'), ' ms', '', 'd: bare POST');
row(`(b) ingest p99 at ${rate} ev/s`, g(b, 'ingest_p99_ms'), g(bareRate, 'ingest_p99_ms'), ' ms', '', 'd: bare POST');
row(`(b) ingest→receipt p50 at ${rate} ev/s × ${subs}`, g(b, 'e2e_p50_ms'), g(bareRate, 'e2e_p50_ms'), ' ms', '', 'd: bare send→receipt');
row(`(b) ingest→receipt p99 at ${rate} ev/s × ${subs}`, g(b, 'e2e_p99_ms'), g(bareRate, 'e2e_p99_ms'), ' ms', '< 50 ms', 'd: bare send→receipt');
row(`(c) healthy deliveries/s, + 1 dead endpoint`, g(c, 'deliveries_per_s'), g(a, 'deliveries_per_s'), '/s', '≥ 0.90×', 'a', median(pairRatios('c', 'deliveries_per_s')));
row(`(c) events/s accepted, + 1 dead endpoint`, g(c, 'accepted_per_s'), g(a, 'accepted_per_s'), '/s', '', 'a', median(pairRatios('c', 'accepted_per_s')));
// The dead endpoint's requests share the cores too: shown, so a reader sees that share.
const allAttempts = (r, at) => (r && at ? r.deliveries_per_s + at.failed_per_s : null);
if (attemptsC) {
  row(`(c) requests to the dead endpoint/s`, g(attemptsC, 'failed_per_s'), undefined, '/s', '');
  row(`(c) all requests/s, healthy + dead`, allAttempts(c, attemptsC), g(a, 'deliveries_per_s'), '/s', '', 'a');
}
if (e) {
  const n = settled ? settled.settled : null;
  row(`(e) healthy deliveries/s, dead + ${fmt(n, '')} waiting`, g(e, 'deliveries_per_s'), g(a, 'deliveries_per_s'), '/s', '≥ 0.90×', 'a', median(pairRatios('e', 'deliveries_per_s')));
  row(`(e) events/s accepted, dead + ${fmt(n, '')} waiting`, g(e, 'accepted_per_s'), g(a, 'accepted_per_s'), '/s', '', 'a', median(pairRatios('e', 'accepted_per_s')));
  if (attemptsE) {
    row(`(e) requests to the dead endpoint/s`, g(attemptsE, 'failed_per_s'), undefined, '/s', '');
    row(`(e) all requests/s, healthy + dead`, allAttempts(e, attemptsE), g(a, 'deliveries_per_s'), '/s', '', 'a');
  }
}
if (eRate) {
  row(`(e) ingest→receipt p50 at ${rate} ev/s × ${subs}, dead + waiting`, g(eRate, 'e2e_p50_ms'), g(b, 'e2e_p50_ms'), ' ms', '', 'b');
  row(`(e) ingest→receipt p99 at ${rate} ev/s × ${subs}, dead + waiting`, g(eRate, 'e2e_p99_ms'), g(b, 'e2e_p99_ms'), ' ms', '< 50 ms', 'b');
}
if (dispatch) {
  row(
    `(f) dispatcher deliveries/s, ${dispatch.in_flight} in flight`,
    dispatch.dispatcher_per_s,
    dispatch.bare_per_s,
    '/s',
    '≥ 0.90×',
    'bare reqwest',
  );
}
if (dispatch && dispatch.dispatcher_cpu_us) {
  // bench-dispatch's own CPU time per delivery in each phase (the sink's is not in it): the
  // dispatcher's cost whatever the sink's share of the cores (more is worse).
  row(
    `(f) CPU per delivery, dispatcher (its process)`,
    dispatch.dispatcher_cpu_us,
    dispatch.bare_cpu_us,
    ' µs',
    '',
    'bare reqwest',
  );
}
if (dispatch && dispatch.dispatcher_sink_cpu_us) {
  // The sink's CPU per request in each phase: it shares the two cores, so what it spends
  // sets part of both rates. Both phases send it the same requests (since cc60525).
  row(
    `(f) the sink's CPU per delivery, dispatcher's requests`,
    dispatch.dispatcher_sink_cpu_us,
    dispatch.bare_sink_cpu_us,
    ' µs',
    '',
    'bare reqwest',
  );
}
if (dispatch && dispatch.dispatcher_allocations) {
  // Counted, not timed: the one (f) figure this shared machine's noise does not move, so a
  // change to the dispatcher's work shows in it even when the CPU rows scatter.
  row(
    `(f) allocations per delivery, dispatcher`,
    dispatch.dispatcher_allocations,
    dispatch.bare_allocations,
    '',
    '',
    'bare reqwest',
  );
}
if (dispatch && dispatch.hyper_per_s) {
  // The client the dispatcher sends with, bare: what the dispatcher's own work (queue,
  // record, signature, span) costs over sending alone. Not the target's baseline.
  row(`(f) dispatcher deliveries/s, against its own client bare`, dispatch.dispatcher_per_s, dispatch.hyper_per_s, '/s', '', 'bare hyper');
  row(`(f) CPU per delivery, against its own client bare`, dispatch.dispatcher_cpu_us, dispatch.hyper_cpu_us, ' µs', '', 'bare hyper');
  row(`(f) allocations per delivery, against its own client bare`, dispatch.dispatcher_allocations, dispatch.hyper_allocations, '', '', 'bare hyper');
}
if (dispatchSlow) {
  // Not the target's figure: the same comparison where the endpoint, not the CPU, sets the pace.
  row(
    `(f) the same, sink answering after ${latencyMs} ms`,
    dispatchSlow.dispatcher_per_s,
    dispatchSlow.bare_per_s,
    '/s',
    '',
    'bare reqwest',
  );
}
// What the dead endpoint (and the backlog) cost the runner itself, whoever sets the pace:
// its CPU per accepted event against (a)'s of the same round (more is worse).
const wholeUs = (v) => (v === null ? null : Math.round(v));
if (rounds.some((r) => r.cpu.a)) {
  row(`(a) runner CPU per accepted event, flat out`, wholeUs(cpuMedian('a')), undefined, ' µs', '');
  if (rounds.some((r) => r.cpu.c)) {
    row(`(c) runner CPU per accepted event, + 1 dead endpoint`, wholeUs(cpuMedian('c')), wholeUs(cpuMedian('a')), ' µs', '', 'a', median(cpuPairRatios('c')));
  }
  if (rounds.some((r) => r.cpu.e)) {
    row(`(e) runner CPU per accepted event, dead + waiting`, wholeUs(cpuMedian('e')), wholeUs(cpuMedian('a')), ' µs', '', 'a', median(cpuPairRatios('e')));
  }
}
// The highest of a scenario's rounds.
const rss = (s) => {
  const kbs = [read(`rss-${s}`), ...rounds.map((r) => read(`rss-${s}-${r.i}`))].filter((r) => r && r.vmhwm_kb).map((r) => r.vmhwm_kb);
  return kbs.length ? Math.max(...kbs) : null;
};
for (const s of ['a', 'b', 'c', 'e']) {
  const kb = rss(s);
  if (kb) rows.push([`peak RSS of the runner after (${s})`, `${(kb / 1024).toFixed(1)} MB`, '—', '—', '']);
}

const head = ['figure', 'value', 'baseline', 'ratio', 'target'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log('');
console.log(`Tidings embedded runner, ${date}, ${machine}; ${conns} connections flat out, ${duration} s per scenario`);
console.log('');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log('');
if (rounds.length) {
  const list = (xs) => xs.map((x) => `${x.toFixed(2)}×`).join(', ');
  console.log(
    `(a), (c), (e): ${rounds.length} rounds, taking turns; the table gives medians, and the healthy deliveries' ratios of (c) and (e) ` +
      `are the median of each round's ÷ (a) of the same round. (a) deliveries/s per round: ${rounds.map((r) => fmt(g(r.a, 'deliveries_per_s'), '')).join(', ')}; ` +
      `(c) ÷ (a): ${list(pairRatios('c', 'deliveries_per_s'))}` +
      (e ? `; (e) ÷ (a): ${list(pairRatios('e', 'deliveries_per_s'))}` : '') +
      (rounds.some((r) => r.cpu.c) ? `; runner CPU per accepted event (c) ÷ (a): ${list(cpuPairRatios('c'))}` : '') +
      (rounds.some((r) => r.cpu.e) ? `; (e) ÷ (a): ${list(cpuPairRatios('e'))}` : ''),
  );
  // The sink is one Node process: when it cannot answer as fast as the runner delivers,
  // deliveries queue behind it, the sink sets the pace of (a), and a dead endpoint's cost
  // to the runner shows less in (c) and (e) than it is.
  const lag = median(rounds.map((r) => r.a && r.a.e2e_p50_ms));
  if (lag !== null && lag >= SINK_LAG_MS) {
    const share = a && bareFlat ? ` ((a) at ${(a.deliveries_per_s / bareFlat.accepted_per_s).toFixed(2)}× of (d))` : '';
    console.log(
      `Caution: (a)'s deliveries fell ${fmt(lag, ' ms')} behind their events (ingest→receipt p50, median of the rounds)${share}: ` +
        `the sink, not the runner, set the pace of the flat-out runs, so (c) and (e) understate what the dead endpoint costs the runner ` +
        `(the rows of runner CPU per accepted event still show it). ` +
        `Prefer a run on a quieter machine, where they stay under ${SINK_LAG_MS} ms.`,
    );
  }
}
if (dispatch) {
  console.log(
    `(f) ${dispatch.rounds} rounds of ${dispatch.deliveries_per_round} deliveries, ${dispatch.concurrency} receive loops, ` +
      `${dispatch.in_flight} POSTs in flight; ratio per round: ${dispatch.round_ratios.map((r) => `${r}×`).join(', ')}` +
      (dispatch.round_cpu_ratios ? `; CPU per delivery, dispatcher ÷ bare, per round: ${dispatch.round_cpu_ratios.map((r) => `${r}×`).join(', ')}` : ''),
  );
}
if (dispatchSlow) {
  console.log(
    `(f) to the sink answering after ${latencyMs} ms: ${dispatchSlow.rounds} rounds of ${dispatchSlow.deliveries_per_round}; ` +
      `ratio per round: ${dispatchSlow.round_ratios.map((r) => `${r}×`).join(', ')}`,
  );
}
const runs = [['d bare flat', bareFlat], ['d bare rate', bareRate], ['b', b]];
for (const r of rounds) {
  runs.push([`a, round ${r.i}`, r.a], [`c, round ${r.i}`, r.c], [`e rate, round ${r.i}`, r.eRate], [`e, round ${r.i}`, r.e]);
}
for (const [name, r] of runs) {
  if (!r) continue;
  const drained = r.drained_after_s === null ? `not all within the drain wait` : `all ${r.drained_after_s} s after the window`;
  console.log(
    `(${name}) ${r.mode}: ${r.accepted} accepted, ${r.failed} failed; deliveries received ${r.received_deliveries} of ${r.expected_deliveries} (${drained}); ` +
      `ingest→receipt over all: p50 ${fmt(r.e2e_p50_ms, ' ms')}, p99 ${fmt(r.e2e_p99_ms, ' ms')}, max ${fmt(r.e2e_max_ms, ' ms')}`,
  );
}
