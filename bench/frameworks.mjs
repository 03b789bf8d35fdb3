#!/usr/bin/env node
// zerosend's framework doors against what each framework's users run today, and against the
// framework answering the same file from memory (its own floor: no file system, no streams):
//
//   Fastify  @fastify/static (serve route; reply.sendFile)  vs zerosend/fastify (serve route;
//            reply.sendFile)                                 vs reply.headers(h).send(buffer)
//   Express  res.sendFile(name, { root })                    vs sendFile(req, res, name, { root })
//                                                            vs res.set(h).send(buffer)
//   Koa      koa-static                                      vs serve(root) of zerosend/koa
//                                                            vs ctx.set(h); ctx.body = buffer
//   (koa-send: koa-send's send(ctx, path)                    vs zerosend/koa's send(ctx, path); not
//            in the default set: --frameworks=fastify,express,koa,koa-send)
//
//   npm run build                       # zerosend is loaded from this repository's dist/
//   node bench/frameworks.mjs           # 4K, 1M; 5 runs of 5 s each; wrk -t1 -c32
//   node bench/frameworks.mjs --sizes=4K,1M,64M --runs=7 --frameworks=fastify,express
//   options: --servers=a,b,c (exactly these, see bench/http-servers.mjs), --cc=NAME, --no-pin,
//            --dir=DIR (the files), --dist=DIR (the zerosend build to load), --json=FILE,
//            --connections=N, --duration=SECONDS,
//            --max-busy=PCT: before each sample, wait (up to --max-wait=SECONDS, default 600)
//            until the machine, without us, is at most PCT% busy (a shared machine's quieter moments)
//
// Servers, pinning, load and CPU accounting are bench/http.mjs's (bench/http-harness.mjs): each
// server in its own process on CPU 0, `wrk -t1` on CPU 1, every server measured once per round in
// a rotating order, medians over rounds. Ratios are paired (within each round, then the median
// and range over rounds) and also given as the ratio of the medians; a target is met when the
// ratio of the median req/s reaches it (issue #12's definition) — the paired median is printed
// beside it to show whether the noise could have decided it.
//
// On a machine busy with other work, a server that could go faster waits to be scheduled: req/s
// then measures wake-up latency more than the server (neither the server nor wrk is near 100%
// busy). The server's CPU per request is steadier; "per core" (1e6 ÷ CPU µs per request) is the
// req/s it would reach with a whole core to itself, and the tables give it beside req/s. Each
// sample records how busy the machine was just before it (everyone else's load).
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
  pairedRatio,
  parseSizes,
  repo,
  requireTools,
  runRounds,
  startNode,
  stopAllOnExit,
  summarize,
} from './http-harness.mjs';

/**
 * Each framework: its floor (from memory), and pairs [zerosend's door, the incumbent] with the
 * req/s targets of issue #12 (zerosend ÷ incumbent, by file size).
 */
const FRAMEWORKS = {
  fastify: {
    floor: 'fastify-memory',
    pairs: [
      { ours: 'fastify-zerosend', theirs: 'fastify-static', what: 'serve route', targets: { '4K': 4, '1M': 5 } },
      { ours: 'fastify-zerosend-sendfile', theirs: 'fastify-static-sendfile', what: 'reply.sendFile()', targets: { '4K': 4, '1M': 5 } },
    ],
  },
  express: {
    floor: 'express-memory',
    pairs: [{ ours: 'express-zerosend', theirs: 'express-sendfile', what: 'sendFile() vs res.sendFile()', targets: { '4K': 1.5, '1M': 4 } }],
  },
  koa: {
    floor: 'koa-memory',
    pairs: [{ ours: 'koa-zerosend', theirs: 'koa-static', what: 'serve() vs koa-static', targets: {} }],
  },
  'koa-send': {
    floor: 'koa-memory',
    pairs: [{ ours: 'koa-zerosend-send', theirs: 'koa-send', what: 'send() vs koa-send', targets: {} }],
  },
};

const flags = parseFlags();
applyCongestionFlag(flags);
const sizes = parseSizes(flags.sizes ?? '4K,1M', parseSize);
const runs = Number(flags.runs ?? 5);
const duration = Number(flags.duration ?? 5);
const connections = Number(flags.connections ?? 32);
const dist = path.resolve(flags.dist ?? path.join(repo, 'dist'));
const dir = path.resolve(flags.dir ?? path.join(os.tmpdir(), 'zerosend-bench-http'));
const frameworks = (flags.frameworks ?? 'fastify,express,koa').split(',');
for (const name of frameworks) if (!FRAMEWORKS[name]) throw new Error(`unknown framework ${name}: one of ${Object.keys(FRAMEWORKS).join(', ')}`);
const defaultServers = [
  ...new Set(frameworks.flatMap((name) => [FRAMEWORKS[name].floor, ...FRAMEWORKS[name].pairs.flatMap((pair) => [pair.theirs, pair.ours])])),
];
const wanted = flags.servers ? flags.servers.split(',') : defaultServers;
const maxBusy = flags['max-busy'] === undefined ? undefined : Number(flags['max-busy']) / 100;
const maxWait = Number(flags['max-wait'] ?? 600);
const pin = canPin(flags);
const notes = [];

requireTools(dist, 'bench/frameworks.mjs');
if (!pin) notes.push('not pinned (needs 2+ CPUs and taskset): server and client share cores');

async function main() {
  makeFiles(dir, sizes);
  const servers = [];
  const stopAll = stopAllOnExit(servers);
  for (const name of wanted) {
    try {
      servers.push(await startNode({ name, script: path.join(here, 'http-servers.mjs'), dir, dist, pin }));
    } catch (error) {
      notes.push(`${name}: could not start (${error.message}), skipped`);
    }
  }
  const machineAtStart = machineLine();
  console.log(`# zerosend framework doors benchmark\n\n${machineAtStart} at start\nbuild: ${dist}`);
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
  const loadAtEnd = os.loadavg().map((n) => n.toFixed(2)).join(' ');

  const summary = {};
  const lines = [
    '| file | server | req/s | req/s spread | GB/s | server CPU µs per request | CPU µs spread | per core (1e6 ÷ CPU µs/req) | server CPU-s per GiB | server busy | wrk busy | machine busy before | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const size of sizes) {
    for (const name of wanted) {
      const list = samples[size.label]?.[name];
      if (!list) continue;
      const row = summarize(list);
      (summary[size.label] ??= {})[name] = row;
      lines.push(
        `| ${size.label} | ${name} | ${formatInt(row.reqPerSec)} | ${row.reqSpread.toFixed(0)}% | ${row.gbPerSec.toFixed(3)} | ${row.cpuPerRequestUs.toFixed(1)} | ${row.cpuSpread.toFixed(0)}% | ${formatInt(row.perCore)} | ` +
          `${row.cpuPerGiB.toFixed(2)} | ${Math.round(row.cpuBusy * 100)}% | ${Math.round(row.clientBusy * 100)}% | ${Math.round(row.othersBusy * 100)}% | ${row.errors} |`,
      );
    }
  }
  console.log(lines.join('\n'));

  const pairLines = [
    '',
    '| framework | file | zerosend ÷ incumbent | req/s: ratio of medians | req/s: paired median (range) | target | met | per core: zerosend ÷ incumbent, paired (range) | req/s: zerosend ÷ floor | req/s: incumbent ÷ floor | per core: zerosend ÷ floor |',
    '|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|',
  ];
  const verdicts = [];
  for (const name of frameworks) {
    const { floor, pairs } = FRAMEWORKS[name];
    for (const size of sizes) {
      const rows = summary[size.label] ?? {};
      const of = (server) => samples[size.label]?.[server];
      for (const pair of pairs) {
        if (!rows[pair.ours] || !rows[pair.theirs]) continue;
        const ofMedians = rows[pair.ours].reqPerSec / rows[pair.theirs].reqPerSec;
        const paired = pairedRatio(of(pair.ours), of(pair.theirs));
        // Per core, ours ÷ theirs = their CPU per request ÷ ours.
        const perCore = pairedRatio(of(pair.theirs), of(pair.ours), 'cpuPerRequestUs');
        const perCoreFloor = pairedRatio(of(floor), of(pair.ours), 'cpuPerRequestUs');
        const target = pair.targets[size.label];
        const met = target === undefined ? '—' : ofMedians >= target ? `**yes**${paired.median >= target ? '' : ' (paired: no)'}` : `no${paired.median >= target ? ' (paired: yes)' : ''}`;
        if (target !== undefined) verdicts.push({ framework: name, pair: pair.what, size: size.label, target, ofMedians, paired, perCore, met: ofMedians >= target });
        pairLines.push(
          `| ${name} | ${size.label} | ${pair.what}: ${pair.ours} ÷ ${pair.theirs} | ${ofMedians.toFixed(2)}× | ${formatRatio(paired)} | ${target === undefined ? '—' : `≥ ${target}×`} | ${met} | ` +
            `${formatRatio(perCore)} | ${formatRatio(pairedRatio(of(pair.ours), of(floor)))} | ${formatRatio(pairedRatio(of(pair.theirs), of(floor)))} | ${formatRatio(perCoreFloor)} |`,
        );
      }
    }
  }
  console.log(pairLines.join('\n'));

  const headerLines = ['', 'Headers each server sent (first size; Date, Connection and Keep-Alive left out):'];
  for (const [name, check] of Object.entries(checks[sizes[0].label] ?? {})) {
    const names = check.headers.map((line) => line.split(':')[0]).filter((h) => !/^(date|connection|keep-alive)$/i.test(h));
    headerLines.push(`- ${name}: ${names.join(', ')} (${check.headerBytes} bytes)`);
  }
  console.log(headerLines.join('\n'));
  console.log(`\nLoad average at the end: ${loadAtEnd}`);
  if (notes.length) console.log(`\nNotes:\n${notes.map((note) => `- ${note}`).join('\n')}`);
  console.log(`\nCommand: node bench/frameworks.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
  if (flags.json) {
    fs.writeFileSync(flags.json, JSON.stringify({ machine: machineAtStart, loadAtEnd, dist, connections, duration, runs, samples, summary, verdicts, checks, notes }, null, 2));
  }
}

await main();
