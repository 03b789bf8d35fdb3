#!/usr/bin/env node
// Static file serving over HTTP: zerosend's createStaticServer() against what a user would run
// instead — serve-static (send), @fastify/static, sirv, a hand-written fs.createReadStream()
// server, and nginx with `sendfile on` where it is installed — and against the floor: a node:http
// server answering the same file from memory with the same headers (`node-memory`), what any
// node:http server can do at best. Framework pairs (Fastify, Express, Koa) are bench/frameworks.mjs.
//
//   npm run build                       # the benchmark loads this repository's dist/
//   node bench/http.mjs                 # 4K, 1M, 64M files; 5 runs of 5 s each; wrk -t1 -c32
//   node bench/http.mjs --sizes=4K,1M --runs=7 --duration=10 --connections=32
//   node bench/http.mjs --servers=zerosend,node-memory,sirv,nginx --json=results.json
//   node bench/http.mjs --servers=zerosend@/path/to/other/dist,zerosend,node-memory   # two builds
//   options: --cc=NAME (TCP congestion control of every server and of wrk, e.g. cubic),
//            --no-pin, --dir=DIR (where the files go), --dist=DIR (the build to load),
//            --max-busy=PCT: before each sample, wait (up to --max-wait=SECONDS, default 600)
//            until the machine, without us, is at most PCT% busy (a shared machine's quieter moments)
//
// Every server runs in its own process pinned to CPU 0 (`taskset -c 0`), the load client
// (`wrk -t1`, Debian package `wrk`) on CPU 1 (bench/http-harness.mjs). For every file size, each
// run (round) measures every server once, in a rotating order (interleaved, so drift on a shared
// machine hits all alike); the table shows the median of the runs and the spread of req/s
// ((max − min) / median): requests/s, body throughput (GB/s, 10^9 bytes), the server's CPU seconds
// (user + system, all its threads and processes, from /proc/<pid>/stat) per GiB of body sent and
// per request, and the client's (wrk's, from the shell's `times`): on loopback, how the server
// sends decides how hard the client works too. Ratios are paired: the ratio of two servers within
// each round, then the median (and range) over rounds. "Per core" is 1e6 ÷ CPU µs per request: the
// req/s a server would reach with a whole core to itself; on a machine busy with other work,
// req/s measures scheduling latency too (neither server nor wrk is then near 100% busy), and each
// sample records how busy the machine was just before it.
//
// Missing pieces are skipped with a note: nginx (`apt-get install nginx-light`), a peer package
// (devDependencies), CPU pinning (fewer than 2 CPUs or no taskset). Without wrk nothing runs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { applyCongestionFlag } from './congestion.mjs';
import { parseFlags, parseSize } from './flags.mjs';
import {
  canPin,
  formatInt,
  formatRatio,
  here,
  machineLine,
  makeFiles,
  nginxPath,
  pairedRatio,
  parseSizes,
  repo,
  requireTools,
  runRounds,
  startNginx,
  startNode,
  stopAllOnExit,
  summarize,
} from './http-harness.mjs';

const flags = parseFlags();
applyCongestionFlag(flags);
const sizes = parseSizes(flags.sizes ?? '4K,1M,64M', parseSize);
const runs = Number(flags.runs ?? 5);
const duration = Number(flags.duration ?? 5);
const connections = Number(flags.connections ?? 32);
const dist = path.resolve(flags.dist ?? path.join(repo, 'dist'));
const dir = path.resolve(flags.dir ?? path.join(os.tmpdir(), 'zerosend-bench-http'));
const ALL_SERVERS = ['zerosend', 'zerosend-nocache', 'zerosend-mmap', 'node-memory', 'serve-static', 'fastify-static', 'sirv', 'node-streams', 'nginx'];
const wanted = (flags.servers ?? ALL_SERVERS.join(',')).split(',');
/** File servers a user could run instead (node-memory is the floor, not a file server). */
const PEERS = ['serve-static', 'fastify-static', 'sirv', 'node-streams'];
const maxBusy = flags['max-busy'] === undefined ? undefined : Number(flags['max-busy']) / 100;
const maxWait = Number(flags['max-wait'] ?? 600);
const pin = canPin(flags);
const notes = [];

requireTools(dist, 'bench/http.mjs');
if (!pin) notes.push('not pinned (needs 2+ CPUs and taskset): server and client share cores');

async function main() {
  makeFiles(dir, sizes);
  const servers = [];
  const stopAll = stopAllOnExit(servers);
  for (const name of wanted) {
    try {
      if (name === 'nginx') {
        if (!nginxPath) {
          notes.push('nginx: not installed (apt-get install nginx-light), skipped');
          continue;
        }
        servers.push(await startNginx({ dir, pin }));
      } else {
        // `zerosend@DIR`: the same server from another build's dist/ (its native/ beside it).
        const [server, otherDist] = name.split('@');
        const build = otherDist === undefined ? dist : path.resolve(otherDist);
        servers.push(await startNode({ name: server, label: name, script: path.join(here, 'http-servers.mjs'), dir, dist: build, pin }));
      }
    } catch (error) {
      notes.push(`${name}: could not start (${error.message}), skipped`);
    }
  }

  const machine = `${machineLine()} at start`;
  console.log(`# zerosend static server benchmark\n\n${machine}\nbuild: ${dist}`);
  console.log(
    `wrk -t1 -c${connections} -d${duration}s (at least 10 s for files of 16 MiB and more), ${runs} runs, medians; ` +
      `servers on CPU 0, wrk on CPU 1${pin ? '' : ' (not pinned)'}; throughput counts body bytes\n`,
  );

  let measured;
  try {
    measured = await runRounds({ servers, sizes, runs, duration, connections, pin, notes, maxBusy, maxWait, urlFor: (_, size) => `/${size.label}.bin` });
  } finally {
    await stopAll();
  }
  const { samples, checks } = measured;

  const summary = {};
  const lines = [
    '| file | server | req/s | req/s spread | throughput | server CPU-s per GiB | client (wrk) CPU-s per GiB | server CPU µs per request | CPU µs spread | per core (1e6 ÷ CPU µs/req) | server busy | wrk busy | machine busy before | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const size of sizes) {
    for (const [name, list] of Object.entries(samples[size.label] ?? {})) {
      const row = summarize(list);
      (summary[size.label] ??= {})[name] = row;
      lines.push(
        `| ${size.label} | ${name} | ${formatInt(row.reqPerSec)} | ${row.reqSpread.toFixed(0)}% | ${row.gbPerSec.toFixed(2)} GB/s | ${row.cpuPerGiB.toFixed(2)} | ` +
          `${row.clientCpuPerGiB.toFixed(2)} | ${row.cpuPerRequestUs.toFixed(1)} | ${row.cpuSpread.toFixed(0)}% | ${formatInt(row.perCore)} | ${Math.round(row.cpuBusy * 100)}% | ${Math.round(row.clientBusy * 100)}% | ${Math.round(row.othersBusy * 100)}% | ${row.errors} |`,
      );
    }
  }
  console.log(lines.join('\n'));

  // Ratios: each zerosend variant against node-memory (paired), the best Node peer (by the row's
  // own metric) and nginx.
  const ratioLines = [
    '',
    "| file | server | req/s ÷ node-memory (paired: median, range) | per core ÷ node-memory's (paired: node-memory's CPU µs/request ÷ ours) | req/s ÷ best Node peer | throughput ÷ best Node peer | server CPU/GiB ÷ that peer's | server+client CPU/GiB ÷ that peer's | throughput ÷ nginx |",
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const both = (row) => row.cpuPerGiB + row.clientCpuPerGiB;
  const ratios = {};
  for (const size of sizes) {
    const rows = summary[size.label] ?? {};
    const available = PEERS.filter((name) => rows[name]);
    const bestReq = available.length ? available.reduce((a, b) => (rows[a].reqPerSec >= rows[b].reqPerSec ? a : b)) : undefined;
    const bestTput = available.length ? available.reduce((a, b) => (rows[a].gbPerSec >= rows[b].gbPerSec ? a : b)) : undefined;
    for (const name of Object.keys(rows).filter((n) => n.startsWith('zerosend'))) {
      const ours = rows[name];
      const floor = pairedRatio(samples[size.label][name], samples[size.label]['node-memory']);
      const floorCpu = pairedRatio(samples[size.label]['node-memory'], samples[size.label][name], 'cpuPerRequestUs');
      (ratios[size.label] ??= {})[name] = { nodeMemory: floor, nodeMemoryPerCore: floorCpu };
      const peer = (f) => (bestReq ? f() : 'n/a');
      ratioLines.push(
        `| ${size.label} | ${name} | ${formatRatio(floor)} | ${formatRatio(floorCpu)} | ` +
          `${peer(() => `${(ours.reqPerSec / rows[bestReq].reqPerSec).toFixed(2)}× (${bestReq})`)} | ${peer(() => `${(ours.gbPerSec / rows[bestTput].gbPerSec).toFixed(2)}× (${bestTput})`)} | ` +
          `${peer(() => `${(ours.cpuPerGiB / rows[bestTput].cpuPerGiB).toFixed(2)}×`)} | ${peer(() => `${(both(ours) / both(rows[bestTput])).toFixed(2)}×`)} | ` +
          `${rows.nginx ? `${(ours.gbPerSec / rows.nginx.gbPerSec).toFixed(2)}×` : 'n/a'} |`,
      );
    }
  }
  console.log(ratioLines.join('\n'));

  const headerLines = ['', 'Headers each server sent (first size; Date, Connection and Keep-Alive left out):'];
  for (const [name, check] of Object.entries(checks[sizes[0].label] ?? {})) {
    const names = check.headers.map((line) => line.split(':')[0]).filter((h) => !/^(date|connection|keep-alive)$/i.test(h));
    headerLines.push(`- ${name}: ${names.join(', ')} (${check.headerBytes} bytes)`);
  }
  console.log(headerLines.join('\n'));
  console.log(`\nLoad average at the end: ${os.loadavg().map((n) => n.toFixed(2)).join(' ')}`);
  if (notes.length) console.log(`\nNotes:\n${notes.map((note) => `- ${note}`).join('\n')}`);
  console.log(`\nCommand: node bench/http.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
  if (flags.json) fs.writeFileSync(flags.json, JSON.stringify({ machine, dist, connections, duration, runs, samples, summary, ratios, checks, notes }, null, 2));
}

await main();
