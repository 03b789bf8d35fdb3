#!/usr/bin/env node
// Where one request's time goes: a static server (default createStaticServer, `zerosend`) beside
// the node:http floor (`node-memory`: the same file from memory, same headers), under the same
// wrk load, with tools that do not need src/ changed:
//
//   strace  system calls per request (`strace -f -c` attached to the server after its warm-up;
//           every thread, so the native runtime's too), by call, with their errors (EAGAIN...)
//   cpu     a V8 CPU profile of the measured window (50 µs sampling): self time per function in
//           µs per request, grouped as zerosend (dist/), Node's own JS (node:), dependencies
//           (node_modules) and native/VM, and the inclusive time of the main steps
//   heap    V8's sampling heap profiler over the window, objects the GC already collected
//           included: bytes allocated per request, by allocating function
//   gc      garbage collections (minor/major) per 1000 requests and their time per request
//   perf    `perf record -g` of the server (with `node --perf-basic-prof`, so JS frames have
//           names): the hottest symbols, kernel included — where system-call time goes
//
//   node bench/http-profile.mjs                               # zerosend and node-memory, 4K, all but perf
//   node bench/http-profile.mjs --servers=zerosend,zerosend-nocache,node-memory --modes=strace
//   node bench/http-profile.mjs --size=1M --modes=cpu,perf --duration=10 --top=25
//   options: --connections=N (default 8), --duration=SECONDS per mode (default 5), --dist=DIR,
//            --dir=DIR, --cc=NAME, --no-pin, --keep=DIR (keep the raw profiles there)
//
// Each mode runs on a fresh server process (so one tool does not perturb another's numbers):
// start, check, warm up (3 s of wrk), then record during one wrk run; per-request figures divide
// by the requests wrk completed in that run (up to --connections more were in flight).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { applyCongestionFlag } from './congestion.mjs';
import { parseFlags, parseSize } from './flags.mjs';
import { canPin, checkServes, cpuSeconds, has, here, machineLine, makeFiles, pinned, repo, requireTools, startNode, treeCpu, wrk } from './http-harness.mjs';

const flags = parseFlags();
applyCongestionFlag(flags);
const size = { label: flags.size ?? '4K', bytes: parseSize(flags.size ?? '4K') };
const servers = (flags.servers ?? 'zerosend,node-memory').split(',');
const modes = (flags.modes ?? 'strace,cpu,heap,gc').split(',');
const connections = Number(flags.connections ?? 8);
const duration = Number(flags.duration ?? 5);
const top = Number(flags.top ?? 20);
const dist = path.resolve(flags.dist ?? path.join(repo, 'dist'));
const dir = path.resolve(flags.dir ?? path.join(os.tmpdir(), 'zerosend-bench-http'));
const pin = canPin(flags);
const keep = flags.keep ? path.resolve(flags.keep) : undefined;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zerosend-profile-'));
const urlPath = `/${size.label}.bin`;

requireTools(dist, 'bench/http-profile.mjs');
for (const mode of modes) {
  if (!['strace', 'cpu', 'heap', 'gc', 'perf'].includes(mode)) throw new Error(`unknown mode ${mode}`);
  if (mode === 'strace' && !has('strace', ['-V'])) throw new Error('--modes=strace needs strace (apt-get install strace)');
  if (mode === 'perf' && !has('perf', ['--version'])) throw new Error('--modes=perf needs perf (apt-get install linux-perf)');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const wait = (child) => new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));

/** Starts `name` for one mode, checks and warms it up; `record(server)` runs around one wrk run. */
async function session(name, mode, record) {
  const out = path.join(work, `${name}.${mode}.json`);
  const server = await startNode({
    name,
    script: path.join(here, 'http-servers.mjs'),
    dir,
    dist,
    pin,
    nodeArgs: mode === 'perf' ? ['--perf-basic-prof'] : [],
    cwd: work, // --perf-basic-prof also writes V8's isolate-*.log there
    env: ['cpu', 'heap', 'gc'].includes(mode) ? { BENCH_PROFILE: mode, BENCH_PROFILE_OUT: out } : {},
  });
  try {
    await checkServes(server, urlPath, size.bytes);
    await wrk({ port: server.port, urlPath, seconds: 3, connections, pin, name }); // JIT, caches
    return await record(server, out);
  } catch (error) {
    throw new Error(`${name} (${mode}): ${error.message}${server.alive() ? '' : `; its stderr: ${server.stderr()}`}`);
  } finally {
    await server.stop();
    if (mode === 'perf') fs.rmSync(`/tmp/perf-${server.child.pid}.map`, { force: true });
  }
}

const load = (server) => wrk({ port: server.port, urlPath, seconds: duration, connections, pin, name: server.name });

/** Records through the server's own profiler hooks (SIGUSR2 … SIGTERM, see http-servers.mjs). */
async function inProcess(server, out) {
  server.child.kill('SIGUSR2');
  await sleep(300);
  const pid = server.child.pid;
  const before = treeCpu(server);
  const mainBefore = cpuSeconds(pid, pid);
  const result = await load(server);
  const cpu = treeCpu(server) - before;
  const mainCpu = cpuSeconds(pid, pid) - mainBefore;
  await server.stop();
  if (!fs.existsSync(out)) throw new Error(`no profile written: ${server.stderr()}`);
  const data = JSON.parse(fs.readFileSync(out, 'utf8'));
  if (keep) fs.copyFileSync(out, path.join(keep, path.basename(out).replace(/\.cpu\.json$/, '.cpuprofile')));
  return { result, cpu, mainCpu, data };
}

// ---------------------------------------------------------------------------------------------
// strace

async function straceCounts(server) {
  const out = path.join(work, `${server.name}.strace.txt`);
  const [command, args] = pinned(pin, 1, 'strace', ['-f', '-c', '-qq', '-o', out, '-p', String(server.child.pid)]);
  const tracer = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  tracer.stderr.on('data', (chunk) => (errors += chunk));
  await sleep(1000); // attached to every thread
  if (tracer.exitCode !== null) throw new Error(`strace failed: ${errors.trim()}`);
  const result = await load(server);
  tracer.kill('SIGINT');
  await wait(tracer);
  const text = fs.readFileSync(out, 'utf8');
  if (keep) fs.copyFileSync(out, path.join(keep, path.basename(out)));
  const calls = {};
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words.length < 5 || !/^[\d.]+$/.test(words[0]) || words.at(-1) === 'total') continue;
    const name = words.at(-1);
    const [count, errs] = words.length >= 6 ? [Number(words[3]), Number(words[4])] : [Number(words[3]), 0];
    calls[name] = { calls: count, errors: errs, seconds: Number(words[1]) };
  }
  return { requests: result.requests, calls };
}

function printStrace(results) {
  const names = Object.keys(results);
  const syscalls = [...new Set(names.flatMap((n) => Object.keys(results[n].calls)))];
  const perRequest = (n, s) => (results[n].calls[s]?.calls ?? 0) / results[n].requests;
  syscalls.sort((a, b) => Math.max(...names.map((n) => perRequest(n, b))) - Math.max(...names.map((n) => perRequest(n, a))));
  const lines = [
    `\n## System calls per request (strace -f -c, ${size.label}, wrk -c${connections})\n`,
    `| system call | ${names.map((n) => `${n} calls/request (errors)`).join(' | ')} |`,
    `|---|${names.map(() => '---:').join('|')}|`,
  ];
  for (const syscall of syscalls) {
    if (names.every((n) => perRequest(n, syscall) < 0.001)) continue;
    lines.push(
      `| ${syscall} | ${names
        .map((n) => {
          const c = results[n].calls[syscall];
          return c ? `${perRequest(n, syscall).toFixed(3)}${c.errors ? ` (${(c.errors / results[n].requests).toFixed(3)})` : ''}` : '0';
        })
        .join(' | ')} |`,
    );
  }
  const total = (n) => Object.values(results[n].calls).reduce((sum, c) => sum + c.calls, 0) / results[n].requests;
  lines.push(`| **total** | ${names.map((n) => `**${total(n).toFixed(2)}**`).join(' | ')} |`);
  lines.push(`| requests measured | ${names.map((n) => results[n].requests).join(' | ')} |`);
  console.log(lines.join('\n'));
}

// ---------------------------------------------------------------------------------------------
// CPU profile

function category(frame) {
  const url = frame.url ?? '';
  if (url.includes(`${path.sep}dist${path.sep}`) || url.includes('/dist/')) return 'zerosend';
  if (url.includes('node_modules')) return 'dependencies';
  if (url.startsWith('node:')) return 'node';
  if (url.includes('http-servers.mjs')) return 'bench server';
  if (frame.functionName === '(garbage collector)') return 'gc';
  if (frame.functionName === '(idle)') return 'idle';
  if (frame.functionName === '(program)') return 'program (native, VM)';
  return url === '' ? 'native' : 'other';
}

const where = (frame) => {
  const url = frame.url ?? '';
  const short = url.replace(/^file:\/\//, '').replace(`${dist}/`, 'dist/').replace(`${repo}/`, '').replace(/.*node_modules\//, '');
  return short ? `${short}:${frame.lineNumber + 1}` : '';
};
const label = (frame) => `${frame.functionName || '(anonymous)'}${where(frame) ? ` ${where(frame)}` : ''}`;

function summarizeCpu(profile, requests) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // A native function (a binding, napi: V8 may name it oddly) is shown with the JS that called it.
  const keyOf = (node) => {
    const frame = node.callFrame;
    if (frame.url || frame.functionName.startsWith('(')) return label(frame);
    const caller = nodes.get(parent.get(node.id));
    return `${frame.functionName || '(native)'} [native, called by ${caller ? label(caller.callFrame) : '?'}]`;
  };
  const self = new Map();
  const inclusive = new Map();
  const byCategory = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i + 1] ?? 0; // the time until the next sample belongs to this one
    const node = nodes.get(profile.samples[i]);
    total += delta;
    const key = keyOf(node);
    self.set(key, (self.get(key) ?? 0) + delta);
    byCategory.set(category(node.callFrame), (byCategory.get(category(node.callFrame)) ?? 0) + delta);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const k = keyOf(nodes.get(id));
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + delta);
    }
  }
  return { self, inclusive, byCategory, total, requests };
}

function printCpu(results) {
  for (const [name, { summary, cpu, mainCpu, result }] of Object.entries(results)) {
    const busy = summary.total - (summary.byCategory.get('idle') ?? 0);
    // The profiler samples wall-clock time; on a loaded machine the thread is also descheduled
    // while "in" a function. Shares of the busy samples, times the JS thread's own CPU time per
    // request (/proc/<pid>/task/<pid>/stat), give CPU µs per request.
    const mainPerRequest = (mainCpu / summary.requests) * 1e6;
    const us = (t) => ((t / busy) * mainPerRequest).toFixed(2);
    console.log(
      `\n## CPU profile: ${name} (${size.label}, wrk -c${connections}, ${summary.requests} requests, ${(result.requests / result.seconds).toFixed(0)} req/s under the profiler)\n\n` +
        `CPU per request from /proc: ${((cpu / summary.requests) * 1e6).toFixed(1)} µs in all threads, **${mainPerRequest.toFixed(1)} µs on the JS thread**; ` +
        `the µs below are shares of the JS thread's busy samples times that.\n`,
    );
    console.log('| group | µs/request (self) | share of busy |\n|---|---:|---:|');
    for (const [group, time] of [...summary.byCategory].sort((a, b) => b[1] - a[1])) {
      if (group === 'idle') continue;
      console.log(`| ${group} | ${us(time)} | ${((time / busy) * 100).toFixed(1)}% |`);
    }
    console.log(`\n| function (top ${top} by self time) | self µs/request | self % of busy | inclusive µs/request |\n|---|---:|---:|---:|`);
    const sorted = [...summary.self].filter(([key]) => !key.startsWith('(idle)')).sort((a, b) => b[1] - a[1]);
    for (const [key, time] of sorted.slice(0, top)) {
      console.log(`| ${key} | ${us(time)} | ${((time / busy) * 100).toFixed(1)}% | ${us(summary.inclusive.get(key) ?? 0)} |`);
    }
    const steps = [...summary.inclusive]
      .filter(([key]) => /dist\/|native, called by|writeHead|_storeHeader|setHeader|statSync|writev|parserOnHeadersComplete|parserOnIncoming|resOnFinish|^end node:_http_outgoing|processTicksAndRejections|^\(garbage/.test(key))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top + 10);
    if (steps.length) {
      console.log(`\n| step (inclusive: the function and what it calls) | inclusive µs/request |\n|---|---:|`);
      for (const [key, time] of steps) console.log(`| ${key} | ${us(time)} |`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Heap sampling

function summarizeHeap(profile, requests) {
  const bytes = new Map();
  let total = 0;
  const walk = (node) => {
    if (node.selfSize > 0) {
      const key = label(node.callFrame);
      bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children ?? []) walk(child);
  };
  walk(profile.head);
  return { bytes, total, requests };
}

function printHeap(results) {
  for (const [name, { summary }] of Object.entries(results)) {
    console.log(
      `\n## Allocations: ${name} (${size.label}, ${summary.requests} requests; sampling heap profiler, collected objects included): ` +
        `**${(summary.total / summary.requests).toFixed(0)} bytes/request**\n`,
    );
    console.log(`| allocating function (top ${top}) | bytes/request |\n|---|---:|`);
    for (const [key, b] of [...summary.bytes].sort((a, c) => c[1] - a[1]).slice(0, top)) {
      console.log(`| ${key} | ${(b / summary.requests).toFixed(0)} |`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// perf

async function perfRecord(server) {
  const out = path.join(work, `${server.name}.perf.data`);
  const [command, args] = pinned(pin, 1, 'perf', ['record', '-q', '-F', '2999', '-g', '-o', out, '-p', String(server.child.pid)]);
  const recorder = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  recorder.stderr.on('data', (chunk) => (errors += chunk));
  await sleep(500);
  if (recorder.exitCode !== null) throw new Error(`perf record failed: ${errors.trim()}`);
  const before = treeCpu(server);
  const result = await load(server);
  const cpu = treeCpu(server) - before;
  recorder.kill('SIGINT');
  await wait(recorder);
  const report = (...options) =>
    new Promise((resolve) => {
      const child = spawn('perf', ['report', '-i', out, '--stdio', '-g', 'none', ...options], { stdio: ['ignore', 'pipe', 'ignore'] });
      let text = '';
      child.stdout.on('data', (chunk) => (text += chunk));
      child.on('exit', () => resolve(text));
    });
  const bySymbol = await report('--no-children', '--sort', 'dso,sym', '--percent-limit', '0.5');
  const byDso = await report('--no-children', '--sort', 'dso', '--percent-limit', '0.5');
  const inclusive = await report('--children', '--sort', 'sym', '--percent-limit', '0.3');
  if (keep) fs.copyFileSync(out, path.join(keep, path.basename(out)));
  return { requests: result.requests, cpu, bySymbol, byDso, inclusive };
}

function printPerf(results) {
  const rows = (text) => text.split('\n').filter((line) => /^\s+[\d.]+%/.test(line)).map((line) => line.trim());
  const names = Object.keys(results);
  // cpu-clock samples count only time the threads ran, so a share of them times the process's
  // CPU per request (from /proc) is a time per request, whatever else the machine was doing.
  const usPer = (name, percent) => ((percent / 100) * results[name].cpu * 1e6) / results[name].requests;
  // Kernel functions that stand for one entry point, whatever this kernel inlined (the first
  // found, i.e. the outermost); rows in the order of a request's life.
  const ENTRIES = [
    ['all system calls', /^(do_syscall_64)$/],
    ['read (the request)', /^(ksys_read|__x64_sys_read)$/],
    ['statx (path)', /^(__x64_sys_statx|do_statx)$/],
    ['newfstatat / fstat (descriptor)', /^(__do_sys_newfstatat|__x64_sys_newfstatat|vfs_fstat)$/],
    ['sendto (headers)', /^(__x64_sys_sendto|__sys_sendto)$/],
    ['sendfile', /^(__x64_sys_sendfile64|do_sendfile)$/],
    ['writev', /^(__x64_sys_writev|do_writev)$/],
    ['epoll_pwait', /^(__x64_sys_epoll_pwait|do_epoll_wait)$/],
    ['futex', /^(__x64_sys_futex|do_futex)$/],
    ['  of which: TCP send path (tcp_sendmsg_locked)', /^(tcp_sendmsg_locked)$/],
    ['  of which: loopback delivery to wrk in our context (net_rx_action)', /^(net_rx_action)$/],
    ['page faults', /^(asm_exc_page_fault)$/],
  ];
  const entries = {};
  for (const name of names) {
    const found = new Map();
    for (const line of rows(results[name].inclusive)) {
      const match = /^([\d.]+)%\s+[\d.]+%\s+\[k\]\s+(\S+)$/.exec(line);
      if (match) found.set(match[2], Math.max(found.get(match[2]) ?? 0, Number(match[1])));
    }
    for (const [label, pattern] of ENTRIES) {
      const hit = [...found].find(([symbol]) => pattern.test(symbol));
      if (hit) (entries[label] ??= {})[name] = hit[1];
    }
  }
  console.log(
    `\n## perf record -g (${size.label}, wrk -c${connections}; cpu-clock samples of every server thread): kernel time by entry point, inclusive, µs/request (share of the process's samples)\n`,
  );
  console.log(`| kernel entry | ${names.map((n) => `${n} (${results[n].requests} requests, ${((results[n].cpu / results[n].requests) * 1e6).toFixed(1)} CPU-µs/request)`).join(' | ')} |`);
  console.log(`|---|${names.map(() => '---:').join('|')}|`);
  for (const [label] of ENTRIES) {
    if (!entries[label]) continue;
    console.log(`| ${label} | ${names.map((n) => (entries[label][n] === undefined ? '< 0.3%' : `${usPer(n, entries[label][n]).toFixed(2)} (${entries[label][n].toFixed(1)}%)`)).join(' | ')} |`);
  }
  for (const name of names) {
    const { bySymbol, byDso } = results[name];
    console.log(`\n${name}, by object (self):\n\`\`\`\n${rows(byDso).join('\n')}\n\`\`\``);
    console.log(`${name}, top symbols (self):\n\`\`\`\n${rows(bySymbol).slice(0, top).join('\n')}\n\`\`\``);
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  makeFiles(dir, [size]);
  if (keep) fs.mkdirSync(keep, { recursive: true });
  console.log(`# Per-request cost profile\n\n${machineLine()} at start\nbuild: ${dist}\nservers on CPU 0, wrk -t1 -c${connections} -d${duration}s on CPU 1${pin ? '' : ' (not pinned)'}`);
  const results = {};
  try {
    for (const mode of modes) {
      results[mode] = {};
      for (const name of servers) {
        results[mode][name] = await session(name, mode, async (server, out) => {
          if (mode === 'strace') return straceCounts(server);
          if (mode === 'perf') return perfRecord(server);
          const recorded = await inProcess(server, out);
          const requests = recorded.result.requests;
          if (mode === 'cpu') return { ...recorded, summary: summarizeCpu(recorded.data, requests) };
          if (mode === 'heap') return { ...recorded, summary: summarizeHeap(recorded.data, requests) };
          return { ...recorded, requests };
        });
        process.stderr.write(`${mode} ${name}: done\n`);
      }
      if (mode === 'strace') printStrace(results[mode]);
      if (mode === 'cpu') printCpu(results[mode]);
      if (mode === 'heap') printHeap(results[mode]);
      if (mode === 'perf') printPerf(results[mode]);
      if (mode === 'gc') {
        console.log(`\n## Garbage collection (${size.label})\n\n| server | requests | minor GCs per 1000 requests | major GCs per 1000 requests | GC ms per 1000 requests |\n|---|---:|---:|---:|---:|`);
        for (const [name, { data, requests }] of Object.entries(results[mode])) {
          const per = (n) => ((n / requests) * 1000).toFixed(2);
          console.log(`| ${name} | ${requests} | ${per(data.minor)} | ${per(data.major + data.incremental)} | ${per(data.ms)} |`);
        }
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`\nCommand: node bench/http-profile.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
}

await main();
