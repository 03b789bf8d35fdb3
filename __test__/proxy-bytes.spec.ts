/**
 * `proxy(a, b)`: both directions at once, exact bytes, half-closes passed on, many connections.
 * Over splice with the binding, through Node streams without it (`ZEROSEND_FORCE_FALLBACK=1`).
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import test from 'ava';

import { proxy } from '../src';
import { collect, delay, KiB, MiB, sha256, socketPair } from './helpers/net';
import { echoServer, listen, proxied, received } from './helpers/relay';
import { tlsPair } from './helpers/tls';

for (const unix of [false, true]) {
  test(`${unix ? 'unix' : 'TCP'}: 32 MiB each way at once, sha256 checked at both ends`, async (t) => {
    const c = await proxied({ unix });
    const request = randomBytes(32 * MiB);
    const response = randomBytes(32 * MiB);
    const running = proxy(c.a, c.b);
    const atUpstream = collect(c.upstream);
    const atClient = collect(c.client);
    c.client.end(request);
    c.upstream.end(response);
    const [result, up, down] = await Promise.all([running, atUpstream, atClient]);
    t.deepEqual(result, { aToB: request.length, bToA: response.length });
    t.is(sha256(up), sha256(request));
    t.is(sha256(down), sha256(response));
    t.true(c.a.destroyed && c.b.destroyed, 'both proxied sockets are released when both ends have ended');
    c.close();
  });
}

test('a client that half-closes after its request still receives the whole response', async (t) => {
  const c = await proxied();
  const response = randomBytes(8 * MiB);
  // The upstream answers only once the request has ended: it needs the half-close passed on
  // (and must not end its own side when it sees it: allowHalfOpen).
  c.upstream.allowHalfOpen = true;
  const request = collect(c.upstream).then((got) => {
    c.upstream.end(response);
    return got;
  });
  const running = proxy(c.a, c.b);
  const atClient = collect(c.client);
  c.client.end('GET /everything HTTP/1.0\r\n\r\n');
  t.is((await request).toString(), 'GET /everything HTTP/1.0\r\n\r\n');
  t.is(sha256(await atClient), sha256(response));
  t.deepEqual(await running, { aToB: 28, bToA: response.length });
  c.close();
});

test('bytes Node had already read from either socket are delivered first, in order', async (t) => {
  const c = await proxied();
  c.client.write('early request ');
  c.upstream.write('early response ');
  while (c.a.readableLength === 0 || c.b.readableLength === 0) await delay(5);
  c.b.unshift(Buffer.from('[unshifted] '));
  const running = proxy(c.a, c.b);
  const atUpstream = collect(c.upstream);
  const atClient = collect(c.client);
  c.client.end('and the rest');
  c.upstream.end('and the rest');
  t.is((await atUpstream).toString(), 'early request and the rest');
  t.is((await atClient).toString(), '[unshifted] early response and the rest');
  await running;
  c.close();
});

test('200 concurrent proxied echo connections are all exact', async (t) => {
  const echo = await echoServer();
  const front = await listen(
    (a) => {
      const b = net.connect({ port: echo.port, host: '127.0.0.1' });
      proxy(a, b).catch(() => {});
    },
    { allowHalfOpen: true },
  );
  const one = async (): Promise<boolean> => {
    const message = randomBytes(64 * KiB + Math.floor(Math.random() * 64 * KiB));
    const client = net.connect({ port: front.port, host: '127.0.0.1', allowHalfOpen: true });
    const back = collect(client);
    client.end(message);
    return (await back).equals(message);
  };
  const results = await Promise.all(Array.from({ length: 200 }, one));
  t.is(results.filter(Boolean).length, 200);
  front.server.close();
  echo.close();
});

test('an upstream still connecting when proxy() is called', async (t) => {
  const front = await socketPair();
  const { port, server } = await listen((socket) => {
    collect(socket).then((got) => socket.end(Buffer.concat([Buffer.from('echo: '), got])));
  }, { allowHalfOpen: true });
  const b = net.connect(port, '127.0.0.1');
  t.true(b.connecting);
  const running = proxy(front.server, b);
  const atClient = collect(front.client);
  front.client.end('hello');
  t.is((await atClient).toString(), 'echo: hello');
  t.deepEqual(await running, { aToB: 5, bToA: 11 });
  server.close();
  front.close();
});

test('a TLS client side is proxied through Node streams, both ways, with the half-close passed on', async (t) => {
  const secure = await tlsPair();
  const back = await socketPair();
  const response = randomBytes(4 * MiB);
  back.server.allowHalfOpen = true;
  const request = collect(back.server).then((got) => {
    back.server.end(response);
    return got;
  });
  const running = proxy(secure.server, back.client);
  const atClient = received(secure.client);
  secure.client.end('request over TLS');
  t.is((await request).toString(), 'request over TLS');
  t.is(sha256(await atClient), sha256(response));
  t.deepEqual(await running, { aToB: 16, bToA: response.length });
  secure.close();
  back.close();
});

test('argument errors are rejections', async (t) => {
  const pair = await socketPair();
  await t.throwsAsync(proxy(pair.client, {} as never), { code: 'ERR_INVALID_ARG_TYPE' });
  await t.throwsAsync(proxy(pair.client, pair.client), { code: 'ERR_INVALID_ARG_VALUE' });
  await t.throwsAsync(proxy(pair.client, pair.server, { signal: 'no' } as never), { code: 'ERR_INVALID_ARG_TYPE' });
  const aborted = await t.throwsAsync(proxy(pair.client, pair.server, { signal: AbortSignal.abort() }), {
    name: 'AbortError',
  });
  t.deepEqual([(aborted as unknown as { aToB: number }).aToB, (aborted as unknown as { bToA: number }).bToA], [0, 0]);
  pair.close();
});
