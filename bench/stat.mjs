#!/usr/bin/env node
// The open-file cache's per-request check on its own: `fs.statSync(path)` (what it made before,
// and what the fallback makes) against `probe(path)` of src/http/file-version.ts (the binding's
// `statVersion`: the same stat(2), answered as numbers), on a file a few folders deep, as a static
// server's would be; and `pathUnchanged(id)` of src/http/path-watch.ts, what a lookup of a watched,
// trusted path makes instead (one ioctl(FIONREAD) on the inotify descriptor, no path walk).
// Rounds alternate them; the table shows the median ns per call.
//
//   npm run build
//   node bench/stat.mjs                       # 7 rounds of 200 000 calls each
//   node bench/stat.mjs --rounds=11 --calls=500000 --dist=DIR
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';

import { parseFlags } from './flags.mjs';

const flags = parseFlags();
const rounds = Number(flags.rounds ?? 7);
const calls = Number(flags.calls ?? 200_000);
const dist = path.resolve(flags.dist ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist'));
const require = createRequire(import.meta.url);
const { probe } = require(path.join(dist, 'http', 'file-version.js'));
const { pathUnchanged, trustPath, watchPath, UNWATCHED } = require(path.join(dist, 'http', 'path-watch.js'));
const { capabilities } = require(dist);
if (!capabilities().native) {
  console.error('bench/stat.mjs: the native binding did not load; there is nothing to compare with fs.statSync');
  process.exit(1);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zs-stat-'));
const file = path.join(dir, 'site', 'assets', 'css', 'app.css');
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, 'body { color: #333 }\n');
const expected = new Set(['ENOENT']);
const watched = watchPath(file);
if (watched === UNWATCHED) {
  console.error('bench/stat.mjs: the path could not be watched (no inotify here, or the watch limit reached)');
  process.exit(1);
}
trustPath(watched);

const runs = {
  'fs.statSync': () => fs.statSync(file, { throwIfNoEntry: false }),
  'probe (statVersion)': () => probe(file, expected),
  'pathUnchanged (watched)': () => pathUnchanged(watched),
};
const samples = Object.fromEntries(Object.keys(runs).map((name) => [name, []]));
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of Object.entries(runs)) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) run();
    samples[name].push(Number(process.hrtime.bigint() - started) / calls);
  }
}
fs.rmSync(dir, { recursive: true, force: true });

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(`# one stat of ${file.slice(dir.length)} (${rounds} rounds of ${calls} calls, Node ${process.version}, load average ${os.loadavg()[0].toFixed(2)})\n`);
console.log('| call | ns per call (median) | range |');
console.log('|---|---:|---:|');
for (const [name, values] of Object.entries(samples)) {
  console.log(`| ${name} | ${median(values).toFixed(0)} | ${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)} |`);
}
const paired = (name, base) => {
  const ratios = samples[name].map((value, i) => value / samples[base][i]);
  return `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
};
console.log(`\nPaired by round: probe ÷ fs.statSync ${paired('probe (statVersion)', 'fs.statSync')}; pathUnchanged ÷ probe ${paired('pathUnchanged (watched)', 'probe (statVersion)')}`);
