// Shared machinery of the HTTP benchmarks (bench/http.mjs, bench/frameworks.mjs,
// bench/http-profile.mjs): the test files, starting and stopping one server per process, wrk as the
// load, the server's CPU from /proc, interleaved rounds, medians, spreads and paired ratios.
//
// Every server runs in its own process pinned to CPU 0 (`taskset -c 0`) and wrk (`wrk -t1`,
// Debian package `wrk`) on CPU 1, so the server gets one core and never competes with the client.
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { congestionControl } from './congestion.mjs';

export const here = path.dirname(new URL(import.meta.url).pathname);
export const repo = path.join(here, '..');
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export const has = (command, args = ['--version']) => spawnSync(command, args, { stdio: 'ignore' }).error === undefined;
export const nginxPath =
  ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p)) ?? (has('nginx', ['-v']) ? 'nginx' : undefined);
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Whether servers and client can be pinned to CPUs 0 and 1 (2+ CPUs, taskset, no --no-pin). */
export const canPin = (flags) => flags['no-pin'] !== 'true' && os.cpus().length >= 2 && has('taskset', ['-V']);

/** `[command, args]` to run `command` on `cpu` when pinning, else as is. */
export const pinned = (pin, cpu, command, args) => (pin ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args]);

/** Exits unless wrk and a build are there. */
export function requireTools(dist, script) {
  if (!has('wrk', ['-v'])) {
    console.error(`${script} needs wrk (Debian: apt-get install wrk); nothing measured.`);
    process.exit(1);
  }
  if (!fs.existsSync(path.join(dist, 'index.js'))) {
    console.error(`no build in ${dist}: run npm run build first.`);
    process.exit(1);
  }
}

/** `sizes` as `[{ label, bytes }]` from `4K,1M`. */
export const parseSizes = (text, parseSize) => text.split(',').map((label) => ({ label, bytes: parseSize(label) }));

/** Random files `<label>.bin` in `dir`, written once and reused while their size matches. */
export function makeFiles(dir, sizes) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755); // nginx's worker may run as another user
  for (const { label, bytes } of sizes) {
    const file = path.join(dir, `${label}.bin`);
    if (fs.statSync(file, { throwIfNoEntry: false })?.size === bytes) continue;
    const fd = fs.openSync(file, 'w', 0o644);
    for (let written = 0; written < bytes; written += MiB) fs.writeSync(fd, crypto.randomBytes(Math.min(MiB, bytes - written)));
    fs.closeSync(fd);
  }
}

/** How busy the whole machine is over `ms` (0–1, all CPUs, from /proc/stat): between samples our own servers are idle, so this is everyone else's load. */
export async function machineBusy(ms = 500) {
  const times = () => {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return { idle: fields[3] + fields[4], total: fields.reduce((a, b) => a + b, 0) };
  };
  const before = times();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = times();
  const total = after.total - before.total;
  return total > 0 ? 1 - (after.idle - before.idle) / total : 0;
}

/** One line about the machine and its load, for the top of a report. */
export function machineLine() {
  const load = os.loadavg().map((n) => n.toFixed(2)).join(' ');
  return `${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), Linux ${os.release()}, Node ${process.version}, TCP congestion control ${congestionControl()}, load average ${load}`;
}

// ---------------------------------------------------------------------------------------------
// Servers

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function waitForPort(port, child, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`exited with ${child.exitCode ?? child.signalCode}`));
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} never opened`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** Wraps a child process as a server: its port, its stderr, and a `stop()` that waits for the exit. */
function serverOf(name, port, child, pids) {
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const exited = new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', resolve);
  });
  return {
    name,
    port,
    child,
    pids,
    /** The last lines the server wrote to stderr, for error reports. */
    stderr: (lines = 5) => {
      const all = stderr.trim().split('\n').filter((line) => line.trim() !== '');
      // The error itself (Node prints it first, its stack and version after), then the last lines.
      const first = all.findIndex((line) => /^\s*\[?\w*Error\b/.test(line));
      const picked = first === -1 ? all.slice(-lines) : [...new Set([...all.slice(first, first + 2), ...all.slice(-lines)])];
      return picked.map((line) => line.trim()).join(' | ');
    },
    alive: () => child.exitCode === null && child.signalCode === null,
    /** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone (its port is then free). */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Starts `node <script> <name> <dir> <port> --dist=<dist>` (pinned to CPU 0) and waits for its port.
 * `nodeArgs` go before the script (e.g. `--perf-basic-prof`); `cwd`: where it runs (V8's logs go there).
 */
export async function startNode({ name, script, dir, dist, pin, nodeArgs = [], env = {}, cwd, label = name }) {
  const port = await freePort();
  const [command, args] = pinned(pin, 0, process.execPath, [...nodeArgs, script, name, dir, String(port), `--dist=${dist}`]);
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production', ...env } });
  child.stdout.resume();
  const server = serverOf(label, port, child, () => [child.pid]);
  try {
    await waitForPort(port, child);
  } catch (error) {
    await server.stop();
    throw new Error(`${error.message}: ${server.stderr(3)}`);
  }
  return server;
}

/** nginx-light with `sendfile on`, one worker, serving `dir`. */
export async function startNginx({ dir, pin }) {
  const port = await freePort();
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'zerosend-bench-nginx-'));
  fs.chmodSync(prefix, 0o755);
  const conf = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
error_log ${prefix}/error.log;
pid ${prefix}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path ${prefix}/body;
  server {
    listen 127.0.0.1:${port};
    root ${dir};
  }
}
`,
  );
  const [command, args] = pinned(pin, 0, nginxPath, ['-p', prefix, '-c', conf, '-g', 'daemon off;']);
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const server = serverOf('nginx', port, child, () => [child.pid, ...childrenOf(child.pid)]);
  const stop = server.stop;
  server.stop = async () => {
    await stop();
    fs.rmSync(prefix, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child);
  } catch (error) {
    await server.stop();
    throw new Error(`${error.message}: ${server.stderr(3)}`);
  }
  return server;
}

function childrenOf(pid) {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((task) => fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/))
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** User + system CPU seconds of a process (all its threads), from /proc/<pid>/stat; `task`: one thread's. */
export function cpuSeconds(pid, task) {
  const stat = fs.readFileSync(task === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${task}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks; // utime, stime (fields 14, 15)
}
export const treeCpu = (server) => server.pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0);

/**
 * One GET of `urlPath`, to check a server answers the file whole before measuring it. Resolves the
 * size of its header block and the header lines (to show what each server sends).
 */
export function checkServes(server, urlPath, bytes) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1');
    socket.setTimeout(30_000, () => socket.destroy(new Error('no answer in 30 s')));
    let received = 0;
    let head = '';
    socket.on('data', (chunk) => {
      if (!head.includes('\r\n\r\n')) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end !== -1) received = Buffer.byteLength(head, 'latin1') - end - 4;
      } else received += chunk.length;
    });
    socket.on('close', () => {
      if (!/^HTTP\/1\.1 200/.test(head)) return reject(new Error(`${server.name}: ${head.split('\r\n')[0] || 'no answer'}`));
      if (received !== bytes) return reject(new Error(`${server.name}: ${received} bytes of ${bytes}`));
      const end = head.indexOf('\r\n\r\n');
      resolve({ headerBytes: end + 4, headers: head.slice(0, end).split('\r\n').slice(1) });
    });
    socket.on('error', reject);
    socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n`);
  });
}

// ---------------------------------------------------------------------------------------------
// Load

/**
 * `wrk -t1 -c<connections> -d<seconds>s` on CPU 1, through bash, whose `times` then prints the CPU
 * wrk used: on loopback the client's CPU per byte depends on how the server sent the bytes.
 */
export function wrk({ port, urlPath, seconds, connections, pin, name = 'server' }) {
  const url = `http://127.0.0.1:${port}${urlPath}`;
  // --timeout: a 64 MiB response shared with 31 others takes seconds; wrk's default (2 s) would
  // count it as an error and drop its bytes.
  const [command, args] = pinned(pin, 1, 'wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '120s', url]);
  const script = `${[command, ...args].map((word) => `'${word}'`).join(' ')}; status=$?; times; exit $status`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) => {
      const total = /(\d+) requests in ([\d.]+)(m?s), ([\d.]+)([KMGT]?B) read/.exec(out);
      if (code !== 0 || !total) return reject(new Error(`wrk failed for ${name}: ${out.trim()}`));
      const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      // `times`: the shell's own user/system times, then its children's, as `0m1.234s 0m0.567s`.
      const times = [...out.matchAll(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/g)].at(-1);
      resolve({
        clientCpu: times ? Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4]) : NaN,
        requests: Number(total[1]),
        seconds: Number(total[2]) / (total[3] === 'ms' ? 1000 : 1),
        bytesRead: Number(total[4]) * { B: 1, KB: KiB, MB: MiB, GB: GiB, TB: 1024 * GiB }[total[5]],
        non2xx: errors ? Number(errors[1]) : 0,
        socketErrors: socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
      });
    });
    child.on('error', reject);
  });
}

/** Big files need longer runs: each response takes a good part of a second. */
export const durationFor = (size, duration) => (size.bytes >= 16 * MiB ? Math.max(duration, 10) : duration);

/** One sample: wrk against `server` for `size`, and the server's CPU meanwhile. */
export async function measure({ server, urlPath, size, seconds, connections, pin, headerBytes }) {
  const before = treeCpu(server);
  const load = await wrk({ port: server.port, urlPath, seconds, connections, pin, name: server.name });
  const cpu = treeCpu(server) - before;
  // Body bytes: everything read (responses still in flight at the end included: a big file is
  // mostly partial responses) less the headers. wrk rounds what it read to 3 digits; for small
  // files, whole responses count exactly.
  const bodyBytes = size.bytes >= MiB ? load.bytesRead - load.requests * headerBytes : load.requests * size.bytes;
  return {
    reqPerSec: load.requests / load.seconds,
    gbPerSec: bodyBytes / load.seconds / 1e9,
    cpuPerGiB: bodyBytes > 0 ? cpu / (bodyBytes / GiB) : NaN,
    clientCpuPerGiB: bodyBytes > 0 ? load.clientCpu / (bodyBytes / GiB) : NaN,
    cpuBusy: cpu / load.seconds,
    clientBusy: load.clientCpu / load.seconds,
    cpuPerRequestUs: load.requests > 0 ? (cpu / load.requests) * 1e6 : NaN,
    non2xx: load.non2xx,
    socketErrors: load.socketErrors,
  };
}

export const median = (values) => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** (max − min) / median, as a percentage: how far apart the runs were. */
export const spread = (values) => {
  const m = median(values);
  return values.length < 2 || !(m > 0) ? 0 : ((Math.max(...values) - Math.min(...values)) / m) * 100;
};

/**
 * Every server measured once per round for each size, in a rotating order (round r starts with
 * server r mod n), so slow drifts in the machine's load hit all alike. A server that fails is
 * left out with a note that quotes its stderr, the others go on.
 *
 * `servers`: started servers; `urlFor(server, size)`: the path to load; `warmup`: seconds.
 * Returns `{ samples: { [size]: { [name]: [sample per round] } }, checks: { [size]: { [name]: { headerBytes, headers } } } }`.
 */
export async function runRounds({ servers, sizes, runs, duration, connections, pin, notes, urlFor, warmup = 1, maxBusy, maxWait = 600, log = process.stderr }) {
  // Before each sample: how busy the machine is without us; with `maxBusy`, wait (up to
  // `maxWait` seconds) until it is at most that, so that samples are taken in quieter moments.
  const othersBusy = async () => {
    let busy = await machineBusy();
    if (maxBusy === undefined) return busy;
    const deadline = Date.now() + maxWait * 1000;
    while (busy > maxBusy && Date.now() < deadline) busy = await machineBusy(2000);
    if (busy > maxBusy) notes.push(`a sample was taken with the machine ${Math.round(busy * 100)}% busy after waiting ${maxWait} s`);
    return busy;
  };
  const samples = {};
  const checks = {};
  const dropped = new Set();
  const drop = async (server, size, error) => {
    notes.push(`${server.name} at ${size.label}: ${error.message}${server.alive() ? '' : ` (the server exited; its stderr: ${server.stderr() || 'empty'})`}; left out`);
    dropped.add(server);
    await server.stop();
  };
  for (const size of sizes) {
    for (const server of servers.filter((s) => !dropped.has(s))) {
      try {
        ((checks[size.label] ??= {})[server.name] = await checkServes(server, urlFor(server, size), size.bytes));
        await wrk({ port: server.port, urlPath: urlFor(server, size), seconds: warmup, connections, pin, name: server.name }); // caches, JIT, page cache
      } catch (error) {
        await drop(server, size, error);
      }
    }
    for (let run = 0; run < runs; run++) {
      const live = servers.filter((s) => !dropped.has(s));
      const order = live.map((_, i) => live[(i + run) % live.length]);
      for (const server of order) {
        try {
          const busyBefore = await othersBusy();
          const sample = await measure({
            server,
            urlPath: urlFor(server, size),
            size,
            seconds: durationFor(size, duration),
            connections,
            pin,
            headerBytes: checks[size.label][server.name].headerBytes,
          });
          sample.round = run;
          sample.othersBusy = busyBefore;
          ((samples[size.label] ??= {})[server.name] ??= []).push(sample);
          log.write(
            `${size.label} run ${run + 1} ${server.name}: ${sample.reqPerSec.toFixed(0)} req/s, ${sample.gbPerSec.toFixed(3)} GB/s, ` +
              `${sample.cpuPerRequestUs.toFixed(1)} CPU-µs/req, server ${Math.round(sample.cpuBusy * 100)}% busy, client ${Math.round(sample.clientBusy * 100)}%, machine ${Math.round(busyBefore * 100)}% busy before${sample.non2xx || sample.socketErrors ? ` (${sample.non2xx} non-2xx, ${sample.socketErrors} socket errors)` : ''}\n`,
          );
        } catch (error) {
          await drop(server, size, error);
        }
      }
    }
  }
  return { samples, checks };
}

/** The medians of one server's samples. */
export function summarize(samples) {
  const of = (key) => median(samples.map((s) => s[key]));
  return {
    runs: samples.length,
    reqPerSec: of('reqPerSec'),
    reqSpread: spread(samples.map((s) => s.reqPerSec)),
    gbPerSec: of('gbPerSec'),
    cpuPerGiB: of('cpuPerGiB'),
    clientCpuPerGiB: of('clientCpuPerGiB'),
    cpuPerRequestUs: of('cpuPerRequestUs'),
    cpuSpread: spread(samples.map((s) => s.cpuPerRequestUs)),
    cpuBusy: of('cpuBusy'),
    clientBusy: of('clientBusy'),
    othersBusy: of('othersBusy'),
    /** Requests per second of one whole core at this CPU cost: 1e6 ÷ CPU µs per request. */
    perCore: 1e6 / of('cpuPerRequestUs'),
    errors: samples.reduce((sum, s) => sum + s.non2xx + s.socketErrors, 0),
  };
}

/**
 * Paired ratio of `a` to `b` on `key`: the ratio within each round (both measured minutes apart
 * at most), then the median and the range over rounds. Null when either has no samples.
 */
export function pairedRatio(aSamples, bSamples, key = 'reqPerSec') {
  if (!aSamples?.length || !bSamples?.length) return null;
  const byRound = new Map(bSamples.map((s) => [s.round, s[key]]));
  const ratios = aSamples.filter((s) => byRound.has(s.round)).map((s) => s[key] / byRound.get(s.round));
  if (ratios.length === 0) return null;
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), n: ratios.length };
}

export const formatRatio = (ratio) => (ratio ? `${ratio.median.toFixed(2)}× (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)})` : 'n/a');
export const formatInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');

/** Stops every server; also on Ctrl-C. */
export function stopAllOnExit(servers) {
  const stopAll = () => Promise.all(servers.map((server) => server.stop()));
  process.once('SIGINT', () => {
    stopAll().then(() => process.exit(130));
  });
  return stopAll;
}
