/**
 * Real faults: peers that reset, sockets destroyed mid-send, files truncated mid-send, methods that
 * cannot work on a descriptor, aborts. Each is a clear rejection with `bytes`; the process lives on.
 */
import { closeSync, fstatSync, openSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import test from 'ava';

import { transfer, type Method, type TransferProgress } from '../src';
import { hasNative, nativeTest } from './helpers/native';
import { collect, delay, MiB, randomFile, socketPair, tempDir } from './helpers/net';

const NATIVE: Method[] = ['sendfile', 'splice', 'mmap', 'copy'];
/** The methods this process can run: all of them with the binding, `auto` (streams) without. */
const RUNNABLE: Method[] = hasNative ? [...NATIVE, 'auto'] : ['auto'];
const dir = tempDir();
const big = randomFile(64 * MiB, dir);

/** Counts what a paused peer receives once it starts reading, until the connection ends. */
function countOnResume(peer: Socket): { start(): void; total: Promise<number> } {
  let bytes = 0;
  const total = new Promise<number>((resolve) => {
    peer.on('data', (chunk: Buffer) => (bytes += chunk.length));
    peer.on('error', () => resolve(bytes));
    peer.on('close', () => resolve(bytes));
  });
  return { start: () => peer.resume(), total };
}

/** Waits until a transfer to a peer that does not read has filled the socket buffers and parked. */
async function parked(progress: () => number): Promise<void> {
  await delay(150);
  t0: for (;;) {
    const before = progress();
    await delay(50);
    if (progress() === before) break t0;
  }
}

test.serial('a socket destroyed mid-transfer: ERR_SOCKET_CLOSED, and not one byte lands on the fd opened next', async (t) => {
  const pair = await socketPair({ pauseOnConnect: true });
  const fd = (pair.client as unknown as { _handle: { fd: number } })._handle.fd;
  const sending = transfer(big.path, pair.client);
  const outcome = sending.catch((error: unknown) => error);
  await delay(200);
  pair.client.destroy();
  // Open files until one gets the number Node just closed (lower free numbers go first).
  const opened: Array<{ fd: number; path: string }> = [];
  const scratch = tempDir();
  for (let i = 0; i < 256 && !opened.some((o) => o.fd === fd); i++) {
    const path = join(scratch, `reused-${i}.bin`);
    opened.push({ fd: openSync(path, 'w+'), path });
  }
  t.true(opened.some((o) => o.fd === fd), 'the descriptor number was reused');
  const error = (await outcome) as { code: string; bytes: number };
  t.is(error.code, 'ERR_SOCKET_CLOSED');
  t.true(error.bytes > 0 && error.bytes < big.data.length);
  await delay(100);
  for (const o of opened) {
    t.is(fstatSync(o.fd).size, 0);
    closeSync(o.fd);
    t.is(readFileSync(o.path).length, 0);
  }
  pair.close();
});

test('a peer that resets: EPIPE or ECONNRESET with the bytes sent', async (t) => {
  for (const method of RUNNABLE) {
    const pair = await socketPair({ pauseOnConnect: true });
    const outcome = transfer(big.path, pair.client, { method }).catch((error: unknown) => error);
    await delay(150);
    pair.server.resetAndDestroy();
    const error = (await outcome) as { code: string; bytes: number };
    t.true(['EPIPE', 'ECONNRESET'].includes(error.code), `${method}: ${error.code}`);
    t.true(error.bytes > 0 && error.bytes < big.data.length, `${method}: ${error.bytes}`);
    pair.close();
  }
});

for (const method of RUNNABLE) {
  test(`${method}: a file truncated mid-transfer is ERR_ZEROSEND_SHORT_FILE, never a hang or SIGBUS`, async (t) => {
    const file = randomFile(32 * MiB, tempDir());
    const pair = await socketPair({ pauseOnConnect: true });
    const peer = countOnResume(pair.server);
    let progressed = 0;
    const outcome = transfer(file.path, pair.client, {
      method,
      onProgress: ({ bytes }) => (progressed = bytes),
    }).catch((error: unknown) => error);
    await delay(150);
    truncateSync(file.path, MiB);
    peer.start();
    const error = (await outcome) as { code: string; bytes: number; message: string };
    t.is(error.code, 'ERR_ZEROSEND_SHORT_FILE', error.message);
    t.true(error.bytes < file.data.length);
    t.true(progressed <= error.bytes);
    pair.client.destroy();
    t.is(await peer.total, error.bytes, 'bytes is what reached the peer');
  });
}

nativeTest('sendfile/splice to an O_APPEND file fail with EINVAL before the first byte: auto falls back to copy', async (t) => {
  const { path, data } = randomFile(MiB + 7, dir);
  for (const method of ['sendfile', 'splice'] as const) {
    const out = join(tempDir(), 'append.bin');
    const fd = openSync(out, 'a');
    const error = await t.throwsAsync(transfer(path, fd, { method }));
    t.is((error as { code?: string }).code, 'ERR_ZEROSEND_UNSUPPORTED', error?.message);
    closeSync(fd);
  }
  const out = join(tempDir(), 'append.bin');
  const fd = openSync(out, 'a');
  const result = await transfer(path, fd, { prefix: Buffer.from('hdr') });
  closeSync(fd);
  t.deepEqual(result, { bytes: data.length + 3, method: 'copy' });
  t.true(readFileSync(out).equals(Buffer.concat([Buffer.from('hdr'), data])));
});

test('an already aborted signal rejects before anything is sent', async (t) => {
  const pair = await socketPair();
  const received = collect(pair.server);
  const controller = new AbortController();
  controller.abort(new Error('because'));
  for (const method of RUNNABLE) {
    const error = await t.throwsAsync(transfer(big.path, pair.client, { method, signal: controller.signal }));
    t.is(error?.name, 'AbortError');
    t.is((error as { code?: string }).code, 'ABORT_ERR');
    t.is((error as { bytes?: number }).bytes, 0);
  }
  pair.client.end();
  t.is((await received).length, 0);
  pair.close();
});

for (const method of RUNNABLE) {
  test(`${method}: abort while the peer is not reading rejects within 100 ms, with the bytes sent`, async (t) => {
    const pair = await socketPair({ pauseOnConnect: true });
    const peer = countOnResume(pair.server);
    const controller = new AbortController();
    let progressed = 0;
    const outcome = transfer(big.path, pair.client, {
      method,
      signal: controller.signal,
      onProgress: (p) => (progressed = p.bytes),
    }).catch((error: unknown) => error);
    await parked(() => progressed);
    const started = performance.now();
    controller.abort();
    const error = (await outcome) as { name: string; code: string; bytes: number };
    const elapsed = performance.now() - started;
    t.is(error.name, 'AbortError');
    t.is(error.code, 'ABORT_ERR');
    t.true(elapsed < 100, `rejected after ${elapsed.toFixed(1)} ms`);
    t.true(error.bytes > 0 && error.bytes < big.data.length);
    // The socket is still usable and the peer gets exactly the bytes reported.
    peer.start();
    pair.client.end();
    t.is(await peer.total, error.bytes);
  });
}

for (const method of RUNNABLE) {
  test(`${method}: onProgress is non-decreasing, at most once per 2 MiB, and ends at { bytes: total, total }`, async (t) => {
    const pair = await socketPair();
    const received = collect(pair.server);
    const reports: TransferProgress[] = [];
    const prefix = Buffer.from('prefix');
    const total = big.data.length + prefix.length;
    await transfer(big.path, pair.client, { method, prefix, onProgress: (p) => reports.push({ ...p }) });
    pair.client.end();
    await received;
    t.true(reports.length >= 1);
    t.true(reports.length <= Math.ceil(total / (2 * MiB)) + 1, `${reports.length} reports`);
    for (let i = 1; i < reports.length; i++) t.true(reports[i]!.bytes > reports[i - 1]!.bytes);
    t.true(reports.every((p) => p.total === total));
    t.deepEqual(reports.at(-1), { bytes: total, total });
    pair.close();
  });
}

test('an exception in onProgress ends the transfer and is what it rejects with', async (t) => {
  const pair = await socketPair();
  pair.server.resume();
  const boom = new Error('boom');
  const error = await t.throwsAsync(
    transfer(big.path, pair.client, {
      onProgress: () => {
        throw boom;
      },
    }),
  );
  t.is(error, boom);
  pair.close();
});

test('progress keeps socket.setTimeout() from firing while bytes move', async (t) => {
  const pair = await socketPair();
  let timedOut = false;
  pair.client.setTimeout(2000, () => (timedOut = true));
  // A slow reader: a 100 ms pause after every MiB, so 64 MiB take ~6.4 s with no JS write at
  // all, while progress (every 2 MiB, ~200 ms) keeps the 2 s idle timer from firing.
  let sinceBreak = 0;
  pair.server.on('data', (chunk: Buffer) => {
    sinceBreak += chunk.length;
    if (sinceBreak < MiB) return;
    sinceBreak = 0;
    pair.server.pause();
    setTimeout(() => pair.server.resume(), 100);
  });
  await transfer(big.path, pair.client);
  t.false(timedOut);
  pair.close();
});
