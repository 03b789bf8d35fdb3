/**
 * The `zerosend proxy` command, run as a user runs it: the built CLI (`node dist/cli/main.js proxy`)
 * in front of a real HTTP server, curl through it, SIGTERM to stop it.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';

import { MiB, sha256, tempDir } from './helpers/net';
import { refusingPort } from './helpers/relay';

const run = promisify(execFile);
const CLI = join(__dirname, '..', 'dist', 'cli', 'main.js');
const dir = tempDir('zs-proxy-cli-');
const body = randomBytes(16 * MiB);

test.before(() => {
  if (!existsSync(join(__dirname, '..', 'dist', 'cli', 'proxy.js'))) {
    throw new Error('dist/cli/proxy.js is missing: run `npm run build` (or `npm run build:ts`) first');
  }
});

interface Running {
  child: ChildProcessWithoutNullStreams;
  port: number;
  /** Everything the command printed so far. */
  output(): string;
  /** Resolves with the exit code once it exits and its output is all read ('close', not 'exit'). */
  exited: Promise<number | null>;
}

/** Starts `zerosend proxy --listen 127.0.0.1:0 --to ...` and waits for its listening line. */
async function startProxy(to: string, ...extra: string[]): Promise<Running> {
  const child = spawn(process.execPath, [CLI, 'proxy', '--listen', '127.0.0.1:0', '--to', to, ...extra]);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const check = (): void => {
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (match) {
        child.stdout.off('data', check);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on('data', check);
    exited.then((code) => reject(new Error(`the proxy exited (${code}) before listening:\n${out}`)));
  });
  return { child, port, output: () => out, exited };
}

/** A node:http server: GET /big answers `body`, POST /echo-hash answers the sha256 of the upload,
 * GET /slow answers `body` in pieces over ~600 ms. */
async function httpServer(): Promise<{ port: number; close(): void }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/big') {
      res.setHeader('content-length', body.length);
      res.end(body);
    } else if (req.url === '/echo-hash') {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => res.end(sha256(Buffer.concat(chunks))));
    } else if (req.url === '/slow') {
      res.setHeader('content-length', body.length);
      let sent = 0;
      const piece = body.length / 4;
      const timer = setInterval(() => {
        res.write(body.subarray(sent, sent + piece));
        sent += piece;
        if (sent >= body.length) {
          clearInterval(timer);
          res.end();
        }
      }, 150);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

async function curl(...args: string[]): Promise<string> {
  const { stdout } = await run('curl', ['--silent', '--show-error', '--max-time', '60', ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * MiB,
  });
  return stdout;
}

test('--help explains every option', async (t) => {
  const { stdout } = await run(process.execPath, [CLI, 'proxy', '--help'], { encoding: 'utf8' });
  for (const option of ['--listen', '--to', '--grace', '--connect-timeout', '--quiet', '--help']) {
    t.regex(stdout, new RegExp(`${option}\\b`), option);
  }
  t.regex(stdout, /SIGTERM/);
  const { stdout: top } = await run(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
  t.regex(top, /\bproxy\b/);
});

test('curl through the proxy to node:http: exact bytes both ways, a log line per connection, SIGTERM exits cleanly', async (t) => {
  const upstream = await httpServer();
  const proxy = await startProxy(`127.0.0.1:${upstream.port}`);
  try {
    const url = `http://127.0.0.1:${proxy.port}`;
    // Download: 16 MiB, compared byte for byte.
    const downloaded = join(dir, 'downloaded.bin');
    await curl('--output', downloaded, `${url}/big`);
    t.is(sha256(readFileSync(downloaded)), sha256(body));
    // Upload: 16 MiB, hashed by the server.
    const upload = join(dir, 'upload.bin');
    writeFileSync(upload, body);
    t.is(await curl('--data-binary', `@${upload}`, `${url}/echo-hash`), sha256(body));
    // Two requests on one keep-alive connection through the proxy.
    const twice = await curl('--output', join(dir, 'a.bin'), `${url}/big`, '--output', join(dir, 'b.bin'), `${url}/big`);
    t.is(twice, '');
    t.is(sha256(readFileSync(join(dir, 'b.bin'))), sha256(body));

    proxy.child.kill('SIGTERM');
    t.is(await proxy.exited, 0);
    const lines = proxy.output().split('\n').filter((line) => line.includes(' peer='));
    t.is(lines.length, 3, proxy.output());
    for (const line of lines) t.regex(line, /peer=127\.0\.0\.1:\d+ up=\d+ down=\d+ ms=\d+ end=closed$/);
    t.true(lines.some((line) => Number(/down=(\d+)/.exec(line)![1]) > body.length));
    t.true(lines.some((line) => Number(/up=(\d+)/.exec(line)![1]) > body.length));
    t.regex(proxy.output(), /SIGTERM: no longer accepting/);
    t.regex(proxy.output(), /3 connection\(s\), 0 failed, \d+ bytes up, \d+ bytes down/);
  } finally {
    proxy.child.kill('SIGKILL');
    upstream.close();
  }
});

test('SIGTERM lets an open connection finish, then exits 0; new connections are refused meanwhile', async (t) => {
  const upstream = await httpServer();
  const proxy = await startProxy(`127.0.0.1:${upstream.port}`, '--grace', '30');
  try {
    const downloaded = join(dir, 'slow.bin');
    const slow = curl('--output', downloaded, `http://127.0.0.1:${proxy.port}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 250));
    proxy.child.kill('SIGTERM');
    while (!proxy.output().includes('no longer accepting')) await new Promise((resolve) => setTimeout(resolve, 20));
    const refused = await new Promise<string | undefined>((resolve) => {
      const probe = net.connect(proxy.port, '127.0.0.1');
      probe.once('connect', () => {
        probe.destroy();
        resolve(undefined);
      });
      probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
    });
    t.is(refused, 'ECONNREFUSED');
    await slow;
    t.is(sha256(readFileSync(downloaded)), sha256(body));
    t.is(await proxy.exited, 0);
    t.regex(proxy.output(), /1 open connection\(s\) get 30 s to finish/);
    t.regex(proxy.output(), /end=closed/);
  } finally {
    proxy.child.kill('SIGKILL');
    upstream.close();
  }
});

test('an upstream that refuses: a clear message in the log, the client is closed, the proxy lives on', async (t) => {
  const port = await refusingPort();

  const proxy = await startProxy(`127.0.0.1:${port}`);
  try {
    const error = await t.throwsAsync(curl(`http://127.0.0.1:${proxy.port}/`));
    t.truthy(error);
    await t.throwsAsync(curl(`http://127.0.0.1:${proxy.port}/`));
    proxy.child.kill('SIGINT');
    t.is(await proxy.exited, 0);
    t.regex(proxy.output(), new RegExp(`end=refused error="upstream 127\\.0\\.0\\.1:${port} refused the connection`));
    t.regex(proxy.output(), /2 connection\(s\), 2 failed/);
  } finally {
    proxy.child.kill('SIGKILL');
  }
});

test('bad arguments exit 2 and a port in use exits 1, each with a message', async (t) => {
  const bad = await run(process.execPath, [CLI, 'proxy', '--listen', 'x', '--to', '127.0.0.1:1']).catch((e: unknown) => e);
  t.is((bad as { code: number }).code, 2);
  t.regex((bad as { stderr: string }).stderr, /\[HOST:\]PORT/);
  const noTo = await run(process.execPath, [CLI, 'proxy', '--listen', '0']).catch((e: unknown) => e);
  t.is((noTo as { code: number }).code, 2);
  t.regex((noTo as { stderr: string }).stderr, /--to/);

  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const { port } = taken.address() as net.AddressInfo;
  const inUse = await run(process.execPath, [CLI, 'proxy', '--listen', `127.0.0.1:${port}`, '--to', '127.0.0.1:1']).catch(
    (e: unknown) => e,
  );
  t.is((inUse as { code: number }).code, 1);
  t.regex((inUse as { stderr: string }).stderr, /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  taken.close();
});
