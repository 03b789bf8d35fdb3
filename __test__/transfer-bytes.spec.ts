/** Bytes arrive intact: every method, every size, slices, every kind of source and destination. */
import { openSync, closeSync, readSync, writeSync, fstatSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';

import { transfer, type Method } from '../src';
import { hasNative, nativeTest } from './helpers/native';
import { collect, KiB, MiB, randomFile, sha256, socketPair, tempDir } from './helpers/net';

const METHODS: Method[] = ['sendfile', 'splice', 'mmap', 'copy', 'auto'];
/** Explicit methods need the binding; `auto` runs in both modes (native, and the stream fallback). */
const testFor = (method: Method) => (method === 'auto' ? test : nativeTest);
const SIZES = [0, 1, 4095, 4096, 64 * KiB + 1, MiB + 7, 64 * MiB];

const dir = tempDir();
const files = new Map(SIZES.map((size) => [size, randomFile(size, dir)]));

for (const method of METHODS) {
  for (const size of SIZES) {
    testFor(method)(`${method}: ${size} bytes arrive intact over TCP`, async (t) => {
      const { path, data } = files.get(size)!;
      const pair = await socketPair();
      const received = collect(pair.server);
      const result = await transfer(path, pair.client, { method });
      pair.client.end();
      const got = await received;
      t.is(result.bytes, size);
      t.is(result.method, method === 'auto' ? result.method : method);
      if (hasNative) t.not(result.method, 'stream');
      t.is(got.length, size);
      t.is(sha256(got), sha256(data));
      pair.close();
    });
  }

  testFor(method)(`${method}: offset/length slices, and offset at the end sends nothing`, async (t) => {
    const { path, data } = files.get(MiB + 7)!;
    const slices: Array<[number, number | undefined]> = [
      [0, 1],
      [1, 4095],
      [4095, 2],
      [12345, 64 * KiB + 3],
      [MiB, undefined],
      [MiB + 7, undefined],
      [MiB + 7, 0],
      [500, 0],
    ];
    for (const [offset, length] of slices) {
      const pair = await socketPair();
      const received = collect(pair.server);
      const result = await transfer(path, pair.client, { method, offset, length });
      pair.client.end();
      const expected = data.subarray(offset, length === undefined ? undefined : offset + length);
      t.is(result.bytes, expected.length, `offset ${offset} length ${length}`);
      t.true((await received).equals(expected), `offset ${offset} length ${length}`);
      pair.close();
    }
  });

  testFor(method)(`${method}: over a unix socket, with a prefix in front`, async (t) => {
    const { path, data } = files.get(MiB + 7)!;
    const pair = await socketPair({ unix: true });
    const received = collect(pair.server);
    const prefix = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1048583\r\n\r\n');
    const result = await transfer(path, pair.client, { method, prefix });
    pair.client.end();
    t.is(result.bytes, prefix.length + data.length);
    t.true((await received).equals(Buffer.concat([prefix, data])));
    pair.close();
  });
}

test('a prefix with an empty range is sent alone', async (t) => {
  const { path } = files.get(0)!;
  const pair = await socketPair();
  const received = collect(pair.server);
  const result = await transfer(path, pair.client, { prefix: Buffer.from('only-headers') });
  pair.client.end();
  t.is(result.bytes, 12);
  t.is((await received).toString(), 'only-headers');
  pair.close();
});

test('sources: a path, an fd and a FileHandle; the caller keeps its fd and its position', async (t) => {
  const { path, data } = files.get(64 * KiB + 1)!;
  const fd = openSync(path, 'r');
  const handle = await open(path, 'r');
  // Move the callers' positions: a transfer must neither use nor change them.
  readSync(fd, Buffer.alloc(10), 0, 10, null);
  await handle.read(Buffer.alloc(20), 0, 20, null);
  for (const source of [path, fd, handle]) {
    const pair = await socketPair();
    const received = collect(pair.server);
    await transfer(source, pair.client, { offset: 5 });
    pair.client.end();
    t.true((await received).equals(data.subarray(5)));
    pair.close();
  }
  // Still open, positions untouched.
  const next = Buffer.alloc(4);
  readSync(fd, next, 0, 4, null);
  t.true(next.equals(data.subarray(10, 14)));
  const { buffer } = await handle.read(Buffer.alloc(4), 0, 4, null);
  t.true(buffer.equals(data.subarray(20, 24)));
  t.true(fstatSync(fd).isFile());
  closeSync(fd);
  await handle.close();
});

test('destinations: a raw socket fd and a raw file fd', async (t) => {
  const { path, data } = files.get(MiB + 7)!;
  const pair = await socketPair();
  const received = collect(pair.server);
  const fd = (pair.client as unknown as { _handle: { fd: number } })._handle.fd;
  const result = await transfer(path, fd, { offset: 3 });
  t.is(result.bytes, data.length - 3);
  pair.client.end();
  t.true((await received).equals(data.subarray(3)));
  pair.close();

  const out = join(tempDir('zs-out-'), 'copy.bin');
  const outFd = openSync(out, 'w');
  await transfer(path, outFd);
  closeSync(outFd);
  t.true(readFileSync(out).equals(data));
});

test('byte order: writes before the call go first, writes during it go after', async (t) => {
  const { path, data } = files.get(64 * MiB)!;
  const pair = await socketPair();
  const received = collect(pair.server);
  // A large write Node cannot hand to the kernel at once: it is still queued when transfer() runs.
  const before = Buffer.alloc(8 * MiB, 'b');
  pair.client.write(before);
  t.true(pair.client.writableLength > 0);
  const sending = transfer(path, pair.client);
  pair.client.write('during');
  await sending;
  pair.client.end('after');
  const got = await received;
  t.is(got.length, before.length + data.length + 'duringafter'.length);
  t.true(got.subarray(0, before.length).equals(before));
  t.true(got.subarray(before.length, before.length + data.length).equals(data));
  t.is(got.subarray(before.length + data.length).toString(), 'duringafter');
  pair.close();
});

test('byte order on an idle socket: transfers that finish at once or park, not awaited, with writes between', async (t) => {
  // Nothing is queued before the first call, so each transfer starts sending within the call;
  // the 64 MiB one must park, and from then on writes and later transfers wait their turn.
  const small = files.get(4096)!;
  const big = files.get(64 * MiB)!;
  const tiny = files.get(1)!;
  const pair = await socketPair();
  const received = collect(pair.server);
  t.is(pair.client.writableLength, 0);
  const sending = [transfer(small.path, pair.client)];
  pair.client.write('one');
  sending.push(transfer(big.path, pair.client));
  pair.client.write('two');
  sending.push(transfer(tiny.path, pair.client, { prefix: Buffer.from('three') }));
  pair.client.end('four');
  const results = await Promise.all(sending);
  t.deepEqual(
    results.map((r) => r.bytes),
    [4096, 64 * MiB, 6],
  );
  const expected = Buffer.concat([small.data, Buffer.from('one'), big.data, Buffer.from('twothree'), tiny.data, Buffer.from('four')]);
  const got = await received;
  let at = 0;
  while (at < got.length && got[at] === expected[at]) at++;
  t.is(at, expected.length, `got ${got.length} bytes, first difference at ${at}: ${JSON.stringify(got.subarray(at, at + 12).toString('latin1'))}`);
  pair.close();
});

test('sequential transfers on one kept-alive socket stay in order', async (t) => {
  const pair = await socketPair();
  const received = collect(pair.server);
  const expected: Buffer[] = [];
  for (const size of [1, 4096, 64 * KiB + 1, 0, 4095]) {
    const { path, data } = files.get(size)!;
    for (const method of hasNative ? METHODS : (['auto'] as Method[])) {
      await transfer(path, pair.client, { method, prefix: Buffer.from(`<${method}>`) });
      expected.push(Buffer.from(`<${method}>`), data);
    }
  }
  pair.client.end();
  t.true((await received).equals(Buffer.concat(expected)));
  pair.close();
});

test('a destination that is still connecting is waited for', async (t) => {
  const { path, data } = files.get(4096)!;
  const pair = await socketPair();
  const { createServer, connect } = await import('node:net');
  const server = createServer((socket) => collect(socket).then((got) => server.emit('got', got)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const got = new Promise<Buffer>((resolve) => server.once('got', resolve));
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  t.true(client.connecting);
  await transfer(path, client);
  client.end();
  t.true((await got).equals(data));
  server.close();
  pair.close();
});

test('the file is read where asked even when the fd was written to meanwhile', async (t) => {
  const path = join(tempDir(), 'rw.bin');
  const fd = openSync(path, 'w+');
  writeSync(fd, Buffer.from('0123456789'));
  const pair = await socketPair();
  const received = collect(pair.server);
  await transfer(fd, pair.client, { offset: 2, length: 5 });
  pair.client.end();
  t.is((await received).toString(), '23456');
  closeSync(fd);
  pair.close();
});
