#!/usr/bin/env node
// Scale benchmark: N concurrent transfer()s to peers that stopped reading. For each sending
// process: RSS before / with all parked, CPU over 10 s while parked, event-loop delay while parked,
// fs.promises.readFile latency with all parked (vs. before any transfer), and the time for all to
// cancel through one AbortController.
//
//   node bench/parked.mjs                    # N = 2000 (1 sender) and N = 10000 (2 senders x 5000)
//   node bench/parked.mjs --n=10000 --senders=2 --receivers=2 --idle=10
//   node bench/parked.mjs --n=6400 --senders=1    # the most one process holds (see below)
//   node bench/parked.mjs --n=200 --dest=tcp      # loopback TCP (small N only, see below)
//
// Unix sockets by default: a loopback TCP peer that never reads lets the kernel buffer ~4 MiB per
// connection (the send buffer autotunes up to tcp_wmem's 4 MiB), so 2 000 would want 8 GiB of
// socket memory, far past tcp_mem (~2.2 GiB here): the kernel would then refuse socket memory to
// every process on the machine. A unix-socket peer buffers ~200 KiB (wmem_default). The parked
// state seen from the sender — our dup on epoll, no thread, no timer — is the same for both.
//
// Descriptors: each parked transfer holds 3 in the sender (the JS socket, zerosend's dup of it,
// the source file) and 1 in a receiver. With a hard limit of 20 000 per process, one sender holds
// at most ~6 600, so N = 10 000 runs as several sender processes (and several receivers), each
// measured on its own; the table sums or maxes them as labelled.
//
// Receivers are separate processes: net.createServer({ pauseOnConnect: true }) accepts and never
// reads, so each connection takes what the kernel buffers (the sender's send buffer and the
// receiver's receive buffer) and then blocks: the transfer parks on EAGAIN.
import { fork } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { parseFlags } from './flags.mjs';

const self = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(self), '..');
const flags = parseFlags();

const MiB = 1024 * 1024;

const role = flags.role ?? 'coordinator';
if (role === 'receiver') await receiver();
else if (role === 'sender') await sender();
else await coordinator();

// ------------------------------------------------------------------------------------ receiver

async function receiver() {
  const conns = [];
  const unixPath = flags.path;
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    socket.on('error', () => {});
    conns.push(socket); // keep a reference; never read
  });
  server.maxConnections = 100_000;
  const where = unixPath ? { path: unixPath } : { host: '127.0.0.1', port: 0 };
  if (unixPath) fs.rmSync(unixPath, { force: true });
  server.listen({ ...where, backlog: 4096 }, () => {
    process.send({ type: 'listening', port: unixPath ?? server.address().port });
  });
  process.on('message', (msg) => {
    if (msg.type === 'cpu') process.send({ type: 'cpu', cpu: cpuSeconds(), conns: conns.length });
    if (msg.type === 'exit') process.exit(0);
  });
}

// -------------------------------------------------------------------------------------- sender

async function sender() {
  const { transfer } = await import(
    pathToFileURL(path.join(path.resolve(flags.dist ?? path.join(repoRoot, 'dist')), 'index.js')).href
  );
  const n = Number(flags.n);
  const ports = flags.ports.split(',').map((p) => (/^\d+$/.test(p) ? { host: '127.0.0.1', port: Number(p) } : { path: p }));
  const file = flags.file;
  const small = flags.small;
  const idleSecs = Number(flags.idle ?? 10);
  const report = {};
  const mb = () => process.memoryUsage().rss / MiB;
  // RSS also counts page-cache pages mapped by mmap transfers (shared with every other reader of
  // the file, not memory the transfer owns); RssAnon is what the process itself allocated.
  const anonMb = () => Number(/RssAnon:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) / 1024;

  report.rssStart = mb();
  report.readFileBefore = await readFileLatency(small, 200);

  // Connect everything first, so "RSS with all parked" minus "RSS connected" is the transfers' own cost.
  const sockets = [];
  for (let i = 0; i < n; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 500); j++) {
      batch.push(
        new Promise((resolve, reject) => {
          const s = net.connect(ports[j % ports.length]);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
      );
    }
    sockets.push(...(await Promise.all(batch)));
  }
  report.fdsConnected = countFds();
  report.rssConnected = mb();
  report.anonConnected = anonMb();
  // Baseline with the same sockets open and idle, no transfer: what this machine does to an idle
  // event loop (other processes share the CPUs), to compare the parked phase against.
  await settle();
  report.baseline = await idlePhase(idleSecs);
  report.readFileConnected = await readFileLatency(small, 200);

  const controller = new AbortController();
  // One signal for all N transfers: each adds an 'abort' listener while it runs; not a leak.
  setMaxListeners(n + 10, controller.signal);
  const t0 = performance.now();
  const settled = sockets.map((socket) =>
    transfer(file, socket, { signal: controller.signal }).then(
      (result) => ({ ok: true, bytes: result.bytes }),
      (error) => ({ ok: false, name: error.name, code: error.code, bytes: error.bytes ?? 0 }),
    ),
  );
  report.startMs = performance.now() - t0;
  // Parked = every transfer has made its first attempt and is waiting on epoll. Wait until the
  // process goes quiet (the start-up leaves garbage for the GC), then measure.
  report.settleMs = await settle();
  report.fdsParked = countFds();
  report.rssParked = mb();
  report.anonParked = anonMb();
  report.threads = fs.readdirSync('/proc/self/task').length;
  process.send({ type: 'parked' });

  // Idle phase: nothing else runs in this process for `idleSecs`.
  report.parked = await idlePhase(idleSecs);
  report.readFileParked = await readFileLatency(small, 200);
  report.rssAfterIdle = mb();

  const c1 = performance.now();
  controller.abort();
  const outcomes = await Promise.all(settled);
  report.cancelMs = performance.now() - c1;
  report.aborted = outcomes.filter((o) => o.name === 'AbortError').length;
  report.finished = outcomes.filter((o) => o.ok).length;
  report.otherErrors = [...new Set(outcomes.filter((o) => !o.ok && o.name !== 'AbortError').map((o) => o.code))];
  report.bytesParked = outcomes.reduce((a, o) => a + o.bytes, 0);
  await sleep(100);
  report.fdsAfterCancel = countFds();
  for (const s of sockets) s.destroy();
  process.send({ type: 'report', report });
  // Wait to be told to go, so every sender's receivers stay up until all are measured.
  process.on('message', (msg) => msg.type === 'exit' && process.exit(0));
}

/** Resolves once a whole second passes with under 5 ms of CPU in this process (at most 30 s);
 * returns how long that took. */
async function settle() {
  const t0 = performance.now();
  for (let i = 0; i < 30; i++) {
    const c0 = cpuSeconds();
    await sleep(1000);
    if (cpuSeconds() - c0 < 0.005) break;
  }
  return performance.now() - t0;
}

/** CPU used and event-loop delay over `secs` of doing nothing. monitorEventLoopDelay records the
 * whole interval between its timer's runs, so the resolution is subtracted to leave the delay. */
async function idlePhase(secs) {
  const resolution = 5;
  const delay = monitorEventLoopDelay({ resolution });
  delay.enable();
  const c0 = cpuSeconds();
  await sleep(secs * 1000);
  const cpu = cpuSeconds() - c0;
  delay.disable();
  const ms = (ns) => Math.max(0, ns / 1e6 - resolution);
  return { cpu, p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) };
}

async function readFileLatency(file, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await fs.promises.readFile(file);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: times[count >> 1], p99: times[Math.floor(count * 0.99)], max: times[count - 1] };
}

// --------------------------------------------------------------------------------- coordinator

async function coordinator() {
  const dir = flags.dir ?? path.join(os.tmpdir(), 'zerosend-bench');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'zerosend-parked-64MiB');
  if (!fs.existsSync(file) || fs.statSync(file).size !== 64 * MiB) {
    fs.writeFileSync(file, Buffer.alloc(64 * MiB, 7));
  }
  const small = path.join(dir, 'zerosend-parked-64KiB');
  fs.writeFileSync(small, Buffer.alloc(64 * 1024, 1));

  const dest = flags.dest ?? 'unix';
  const runs = flags.n
    ? [{ n: Number(flags.n), senders: Number(flags.senders ?? 1), receivers: Number(flags.receivers ?? 1) }]
    : [
        { n: 2000, senders: 1, receivers: 1 },
        { n: 10000, senders: 2, receivers: 2 },
      ];
  const limit = fs.readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+(\d+)\s+(\d+)/);
  console.log(
    `# parked transfers: node ${process.version}, ${os.cpus().length} CPUs, open-file limit ` +
      `${limit?.[1]} soft / ${limit?.[2]} hard per process, file ${file} (64 MiB), peers never read, ` +
      `${dest === 'unix' ? 'unix sockets' : 'loopback TCP'}`,
  );
  for (const run of runs) {
    if (dest === 'tcp' && run.n > 300 && flags.force !== 'true') {
      console.log(`\nN = ${run.n} over TCP would buffer ~${(run.n * 4) / 1024} GiB in the kernel: refused (--force to insist)`);
      continue;
    }
    await parkedRun({ ...run, file, small, dest });
  }
}

async function parkedRun({ n, senders, receivers, file, small, dest }) {
  const idle = Number(flags.idle ?? 10);
  const recv = [];
  for (let i = 0; i < receivers; i++) {
    const where = dest === 'unix' ? [`--path=${path.join(os.tmpdir(), `zerosend-parked-${process.pid}-${i}.sock`)}`] : [];
    const child = fork(self, ['--role=receiver', ...where], { stdio: 'inherit' });
    const port = await once(child, 'listening');
    recv.push({ child, port: port.port });
  }
  const ports = recv.map((r) => r.port).join(',');
  const sockBefore = tcpMemPages();
  const perSender = Math.ceil(n / senders);
  const sends = [];
  const recvCpu0 = await Promise.all(recv.map((r) => ask(r.child, 'cpu')));
  for (let i = 0; i < senders; i++) {
    const count = Math.min(perSender, n - i * perSender);
    const child = fork(
      self,
      [
        '--role=sender',
        `--n=${count}`,
        `--ports=${ports}`,
        `--file=${file}`,
        `--small=${small}`,
        `--idle=${idle}`,
        ...(flags.dist ? [`--dist=${flags.dist}`] : []),
      ],
      { stdio: 'inherit' },
    );
    sends.push({ child, count, parked: once(child, 'parked'), report: once(child, 'report') });
  }
  // Kernel socket memory is sampled once every sender has parked all of its transfers.
  await Promise.all(sends.map((s) => s.parked));
  const sockParked = tcpMemPages();
  const reports = [];
  for (const s of sends) reports.push((await s.report).report);
  const recvCpu1 = await Promise.all(recv.map((r) => ask(r.child, 'cpu')));
  for (const s of sends) s.child.send({ type: 'exit' });
  for (const r of recv) r.child.send({ type: 'exit' });

  const sum = (f) => reports.reduce((a, r) => a + f(r), 0);
  const max = (f) => Math.max(...reports.map(f));
  const fmt = (x, d = 1) => x.toFixed(d);
  console.log(
    `\n## N = ${n}: ${senders} sender process${senders > 1 ? 'es' : ''} x ${perSender}, ${receivers} receiver process${receivers > 1 ? 'es' : ''}\n`,
  );
  console.log('| measure | value |');
  console.log('|---|---|');
  const row = (k, v) => console.log(`| ${k} | ${v} |`);
  row('senders: RSS at start (sum)', `${fmt(sum((r) => r.rssStart))} MiB`);
  row('senders: RSS with N sockets connected, no transfer (sum)', `${fmt(sum((r) => r.rssConnected))} MiB`);
  row('senders: RSS with all N transfers parked (sum)', `${fmt(sum((r) => r.rssParked))} MiB`);
  row(
    'RSS per parked transfer (parked − connected)',
    `${fmt(((sum((r) => r.rssParked) - sum((r) => r.rssConnected)) * 1024) / n, 2)} KiB`,
  );
  row(
    'anonymous memory (RssAnon) per parked transfer (parked − connected)',
    `${fmt(((sum((r) => r.anonParked) - sum((r) => r.anonConnected)) * 1024) / n, 2)} KiB`,
  );
  row('RSS per connection + transfer (parked − start)', `${fmt(((sum((r) => r.rssParked) - sum((r) => r.rssStart)) * 1024) / n, 2)} KiB`);
  row('descriptors per sender: connected → parked → after cancel (max)', `${max((r) => r.fdsConnected)} → ${max((r) => r.fdsParked)} → ${max((r) => r.fdsAfterCancel)}`);
  row('descriptors per parked transfer', fmt(sum((r) => r.fdsParked - r.fdsConnected) / n, 2));
  row('threads per sender', reports.map((r) => r.threads).join(', '));
  row('time to start all transfers (max over senders)', `${fmt(max((r) => r.startMs))} ms`);
  row('time until the senders went quiet after starting (max)', `${fmt(max((r) => r.settleMs) / 1000)} s`);
  row(`senders: CPU over ${idle} s, sockets open, no transfer (sum)`, `${fmt(sum((r) => r.baseline.cpu) * 1000)} ms`);
  row(`senders: CPU over ${idle} s while parked (sum)`, `${fmt(sum((r) => r.parked.cpu) * 1000)} ms`);
  row(`receivers: CPU over the same time (sum)`, `${fmt((sum2(recvCpu1) - sum2(recvCpu0)) * 1000)} ms (includes accepting)`);
  const eld = (k) => `${fmt(max((r) => r[k].p50), 2)} / ${fmt(max((r) => r[k].p99), 2)} / ${fmt(max((r) => r[k].max), 2)} ms`;
  row('event-loop delay, sockets open, no transfer: p50 / p99 / max (worst sender)', eld('baseline'));
  row('event-loop delay while parked: p50 / p99 / max (worst sender)', eld('parked'));
  row('readFile(64 KiB) at start p50 / p99 / max (worst sender)', latency(reports, 'readFileBefore'));
  row('readFile(64 KiB), sockets open, no transfer p50 / p99 / max (worst sender)', latency(reports, 'readFileConnected'));
  row('readFile(64 KiB) with all parked p50 / p99 / max (worst sender)', latency(reports, 'readFileParked'));
  row('bytes the kernel took before parking (sum)', `${fmt(sum((r) => r.bytesParked) / MiB)} MiB (${fmt(sum((r) => r.bytesParked) / n / 1024)} KiB per transfer)`);
  if (dest === 'tcp') {
    row('kernel TCP memory (/proc/net/sockstat mem)', `${fmt(((sockParked - sockBefore) * 4096) / MiB)} MiB more while parked`);
  }
  row('time for all to cancel (one AbortController, max over senders)', `${fmt(max((r) => r.cancelMs))} ms`);
  row('outcomes', `${sum((r) => r.aborted)} AbortError, ${sum((r) => r.finished)} finished, other: ${reports.flatMap((r) => r.otherErrors).join(',') || 'none'}`);
}

function latency(reports, key) {
  const worst = (f) => Math.max(...reports.map((r) => f(r[key])));
  return `${worst((l) => l.p50).toFixed(2)} / ${worst((l) => l.p99).toFixed(2)} / ${worst((l) => l.max).toFixed(2)} ms`;
}

function sum2(list) {
  return list.reduce((a, r) => a + r.cpu, 0);
}

// -------------------------------------------------------------------------------------- helpers

function cpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

function countFds() {
  return fs.readdirSync('/proc/self/fd').length;
}

function tcpMemPages() {
  const m = fs.readFileSync('/proc/net/sockstat', 'utf8').match(/TCP:.*mem (\d+)/);
  return m ? Number(m[1]) : 0;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function once(child, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (msg.type === type) {
        child.off('message', onMessage);
        resolve(msg);
      }
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before '${type}'`)));
  });
}

function ask(child, type) {
  const answer = once(child, type);
  child.send({ type });
  return answer;
}
