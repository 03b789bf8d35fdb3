/**
 * `zerosend serve`'s front-end flags through the real CLI process and curl: `--spa`, a root
 * `404.html`, `--cors` on every kind of answer and preflights, HTTPS with a certificate made here,
 * `--help`, and the usage errors (one line on stderr, exit code 2).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import test from 'ava';

import { CliProcess, ensureBuilt, startServe } from './helpers/cli-process';
import { hasNative } from './helpers/native';
import { tempDir } from './helpers/net';
import { curl, errorPage, rawGet, rawRequest } from './helpers/static-site';
import { selfSigned } from './helpers/tls';

const SHELL = Buffer.from('<!doctype html><title>app</title><div id="app"></div>\n');
const NOT_FOUND_PAGE = Buffer.from('<!doctype html><h1>Nothing here (custom 404)</h1>\n');

/** A built front end: index.html, assets, a folder without index, a dotfile; with or without 404.html. */
function makeApp(options: { notFoundPage?: boolean; index?: boolean } = {}): string {
  const root = tempDir('zs-app-');
  mkdirSync(join(root, 'assets'));
  mkdirSync(join(root, 'docs'));
  if (options.index !== false) writeFileSync(join(root, 'index.html'), SHELL);
  if (options.notFoundPage) writeFileSync(join(root, '404.html'), NOT_FOUND_PAGE);
  writeFileSync(join(root, 'assets', 'app.js'), 'console.log(1);\n');
  writeFileSync(join(root, 'docs', 'guide.txt'), 'guide\n');
  writeFileSync(join(root, '.env'), 'SECRET=1\n');
  writeFileSync(join(root, 'data.json'), '{"n":1}\n'.repeat(100));
  return root;
}

test.before(async () => {
  await ensureBuilt();
});

test('--spa: a missing path whose last segment has no dot gets index.html with 200; a missing file stays 404', async (t) => {
  const { cli, url, port } = await startServe(makeApp(), ['--spa']);
  try {
    for (const route of ['/users/42', '/users/42/', '/settings/profile', '/docs/missing-page']) {
      const response = await curl(`${url}${route}`);
      t.is(response.status, 200, route);
      t.deepEqual(response.body, SHELL, route);
      t.is(response.headers['content-type'], 'text/html; charset=utf-8');
    }
    const head = (await rawRequest(port, 'HEAD /users/42 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toString('latin1');
    t.regex(head, /^HTTP\/1\.1 200 /);
    t.regex(head, new RegExp(`\\r\\nContent-Length: ${SHELL.length}\\r\\n`, 'i'));
    t.true(head.endsWith('\r\n\r\n'), 'no body after the headers');
    // The shell revalidates like any file: 304 for its own ETag.
    const etag = (await curl(`${url}/users/42`)).headers.etag!;
    t.is((await curl('-H', `If-None-Match: ${etag}`, `${url}/users/7`)).status, 304);
    for (const missing of ['/missing.js', '/assets/missing.css', '/v1.2', '/.env']) {
      const response = await curl(`${url}${missing}`);
      t.is(response.status, 404, missing);
      t.deepEqual(response.body, errorPage('Not Found'), missing);
    }
    t.deepEqual((await curl(`${url}/assets/app.js`)).body, Buffer.from('console.log(1);\n'), 'files are still files');
    t.regex((await curl(`${url}/docs/`)).body.toString(), /Index of \/docs\//, 'folders are still listed');
    // A small page: answered from the open-file cache's copy.
    await cli.waitFor(new RegExp(` GET /users/42 200 ${SHELL.length} \\d+\\.\\dms memory$`, 'm'), 10_000);
  } finally {
    await cli.stop();
  }
  const plain = await startServe(makeApp(), ['--quiet']);
  try {
    t.is((await curl(`${plain.url}/users/42`)).status, 404, 'without --spa, a route is a 404');
  } finally {
    await plain.cli.stop();
  }
  const noShell = await startServe(makeApp({ index: false }), ['--quiet', '--spa']);
  try {
    t.deepEqual((await curl(`${noShell.url}/users/42`)).body, errorPage('Not Found'), 'no index.html: the 404 page');
  } finally {
    await noShell.cli.stop();
  }
});

test('404.html at the root is the body of every 404, status kept: no 304, no 206; HEAD has no body', async (t) => {
  const { cli, url, port } = await startServe(makeApp({ notFoundPage: true }));
  try {
    const missing = await curl(`${url}/nope.txt`);
    t.is(missing.status, 404);
    t.deepEqual(missing.body, NOT_FOUND_PAGE);
    t.is(missing.headers['content-type'], 'text/html; charset=utf-8');
    t.deepEqual((await curl(`${url}/.env`)).body, NOT_FOUND_PAGE, 'an ignored dotfile is a 404 too');
    const revalidated = await curl('-H', `If-None-Match: ${missing.headers.etag!}`, `${url}/nope.txt`);
    t.is(revalidated.status, 404, "its ETag does not make a 304 of a 404");
    t.deepEqual(revalidated.body, NOT_FOUND_PAGE);
    const ranged = await curl('-H', 'Range: bytes=0-3', `${url}/nope.txt`);
    t.is(ranged.status, 404, 'nor a Range a 206');
    t.deepEqual(ranged.body, NOT_FOUND_PAGE);
    const head = (await rawRequest(port, 'HEAD /nope.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toString('latin1');
    t.regex(head, /^HTTP\/1\.1 404 /);
    t.regex(head, new RegExp(`\\r\\nContent-Length: ${NOT_FOUND_PAGE.length}\\r\\n`, 'i'));
    t.true(head.endsWith('\r\n\r\n'), 'no body after the headers');
    t.is((await rawGet(port, '/%00')).status, 400, 'other errors keep the built-in page');
    await cli.waitFor(new RegExp(` GET /nope\\.txt 404 ${NOT_FOUND_PAGE.length} \\d+\\.\\dms memory$`, 'm'), 10_000);
  } finally {
    await cli.stop();
  }
  const spa = await startServe(makeApp({ notFoundPage: true }), ['--quiet', '--spa', '--dotfiles', 'deny']);
  try {
    t.deepEqual((await curl(`${spa.url}/route`)).body, SHELL, '--spa first for routes');
    t.deepEqual((await curl(`${spa.url}/missing.js`)).body, NOT_FOUND_PAGE, '404.html for missing files');
    const denied = await curl(`${spa.url}/.env`);
    t.is(denied.status, 403);
    t.deepEqual(denied.body, errorPage('Forbidden'), 'a 403 is not a 404');
  } finally {
    await spa.cli.stop();
  }
});

test('--cors: Access-Control-Allow-Origin on every answer — files, listings, redirects, 304, 404, 403, 416, 405', async (t) => {
  for (const notFoundPage of [false, true]) {
    const { cli, url, port } = await startServe(makeApp({ notFoundPage }), ['--quiet', '--cors', '--dotfiles', 'deny']);
    try {
      const etag = (await curl(`${url}/data.json`)).headers.etag!;
      const answers: Array<[string, number, string[]]> = [
        ['file', 200, [`${url}/data.json`]],
        ['range', 206, ['-H', 'Range: bytes=0-9', `${url}/data.json`]],
        ['listing', 200, [`${url}/docs/`]],
        ['redirect', 301, [`${url}/docs`]],
        ['not modified', 304, ['-H', `If-None-Match: ${etag}`, `${url}/data.json`]],
        ['missing', 404, [`${url}/missing.txt`]],
        ['denied dotfile', 403, [`${url}/.env`]],
        ['unsatisfiable range', 416, ['-H', 'Range: bytes=999999-', `${url}/data.json`]],
        ['method', 405, ['-X', 'POST', `${url}/data.json`]],
      ];
      for (const [what, status, args] of answers) {
        const response = await curl('-H', 'Origin: http://elsewhere.example', ...args);
        t.is(response.status, status, what);
        t.is(response.headers['access-control-allow-origin'], '*', `${what} (${status}), 404.html: ${notFoundPage}`);
        // A range reader on another origin (PDF.js, a video player) must see what it got.
        if (what === 'range') t.regex(response.headers['access-control-expose-headers'] ?? '', /Content-Range/);
      }
      const malformed = (await rawRequest(port, 'GET /%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toString('latin1');
      t.regex(malformed, /^HTTP\/1\.1 400 [^]*\r\nAccess-Control-Allow-Origin: \*\r\n/i);
    } finally {
      await cli.stop();
    }
  }
});

test('--cors: preflight OPTIONS gets 204 with the methods and the requested headers; without --cors, 405 and no header', async (t) => {
  const { cli, url } = await startServe(makeApp(), ['--cors']);
  try {
    const preflight = await curl(
      '-X', 'OPTIONS',
      '-H', 'Origin: http://localhost:5173',
      '-H', 'Access-Control-Request-Method: GET',
      '-H', 'Access-Control-Request-Headers: range, x-requested-with',
      `${url}/data.json`,
    );
    t.is(preflight.status, 204);
    t.is(preflight.headers['access-control-allow-origin'], '*');
    t.is(preflight.headers['access-control-allow-methods'], 'GET, HEAD, OPTIONS');
    t.is(preflight.headers['access-control-allow-headers'], 'range, x-requested-with');
    t.truthy(preflight.headers['access-control-max-age']);
    t.deepEqual(preflight.body, Buffer.alloc(0));
    const bare = await curl('-X', 'OPTIONS', `${url}/anything`);
    t.is(bare.status, 204);
    t.is(bare.headers.allow, 'GET, HEAD, OPTIONS');
    t.is(bare.headers['access-control-allow-headers'], undefined, 'no headers requested, none allowed');
    await cli.waitFor(/ OPTIONS \/data\.json 204 0 \d+\.\dms none$/m, 10_000);
  } finally {
    await cli.stop();
  }
  const quiet = await startServe(makeApp(), ['--cors', '--quiet']);
  try {
    const preflight = await curl('-m', '10', '-X', 'OPTIONS', '-H', 'Access-Control-Request-Method: GET', `${quiet.url}/data.json`);
    t.is(preflight.status, 204, 'answered without an access log too');
  } finally {
    await quiet.cli.stop();
  }
  const plain = await startServe(makeApp(), ['--quiet']);
  try {
    t.is((await curl('-H', 'Origin: http://elsewhere.example', `${plain.url}/data.json`)).headers['access-control-allow-origin'], undefined);
    t.is((await curl('-X', 'OPTIONS', '-H', 'Access-Control-Request-Method: GET', `${plain.url}/data.json`)).status, 405);
  } finally {
    await plain.cli.stop();
  }
});

test('--workers 2 with --spa and --cors: every worker has the flags', async (t) => {
  const { cli, url } = await startServe(makeApp(), ['--quiet', '--workers', '2', '--spa', '--cors']);
  try {
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => curl(`${url}/route/${i}`)));
    for (const response of responses) {
      t.deepEqual(response.body, SHELL);
      t.is(response.headers['access-control-allow-origin'], '*');
    }
  } finally {
    t.is((await cli.stop()).code, 0);
  }
});

/** The self-signed pair of helpers/tls.ts, as files. */
function tlsFiles(): { cert: string; key: string } {
  const dir = tempDir('zs-cli-tls-');
  const { cert, key } = selfSigned();
  writeFileSync(join(dir, 'cert.pem'), cert);
  writeFileSync(join(dir, 'key.pem'), key);
  return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

test('--tls-cert/--tls-key: HTTPS with the given certificate; files, listings and --spa over it, bodies by streams', async (t) => {
  const { cert, key } = tlsFiles();
  const root = makeApp();
  const large = Buffer.alloc(100_000, 'z');
  writeFileSync(join(root, 'large.bin'), large);
  const { cli, url, port } = await startServe(root, ['--tls-cert', cert, '--tls-key', key, '--spa']);
  try {
    t.regex(url, /^https:\/\//);
    const file = await curl('-k', `${url}/data.json`);
    t.is(file.status, 200);
    t.deepEqual(file.body, Buffer.from('{"n":1}\n'.repeat(100)));
    // Verified against the certificate itself: the server presents the one it was given.
    const verified = await curl('--cacert', cert, '--resolve', `localhost:${port}:127.0.0.1`, `https://localhost:${port}/data.json`);
    t.is(verified.status, 200);
    const listing = await curl('-k', '-H', 'Accept: application/json', `${url}/docs/`);
    t.deepEqual((JSON.parse(listing.body.toString()) as Array<{ name: string }>).map((entry) => entry.name), ['guide.txt']);
    t.deepEqual((await curl('-k', `${url}/some/route`)).body, SHELL);
    await t.throwsAsync(() => curl(`${url}/data.json`), { message: /certificate/i }, 'an unverified self-signed certificate is refused by default');
    t.deepEqual((await curl('-k', `${url}/large.bin`)).body, large);
    // Small files are written from memory by Node, which encrypts them; larger ones go by streams.
    await cli.waitFor(/ GET \/data\.json 200 800 \d+\.\dms memory$/m, 10_000);
    await cli.waitFor(/ GET \/large\.bin 200 100000 \d+\.\dms stream$/m, 10_000);
  } finally {
    await cli.stop();
  }
});

test('usage errors: one line on stderr, exit code 2, nothing served', async (t) => {
  const { cert, key } = tlsFiles();
  const dir = tempDir('zs-cli-usage-');
  const otherKey = join(dir, 'other-key.pem');
  execFileSync('openssl', ['genrsa', '-out', otherKey, '2048'], { stdio: 'ignore' });
  const root = makeApp();
  const cases: Array<[string[], RegExp]> = [
    [['--port', '70000'], /--port must be an integer from 0 to 65535/],
    [['--port', '-1'], /--port must be an integer from 0 to 65535/],
    [['--port', 'eighty'], /--port must be an integer/],
    [['--workers', '0'], /--workers must be an integer from 1/],
    [['--dotfiles', 'sometimes'], /'sometimes' is invalid\. Allowed choices are ignore, deny, allow/],
    [['--method', 'fast'], /'fast' is invalid/],
    [['--max-age', 'soon'], /--max-age must be milliseconds or a duration/],
    [['--grace'], /argument missing/],
    [['--bogus'], /unknown option '--bogus'/],
    [['--tls-cert', cert], /--tls-cert needs --tls-key too/],
    [['--tls-key', key], /--tls-key needs --tls-cert too/],
    [['--tls-cert', join(dir, 'missing.pem'), '--tls-key', key], /--tls-cert .*missing\.pem: cannot read it \(ENOENT\)/],
    [['--tls-cert', cert, '--tls-key', join(dir, 'missing.pem')], /--tls-key .*missing\.pem: cannot read it \(ENOENT\)/],
    [['--tls-cert', key, '--tls-key', key], /are not a PEM certificate and its private key/],
    [['--tls-cert', cert, '--tls-key', otherKey], /are not a PEM certificate and its private key.*mismatch/],
    [['--workers', '2', '--tls-cert', cert], /--tls-cert needs --tls-key too/],
  ];
  if (!hasNative) cases.push([['--method', 'copy'], /method 'copy' cannot be used here/]);
  const outcomes = await Promise.all(
    cases.map(async ([args]) => {
      const cli = new CliProcess(['serve', root, '--port', '0', ...args]);
      const exit = await cli.exited;
      return { exit, cli };
    }),
  );
  const missingDir = new CliProcess(['serve', join(dir, 'no-such-folder'), '--port', '0']);
  outcomes.push({ exit: await missingDir.exited, cli: missingDir });
  cases.push([['(missing folder)'], /no-such-folder is not a directory: give the folder to serve/]);
  outcomes.forEach(({ exit, cli }, i) => {
    const [args, message] = cases[i]!;
    const what = args.join(' ');
    t.is(exit.code, 2, `${what}: ${cli.stderr}`);
    const lines = cli.stderr.trimEnd().split('\n');
    t.is(lines.length, 1, `${what}: one line, no stack trace:\n${cli.stderr}`);
    t.regex(lines[0]!, /^zerosend: /, what);
    t.regex(lines[0]!, message, what);
    t.is(cli.stdout, '', `${what}: nothing served`);
  });
});

test('--help explains every flag and exits 0', async (t) => {
  const cli = new CliProcess(['serve', '--help']);
  const { code } = await cli.exited;
  t.is(code, 0);
  t.is(cli.stderr, '');
  for (const flag of ['--port', '--host', '--no-listing', '--spa', '--cors', '--tls-cert', '--tls-key', '--workers', '--quiet', '--max-age', '--precompressed', '--dotfiles', '--method', '--grace']) {
    const line = cli.stdout.split('\n').find((text) => text.trimStart().startsWith(flag) || text.includes(` ${flag} `));
    t.truthy(line, flag);
    t.true((line?.replace(/^\s*(-\w, )?--[\w-]+( <\w+>)?/, '').trim().length ?? 0) > 10, `${flag} is explained: ${line}`);
  }
  t.regex(cli.stdout, /404\.html/);
  t.regex(cli.stdout, /Accept: application\/json/);
  t.regex(cli.stdout, /exit with code 2/);
});
