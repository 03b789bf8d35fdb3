/**
 * `transfer(socket, destination)`: one-way relays from a socket, over splice with the binding and
 * through Node streams without it (`ZEROSEND_FORCE_FALLBACK=1`). Real sockets, TCP and unix.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import test from 'ava';

import { capabilities, transfer } from '../src';
import { hasNative } from './helpers/native';
import { collect, delay, MiB, sha256, socketPair } from './helpers/net';
import { closed, listen, received } from './helpers/relay';
import { tlsPair } from './helpers/tls';

const SPLICE = hasNative && capabilities().splice ? 'splice' : 'stream';

/** Resolves once Node has read at least `bytes` of the socket into its buffer (it is not flowing). */
async function buffered(socket: net.Socket, bytes: number): Promise<void> {
  while (socket.readableLength < bytes) await delay(5);
}

for (const unix of [false, true]) {
  const kind = unix ? 'unix' : 'TCP';
  test(`${kind}: 64 MiB through an intermediate socket arrive exact, bytes JS had already read (and unshifted) first, and dst sees the end`, async (t) => {
    const inbound = await socketPair({ unix });
    const outbound = await socketPair({ unix });
    const body = randomBytes(64 * MiB);
    const head = body.subarray(0, 100_000);
    inbound.client.write(head);
    // Node reads into the source's buffer before transfer() is called...
    await buffered(inbound.server, 1);
    const alreadyRead = inbound.server.readableLength;
    // ...and the user puts a chunk back at the front, as protocol sniffers do.
    const unshifted = Buffer.from('unshifted first: ');
    inbound.server.unshift(unshifted);
    const arriving = collect(outbound.server);

    const relaying = transfer(inbound.server, outbound.client);
    inbound.client.end(body.subarray(head.length));
    const result = await relaying;

    const expected = Buffer.concat([unshifted, body]);
    const got = await arriving; // resolves on 'end': dst saw the half-close
    t.true(alreadyRead > 0, 'Node had read bytes before the call');
    t.is(got.length, expected.length);
    t.is(sha256(got), sha256(expected));
    t.deepEqual(result, { bytes: expected.length, method: SPLICE });
    inbound.close();
    outbound.close();
  });
}

test('end: false leaves dst open; writes queued before the call go first, writes made during it go after', async (t) => {
  const inbound = await socketPair();
  const outbound = await socketPair();
  const body = randomBytes(4 * MiB);
  const arriving = collect(outbound.server);
  outbound.client.write('before|');
  const relaying = transfer(inbound.server, outbound.client, { end: false });
  outbound.client.write('|during');
  inbound.client.end(body);
  const result = await relaying;
  t.is(result.bytes, body.length);
  t.false(outbound.client.writableEnded);
  outbound.client.end('|after');
  const got = await arriving;
  t.is(got.subarray(0, 7).toString(), 'before|');
  t.is(sha256(got.subarray(7, 7 + body.length)), sha256(body));
  t.is(got.subarray(7 + body.length).toString(), '|during|after');
  inbound.close();
  outbound.close();
});

test("after the relay Node's view of both sockets is true: src emits 'end', dst is ended", async (t) => {
  const inbound = await socketPair();
  const outbound = await socketPair();
  const srcEnded = new Promise<void>((resolve) => inbound.server.once('end', resolve));
  const arriving = collect(outbound.server);
  const relaying = transfer(inbound.server, outbound.client);
  inbound.client.end('a short message');
  await relaying;
  await srcEnded;
  t.true(inbound.server.readableEnded);
  t.true(outbound.client.writableEnded);
  t.is((await arriving).toString(), 'a short message');
  // The source's peer still gets its own end from Node (allowHalfOpen is false by default).
  const backToClient = await collect(inbound.client);
  t.is(backToClient.length, 0);
  inbound.close();
  outbound.close();
});

test('the same socket as source and destination: an echo', async (t) => {
  const pair = await socketPair();
  const body = randomBytes(2 * MiB);
  const echoed = collect(pair.client);
  const relaying = transfer(pair.server, pair.server);
  pair.client.end(body);
  t.is((await relaying).bytes, body.length);
  t.is(sha256(await echoed), sha256(body));
  pair.close();
});

test('a source that is still connecting, to a raw descriptor destination, with a prefix', async (t) => {
  const outbound = await socketPair();
  const { port, server } = await listen((socket) => socket.end('from the server'));
  const src = net.connect(port, '127.0.0.1');
  const fd = (outbound.client as unknown as { _handle: { fd: number } })._handle.fd;
  const arriving = collect(outbound.server);
  const result = await transfer(src, fd, { prefix: Buffer.from('prefix:'), end: false });
  t.is(result.bytes, 'prefix:from the server'.length);
  outbound.client.end();
  t.is((await arriving).toString(), 'prefix:from the server');
  server.close();
  src.destroy();
  outbound.close();
});

test('onProgress: non-decreasing, at most one report per 2 MiB, the last equal to the result', async (t) => {
  const inbound = await socketPair();
  const outbound = await socketPair();
  const reports: number[] = [];
  const arriving = collect(outbound.server);
  const relaying = transfer(inbound.server, outbound.client, { onProgress: ({ bytes }) => reports.push(bytes) });
  inbound.client.end(randomBytes(16 * MiB));
  const { bytes } = await relaying;
  await arriving;
  t.true(reports.length >= 1 && reports.length <= 9, `${reports.length} reports`);
  t.is(reports.at(-1), bytes);
  for (let i = 1; i < reports.length; i++) t.true(reports[i] > reports[i - 1]);
  for (let i = 1; i < reports.length - 1; i++) t.true(reports[i] - reports[i - 1] >= 2 * MiB);
  inbound.close();
  outbound.close();
});

test('a TLS source is relayed through Node streams, exact', async (t) => {
  const secure = await tlsPair();
  const outbound = await socketPair();
  const body = randomBytes(8 * MiB);
  await t.throwsAsync(transfer(secure.server, outbound.client, { method: 'splice' }), {
    code: 'ERR_ZEROSEND_UNSUPPORTED',
  });
  const arriving = collect(outbound.server);
  const relaying = transfer(secure.server, outbound.client);
  secure.client.end(body);
  const result = await relaying;
  t.deepEqual(result, { bytes: body.length, method: 'stream' });
  t.is(sha256(await arriving), sha256(body));
  secure.close();
  outbound.close();
});

test('abort mid-relay: AbortError with bytes, and both sockets are destroyed', async (t) => {
  const inbound = await socketPair();
  const outbound = await socketPair({ pauseOnConnect: true });
  const controller = new AbortController();
  const relaying = transfer(inbound.server, outbound.client, { signal: controller.signal });
  // The destination's peer does not read: the relay fills the buffers and parks.
  inbound.client.write(randomBytes(16 * MiB));
  await delay(200);
  controller.abort();
  const error = await t.throwsAsync(relaying, { name: 'AbortError', code: 'ABORT_ERR' });
  t.true((error as unknown as { bytes: number }).bytes > 0);
  await Promise.all([closed(inbound.server), closed(outbound.client)]);
  t.pass('both closed');
  inbound.close();
  outbound.close();
});

test('a source destroyed by JS mid-relay rejects with ERR_SOCKET_CLOSED and the destination closes', async (t) => {
  const inbound = await socketPair();
  const outbound = await socketPair();
  const relaying = transfer(inbound.server, outbound.client);
  const peerSees = received(outbound.server);
  inbound.client.write('some bytes');
  await delay(100);
  inbound.server.destroy();
  await t.throwsAsync(relaying, { code: 'ERR_SOCKET_CLOSED' });
  t.is((await peerSees).toString(), 'some bytes');
  inbound.close();
  outbound.close();
});

test('argument errors are rejections with Node-style codes, and leave the socket untouched', async (t) => {
  const inbound = await socketPair();
  const outbound = await socketPair();
  const src = inbound.server;
  const dst = outbound.client;
  await t.throwsAsync(transfer(src, dst, { offset: 1 } as never), { code: 'ERR_INVALID_ARG_VALUE' });
  await t.throwsAsync(transfer(src, dst, { method: 'sendfile' } as never), { code: 'ERR_ZEROSEND_UNSUPPORTED' });
  await t.throwsAsync(transfer(src, dst, { method: 'nope' } as never), { code: 'ERR_INVALID_ARG_VALUE' });
  await t.throwsAsync(transfer(src, dst, { end: 'yes' } as never), { code: 'ERR_INVALID_ARG_TYPE' });
  await t.throwsAsync(transfer(src, {} as never), { code: 'ERR_INVALID_ARG_TYPE' });
  await t.throwsAsync(transfer(src, dst, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  // None of that took the socket from Node: it still reads.
  const heard = new Promise<Buffer>((resolve) => src.once('data', resolve));
  inbound.client.write('still mine');
  t.is((await heard).toString(), 'still mine');
  const gone = await socketPair();
  gone.server.destroy();
  await t.throwsAsync(transfer(gone.server, dst), { code: 'ERR_SOCKET_CLOSED' });
  inbound.close();
  outbound.close();
  gone.close();
});
