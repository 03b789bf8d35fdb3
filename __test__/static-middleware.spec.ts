/**
 * serveStatic() as a middleware: under plain node:http and under Express, hits are served and
 * misses fall through to what comes next; responses other code has wrapped still arrive whole.
 */
import * as http from 'node:http';

import test from 'ava';
import express from 'express';

import { serveStatic, type ServedInfo } from '../src';
import { curl, listen, makeSite } from './helpers/static-site';

const site = makeSite();
const data = site.files['data.bin']!;

test('node:http: hits are served, misses and other methods go to next()', async (t) => {
  const served: ServedInfo[] = [];
  const serve = serveStatic(site.root, { onServed: (_req, _res, info) => served.push(info) });
  const server = http.createServer((req, res) =>
    serve(req, res, () => {
      res.statusCode = 404;
      res.end(`fell through: ${req.method} ${req.url}`);
    }),
  );
  const { url, close } = await listen(server);
  try {
    const hit = await curl(`${url}/data.bin`);
    t.is(hit.status, 200);
    t.true(hit.body.equals(data));
    const miss = await curl(`${url}/missing.txt`);
    t.is(miss.status, 404);
    t.is(miss.body.toString(), 'fell through: GET /missing.txt');
    t.is((await curl('-X', 'POST', `${url}/data.bin`)).body.toString(), 'fell through: POST /data.bin');
    t.is((await curl(`${url}/.env`)).body.toString(), 'fell through: GET /.env');
    t.is(served.length, 1, 'only the hit was answered by the middleware');
  } finally {
    await close();
    serve.close();
  }
});

test('node:http without next(): the middleware answers misses itself', async (t) => {
  const serve = serveStatic(site.root);
  const { url, close } = await listen(http.createServer((req, res) => serve(req, res)));
  try {
    t.is((await curl(`${url}/missing.txt`)).status, 404);
    t.is((await curl(`${url}/sub/a.txt`)).status, 200);
  } finally {
    await close();
  }
});

test('Express: mounted under /static, hits served, misses reach the next route, redirects keep the mount', async (t) => {
  const app = express();
  app.use('/static', serveStatic(site.root, { maxAge: '1h' }));
  app.get('/static/dynamic', (_req, res) => {
    res.send('from a route');
  });
  app.use((_req, res) => {
    res.status(404).send('express 404');
  });
  const { url, close } = await listen(http.createServer(app));
  try {
    const hit = await curl(`${url}/static/data.bin`);
    t.is(hit.status, 200);
    t.true(hit.body.equals(data));
    t.is(hit.headers['x-powered-by'], 'Express', "headers Express set are kept in the header block");
    t.is(hit.headers['cache-control'], 'public, max-age=3600');
    t.is((await curl(`${url}/static/dynamic`)).body.toString(), 'from a route');
    const miss = await curl(`${url}/static/missing.txt`);
    t.is(miss.status, 404);
    t.is(miss.body.toString(), 'express 404');
    const redirect = await curl(`${url}/static/sub`);
    t.is(redirect.status, 301);
    t.is(redirect.headers.location, '/static/sub/');
    const ranged = await curl('-H', 'Range: bytes=10-19', `${url}/static/data.bin`);
    t.is(ranged.status, 206);
    t.true(ranged.body.equals(data.subarray(10, 20)));
    t.is((await curl('-H', `If-None-Match: ${hit.headers.etag}`, `${url}/static/data.bin`)).status, 304);
  } finally {
    await close();
  }
});

test('Express with fallthrough: false answers 404/405 itself', async (t) => {
  const app = express();
  app.use(serveStatic(site.root, { fallthrough: false }));
  app.use((_req, res) => {
    res.status(418).send('never reached');
  });
  const { url, close } = await listen(http.createServer(app));
  try {
    t.is((await curl(`${url}/missing.txt`)).status, 404);
    t.is((await curl('-X', 'DELETE', `${url}/data.bin`)).status, 405);
    t.true((await curl(`${url}/data.bin`)).body.equals(data));
  } finally {
    await close();
  }
});

test('a response whose write() another middleware wrapped is piped through it, not around it', async (t) => {
  const served: ServedInfo[] = [];
  const serve = serveStatic(site.root, { onServed: (_req, _res, info) => served.push(info) });
  let wrappedBytes = 0;
  const server = http.createServer((req, res) => {
    // What compression, response-time loggers and the like do.
    const write = res.write.bind(res) as (chunk: Buffer, ...rest: unknown[]) => boolean;
    res.write = ((chunk: Buffer, ...rest: unknown[]) => {
      wrappedBytes += chunk.length;
      return write(chunk, ...rest);
    }) as typeof res.write;
    serve(req, res);
  });
  const { url, close } = await listen(server);
  try {
    const response = await curl(`${url}/data.bin`);
    t.true(response.body.equals(data));
    t.is(wrappedBytes, data.length);
    t.is(served[0]?.method, 'stream');
  } finally {
    await close();
  }
});
