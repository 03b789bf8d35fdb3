#!/usr/bin/env node
// Socket → socket benchmark: a client pushes --bytes (default 2 GiB) through a relay to a sink on
// loopback TCP, and waits for the sink's byte count to come back through the relay. Relays:
//
//   raw    crates/zerosend-core/examples/splice_relay.rs --mode threads: blocking splice loops, no
//          Node, no zerosend — the limit (what a C relay does)
//   core   the same example, --mode core: zerosend-core's Proxy on tokio, without Node
//   proxy  zerosend's proxy(a, b) in Node (this file, --serve=proxy)
//   pipe   Node's a.pipe(b); b.pipe(a) — the incumbent (allowHalfOpen, so the half-close works)
//   direct no relay at all: the client and sink alone, for context
//
// Another build side by side: `proxy@DIST` runs proxy() of that build's dist/ (with its native/
// beside it, e.g. a copy of both made before a change), `core@BIN` another splice_relay binary:
//   node bench/proxy.mjs --runners=raw,core@/tmp/before/splice_relay,core,proxy@/tmp/before/dist,proxy
// `--cc=NAME` sets every TCP socket's congestion control (bench/congestion.mjs).
//
// The client and sink (crates/zerosend-core/examples/relay_load.rs) are cheap on purpose: the
// sink splices into /dev/null. With 2+ CPUs and taskset, client and sink share CPU 0 and the
// relay has CPU 1. Samples of all relays are interleaved round by round; the table shows medians
// of throughput and of the relay process's CPU seconds (utime + stime of every thread, from
// /proc/<pid>/stat) per GiB relayed.
//
//   node bench/proxy.mjs                                  # 2 GiB, 5 samples, every relay
//   node bench/proxy.mjs --bytes=4G --samples=7 --runners=raw,proxy,pipe --no-pin --json=out.json
//   node bench/proxy.mjs --cc=cubic
//   node bench/proxy.mjs --perf-stat   # also counts, per GiB, the relay's context switches and
//                                      # system calls (perf stat -p on its tracepoints; slows it)
//
// Needs `npm run build` (dist/ and the native binding) and cargo for the examples.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { applyCongestionFlag, congestionControl } from './congestion.mjs';
import { parseFlags, parseSize } from './flags.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const flags = parseFlags();
const GiB = 2 ** 30;

/** What --perf-stat counts, in this order (a filter applies to the event before it). */
const COUNTED = [
  { label: 'context switches', event: ['-e', 'context-switches'] },
  { label: 'system calls', event: ['-e', 'raw_syscalls:sys_enter'] },
  { label: 'splice', event: ['-e', 'syscalls:sys_enter_splice'] },
  { label: 'splice EAGAIN', event: ['-e', 'syscalls:sys_exit_splice', '--filter', 'ret == -11'] },
  { label: 'epoll_wait', event: ['-e', 'syscalls:sys_enter_epoll_wait'] },
  { label: 'epoll_pwait', event: ['-e', 'syscalls:sys_enter_epoll_pwait'] },
  { label: 'epoll_ctl', event: ['-e', 'syscalls:sys_enter_epoll_ctl'] },
];

applyCongestionFlag(flags);
if (flags.serve) await serve(flags.serve, Number(flags.to), flags.dist);
else await main();

// ------------------------------------------------------------------------------ relay in Node

/** The child role: a relay in Node, pinned by the parent, printing {"port":N}. `dist`: another
 * build's dist/ directory (its native/ beside it) instead of this checkout's. */
async function serve(kind, upstreamPort, dist = path.join(repoRoot, 'dist')) {
  const { proxy } = await import(pathToFileURL(path.join(path.resolve(dist), 'index.js')).href);
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: kind === 'proxy' }, (a) => {
    const b = net.connect({ port: upstreamPort, host: '127.0.0.1', allowHalfOpen: true });
    if (kind === 'proxy') {
      proxy(a, b).catch((error) => console.error(`proxy: ${error.code}`));
    } else {
      // The incumbent, as a careful user writes it: both ways, errors end both sockets.
      const both = () => {
        a.destroy();
        b.destroy();
      };
      a.on('error', both);
      b.on('error', both);
      a.pipe(b);
      b.pipe(a);
    }
  });
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
}

// ------------------------------------------------------------------------------------ harness

async function main() {
  const bytes = parseSize(flags.bytes ?? '2G');
  const samples = Number(flags.samples ?? 5);
  const runners = (flags.runners ?? 'raw,core,proxy,pipe,direct').split(',');
  const pin = flags['no-pin'] !== 'true' && canPin();
  const examples = buildExamples();
  const countEvents = flags['perf-stat'] === 'true' ? perfStat : undefined;
  const onCpu = (cpu, argv) => (pin ? ['taskset', ['-c', String(cpu), ...argv]] : [argv[0], argv.slice(1)]);

  const children = [];
  const start = async (cpu, argv) => {
    const [command, args] = onCpu(cpu, argv);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const line = await firstLine(child);
    return { pid: child.pid, port: JSON.parse(line).port };
  };
  process.on('exit', () => children.forEach((c) => c.kill()));

  try {
    const sink = await start(0, [examples.load, 'sink', '--listen', '127.0.0.1:0']);
    const relays = {};
    for (const name of runners) {
      const to = String(sink.port);
      // `KIND@OTHER`: the same relay from another build (see the header).
      const [kind, other] = name.split('@');
      if (kind === 'raw' || kind === 'core') {
        const binary = other ? path.resolve(other) : examples.relay;
        relays[name] = await start(1, [binary, '--mode', kind === 'raw' ? 'threads' : 'core', '--listen', '127.0.0.1:0', '--to', `127.0.0.1:${to}`]);
      } else if (kind === 'proxy' || kind === 'pipe') {
        const dist = other ? [`--dist=${path.resolve(other)}`] : [];
        relays[name] = await start(1, [process.execPath, fileURLToPath(import.meta.url), `--serve=${kind}`, `--to=${to}`, ...dist]);
      } else if (name === 'direct') {
        relays[name] = { pid: undefined, port: sink.port };
      } else throw new Error(`unknown runner ${name}`);
    }

    const results = Object.fromEntries(runners.map((name) => [name, []]));
    const client = (port) => {
      const [command, args] = onCpu(0, [examples.load, 'client', '--to', `127.0.0.1:${port}`, '--bytes', String(bytes)]);
      return JSON.parse(execFileSync(command, args, { encoding: 'utf8' }));
    };
    // One untimed warm-up each (JIT, page cache of the binaries, TCP autotuning), then rounds.
    for (const name of runners) client(relays[name].port);
    for (let round = 0; round < samples; round++) {
      for (const name of runners) {
        const { pid, port } = relays[name];
        const counting = countEvents && pid ? await countEvents(pid) : undefined;
        const cpuBefore = pid ? processCpuSeconds(pid) : 0;
        const { seconds } = client(port);
        const cpu = pid ? processCpuSeconds(pid) - cpuBefore : NaN;
        const counts = counting ? perGiB(await counting.stop(), bytes) : undefined;
        results[name].push({ seconds, throughput: bytes / seconds, cpuPerGiB: cpu / (bytes / GiB), counts });
        process.stderr.write(`  ${name.padEnd(8)} round ${round + 1}: ${(bytes / seconds / 1e9).toFixed(2)} GB/s, ${(cpu / (bytes / GiB)).toFixed(3)} CPU-s/GiB\n`);
      }
    }

    if (flags.json) fs.writeFileSync(flags.json, JSON.stringify({ bytes, samples, pin, cc: congestionControl(), results }, null, 2));
    printTable(results, { bytes, samples, pin });
    if (countEvents) printCounts(results);
  } finally {
    for (const child of children) child.kill();
  }
}

function printTable(results, { bytes, samples, pin }) {
  const medians = Object.fromEntries(
    Object.entries(results).map(([name, rows]) => [
      name,
      { throughput: median(rows.map((r) => r.throughput)), cpu: median(rows.map((r) => r.cpuPerGiB)) },
    ]),
  );
  const raw = medians.raw;
  const pipe = medians.pipe;
  const labels = {
    raw: 'raw Rust splice relay (the limit)',
    core: 'zerosend-core Proxy on tokio, no Node',
    proxy: 'zerosend proxy() in Node',
    pipe: 'Node a.pipe(b); b.pipe(a)',
    direct: 'no relay (client → sink)',
  };
  const label = (name) => {
    const [kind, other] = name.split('@');
    return other ? `${labels[kind]}, build ${other}` : labels[kind];
  };
  const ratio = (value, base) => (base && Number.isFinite(value) && Number.isFinite(base.throughput ?? base) ? value : NaN);
  const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '—');
  console.log(
    `\n${formatBytes(bytes)} per sample, median of ${samples}, loopback TCP, ${os.cpus().length} CPUs` +
      `${pin ? ' (client + sink on CPU 0, relay on CPU 1)' : ' (not pinned)'}, TCP ${congestionControl()}, Linux ${os.release()}, Node ${process.version}\n`,
  );
  console.log('| relay | throughput | × raw | relay CPU-s / GiB | × raw | × pipe |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, m] of Object.entries(medians)) {
    console.log(
      `| ${label(name)} | ${fmt(m.throughput / 1e9)} GB/s | ${raw ? fmt(ratio(m.throughput / raw.throughput, raw)) : '—'} ` +
        `| ${fmt(m.cpu, 3)} | ${raw ? fmt(m.cpu / raw.cpu) : '—'} | ${pipe ? fmt(m.cpu / pipe.cpu) : '—'} |`,
    );
  }
}

/** Medians of the per-GiB event counts (--perf-stat). */
function printCounts(results) {
  console.log('\nPer GiB relayed, medians (perf stat -p on the relay process):\n');
  console.log(`| relay | ${COUNTED.map((c) => c.label).join(' | ')} |`);
  console.log(`|---|${COUNTED.map(() => '---:').join('|')}|`);
  for (const [name, rows] of Object.entries(results)) {
    if (!rows.some((r) => r.counts)) continue;
    const cells = COUNTED.map((c) => median(rows.map((r) => r.counts?.[c.label])).toFixed(0));
    console.log(`| ${name} | ${cells.join(' | ')} |`);
  }
}

// ------------------------------------------------------------------------------------ helpers

/** Starts `perf stat` on every thread of `pid`; `stop()` resolves with the counts by label. */
async function perfStat(pid) {
  const out = path.join(os.tmpdir(), `zerosend-proxy-perf-${process.pid}.csv`);
  const perf = spawn('perf', ['stat', '-x', ',', '-o', out, ...COUNTED.flatMap((c) => c.event), '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => perf.once('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, 300)); // attached by then
  return {
    async stop() {
      perf.kill('SIGINT');
      await exited;
      const lines = fs
        .readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#'));
      fs.rmSync(out, { force: true });
      return Object.fromEntries(COUNTED.map((c, i) => [c.label, Number(lines[i]?.split(',')[0])]));
    },
  };
}

function perGiB(counts, bytes) {
  return Object.fromEntries(Object.entries(counts).map(([label, n]) => [label, n / (bytes / GiB)]));
}


function buildExamples() {
  execFileSync('cargo', ['build', '--release', '--quiet', '-p', 'zerosend-core', '--example', 'splice_relay', '--example', 'relay_load'], {
    cwd: repoRoot,
    stdio: 'inherit',
  });
  const dir = path.join(repoRoot, 'target', 'release', 'examples');
  return { relay: path.join(dir, 'splice_relay'), load: path.join(dir, 'relay_load') };
}

function canPin() {
  if (os.cpus().length < 2) return false;
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
}

/** utime + stime of every thread of a process, in seconds. */
function processCpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
}

function firstLine(child) {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const newline = text.indexOf('\n');
      if (newline >= 0) resolve(text.slice(0, newline));
    });
    child.once('exit', (code) => reject(new Error(`${child.spawnargs.join(' ')} exited (${code}) before it was ready`)));
  });
}

function median(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function formatBytes(n) {
  return n >= GiB ? `${(n / GiB).toFixed(n % GiB ? 1 : 0)} GiB` : `${(n / 2 ** 20).toFixed(0)} MiB`;
}
