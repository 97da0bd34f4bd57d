// Prints the table of scripts/bench from the JSON files the scenarios left in a directory.
//   node bench/report.js DIR DATE MACHINE CONNS RATE SUBS DURATION WAITING
'use strict';
const fs = require('fs');
const path = require('path');

const [dir, date, machine, conns, rate, subs, duration, waiting] = process.argv.slice(2);
const read = (name) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8'));
  } catch (_) {
    return null;
  }
};
const bareFlat = read('bare-flat');
const bareRate = read('bare-rate');
const a = read('a');
const b = read('b');
const c = read('c');
const e = read('e');
const eRate = read('e-rate');
const settled = read('e-settled');
const attemptsC = read('attempts-c');
const attemptsE = read('attempts-e');
const dispatch = read('dispatch');

const rows = [];
const fmt = (v, unit) => (v === null || v === undefined ? '—' : `${Number(v).toLocaleString('en-US')}${unit}`);
function row(figure, value, baseline, unit, target, baselineName) {
  const ratio =
    value !== null && value !== undefined && baseline && Number(baseline) !== 0
      ? `${(Number(value) / Number(baseline)).toFixed(2)}×`
      : '—';
  rows.push([figure, fmt(value, unit), baseline === undefined ? '—' : `${fmt(baseline, unit)}${baselineName ? ` (${baselineName})` : ''}`, ratio, target || '']);
}
const g = (r, k) => (r ? r[k] : null);

row(`(a) events/s accepted, ${subs} subs, flat out`, g(a, 'accepted_per_s'), g(bareFlat, 'accepted_per_s'), '/s', '', 'd: bare req/s');
row(`(a) deliveries/s, ${subs} subs, flat out`, g(a, 'deliveries_per_s'), g(bareFlat, 'deliveries_per_s'), '/s', '≥ 5,000/s', 'd: bare req/s');
row(`(b) ingest p50 at ${rate} ev/s`, g(b, 'ingest_p50_ms'), g(bareRate, 'ingest_p50_ms'), ' ms', '', 'd: bare POST');
row(`(b) ingest p99 at ${rate} ev/s`, g(b, 'ingest_p99_ms'), g(bareRate, 'ingest_p99_ms'), ' ms', '', 'd: bare POST');
row(`(b) ingest→receipt p50 at ${rate} ev/s × ${subs}`, g(b, 'e2e_p50_ms'), g(bareRate, 'e2e_p50_ms'), ' ms', '', 'd: bare send→receipt');
row(`(b) ingest→receipt p99 at ${rate} ev/s × ${subs}`, g(b, 'e2e_p99_ms'), g(bareRate, 'e2e_p99_ms'), ' ms', '< 50 ms', 'd: bare send→receipt');
row(`(c) healthy deliveries/s, + 1 dead endpoint`, g(c, 'deliveries_per_s'), g(a, 'deliveries_per_s'), '/s', '≥ 0.90×', 'a');
row(`(c) events/s accepted, + 1 dead endpoint`, g(c, 'accepted_per_s'), g(a, 'accepted_per_s'), '/s', '', 'a');
// The dead endpoint's requests share the cores too: shown, so a reader sees that share.
const allAttempts = (r, at) => (r && at ? r.deliveries_per_s + at.failed_per_s : null);
if (attemptsC) {
  row(`(c) requests to the dead endpoint/s`, g(attemptsC, 'failed_per_s'), undefined, '/s', '');
  row(`(c) all requests/s, healthy + dead`, allAttempts(c, attemptsC), g(a, 'deliveries_per_s'), '/s', '', 'a');
}
if (e) {
  const n = settled ? settled.settled : null;
  row(`(e) healthy deliveries/s, dead + ${fmt(n, '')} waiting`, g(e, 'deliveries_per_s'), g(a, 'deliveries_per_s'), '/s', '≥ 0.90×', 'a');
  row(`(e) events/s accepted, dead + ${fmt(n, '')} waiting`, g(e, 'accepted_per_s'), g(a, 'accepted_per_s'), '/s', '', 'a');
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
for (const s of ['a', 'b', 'c', 'e']) {
  const r = read(`rss-${s}`);
  if (r && r.vmhwm_kb) rows.push([`peak RSS of the runner after (${s})`, `${(r.vmhwm_kb / 1024).toFixed(1)} MB`, '—', '—', '']);
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
if (dispatch) {
  console.log(
    `(f) ${dispatch.rounds} rounds of ${dispatch.deliveries_per_round} deliveries, ${dispatch.concurrency} receive loops, ` +
      `${dispatch.in_flight} POSTs in flight; ratio per round: ${dispatch.round_ratios.map((r) => `${r}×`).join(', ')}`,
  );
}
for (const [name, r] of [['d bare flat', bareFlat], ['d bare rate', bareRate], ['a', a], ['b', b], ['c', c], ['e rate', eRate], ['e', e]]) {
  if (!r) continue;
  const drained = r.drained_after_s === null ? `not all within the drain wait` : `all ${r.drained_after_s} s after the window`;
  console.log(
    `(${name}) ${r.mode}: ${r.accepted} accepted, ${r.failed} failed; deliveries received ${r.received_deliveries} of ${r.expected_deliveries} (${drained}); ` +
      `ingest→receipt over all: p50 ${fmt(r.e2e_p50_ms, ' ms')}, p99 ${fmt(r.e2e_p99_ms, ' ms')}, max ${fmt(r.e2e_max_ms, ' ms')}`,
  );
}
