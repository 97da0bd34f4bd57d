// Puts the tables of several scripts/bench runs of two revisions side by side, with each
// side's median and B's median ÷ A's: node bench/compare.js REV_A REV_B A1.txt … -- B1.txt …
'use strict';
const fs = require('fs');

const [revA, revB, ...files] = process.argv.slice(2);
const split = files.indexOf('--');
const sides = [files.slice(0, split), files.slice(split + 1)];

// A figure's row: the name, then its value ("15,952/s", "2.31 ms", "388.4 MB").
function figures(file) {
  const out = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = line.match(/^(\([a-f]\)[^]*?|peak RSS[^]*?)\s{2,}(-?[\d,.]+)( ?[^\s]*)/);
    if (m) out.set(m[1].trim().replace(/[\d,]+ waiting/, 'N waiting'), [Number(m[2].replace(/,/g, '')), m[3].trim()]);
  }
  return out;
}
const runs = sides.map((s) => s.map(figures));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const names = [...new Set(runs.flat().flatMap((r) => [...r.keys()]))];
const head = ['figure', ...runs[0].map((_, i) => `A${i + 1}`), ...runs[1].map((_, i) => `B${i + 1}`), 'A median', 'B median', 'B ÷ A'];
const rows = names.map((name) => {
  const vals = runs.map((side) => side.map((r) => (r.get(name) || [NaN])[0]));
  const unit = (runs.flat().find((r) => r.has(name)).get(name) || [0, ''])[1];
  const [ma, mb] = vals.map((v) => median(v.filter((x) => !Number.isNaN(x))));
  const show = (x) => (Number.isNaN(x) || x === undefined ? '—' : `${x.toLocaleString('en-US', { maximumFractionDigits: 2 })}${unit === '/s' ? '' : unit ? ` ${unit}` : ''}`);
  return [name, ...vals.flat().map(show), show(ma), show(mb), ma ? `${(mb / ma).toFixed(2)}×` : '—'];
});
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(`\nA = ${revA}, B = ${revB}; ${runs[0].length} runs each, alternating\n`);
console.log(line(head));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of rows) console.log(line(r));
