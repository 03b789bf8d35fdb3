/**
 * `sendFile(req, res, path, options)`: one request answered with one file, on plain node:http,
 * Express and https — status and headers as serveStatic, downloads, headers the app set kept,
 * errors before the first byte leave `res` to the app, errors after it close the connection, and
 * the next request is still served.
 */
import { once } from 'node:events';
import { closeSync, ftruncateSync, mkdirSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { join } from 'node:path';

import test from 'ava';
import express from 'express';

import { sendFile, type SendFileOptions, type SendFileResult } from '../src';
import { AUTO_FILE_METHODS, hasNative } from './helpers/native';
import { delay, MiB } from './helpers/net';
import { checkPipelined, curl, curlRaw, listen, makeSite, rawGetRequest, rawRequest } from './helpers/static-site';
import { selfSigned } from './helpers/tls';

const site = makeSite();
const data = site.files['data.bin']!;

/** What the server saw of each `sendFile` call: its result, or the error it rejected with. */
type Seen = { result: SendFileResult } | { error: Error & Record<string, unknown>; headersSent: boolean };

/**
 * A node:http server whose handler calls `sendFile` with the path and options `route` gives for a
 * URL; on a rejection before anything was written it answers `app fallback <status>` itself.
 */
async function server(route: (url: string, req: http.IncomingMessage, res: http.ServerResponse) => [string, SendFileOptions?], secure = false) {
  const seen: Seen[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const [path, options] = route(req.url ?? '/', req, res);
    sendFile(req, res, path, options).then(
      (result) => seen.push({ result }),
      (error: Error & Record<string, unknown>) => {
        seen.push({ error, headersSent: res.headersSent });
        if (!res.headersSent) {
          res.statusCode = Number(error.status ?? 500);
          res.end(`app fallback ${String(error.status)}`);
        }
      },
    );
  };
  const created = secure ? https.createServer(selfSigned(), handler) : http.createServer(handler);
  const listening = await listen(created);
  return { ...listening, seen, url: secure ? listening.url.replace('http:', 'https:') : listening.url };
}

/** The last call's outcome, once the server has recorded it (the client may see the end first). */
async function last(seen: Seen[], count: number): Promise<Seen> {
  while (seen.length < count) await delay(5);
  return seen[count - 1]!;
}

const inRoot = (url: string): [string, SendFileOptions] => [decodeURIComponent(url.slice(1).split('?')[0]!), { root: site.root }];

test('GET: the file with type, length, validators and caching headers; the result says how it went', async (t) => {
  const { url, close, seen } = await server(inRoot);
  try {
    const response = await curl(`${url}/data.bin`);
    t.is(response.status, 200);
    t.true(response.body.equals(data));
    t.is(response.headers['content-type'], 'application/octet-stream');
    t.is(response.headers['content-length'], String(data.length));
    t.is(response.headers['accept-ranges'], 'bytes');
    t.is(response.headers['cache-control'], 'public, max-age=0');
    t.regex(response.headers.etag ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
    t.false(Number.isNaN(Date.parse(response.headers['last-modified'] ?? '')));
    const outcome = await last(seen, 1);
    t.true('result' in outcome);
    const { result } = outcome as { result: SendFileResult };
    t.is(result.status, 200);
    t.is(result.bytes, data.length);
    t.true(AUTO_FILE_METHODS.includes(result.method), result.method);
    if (hasNative) t.is(result.method, 'sendfile', 'a server sends by sendfile, to local clients too');
  } finally {
    await close();
  }
});

test('HEAD, Range, If-None-Match and If-Match: as serveStatic answers them, and the result says so', async (t) => {
  const { url, port, close, seen } = await server(inRoot);
  try {
    const head = await curl('-I', `${url}/data.bin`);
    t.is(head.status, 200);
    t.is(head.headers['content-length'], String(data.length));
    // curl -I writes the headers where the body would go: check the bytes on the wire instead.
    const raw = (await rawRequest(port, 'HEAD /data.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toString('latin1');
    t.is(raw.indexOf('\r\n\r\n'), raw.length - 4, 'nothing after the headers');
    t.like((await last(seen, 1)) as object, { result: { status: 200, bytes: 0, method: 'none' } });

    const ranged = await curl('-H', 'Range: bytes=10-19', `${url}/data.bin`);
    t.is(ranged.status, 206);
    t.is(ranged.headers['content-range'], `bytes 10-19/${data.length}`);
    t.true(ranged.body.equals(data.subarray(10, 20)));
    t.like((await last(seen, 3)) as object, { result: { status: 206, bytes: 10 } });

    const unsatisfiable = await curl('-H', 'Range: bytes=200000-', `${url}/data.bin`);
    t.is(unsatisfiable.status, 416);
    t.is(unsatisfiable.headers['content-range'], `bytes */${data.length}`);
    t.like((await last(seen, 4)) as object, { result: { status: 416, method: 'none' } });

    const notModified = await curl('-H', `If-None-Match: ${head.headers.etag}`, `${url}/data.bin`);
    t.is(notModified.status, 304);
    t.is(notModified.body.length, 0);
    t.like((await last(seen, 5)) as object, { result: { status: 304, bytes: 0 } });

    t.is((await curl('-H', 'If-Match: "other"', `${url}/data.bin`)).status, 412);
    t.like((await last(seen, 6)) as object, { result: { status: 412 } });
  } finally {
    await close();
  }
});

test('download: Content-Disposition attachment (the content-disposition package, as Express), an ASCII fallback and filename* for other names (RFC 6266)', async (t) => {
  const { url, close } = await server((path) => {
    if (path === '/own') return ['data.bin', { root: site.root, download: true }];
    if (path === '/named') return ['data.bin', { root: site.root, download: 'rapport été 2026.pdf' }];
    return ['hello world é.txt', { root: site.root, download: true }];
  });
  try {
    t.is((await curl(`${url}/own`)).headers['content-disposition'], 'attachment; filename=data.bin');
    const named = await curl(`${url}/named`);
    t.is(named.headers['content-disposition'], `attachment; filename="rapport ?t? 2026.pdf"; filename*=UTF-8''rapport%20%C3%A9t%C3%A9%202026.pdf`);
    t.is(named.headers['content-type'], 'application/octet-stream', 'the type is the file served, not the name offered');
    t.true(named.body.equals(data));
    const unicode = await curl(`${url}/unicode`);
    t.is(unicode.headers['content-disposition'], `attachment; filename="hello world ?.txt"; filename*=UTF-8''hello%20world%20%C3%A9.txt`);
  } finally {
    await close();
  }
});

test('headers the app set before the call go out and win over the defaults; contentType and headers options win over those', async (t) => {
  const { url, port, close } = await server((path, _req, res) => {
    res.setHeader('Cache-Control', 'private, no-store');
    res.setHeader('Content-Type', 'application/x-custom');
    res.setHeader('X-App', 'kept');
    if (path === '/options') return ['data.bin', { root: site.root, contentType: 'video/mp4', headers: { 'X-App': 'from options', 'X-More': ['a', 'b'] } }];
    return ['data.bin', { root: site.root }];
  });
  try {
    const plain = await curl(`${url}/plain`);
    t.is(plain.headers['cache-control'], 'private, no-store');
    t.is(plain.headers['content-type'], 'application/x-custom');
    t.is(plain.headers['x-app'], 'kept');
    t.true(plain.body.equals(data));
    const options = await curl(`${url}/options`);
    t.is(options.headers['content-type'], 'video/mp4');
    t.is(options.headers['x-app'], 'from options');
    const raw = (await rawRequest(port, 'GET /options HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toString('latin1');
    t.regex(raw, /\r\nX-More: a\r\nX-More: b\r\n/, 'a list is sent as repeated fields');
  } finally {
    await close();
  }
});

test('a status other than 200 the app set is kept: a custom 404 page gets no 304 and no 206', async (t) => {
  const { url, close, seen } = await server((_path, _req, res) => {
    res.statusCode = 404;
    return ['index.html', { root: site.root }];
  });
  try {
    const page = await curl(`${url}/whatever`);
    t.is(page.status, 404);
    t.deepEqual(page.body, site.files['index.html']);
    t.is(page.headers['content-type'], 'text/html; charset=utf-8');
    const conditional = await curl('-H', `If-None-Match: ${page.headers.etag}`, '-H', 'Range: bytes=0-3', `${url}/whatever`);
    t.is(conditional.status, 404);
    t.deepEqual(conditional.body, site.files['index.html']);
    t.like((await last(seen, 2)) as object, { result: { status: 404, bytes: site.files['index.html']!.length } });
  } finally {
    await close();
  }
});

test('misses reject before anything is written, with status, statusCode and the errno: the app still answers', async (t) => {
  const base = site.root;
  mkdirSync(join(base, '..', 'sendfile-beside'), { recursive: true });
  writeFileSync(join(base, '..', 'sendfile-beside', 'secret.txt'), 'beside');
  const cases: Array<[string, SendFileOptions | undefined, number, string | undefined]> = [
    ['missing.txt', { root: base }, 404, 'ENOENT'],
    ['sub', { root: base }, 404, 'EISDIR'],
    ['sub/a.txt/', { root: base }, 404, 'ENOTDIR'],
    ['.env', { root: base }, 404, undefined],
    ['.env', { root: base, dotfiles: 'deny' }, 403, undefined],
    ['sub/.hidden/x.txt', { root: base }, 404, undefined],
    ['../sendfile-beside/secret.txt', { root: base }, 403, undefined],
    ['sub/../../sendfile-beside/secret.txt', { root: base }, 403, undefined],
    ['escape.txt', { root: base }, 403, undefined],
    ['a\u0000b', { root: base }, 400, undefined],
    [`${base}/sub/../data.bin`, undefined, 403, undefined],
  ];
  let i = 0;
  const { url, close, seen } = await server(() => {
    const [path, options] = cases[i++]!;
    return [path, options];
  });
  try {
    for (const [index, [path, , status, code]] of cases.entries()) {
      const response = await curl(`${url}/${index}`);
      t.is(response.status, status, path);
      t.is(response.body.toString(), `app fallback ${status}`, `${path}: the app answered`);
      const outcome = (await last(seen, index + 1)) as Extract<Seen, { error: unknown }>;
      t.false(outcome.headersSent, `${path}: nothing was written`);
      t.is(outcome.error.status, status, path);
      t.is(outcome.error.statusCode, status, path);
      t.is(outcome.error.code, code, path);
      t.is(outcome.error.expose, code === undefined, `${path}: a system error's message names a server path`);
    }
  } finally {
    await close();
  }
});

test('without a root the path must be absolute; a dot directory anywhere in it counts, as in send', async (t) => {
  const hiddenDir = join(site.root, '..', '.private');
  mkdirSync(hiddenDir, { recursive: true });
  writeFileSync(join(hiddenDir, 'x.txt'), 'x');
  const { url, close, seen } = await server((path) => {
    if (path === '/absolute') return [join(site.root, 'data.bin')];
    if (path === '/relative') return ['data.bin'];
    if (path === '/dot-dir') return [join(hiddenDir, 'x.txt')];
    return [join(hiddenDir, 'x.txt'), { dotfiles: 'allow' }];
  });
  try {
    t.true((await curl(`${url}/absolute`)).body.equals(data));
    t.is((await curl(`${url}/relative`)).status, 500);
    const relative = (await last(seen, 2)) as Extract<Seen, { error: unknown }>;
    t.is(relative.error.code, 'ERR_INVALID_ARG_VALUE');
    t.regex(relative.error.message, /must be absolute, or options.root must be given/);
    t.is((await curl(`${url}/dot-dir`)).status, 404);
    t.is((await curl(`${url}/allowed`)).body.toString(), 'x');
  } finally {
    await close();
  }
});

test('a symlink out of the root is refused unless followSymlinks', async (t) => {
  const { url, close } = await server((path) => ['escape.txt', { root: site.root, followSymlinks: path === '/follow' }]);
  try {
    t.is((await curl(`${url}/refuse`)).status, 403);
    const followed = await curl(`${url}/follow`);
    t.is(followed.status, 200);
    t.regex(followed.body.toString(), /OUTSIDE-SECRET/);
  } finally {
    await close();
  }
});

test('bad arguments reject with Node-style codes before anything is written', async (t) => {
  const req = new http.IncomingMessage(new net.Socket());
  req.method = 'GET';
  const res = new http.ServerResponse(req);
  await t.throwsAsync(sendFile(req, res, '', { root: site.root }), { code: 'ERR_INVALID_ARG_TYPE' });
  await t.throwsAsync(sendFile(req, res, 42 as unknown as string), { code: 'ERR_INVALID_ARG_TYPE' });
  await t.throwsAsync(sendFile({} as http.IncomingMessage, res, 'x'), { code: 'ERR_INVALID_ARG_TYPE' });
  await t.throwsAsync(sendFile(req, {} as http.ServerResponse, 'x'), { code: 'ERR_INVALID_ARG_TYPE' });
  const bad: Array<[SendFileOptions, string]> = [
    [{ root: 3 as unknown as string }, 'ERR_INVALID_ARG_TYPE'],
    [{ dotfiles: 'show' as 'allow' }, 'ERR_INVALID_ARG_VALUE'],
    [{ etag: 'medium' as 'weak' }, 'ERR_INVALID_ARG_VALUE'],
    [{ maxAge: 'soon' }, 'ERR_INVALID_ARG_VALUE'],
    [{ maxAge: -1 }, 'ERR_INVALID_ARG_VALUE'],
    [{ lastModified: 'yes' as unknown as boolean }, 'ERR_INVALID_ARG_TYPE'],
    [{ download: 1 as unknown as boolean }, 'ERR_INVALID_ARG_TYPE'],
    [{ contentType: 5 as unknown as string }, 'ERR_INVALID_ARG_TYPE'],
    [{ headers: 'x' as unknown as Record<string, string> }, 'ERR_INVALID_ARG_TYPE'],
    [{ signal: {} as AbortSignal }, 'ERR_INVALID_ARG_TYPE'],
    [{ method: 'teleport' as 'auto' }, 'ERR_INVALID_ARG_VALUE'],
  ];
  for (const [options, code] of bad) {
    await t.throwsAsync(sendFile(req, res, 'data.bin', { root: site.root, ...options }), { code }, JSON.stringify(options));
  }
  await t.throwsAsync(sendFile(req, res, 'data.bin', 'nope' as unknown as SendFileOptions), { code: 'ERR_INVALID_ARG_TYPE' });
  t.false(res.headersSent);
  const aborted = new AbortController();
  aborted.abort();
  await t.throwsAsync(sendFile(req, res, 'data.bin', { root: site.root, signal: aborted.signal }), { name: 'AbortError', code: 'ABORT_ERR' });
  t.false(res.headersSent);
});

test('Express: a route answers with sendFile, a miss goes to next(err) and Express renders it; maxAge Infinity is a year', async (t) => {
  const app = express();
  app.get('/report/:name', (req, res, next) => {
    sendFile(req, res, req.params.name, { root: site.root, maxAge: Infinity, download: true }).catch(next);
  });
  app.use((error: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(error.status ?? 500).send(`express saw ${error.status}`);
  });
  const { url, close } = await listen(http.createServer(app));
  try {
    const hit = await curl(`${url}/report/data.bin`);
    t.is(hit.status, 200);
    t.true(hit.body.equals(data));
    t.is(hit.headers['cache-control'], 'public, max-age=31536000');
    t.is(hit.headers['content-disposition'], 'attachment; filename=data.bin');
    t.is(hit.headers['x-powered-by'], 'Express', "Express's own headers go out too");
    const miss = await curl(`${url}/report/nothing.pdf`);
    t.is(miss.status, 404);
    t.is(miss.body.toString(), 'express saw 404');
    const ranged = await curl('-H', 'Range: bytes=-10', `${url}/report/data.bin`);
    t.is(ranged.status, 206);
    t.true(ranged.body.equals(data.subarray(data.length - 10)));
  } finally {
    await close();
  }
});

test("a directory named with its '/' answers with its index, as Express's res.sendFile (send) does; side by side with it", async (t) => {
  // Each request names the path and the options (JSON) in its query; both apps answer an error
  // with its status and code, so what send and sendFile decide can be compared.
  const app = express();
  const options = (req: express.Request): Record<string, unknown> => ({ root: site.root, ...(JSON.parse(String(req.query.o ?? '{}')) as object) });
  const answerError = (res: express.Response) => (error?: Error & { status?: number; code?: string }) => {
    if (error !== undefined && !res.headersSent) res.status(error.status ?? 404).send(`error ${error.code}`);
  };
  app.get('/express', (req, res) => res.sendFile(String(req.query.p), options(req), answerError(res)));
  app.get('/zerosend', (req, res) => void sendFile(req, res, String(req.query.p), options(req)).catch(answerError(res)));
  const { url, close } = await listen(http.createServer(app));
  try {
    const cases: Array<[string, object, number, string]> = [
      ['sub/', {}, 200, 'sub/index.html'],
      ['noindex/', { index: 'x.txt' }, 200, 'noindex/x.txt'],
      ['noindex/', { index: ['missing.html', 'x.txt'] }, 200, 'noindex/x.txt'],
      ['noindex/', {}, 404, 'error ENOENT'],
      ['sub/', { index: false }, 404, 'error EISDIR'],
      ['sub', {}, 404, 'error EISDIR'],
      ['sub/a.txt/', {}, 404, 'error ENOTDIR'],
    ];
    for (const [path, caseOptions, status, expected] of cases) {
      const query = `p=${encodeURIComponent(path)}&o=${encodeURIComponent(JSON.stringify(caseOptions))}`;
      const [theirs, ours] = await Promise.all([curl(`${url}/express?${query}`), curl(`${url}/zerosend?${query}`)]);
      const label = `${path} ${JSON.stringify(caseOptions)}`;
      t.is(ours.status, status, label);
      if (status === 200) {
        t.true(ours.body.equals(site.files[expected]!), label);
        t.is(ours.headers['content-type'], theirs.headers['content-type'], label);
        t.is(ours.headers['content-length'], theirs.headers['content-length'], label);
      } else {
        t.is(ours.body.toString(), expected, label);
      }
      // Express's EISDIR error has no status: the app's handler above makes it a 404.
      t.is(theirs.status, status, `${label}: as Express`);
      t.is(theirs.body.toString(), ours.body.toString(), `${label}: the same file or error code as Express`);
    }
    const download = await curl(`${url}/zerosend?p=sub%2F&o=${encodeURIComponent(JSON.stringify({ download: true }))}`);
    t.is(download.headers['content-disposition'], 'attachment; filename=sub', "named after the path asked for, as res.download('sub/') names it");
    t.true(download.body.equals(site.files['sub/index.html']!));
  } finally {
    await close();
  }
});

test('options.index: a bad value is ERR_INVALID_ARG_TYPE, before anything is written', async (t) => {
  const { url, close, seen } = await server(() => ['sub/', { root: site.root, index: [42] as unknown as string[] }]);
  try {
    const response = await curl(`${url}/`);
    t.is(response.status, 500);
    const outcome = (await last(seen, 1)) as Extract<Seen, { error: unknown }>;
    t.is(outcome.error.code, 'ERR_INVALID_ARG_TYPE');
    t.false(outcome.headersSent);
  } finally {
    await close();
  }
});

test('keep-alive: many answers on one connection stay exact, ranges and 304s between them', async (t) => {
  const { url, close } = await server(inRoot);
  try {
    const targets = ['data.bin', 'sub/a.txt', 'empty.txt', 'style.css', 'data.bin', 'missing'];
    const args = targets.flatMap((name) => ['-o', '/dev/null', '-w', '%{http_code} %{size_download} %{num_connects}\\n', `${url}/${name}`]);
    const lines = (await curlLines(args)).map((line) => line.split(' '));
    t.deepEqual(
      lines.map(([status, size]) => [status, size]),
      [
        ['200', String(data.length)],
        ['200', String(site.files['sub/a.txt']!.length)],
        ['200', '0'],
        ['200', String(site.files['style.css']!.length)],
        ['200', String(data.length)],
        ['404', String('app fallback 404'.length)],
      ],
    );
    t.deepEqual(
      lines.map(([, , connects]) => connects),
      ['1', '0', '0', '0', '0', '0'],
      'one connection for all',
    );
  } finally {
    await close();
  }
});

test('a client that hangs up mid-download: sendFile rejects with the code and the body bytes sent; the next request is served', async (t) => {
  const root = makeSite().root;
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(32 * MiB, 3));
  const { port, url, close, seen } = await server((path) => [path.slice(1), { root }]);
  try {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > 256 * 1024) socket.resetAndDestroy();
    });
    const outcome = (await last(seen, 1)) as Extract<Seen, { error: unknown }>;
    t.true('error' in outcome);
    t.true(['EPIPE', 'ECONNRESET', 'ERR_SOCKET_CLOSED'].includes(String(outcome.error.code)), String(outcome.error.code));
    t.true(outcome.headersSent);
    t.is(typeof outcome.error.bytes, 'number');
    t.true((outcome.error.bytes as number) < 32 * MiB);
    const next = await curl(`${url}/big.bin`);
    t.is(next.status, 200);
    t.is(next.body.length, 32 * MiB);
  } finally {
    await close();
  }
});

test('a file truncated while it is sent: ERR_ZEROSEND_SHORT_FILE, the connection closed, never a short keep-alive body', async (t) => {
  const root = makeSite().root;
  const path = join(root, 'shrinking.bin');
  writeFileSync(path, Buffer.alloc(64 * MiB, 7));
  const { port, url, close, seen } = await server((name) => [name.slice(1), { root }]);
  try {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.pause();
    await once(socket, 'connect');
    socket.write('GET /shrinking.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    await delay(300);
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, MiB);
    closeSync(fd);
    let received = 0;
    const closed = once(socket, 'close');
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('error', () => {});
    socket.resume();
    await closed;
    t.true(received < 64 * MiB);
    const outcome = (await last(seen, 1)) as Extract<Seen, { error: unknown }>;
    t.is(outcome.error.code, 'ERR_ZEROSEND_SHORT_FILE');
    t.true(outcome.headersSent);
    const after = await curl(`${url}/shrinking.bin`);
    t.is(after.body.length, MiB, 'the next request sees the file as it is now');
  } finally {
    await close();
  }
});

test('an abort signal stops a body in flight: AbortError with the bytes sent, the connection closed', async (t) => {
  const root = makeSite().root;
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(64 * MiB, 9));
  const controller = new AbortController();
  const { port, close, seen } = await server((name) => [name.slice(1), { root, signal: controller.signal }]);
  try {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.pause(); // the body parks on a full socket
    await once(socket, 'connect');
    socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    await delay(300);
    const closed = once(socket, 'close');
    socket.on('error', () => {});
    socket.resume();
    controller.abort();
    await closed;
    const outcome = (await last(seen, 1)) as Extract<Seen, { error: unknown }>;
    t.is(outcome.error.name, 'AbortError');
    t.is(outcome.error.code, 'ABORT_ERR');
    t.true((outcome.error.bytes as number) < 64 * MiB);
  } finally {
    await close();
  }
});

test('https: the body goes through streams (TLS encrypts in JavaScript), exact, and ranges still work', async (t) => {
  const { url, close, seen } = await server(inRoot, true);
  try {
    const whole = await curl('-k', `${url}/data.bin`);
    t.is(whole.status, 200);
    t.true(whole.body.equals(data));
    t.like((await last(seen, 1)) as object, { result: { status: 200, bytes: data.length, method: 'stream' } });
    const ranged = await curl('-k', '-H', 'Range: bytes=5-9', `${url}/data.bin`);
    t.true(ranged.body.equals(data.subarray(5, 10)));
  } finally {
    await close();
  }
});

test('pipelined requests each get their file, in order', async (t) => {
  const { port, close } = await server(inRoot);
  try {
    const response = await rawRequest(port, rawGetRequest('/sub/a.txt') + rawGetRequest('/data.bin') + rawGetRequest('/style.css', 'Connection: close\r\n'));
    checkPipelined(t, response, [
      [200, site.files['sub/a.txt']!],
      [200, data],
      [200, site.files['style.css']!],
    ]);
  } finally {
    await close();
  }
});

test('a symlinked root and a file replaced on disk: never stale, and a root that does not exist is a 404', async (t) => {
  const base = makeSite().root;
  const link = join(base, '..', 'root-link');
  symlinkSync(base, link);
  writeFileSync(join(base, 'changing.txt'), 'first');
  const { url, close } = await server((path) => (path === '/nowhere' ? ['x.txt', { root: join(base, 'no-such-dir') }] : ['changing.txt', { root: link }]));
  try {
    t.is((await curl(`${url}/x`)).body.toString(), 'first');
    writeFileSync(join(base, 'changing.txt'), 'second, longer');
    t.is((await curl(`${url}/x`)).body.toString(), 'second, longer');
    t.is((await curl(`${url}/nowhere`)).status, 404);
  } finally {
    await close();
  }
});

async function curlLines(args: string[]): Promise<string[]> {
  return (await curlRaw(['-sS', ...args])).trim().split('\n');
}
