/**
 * The plain whole-file answer (src/http/file-response.ts): where only the door holds `res`
 * (`createStaticServer` without `onServed`, `zerosend serve`, zerosend/fastify), a 200 for a whole
 * file with the default headers goes out in one `writeHead()` from headers cached with the file.
 * It must send exactly the bytes the header-by-header path sends, and be taken only where nothing
 * else can read `res`'s headers or change the answer.
 */
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';

import test from 'ava';

import { createStaticServer, serveStatic } from '../src';
import { planResponse, type FileRequest } from '../src/http/file-response';
import { OpenFiles, type OpenFile } from '../src/http/open-files';
import { parseResponseOptions, OWNS_RESPONSE, type ResponseSettings } from '../src/http/response-options';
import { tempDir } from './helpers/net';
import { listen, rawRequest } from './helpers/static-site';

const root = tempDir('zs-plain-');
writeFileSync(join(root, 'small.txt'), 'a small file\n');
writeFileSync(join(root, 'page.html'), '<!doctype html><p>hello</p>\n');
writeFileSync(join(root, 'large.bin'), Buffer.alloc(100_000, 3));
writeFileSync(join(root, 'empty.txt'), '');

/** A whole response as bytes, with its `Date` line taken out (the one header that differs by the second). */
async function answer(port: number, request: string): Promise<string> {
  const bytes = await rawRequest(port, request);
  return bytes.toString('latin1').replace(/\r\nDate: [^\r]*/, '');
}

const OPTION_SETS: Array<Record<string, unknown>> = [
  {},
  { maxAge: '1d', immutable: true },
  { etag: 'weak', lastModified: false },
  { etag: false, cacheControl: false, acceptRanges: false },
];

test('one writeHead sends the same bytes as header by header: every option set, GET and HEAD, from memory, zero-copy and empty', async (t) => {
  for (const options of OPTION_SETS) {
    // createStaticServer owns its responses; serveStatic on a plain server may share them.
    const owned = await listen(createStaticServer(root, options));
    const shared = await listen(http.createServer((req, res) => serveStatic(root, options)(req, res)));
    try {
      for (const file of ['small.txt', 'page.html', 'large.bin', 'empty.txt']) {
        for (const method of ['GET', 'HEAD']) {
          for (const connection of ['close', 'keep-alive']) {
            const request = `${method} /${file} HTTP/1.1\r\nHost: x\r\nConnection: ${connection}\r\n\r\n`;
            // keep-alive: the server closes after its timeout; close it from here once answered.
            const ask = (port: number): Promise<string> =>
              connection === 'close' ? answer(port, request) : answerKeepAlive(port, request, method === 'HEAD' ? 0 : undefined);
            const label = `${JSON.stringify(options)} ${method} ${file} ${connection}`;
            const expected = await ask(shared.port);
            t.regex(expected, /^HTTP\/1\.1 200 OK\r\n/, label);
            t.is(await ask(owned.port), expected, label);
          }
        }
      }
    } finally {
      await owned.close();
      await shared.close();
    }
  }
});

/** One request on a kept-alive connection: the response up to the end of its body, then closed. */
function answerKeepAlive(port: number, request: string, bodyLength?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = bodyLength ?? Number(/\r\nContent-Length: (\d+)/i.exec(text)?.[1] ?? 0);
      if (received.length >= end + 4 + length) {
        socket.destroy();
        resolve(text.replace(/\r\nDate: [^\r]*/, ''));
      }
    });
    socket.write(request);
  });
}

/** `planResponse` on a detached response, as a door calls it. */
function plan(settings: ResponseSettings, requestHeaders: Record<string, string> = {}, prepare?: (res: http.ServerResponse) => void) {
  const req = new http.IncomingMessage(new net.Socket());
  req.method = 'GET';
  req.headers = requestHeaders;
  const res = new http.ServerResponse(req);
  prepare?.(res);
  const files = new OpenFiles(root, 8, 30_000, true);
  const found = files.lookup(join(root, 'small.txt'));
  if (found.kind !== 'file') throw new Error('small.txt not found');
  const request: FileRequest = { file: found.file as OpenFile, typeFrom: found.file as OpenFile };
  try {
    return { plan: planResponse(req, res, request, settings), res };
  } finally {
    files.release(found.file);
    files.close();
  }
}

test('taken only where nothing can read the headers or change the answer', (t) => {
  const owned = parseResponseOptions({ [OWNS_RESPONSE]: true } as Record<string, unknown>);
  const shared = parseResponseOptions({});
  const plain = plan(owned);
  t.is(plain.plan.kind, 'body');
  t.deepEqual(Object.keys((plain.plan as { headers?: object }).headers ?? {}), [
    'Accept-Ranges',
    'Cache-Control',
    'Last-Modified',
    'ETag',
    'Content-Type',
    'Content-Length',
  ]);
  t.deepEqual(plain.res.getHeaderNames(), [], 'nothing set on res: one writeHead sends them');

  const notTaken: Array<[string, ReturnType<typeof plan>]> = [
    ['a door that shares res', plan(shared)],
    ['a setHeaders hook', plan({ ...owned, setHeaders: (res) => res.setHeader('X-Hook', '1') })],
    ['a header already on res', plan(owned, {}, (res) => res.setHeader('Access-Control-Allow-Origin', '*'))],
    ['a status already on res', plan(owned, {}, (res) => (res.statusCode = 404))],
    ['If-None-Match', plan(owned, { 'if-none-match': '"x"' })],
    ['If-Modified-Since', plan(owned, { 'if-modified-since': new Date(0).toUTCString() })],
    ['If-Match', plan(owned, { 'if-match': '*' })],
    ['If-Unmodified-Since', plan(owned, { 'if-unmodified-since': new Date().toUTCString() })],
    ['Range', plan(owned, { range: 'bytes=0-1' })],
  ];
  for (const [why, { plan: p, res }] of notTaken) {
    t.is((p as { headers?: object }).headers, undefined, why);
    t.true(res.getHeaderNames().length > 0, `${why}: the headers are on res`);
  }
});

test("createStaticServer with onServed: the response's headers stay readable there", async (t) => {
  const seen: Array<string | number | string[] | undefined> = [];
  const server = createStaticServer(root, {
    onServed: (_req, res) => seen.push(res.getHeader('content-length'), res.getHeader('etag')),
  });
  const { port, close } = await listen(server);
  try {
    await answer(port, 'GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    t.is(seen[0], 13);
    t.regex(String(seen[1]), /^"/);
  } finally {
    await close();
  }
});
