#!/usr/bin/env node
// Soak run (not part of CI): for a chosen duration, a mixed load on one process —
//   - transfer(): files of 0 B .. 16 MiB to TCP and unix sockets, every method, random
//     offset/length/prefix, with random aborts, peer resets, sender-side destroys and files
//     truncated mid-send;
//   - createStaticServer(): keep-alive downloads with random ranges, HEAD, conditional requests,
//     and clients that hang up mid-body;
//   - proxy() (when the build has it): client <-> proxy <-> echo upstream, with random resets;
//   - replace: files replaced by rename (from the JS thread and from the thread pool) while the
//     same static server serves them, with and without If-None-Match: every answer must be one
//     whole version, and never one older than the version whose rename had returned when the
//     request was sent (a 304 included) — the open-file cache's watch under load;
// — and verifies every completed byte stream against its sha256 (and every cut-short stream as an
// exact prefix of what was expected). Every `--sample` seconds it prints throughput, RSS, heap and
// open descriptors; at the end a summary: operations, bytes, errors by code, corrupted streams,
// crashes, and whether RSS and descriptors stayed flat after warm-up.
//
//   node --expose-gc bench/soak.mjs --duration=600            # 10 minutes (ZEROSEND_SOAK_SECONDS)
//   options: --concurrency=N (parallel operations per kind, default 6), --sample=SECONDS (10),
//            --warmup=SECONDS (60), --seed=N, --json=FILE (samples + summary),
//            --dist=DIR (the build to load; default this repository's dist/; build it first:
//            npm run build), --kinds=transfer,static,proxy,replace
//
// With --expose-gc the sampler collects garbage before reading RSS, so the numbers show retained
// memory rather than when V8 last felt like collecting. Exit code 1 on any corrupted stream,
// unexpected error or crash.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

import { parseFlags } from './flags.mjs';

const flags = parseFlags();
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const durationSecs = Number(flags.duration ?? process.env.ZEROSEND_SOAK_SECONDS ?? 60);
const concurrency = Number(flags.concurrency ?? 6);
const sampleSecs = Number(flags.sample ?? 10);
const warmupSecs = Number(flags.warmup ?? Math.min(60, durationSecs / 5));
const seed = Number(flags.seed ?? Math.floor(Math.random() * 2 ** 31));
const distDir = path.resolve(flags.dist ?? path.join(repoRoot, 'dist'));
const kinds = new Set((flags.kinds ?? 'transfer,static,proxy,replace').split(','));

const zerosend = await import(pathToFileURL(path.join(distDir, 'index.js')).href).then((m) => m.default ?? m);
const { transfer, createStaticServer, capabilities } = zerosend;
// The pipe pool's idle pipes (two descriptors each, kept on purpose), when the build can tell.
const binding = await import(pathToFileURL(path.join(distDir, 'native.js')).href)
  .then((m) => (m.default ?? m).native)
  .catch(() => null);
const pooledPipes = () => (typeof binding?.nativeIdlePipes === 'function' ? binding.nativeIdlePipes() : 0);
const proxy = zerosend.proxy;
if (!capabilities().native) console.warn('soak: the native binding is NOT loaded; this soaks the stream fallback');
if (kinds.has('proxy') && typeof proxy !== 'function') {
  console.warn('soak: this build has no proxy(); proxied connections are left out');
  kinds.delete('proxy');
}

// ---- seeded randomness (mulberry32): the same seed gives the same mix of operations ----
let state = seed >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (list) => list[Math.floor(random() * list.length)];
const between = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
const chance = (p) => random() < p;
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const KiB = 1024;
const MiB = 1024 * KiB;
/** The largest page-cache folio on x86-64 (a PMD): truncate(2) zeroes the rest of the cut folio. */
const MAX_FOLIO = 2 * MiB;

// ---- the files ----
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerosend-soak-'));
const root = path.join(dir, 'www');
fs.mkdirSync(root);
const SIZES = [0, 1, 777, 4 * KiB, 64 * KiB + 1, 300 * KiB, MiB, 4 * MiB + 3, 16 * MiB];
const files = SIZES.map((size, i) => {
  const data = randomBytes(size);
  const name = `f${i}-${size}.bin`;
  const file = path.join(root, name);
  fs.writeFileSync(file, data);
  return { name, path: file, data, size };
});

// ---- the tally ----
const stats = {
  ops: {}, // kind -> { started, completed, verified, cut }
  bytesVerified: 0,
  corrupted: [],
  unexpected: {},
  errors: {}, // code -> count (expected ones: aborts, resets, truncations)
  crashes: [],
  // Streams where a truncation zeroed queued bytes in its cut page (see receiver()); `resolved`:
  // of those, transfers that had already handed every byte to the kernel and so resolved.
  truncationZeroed: { streams: 0, bytes: 0, resolved: 0 },
};
const op = (kind) => (stats.ops[kind] ??= { started: 0, completed: 0, verified: 0, cut: 0 });
const countError = (code) => (stats.errors[code] = (stats.errors[code] ?? 0) + 1);
function unexpected(kind, what, detail) {
  const key = `${kind}: ${what}`;
  const entry = (stats.unexpected[key] ??= { count: 0, example: detail });
  entry.count += 1;
}
function corrupted(kind, detail) {
  stats.corrupted.push({ kind, ...detail });
  console.error(`CORRUPTED ${kind}: ${JSON.stringify(detail)}`);
}
process.on('uncaughtException', (error) => {
  stats.crashes.push(String(error?.stack ?? error));
  console.error('uncaughtException', error);
});
process.on('unhandledRejection', (error) => {
  stats.crashes.push(String(error?.stack ?? error));
  console.error('unhandledRejection', error);
});

/**
 * Hashes what a socket receives and checks it byte by byte against `expected` as it arrives.
 *
 * `zeroWindow` ({ from, to }, stream positions): bytes there may be zero instead of expected. That
 * is the folio a truncation cut in two: sendfile and splice queue page-cache pages (references, not
 * copies) in the socket buffer, and truncate(2) zeroes in place the tail of the folio holding the
 * new end of file (a 4 KiB page, or with large folios — ext4 on Linux 6.x — up to 2 MiB) — so bytes
 * queued before the truncation, not yet on the wire, turn into zeros. Inherent to zero-copy on
 * Linux (nginx behaves the same); mmap-send and copy copy at write() time and never show it.
 * Anything else that differs is corruption.
 */
function receiver(socket, expected, zeroWindow) {
  const hash = createHash('sha256');
  let received = 0;
  let mismatch;
  let zeroed = 0;
  socket.on('data', (chunk) => {
    hash.update(chunk);
    if (mismatch === undefined && !chunk.equals(expected.subarray(received, received + chunk.length))) {
      for (let i = 0; i < chunk.length; i++) {
        const at = received + i;
        if (chunk[i] === expected[at]) continue;
        if (zeroWindow && chunk[i] === 0 && at >= zeroWindow.from && at < zeroWindow.to) {
          zeroed += 1;
          continue;
        }
        mismatch = at;
        break;
      }
    }
    received += chunk.length;
  });
  const ended = new Promise((resolve) => {
    socket.once('end', () => resolve(true));
    socket.once('close', () => resolve(false));
    socket.once('error', () => resolve(false));
  });
  return { ended, state: () => ({ received, mismatch, zeroed, sha256: hash.copy().digest('hex') }) };
}

async function socketPair(unix) {
  const server = net.createServer({ pauseOnConnect: false });
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  let client;
  if (unix) {
    const sock = path.join(dir, `s-${process.hrtime.bigint()}.sock`);
    await new Promise((resolve) => server.listen(sock, resolve));
    client = net.connect(sock);
  } else {
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = net.connect(server.address().port, '127.0.0.1');
  }
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const peer = await accepted;
  server.close();
  client.on('error', () => {});
  peer.on('error', () => {});
  return { client, peer };
}

// ---- kind 1: transfer() with faults ----
const METHODS = ['auto', 'sendfile', 'splice', 'mmap', 'copy'];

async function transferOnce() {
  const tally = op('transfer');
  tally.started += 1;
  const fault = pick(['none', 'none', 'none', 'abort', 'peer-reset', 'destroy', 'truncate']);
  let file = pick(files);
  if (fault === 'truncate' && file.size < MiB) file = files[files.length - 1];
  let source = file.path;
  if (fault === 'truncate') {
    // A private copy, truncated while it is being sent.
    source = path.join(dir, `trunc-${process.hrtime.bigint()}.bin`);
    fs.copyFileSync(file.path, source);
  }
  const offset = chance(0.3) ? between(0, file.size) : 0;
  const length = chance(0.3) ? between(0, file.size - offset) : undefined;
  const prefix = chance(0.3) ? randomBytes(between(1, 2000)) : undefined;
  const method = pick(METHODS);
  const slice = file.data.subarray(offset, length === undefined ? undefined : offset + length);
  const expected = prefix ? Buffer.concat([prefix, slice]) : slice;

  // Where the truncation may legitimately show in the received stream (see receiver()).
  let truncationWindow;
  let newSize = 0;
  if (fault === 'truncate') {
    newSize = between(0, file.size);
    const prefixLength = prefix?.length ?? 0;
    // File byte f arrives at stream position prefixLength + f - offset.
    truncationWindow = {
      from: prefixLength + newSize - offset,
      to: prefixLength + Math.ceil((newSize + 1) / MAX_FOLIO) * MAX_FOLIO - offset,
    };
  }
  const unix = chance(0.4);
  const { client, peer } = await socketPair(unix);
  const seen = receiver(peer, expected, fault === 'truncate' ? truncationWindow : undefined);
  const controller = new AbortController();
  const timers = [];
  if (fault === 'abort') timers.push(setTimeout(() => controller.abort(), between(0, 20)));
  // resetAndDestroy() is TCP-only; a unix peer can only close.
  if (fault === 'peer-reset') timers.push(setTimeout(() => (unix ? peer.destroy() : peer.resetAndDestroy()), between(0, 20)));
  if (fault === 'destroy') timers.push(setTimeout(() => client.destroy(), between(0, 20)));
  if (fault === 'truncate') {
    timers.push(setTimeout(() => fs.truncateSync(source, newSize), between(0, 10)));
    // A slow reader, so that the truncation lands mid-send.
    peer.pause();
    timers.push(setInterval(() => (peer.isPaused() ? peer.resume() : peer.pause()), 2));
  }
  let result;
  let error;
  try {
    result = await transfer(source, client, { method, offset, length, prefix, signal: controller.signal });
  } catch (e) {
    error = e;
  }
  for (const timer of timers) clearTimeout(timer);
  if (fault === 'truncate') peer.resume();
  if (!client.destroyed) client.end();
  const ended = await seen.ended;
  const got = seen.state();
  peer.destroy();
  client.destroy();
  if (fault === 'truncate') fs.rmSync(source, { force: true });

  if (got.zeroed > 0) {
    stats.truncationZeroed.streams += 1;
    stats.truncationZeroed.bytes += got.zeroed;
    if (result) stats.truncationZeroed.resolved += 1;
  }
  if (got.mismatch !== undefined) {
    corrupted('transfer', { method, fault, offset, length, size: file.size, mismatch: got.mismatch, received: got.received });
    return;
  }
  if (result) {
    tally.completed += 1;
    if (got.zeroed > 0) return;
    if (result.bytes !== expected.length || (ended && got.received !== expected.length)) {
      // A peer reset after the last byte can lose bytes in flight; only a clean end must be whole.
      if (ended) corrupted('transfer', { method, fault, reason: 'incomplete', bytes: result.bytes, received: got.received, expected: expected.length });
      return;
    }
    if (ended) {
      if (got.sha256 !== sha256(expected)) return corrupted('transfer', { method, fault, reason: 'sha256' });
      tally.verified += 1;
      stats.bytesVerified += got.received;
    }
    return;
  }
  tally.cut += 1;
  const code = error?.code ?? String(error);
  countError(code);
  const allowed = {
    none: [],
    abort: ['ABORT_ERR'],
    'peer-reset': ['EPIPE', 'ECONNRESET', 'ERR_SOCKET_CLOSED'],
    destroy: ['ERR_SOCKET_CLOSED', 'EPIPE', 'ECONNRESET', 'EBADF'],
    truncate: ['ERR_ZEROSEND_SHORT_FILE'],
  }[fault];
  if (!allowed.includes(code)) unexpected('transfer', `${fault} -> ${code}`, { method, message: error?.message });
  // The peer saw everything up to its end: err.bytes must be exactly what arrived.
  if (ended && typeof error?.bytes === 'number' && error.bytes !== got.received) {
    unexpected('transfer', `${fault}: err.bytes ${error.bytes} != received ${got.received}`, { method });
  }
}

// ---- kind 2: the static server ----
let staticServer;
let staticAgent;
const servedErrors = {};

async function startStatic() {
  staticServer = createStaticServer(root, {
    onServed: (_req, _res, info) => {
      if (info.error) servedErrors[info.error] = (servedErrors[info.error] ?? 0) + 1;
    },
  });
  await new Promise((resolve) => staticServer.listen(0, '127.0.0.1', resolve));
  staticAgent = new http.Agent({ keepAlive: true, maxSockets: concurrency * 2 });
}

function rangeFor(size) {
  const r = random();
  if (r < 0.5) return undefined;
  if (r < 0.7) {
    const start = between(0, Math.max(0, size - 1));
    return { header: `bytes=${start}-${between(start, size + 10)}`, start, end: null };
  }
  if (r < 0.8) return { header: `bytes=-${between(1, size + 5)}` };
  if (r < 0.9) return { header: `bytes=${between(0, size)}-` };
  return { header: pick(['bytes=abc', 'bytes=5-1', `bytes=${size + 1}-`, 'items=0-1', 'bytes=0-1,3-4']) };
}

async function staticOnce() {
  const tally = op('static');
  tally.started += 1;
  const file = pick(files);
  const range = rangeFor(file.size);
  const head = chance(0.05);
  const hangUp = chance(0.15);
  const headers = {};
  if (range) headers.range = range.header;
  await new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: staticServer.address().port,
        path: `/${file.name}`,
        method: head ? 'HEAD' : 'GET',
        headers,
        agent: hangUp ? false : staticAgent,
      },
      (res) => {
        const status = res.statusCode;
        let expected;
        if (status === 200) expected = file.data;
        else if (status === 206) {
          const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers['content-range'] ?? '');
          if (!m || Number(m[3]) !== file.size) {
            corrupted('static', { reason: 'bad Content-Range', header: res.headers['content-range'], range: range?.header });
            res.resume();
            return resolve();
          }
          expected = file.data.subarray(Number(m[1]), Number(m[2]) + 1);
        } else if (status === 416) expected = Buffer.alloc(0);
        else {
          unexpected('static', `status ${status}`, { range: range?.header, file: file.name });
          res.resume();
          res.on('end', resolve);
          res.on('error', resolve);
          return;
        }
        if (head) expected = Buffer.alloc(0);
        const hash = createHash('sha256');
        let received = 0;
        let mismatch;
        const cutAt = hangUp ? between(0, Math.max(1, expected.length)) : Infinity;
        res.on('data', (chunk) => {
          hash.update(chunk);
          if (mismatch === undefined && status !== 416 && !chunk.equals(expected.subarray(received, received + chunk.length))) mismatch = received;
          received += chunk.length;
          if (received >= cutAt && !res.destroyed) {
            tally.cut += 1;
            countError('client-hang-up');
            res.destroy();
            req.destroy();
          }
        });
        res.on('error', () => resolve());
        res.on('close', () => {
          if (mismatch !== undefined) corrupted('static', { file: file.name, range: range?.header, mismatch, status });
          resolve();
        });
        res.on('end', () => {
          tally.completed += 1;
          if (status === 416) return;
          if (received !== expected.length) corrupted('static', { reason: 'length', received, expected: expected.length, range: range?.header });
          else if (mismatch === undefined && hash.digest('hex') === sha256(expected)) {
            tally.verified += 1;
            stats.bytesVerified += received;
          }
        });
      },
    );
    req.on('error', (e) => {
      if (!hangUp) unexpected('static', `request error ${e.code}`, { message: e.message });
      resolve();
    });
    req.end();
  });
}

// ---- kind 3: proxied connections ----
let upstream;
let front;
const frontConnections = new Set();

async function startProxy() {
  // The upstream echoes everything back, and ends when the client ends.
  upstream = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  front = net.createServer({ pauseOnConnect: true }, (a) => {
    a.on('error', () => {});
    const b = net.connect(upstream.address().port, '127.0.0.1');
    b.on('error', () => {});
    frontConnections.add(a);
    b.once('connect', () => {
      proxy(a, b)
        .then(() => {})
        .catch((e) => countError(`proxy-${e?.code ?? 'error'}`))
        .finally(() => {
          frontConnections.delete(a);
          a.destroy();
          b.destroy();
        });
    });
    b.once('error', () => a.destroy());
  });
  await new Promise((resolve) => front.listen(0, '127.0.0.1', resolve));
}

async function proxyOnce() {
  const tally = op('proxy');
  tally.started += 1;
  const size = pick([0, 1, 1000, 64 * KiB, MiB, 8 * MiB]);
  const payload = randomBytes(size);
  const reset = chance(0.15);
  const client = net.connect(front.address().port, '127.0.0.1');
  client.on('error', () => {});
  await new Promise((resolve) => client.once('connect', resolve).once('error', resolve));
  const seen = receiver(client, payload);
  // Write in pieces, then half-close: the echo must come back whole and then end.
  let sent = 0;
  while (sent < size && !client.destroyed) {
    const n = Math.min(size - sent, between(1, 256 * KiB));
    if (!client.write(payload.subarray(sent, sent + n))) await new Promise((resolve) => client.once('drain', resolve).once('close', resolve));
    sent += n;
    if (reset && chance(0.3)) {
      client.resetAndDestroy();
      break;
    }
  }
  if (!client.destroyed) client.end();
  const ended = await seen.ended;
  const got = seen.state();
  client.destroy();
  if (got.mismatch !== undefined) return corrupted('proxy', { size, mismatch: got.mismatch, received: got.received });
  if (!ended) {
    tally.cut += 1;
    if (!reset) unexpected('proxy', 'connection closed without end', { size, received: got.received });
    return;
  }
  tally.completed += 1;
  if (got.received !== size || got.sha256 !== sha256(payload)) {
    return corrupted('proxy', { reason: 'incomplete echo', size, received: got.received });
  }
  tally.verified += 1;
  stats.bytesVerified += got.received;
}

// ---- kind 4: files replaced while they are served ----
/**
 * One entry per replaced file. `committed`: the newest version whose rename has returned; `writing`:
 * a replacement is on its way (one at a time per file, so versions commit in order); `seen`: the
 * newest ETag a client got, with its version, for If-None-Match.
 */
const replaced = [4 * KiB, 12 * KiB, 64 * KiB + 1, 300 * KiB, 2 * MiB].map((size, i) => ({
  name: `replaced/r${i}.bin`,
  size,
  committed: 0,
  writing: false,
  seen: undefined,
}));

/**
 * Version `version` of a replaced file: its first line names it, the rest is one byte repeated.
 * The size grows with the version, so no two versions share an ETag (`size-mtime`, whose
 * millisecond two quick replacements can share).
 */
function versionBody(entry, version) {
  const head = Buffer.from(`${entry.name} v${version}\n`);
  const body = Buffer.alloc(entry.size + version, version % 251);
  head.copy(body);
  return body;
}

/** The version a body is, or undefined when it is not one whole version of `entry`. */
function versionOf(entry, body) {
  const match = /^(\S+) v(\d+)\n/.exec(body.subarray(0, 64).toString('latin1'));
  if (match === null || match[1] !== entry.name) return undefined;
  const version = Number(match[2]);
  return body.equals(versionBody(entry, version)) ? version : undefined;
}

function startReplace() {
  fs.mkdirSync(path.join(root, 'replaced'));
  for (const entry of replaced) fs.writeFileSync(path.join(root, entry.name), versionBody(entry, 0));
}

async function replaceOnce() {
  const entry = pick(replaced);
  if (!entry.writing && chance(0.1)) return replaceFile(entry);
  return requestVersion(entry);
}

/** Writes the next version beside the file and renames it over, synchronously or through the thread pool. */
async function replaceFile(entry) {
  const tally = op('replace-write');
  tally.started += 1;
  entry.writing = true;
  const version = entry.committed + 1;
  const file = path.join(root, entry.name);
  const next = `${file}.next`;
  try {
    fs.writeFileSync(next, versionBody(entry, version));
    if (chance(0.5)) fs.renameSync(next, file);
    else await fs.promises.rename(next, file);
    entry.committed = version;
    tally.completed += 1;
  } finally {
    entry.writing = false;
  }
}

async function requestVersion(entry) {
  const tally = op('replace');
  tally.started += 1;
  // What the client may expect: nothing older than the version committed before it asked.
  const floor = entry.committed;
  const seen = entry.seen;
  const conditional = seen !== undefined && chance(0.3);
  const headers = conditional ? { 'if-none-match': seen.etag } : {};
  await new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port: staticServer.address().port, path: `/${entry.name}`, headers, agent: staticAgent },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('error', () => resolve());
        res.on('end', () => {
          tally.completed += 1;
          const newest = entry.committed + (entry.writing ? 1 : 0);
          if (res.statusCode === 304) {
            if (!conditional) unexpected('replace', '304 without If-None-Match', { file: entry.name });
            else if (seen.version < floor) corrupted('replace', { reason: 'stale 304', file: entry.name, held: seen.version, floor });
            else tally.verified += 1;
            return resolve();
          }
          if (res.statusCode !== 200) {
            unexpected('replace', `status ${res.statusCode}`, { file: entry.name });
            return resolve();
          }
          const body = Buffer.concat(chunks);
          const version = versionOf(entry, body);
          if (version === undefined) corrupted('replace', { reason: 'not one whole version', file: entry.name, bytes: body.length });
          else if (version < floor) corrupted('replace', { reason: 'stale', file: entry.name, version, floor });
          else if (version > newest) corrupted('replace', { reason: 'a version not written yet', file: entry.name, version, newest });
          else {
            tally.verified += 1;
            stats.bytesVerified += body.length;
            if (seen === undefined || version >= seen.version) entry.seen = { etag: res.headers.etag, version };
          }
          resolve();
        });
      },
    );
    req.on('error', (e) => {
      unexpected('replace', `request error ${e.code}`, { message: e.message });
      resolve();
    });
    req.end();
  });
}

// ---- the sampler ----
const samples = [];
const startedAt = Date.now();
let lastBytes = 0;
let lastAt = startedAt;
const openFds = () => {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return NaN;
  }
};
function sample(phase = 'load') {
  globalThis.gc?.();
  const now = Date.now();
  const mem = process.memoryUsage();
  const s = {
    t: Math.round((now - startedAt) / 1000),
    rssMiB: +(mem.rss / MiB).toFixed(1),
    heapMiB: +(mem.heapUsed / MiB).toFixed(1),
    externalMiB: +(mem.external / MiB).toFixed(1),
    fds: openFds(),
    pooledPipes: pooledPipes(),
    mibPerSec: +((stats.bytesVerified - lastBytes) / MiB / ((now - lastAt) / 1000)).toFixed(1),
    ops: Object.fromEntries(Object.entries(stats.ops).map(([k, v]) => [k, v.started])),
    corrupted: stats.corrupted.length,
    phase,
  };
  lastBytes = stats.bytesVerified;
  lastAt = now;
  samples.push(s);
  console.log(
    `t=${String(s.t).padStart(4)}s  rss=${s.rssMiB} MiB  heap=${s.heapMiB} MiB  ext=${s.externalMiB} MiB  fds=${s.fds} (pool ${s.pooledPipes} pipes)  ` +
      `${s.mibPerSec} MiB/s verified  ops=${JSON.stringify(s.ops)}  corrupted=${s.corrupted}`,
  );
}

// ---- run ----
console.log(
  `soak: ${durationSecs}s, seed ${seed}, concurrency ${concurrency} per kind, kinds ${[...kinds].join(',')}, ` +
    `dist ${distDir}, gc ${globalThis.gc ? 'exposed' : 'not exposed (run with --expose-gc)'}`,
);
if (kinds.has('static') || kinds.has('replace')) await startStatic();
if (kinds.has('replace')) startReplace();
if (kinds.has('proxy')) await startProxy();
const deadline = startedAt + durationSecs * 1000;
const loops = [];
const runners = { transfer: transferOnce, static: staticOnce, proxy: proxyOnce, replace: replaceOnce };
for (const kind of kinds) {
  for (let i = 0; i < concurrency; i++) {
    loops.push(
      (async () => {
        while (Date.now() < deadline) {
          try {
            await runners[kind]();
          } catch (error) {
            unexpected(kind, `threw ${error?.code ?? error?.message}`, { stack: String(error?.stack) });
          }
        }
      })(),
    );
  }
}
sample();
const sampler = setInterval(sample, sampleSecs * 1000);
await Promise.all(loops);
clearInterval(sampler);
sample();

// ---- summary ----
if (staticServer) {
  staticAgent.destroy();
  staticServer.closeAllConnections?.();
  await new Promise((resolve) => staticServer.close(resolve));
}
if (front) {
  for (const socket of frontConnections) socket.destroy();
  await new Promise((resolve) => front.close(resolve));
  await new Promise((resolve) => upstream.close(resolve));
}
await delay(500);
// Every operation has settled and every server is closed: what is left is what the process keeps.
sample('idle');
fs.rmSync(dir, { recursive: true, force: true });

const steady = samples.filter((s) => s.t >= warmupSecs && s.phase === 'load');
const idle = samples.at(-1);
const range = (key) => {
  const values = steady.map((s) => s[key]);
  return values.length ? { min: Math.min(...values), max: Math.max(...values), first: values[0], last: values.at(-1) } : null;
};
/** Least-squares slope per minute over the steady samples. */
const slope = (key) => {
  if (steady.length < 2) return 0;
  const xs = steady.map((s) => s.t / 60);
  const ys = steady.map((s) => s[key]);
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0);
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : +(num / den).toFixed(3);
};
const elapsed = (Date.now() - startedAt) / 1000;
const summary = {
  seed,
  durationSecs: +elapsed.toFixed(1),
  native: capabilities().native,
  ops: stats.ops,
  bytesVerifiedMiB: +(stats.bytesVerified / MiB).toFixed(1),
  verifiedMiBPerSec: +(stats.bytesVerified / MiB / elapsed).toFixed(1),
  errorsByCode: stats.errors,
  serverSideErrors: servedErrors,
  unexpected: stats.unexpected,
  corrupted: stats.corrupted.length,
  truncationZeroed: stats.truncationZeroed,
  crashes: stats.crashes.length,
  afterWarmup: {
    warmupSecs,
    rssMiB: range('rssMiB'),
    rssSlopeMiBPerMin: slope('rssMiB'),
    heapMiB: range('heapMiB'),
    fds: range('fds'),
    fdsSlopePerMin: slope('fds'),
  },
  afterLoad: {
    rssMiB: idle.rssMiB,
    heapMiB: idle.heapMiB,
    fds: idle.fds,
    pooledPipes: idle.pooledPipes,
    fdsAtStart: samples[0].fds,
  },
};
console.log(JSON.stringify(summary, null, 2));
if (flags.json) fs.writeFileSync(flags.json, JSON.stringify({ summary, samples, corrupted: stats.corrupted, crashes: stats.crashes }, null, 2));
const failed = stats.corrupted.length > 0 || stats.crashes.length > 0 || Object.keys(stats.unexpected).length > 0;
process.exit(failed ? 1 : 0);
