/**
 * `zerosend serve`, run as a user runs it: `node dist/cli/main.js serve DIR` (dist/ is built by tsc
 * first if missing or stale, see helpers/cli-process.ts), then curl against it.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';

import test from 'ava';

import { CliProcess, ensureBuilt, startServe } from './helpers/cli-process';
import { AUTO_FILE_METHOD_PATTERN, AUTO_FILE_METHODS, hasNative } from './helpers/native';
import { MiB, delay, tempDir } from './helpers/net';
import { curl, curlRaw, errorPage, makeSite } from './helpers/static-site';

const site = makeSite();

test.before(async () => {
  await ensureBuilt();
});

test('serves a folder; one access-log line per request, with the method that sent the body', async (t) => {
  const { cli, url } = await startServe(site.root);
  try {
    const hit = await curl(`${url}/data.bin`);
    t.true(hit.body.equals(site.files['data.bin']!));
    await curl('-I', `${url}/style.css`);
    await curl(`${url}/missing.txt`);
    await curl('-H', 'Range: bytes=0-99', `${url}/data.bin`);
    const line = (pattern: RegExp): Promise<RegExpMatchArray> => cli.waitFor(pattern, 10_000);
    // time, client, method, path, status, bytes, ms, sender
    const get = await line(/^(\S+) 127\.0\.0\.1 GET \/data\.bin 200 100000 (\d+\.\d)ms (\S+)$/m);
    t.false(Number.isNaN(Date.parse(get[1]!)));
    t.true(AUTO_FILE_METHODS.includes(get[3]!), get[3]);
    await line(/ HEAD \/style\.css 200 0 \d+\.\dms none$/m);
    await line(new RegExp(` GET /missing\\.txt 404 ${errorPage('Not Found').length} \\d+\\.\\dms none$`, 'm'));
    await line(new RegExp(` GET /data\\.bin 206 100 \\d+\\.\\dms ${AUTO_FILE_METHOD_PATTERN}$`, 'm'));
    t.pass();
  } finally {
    t.is((await cli.stop('SIGINT')).code, 0, 'SIGINT exits cleanly');
  }
});

test('--method: bodies go out the way asked, the access log says so; an unknown name exits 2', async (t) => {
  const wanted = hasNative ? 'copy' : 'stream';
  const { cli, url } = await startServe(site.root, hasNative ? ['--method', 'copy'] : []);
  try {
    t.true((await curl(`${url}/data.bin`)).body.equals(site.files['data.bin']!));
    await cli.waitFor(new RegExp(` GET /data\\.bin 200 100000 \\d+\\.\\dms ${wanted}$`, 'm'), 10_000);
  } finally {
    await cli.stop();
  }
  const bad = new CliProcess(['serve', '--port', '0', '--method', 'fast', site.root]);
  const exit = await bad.exited;
  t.is(exit.code, 2, 'a bad flag value is a usage error');
  t.regex(bad.stderr, /--method.*'fast' is invalid.*auto, sendfile, splice, mmap, copy/);
});

test('DIR defaults to the current folder; --quiet, --max-age, --precompressed, --dotfiles', async (t) => {
  const cli = new CliProcess(['serve', '--port', '0', '--quiet', '--max-age', '1h', '--precompressed', '--dotfiles', 'deny'], {
    cwd: site.root,
  });
  try {
    const [, url] = await cli.waitFor(/at (http:\S+)/);
    const response = await curl(`${url}/sub/a.txt`);
    t.deepEqual(response.body, site.files['sub/a.txt']);
    t.is(response.headers['cache-control'], 'public, max-age=3600');
    const compressed = await curl('-H', 'Accept-Encoding: br', `${url}/app.js`);
    t.is(compressed.headers['content-encoding'], 'br');
    t.deepEqual(compressed.body, site.files['app.js.br']);
    t.is((await curl(`${url}/.env`)).status, 403);
    await delay(200);
    t.notRegex(cli.stdout, /GET/);
  } finally {
    await cli.stop();
  }
});

test('--workers 2: a cluster of processes on one port; SIGTERM stops them all', async (t) => {
  const { cli, url } = await startServe(site.root, ['--workers', '2', '--quiet']);
  try {
    t.regex(cli.stdout, /with 2 workers/);
    const children = (): number[] =>
      execFileSync('ps', ['-o', 'pid=', '--ppid', String(cli.pid)], { encoding: 'utf8' })
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map(Number);
    t.is(children().length, 2);
    const results = await Promise.all(Array.from({ length: 40 }, () => curl(`${url}/data.bin`)));
    for (const response of results) t.true(response.body.equals(site.files['data.bin']!));
    const workers = children();
    const { code } = await cli.stop('SIGTERM');
    t.is(code, 0);
    for (const pid of workers) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} is gone`);
  } finally {
    await cli.stop('SIGKILL');
  }
});

test('graceful shutdown: a download in flight completes, new connections are refused, then exit 0', async (t) => {
  const root = tempDir('zs-grace-');
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(32 * MiB, 3));
  const { cli, port } = await startServe(root);
  try {
    // A slow client: it reads nothing until after the signal.
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.pause();
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    await delay(300);
    cli.child.kill('SIGTERM');
    await delay(300);
    await t.throwsAsync(
      () =>
        new Promise((resolve, reject) => {
          const late = net.connect({ port, host: '127.0.0.1' });
          late.once('connect', () => {
            late.destroy();
            resolve(undefined);
          });
          late.once('error', reject);
        }),
      { code: 'ECONNREFUSED' },
    );
    let received = 0;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.resume();
    await closed;
    t.true(received > 32 * MiB, `the whole body arrived (${received} bytes with headers)`);
    const { code } = await cli.exited;
    t.is(code, 0);
    t.regex(cli.stdout, new RegExp(` GET /big\\.bin 200 33554432 \\d+\\.\\dms ${AUTO_FILE_METHOD_PATTERN}`));
  } finally {
    await cli.stop('SIGKILL');
  }
});

test('graceful shutdown has a limit: a client that never reads is cut off after --grace', async (t) => {
  const root = tempDir('zs-grace-limit-');
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(64 * MiB, 4));
  const { cli, port } = await startServe(root, ['--grace', '500']);
  try {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.pause(); // never reads: the transfer stays parked on a full socket
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    await delay(300);
    cli.child.kill('SIGTERM');
    const { code } = await cli.exited;
    t.is(code, 0);
    t.regex(cli.stdout, / GET \/big\.bin 200 \d+ \d+\.\dms none ERR_SOCKET_CLOSED/);
    socket.destroy();
  } finally {
    await cli.stop('SIGKILL');
  }
});

test('keep-alive through the CLI: curl fetches several URLs over one connection', async (t) => {
  const { cli, url } = await startServe(site.root, ['--quiet']);
  try {
    const out = join(site.root, '..', 'cli-many');
    const stdout = await curlRaw(['-sS', '-w', '%{num_connects}\\n', '-o', `${out}-1`, `${url}/data.bin`, '-o', `${out}-2`, `${url}/index.html`, '-o', `${out}-3`, `${url}/data.bin`]);
    t.deepEqual(stdout.trim().split('\n'), ['1', '0', '0']);
  } finally {
    await cli.stop();
  }
});

test('errors: a missing folder and a bad port exit 2, a port in use exits 1, each with a message', async (t) => {
  const missing = new CliProcess(['serve', join(site.root, 'nope'), '--port', '0']);
  t.is((await missing.exited).code, 2);
  t.regex(missing.stderr, /is not a directory/);

  const { cli, port } = await startServe(site.root, ['--quiet']);
  try {
    const second = new CliProcess(['serve', site.root, '--port', String(port)]);
    t.is((await second.exited).code, 1);
    t.regex(second.stderr, /EADDRINUSE/);
    const bad = new CliProcess(['serve', site.root, '--port', 'eighty']);
    t.is((await bad.exited).code, 2);
    t.regex(bad.stderr, /--port must be an integer/);
  } finally {
    await cli.stop();
  }
});
