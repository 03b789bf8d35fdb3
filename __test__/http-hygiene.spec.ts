/**
 * The HTTP doors when the app or the machine misbehaves, and across a deploy: an `onServed` that
 * throws, a descriptor shortage in the middle of a lookup, an `allowedPath` filter that throws, a
 * root that is a symlink repointed to a new release, the process-wide caches of `sendFile` under
 * many roots, and a found file released twice. Nothing may crash, no descriptor may stay held,
 * and nothing stale (or wrongly refused) may be answered.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';

import test from 'ava';
import express from 'express';
import Fastify from 'fastify';

import { createStaticServer, sendFile, serveStatic } from '../src';
import zerosendFastify = require('../src/http/frameworks/fastify');
import { representation } from '../src/http/find-file';
import { OpenFiles, sharedOpenFiles, type OpenFile } from '../src/http/open-files';
import { descriptorsOn } from './helpers/cli-process';
import { hasNative } from './helpers/native';
import { MiB, tempDir } from './helpers/net';
import { curl, listen, makeSite } from './helpers/static-site';

const site = makeSite();

/** Process warnings with `code`, collected while `run` runs. */
async function warningsDuring(code: string, run: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = [];
  const listener = (warning: Error & { code?: string }): void => void (warning.code === code && seen.push(warning));
  process.on('warning', listener);
  try {
    await run();
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

test.serial('an onServed that throws: every answer still whole, the error a process warning, the server alive', async (t) => {
  const root = tempDir('zs-hygiene-');
  const small = Buffer.from('small file\n');
  const large = Buffer.alloc(4 * MiB, 7);
  writeFileSync(join(root, 'small.txt'), small);
  writeFileSync(join(root, 'large.bin'), large);
  // The small file is answered from memory (synchronously), the large one by a body that
  // reports from a promise; `method: 'sendfile'` (native only) makes even the small one asynchronous.
  for (const method of hasNative ? (['auto', 'sendfile'] as const) : (['auto'] as const)) {
    const server = createStaticServer(root, {
      method,
      onServed: () => {
        throw new Error('a broken access logger');
      },
    });
    const { url, close } = await listen(server);
    try {
      const warnings = await warningsDuring('ZEROSEND_ON_SERVED', async () => {
        for (let round = 0; round < 2; round++) {
          const a = await curl(`${url}/small.txt`);
          t.is(a.status, 200, method);
          t.true(a.body.equals(small), method);
          const b = await curl(`${url}/large.bin`);
          t.is(b.status, 200, method);
          t.true(b.body.equals(large), method);
          t.is((await curl(`${url}/missing`)).status, 404, method);
        }
      });
      t.is(warnings.length, 6, method);
      t.regex(warnings[0]!.message, /onServed threw: Error: a broken access logger/);
    } finally {
      await close();
    }
  }
});

test.serial('under Express, an onServed that throws never reaches the error handler after the answer', async (t) => {
  const app = express();
  const errors: unknown[] = [];
  app.use(
    serveStatic(site.root, {
      onServed: () => {
        throw new Error('a broken access logger');
      },
    }),
  );
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    errors.push(error);
    res.status(500).end();
  });
  const { url, close } = await listen(http.createServer(app));
  try {
    const warnings = await warningsDuring('ZEROSEND_ON_SERVED', async () => {
      const response = await curl(`${url}/data.bin`);
      t.is(response.status, 200);
      t.true(response.body.equals(site.files['data.bin']!));
    });
    t.is(warnings.length, 1);
    t.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('EMFILE while looking for a precompressed variant: a 500, and the file found before it is released', async (t) => {
  // In its own process, which uses up every descriptor it may have: under a low limit of its own,
  // for the limit a CI machine gives may be a million, or 2^30 (using that up takes the machine's
  // memory with it).
  const fixture = join(__dirname, 'fixtures', 'precompressed-emfile.ts');
  const { stdout } = await promisify(execFile)('sh', ['-c', 'ulimit -n 256 && exec "$@"', 'sh', process.execPath, '--import', 'tsx', fixture, site.root], {
    timeout: 60_000,
  });
  t.deepEqual(JSON.parse(stdout), { status: 500, heldAfterClose: false });
});

test('zerosend/fastify: an allowedPath that throws goes to the error handler, and the file it was asked about is released', async (t) => {
  const root = tempDir('zs-hygiene-fastify-');
  mkdirSync(join(root, 'docs'));
  const index = join(root, 'docs', 'index.html');
  writeFileSync(index, '<h1>docs</h1>\n');
  const app = Fastify({ forceCloseConnections: true });
  await app.register(zerosendFastify, {
    root,
    allowedPath: (pathName) => {
      if (pathName === '/docs/index.html') throw new Error('the filter broke');
      return true;
    },
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    for (let i = 0; i < 3; i++) t.is((await curl(`${url}/docs/`)).status, 500);
  } finally {
    await app.close();
  }
  // The plugin's cache closes its idle descriptors with fs.close: a moment for the callbacks.
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(descriptorsOn(index), 0);
});

test('a root that is a symlink, repointed to a new release: the new files are served (not refused as outside the root), listings too', async (t) => {
  const base = tempDir('zs-hygiene-deploy-');
  for (const release of ['1', '2']) {
    mkdirSync(join(base, 'releases', release, 'docs'), { recursive: true });
    writeFileSync(join(base, 'releases', release, 'app.txt'), `release ${release}\n`);
    writeFileSync(join(base, 'releases', release, 'docs', `only-in-${release}.txt`), release);
  }
  const current = join(base, 'current');
  symlinkSync(join(base, 'releases', '1'), current);
  const deploy = (release: string): void => {
    // As deploy tools do it: a new link, renamed over the old one (atomic).
    const next = join(base, `current.${release}`);
    symlinkSync(join(base, 'releases', release), next);
    renameSync(next, current);
  };

  const server = createStaticServer(current, { listing: true });
  const app = express();
  app.get('/one/:name', (req, res, next) => {
    sendFile(req, res, req.params.name!, { root: current }).catch(next);
  });
  const staticServer = await listen(server);
  const appServer = await listen(http.createServer(app));
  try {
    const listed = async (): Promise<string[]> =>
      (JSON.parse((await curl('-H', 'Accept: application/json', `${staticServer.url}/docs/`)).body.toString()) as Array<{ name: string }>).map((e) => e.name);
    t.is((await curl(`${staticServer.url}/app.txt`)).body.toString(), 'release 1\n');
    t.is((await curl(`${appServer.url}/one/app.txt`)).body.toString(), 'release 1\n');
    t.deepEqual(await listed(), ['only-in-1.txt']);

    deploy('2');
    const served = await curl(`${staticServer.url}/app.txt`);
    t.is(served.status, 200);
    t.is(served.body.toString(), 'release 2\n');
    t.is((await curl(`${appServer.url}/one/app.txt`)).body.toString(), 'release 2\n');
    t.deepEqual(await listed(), ['only-in-2.txt']);
    // Outside stays outside: a link out of the new release is still refused.
    symlinkSync(site.outside, join(base, 'releases', '2', 'escape'));
    t.is((await curl(`${staticServer.url}/escape/secret.txt`)).status, 403);
  } finally {
    await staticServer.close();
    await appServer.close();
  }
});

test("sendFile's process-wide caches: the root in use survives 64 newer roots (least recently used goes first)", (t) => {
  const hot = tempDir('zs-hygiene-hot-');
  const first = sharedOpenFiles(hot, true);
  const tenant0 = sharedOpenFiles(join(hot, 'tenant-0'), true);
  for (let i = 1; i <= 100; i++) {
    sharedOpenFiles(join(hot, `tenant-${i}`), true);
    t.is(sharedOpenFiles(hot, true), first, `after ${i} newer roots`);
  }
  t.not(sharedOpenFiles(join(hot, 'tenant-0'), true), tenant0, 'a root unused for 64 others was closed');
});

test('a representation gives back the file and its variant once, however often release is called', async (t) => {
  const root = tempDir('zs-hygiene-release-');
  writeFileSync(join(root, 'app.js'), 'console.log(1)\n');
  writeFileSync(join(root, 'app.js.br'), 'not really brotli');
  const files = new OpenFiles(root, 16, 30_000, true);
  const lookup = (name: string): OpenFile => {
    const found = files.lookup(join(root, name));
    if (found.kind !== 'file') throw new Error(`${name}: ${found.kind}`);
    return found.file;
  };
  // Another request holds both while this one's answer goes wrong and releases twice.
  const otherOriginal = lookup('app.js');
  const otherVariant = lookup('app.js.br');
  const chosen = representation(files, lookup('app.js'), 'br', true);
  t.is(chosen.file, otherVariant, 'the cached variant');
  t.is(chosen.encoding?.name, 'br');
  chosen.release();
  chosen.release();
  // The cache lets go of both: only the other request's hold keeps them open now.
  files.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(descriptorsOn(join(root, 'app.js')), 1, 'still held by the other request');
  t.is(descriptorsOn(join(root, 'app.js.br')), 1, 'still held by the other request');
  files.release(otherOriginal);
  files.release(otherVariant);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(descriptorsOn(join(root, 'app.js')), 0);
  t.is(descriptorsOn(join(root, 'app.js.br')), 0);
});
