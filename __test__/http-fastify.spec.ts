/**
 * zerosend/fastify with the real Fastify 5: the serving route (status, headers, ranges,
 * conditionals, index, redirect, extensions, precompressed variants, dotfiles, path safety,
 * several roots), how it fits Fastify's lifecycle (hooks, not-found and error handlers, headers set
 * on the reply), `reply.sendFile()` / `reply.download()`, option checking at `register`, large
 * bodies, keep-alive, clients that hang up, and the same requests answered side by side with
 * @fastify/static. Real sockets, real files, curl and node:http as clients.
 */
// First: it counts file reads made through `fs` from before zerosend loads (see countJsFileReads).
import { countJsFileReads, hangUpAfter, request, until } from './helpers/frameworks';

import { mkdirSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

import test from 'ava';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';

import zerosendFastify = require('../src/http/frameworks/fastify');
import { ensureBuilt } from './helpers/cli-process';
import { hasNative } from './helpers/native';
import { MiB, tempDir } from './helpers/net';
import { checkPipelined, curl, curlRaw, makeSite, rawGet, rawGetRequest, rawRequest, SECRETS } from './helpers/static-site';

// Loaded untyped: @fastify/static's declarations of reply.sendFile()/download() would merge with
// zerosend's (the two plugins are never registered on one instance).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fastifyStatic = require('@fastify/static') as FastifyPluginAsync<{ root: string; prefix: string }>;

const site = makeSite();
const data = site.files['data.bin']!;
const big = randomBytes(8 * MiB);
writeFileSync(join(site.root, 'big.bin'), big);
/** Large enough that a client hanging up early always leaves the server with bytes to send. */
writeFileSync(join(site.root, 'huge.bin'), Buffer.alloc(48 * MiB, 3));
writeFileSync(join(site.root, 'about.html'), '<h1>about</h1>\n');
writeFileSync(join(site.root, '404.html'), '<h1>custom not found</h1>\n');
/** A second root: one file only it has, one the first root has too. */
const second = tempDir('zs-fastify-second-');
mkdirSync(join(second, 'sub'));
writeFileSync(join(second, 'only-second.txt'), 'only in the second root\n');
writeFileSync(join(second, 'sub', 'a.txt'), 'the second root’s sub/a.txt\n');
/** A root for `reply.sendFile(path, otherRoot)`. */
const other = tempDir('zs-fastify-other-');
writeFileSync(join(other, 'report.txt'), 'a report from another root\n');

interface App {
  app: FastifyInstance;
  url: string;
  port: number;
}

/** A Fastify app on a free port: `setup` registers what the test needs; closed afterwards. */
async function withApp(
  setup: (app: FastifyInstance) => unknown,
  run: (server: App) => Promise<void>,
  options: FastifyServerOptions = {},
): Promise<void> {
  const app = Fastify({ forceCloseConnections: true, ...options });
  try {
    await setup(app);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    await run({ app, url, port: (app.server.address() as AddressInfo).port });
  } finally {
    await app.close();
  }
}

/** Records `METHOD url status` from Fastify's onResponse hook. */
function recordResponses(app: FastifyInstance): string[] {
  const seen: string[] = [];
  app.addHook('onResponse', async (request, reply) => {
    seen.push(`${request.method} ${request.url} ${reply.statusCode}`);
  });
  return seen;
}

/** A logger stream that keeps Fastify's JSON lines. */
function logLines(): { lines: Array<{ level: number; msg: string }>; stream: { write(line: string): void } } {
  const lines: Array<{ level: number; msg: string }> = [];
  return { lines, stream: { write: (line: string) => void lines.push(JSON.parse(line)) } };
}

// ---- The package entry points ----

test('require() and import() of zerosend/fastify name the same plugin function, which serves', async (t) => {
  await ensureBuilt();
  const required = require('zerosend/fastify') as typeof zerosendFastify;
  const specifier = 'zerosend/fastify';
  const imported = (await import(specifier)) as { default: typeof zerosendFastify; zerosendFastify: typeof zerosendFastify };
  t.is(typeof required, 'function');
  t.is(imported.default, required, 'the ES module default is the CommonJS export');
  t.is(imported.zerosendFastify, required, 'and so is its named export');
  t.is((required as unknown as { default: unknown }).default, required);
  t.is(required.zerosendFastify, required);
  t.is((required as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')], true, 'decorators reach the registering scope');
  await withApp(
    (app) => app.register(required, { root: site.root }),
    async ({ url }) => {
      const response = await curl(`${url}/data.bin`);
      t.is(response.status, 200);
      t.true(response.body.equals(data));
    },
  );
});

// ---- The serving route ----

test('GET under the prefix: 200, the file exact, its type, length and validators; HEAD: the same headers, no body', async (t) => {
  await withApp(
    (app) => app.register(zerosendFastify, { root: site.root, prefix: '/static/' }),
    async ({ url, port }) => {
      const get = await curl(`${url}/static/data.bin`);
      t.is(get.status, 200);
      t.true(get.body.equals(data));
      t.is(get.headers['content-type'], 'application/octet-stream');
      t.is(get.headers['content-length'], String(data.length));
      t.is(get.headers['accept-ranges'], 'bytes');
      t.regex(get.headers.etag ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
      t.truthy(Date.parse(get.headers['last-modified'] ?? ''));
      t.is(get.headers['transfer-encoding'], undefined);
      const head = await rawRequest(port, 'HEAD /static/data.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const text = head.toString('latin1');
      t.regex(text, /^HTTP\/1\.1 200 /);
      t.is(text.indexOf('\r\n\r\n'), text.length - 4, 'nothing after the headers');
      t.regex(text, new RegExp(`content-length: ${data.length}\r\n`, 'i'));
      t.true(text.toLowerCase().includes(`etag: ${get.headers.etag!}\r\n`.toLowerCase()), 'the same ETag');
      t.is((await curl(`${url}/data.bin`)).status, 404, 'nothing outside the prefix');
    },
  );
});

test('Content-Type by extension, with a charset for text', async (t) => {
  await withApp(
    (app) => app.register(zerosendFastify, { root: site.root }),
    async ({ url }) => {
      const types: Record<string, string> = {
        'style.css': 'text/css; charset=utf-8',
        'index.html': 'text/html; charset=utf-8',
        'sub/a.txt': 'text/plain; charset=utf-8',
        'data.bin': 'application/octet-stream',
        'app.js': 'text/javascript; charset=utf-8',
      };
      for (const [name, type] of Object.entries(types)) t.is((await curl(`${url}/${name}`)).headers['content-type'], type, name);
    },
  );
});

test('Range: 206 with Content-Range for one range, 200 for several, 416 through the error handler with Content-Range', async (t) => {
  const errors: Array<{ status: number; range?: string }> = [];
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root });
      // Set after the plugin was loaded, as @fastify/static allows: the route asks for the current one.
      app.setErrorHandler((error: Error & { statusCode?: number; headers?: Record<string, string> }, _request, reply) => {
        errors.push({ status: error.statusCode ?? 0, range: error.headers?.['Content-Range'] });
        // Fastify's default handler sends `error.headers`; a custom one does it itself.
        void reply
          .code(error.statusCode ?? 500)
          .headers(error.headers ?? {})
          .send(`handled ${error.statusCode}`);
      });
    },
    async ({ url }) => {
      for (const [spec, start, end] of [
        ['0-9', 0, 9],
        ['-100', 99_900, 99_999],
        ['99990-', 99_990, 99_999],
        ['50000-999999', 50_000, 99_999],
      ] as const) {
        const ranged = await curl('-H', `Range: bytes=${spec}`, `${url}/data.bin`);
        t.is(ranged.status, 206, spec);
        t.is(ranged.headers['content-range'], `bytes ${start}-${end}/${data.length}`, spec);
        t.is(ranged.headers['content-length'], String(end - start + 1), spec);
        t.true(ranged.body.equals(data.subarray(start, end + 1)), spec);
      }
      const several = await curl('-H', 'Range: bytes=0-1,5-6', `${url}/data.bin`);
      t.is(several.status, 200);
      t.true(several.body.equals(data));
      const unsatisfiable = await curl('-H', 'Range: bytes=100000-', `${url}/data.bin`);
      t.is(unsatisfiable.status, 416);
      t.is(unsatisfiable.headers['content-range'], `bytes */${data.length}`);
      t.is(unsatisfiable.body.toString(), 'handled 416');
      t.deepEqual(errors, [{ status: 416, range: `bytes */${data.length}` }]);
    },
  );
});

test('conditional requests: 304 by ETag and by date without a body, 412 for a failed If-Match, a stale If-Range gets the whole file', async (t) => {
  await withApp(
    (app) => app.register(zerosendFastify, { root: site.root }),
    async ({ url }) => {
      const { headers } = await curl(`${url}/data.bin`);
      const etag = headers.etag!;
      const notModified = await curl('-H', `If-None-Match: ${etag}`, `${url}/data.bin`);
      t.is(notModified.status, 304);
      t.is(notModified.body.length, 0);
      t.is(notModified.headers.etag, etag);
      t.is((await curl('-H', `If-Modified-Since: ${headers['last-modified']}`, `${url}/data.bin`)).status, 304);
      t.is((await curl('-H', 'If-None-Match: "other"', `${url}/data.bin`)).status, 200);
      t.is((await curl('-H', 'If-Match: "other"', `${url}/data.bin`)).status, 412);
      t.is((await curl('-H', `If-Match: ${etag}`, `${url}/data.bin`)).status, 200);
      const stale = await curl('-H', 'Range: bytes=0-9', '-H', 'If-Range: "stale"', `${url}/data.bin`);
      t.is(stale.status, 200);
      t.true(stale.body.equals(data));
      const fresh = await curl('-H', 'Range: bytes=0-9', '-H', `If-Range: ${etag}`, `${url}/data.bin`);
      t.is(fresh.status, 206);
      t.true(fresh.body.equals(data.subarray(0, 10)));
    },
  );
});

test('a directory: its index.html with or without the slash by default; redirect: true sends 301 to the slash, query and prefix kept', async (t) => {
  await withApp(
    (app) => app.register(zerosendFastify, { root: site.root, prefix: '/s' }),
    async ({ url }) => {
      for (const path of ['/s/', '/s/sub/', '/s/sub']) {
        const response = await curl(`${url}${path}`);
        t.is(response.status, 200, path);
        t.true(response.body.equals(path === '/s/' ? site.files['index.html']! : site.files['sub/index.html']!), path);
      }
      t.is((await curl(`${url}/s/noindex/`)).status, 404, 'no index.html: not found');
      t.is((await curl(`${url}/s`)).status, 404, 'without redirect, the prefix without its slash is not a route (as @fastify/static)');
    },
  );
  await withApp(
    (app) => app.register(zerosendFastify, { root: site.root, prefix: '/s', redirect: true }),
    async ({ url }) => {
      const redirect = await curl(`${url}/s/sub?x=1`);
      t.is(redirect.status, 301);
      t.is(redirect.headers.location, '/s/sub/?x=1');
      t.is((await curl(`${url}/s/sub/`)).status, 200);
      const prefixOnly = await curl(`${url}/s?y=2`);
      t.is(prefixOnly.status, 301, 'the prefix itself is a directory too (as @fastify/static)');
      t.is(prefixOnly.headers.location, '/s/?y=2');
      t.is((await curl(`${url}/s/`)).status, 200);
    },
  );
  await withApp(
    (app) => app.register(zerosendFastify, { root: site.root, index: false }),
    async ({ url }) => {
      t.is((await curl(`${url}/sub/`)).status, 403, "index: false: send's 403 for a directory, as @fastify/static");
      t.is((await curl(`${url}/sub`)).status, 404, 'index: false, without the slash: the not-found handler');
    },
  );
});

test('extensions: a clean URL serves the first matching file', async (t) => {
  await withApp(
    (app) => app.register(zerosendFastify, { root: site.root, extensions: ['htm', 'html'] }),
    async ({ url }) => {
      const about = await curl(`${url}/about`);
      t.is(about.status, 200);
      t.is(about.body.toString(), '<h1>about</h1>\n');
      t.is(about.headers['content-type'], 'text/html; charset=utf-8');
      t.is((await curl(`${url}/nothing`)).status, 404);
    },
  );
});

test('preCompressed: .br or .gz to clients that accept them, typed as the original, Vary on Accept-Encoding', async (t) => {
  await withApp(
    (app) => app.register(zerosendFastify, { root: site.root, preCompressed: true }),
    async ({ url }) => {
      const br = await curl('-H', 'Accept-Encoding: gzip, br', `${url}/app.js`);
      t.is(br.headers['content-encoding'], 'br');
      t.true(br.body.equals(site.files['app.js.br']!));
      t.is(br.headers['content-length'], String(site.files['app.js.br']!.length));
      t.is(br.headers['content-type'], 'text/javascript; charset=utf-8');
      t.is(br.headers.vary, 'Accept-Encoding');
      const gzip = await curl('-H', 'Accept-Encoding: gzip', `${url}/app.js`);
      t.is(gzip.headers['content-encoding'], 'gzip');
      t.true(gzip.body.equals(site.files['app.js.gz']!));
      const identity = await curl(`${url}/app.js`);
      t.is(identity.headers['content-encoding'], undefined);
      t.true(identity.body.equals(site.files['app.js']!));
      t.is(identity.headers.vary, 'Accept-Encoding', 'the uncompressed answer varies too');
      const noVariant = await curl('-H', 'Accept-Encoding: br', `${url}/style.css`);
      t.is(noVariant.headers['content-encoding'], undefined);
      t.true(noVariant.body.equals(site.files['style.css']!));
    },
  );
  await withApp(
    (app) => app.register(zerosendFastify, { root: site.root }),
    async ({ url }) => {
      const off = await curl('-H', 'Accept-Encoding: br', `${url}/app.js`);
      t.is(off.headers['content-encoding'], undefined, 'off by default');
      t.is(off.headers.vary, undefined);
    },
  );
});

test("dotfiles: 'allow' by default (as @fastify/static), 'ignore' → the not-found handler, 'deny' → 403 through the error handler", async (t) => {
  await withApp(
    (app) => app.register(zerosendFastify, { root: site.root }),
    async ({ url }) => {
      const env = await curl(`${url}/.env`);
      t.is(env.status, 200);
      t.true(env.body.equals(site.files['.env']!));
    },
  );
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root, dotfiles: 'ignore' });
      app.setNotFoundHandler((request, reply) => void reply.code(404).send(`not found: ${request.url}`));
    },
    async ({ url }) => {
      for (const path of ['/.env', '/sub/.hidden/x.txt']) {
        const response = await curl(`${url}${path}`);
        t.is(response.status, 404, path);
        t.is(response.body.toString(), `not found: ${path}`);
      }
    },
  );
  await withApp(
    async (app) => {
      app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => void reply.code(error.statusCode ?? 500).send(`error ${error.statusCode}`));
      await app.register(zerosendFastify, { root: site.root, dotfiles: 'deny' });
    },
    async ({ url }) => {
      const denied = await curl(`${url}/sub/.hidden/x.txt`);
      t.is(denied.status, 403);
      t.is(denied.body.toString(), 'error 403');
    },
  );
});

test('paths that are not canonical (dot segments, //, encoded dots, backslashes) are 403; nothing outside the root is ever sent', async (t) => {
  await withApp(
    (app) => app.register(zerosendFastify, { root: site.root, prefix: '/s/' }),
    async ({ port }) => {
      const forbidden = [
        '/s/sub/../data.bin',
        '/s/./data.bin',
        '/s//data.bin',
        '/s/%2e%2e/outside/secret.txt',
        '/s/%2E%2E%2Foutside%2Fsecret.txt',
        '/s/sub/%2e%2e/%2e%2e/outside/secret.txt',
        '/s/..%5c..%5coutside%5csecret.txt',
        '/s/sub\\..\\data.bin',
        '/s/../outside/secret.txt',
        '/s/escape.txt',
        '/s/escape-dir/secret.txt',
      ];
      for (const target of forbidden) {
        const { status, text } = await rawGet(port, target);
        t.true(status === 403 || status === 404, `${target}: ${status}`);
        if (!target.startsWith('/s/../')) t.is(status, 403, target);
        for (const secret of SECRETS) t.false(text.includes(secret), `${target} leaked ${secret}`);
      }
      t.is((await rawGet(port, '/s/x%00y')).status, 400);
      t.is((await rawGet(port, '/s/inside-link.txt')).status, 200, 'a symlink that stays inside the root is served');
    },
  );
});

test('allowedPath: false sends the request to the not-found handler; it sees the path, the root and the request', async (t) => {
  const calls: Array<[string, string, string]> = [];
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, {
        root: site.root,
        prefix: '/s/',
        allowedPath: (pathName, root, request) => {
          calls.push([pathName, root, request.url]);
          return !pathName.startsWith('/sub/');
        },
      });
      app.setNotFoundHandler((_request, reply) => void reply.code(404).send('hidden by allowedPath'));
    },
    async ({ url }) => {
      t.is((await curl(`${url}/s/style.css`)).status, 200);
      const refused = await curl(`${url}/s/sub/a.txt`);
      t.is(refused.status, 404);
      t.is(refused.body.toString(), 'hidden by allowedPath');
      t.deepEqual(calls, [
        ['/style.css', site.root, '/s/style.css'],
        ['/sub/a.txt', site.root, '/s/sub/a.txt'],
      ]);
    },
  );
});

test('allowedPath is asked about the file a URL leads to as well: an index or a clean URL it refuses is not served (as @fastify/static)', async (t) => {
  const calls: string[] = [];
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, {
        root: site.root,
        extensions: ['html'],
        allowedPath: (pathName) => {
          calls.push(pathName);
          return !pathName.endsWith('.html');
        },
      });
      app.setNotFoundHandler((request, reply) => void reply.code(404).send(`refused ${request.url}`));
    },
    async ({ url }) => {
      for (const path of ['/', '/sub/', '/sub', '/about', '/about.html']) {
        const response = await curl(`${url}${path}`);
        t.is(response.status, 404, path);
        t.is(response.body.toString(), `refused ${path}`);
      }
      t.true((await curl(`${url}/style.css`)).body.equals(site.files['style.css']!));
      t.deepEqual(calls, ['/', '/index.html', '/sub/', '/sub/index.html', '/sub', '/sub/index.html', '/about', '/about.html', '/about.html', '/style.css']);
    },
  );
});

test('root as an array: tried in order, the first that has the file answers', async (t) => {
  await withApp(
    (app) => app.register(zerosendFastify, { root: [site.root, second] }),
    async ({ url }) => {
      t.is((await curl(`${url}/only-second.txt`)).body.toString(), 'only in the second root\n');
      t.true((await curl(`${url}/sub/a.txt`)).body.equals(site.files['sub/a.txt']!), 'the first root wins');
      t.is((await curl(`${url}/in-neither.txt`)).status, 404);
    },
  );
});

test('registered in a plugin with its own prefix: files under both prefixes', async (t) => {
  await withApp(
    (app) =>
      app.register(
        async (child) => {
          await child.register(zerosendFastify, { root: site.root, prefix: '/assets' });
        },
        { prefix: '/api' },
      ),
    async ({ url }) => {
      const response = await curl(`${url}/api/assets/sub/a.txt`);
      t.is(response.status, 200);
      t.true(response.body.equals(site.files['sub/a.txt']!));
      t.is((await curl(`${url}/assets/sub/a.txt`)).status, 404);
    },
  );
});

// ---- Fastify's lifecycle ----

test('a miss goes to the not-found handler the app set', async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root });
      app.setNotFoundHandler((request, reply) => void reply.code(404).type('text/plain').send(`custom 404 for ${request.url}`));
    },
    async ({ url }) => {
      const response = await curl(`${url}/missing.txt`);
      t.is(response.status, 404);
      t.is(response.body.toString(), 'custom 404 for /missing.txt');
      t.is(response.headers['content-type'], 'text/plain');
      t.is((await curl(`${url}/sub/a.txt/`)).status, 404, 'a file asked for as a directory');
    },
  );
});

test('reply.code(404).type(...).sendFile(page) in the not-found handler: 404, that type, the page, and onResponse sees 404', async (t) => {
  let seen: string[] = [];
  await withApp(
    async (app) => {
      seen = recordResponses(app);
      await app.register(zerosendFastify, { root: site.root });
      app.setNotFoundHandler((_request, reply) => reply.code(404).type('text/html').sendFile('404.html'));
    },
    async ({ url }) => {
      const response = await curl('-H', 'Range: bytes=0-3', `${url}/missing`);
      t.is(response.status, 404);
      t.is(response.headers['content-type'], 'text/html');
      t.is(response.body.toString(), '<h1>custom not found</h1>\n', 'the whole page: a range applies to a 200 only');
      t.is(response.headers['content-range'], undefined);
      await until(() => seen.length === 1, 10_000, 'onResponse');
      t.deepEqual(seen, ['GET /missing 404']);
    },
  );
});

test('onRequest and preHandler hooks run before the file: a 401 stops it, headers they set go out', async (t) => {
  let seen: string[] = [];
  await withApp(
    async (app) => {
      seen = recordResponses(app);
      app.addHook('onRequest', async (request, reply) => {
        if (request.headers.authorization !== 'Bearer ok') return reply.code(401).send('who are you?');
      });
      app.addHook('preHandler', async (_request, reply) => {
        reply.header('X-From-PreHandler', 'yes');
      });
      await app.register(zerosendFastify, { root: site.root });
    },
    async ({ url }) => {
      const refused = await curl(`${url}/data.bin`);
      t.is(refused.status, 401);
      t.is(refused.body.toString(), 'who are you?');
      const allowed = await curl('-H', 'Authorization: Bearer ok', `${url}/data.bin`);
      t.is(allowed.status, 200);
      t.true(allowed.body.equals(data));
      t.is(allowed.headers['x-from-prehandler'], 'yes');
      await until(() => seen.length === 2, 10_000, 'onResponse');
      t.deepEqual(seen, ['GET /data.bin 401', 'GET /data.bin 200']);
    },
  );
});

test('onResponse runs after each answer with the status sent: 200, 206, 304, 404, 416, and HEAD', async (t) => {
  let seen: string[] = [];
  await withApp(
    async (app) => {
      seen = recordResponses(app);
      await app.register(zerosendFastify, { root: site.root });
    },
    async ({ url }) => {
      const etag = (await curl(`${url}/data.bin`)).headers.etag!;
      await curl('-H', 'Range: bytes=0-9', `${url}/data.bin`);
      await curl('-H', `If-None-Match: ${etag}`, `${url}/data.bin`);
      await curl(`${url}/missing`);
      await curl('-H', 'Range: bytes=999999-', `${url}/data.bin`);
      await curl('-I', `${url}/data.bin`);
      await until(() => seen.length === 6, 10_000, 'onResponse');
      t.deepEqual(seen, ['GET /data.bin 200', 'GET /data.bin 206', 'GET /data.bin 304', 'GET /missing 404', 'GET /data.bin 416', 'HEAD /data.bin 200']);
    },
  );
});

test('headers set with reply.header() go out with the file, and win over the defaults', async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root, serve: false });
      app.get('/file', (_request, reply) => reply.header('X-Custom', '1').header('Cache-Control', 'no-store').type('text/x-custom').sendFile('sub/a.txt'));
    },
    async ({ url }) => {
      const response = await curl(`${url}/file`);
      t.is(response.status, 200);
      t.is(response.headers['x-custom'], '1');
      t.is(response.headers['cache-control'], 'no-store');
      t.is(response.headers['content-type'], 'text/x-custom');
      t.true(response.body.equals(site.files['sub/a.txt']!));
    },
  );
});

test("setHeaders(reply, path, stat): its headers win; an error page (416) never carries them", async (t) => {
  await withApp(
    (app) =>
      app.register(zerosendFastify, {
        root: site.root,
        setHeaders: (reply, path, stat) => {
          reply.header('Cache-Control', 'public, max-age=31536000, immutable');
          reply.header('X-Size', String(stat.size));
          reply.header('X-Name', path.slice(site.root.length));
        },
      }),
    async ({ url }) => {
      const response = await curl(`${url}/data.bin`);
      t.is(response.headers['cache-control'], 'public, max-age=31536000, immutable');
      t.is(response.headers['x-size'], String(data.length));
      t.is(response.headers['x-name'], '/data.bin');
      const refused = await curl('-H', 'Range: bytes=999999-', `${url}/data.bin`);
      t.is(refused.status, 416);
      t.is(refused.headers['cache-control'], undefined, 'a year-long Cache-Control on an error would be cached');
      t.is(refused.headers['content-range'], `bytes */${data.length}`);
    },
  );
});

// ---- reply.sendFile() and reply.download() ----

test('reply.sendFile from a sync handler and from an async handler that returns it', async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root, serve: false });
      app.get('/sync', (_request, reply) => {
        reply.sendFile('data.bin');
      });
      app.get('/async', async (_request, reply) => {
        await new Promise((resolve) => setImmediate(resolve));
        return reply.sendFile('sub/a.txt');
      });
      app.get('/async-big', async (_request, reply) => reply.sendFile('big.bin'));
    },
    async ({ url }) => {
      t.true((await curl(`${url}/sync`)).body.equals(data));
      const a = await curl(`${url}/async`);
      t.is(a.status, 200);
      t.true(a.body.equals(site.files['sub/a.txt']!));
      t.true((await curl(`${url}/async-big`)).body.equals(big));
      const ranged = await curl('-H', 'Range: bytes=5-14', `${url}/sync`);
      t.is(ranged.status, 206);
      t.true(ranged.body.equals(data.subarray(5, 15)));
    },
  );
});

test('reply.sendFile(path, otherRoot) and reply.sendFile(path, { root })', async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root, serve: false });
      app.get('/positional', (_request, reply) => reply.sendFile('report.txt', other));
      app.get('/option', (_request, reply) => reply.sendFile('report.txt', { root: other }));
      app.get('/default', (_request, reply) => reply.sendFile('report.txt'));
    },
    async ({ url }) => {
      t.is((await curl(`${url}/positional`)).body.toString(), 'a report from another root\n');
      t.is((await curl(`${url}/option`)).body.toString(), 'a report from another root\n');
      t.is((await curl(`${url}/default`)).status, 404, 'not in the plugin root');
    },
  );
});

test('reply.sendFile(path, options): per-call options win, and the plugin options still apply to the rest', async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root, serve: false, maxAge: '1h', etag: false });
      app.get('/plain', (_request, reply) => reply.sendFile('sub/a.txt'));
      app.get('/immutable', (_request, reply) => reply.sendFile('sub/a.txt', { immutable: true }));
      app.get('/day', (_request, reply) => reply.sendFile('sub/a.txt', { maxAge: 86_400_000 }));
      app.get('/no-cache-control', (_request, reply) => reply.sendFile('sub/a.txt', { cacheControl: false, lastModified: false }));
      app.get('/download', (_request, reply) => reply.download('sub/a.txt'));
    },
    async ({ url }) => {
      const plain = await curl(`${url}/plain`);
      t.is(plain.headers['cache-control'], 'public, max-age=3600');
      t.is(plain.headers.etag, undefined);
      const immutable = await curl(`${url}/immutable`);
      t.is(immutable.headers['cache-control'], 'public, max-age=3600, immutable', "the plugin's maxAge with the call's immutable");
      t.is(immutable.headers.etag, undefined, "the plugin's etag: false");
      t.is((await curl(`${url}/day`)).headers['cache-control'], 'public, max-age=86400');
      const bare = await curl(`${url}/no-cache-control`);
      t.is(bare.headers['cache-control'], undefined);
      t.is(bare.headers['last-modified'], undefined);
      const download = await curl(`${url}/download`);
      t.is(download.headers['cache-control'], 'public, max-age=3600', 'download keeps the plugin options');
      t.is(download.headers.etag, undefined);
    },
  );
});

test('reply.sendFile with several roots looks in each, in order (as @fastify/static)', async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: [site.root, second], serve: false });
      app.get('/second', (_request, reply) => reply.sendFile('only-second.txt'));
      app.get('/first', (_request, reply) => reply.sendFile('sub/a.txt'));
      app.get('/neither', (_request, reply) => reply.sendFile('in-neither.txt'));
      app.get('/download-second', (_request, reply) => reply.download('only-second.txt'));
    },
    async ({ url }) => {
      t.is((await curl(`${url}/second`)).body.toString(), 'only in the second root\n');
      t.true((await curl(`${url}/first`)).body.equals(site.files['sub/a.txt']!));
      t.is((await curl(`${url}/neither`)).status, 404);
      const download = await curl(`${url}/download-second`);
      t.is(download.status, 200);
      t.is(download.headers['content-disposition'], 'attachment; filename=only-second.txt');
    },
  );
});

test('the plugin setHeaders applies to reply.sendFile too (as @fastify/static)', async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, {
        root: site.root,
        serve: false,
        setHeaders: (reply, path) => void reply.header('X-Served', path.slice(site.root.length)),
      });
      app.get('/file', (_request, reply) => reply.sendFile('sub/a.txt'));
      app.get('/download', (_request, reply) => reply.download('sub/a.txt', { maxAge: 1000 }));
    },
    async ({ url }) => {
      t.is((await curl(`${url}/file`)).headers['x-served'], '/sub/a.txt');
      t.is((await curl(`${url}/download`)).headers['x-served'], '/sub/a.txt');
    },
  );
});

test("reply.download: attachment with the file's name, or the name given (RFC 6266: ASCII filename and filename*)", async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root, serve: false });
      app.get('/own-name', (_request, reply) => reply.download('sub/a.txt'));
      app.get('/named', (_request, reply) => reply.download('sub/a.txt', 'name é.txt'));
      app.get('/named-async', async (_request, reply) => reply.download('data.bin', 'plain.bin', { maxAge: 60_000 }));
      app.get('/other-root', (_request, reply) => reply.download('report.txt', { root: other }));
    },
    async ({ url }) => {
      const own = await curl(`${url}/own-name`);
      t.is(own.headers['content-disposition'], 'attachment; filename=a.txt');
      t.true(own.body.equals(site.files['sub/a.txt']!));
      const named = await curl(`${url}/named`);
      t.is(named.headers['content-disposition'], `attachment; filename="name ?.txt"; filename*=UTF-8''name%20%C3%A9.txt`);
      t.is(named.headers['content-type'], 'text/plain; charset=utf-8');
      const plain = await curl(`${url}/named-async`);
      t.is(plain.headers['content-disposition'], 'attachment; filename=plain.bin');
      t.is(plain.headers['cache-control'], 'public, max-age=60');
      t.true(plain.body.equals(data));
      const otherRoot = await curl(`${url}/other-root`);
      t.is(otherRoot.headers['content-disposition'], 'attachment; filename=report.txt');
      t.is(otherRoot.body.toString(), 'a report from another root\n');
    },
  );
});

test('reply.sendFile: a missing file goes to the not-found handler, a path out of the root (403) to the error handler', async (t) => {
  const errors: number[] = [];
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root, serve: false });
      app.setNotFoundHandler((request, reply) => void reply.code(404).send(`nothing at ${request.url}`));
      app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
        errors.push(error.statusCode ?? 0);
        void reply.code(error.statusCode ?? 500).send('refused');
      });
      app.get('/missing', (_request, reply) => reply.sendFile('no-such-file.txt'));
      app.get('/missing-async', async (_request, reply) => reply.sendFile('no-such-file.txt'));
      app.get('/climb', (_request, reply) => reply.sendFile('../outside/secret.txt'));
      app.get('/escape', async (_request, reply) => reply.sendFile('escape.txt'));
      // With a root, an absolute path is inside it too (as @fastify/static): not the file outside.
      app.get('/absolute', (_request, reply) => reply.sendFile(join(site.outside, 'secret.txt')));
    },
    async ({ url }) => {
      for (const path of ['/missing', '/missing-async', '/absolute']) {
        const missing = await curl(`${url}${path}`);
        t.is(missing.status, 404, path);
        t.is(missing.body.toString(), `nothing at ${path}`);
      }
      for (const path of ['/climb', '/escape']) {
        const refused = await curl(`${url}${path}`);
        t.is(refused.status, 403, path);
        t.is(refused.body.toString(), 'refused');
        t.false(SECRETS.some((secret) => refused.body.toString().includes(secret)));
      }
      t.deepEqual(errors, [403, 403]);
    },
  );
});

test('decorateReply: false adds no decorators; serve: false serves nothing but the decorators work', async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root, decorateReply: false });
      app.get('/has', (_request, reply) => void reply.send(typeof (reply as unknown as Record<string, unknown>).sendFile));
    },
    async ({ url }) => {
      t.is((await curl(`${url}/has`)).body.toString(), 'undefined');
      t.is((await curl(`${url}/data.bin`)).status, 200, 'still serves');
    },
  );
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root, serve: false });
      app.get('/file', (_request, reply) => reply.sendFile('data.bin'));
    },
    async ({ url }) => {
      t.is((await curl(`${url}/data.bin`)).status, 404);
      t.true((await curl(`${url}/file`)).body.equals(data));
    },
  );
  await withApp(
    async (app) => {
      // Without a root, the decorators take absolute paths only (relative ones are not found).
      await app.register(zerosendFastify, { serve: false });
      app.get('/absolute', (_request, reply) => reply.sendFile(join(site.root, 'data.bin')));
      app.get('/relative', (_request, reply) => reply.sendFile('data.bin'));
    },
    async ({ url }) => {
      t.true((await curl(`${url}/absolute`)).body.equals(data));
      t.is((await curl(`${url}/relative`)).status, 404);
    },
  );
});

test('options @fastify/static has but zerosend does not, and bad values, fail register with a clear error (no crash)', async (t) => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ list: true }, 'ERR_INVALID_ARG_VALUE', /'list'/],
    [{ wildcard: false }, 'ERR_INVALID_ARG_VALUE', /'wildcard'/],
    [{ onFile: () => {} }, 'ERR_INVALID_ARG_VALUE', /'onFile'/],
    [{ redirect: 'yes' }, 'ERR_INVALID_ARG_TYPE', /options\.redirect/],
    [{ dotfiles: 'sometimes' }, 'ERR_INVALID_ARG_VALUE', /options\.dotfiles/],
    [{ maxAge: -1 }, 'ERR_INVALID_ARG_VALUE', /options\.maxAge/],
    [{ index: 5 }, 'ERR_INVALID_ARG_TYPE', /options\.index/],
    [{ root: 5 }, 'ERR_INVALID_ARG_TYPE', /'root'/],
    [{ root: undefined }, 'ERR_INVALID_ARG_VALUE', /'root' is required/],
    [{ prefix: 'static' }, 'ERR_INVALID_ARG_VALUE', /'prefix'/],
    [{ setHeaders: 'no' }, 'ERR_INVALID_ARG_TYPE', /options\.setHeaders/],
  ];
  for (const [options, code, message] of cases) {
    const app = Fastify();
    const registered = app.register(zerosendFastify, { root: site.root, ...options } as zerosendFastify.Options);
    await t.throwsAsync(async () => registered.ready(), { code, message }, JSON.stringify(options));
    await app.close().catch(() => {});
  }
  // What is harmless is accepted: the options that only say "the default".
  for (const options of [{ wildcard: true }, { list: false }]) {
    const app = Fastify();
    await t.notThrowsAsync(async () => app.register(zerosendFastify, { root: site.root, ...options } as zerosendFastify.Options).ready(), JSON.stringify(options));
    await app.close();
  }
  // Two registrations that both decorate: Fastify's own error, as with @fastify/static.
  const twice = Fastify();
  twice.register(zerosendFastify, { root: site.root });
  twice.register(zerosendFastify, { root: second, prefix: '/b/' });
  // (A FastifyError is not a native Error, which t.throwsAsync insists on.)
  const refused = await twice.ready().then(
    () => undefined,
    (error: { code?: string }) => error,
  );
  t.is(refused?.code, 'FST_ERR_DEC_ALREADY_PRESENT');
  await twice.close().catch(() => {});
});

test('two registrations, one decorating: both prefixes serve', async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root, prefix: '/a/' });
      await app.register(zerosendFastify, { root: second, prefix: '/b/', decorateReply: false });
    },
    async ({ url }) => {
      t.true((await curl(`${url}/a/sub/a.txt`)).body.equals(site.files['sub/a.txt']!));
      t.is((await curl(`${url}/b/sub/a.txt`)).body.toString(), 'the second root’s sub/a.txt\n');
    },
  );
});

test('reply.sendFile answers Range and conditionals too: 206, 304, 412, 416 (those two through the error handler, as the route), each seen by onResponse', async (t) => {
  let seen: string[] = [];
  const handled: number[] = [];
  await withApp(
    async (app) => {
      seen = recordResponses(app);
      await app.register(zerosendFastify, { root: site.root, serve: false });
      app.setErrorHandler((error: { statusCode?: number; headers?: Record<string, string> }, _request, reply) => {
        handled.push(error.statusCode ?? 0);
        void reply.code(error.statusCode ?? 500).headers(error.headers ?? {}).send(`handled ${error.statusCode}`);
      });
      app.get('/file', (_request, reply) => reply.sendFile('data.bin'));
    },
    async ({ url }) => {
      const etag = (await curl(`${url}/file`)).headers.etag!;
      const ranged = await curl('-H', 'Range: bytes=10-19', `${url}/file`);
      t.is(ranged.status, 206);
      t.is(ranged.headers['content-range'], `bytes 10-19/${data.length}`);
      t.true(ranged.body.equals(data.subarray(10, 20)));
      const notModified = await curl('-H', `If-None-Match: ${etag}`, `${url}/file`);
      t.is(notModified.status, 304);
      t.is(notModified.body.length, 0);
      t.is((await curl('-H', 'If-Match: "other"', `${url}/file`)).status, 412);
      const unsatisfiable = await curl('-H', 'Range: bytes=100000-', `${url}/file`);
      t.is(unsatisfiable.status, 416);
      t.is(unsatisfiable.headers['content-range'], `bytes */${data.length}`);
      await until(() => seen.length === 5, 10_000, 'onResponse');
      t.is(unsatisfiable.body.toString(), 'handled 416');
      t.deepEqual(handled, [412, 416]);
      t.deepEqual(seen, ['GET /file 200', 'GET /file 206', 'GET /file 304', 'GET /file 412', 'GET /file 416']);
    },
  );
});

test("options.method reaches the bodies: an explicit method works natively and fails register where it cannot run", async (t) => {
  const app = Fastify({ forceCloseConnections: true });
  app.register(zerosendFastify, { root: site.root, method: 'copy' });
  app.get('/file', (_request, reply) => reply.sendFile('big.bin', { method: 'mmap' }));
  if (!hasNative) {
    await t.throwsAsync(async () => app.ready(), { code: 'ERR_ZEROSEND_UNSUPPORTED' });
    await app.close().catch(() => {});
    return;
  }
  try {
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    t.true((await curl(`${url}/big.bin`)).body.equals(big));
    t.true((await curl('-H', 'Range: bytes=1000-2000000', `${url}/big.bin`)).body.equals(big.subarray(1000, 2_000_001)));
    t.true((await curl(`${url}/file`)).body.equals(big));
  } finally {
    await app.close();
  }
});

// ---- Bodies, connections, faults ----

test('8 MiB: exact through the route, reply.sendFile and a range; several requests on one keep-alive connection', async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root });
      app.get('/api/big', (_request, reply) => reply.sendFile('big.bin'));
    },
    async ({ app, url }) => {
      let connections = 0;
      app.server.on('connection', () => (connections += 1));
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const sockets = new Set<unknown>();
        for (let i = 0; i < 4; i++) {
          const whole = await request(agent, `${url}/big.bin`);
          t.is(whole.status, 200);
          t.true(whole.body.equals(big), `route ${i}`);
          const viaReply = await request(agent, `${url}/api/big`);
          t.true(viaReply.body.equals(big), `sendFile ${i}`);
          const start = i * 1_000_003;
          const ranged = await request(agent, `${url}/big.bin`, { Range: `bytes=${start}-${start + 3 * MiB}` });
          t.is(ranged.status, 206);
          t.true(ranged.body.equals(big.subarray(start, start + 3 * MiB + 1)), `range ${i}`);
          const head = await request(agent, `${url}/big.bin`, {}, 'HEAD');
          t.is(head.body.length, 0);
          const missing = await request(agent, `${url}/missing-${i}`);
          t.is(missing.status, 404);
          for (const reply of [whole, viaReply, ranged, head, missing]) sockets.add(reply.socket);
        }
        t.is(sockets.size, 1, 'one client socket');
        t.is(connections, 1, 'one server connection');
      } finally {
        agent.destroy();
      }
    },
  );
});

test('pipelined requests on one connection are answered in order: files, reply.sendFile, a miss, an index', async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root, prefix: '/s/' });
      app.get('/send', (_request, reply) => reply.sendFile('data.bin'));
      app.setNotFoundHandler((_request, reply) => void reply.code(404).send('nope'));
    },
    async ({ port }) => {
      const get = rawGetRequest;
      const response = await rawRequest(port, get('/s/sub/a.txt') + get('/send') + get('/missing') + get('/s/sub') + get('/s/big.bin') + get('/s/style.css', 'Connection: close\r\n'));
      const expected: Array<[number, Buffer]> = [
        [200, site.files['sub/a.txt']!],
        [200, data],
        [404, Buffer.from('nope')],
        [200, site.files['sub/index.html']!],
        [200, big],
        [200, site.files['style.css']!],
      ];
      checkPipelined(t, response, expected);
    },
  );
});

// Serial: ava runs serial tests before the concurrent ones, so the spy sees this test's server only.
test.serial('bodies do not pass through JavaScript with the native binding (the stream fallback reads them)', async (t) => {
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root });
      app.get('/api/big', (_request, reply) => reply.sendFile('big.bin'));
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

test('clients that hang up mid-download: no crash, logged at debug (not warn), the next request is served', async (t) => {
  const log = logLines();
  await withApp(
    async (app) => {
      await app.register(zerosendFastify, { root: site.root });
      app.get('/api/huge', (_request, reply) => reply.sendFile('huge.bin'));
    },
    async ({ url, port }) => {
      t.true((await hangUpAfter(port, '/huge.bin', 256 * 1024)) >= 256 * 1024);
      await hangUpAfter(port, '/huge.bin', 1 * MiB, true);
      await hangUpAfter(port, '/api/huge', 512 * 1024);
      // curl gives up after a second at 1 MB/s: 48 MiB would take far longer.
      const error = await t.throwsAsync(curlRaw(['-sS', '--limit-rate', '1M', '--max-time', '1', '-o', '/dev/null', `${url}/api/huge`]));
      t.regex(error?.message ?? '', /timed out|Operation timed out|28/i);
      await until(() => log.lines.filter((line) => /was not sent whole/.test(line.msg)).length >= 4, 20_000, 'four logged hang-ups');
      const failures = log.lines.filter((line) => /was not sent whole/.test(line.msg));
      t.true(failures.every((line) => line.level === 20), JSON.stringify(failures));
      t.true(failures.some((line) => line.msg.includes('huge.bin')));
      // A new connection is served, whole.
      const next = await curl(`${url}/big.bin`);
      t.is(next.status, 200);
      t.true(next.body.equals(big));
      t.true((await curl(`${url}/api/huge`)).body.length === 48 * MiB);
    },
    { logger: { level: 'debug', stream: log.stream } },
  );
});

// ---- Side by side with @fastify/static ----

test('the same requests answered side by side with @fastify/static: status, type, length, range, body', async (t) => {
  const zerosend = Fastify({ forceCloseConnections: true });
  await zerosend.register(zerosendFastify, { root: site.root, prefix: '/s/' });
  zerosend.get('/sf/*', (request, reply) => reply.sendFile((request.params as { '*': string })['*']));
  zerosend.get('/dl', (_request, reply) => reply.download('sub/a.txt', 'name é.txt'));
  const peer = Fastify({ forceCloseConnections: true });
  await peer.register(fastifyStatic, { root: site.root, prefix: '/s/' });
  peer.get('/sf/*', (request, reply) => reply.sendFile((request.params as { '*': string })['*']));
  peer.get('/dl', (_request, reply) => reply.download('sub/a.txt', 'name é.txt'));
  const ours = await zerosend.listen({ port: 0, host: '127.0.0.1' });
  const theirs = await peer.listen({ port: 0, host: '127.0.0.1' });
  try {
    // Where both document the same behaviour. (They differ by design on: .js, typed text/javascript
    // here (RFC 9239) and application/javascript there; symlinks out of the root, 403 here.)
    const requests: Array<[string, ...string[]]> = [
      ['/s/data.bin'],
      ['/s/style.css'],
      ['/s/index.html'],
      ['/s/'],
      ['/s/sub/'],
      ['/s/sub'],
      ['/s/noindex/'],
      ['/s/noindex'],
      ['/s/missing.txt'],
      ['/s/empty.txt'],
      ['/s/hello%20world%20%C3%A9.txt'],
      ['/s/.env'],
      ['/s/sub/a.txt/'],
      ['/s/inside-link.txt'],
      ['/s/data.bin', '-H', 'Range: bytes=0-9'],
      ['/s/data.bin', '-H', 'Range: bytes=-10'],
      ['/s/data.bin', '-H', 'Range: bytes=99990-'],
      ['/s/data.bin', '-H', 'Range: bytes=99000-200000'],
      ['/s/data.bin', '-H', 'Range: bytes=200000-'],
      ['/s/data.bin', '-H', 'Range: bytes=0-1,5-6'],
      ['/s/empty.txt', '-H', 'Range: bytes=0-'],
      ['/s/data.bin', '-H', 'If-None-Match: "nope"'],
      ['/s/a/../data.bin', '--path-as-is'],
      ['/s//data.bin', '--path-as-is'],
      ['/s/%2e%2e/x', '--path-as-is'],
      ['/s/%ZZ', '--path-as-is'],
      ['/sf/sub/a.txt'],
      ['/sf/missing.txt'],
      ['/sf/data.bin', '-H', 'Range: bytes=10-19'],
      ['/dl'],
    ];
    const describe = (response: Awaited<ReturnType<typeof curl>>): Record<string, unknown> => ({
      status: response.status,
      type: response.status < 400 ? response.headers['content-type'] : undefined,
      length: response.status < 400 ? response.headers['content-length'] : undefined,
      range: response.headers['content-range'],
      disposition: response.headers['content-disposition'],
      body: response.status < 400 ? response.body.toString('base64') : undefined,
    });
    for (const [path, ...args] of requests) {
      const [a, b] = await Promise.all([curl(...args, `${ours}${path}`), curl(...args, `${theirs}${path}`)]);
      t.deepEqual(describe(a), describe(b), `${path} ${args.join(' ')}`);
    }
  } finally {
    await zerosend.close();
    await peer.close();
  }
});

test('directories through reply.sendFile, reply.download and the route, side by side with @fastify/static: index, redirect, index: false, another index', async (t) => {
  const paths = ['sub', 'sub/', 'noindex', 'noindex/', 'missing/', 'sub/a.txt/'];
  const register = async (plugin: unknown, options: object): Promise<{ app: FastifyInstance; url: string }> => {
    const app = Fastify({ forceCloseConnections: true });
    await app.register(plugin as FastifyPluginAsync<Record<string, unknown>>, { root: site.root, prefix: '/s/', ...options });
    app.get('/sf/a/b', (request, reply) => reply.sendFile((request.query as { p: string }).p));
    app.get('/dl/a/b', (request, reply) => reply.download((request.query as { p: string }).p));
    return { app, url: await app.listen({ port: 0, host: '127.0.0.1' }) };
  };
  const describe = (response: Awaited<ReturnType<typeof curl>>): Record<string, unknown> => ({
    status: response.status,
    location: response.headers.location,
    // @fastify/static sets Content-Disposition before it knows what it answers (its 301s and 404s
    // carry it too); only a file's answer is compared.
    disposition: response.status < 300 ? response.headers['content-disposition'] : undefined,
    body: response.status < 400 ? response.body.toString('base64') : undefined,
  });
  for (const options of [{}, { redirect: true }, { index: false }, { index: ['x.txt'] }]) {
    const ours = await register(zerosendFastify, options);
    const theirs = await register(fastifyStatic, options);
    try {
      const urls = [
        ...paths.flatMap((p) => [`/sf/a/b?p=${encodeURIComponent(p)}`, `/dl/a/b?p=${encodeURIComponent(p)}`]),
        ...paths.map((p) => `/s/${p}`),
      ];
      for (const path of urls) {
        const [a, b] = await Promise.all([curl(`${ours.url}${path}`), curl(`${theirs.url}${path}`)]);
        t.deepEqual(describe(a), describe(b), `${JSON.stringify(options)} ${path}`);
      }
      // The cases that decide: an index served without the slash, a redirect, send's 403.
      const served = await curl(`${ours.url}/sf/a/b?p=sub`);
      if (JSON.stringify(options) === '{}') t.true(served.body.equals(site.files['sub/index.html']!), 'the index, named without its slash');
      if ('redirect' in options) t.is(served.headers.location, '/sf/a/b/?p=sub', 'the request URL with its slash, query kept');
      if ('index' in options && options.index === false) t.is((await curl(`${ours.url}/sf/a/b?p=sub%2F`)).status, 403);
    } finally {
      await ours.app.close();
      await theirs.app.close();
    }
  }
});
