/**
 * zerosend/koa with the real Koa 3: `serve()` as koa-static (hits answered, misses and other
 * methods to `next()`, index and `format`, `hidden`/`dotfiles`, `extensions`, precompressed
 * variants, `defer`, ranges and conditionals, paths out of the root) and `send()` as koa-send (the
 * path it resolves with, 404 and 403 for Koa's error handling, headers and status the app set,
 * downloads), the status an upstream logger sees, large bodies, keep-alive, clients that hang up,
 * and the same requests side by side with koa-static and koa-send.
 */
// First: it counts file reads made through `fs` from before zerosend loads (see countJsFileReads).
import { countJsFileReads, hangUpAfter, request, until } from './helpers/frameworks';

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';

import test from 'ava';
import Koa from 'koa';
import koaSend from 'koa-send';
import koaStatic from 'koa-static';

import { ZerosendError } from '../src';
import { send, serve } from '../src/http/frameworks/koa';
import { ensureBuilt } from './helpers/cli-process';
import { hasNative } from './helpers/native';
import { MiB, tempDir } from './helpers/net';
import { checkPipelined, curl, curlRaw, listen, makeSite, rawGet, rawGetRequest, rawRequest, SECRETS } from './helpers/static-site';

const site = makeSite();
const data = site.files['data.bin']!;
const big = randomBytes(8 * MiB);
writeFileSync(join(site.root, 'big.bin'), big);
/** Large enough that a client hanging up early always leaves the server with bytes to send. */
writeFileSync(join(site.root, 'huge.bin'), Buffer.alloc(48 * MiB, 3));
writeFileSync(join(site.root, 'about.html'), '<h1>about</h1>\n');
writeFileSync(join(site.root, '404.html'), '<h1>custom not found</h1>\n');

type KoaError = Error & { status?: number; expose?: boolean; headerSent?: boolean; code?: string };

interface Server {
  url: string;
  port: number;
  /** What Koa emitted as 'error' (its default listener would print them). */
  errors: KoaError[];
  /** `METHOD url status` as an upstream logging middleware saw it after `await next()`. */
  seen: string[];
}

/** A Koa app whose first middleware logs the status after `await next()`; `build` adds the rest. */
async function withKoa(build: (app: Koa) => void, run: (server: Server) => Promise<void>): Promise<void> {
  const app = new Koa();
  const errors: KoaError[] = [];
  const seen: string[] = [];
  app.on('error', (error: KoaError) => errors.push(error));
  app.use(async (ctx, next) => {
    try {
      await next();
      seen.push(`${ctx.method} ${ctx.url} ${ctx.status}`);
    } catch (error) {
      seen.push(`${ctx.method} ${ctx.url} threw ${(error as KoaError).status}`);
      throw error;
    }
  });
  build(app);
  const { url, port, close } = await listen(http.createServer(app.callback()));
  try {
    await run({ url, port, errors, seen });
  } finally {
    await close();
  }
}

/** The middleware that answers what nothing before it did. */
const downstream = async (ctx: Koa.Context): Promise<void> => {
  ctx.body = `downstream ${ctx.method} ${ctx.path}`;
};

// ---- The package entry points ----

test('require() and import() of zerosend/koa give the same serve and send, which work', async (t) => {
  await ensureBuilt();
  const required = require('zerosend/koa') as { serve: typeof serve; send: typeof send };
  const specifier = 'zerosend/koa';
  const imported = (await import(specifier)) as { serve: typeof serve; send: typeof send };
  t.is(typeof required.serve, 'function');
  t.is(typeof required.send, 'function');
  t.is(imported.serve, required.serve);
  t.is(imported.send, required.send);
  await withKoa(
    (app) => app.use(required.serve(site.root)),
    async ({ url }) => {
      const response = await curl(`${url}/data.bin`);
      t.is(response.status, 200);
      t.true(response.body.equals(data));
    },
  );
});

// ---- serve() ----

test('serve: GET sends the file with type, length and validators; HEAD the same headers and no body; ctx.status 200', async (t) => {
  await withKoa(
    (app) => app.use(serve(site.root)),
    async ({ url, port, seen }) => {
      const get = await curl(`${url}/data.bin`);
      t.is(get.status, 200);
      t.true(get.body.equals(data));
      t.is(get.headers['content-type'], 'application/octet-stream');
      t.is(get.headers['content-length'], String(data.length));
      t.regex(get.headers.etag ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
      t.truthy(Date.parse(get.headers['last-modified'] ?? ''));
      t.is(get.headers['transfer-encoding'], undefined);
      const head = (await rawRequest(port, 'HEAD /data.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toString('latin1');
      t.regex(head, /^HTTP\/1\.1 200 /);
      t.is(head.indexOf('\r\n\r\n'), head.length - 4, 'nothing after the headers');
      t.regex(head, new RegExp(`content-length: ${data.length}\r\n`, 'i'));
      t.is((await curl(`${url}/style.css`)).headers['content-type'], 'text/css; charset=utf-8');
      t.deepEqual(seen, ['GET /data.bin 200', 'HEAD /data.bin 200', 'GET /style.css 200']);
    },
  );
});

test('serve: a miss and other methods go to next(); with nothing after it, Koa answers 404', async (t) => {
  await withKoa(
    (app) => {
      app.use(serve(site.root));
      app.use(async (ctx, next) => {
        if (ctx.path !== '/unanswered') return downstream(ctx);
        await next();
      });
    },
    async ({ url, seen, errors }) => {
      t.is((await curl(`${url}/missing.txt`)).body.toString(), 'downstream GET /missing.txt');
      t.is((await curl('-X', 'POST', `${url}/data.bin`)).body.toString(), 'downstream POST /data.bin');
      t.is((await curl('-X', 'DELETE', `${url}/data.bin`)).body.toString(), 'downstream DELETE /data.bin');
      t.is((await curl(`${url}/sub/a.txt/`)).body.toString(), 'downstream GET /sub/a.txt/', 'a file asked for as a directory');
      t.is((await curl(`${url}/noindex/`)).body.toString(), 'downstream GET /noindex/', 'a directory without index.html');
      const unanswered = await curl(`${url}/unanswered`);
      t.is(unanswered.status, 404);
      t.is(unanswered.body.toString(), 'Not Found');
      t.is(seen.at(-1), 'GET /unanswered 404');
      t.deepEqual(errors, []);
    },
  );
});

test('serve: index.html for a directory, with or without its slash (format); format: false and index: false', async (t) => {
  await withKoa(
    (app) => {
      app.use(serve(site.root));
      app.use(downstream);
    },
    async ({ url }) => {
      t.true((await curl(`${url}/`)).body.equals(site.files['index.html']!));
      t.true((await curl(`${url}/sub/`)).body.equals(site.files['sub/index.html']!));
      const noSlash = await curl(`${url}/sub`);
      t.is(noSlash.status, 200, 'no redirect');
      t.true(noSlash.body.equals(site.files['sub/index.html']!));
    },
  );
  await withKoa(
    (app) => {
      app.use(serve(site.root, { format: false }));
      app.use(downstream);
    },
    async ({ url }) => {
      t.is((await curl(`${url}/sub`)).body.toString(), 'downstream GET /sub');
      t.true((await curl(`${url}/sub/`)).body.equals(site.files['sub/index.html']!));
    },
  );
  await withKoa(
    (app) => {
      app.use(serve(site.root, { index: false }));
      app.use(downstream);
    },
    async ({ url }) => {
      t.is((await curl(`${url}/sub/`)).body.toString(), 'downstream GET /sub/');
    },
  );
});

test("serve: dotfiles are misses by default; hidden: true serves them; dotfiles: 'deny' is a 403; hidden and dotfiles together are refused", async (t) => {
  await withKoa(
    (app) => {
      app.use(serve(site.root));
      app.use(downstream);
    },
    async ({ url }) => {
      t.is((await curl(`${url}/.env`)).body.toString(), 'downstream GET /.env');
      t.is((await curl(`${url}/sub/.hidden/x.txt`)).body.toString(), 'downstream GET /sub/.hidden/x.txt');
    },
  );
  await withKoa(
    (app) => app.use(serve(site.root, { hidden: true })),
    async ({ url }) => {
      t.true((await curl(`${url}/.env`)).body.equals(site.files['.env']!));
    },
  );
  await withKoa(
    (app) => {
      app.use(serve(site.root, { dotfiles: 'deny' }));
      app.use(downstream);
    },
    async ({ url, errors }) => {
      const denied = await curl(`${url}/sub/.hidden/x.txt`);
      t.is(denied.status, 403);
      t.is(denied.body.toString(), 'Forbidden');
      t.is(errors[0]?.status, 403);
    },
  );
  t.throws(() => serve(site.root, { hidden: true, dotfiles: 'allow' }), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => serve(''), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => serve(site.root, { maxage: -5 }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('serve: extensions make clean URLs', async (t) => {
  await withKoa(
    (app) => {
      app.use(serve(site.root, { extensions: ['.htm', 'html'] }));
      app.use(downstream);
    },
    async ({ url }) => {
      const about = await curl(`${url}/about`);
      t.is(about.body.toString(), '<h1>about</h1>\n');
      t.is(about.headers['content-type'], 'text/html; charset=utf-8');
      t.is((await curl(`${url}/nothing`)).body.toString(), 'downstream GET /nothing');
    },
  );
});

test('serve: .br and .gz variants by default (as koa-send), typed as the original, with Vary; brotli: false and gzip: false', async (t) => {
  await withKoa(
    (app) => app.use(serve(site.root)),
    async ({ url }) => {
      const br = await curl('-H', 'Accept-Encoding: gzip, br', `${url}/app.js`);
      t.is(br.headers['content-encoding'], 'br');
      t.true(br.body.equals(site.files['app.js.br']!));
      t.is(br.headers['content-type'], 'text/javascript; charset=utf-8');
      t.is(br.headers.vary, 'Accept-Encoding');
      const gzip = await curl('-H', 'Accept-Encoding: gzip', `${url}/app.js`);
      t.is(gzip.headers['content-encoding'], 'gzip');
      t.true(gzip.body.equals(site.files['app.js.gz']!));
      const identity = await curl(`${url}/app.js`);
      t.is(identity.headers['content-encoding'], undefined);
      t.true(identity.body.equals(site.files['app.js']!));
    },
  );
  await withKoa(
    (app) => app.use(serve(site.root, { brotli: false })),
    async ({ url }) => {
      t.is((await curl('-H', 'Accept-Encoding: gzip, br', `${url}/app.js`)).headers['content-encoding'], 'gzip');
    },
  );
  await withKoa(
    (app) => app.use(serve(site.root, { brotli: false, gzip: false })),
    async ({ url }) => {
      const plain = await curl('-H', 'Accept-Encoding: gzip, br', `${url}/app.js`);
      t.is(plain.headers['content-encoding'], undefined);
      t.true(plain.body.equals(site.files['app.js']!));
      t.is(plain.headers.vary, undefined);
    },
  );
});

test('serve with defer: downstream answers first; the file only when nothing did', async (t) => {
  await withKoa(
    (app) => {
      app.use(serve(site.root, { defer: true }));
      app.use(async (ctx) => {
        if (ctx.path === '/sub/a.txt') ctx.body = 'downstream won';
        if (ctx.path === '/status-only') ctx.status = 204;
      });
    },
    async ({ url, seen }) => {
      t.is((await curl(`${url}/sub/a.txt`)).body.toString(), 'downstream won');
      t.true((await curl(`${url}/data.bin`)).body.equals(data));
      t.is((await curl(`${url}/status-only`)).status, 204);
      t.is((await curl(`${url}/missing`)).status, 404);
      t.is((await curl('-X', 'POST', `${url}/data.bin`)).status, 404, 'only GET and HEAD');
      t.deepEqual(seen, ['GET /sub/a.txt 200', 'GET /data.bin 200', 'GET /status-only 204', 'GET /missing 404', 'POST /data.bin 404']);
    },
  );
});

test('serve: ranges and conditional requests; the upstream logger sees 200, 206, 304, 412, 416 and 404 as sent', async (t) => {
  await withKoa(
    (app) => app.use(serve(site.root)),
    async ({ url, seen }) => {
      const whole = await curl(`${url}/data.bin`);
      const etag = whole.headers.etag!;
      const ranged = await curl('-H', 'Range: bytes=100-199', `${url}/data.bin`);
      t.is(ranged.status, 206);
      t.is(ranged.headers['content-range'], `bytes 100-199/${data.length}`);
      t.true(ranged.body.equals(data.subarray(100, 200)));
      const notModified = await curl('-H', `If-None-Match: ${etag}`, `${url}/data.bin`);
      t.is(notModified.status, 304);
      t.is(notModified.body.length, 0);
      t.is((await curl('-H', `If-Modified-Since: ${whole.headers['last-modified']}`, `${url}/data.bin`)).status, 304);
      t.is((await curl('-H', 'If-Match: "other"', `${url}/data.bin`)).status, 412);
      const unsatisfiable = await curl('-H', 'Range: bytes=100000-', `${url}/data.bin`);
      t.is(unsatisfiable.status, 416);
      t.is(unsatisfiable.headers['content-range'], `bytes */${data.length}`);
      const stale = await curl('-H', 'Range: bytes=0-9', '-H', 'If-Range: "stale"', `${url}/data.bin`);
      t.is(stale.status, 200);
      t.true(stale.body.equals(data));
      await curl(`${url}/missing`);
      t.deepEqual(seen, [
        'GET /data.bin 200',
        'GET /data.bin 206',
        'GET /data.bin 304',
        'GET /data.bin 304',
        'GET /data.bin 412',
        'GET /data.bin 416',
        'GET /data.bin 200',
        'GET /missing 404',
      ]);
    },
  );
});

test('serve: a path that climbs out of the root is a 403 through Koa; nothing outside the root is ever sent', async (t) => {
  await withKoa(
    (app) => {
      app.use(serve(site.root));
      app.use(downstream);
    },
    async ({ port, errors }) => {
      const forbidden = [
        '/../outside/secret.txt',
        '/sub/../../outside/secret.txt',
        '/%2e%2e/outside/secret.txt',
        '/%2E%2E%2Foutside%2Fsecret.txt',
        '/..%5c..%5coutside%5csecret.txt',
        '/escape.txt',
        '/escape-dir/secret.txt',
      ];
      for (const target of forbidden) {
        const { status, text } = await rawGet(port, target);
        t.is(status, 403, target);
        for (const secret of SECRETS) t.false(text.includes(secret), `${target} leaked ${secret}`);
      }
      t.true(errors.length >= forbidden.length && errors.every((error) => error.status === 403));
      const inside = await rawGet(port, '/sub/../data.bin');
      t.is(inside.status, 200, 'a .. that stays inside the root is resolved (as koa-send)');
      t.is((await rawGet(port, '/x%00y')).status, 400);
      t.is((await rawGet(port, '/%ZZ')).status, 400);
    },
  );
});

// ---- send() ----

test('send: resolves with the file path once the response is written; ctx.status 200 although Koa starts at 404', async (t) => {
  const resolved: Array<{ path: string; ended: boolean; status: number }> = [];
  await withKoa(
    (app) =>
      app.use(async (ctx) => {
        const path = await send(ctx, ctx.path.slice('/files/'.length), { root: site.root });
        resolved.push({ path, ended: ctx.res.writableEnded, status: ctx.status });
      }),
    async ({ url, seen }) => {
      t.true((await curl(`${url}/files/big.bin`)).body.equals(big));
      t.is((await curl('-I', `${url}/files/sub/a.txt`)).status, 200);
      t.true((await curl(`${url}/files/hello%20world%20%C3%A9.txt`)).body.equals(site.files['hello world é.txt']!), 'decoded once, as ctx.path');
      t.deepEqual(resolved, [
        { path: join(site.root, 'big.bin'), ended: true, status: 200 },
        { path: join(site.root, 'sub', 'a.txt'), ended: true, status: 200 },
        { path: join(site.root, 'hello world é.txt'), ended: true, status: 200 },
      ]);
      t.deepEqual(seen, ['GET /files/big.bin 200', 'HEAD /files/sub/a.txt 200', 'GET /files/hello%20world%20%C3%A9.txt 200']);
    },
  );
});

test('send: a miss throws 404 (Koa renders it), a path out of the root 403, a hidden file 404; nothing leaks', async (t) => {
  await withKoa(
    (app) => app.use(async (ctx) => void (await send(ctx, ctx.path.slice('/files/'.length), { root: site.root }))),
    async ({ url, errors, seen }) => {
      const missing = await curl(`${url}/files/no-such.txt`);
      t.is(missing.status, 404);
      t.is(missing.body.toString(), 'Not Found', 'the server path is not exposed');
      t.is((await curl(`${url}/files/.env`)).status, 404);
      t.is((await curl(`${url}/files/sub`)).status, 404, 'a directory, without an index for send()');
      const climbing = await curl(`${url}/files/..%2Foutside%2Fsecret.txt`);
      t.is(climbing.status, 403);
      t.false(climbing.body.toString().includes('OUTSIDE'));
      t.is((await curl(`${url}/files/escape.txt`)).status, 403);
      t.is((await curl(`${url}/files/%E0%A4%A`)).status, 400, 'malformed percent-encoding');
      t.deepEqual(
        errors.map((error) => error.status),
        [404, 404, 404, 403, 403, 400],
      );
      t.true(errors.every((error) => error.headerSent !== true), 'nothing was written before');
      t.deepEqual(seen, [
        'GET /files/no-such.txt threw 404',
        'GET /files/.env threw 404',
        'GET /files/sub threw 404',
        'GET /files/..%2Foutside%2Fsecret.txt threw 403',
        'GET /files/escape.txt threw 403',
        'GET /files/%E0%A4%A threw 400',
      ]);
    },
  );
});

test('send: headers set with ctx.set() and ctx.type go out and win; an explicit ctx.status = 404 is kept for a custom page', async (t) => {
  await withKoa(
    (app) =>
      app.use(async (ctx) => {
        if (ctx.path === '/headers') {
          ctx.set('X-Custom', '1');
          ctx.set('Cache-Control', 'no-store');
          ctx.type = 'application/x-custom';
          await send(ctx, 'sub/a.txt', { root: site.root });
        } else if (ctx.path === '/not-found-page') {
          ctx.status = 404;
          await send(ctx, '404.html', { root: site.root });
        }
      }),
    async ({ url, seen }) => {
      const headers = await curl(`${url}/headers`);
      t.is(headers.status, 200);
      t.is(headers.headers['x-custom'], '1');
      t.is(headers.headers['cache-control'], 'no-store');
      t.is(headers.headers['content-type'], 'application/x-custom');
      t.true(headers.body.equals(site.files['sub/a.txt']!));
      const page = await curl('-H', 'Range: bytes=0-3', `${url}/not-found-page`);
      t.is(page.status, 404);
      t.is(page.body.toString(), '<h1>custom not found</h1>\n', 'the whole page: ranges apply to a 200');
      t.is(page.headers['content-type'], 'text/html; charset=utf-8');
      t.is((await curl(`${url}/not-found-page`)).status, 404, 'no 304 from a 404 either');
      t.deepEqual(seen, ['GET /headers 200', 'GET /not-found-page 404', 'GET /not-found-page 404']);
    },
  );
});

test("send: options as koa-send's (maxage, immutable, setHeaders, hidden, index), and download", async (t) => {
  await withKoa(
    (app) =>
      app.use(async (ctx) => {
        const options = {
          '/cached': { maxage: 3_600_000, immutable: true },
          '/set-headers': { setHeaders: (res: http.ServerResponse, path: string) => res.setHeader('X-Path', path) },
          '/hidden': { hidden: true },
          '/index': { index: 'index.html' },
          '/download': { download: true },
          '/download-named': { download: 'name é.txt' },
        }[ctx.path];
        const file = { '/hidden': '.env', '/index': 'sub/' }[ctx.path] ?? 'sub/a.txt';
        await send(ctx, file, { root: site.root, ...options });
      }),
    async ({ url }) => {
      t.is((await curl(`${url}/cached`)).headers['cache-control'], 'public, max-age=3600, immutable');
      t.is((await curl(`${url}/set-headers`)).headers['x-path'], join(site.root, 'sub', 'a.txt'));
      t.true((await curl(`${url}/hidden`)).body.equals(site.files['.env']!));
      t.true((await curl(`${url}/index`)).body.equals(site.files['sub/index.html']!));
      const download = await curl(`${url}/download`);
      t.is(download.headers['content-disposition'], 'attachment; filename=a.txt');
      t.true(download.body.equals(site.files['sub/a.txt']!));
      t.is((await curl(`${url}/download-named`)).headers['content-disposition'], `attachment; filename="name ?.txt"; filename*=UTF-8''name%20%C3%A9.txt`);
    },
  );
});

test('send: bad arguments are refused before anything is written', async (t) => {
  await withKoa(
    (app) =>
      app.use(async (ctx) => {
        const attempts: Array<() => Promise<unknown>> = [
          () => send(ctx, '', { root: site.root }),
          () => send(ctx, 'a.txt', { root: 5 as never }),
          () => send(ctx, 'a.txt', { root: site.root, index: 7 as never }),
          () => send(null as never, 'a.txt'),
        ];
        const codes: string[] = [];
        for (const attempt of attempts) await attempt().catch((error: KoaError) => codes.push(error.code ?? 'none'));
        ctx.body = codes.join(' ');
      }),
    async ({ url }) => {
      const response = await curl(`${url}/`);
      t.is(response.status, 200);
      t.is(response.body.toString(), 'ERR_INVALID_ARG_TYPE ERR_INVALID_ARG_TYPE ERR_INVALID_ARG_TYPE ERR_INVALID_ARG_TYPE');
    },
  );
});

// ---- Bodies, connections, faults ----

test('8 MiB: exact through serve(), send() and a range; several requests on one keep-alive connection', async (t) => {
  await withKoa(
    (app) => {
      app.use(async (ctx, next) => {
        if (ctx.path === '/api/big') return void (await send(ctx, 'big.bin', { root: site.root }));
        await next();
      });
      app.use(serve(site.root));
    },
    async ({ url }) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const sockets = new Set<unknown>();
        for (let i = 0; i < 4; i++) {
          const whole = await request(agent, `${url}/big.bin`);
          t.true(whole.status === 200 && whole.body.equals(big), `serve ${i}`);
          const viaSend = await request(agent, `${url}/api/big`);
          t.true(viaSend.body.equals(big), `send ${i}`);
          const start = i * 1_000_003;
          const ranged = await request(agent, `${url}/big.bin`, { Range: `bytes=${start}-${start + 3 * MiB}` });
          t.is(ranged.status, 206);
          t.true(ranged.body.equals(big.subarray(start, start + 3 * MiB + 1)), `range ${i}`);
          const head = await request(agent, `${url}/big.bin`, {}, 'HEAD');
          t.is(head.body.length, 0);
          const missing = await request(agent, `${url}/missing-${i}`);
          t.is(missing.status, 404);
          for (const reply of [whole, viaSend, ranged, head, missing]) sockets.add(reply.socket);
        }
        t.is(sockets.size, 1, 'one connection for all of them');
      } finally {
        agent.destroy();
      }
    },
  );
});

test('pipelined requests on one connection are answered in order: serve(), send(), a miss, an index', async (t) => {
  await withKoa(
    (app) => {
      app.use(async (ctx, next) => {
        if (ctx.path === '/send') return void (await send(ctx, 'data.bin', { root: site.root }));
        await next();
      });
      app.use(serve(site.root));
    },
    async ({ port }) => {
      const get = rawGetRequest;
      const response = await rawRequest(port, get('/sub/a.txt') + get('/send') + get('/missing') + get('/sub') + get('/big.bin') + get('/style.css', 'Connection: close\r\n'));
      const expected: Array<[number, Buffer]> = [
        [200, site.files['sub/a.txt']!],
        [200, data],
        [404, Buffer.from('Not Found')],
        [200, site.files['sub/index.html']!],
        [200, big],
        [200, site.files['style.css']!],
      ];
      checkPipelined(t, response, expected);
    },
  );
});

test('serve() mounted under a prefix the way koa-mount does it (ctx.path rewritten): files under the prefix, query kept', async (t) => {
  const files = serve(site.root);
  await withKoa(
    (app) => {
      app.use(async (ctx, next) => {
        if (!ctx.path.startsWith('/static/')) return next();
        // koa-mount's own steps: the path without the prefix inside, the original one outside.
        const original = ctx.path;
        const mounted = original.slice('/static'.length);
        ctx.path = mounted;
        await files(ctx, async () => {
          ctx.path = original;
          await next();
          ctx.path = mounted;
        });
        ctx.path = original;
      });
      app.use(downstream);
    },
    async ({ url }) => {
      t.true((await curl(`${url}/static/sub/a.txt?v=1`)).body.equals(site.files['sub/a.txt']!));
      t.true((await curl(`${url}/static/sub`)).body.equals(site.files['sub/index.html']!));
      t.is((await curl(`${url}/sub/a.txt`)).body.toString(), 'downstream GET /sub/a.txt', 'not outside the mount');
      t.is((await curl(`${url}/static/missing`)).body.toString(), 'downstream GET /static/missing', 'a miss under the mount goes on');
    },
  );
});

// Serial: ava runs serial tests before the concurrent ones, so the count is this test's server only.
test.serial('bodies do not pass through JavaScript with the native binding (the stream fallback reads them)', async (t) => {
  await withKoa(
    (app) => {
      app.use(async (ctx, next) => {
        if (ctx.path === '/api/big') return void (await send(ctx, 'big.bin', { root: site.root }));
        await next();
      });
      app.use(serve(site.root));
    },
    async ({ url }) => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        const reads = await countJsFileReads(async () => {
          t.true((await request(agent, `${url}/big.bin`)).body.equals(big));
          t.true((await request(agent, `${url}/api/big`)).body.equals(big));
        });
        if (hasNative) t.is(reads, 0, 'zero-copy: no file read through fs');
        else t.true(reads > 0, 'the fallback streams the file: the spy sees it');
      } finally {
        agent.destroy();
      }
    },
  );
});

test('clients that hang up mid-download: no crash, send() rejects (serve() does not), the next request is served', async (t) => {
  let settled = 0;
  await withKoa(
    (app) => {
      app.use(async (ctx, next) => {
        if (ctx.path !== '/api/huge') return next();
        try {
          await send(ctx, 'huge.bin', { root: site.root });
        } finally {
          settled += 1;
        }
      });
      app.use(async (ctx, next) => {
        await next();
        if (ctx.path === '/huge.bin') settled += 1;
      });
      app.use(serve(site.root));
    },
    async ({ url, port, errors }) => {
      await hangUpAfter(port, '/huge.bin', 256 * 1024);
      await hangUpAfter(port, '/huge.bin', 1 * MiB, true);
      await hangUpAfter(port, '/api/huge', 512 * 1024);
      await hangUpAfter(port, '/api/huge', 1 * MiB, true);
      // curl gives up after a second at 1 MB/s: 48 MiB would take far longer.
      await t.throwsAsync(curlRaw(['-sS', '--limit-rate', '1M', '--max-time', '1', '-o', '/dev/null', `${url}/huge.bin`]));
      await until(() => settled === 5, 20_000, 'every middleware to settle');
      // Koa itself reports a socket error on a response it watches (it does so for koa-static's
      // streams too); what zerosend adds is the rejection of each send() whose body was cut short.
      const rejections = errors.filter((error): error is ZerosendError => error instanceof ZerosendError);
      t.is(rejections.length, 2, 'the two send() calls reject; serve() does not');
      for (const error of rejections) {
        t.true(['ERR_SOCKET_CLOSED', 'EPIPE', 'ECONNRESET'].includes(error.code), error.code);
        t.true(error.bytes! < 48 * MiB, 'says how many body bytes went');
      }
      t.true(errors.every((error) => error.headerSent === true), 'Koa knows the headers went out: it writes nothing more');
      const next = await curl(`${url}/big.bin`);
      t.is(next.status, 200);
      t.true(next.body.equals(big));
      t.is((await curl(`${url}/api/huge`)).body.length, 48 * MiB);
    },
  );
});

// ---- Side by side with koa-static and koa-send ----

test('the same requests answered side by side with koa-static and koa-send: status, type, length, encoding, body', async (t) => {
  const start = async (useServe: typeof serve | typeof koaStatic, useSend: typeof send | typeof koaSend): Promise<{ url: string; close: () => Promise<void> }> => {
    const app = new Koa();
    app.silent = true;
    app.use(async (ctx, next) => {
      if (!ctx.path.startsWith('/send/')) return next();
      await (useSend as typeof koaSend)(ctx, ctx.path.slice('/send/'.length), { root: site.root });
    });
    app.use((useServe as typeof koaStatic)(site.root));
    app.use(async (ctx) => {
      if (ctx.path === '/fall-through') ctx.body = 'downstream';
    });
    return listen(http.createServer(app.callback()));
  };
  const ours = await start(serve, send);
  const theirs = await start(koaStatic, koaSend);
  try {
    // Where both document the same behaviour. (By design, only zerosend sends Vary with its
    // precompressed negotiation, answers Range, and refuses symlinks out of the root.)
    const requests: Array<[string, ...string[]]> = [
      ['/data.bin'],
      ['/style.css'],
      ['/app.js'],
      ['/index.html'],
      ['/'],
      ['/sub'],
      ['/sub/'],
      ['/noindex/'],
      ['/missing'],
      ['/fall-through'],
      ['/empty.txt'],
      ['/hello%20world%20%C3%A9.txt'],
      ['/.env'],
      ['/sub/.hidden/x.txt'],
      ['/app.js', '-H', 'Accept-Encoding: br'],
      ['/app.js', '-H', 'Accept-Encoding: gzip'],
      ['/app.js', '-H', 'Accept-Encoding: gzip, br'],
      ['/sub/../data.bin', '--path-as-is'],
      ['/../outside/secret.txt', '--path-as-is'],
      ['/%2e%2e/outside/secret.txt', '--path-as-is'],
      ['/inside-link.txt'],
      ['/sub/a.txt/'],
      ['/data.bin', '-X', 'POST'],
      ['/send/sub/a.txt'],
      ['/send/.env'],
      ['/send/sub'],
      ['/send/..%2Foutside%2Fsecret.txt'],
    ];
    const describe = (response: Awaited<ReturnType<typeof curl>>): Record<string, unknown> => ({
      status: response.status,
      type: response.headers['content-type'],
      length: response.headers['content-length'],
      encoding: response.headers['content-encoding'],
      body: response.status < 400 ? response.body.toString('base64') : undefined,
    });
    for (const [path, ...args] of requests) {
      const [a, b] = await Promise.all([curl(...args, `${ours.url}${path}`), curl(...args, `${theirs.url}${path}`)]);
      t.deepEqual(describe(a), describe(b), `${path} ${args.join(' ')}`);
    }
    // Misses: the status is the same; koa-send's 404 message names the server path, ours does not.
    const [a, b] = await Promise.all([curl(`${ours.url}/send/missing`), curl(`${theirs.url}/send/missing`)]);
    t.is(a.status, 404);
    t.is(b.status, 404);
    t.false(a.body.toString().includes(site.root));
  } finally {
    await ours.close();
    await theirs.close();
  }
});

// A root made for this file: none of the tests above may see it.
test('serve and send never follow a symlink out of the root unless followSymlinks', async (t) => {
  const root = tempDir('zs-koa-links-');
  writeFileSync(join(root, 'plain.txt'), 'plain\n');
  const { symlinkSync } = await import('node:fs');
  symlinkSync(join(site.outside, 'secret.txt'), join(root, 'out.txt'));
  await withKoa(
    (app) => {
      app.use(async (ctx, next) => {
        if (ctx.path === '/send-followed') return void (await send(ctx, 'out.txt', { root, followSymlinks: true }));
        await next();
      });
      app.use(serve(root));
    },
    async ({ url }) => {
      t.is((await curl(`${url}/plain.txt`)).status, 200);
      t.is((await curl(`${url}/out.txt`)).status, 403);
      const followed = await curl(`${url}/send-followed`);
      t.is(followed.status, 200, 'followSymlinks: true follows it');
      t.true(followed.body.toString().startsWith('OUTSIDE-SECRET'));
    },
  );
});
