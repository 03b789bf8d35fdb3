/**
 * serveStatic as a drop-in for serve-static, checked against serve-static itself: two Express apps
 * built the same way, one with each middleware, get the same requests; status, the headers that
 * matter and the body must agree. (zerosend's ETag is strong by default, for If-Range; with
 * `etag: 'weak'` it is send's tag exactly, so these apps compare tags byte for byte.) Then the
 * cases the issue names one by one: error shapes for the app's error handler, a file as the root,
 * serve-static's messages for a bad root.
 */
import * as http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import test from 'ava';
import express from 'express';
import serveStaticPeer from 'serve-static';

import { serveStatic, type ServeStaticOptions } from '../src';
import { listen, makeSite } from './helpers/static-site';

const site = makeSite();
writeFileSync(join(site.root, 'about.html'), '<h1>about</h1>\n');
writeFileSync(join(site.root, 'todo.txt'), 'todo\n');
mkdirSync(join(site.root, 'users'), { recursive: true });
writeFileSync(join(site.root, 'users', 'list.txt'), 'ann\nbob\n');

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Sends exactly this request (no client normalises the path) and reads the whole answer. */
function request(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Compared field by field; `date` and `keep-alive` differ by the clock, nothing else may. */
const COMPARED = [
  'content-type',
  'content-length',
  'content-range',
  'accept-ranges',
  'cache-control',
  'etag',
  'last-modified',
  'location',
  'content-security-policy',
  'x-content-type-options',
  'allow',
  'vary',
  'content-encoding',
];

type Middleware = (req: http.IncomingMessage, res: http.ServerResponse, next: (error?: unknown) => void) => void;

/**
 * An Express app as people write them: the middleware mounted at `/static` and at `/`, a route
 * after it (what fallthrough reaches), and an error handler that renders what it is given as
 * Express's final handler does (the error's status and `headers`), plus its name and, when it may be
 * shown, its message — so the error objects are compared too.
 */
function app(make: (root: string, options: ServeStaticOptions) => Middleware, options: ServeStaticOptions): http.Server {
  const application = express();
  application.use('/static', make(site.root, options) as express.RequestHandler);
  application.use(make(site.root, options) as express.RequestHandler);
  application.get('/fell-through', (_req, res) => void res.send('a route after the middleware'));
  application.use(renderError);
  return http.createServer(application);
}

function renderError(error: Record<string, unknown>, _req: express.Request, res: express.Response, _next: express.NextFunction): void {
  res.status(Number(error.status ?? 500));
  res.set((error.headers ?? {}) as Record<string, string>);
  res.send(`${String(error.name)} ${String(error.status)} ${error.expose ? String(error.message) : ''}`);
}

const ours = (root: string, options: ServeStaticOptions): Middleware => serveStatic(root, { ...options, etag: 'weak' });
const theirs = (root: string, options: ServeStaticOptions): Middleware =>
  serveStaticPeer(root, options as serveStaticPeer.ServeStaticOptions) as unknown as Middleware;

/** [description, path, request headers, method] */
type Case = [string, string, Record<string, string>?, string?];

const CASES: Case[] = [
  ['a file', '/data.bin'],
  ['a text file: charset', '/todo.txt'],
  ['HEAD', '/data.bin', {}, 'HEAD'],
  ['a missing file (fallthrough: next())', '/missing.txt'],
  ['a directory without its slash: 301 with send\'s page', '/sub'],
  ['a directory with its slash: the index', '/sub/'],
  ['a directory without an index', '/noindex/'],
  ['a file with a trailing slash', '/sub/a.txt/'],
  ['mounted: /static redirects to /static/, relative to originalUrl', '/static'],
  ['mounted: a query is kept in the redirect', '/static/sub?x=1&y=%20'],
  ['mounted: a file', '/static/sub/a.txt'],
  ['.. that stays inside the root is resolved', '/users/../todo.txt'],
  ['encoded .. inside', '/users/%2e%2e/todo.txt'],
  ['.. that climbs out: 403', '/../package.json'],
  ['encoded .. that climbs out: 403', '/%2e%2e/%2e%2e/etc/passwd'],
  ['a dotfile (ignore)', '/.env'],
  ['a file in a dot folder', '/sub/.hidden/x.txt'],
  ['malformed percent-encoding: 400', '/%zz'],
  ['NUL: 400', '/a%00b'],
  ['POST falls through', '/data.bin', {}, 'POST'],
  ['a range', '/data.bin', { Range: 'bytes=10-19' }],
  ['a suffix range', '/data.bin', { Range: 'bytes=-100' }],
  ['an open range', '/data.bin', { Range: 'bytes=99990-' }],
  ['overlapping ranges, combined', '/data.bin', { Range: 'bytes=0-9,5-20' }],
  ['disjoint ranges: the whole file', '/data.bin', { Range: 'bytes=0-1,5-6' }],
  ['an unsatisfiable range: 416 through next(err)', '/data.bin', { Range: 'bytes=200000-' }],
  ['a suffix longer than the file', '/data.bin', { Range: 'bytes=-200000' }],
  ['first > last', '/data.bin', { Range: 'bytes=5-1' }],
  ['another unit', '/data.bin', { Range: 'items=0-1' }],
  ['bad range syntax', '/data.bin', { Range: 'bytes=abc' }],
  ['If-None-Match: *', '/data.bin', { 'If-None-Match': '*' }],
  ['If-None-Match: another tag', '/data.bin', { 'If-None-Match': '"nope"' }],
  ['If-Modified-Since in the future', '/data.bin', { 'If-Modified-Since': new Date(Date.now() + 86_400_000).toUTCString() }],
  ['If-Modified-Since long ago', '/data.bin', { 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:01 GMT' }],
  ['no-cache wins over a matching validator', '/data.bin', { 'If-Modified-Since': new Date(Date.now() + 86_400_000).toUTCString(), 'Cache-Control': 'no-cache' }],
  ['If-Match that fails: 412 through next(err)', '/data.bin', { 'If-Match': '"nope"' }],
  ['If-Unmodified-Since long ago: 412', '/data.bin', { 'If-Unmodified-Since': 'Thu, 01 Jan 1970 00:00:01 GMT' }],
  ['a stale If-Range: the whole file', '/data.bin', { Range: 'bytes=0-9', 'If-Range': 'Thu, 01 Jan 1970 00:00:01 GMT' }],
  ['an empty file', '/empty.txt'],
  ['a percent-encoded name', '/hello%20world%20%C3%A9.txt'],
];

/** Both apps, side by side, for one set of options; the cases run against both. */
async function compare(t: import('ava').ExecutionContext, options: ServeStaticOptions, cases: Case[]): Promise<void> {
  const a = await listen(app(ours, options));
  const b = await listen(app(theirs, options));
  const statuses: Record<number, number> = {};
  try {
    for (const [what, path, headers = {}, method = 'GET'] of cases) {
      const [mine, peer] = await Promise.all([request(a.port, path, headers, method), request(b.port, path, headers, method)]);
      statuses[mine.status] = (statuses[mine.status] ?? 0) + 1;
      t.is(mine.status, peer.status, `${what}: status`);
      for (const name of COMPARED) t.is(mine.headers[name], peer.headers[name], `${what}: ${name}`);
      t.is(mine.body, peer.body, `${what}: body`);
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  t.log(`${JSON.stringify(options)}: ${cases.length} requests, statuses ${JSON.stringify(statuses)}`);
}

test('default options: every case answered as serve-static answers it', async (t) => {
  await compare(t, {}, CASES);
});

test('fallthrough: false: misses reach the app error handler as http-errors, rendered the same', async (t) => {
  await compare(t, { fallthrough: false }, CASES);
});

test('extensions, index, redirect: false, dotfiles, maxAge and immutable, cacheControl, acceptRanges, lastModified', async (t) => {
  const few: Case[] = [
    ['clean URL', '/about'],
    ['clean URL under a folder', '/users/list'],
    ['a name with an extension is not retried', '/todo.md'],
    ['the real name still works', '/about.html'],
    ['a directory', '/sub'],
    ['a directory with its slash', '/sub/'],
    ['a dotfile', '/.env'],
    ['a file', '/data.bin'],
    ['a range', '/data.bin', { Range: 'bytes=0-9' }],
  ];
  await compare(t, { extensions: ['html', 'txt'] }, few);
  await compare(t, { index: false, redirect: false }, few);
  await compare(t, { index: ['nope.html', 'a.txt'] }, few);
  await compare(t, { dotfiles: 'deny' }, few);
  await compare(t, { dotfiles: 'allow' }, few);
  await compare(t, { maxAge: '1d', immutable: true }, few);
  await compare(t, { maxAge: Infinity }, few);
  await compare(t, { maxAge: 60_000 }, few);
  await compare(t, { cacheControl: false, lastModified: false, acceptRanges: false }, few);
});

test('fallthrough: false hands next() an http-errors error of the same shape as serve-static', async (t) => {
  const shapes = async (make: (root: string, options: ServeStaticOptions) => Middleware) => {
    const seen: Record<string, unknown>[] = [];
    const application = express();
    application.use(make(site.root, { fallthrough: false }) as express.RequestHandler);
    application.use((error: Record<string, unknown>, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      seen.push({ name: error.name, status: error.status, statusCode: error.statusCode, expose: error.expose, code: error.code, headers: error.headers });
      res.status(Number(error.status)).end();
    });
    const { port, close } = await listen(http.createServer(application));
    try {
      for (const path of ['/missing.txt', '/.env', '/../x', '/%zz', '/sub/a.txt/', '/noindex/']) await request(port, path);
      await request(port, '/data.bin', { Range: 'bytes=999999-' });
      await request(port, '/data.bin', { 'If-Match': '"x"' });
    } finally {
      await close();
    }
    return seen;
  };
  const [mine, peer] = [await shapes(ours), await shapes(theirs)];
  t.deepEqual(mine, peer);
  t.like(mine[0], { name: 'Error', status: 404, statusCode: 404, expose: false, code: 'ENOENT' });
  t.like(mine[1], { name: 'NotFoundError', status: 404, expose: true });
  t.like(mine[2], { name: 'ForbiddenError', status: 403 });
  t.like(mine[3], { name: 'BadRequestError', status: 400 });
});

test('POST without fallthrough: 405 with Allow and an empty body, as serve-static', async (t) => {
  const pair = async (make: (root: string, options: ServeStaticOptions) => Middleware) => {
    const { port, close } = await listen(http.createServer((req, res) => make(site.root, { fallthrough: false })(req, res, () => res.end('next'))));
    try {
      return await request(port, '/data.bin', {}, 'POST');
    } finally {
      await close();
    }
  };
  const [mine, peer] = [await pair(ours), await pair(theirs)];
  t.is(mine.status, 405);
  t.is(mine.status, peer.status);
  t.is(mine.headers.allow, peer.headers.allow);
  t.is(mine.headers['content-length'], peer.headers['content-length']);
  t.is(mine.body, peer.body);
});

test('a status the app set before (a custom error page) is kept, and never turned into a 304', async (t) => {
  const cases: Case[] = [
    ['the page', '/index.html'],
    ['with a matching validator', '/index.html', { 'If-Modified-Since': new Date(Date.now() + 86_400_000).toUTCString() }],
  ];
  const make = (inner: (root: string, options: ServeStaticOptions) => Middleware) => (root: string, options: ServeStaticOptions): Middleware => {
    const middleware = inner(root, options);
    return (req, res, next) => {
      res.statusCode = 503;
      middleware(req, res, next);
    };
  };
  const a = await listen(app(make(ours), {}));
  const b = await listen(app(make(theirs), {}));
  try {
    for (const [what, path, headers = {}] of cases) {
      const [mine, peer] = await Promise.all([request(a.port, path, headers), request(b.port, path, headers)]);
      t.is(mine.status, 503, what);
      t.is(mine.status, peer.status, what);
      t.is(mine.body, peer.body, what);
    }
    // Where serve-static (send) would still make a 206 of a 503, zerosend keeps the 503 and the
    // whole page: a range applies to a 200 (RFC 9110 §14.2).
    const ranged = await request(a.port, '/index.html', { Range: 'bytes=0-3' });
    t.is(ranged.status, 503);
    t.is(ranged.body, site.files['index.html']!.toString('latin1'));
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('a root that is a file serves that file where it is mounted, as serve-static', async (t) => {
  const file = join(site.root, 'todo.txt');
  const build = (make: (root: string, options: ServeStaticOptions) => Middleware) => {
    const application = express();
    application.use('/todo', make(file, {}) as express.RequestHandler);
    application.use(renderError);
    return http.createServer(application);
  };
  const a = await listen(build(ours));
  const b = await listen(build(theirs));
  try {
    for (const path of ['/todo', '/todo/', '/todo/x']) {
      const [mine, peer] = await Promise.all([request(a.port, path), request(b.port, path)]);
      t.is(mine.status, peer.status, path);
      t.is(mine.body, peer.body, path);
    }
    t.is((await request(a.port, '/todo')).body, 'todo\n');
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test("a missing or non-string root throws serve-static's messages", (t) => {
  for (const root of [undefined, '']) {
    t.throws(() => serveStatic(root as unknown as string), { message: 'root path required' });
    t.throws(() => serveStaticPeer(root as unknown as string), { message: 'root path required' });
  }
  t.throws(() => serveStatic(42 as unknown as string), { message: 'root path must be a string', code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => serveStaticPeer(42 as unknown as string), { message: 'root path must be a string' });
});

test('options are validated when the middleware is made, with Node-style codes', (t) => {
  const bad: Array<[ServeStaticOptions, string]> = [
    [{ extensions: [3] as unknown as string[] }, 'ERR_INVALID_ARG_TYPE'],
    [{ extensions: [''] }, 'ERR_INVALID_ARG_TYPE'],
    [{ index: 3 as unknown as string }, 'ERR_INVALID_ARG_TYPE'],
    [{ fallthrough: 'no' as unknown as boolean }, 'ERR_INVALID_ARG_TYPE'],
    [{ redirect: 1 as unknown as boolean }, 'ERR_INVALID_ARG_TYPE'],
    [{ maxAge: 'a while' }, 'ERR_INVALID_ARG_VALUE'],
    [{ maxAge: -5 }, 'ERR_INVALID_ARG_VALUE'],
    [{ etag: 'yes' as unknown as boolean }, 'ERR_INVALID_ARG_VALUE'],
    [{ dotfiles: 'hide' as 'ignore' }, 'ERR_INVALID_ARG_VALUE'],
    [{ setHeaders: 'x' as unknown as ServeStaticOptions['setHeaders'] }, 'ERR_INVALID_ARG_TYPE'],
    [{ openFileCache: { max: -1 } }, 'ERR_INVALID_ARG_VALUE'],
  ];
  for (const [options, code] of bad) t.throws(() => serveStatic(site.root, options), { code }, JSON.stringify(options));
  t.throws(() => serveStatic(site.root, 'x' as unknown as ServeStaticOptions), { code: 'ERR_INVALID_ARG_TYPE' });
  t.notThrows(() => serveStatic(site.root, { maxAge: Infinity, extensions: ['.html', 'htm'], index: false }));
  t.notThrows(() => serveStatic(site.root, { extensions: 'html' as unknown as string[], index: 'home.html' }), 'one string, as serve-static takes it');
});
