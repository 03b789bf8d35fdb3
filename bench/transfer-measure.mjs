// Shared pieces of the transfer benchmark: CPU counters, medians, the test files, the receiver
// process (the raw_send example's `recv` mode), CPU pinning, and the raw_send sender.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** The sender's CPU seconds: getrusage(RUSAGE_SELF), i.e. /proc/<pid>/stat utime+stime of every
 * thread (JS, libuv pool, napi's tokio runtime), at microsecond rather than 10 ms resolution. */
export function processCpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** Busy and total CPU seconds of the whole machine since boot, from the `cpu` line of /proc/stat. */
export function machineCpu() {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const f = line.split(/\s+/).slice(1, 9).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: busy / CLOCK_TICKS, total: total / CLOCK_TICKS };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function formatBytes(n) {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}

/**
 * `count` distinct files of `size` random bytes in `dir` (made once and reused, and read into the
 * page cache), and a list file naming them one per line (for raw_send's `--file @LIST`). Many
 * files make a working set larger than the CPU caches, as a server with many files has.
 */
export function benchFiles(dir, size, count) {
  const files = Array.from({ length: count }, (_, i) => benchFile(dir, size, i));
  const list = path.join(dir, `zerosend-bench-${size}-x${count}.list`);
  fs.writeFileSync(list, files.join('\n') + '\n');
  return { files, list };
}

/** A file of `size` random bytes in `dir`, made once and reused (and read once into the page cache). */
export function benchFile(dir, size, index = 0) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, index === 0 ? `zerosend-bench-${size}` : `zerosend-bench-${size}.${index}`);
  if (!fs.existsSync(file) || fs.statSync(file).size !== size) {
    const fd = fs.openSync(file, 'w');
    const chunk = Buffer.alloc(Math.min(size, 8 * MiB));
    for (let written = 0; written < size; ) {
      const n = Math.min(chunk.length, size - written);
      fs.writeSync(fd, fillRandom(chunk.subarray(0, n)));
      written += n;
    }
    fs.closeSync(fd);
  }
  // Warm the page cache: every method should read from memory, not from disk.
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(Math.min(size, 8 * MiB) || 1);
  for (let pos = 0; pos < size; pos += buf.length) fs.readSync(fd, buf, 0, buf.length, pos);
  fs.closeSync(fd);
  return file;
}

function fillRandom(buf) {
  // crypto.randomFillSync caps one call at 2^31-1 bytes; our chunks are far smaller.
  for (let i = 0; i < buf.length; i += 65536) {
    globalThis.crypto.getRandomValues(buf.subarray(i, Math.min(i + 65536, buf.length)));
  }
  return buf;
}

export const canPin = () => os.availableParallelism() >= 2 && hasCommand('taskset');

function hasCommand(name) {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins every thread of a running process to one CPU (threads made later inherit it). */
export function pinProcess(pid, cpu) {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** Builds the raw loops + receiver (`cargo build --release --example raw_send`); returns its path. */
export function buildRawSend() {
  execFileSync('cargo', ['build', '--release', '-q', '-p', 'zerosend-core', '--example', 'raw_send'], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return path.join(repoRoot, 'target', 'release', 'examples', 'raw_send');
}

/**
 * Starts the receiver in its own process (pinned to `cpu` if given): it reads into a 256 KiB
 * buffer like a real client and answers each batch with its own CPU time (see raw_send.rs).
 */
export async function startReceiver(rawSend, cpu) {
  const unixPath = path.join(os.tmpdir(), `zerosend-bench-${process.pid}.sock`);
  // --exit-on-eof: the receiver exits when our end of its stdin closes, i.e. when we die.
  const args = ['recv', '--tcp', '127.0.0.1:0', '--unix', unixPath, '--exit-on-eof', '1'];
  const child =
    cpu === undefined
      ? spawn(rawSend, args, { stdio: ['pipe', 'pipe', 'inherit'] })
      : spawn('taskset', ['-c', String(cpu), rawSend, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n', 1)[0]);
    });
    child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
  });
  const info = JSON.parse(first);
  return {
    tcp: { host: '127.0.0.1', port: info.tcp },
    unix: info.unix,
    pid: info.pid,
    stop() {
      child.kill();
      fs.rmSync(unixPath, { force: true });
    },
  };
}

/**
 * A connection to the receiver speaking its protocol: an 8-byte batch size first, then 8-byte
 * answers carrying the receiver's CPU microseconds, one now and one per batch delivered.
 */
export async function connectReceiver(receiver, kind, batchBytes) {
  const socket =
    kind === 'unix' ? net.connect(receiver.unix) : net.connect({ ...receiver.tcp, noDelay: true });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let pending = Buffer.alloc(0);
  const answers = [];
  const waiters = [];
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      const cpu = Number(pending.readBigUInt64LE(0)) / 1e6;
      pending = pending.subarray(8);
      const waiter = waiters.shift();
      if (waiter) waiter(cpu);
      else answers.push(cpu);
    }
  });
  const nextAnswer = () =>
    answers.length ? Promise.resolve(answers.shift()) : new Promise((resolve) => waiters.push(resolve));
  const header = Buffer.alloc(8);
  header.writeBigUInt64LE(BigInt(batchBytes));
  socket.write(header);
  let receiverCpu = await nextAnswer();
  return {
    socket,
    /** Waits for the receiver to have read another batch; returns its CPU seconds meanwhile. */
    async batchDelivered() {
      const now = await nextAnswer();
      const spent = now - receiverCpu;
      receiverCpu = now;
      return spent;
    },
    close() {
      socket.destroy();
    },
  };
}

function rawSendArgs({ receiver, kind, file, method, call, repeat, samples, extra = [] }) {
  const target = kind === 'unix' ? ['--unix', receiver.unix] : ['--tcp', `127.0.0.1:${receiver.tcp.port}`];
  return [
    'send',
    ...target,
    ...['--file', file, '--method', method, '--call', String(call)],
    ...['--repeat', String(repeat), '--samples', String(samples)],
    ...extra,
  ];
}

function withPin(command, args, cpu) {
  return cpu === undefined ? [command, args] : ['taskset', ['-c', String(cpu), command, ...args]];
}

/** Runs the raw loop for `samples` samples of `repeat` transfers; returns the samples. */
export function runRawSend(rawSend, options) {
  const [command, argv] = withPin(rawSend, rawSendArgs(options), options.cpu);
  const out = execFileSync(command, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

/**
 * A raw loop kept running on one connection: `sample()` asks it for one more sample (a line on its
 * stdin) and resolves to it. Keeps the connection warm, like the Node runners' connections.
 */
export function rawSendSession(rawSend, options) {
  const [command, argv] = withPin(rawSend, rawSendArgs({ ...options, samples: 0 }), options.cpu);
  const child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  let buffered = '';
  const waiters = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      waiters.shift()?.resolve(JSON.parse(line));
    }
  });
  child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`raw_send exited with ${code}`));
  });
  return {
    sample() {
      return new Promise((resolve, reject) => {
        waiters.push({ resolve, reject });
        child.stdin.write('\n');
      });
    },
    close() {
      child.stdin.end();
    },
  };
}
