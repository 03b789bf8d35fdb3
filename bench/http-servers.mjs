#!/usr/bin/env node
// One static file server of bench/http.mjs, in its own process:
//
//   node bench/http-servers.mjs <name> <dir> <port> [--dist=DIR]
//
// Prints `ready <port>` once listening. Every server runs with its defaults for production (ETag
// and Last-Modified on, no logging), serving <dir> on 127.0.0.1:<port>. Names:
//   zerosend           createStaticServer() (open-file cache on)
//   zerosend-nocache   createStaticServer({ openFileCache: false })
//   zerosend-mmap      createStaticServer({ method: 'mmap' }): the alternative for clients on this machine
//   serve-static       serve-static (send) on node:http
//   fastify-static     fastify + @fastify/static
//   sirv               sirv on node:http (dev: false: it indexes the folder at start)
//   node-streams       node:http + fs.stat + fs.createReadStream().pipe(res): what a user writes by hand
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const [name, dir, portText] = process.argv.slice(2);
const dist = process.argv.find((arg) => arg.startsWith('--dist='))?.slice(7) ?? path.join(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..', 'dist');
const port = Number(portText);
const require = createRequire(import.meta.url);
const root = path.resolve(dir);

const notFound = (res) => {
  res.statusCode = 404;
  res.end('Not Found');
};

async function start() {
  switch (name) {
    case 'zerosend':
    case 'zerosend-nocache':
    case 'zerosend-mmap': {
      const { createStaticServer } = require(path.resolve(dist, 'index.js'));
      const options = { 'zerosend-nocache': { openFileCache: false }, 'zerosend-mmap': { method: 'mmap' } }[name];
      return createStaticServer(root, options ?? {});
    }
    case 'serve-static': {
      const serveStatic = require('serve-static');
      const serve = serveStatic(root);
      return http.createServer((req, res) => serve(req, res, () => notFound(res)));
    }
    case 'sirv': {
      const sirv = require('sirv');
      const serve = sirv(root, { dev: false, etag: true });
      return http.createServer((req, res) => serve(req, res, () => notFound(res)));
    }
    case 'fastify-static': {
      const fastify = require('fastify')({ logger: false });
      await fastify.register(require('@fastify/static'), { root });
      await fastify.listen({ port, host: '127.0.0.1' });
      return null;
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
    default:
      throw new Error(`unknown server ${name}`);
  }
}

const server = await start();
if (server) await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
console.log(`ready ${port}`);
process.on('SIGTERM', () => process.exit(0));
