// Counts a runner's failed requests (its "attempt failed" log lines: attempts that were sent;
// those an open circuit spared log no such line) during a load window: the sink never sees
// the dead endpoint's requests, so this is how the table shows them.
//   node bench/attempts.js RUNNER_LOG LOAD_JSON NAME   → {"run": "attempts-NAME", ...}
'use strict';
const fs = require('fs');

const [logFile, loadFile, name] = process.argv.slice(2);
const load = JSON.parse(fs.readFileSync(loadFile, 'utf8'));
const [start, end] = [load.window_start_ms, load.window_end_ms];
let inWindow = 0;
let all = 0;
for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
  if (!line.includes('attempt failed')) continue;
  all++;
  // tracing-subscriber's plain format starts with the RFC 3339 time of the line.
  const at = Date.parse(line.slice(0, line.indexOf(' ')));
  if (at >= start && at <= end) inWindow++;
}
const window = (end - start) / 1000;
console.log(
  JSON.stringify({
    run: `attempts-${name}`,
    failed_attempts: all,
    failed_in_window: inWindow,
    failed_per_s: Math.round(inWindow / window),
  }),
);
