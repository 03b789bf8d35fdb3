/**
 * Connections: keep-alive stays exact over 1 000 requests, pipelined requests answer in order,
 * a file truncated mid-body closes the connection (never a desynchronised keep-alive stream),
 * clients that hang up cost nothing, and an https.Server works through the stream fallback.
 */
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { join } from 'node:path';

import test from 'ava';

import { createStaticServer, serveStatic, type ServedInfo } from '../src';
import { hasNative } from './helpers/native';
import { MiB, delay } from './helpers/net';
import { checkPipelined, errorPage, listen, makeSite, rawGetRequest, rawRequest, request } from './helpers/static-site';
import { selfSigned } from './helpers/tls';

const site = makeSite();
const data = site.files['data.bin']!;

const get = request;

test('node:http keep-alive: 1 000 mixed requests on one connection, every one exact', async (t) => {
  const server = createStaticServer(site.root);
  let connections = 0;
  server.on('connection', () => (connections += 1));
  const { url, close } = await listen(server);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await get(agent, `${url}/data.bin`);
    const etag = first.headers.etag!;
    const sockets = new Set<net.Socket>([first.socket]);
    for (let i = 0; i < 1000; i++) {
      const kind = i % 8;
      if (kind === 0 || kind === 1) {
        const reply = await get(agent, `${url}/data.bin`);
        t.true(reply.status === 200 && reply.body.equals(data), `request ${i}`);
        sockets.add(reply.socket);
      } else if (kind === 2) {
        const start = (i * 997) % data.length;
        const end = Math.min(data.length - 1, start + (i % 5000));
        const reply = await get(agent, `${url}/data.bin`, { Range: `bytes=${start}-${end}` });
        t.true(reply.status === 206 && reply.body.equals(data.subarray(start, end + 1)), `range ${i}`);
        sockets.add(reply.socket);
      } else if (kind === 3) {
        const reply = await get(agent, `${url}/data.bin`, {}, 'HEAD');
        t.true(reply.status === 200 && reply.body.length === 0 && reply.headers['content-length'] === String(data.length));
        sockets.add(reply.socket);
      } else if (kind === 4) {
        const reply = await get(agent, `${url}/data.bin`, { 'If-None-Match': etag });
        t.true(reply.status === 304 && reply.body.length === 0);
        sockets.add(reply.socket);
      } else if (kind === 5) {
        const reply = await get(agent, `${url}/missing-${i}`);
        t.true(reply.status === 404);
        sockets.add(reply.socket);
      } else if (kind === 6) {
        const reply = await get(agent, `${url}/empty.txt`);
        t.true(reply.status === 200 && reply.body.length === 0);
        sockets.add(reply.socket);
      } else {
        const reply = await get(agent, `${url}/sub/a.txt`);
        t.true(reply.status === 200 && reply.body.equals(site.files['sub/a.txt']!));
        sockets.add(reply.socket);
      }
    }
    t.is(connections, 1, 'the server saw one connection');
    t.is(sockets.size, 1, 'the client used one socket');
  } finally {
    agent.destroy();
    await close();
  }
});

test('pipelined requests are answered in order on one connection', async (t) => {
  const { port, close } = await listen(createStaticServer(site.root));
  try {
    const response = await rawRequest(
      port,
      rawGetRequest('/sub/a.txt') + rawGetRequest('/data.bin') + rawGetRequest('/missing') + rawGetRequest('/style.css', 'Connection: close\r\n'),
    );
    checkPipelined(t, response, [
      [200, site.files['sub/a.txt']!],
      [200, data],
      [404, errorPage('Not Found')],
      [200, site.files['style.css']!],
    ]);
  } finally {
    await close();
  }
});

test('a pipelined request queued behind a slow response is released when the connection dies', async (t) => {
  const root = makeSite().root;
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(32 * MiB, 5));
  const served: ServedInfo[] = [];
  const { port, close } = await listen(createStaticServer(root, { onServed: (_req, _res, info) => served.push(info) }));
  try {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.pause(); // the first response parks on a full socket; the second waits its turn
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\n\r\n');
    await delay(300);
    socket.resetAndDestroy();
    while (served.length < 2) await delay(20);
    t.is(served.length, 2);
    for (const info of served) t.true(['ERR_SOCKET_CLOSED', 'EPIPE', 'ECONNRESET'].includes(info.error ?? ''), info.error);
    t.true(served.some((info) => info.path?.endsWith('index.html')), 'the queued response was released too');
  } finally {
    await close();
  }
});

test('a file truncated while being sent closes the connection; the server keeps answering', async (t) => {
  const root = makeSite().root;
  const path = join(root, 'shrinking.bin');
  writeFileSync(path, Buffer.alloc(64 * MiB, 7));
  const served: ServedInfo[] = [];
  const { port, url, close } = await listen(createStaticServer(root, { onServed: (_req, _res, info) => served.push(info) }));
  try {
    // A client that reads nothing at first: the server fills the socket buffers and parks.
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.pause();
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /shrinking.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    await delay(300);
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, 1 * MiB);
    closeSync(fd);
    let received = 0;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('error', () => {});
    socket.resume();
    await closed;
    t.true(received < 64 * MiB, `the connection closed after ${received} bytes, short of the Content-Length`);
    const entry = served.find((info) => info.path === path);
    t.is(entry?.error, 'ERR_ZEROSEND_SHORT_FILE');
    // The next request sees the file as it is now.
    const agent = new http.Agent({ keepAlive: false });
    const reply = await get(agent, `${url}/shrinking.bin`);
    t.is(reply.status, 200);
    t.is(reply.body.length, 1 * MiB);
  } finally {
    await close();
  }
});

test('clients that hang up mid-body: no crash, no unhandled rejection, the server keeps answering', async (t) => {
  const root = makeSite().root;
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(32 * MiB, 1));
  const served: ServedInfo[] = [];
  const { port, url, close } = await listen(createStaticServer(root, { onServed: (_req, _res, info) => served.push(info) }));
  try {
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const socket = net.connect({ port, host: '127.0.0.1' });
        socket.on('error', () => {});
        socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
        let received = 0;
        await new Promise<void>((resolve) => {
          socket.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received >= (i + 1) * 64 * 1024) {
              // Half the clients close politely, half reset.
              if (i % 2 === 0) socket.destroy();
              else socket.resetAndDestroy();
              resolve();
            }
          });
        });
      }),
    );
    // Wait for the server to notice every one of them.
    while (served.filter((info) => info.error).length < 20) await delay(20);
    for (const info of served) t.true(['ERR_SOCKET_CLOSED', 'EPIPE', 'ECONNRESET'].includes(info.error ?? ''), info.error);
    const reply = await get(new http.Agent(), `${url}/index.html`);
    t.is(reply.status, 200);
  } finally {
    await close();
  }
});

test('a small open-file cache under churn: every body exact, at most `max` descriptors stay open', async (t) => {
  const root = makeSite().root;
  const files = Array.from({ length: 12 }, (_, i) => {
    const body = Buffer.alloc(2 * MiB + i, i + 1);
    body.writeUInt32BE(i, 0);
    writeFileSync(join(root, `f${i}.bin`), body);
    return body;
  });
  /** Descriptors of this process open on files under `root`. */
  const openUnderRoot = (): number =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(root);
      } catch {
        return false;
      }
    }).length;
  const { url, close } = await listen(createStaticServer(root, { openFileCache: { max: 2 } }));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => get(agent, `${url}/f${(i * 7) % 12}.bin`)));
    replies.forEach((reply, i) => t.true(reply.body.equals(files[(i * 7) % 12]!), `request ${i}`));
    t.true(openUnderRoot() <= 2, `${openUnderRoot()} descriptors open under the root`);
  } finally {
    agent.destroy();
    await close();
  }
  // fs.close() is asynchronous: give it a moment.
  for (let waited = 0; openUnderRoot() > 0 && waited < 5000; waited += 20) await delay(20);
  t.is(openUnderRoot(), 0, 'closing the server closes the cache');
});

test('https.Server: the same middleware works through the stream fallback, keep-alive included, whatever options.method says', async (t) => {
  const { key, cert } = selfSigned();
  const served: ServedInfo[] = [];
  const serve = serveStatic(site.root, { method: hasNative ? 'sendfile' : 'auto', onServed: (_req, _res, info) => served.push(info) });
  const server = https.createServer({ key, cert }, (req, res) => serve(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: cert, servername: 'localhost', checkServerIdentity: () => undefined });
  try {
    const sockets = new Set<net.Socket>();
    for (let i = 0; i < 20; i++) {
      const whole = await get(agent, `${url}/data.bin`);
      t.is(whole.status, 200);
      t.true(whole.body.equals(data));
      const ranged = await get(agent, `${url}/data.bin`, { Range: `bytes=${i * 100}-${i * 100 + 999}` });
      t.is(ranged.status, 206);
      t.true(ranged.body.equals(data.subarray(i * 100, i * 100 + 1000)));
      sockets.add(whole.socket).add(ranged.socket);
    }
    t.is(sockets.size, 1);
    t.true(served.every((info) => info.method === 'stream'), 'TLS bytes are encrypted in Node: streams');
    t.is(createHash('sha256').update((await get(agent, `${url}/app.js`)).body).digest('hex'), createHash('sha256').update(site.files['app.js']!).digest('hex'));
  } finally {
    agent.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    serve.close();
  }
});
