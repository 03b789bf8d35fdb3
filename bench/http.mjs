#!/usr/bin/env node
// Static file serving over HTTP: zerosend's createStaticServer() against what a user would run
// instead — serve-static (send), @fastify/static, sirv, a hand-written fs.createReadStream()
// server, and nginx with `sendfile on` where it is installed.
//
//   npm run build                       # the benchmark loads this repository's dist/
//   node bench/http.mjs                 # 4K, 1M, 64M files; 3 runs of 5 s each; wrk -t1 -c32
//   node bench/http.mjs --sizes=4K,1M --runs=5 --duration=10 --connections=32
//   node bench/http.mjs --servers=zerosend,sirv,nginx --json=results.json
//   options: --cc=NAME (TCP congestion control of every server and of wrk, e.g. cubic),
//            --no-pin, --dir=DIR (where the files go), --dist=DIR (the build to load)
//
// Every server runs in its own process pinned to CPU 0 (`taskset -c 0`), the load client
// (`wrk -t1`, Debian package `wrk`) on CPU 1, so each server gets one core and never competes with
// the client. For every file size, each run measures every server once, in turn (interleaved, so
// drift on a shared machine hits all alike); the table shows the median of the runs: requests/s,
// body throughput (GB/s, 10^9 bytes), the server's CPU seconds (user + system, all its threads
// and processes, from /proc/<pid>/stat) per GiB of body sent, and the client's (wrk's, from the
// shell's `times`): on loopback, how the server sends decides how hard the client works too.
//
// Missing pieces are skipped with a note: nginx (`apt-get install nginx-light`), a peer package
// (devDependencies), CPU pinning (fewer than 2 CPUs or no taskset). Without wrk nothing runs.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { applyCongestionFlag, congestionControl } from './congestion.mjs';
import { parseFlags, parseSize } from './flags.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const repo = path.join(here, '..');
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const flags = parseFlags();
applyCongestionFlag(flags);
const sizes = (flags.sizes ?? '4K,1M,64M').split(',').map((text) => ({ label: text, bytes: parseSize(text) }));
const runs = Number(flags.runs ?? 3);
const duration = Number(flags.duration ?? 5);
const connections = Number(flags.connections ?? 32);
const dist = path.resolve(flags.dist ?? path.join(repo, 'dist'));
const dir = path.resolve(flags.dir ?? path.join(os.tmpdir(), 'zerosend-bench-http'));
const ALL_SERVERS = ['zerosend', 'zerosend-nocache', 'zerosend-mmap', 'serve-static', 'fastify-static', 'sirv', 'node-streams', 'nginx'];
const wanted = (flags.servers ?? ALL_SERVERS.join(',')).split(',');

const has = (command, args = ['--version']) => spawnSync(command, args, { stdio: 'ignore' }).error === undefined;
const nginxPath = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p)) ?? (has('nginx', ['-v']) ? 'nginx' : undefined);
const pin = flags['no-pin'] !== 'true' && os.cpus().length >= 2 && has('taskset', ['-V']);
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const notes = [];

if (!has('wrk', ['-v'])) {
  console.error('bench/http.mjs needs wrk (Debian: apt-get install wrk); nothing measured.');
  process.exit(1);
}
if (!fs.existsSync(path.join(dist, 'index.js'))) {
  console.error(`no build in ${dist}: run npm run build first.`);
  process.exit(1);
}
if (!pin) notes.push('not pinned (needs 2+ CPUs and taskset): server and client share cores');

const pinned = (cpu, command, args) => (pin ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args]);

// ---------------------------------------------------------------------------------------------
// Files: random bytes, written once and reused while their size matches.

function makeFiles() {
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

// ---------------------------------------------------------------------------------------------
// Servers

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function waitForPort(port, child, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`exited with ${child.exitCode}`));
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

async function startNode(name) {
  const port = await freePort();
  const [command, args] = pinned(0, process.execPath, [path.join(here, 'http-servers.mjs'), name, dir, String(port), `--dist=${dist}`]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } });
  let errors = '';
  child.stderr.on('data', (chunk) => (errors += chunk));
  child.stdout.resume();
  try {
    await waitForPort(port, child);
  } catch (error) {
    child.kill();
    throw new Error(`${error.message}: ${errors.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return { name, port, child, pids: () => [child.pid] };
}

async function startNginx() {
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
  const [command, args] = pinned(0, nginxPath, ['-p', prefix, '-c', conf, '-g', 'daemon off;']);
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr.on('data', (chunk) => (errors += chunk));
  try {
    await waitForPort(port, child);
  } catch (error) {
    child.kill();
    throw new Error(`${error.message}: ${errors.trim()}`);
  }
  return { name: 'nginx', port, child, pids: () => [child.pid, ...childrenOf(child.pid)] };
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

/** User + system CPU seconds of a process (all its threads), from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks; // utime, stime (fields 14, 15)
}
const treeCpu = (server) => server.pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0);

/** One GET, to check a server answers the file whole before measuring it; resolves its header bytes. */
function checkServes(server, size) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1');
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
      if (!/^HTTP\/1\.1 200/.test(head)) return reject(new Error(`${server.name}: ${head.split('\r\n')[0]}`));
      if (received !== size.bytes) return reject(new Error(`${server.name}: ${received} bytes of ${size.bytes}`));
      resolve(head.indexOf('\r\n\r\n') + 4);
    });
    socket.on('error', reject);
    socket.write(`GET /${size.label}.bin HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n`);
  });
}

// ---------------------------------------------------------------------------------------------
// Load

function wrk(server, size, seconds) {
  const url = `http://127.0.0.1:${server.port}/${size.label}.bin`;
  // --timeout: a 64 MiB response shared with 31 others takes seconds; wrk's default (2 s) would
  // count it as an error and drop its bytes.
  const [command, args] = pinned(1, 'wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '120s', url]);
  // Through bash, whose `times` then prints the CPU its children (wrk) used: on loopback the
  // client's CPU per byte depends on how the server sent the bytes (see the README).
  const script = `${[command, ...args].map((word) => `'${word}'`).join(' ')}; status=$?; times; exit $status`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) => {
      const total = /(\d+) requests in ([\d.]+)(m?s), ([\d.]+)([KMGT]?B) read/.exec(out);
      if (code !== 0 || !total) return reject(new Error(`wrk failed for ${server.name}: ${out}`));
      const requests = Number(total[1]);
      const secs = Number(total[2]) / (total[3] === 'ms' ? 1000 : 1);
      const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      // `times`: the shell's own user/system times, then its children's, as `0m1.234s 0m0.567s`.
      const times = [...out.matchAll(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/g)].at(-1);
      const clientCpu = times ? Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4]) : NaN;
      resolve({
        clientCpu,
        requests,
        seconds: secs,
        bytesRead: Number(total[4]) * { B: 1, KB: KiB, MB: MiB, GB: GiB, TB: 1024 * GiB }[total[5]],
        non2xx: errors ? Number(errors[1]) : 0,
        socketErrors: socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
      });
    });
    child.on('error', reject);
  });
}

async function measure(server, size) {
  const before = treeCpu(server);
  const load = await wrk(server, size, durationFor(size));
  const cpu = treeCpu(server) - before;
  // Body bytes: everything read (responses still in flight at the end included: a big file is
  // mostly partial responses) less the headers. wrk rounds what it read to 3 digits; for small
  // files, whole responses count exactly.
  const bodyBytes =
    size.bytes >= MiB ? load.bytesRead - load.requests * server.headerBytes[size.label] : load.requests * size.bytes;
  return {
    reqPerSec: load.requests / load.seconds,
    gbPerSec: bodyBytes / load.seconds / 1e9,
    cpuPerGiB: bodyBytes > 0 ? cpu / (bodyBytes / GiB) : NaN,
    clientCpuPerGiB: bodyBytes > 0 ? load.clientCpu / (bodyBytes / GiB) : NaN,
    cpuBusy: cpu / load.seconds,
    cpuPerRequestUs: load.requests > 0 ? (cpu / load.requests) * 1e6 : NaN,
    non2xx: load.non2xx,
    socketErrors: load.socketErrors,
  };
}

/** Big files need longer runs: each response takes a good part of a second. */
const durationFor = (size) => (size.bytes >= 16 * MiB ? Math.max(duration, 10) : duration);

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

// ---------------------------------------------------------------------------------------------

async function main() {
  makeFiles();
  const servers = [];
  for (const name of wanted) {
    try {
      if (name === 'nginx') {
        if (!nginxPath) {
          notes.push('nginx: not installed (apt-get install nginx-light), skipped');
          continue;
        }
        servers.push(await startNginx());
      } else servers.push(await startNode(name));
    } catch (error) {
      notes.push(`${name}: could not start (${error.message}), skipped`);
    }
  }
  const cleanup = () => servers.forEach((server) => server.child.kill('SIGTERM'));
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });

  const machine = `${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), Linux ${os.release()}, Node ${process.version}, TCP congestion control ${congestionControl()}, load average ${os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')} at start`;
  console.log(`# zerosend static server benchmark\n\n${machine}`);
  console.log(
    `wrk -t1 -c${connections} -d${duration}s (at least 10 s for files of 16 MiB and more), ${runs} runs, medians; ` +
      `servers on CPU 0, wrk on CPU 1${pin ? '' : ' (not pinned)'}; throughput counts body bytes\n`,
  );

  const results = {};
  try {
    for (const size of sizes) {
      for (const server of [...servers]) {
        try {
          (server.headerBytes ??= {})[size.label] = await checkServes(server, size);
          await wrk(server, size, 1); // warm-up: caches, JIT, page cache
        } catch (error) {
          notes.push(`${server.name} at ${size.label}: ${error.message}; left out`);
          servers.splice(servers.indexOf(server), 1);
          server.child.kill('SIGTERM');
        }
      }
      for (let run = 0; run < runs; run++) {
        for (const server of servers) {
          const sample = await measure(server, size);
          ((results[size.label] ??= {})[server.name] ??= []).push(sample);
          process.stderr.write(
            `${size.label} run ${run + 1} ${server.name}: ${sample.reqPerSec.toFixed(0)} req/s, ${sample.gbPerSec.toFixed(3)} GB/s, ` +
              `${sample.cpuPerGiB.toFixed(3)} CPU-s/GiB${sample.non2xx || sample.socketErrors ? ` (${sample.non2xx} non-2xx, ${sample.socketErrors} socket errors)` : ''}\n`,
          );
        }
      }
    }
  } finally {
    cleanup();
  }

  const summary = {};
  const lines = [
    '| file | server | req/s | throughput | server CPU-s per GiB | client (wrk) CPU-s per GiB | server CPU µs per request | server busy | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const size of sizes) {
    for (const [name, samples] of Object.entries(results[size.label] ?? {})) {
      const row = {
        reqPerSec: median(samples.map((s) => s.reqPerSec)),
        gbPerSec: median(samples.map((s) => s.gbPerSec)),
        cpuPerGiB: median(samples.map((s) => s.cpuPerGiB)),
        clientCpuPerGiB: median(samples.map((s) => s.clientCpuPerGiB)),
        cpuPerRequestUs: median(samples.map((s) => s.cpuPerRequestUs)),
        cpuBusy: median(samples.map((s) => s.cpuBusy)),
        errors: samples.reduce((sum, s) => sum + s.non2xx + s.socketErrors, 0),
      };
      (summary[size.label] ??= {})[name] = row;
      lines.push(
        `| ${size.label} | ${name} | ${Math.round(row.reqPerSec).toLocaleString('en-US')} | ${row.gbPerSec.toFixed(2)} GB/s | ${row.cpuPerGiB.toFixed(2)} | ${row.clientCpuPerGiB.toFixed(2)} | ${row.cpuPerRequestUs.toFixed(1)} | ${Math.round(row.cpuBusy * 100)}% | ${row.errors} |`,
      );
    }
  }
  console.log(lines.join('\n'));

  // Ratios: each zerosend variant against the best Node peer (by the row's own metric) and nginx.
  const peers = ['serve-static', 'fastify-static', 'sirv', 'node-streams'];
  const ratioLines = [
    '',
    "| file | server | req/s ÷ best Node peer | throughput ÷ best Node peer | server CPU/GiB ÷ that peer's | server+client CPU/GiB ÷ that peer's | throughput ÷ nginx |",
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  const both = (row) => row.cpuPerGiB + row.clientCpuPerGiB;
  for (const size of sizes) {
    const rows = summary[size.label] ?? {};
    const available = peers.filter((name) => rows[name]);
    if (available.length === 0) continue;
    const bestReq = available.reduce((a, b) => (rows[a].reqPerSec >= rows[b].reqPerSec ? a : b));
    const bestTput = available.reduce((a, b) => (rows[a].gbPerSec >= rows[b].gbPerSec ? a : b));
    for (const name of Object.keys(rows).filter((n) => n.startsWith('zerosend'))) {
      const ours = rows[name];
      const nginx = rows.nginx ? `${(ours.gbPerSec / rows.nginx.gbPerSec).toFixed(2)}×` : 'n/a';
      ratioLines.push(
        `| ${size.label} | ${name} | ${(ours.reqPerSec / rows[bestReq].reqPerSec).toFixed(2)}× (${bestReq}) | ${(ours.gbPerSec / rows[bestTput].gbPerSec).toFixed(2)}× (${bestTput}) | ` +
          `${(ours.cpuPerGiB / rows[bestTput].cpuPerGiB).toFixed(2)}× | ${(both(ours) / both(rows[bestTput])).toFixed(2)}× | ${nginx} |`,
      );
    }
  }
  console.log(ratioLines.join('\n'));
  if (notes.length) console.log(`\nNotes:\n${notes.map((note) => `- ${note}`).join('\n')}`);
  console.log(`\nCommand: node bench/http.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
  if (flags.json) fs.writeFileSync(flags.json, JSON.stringify({ machine, connections, duration, runs, results, summary, notes }, null, 2));
}

await main();
