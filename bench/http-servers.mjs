#!/usr/bin/env node
// One HTTP server of bench/http.mjs or bench/frameworks.mjs, in its own process:
//
//   node bench/http-servers.mjs <name> <dir> <port> [--dist=DIR]
//
// Prints `ready <port>` once listening. Every server runs with its defaults for production (ETag
// and Last-Modified on where it has them, no logging) and answers `GET /<file>` for the files of
// <dir> on 127.0.0.1:<port>. zerosend is loaded from --dist (default: this repository's dist/), so
// two builds can be measured side by side.
//
// Static servers (bench/http.mjs):
//   zerosend           createStaticServer() (open-file cache on)
//   zerosend-nocache   createStaticServer({ openFileCache: false })
//   zerosend-mmap      createStaticServer({ method: 'mmap' }): the alternative for clients on this machine
//   serve-static       serve-static (send) on node:http
//   fastify-static     fastify + @fastify/static (its serve route)
//   sirv               sirv on node:http (dev: false: it indexes the folder at start)
//   node-streams       node:http + fs.stat + fs.createReadStream().pipe(res): what a user writes by hand
//   node-memory        node:http answering from memory: each file read once at start into a Buffer,
//                      sent with res.writeHead(200, headers) + res.end(buffer) and the headers a static
//                      server sends (see MEMORY_HEADERS). The floor: what any node:http server can do.
//
// Framework pairs (bench/frameworks.mjs), each beside the framework answering from memory:
//   fastify-memory             a route `/:name`: reply.headers(headers).send(buffer)
//   fastify-static             (above) @fastify/static's serve route
//   fastify-static-sendfile    @fastify/static with serve: false, a route `/:name`: reply.sendFile(name)
//   fastify-zerosend           zerosend/fastify's serve route: register(plugin, { root })
//   fastify-zerosend-sendfile  zerosend/fastify with serve: false, a route `/:name`: reply.sendFile(name)
//   express-memory             app.get('/:name'): res.set(headers).send(buffer)
//   express-sendfile           app.get('/:name'): res.sendFile(name, { root })
//   express-zerosend           app.get('/:name'): zerosend's sendFile(req, res, name, { root })
//   koa-memory                 a middleware: ctx.set(headers); ctx.body = buffer
//   koa-static                 app.use(require('koa-static')(root))
//   koa-zerosend               app.use(serve(root)) of zerosend/koa
//   koa-send                   a middleware: await send(ctx, ctx.path, { root }) of koa-send
//   koa-zerosend-send          a middleware: await send(ctx, ctx.path, { root }) of zerosend/koa
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const [name, dir, portText] = process.argv.slice(2);
const dist = path.resolve(
  process.argv.find((arg) => arg.startsWith('--dist='))?.slice(7) ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist'),
);
const port = Number(portText);
const require = createRequire(import.meta.url);
const root = path.resolve(dir);

const notFound = (res) => {
  res.statusCode = 404;
  res.end('Not Found');
};

/**
 * The files of `root`, each read once into memory, with the headers createStaticServer sends for
 * it (its defaults: a strong ETag as the `etag` package makes it from the stat, `Cache-Control:
 * public, max-age=0`, `Accept-Ranges: bytes`), keyed by `/<name>`. Node adds Date and Connection
 * (and Keep-Alive) to every answer, as it does to zerosend's.
 */
function filesInMemory() {
  const etag = require('etag');
  const files = new Map();
  for (const entry of fs.readdirSync(root)) {
    const file = path.join(root, entry);
    const stat = fs.statSync(file);
    if (!stat.isFile()) continue;
    const body = fs.readFileSync(file);
    files.set(`/${entry}`, {
      name: entry,
      body,
      headers: {
        'Accept-Ranges': 'bytes',
        'Cache-Control': 'public, max-age=0',
        'Last-Modified': stat.mtime.toUTCString(),
        ETag: etag(stat, { weak: false }),
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(body.length),
      },
    });
  }
  return files;
}

const zerosend = () => require(path.join(dist, 'index.js'));
const zerosendFastify = () => require(path.join(dist, 'http', 'frameworks', 'fastify.js'));
const zerosendKoa = () => require(path.join(dist, 'http', 'frameworks', 'koa.js'));

/** Fastify, listening; `setup(app)` registers what it serves. */
async function fastifyServer(setup) {
  const app = require('fastify')({ logger: false });
  await setup(app);
  await app.listen({ port, host: '127.0.0.1' });
  return null;
}

function expressApp(route) {
  const app = require('express')();
  app.get('/:name', route);
  return http.createServer(app);
}

function koaApp(middleware) {
  const Koa = require('koa');
  const app = new Koa();
  app.use(middleware);
  return http.createServer(app.callback());
}

async function start() {
  switch (name) {
    // --- static servers
    case 'zerosend':
    case 'zerosend-nocache':
    case 'zerosend-mmap': {
      const { createStaticServer } = zerosend();
      const options = { 'zerosend-nocache': { openFileCache: false }, 'zerosend-mmap': { method: 'mmap' } }[name];
      return createStaticServer(root, options ?? {});
    }
    case 'serve-static': {
      const serve = require('serve-static')(root);
      return http.createServer((req, res) => serve(req, res, () => notFound(res)));
    }
    case 'sirv': {
      const serve = require('sirv')(root, { dev: false, etag: true });
      return http.createServer((req, res) => serve(req, res, () => notFound(res)));
    }
    case 'node-streams':
      return http.createServer((req, res) => {
        const file = path.join(root, path.normalize(decodeURIComponent(req.url.split('?')[0])));
        fs.stat(file, (error, stat) => {
          if (error || !stat.isFile()) return notFound(res);
          res.setHeader('Content-Length', stat.size);
          res.setHeader('Content-Type', 'application/octet-stream');
          fs.createReadStream(file).pipe(res);
        });
      });
    case 'node-memory': {
      const files = filesInMemory();
      return http.createServer((req, res) => {
        const file = files.get(req.url);
        if (file === undefined) return notFound(res);
        res.writeHead(200, file.headers);
        res.end(req.method === 'HEAD' ? undefined : file.body);
      });
    }

    // --- Fastify
    case 'fastify-memory': {
      const files = filesInMemory();
      return fastifyServer((app) =>
        app.get('/:name', (request, reply) => {
          const file = files.get(`/${request.params.name}`);
          if (file === undefined) return reply.callNotFound();
          return reply.headers(file.headers).send(file.body);
        }),
      );
    }
    case 'fastify-static':
      return fastifyServer((app) => app.register(require('@fastify/static'), { root }));
    case 'fastify-static-sendfile':
      return fastifyServer(async (app) => {
        await app.register(require('@fastify/static'), { root, serve: false });
        app.get('/:name', (request, reply) => reply.sendFile(request.params.name));
      });
    case 'fastify-zerosend':
      return fastifyServer((app) => app.register(zerosendFastify(), { root }));
    case 'fastify-zerosend-sendfile':
      return fastifyServer(async (app) => {
        await app.register(zerosendFastify(), { root, serve: false });
        app.get('/:name', (request, reply) => reply.sendFile(request.params.name));
      });

    // --- Express
    case 'express-memory': {
      const files = filesInMemory();
      return expressApp((req, res, next) => {
        const file = files.get(`/${req.params.name}`);
        if (file === undefined) return next();
        res.set(file.headers).send(file.body);
      });
    }
    case 'express-sendfile':
      return expressApp((req, res, next) => res.sendFile(req.params.name, { root }, (error) => error && next(error)));
    case 'express-zerosend': {
      const { sendFile } = zerosend();
      return expressApp((req, res, next) => {
        sendFile(req, res, req.params.name, { root }).catch(next);
      });
    }

    // --- Koa
    case 'koa-memory': {
      const files = filesInMemory();
      return koaApp(async (ctx, next) => {
        const file = files.get(ctx.path);
        if (file === undefined) return next();
        ctx.set(file.headers);
        ctx.body = file.body;
      });
    }
    case 'koa-static':
      return koaApp(require('koa-static')(root));
    case 'koa-zerosend':
      return koaApp(zerosendKoa().serve(root));
    case 'koa-send': {
      const send = require('koa-send');
      return koaApp(async (ctx) => {
        await send(ctx, ctx.path, { root });
      });
    }
    case 'koa-zerosend-send': {
      const { send } = zerosendKoa();
      return koaApp(async (ctx) => {
        await send(ctx, ctx.path, { root });
      });
    }
    default:
      throw new Error(`unknown server ${name}`);
  }
}

/**
 * For bench/http-profile.mjs: with BENCH_PROFILE=cpu|heap|gc and BENCH_PROFILE_OUT=FILE, SIGUSR2
 * starts recording (after the warm-up, so only the measured load is in it) and SIGTERM writes FILE
 * and exits. cpu: a V8 CPU profile (.cpuprofile, sampled every 50 µs); heap: V8's sampling heap
 * profile of every allocation, those the GC collected since included (bytes by allocating
 * function); gc: the count and time of garbage collections. The inspector runs in this process,
 * as `node --cpu-prof` does.
 */
async function profiling(kind, out) {
  const inspector = await import('node:inspector/promises');
  const { PerformanceObserver } = await import('node:perf_hooks');
  const session = new inspector.Session();
  session.connect();
  let stop = async () => {};
  process.on('SIGUSR2', async () => {
    const startedAt = process.hrtime.bigint();
    if (kind === 'cpu') {
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 50 });
      await session.post('Profiler.start');
      stop = async () => (await session.post('Profiler.stop')).profile;
    } else if (kind === 'heap') {
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 512,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      stop = async () => (await session.post('HeapProfiler.stopSampling')).profile;
    } else if (kind === 'gc') {
      const gcs = { minor: 0, major: 0, incremental: 0, weak: 0, ms: 0 };
      const kinds = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weak' };
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          gcs[kinds[entry.detail?.kind ?? entry.kind] ?? 'weak'] += 1;
          gcs.ms += entry.duration;
        }
      });
      observer.observe({ entryTypes: ['gc'] });
      const before = process.memoryUsage();
      stop = async () => {
        observer.disconnect();
        return { ...gcs, seconds: Number(process.hrtime.bigint() - startedAt) / 1e9, heapUsedBefore: before.heapUsed, heapUsedAfter: process.memoryUsage().heapUsed };
      };
    }
  });
  process.on('SIGTERM', async () => {
    fs.writeFileSync(out, JSON.stringify(await stop()));
    process.exit(0);
  });
}

// Before listening: a signal may come as soon as the port is open.
if (process.env.BENCH_PROFILE) await profiling(process.env.BENCH_PROFILE, process.env.BENCH_PROFILE_OUT);
else process.on('SIGTERM', () => process.exit(0));
const server = await start();
if (server) await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
console.log(`ready ${port}`);
