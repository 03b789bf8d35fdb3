#!/usr/bin/env node
// File → socket benchmark: zerosend's transfer() with each method and 'auto', against the
// incumbent (stream.pipeline(fs.createReadStream(f), socket, { end: false })) and against a raw
// Rust loop of each method with no Node in it (crates/zerosend-core/examples/raw_send.rs: the limit).
//
// The receiver is another process (raw_send's `recv` mode: reads into a 256 KiB buffer and answers
// each batch, see raw_send.rs), on loopback TCP (or a unix socket with --dest=unix). A sample is a
// batch of back-to-back transfers over one kept-alive connection, timed until the receiver has read
// all of it; samples of all runners are interleaved round by round, and the table shows medians
// (and the best sample). Ratios (× pipeline, × raw, × best method) are paired: the median over
// rounds of the two runners' throughputs in the same round, which cancels slow drifts in the
// load that other processes put on the machine.
//
//   npm run bench                          # full run: 4 KiB .. 1 GiB, 5 samples
//   npm run bench -- --quick               # or ZEROSEND_BENCH_QUICK=1: up to 64 MiB, 3 samples
//   node bench/transfer.mjs --sizes=4K,1M --samples=7 --dest=unix --runners=auto,pipeline,raw-sendfile
//   node bench/transfer.mjs --sizes=1M,64M --runners=mmap,raw-mmap,raw-mmap:window=2097152:no-populate=1
//   options: --cc=NAME (every TCP socket on congestion control NAME, e.g. cubic: bench/congestion.mjs),
//            --json=FILE (every sample), --no-pin, --target=SECONDS per sample, --dir=DIR (files),
//            --dist=DIR (the build to load; default this repository's dist/),
//            --spread=SIZE: send from distinct files totalling SIZE (e.g. 1G; at most 4096 files)
//            in turn instead of one file again and again, so the pages are not in the CPU caches
//   `METHOD@DIST` runs transfer() of another build (its dist/, with its native/ beside it), to
//   compare two builds side by side: --runners=mmap,mmap@/tmp/before/dist,raw-mmap
//   raw runners take raw_send options after colons, `raw-METHOD:name=value:name=value`, passed as
//   `--name value` (see raw_send.rs: window, no-populate, call, pipe, blocking, open-each); such a
//   row's "× raw same method" is its ratio to the plain `raw-METHOD` row, which transfer() rows
//   are compared with.
//
// Pinning: with 2+ CPUs and taskset, the sender (this process, every thread) runs on CPU 0 and
// the receiver on CPU 1, so the two never compete for a core and runs are steadier.
//
// Related: bench/transfer-sweep.mjs (the raw loops' per-call sizes, mmap window, pipe and copy
// buffer sizes) and bench/parked.mjs (thousands of transfers parked on peers that stopped reading).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';

import { applyCongestionFlag, congestionControl } from './congestion.mjs';
import { parseFlags, parseSize } from './flags.mjs';
import {
  benchFiles,
  buildRawSend,
  canPin,
  connectReceiver,
  formatBytes,
  GiB,
  KiB,
  machineCpu,
  median,
  MiB,
  pinProcess,
  processCpuSeconds,
  repoRoot,
  rawSendSession,
  startReceiver,
} from './transfer-measure.mjs';

const flags = parseFlags();
applyCongestionFlag(flags);
const quick = flags.quick === 'true' || process.env.ZEROSEND_BENCH_QUICK === '1';
const sizes = (flags.sizes ?? (quick ? '4K,64K,1M,64M' : '4K,64K,1M,64M,1G')).split(',').map(parseSize);
const samples = Number(flags.samples ?? (quick ? 3 : 5));
const targetSecs = Number(flags.target ?? (quick ? 0.15 : 0.4));
const destKind = flags.dest ?? 'tcp';
const pin = flags['no-pin'] !== 'true' && canPin();
const dir = flags.dir ?? path.join(os.tmpdir(), 'zerosend-bench');
const dist = path.resolve(flags.dist ?? path.join(repoRoot, 'dist'));
const spreadBytes = flags.spread ? parseSize(flags.spread) : 0;

const { transfer } = await import(pathToFileURL(path.join(dist, 'index.js')).href);

const METHODS = ['sendfile', 'splice', 'mmap', 'copy'];
const allRunners = [
  'pipeline',
  ...METHODS.map((m) => `raw-${m}`),
  ...METHODS,
  'auto',
];
const runnerNames = flags.runners ? flags.runners.split(',') : allRunners;
/** transfer() of each other build named by a `METHOD@DIST` runner, by its dist directory. */
const otherBuilds = new Map();
for (const name of runnerNames.filter((n) => !n.startsWith('raw-') && n.includes('@'))) {
  const other = path.resolve(name.slice(name.indexOf('@') + 1));
  if (!otherBuilds.has(other)) {
    otherBuilds.set(other, (await import(pathToFileURL(path.join(other, 'index.js')).href)).transfer);
  }
}

/** Per-call size of each raw loop: what zerosend's engines ask for (limits.rs, engine/*.rs). */
const RAW_CALL = { sendfile: 2 * MiB, splice: 1 * MiB, mmap: 2 * MiB, copy: 64 * KiB };

// ------------------------------------------------------------------------------------- runners

/** A Node-side runner: `send(file, socket)` is one transfer. */
function nodeRunner(name, send) {
  return {
    name,
    async open(receiver, source, size, repeat) {
      const conn = await connectReceiver(receiver, destKind, size * repeat);
      const seen = new Set();
      let next = 0;
      return {
        async sample() {
          const m0 = machineCpu();
          const c0 = processCpuSeconds();
          const t0 = process.hrtime.bigint();
          for (let i = 0; i < repeat; i++) {
            const method = await send(source.files[next++ % source.files.length], conn.socket);
            if (method) seen.add(method);
          }
          const recvCpu = await conn.batchDelivered();
          const secs = Number(process.hrtime.bigint() - t0) / 1e9;
          const cpu = processCpuSeconds() - c0;
          const m1 = machineCpu();
          return { bytes: size * repeat, transfers: repeat, secs, cpu, recvCpu, machineBusy: m1.busy - m0.busy };
        },
        chose: () => [...seen].join('+'),
        close: () => conn.close(),
      };
    },
  };
}

/** `METHOD`, or `METHOD@DIST`: transfer() of another build (e.g. a copy of dist/ before a change). */
function zerosendRunner(name) {
  const [method, other] = name.split('@');
  const send = other === undefined ? transfer : otherBuilds.get(path.resolve(other));
  return nodeRunner(name, async (file, socket) => {
    const result = await send(file, socket, { method });
    return result.method;
  });
}

/**
 * The incumbent with its defaults (64 KiB reads). Node 20's pipeline(..., { end: false }) leaves
 * one 'close' listener on the socket per call; we remove exactly the listeners each call added, so
 * the incumbent is measured as a careful user would run it, not slowed by our reuse of a socket.
 * `pipeline-leaky` keeps the leak, to show what it costs.
 */
function pipelineRunner(cleanUp) {
  return nodeRunner(cleanUp ? 'pipeline' : 'pipeline-leaky', async (file, socket) => {
    const before = cleanUp ? socket.listeners('close') : undefined;
    await pipeline(fs.createReadStream(file), socket, { end: false });
    if (before) {
      for (const listener of socket.listeners('close')) {
        if (!before.includes(listener)) socket.off('close', listener);
      }
    }
    return undefined;
  });
}

/** `raw-METHOD[:name=value...]`: the raw loop of METHOD, with raw_send options after colons. */
function rawRunner(rawSend, spec) {
  const [method, ...options] = spec.split(':');
  const extra = options
    .filter(Boolean)
    .flatMap((pair) => {
      const [name, value = '1'] = pair.split('=');
      return [`--${name}`, value];
    });
  return {
    name: `raw-${spec}`,
    async open(receiver, source, size, repeat) {
      const session = rawSendSession(rawSend, {
        receiver,
        kind: destKind,
        file: source.files.length > 1 ? `@${source.list}` : source.files[0],
        method,
        call: RAW_CALL[method],
        repeat,
        extra,
        cpu: pin ? 0 : undefined,
      });
      return { sample: () => session.sample(), chose: () => '', close: () => session.close() };
    },
  };
}

function makeRunner(name, rawSend) {
  if (name === 'pipeline') return pipelineRunner(true);
  if (name === 'pipeline-leaky') return pipelineRunner(false);
  if (name.startsWith('raw-')) return rawRunner(rawSend, name.slice(4));
  return zerosendRunner(name);
}

// ------------------------------------------------------------------------------------- the run

// Built even without raw runners: the receiver is raw_send's `recv` mode.
const rawSend = buildRawSend();
if (pin) pinProcess(process.pid, 0);
const receiver = await startReceiver(rawSend, pin ? 1 : undefined);
process.on('exit', () => receiver.stop());

const runners = runnerNames.map((name) => makeRunner(name, rawSend));
console.log(
  `# zerosend transfer benchmark: ${destKind === 'unix' ? 'unix socket' : `loopback TCP (${congestionControl()})`}, ` +
    `${samples} samples/runner/size (medians), ~${targetSecs}s per sample, ` +
    `${pin ? 'sender pinned to CPU 0, receiver to CPU 1' : 'no pinning'}; ` +
    `${spreadBytes ? `each size from distinct files totalling ~${formatBytes(spreadBytes)}` : 'one file per size'}; node ${process.version}, ` +
    `${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}`,
);

const results = [];
for (const size of sizes) {
  const source = benchFiles(dir, size, spreadBytes ? Math.min(4096, Math.max(1, Math.ceil(spreadBytes / size))) : 1);
  const sessions = [];
  for (const runner of runners) {
    const repeat = await calibrate(runner, source, size);
    sessions.push({ runner, repeat, session: await runner.open(receiver, source, size, repeat), samples: [] });
  }
  for (let round = 0; round < samples; round++) {
    // Rotate the order each round so no runner always follows the same neighbour.
    for (let i = 0; i < sessions.length; i++) {
      const s = sessions[(i + round) % sessions.length];
      s.samples.push(await s.session.sample());
    }
  }
  for (const s of sessions) {
    s.session.close();
    results.push(summarize(s.runner.name, size, s.repeat, s.samples, s.session.chose()));
  }
  printTable(size, results.filter((r) => r.size === size));
}
if (flags.json) fs.writeFileSync(flags.json, JSON.stringify({ destKind, pin, samples, results }, null, 1));
receiver.stop();
process.exit(0);

/** How many transfers make one sample last about `targetSecs`, from a short warm-up. */
async function calibrate(runner, source, size) {
  if (size >= 256 * MiB) return 1;
  const probe = Math.max(1, Math.min(2000, Math.floor((4 * MiB) / size)));
  const session = await runner.open(receiver, source, size, probe);
  await session.sample(); // warm-up: JIT, page tables, pipe pool
  const { secs } = await session.sample();
  session.close();
  return Math.max(1, Math.min(1_000_000, Math.round((targetSecs / secs) * probe)));
}

function summarize(name, size, repeat, list, chose) {
  const gib = (s) => s.bytes / GiB;
  return {
    runner: name,
    size,
    repeat,
    chose,
    throughput: median(list.map((s) => s.bytes / s.secs)),
    best: Math.max(...list.map((s) => s.bytes / s.secs)),
    transfersPerSec: median(list.map((s) => s.transfers / s.secs)),
    bestTransfersPerSec: Math.max(...list.map((s) => s.transfers / s.secs)),
    cpuPerGiB: median(list.map((s) => s.cpu / gib(s))),
    pairCpuPerGiB: median(list.map((s) => (s.cpu + s.recvCpu) / gib(s))),
    machineCpuPerGiB: median(list.map((s) => s.machineBusy / gib(s))),
    cpuPerTransferUs: median(list.map((s) => (s.cpu / s.transfers) * 1e6)),
    spread: spread(list.map((s) => s.bytes / s.secs)),
    samples: list,
  };
}

/** (max - min) / median of a runner's samples: how much to trust its median. */
function spread(values) {
  return (Math.max(...values) - Math.min(...values)) / median(values);
}

/**
 * The median over rounds of this runner's throughput divided by the other's in the same round:
 * runners in one round ran seconds apart, so load from other processes that comes and goes over
 * minutes cancels out of the ratio, where a ratio of two medians would keep it.
 */
function pairedRatio(row, other) {
  const n = Math.min(row.samples.length, other.samples.length);
  const ratios = [];
  for (let i = 0; i < n; i++) {
    const a = row.samples[i];
    const b = other.samples[i];
    ratios.push(a.bytes / a.secs / (b.bytes / b.secs));
  }
  return median(ratios);
}

function printTable(size, rows) {
  const small = size < MiB;
  const incumbent = rows.find((r) => r.runner === 'pipeline');
  const raw = Object.fromEntries(rows.filter((r) => r.runner.startsWith('raw-')).map((r) => [r.runner.slice(4), r]));
  const methodRows = rows.filter((r) => METHODS.includes(r.runner.split('@')[0]));
  const bestMethod = methodRows.reduce((a, b) => (b.throughput > (a?.throughput ?? 0) ? b : a), undefined);
  console.log(`\n## ${formatBytes(size)} (${rows[0].repeat > 1 ? 'per sample: ' : ''}${rows.map((r) => r.repeat).join('/')} transfers)\n`);
  console.log(
    `| runner | ${small ? 'transfers/s' : 'GB/s'} | best | spread | × pipeline | × raw same method | × best method | sender CPU s/GiB | sender+receiver CPU s/GiB | machine CPU s/GiB | sender CPU µs/transfer |`,
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const method = r.runner === 'auto' ? r.chose : r.runner.split('@')[0];
    const rawRow = raw[method];
    const value = small ? r.transfersPerSec.toFixed(0) : (r.throughput / 1e9).toFixed(2);
    const best = small ? r.bestTransfersPerSec.toFixed(0) : (r.best / 1e9).toFixed(2);
    const ratio = (other) => (other ? `${pairedRatio(r, other).toFixed(2)}×` : '');
    const isNode = !r.runner.startsWith('raw-') && !r.runner.startsWith('pipeline');
    // A raw loop with options (`raw-mmap:window=...`) is compared with the plain raw loop.
    const rawVariantOf =
      r.runner.startsWith('raw-') && r.runner.includes(':') ? raw[r.runner.slice(4).split(':')[0]] : undefined;
    console.log(
      `| ${r.runner}${r.runner === 'auto' ? ` (${r.chose})` : ''} | ${value} | ${best} | ${(r.spread * 100).toFixed(0)}% | ` +
        `${ratio(incumbent)} | ${isNode ? ratio(rawRow) : ratio(rawVariantOf)} | ${isNode && bestMethod ? ratio(bestMethod) : ''} | ` +
        `${r.cpuPerGiB.toFixed(2)} | ${r.pairCpuPerGiB.toFixed(2)} | ${r.machineCpuPerGiB.toFixed(2)} | ${r.cpuPerTransferUs.toFixed(1)} |`,
    );
  }
}
