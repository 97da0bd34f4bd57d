// Prints the table of scripts/bench-lambda from the fake Runtime API's JSON lines and the
// bootstraps' sizes, in the layout of bench/report.js.
//   node bench/lambda-report.js RUNS.jsonl SIZES.jsonl DATE MACHINE RUNS
'use strict';
const fs = require('fs');

const [runsFile, sizesFile, date, machine, runs] = process.argv.slice(2);
const lines = (file) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
const cases = Object.fromEntries(lines(runsFile).map((c) => [c.case, c]));
const sizes = Object.fromEntries(lines(sizesFile).map((s) => [s.bin, s.bytes]));

const rows = [];
const ratio = (v, b) => (v !== undefined && b ? `${(v / b).toFixed(2)}×` : '—');
const ms = (v) => (v === undefined ? '—' : `${v.toFixed(2)} ms`);
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const functions = ['ingest', 'api', 'dispatcher'];
for (const f of functions) {
  const c = cases[f] || {};
  const bare = cases[`bare-${f}`] || {};
  rows.push([`${f}: init (exec → first next)`, ms(c.init_ms), `${ms(bare.init_ms)} (bare)`, ratio(c.init_ms, bare.init_ms), '≤ 2.00×']);
  rows.push([`${f}: first invoke (next → answer)`, ms(c.invoke_ms), `${ms(bare.invoke_ms)} (bare)`, ratio(c.invoke_ms, bare.invoke_ms), '']);
}
for (const f of functions) {
  const bytes = sizes[`tidings-${f}`];
  rows.push([`${f}: bootstrap size`, mb(bytes), `${mb(sizes['tidings-lambda-bare'])} (bare)`, ratio(bytes, sizes['tidings-lambda-bare']), '≤ 8 MB']);
}
// With BENCH_LAMBDA_ARM64=1: the arm64 builds' sizes, against the bare arm64 binary.
for (const f of functions) {
  const bytes = sizes[`tidings-${f}@arm64`];
  if (bytes === undefined) continue;
  const bare = sizes['tidings-lambda-bare@arm64'];
  rows.push([`${f}: bootstrap size, arm64`, mb(bytes), `${mb(bare)} (bare, arm64)`, ratio(bytes, bare), '≤ 8 MB']);
}

const head = ['figure', 'value', 'baseline', 'ratio', 'target'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log('');
const arm64 = sizes['tidings-lambda-bare@arm64'] !== undefined ? '; sizes also for arm64' : '';
console.log(`Tidings Lambda bootstraps (cargo lambda build --release, x86_64${arm64}), ${date}, ${machine}; median of ${runs} cold starts each`);
console.log('');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log('');
for (const name of [...functions, ...functions.map((f) => `bare-${f}`)]) {
  const c = cases[name];
  if (!c) continue;
  console.log(
    `(${name}) init ${ms(c.init_min_ms)}–${ms(c.init_max_ms)}, first invoke ${ms(c.invoke_min_ms)}–${ms(c.invoke_max_ms)}; ` +
      `answer to the sample event: ${c.outcome}`,
  );
}
console.log('(MB = 10^6 bytes; the functions reach AWS at a closed 127.0.0.1 port, so their first invoke ends in the unreachable store\'s error)');
