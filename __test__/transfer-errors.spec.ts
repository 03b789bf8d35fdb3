/** Bad input rejects (never throws synchronously) with Node-style codes, and nothing is sent. */
import { openSync, closeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import * as tls from 'node:tls';
import test from 'ava';

import { transfer, type Method } from '../src';
import { collect, KiB, MiB, randomFile, sha256, socketPair, tempDir } from './helpers/net';
import { hasNative } from './helpers/native';
import { tlsPair } from './helpers/tls';

const dir = tempDir();
const { path, data } = randomFile(64 * KiB + 1, dir);

/** Calls transfer() and checks it returned a promise (no synchronous throw) that rejects with `code`. */
async function rejectsWith(
  t: import('ava').ExecutionContext,
  call: () => Promise<unknown>,
  code: string,
  extra: Record<string, unknown> = {},
) {
  let promise: Promise<unknown>;
  t.notThrows(() => {
    promise = call();
  });
  const error = await t.throwsAsync(promise!);
  t.is((error as { code?: string }).code, code, (error as Error).message);
  for (const [key, value] of Object.entries(extra)) t.is((error as unknown as Record<string, unknown>)[key], value);
  t.truthy(error?.message);
  return error as Error & { code: string; bytes?: number };
}

test('a missing file is ENOENT, a directory EISDIR', async (t) => {
  const pair = await socketPair();
  const received = collect(pair.server);
  const missing = await rejectsWith(t, () => transfer(join(dir, 'nope'), pair.client), 'ENOENT', { syscall: 'open' });
  t.is((missing as { errno?: number }).errno, -2);
  await rejectsWith(t, () => transfer(dir, pair.client), 'EISDIR');
  if (hasNative) await rejectsWith(t, () => transfer(dir, pair.client, { method: 'copy' }), 'EISDIR');
  pair.client.end();
  t.is((await received).length, 0);
  pair.close();
});

test('offset and length: negative, fractional, NaN or past the end are rejected', async (t) => {
  const pair = await socketPair();
  const received = collect(pair.server);
  for (const offset of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    await rejectsWith(t, () => transfer(path, pair.client, { offset }), 'ERR_OUT_OF_RANGE');
  }
  for (const length of [-1, 0.5, NaN]) {
    await rejectsWith(t, () => transfer(path, pair.client, { length }), 'ERR_OUT_OF_RANGE');
  }
  await rejectsWith(t, () => transfer(path, pair.client, { offset: data.length + 1 }), 'ERR_OUT_OF_RANGE');
  await rejectsWith(t, () => transfer(path, pair.client, { offset: '1' as unknown as number }), 'ERR_INVALID_ARG_TYPE');
  // A length reaching past the end asks for bytes the file does not have.
  await rejectsWith(t, () => transfer(path, pair.client, { length: data.length + 1 }), 'ERR_ZEROSEND_SHORT_FILE');
  await rejectsWith(t, () => transfer(path, pair.client, { offset: 10, length: data.length - 9 }), 'ERR_ZEROSEND_SHORT_FILE');
  pair.client.end();
  t.is((await received).length, 0, 'nothing was sent');
  pair.close();
});

test('unknown method, bad options, bad destination, bad source', async (t) => {
  const pair = await socketPair();
  await rejectsWith(t, () => transfer(path, pair.client, { method: 'zerocopy' as Method }), 'ERR_INVALID_ARG_VALUE');
  await rejectsWith(t, () => transfer(path, pair.client, 'fast' as never), 'ERR_INVALID_ARG_TYPE');
  await rejectsWith(t, () => transfer(path, pair.client, { prefix: 'x' as never }), 'ERR_INVALID_ARG_TYPE');
  await rejectsWith(t, () => transfer(path, pair.client, { onProgress: 1 as never }), 'ERR_INVALID_ARG_TYPE');
  await rejectsWith(t, () => transfer(path, pair.client, { signal: {} as never }), 'ERR_INVALID_ARG_TYPE');
  for (const destination of [null, undefined, 'socket', {}, [], 1.5, -1]) {
    const error = await t.throwsAsync(transfer(path, destination as never));
    t.true(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE'].includes((error as unknown as { code: string }).code));
  }
  for (const source of [null, undefined, {}, Buffer.from('x'), -1, 0.5, '']) {
    const error = await t.throwsAsync(transfer(source as never, pair.client));
    t.true(
      ['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_VALUE'].includes((error as unknown as { code: string }).code),
      String(source),
    );
  }
  pair.close();
});

// Serial: ava runs serial tests before the concurrent ones, so no other test of this file can
// open a file in between and be given the closed descriptor's number (a CI run once saw the
// directory of the EISDIR test there).
test.serial('a destroyed socket is ERR_SOCKET_CLOSED; a closed fd is EBADF', async (t) => {
  const pair = await socketPair();
  pair.client.destroy();
  await rejectsWith(t, () => transfer(path, pair.client), 'ERR_SOCKET_CLOSED');
  const fd = openSync(path, 'r');
  closeSync(fd);
  const other = await socketPair();
  await rejectsWith(t, () => transfer(fd, other.client), 'EBADF');
  const handle = await open(path, 'r');
  await handle.close();
  await rejectsWith(t, () => transfer(handle, other.client), 'EBADF');
  pair.close();
  other.close();
});

test('a source that is not a regular file is refused', async (t) => {
  const pair = await socketPair();
  const fd = (pair.client as unknown as { _handle: { fd: number } })._handle.fd;
  await rejectsWith(t, () => transfer(fd, pair.client), 'ERR_INVALID_ARG_VALUE');
  pair.close();
});

test('TLS: explicit zero-copy methods are ERR_ZEROSEND_UNSUPPORTED, auto delivers the bytes encrypted', async (t) => {
  const { path: big, data: bigData } = randomFile(MiB + 7, dir);
  const pair = await tlsPair();
  for (const method of ['sendfile', 'splice', 'mmap', 'copy'] as const) {
    await rejectsWith(t, () => transfer(big, pair.client, { method }), 'ERR_ZEROSEND_UNSUPPORTED');
  }
  const received = collect(pair.server);
  pair.client.write('head:');
  const result = await transfer(big, pair.client, { prefix: Buffer.from('pre:') });
  t.is(result.method, 'stream');
  t.is(result.bytes, 4 + bigData.length);
  pair.client.end();
  const got = await received;
  t.is(sha256(got), sha256(Buffer.concat([Buffer.from('head:pre:'), bigData])));
  t.true(pair.client instanceof tls.TLSSocket);
  pair.close();
});

test('a non-socket stream: auto goes through streams, explicit methods are unsupported', async (t) => {
  const sink = new PassThrough();
  const received = new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    sink.on('end', () => resolve(Buffer.concat(chunks)));
  });
  await rejectsWith(t, () => transfer(path, sink, { method: 'sendfile' }), 'ERR_ZEROSEND_UNSUPPORTED');
  const result = await transfer(path, sink, { offset: 1, length: 100 });
  t.deepEqual(result, { bytes: 100, method: 'stream' });
  sink.end();
  t.true((await received).equals(data.subarray(1, 101)));
});

test('the stream path reports the same errors as the native one', async (t) => {
  const sink = new PassThrough();
  sink.resume();
  await rejectsWith(t, () => transfer(join(dir, 'nope'), sink), 'ENOENT');
  await rejectsWith(t, () => transfer(dir, sink), 'EISDIR');
  await rejectsWith(t, () => transfer(path, sink, { offset: data.length + 1 }), 'ERR_OUT_OF_RANGE');
  await rejectsWith(t, () => transfer(path, sink, { length: data.length + 1 }), 'ERR_ZEROSEND_SHORT_FILE');
});

test('TLS: writes made during a stream transfer come after it, writes before it first', async (t) => {
  const { path: big, data: bigData } = randomFile(4 * MiB, dir);
  const pair = await tlsPair();
  const received = collect(pair.server);
  pair.client.write(Buffer.alloc(MiB, 'a'));
  const sending = transfer(big, pair.client);
  pair.client.write('during');
  await sending;
  pair.client.end('after');
  const got = await received;
  t.is(sha256(got), sha256(Buffer.concat([Buffer.alloc(MiB, 'a'), bigData, Buffer.from('duringafter')])));
  pair.close();
});
