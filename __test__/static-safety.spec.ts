/**
 * Nothing outside the root is ever served. Every attack is written byte for byte on a raw socket
 * (curl and node:http would normalise `..` and `\` away before the server saw them).
 */
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import test from 'ava';

import { createStaticServer, serveStatic } from '../src';
import { tempDir } from './helpers/net';
import { listen, makeSite, rawGet, SECRETS } from './helpers/static-site';
import * as http from 'node:http';

const site = makeSite();

let server: { port: number; close: () => Promise<void> };
test.before(async () => {
  server = await listen(createStaticServer(site.root));
});
test.after.always(() => server.close());

/** [request target, expected status] */
const ATTACKS: Array<[string, number]> = [
  // `..` segments, raw
  ['/../outside/secret.txt', 403],
  ['/../../../../../../etc/passwd', 403],
  ['/sub/../../outside/secret.txt', 403],
  ['/..', 403],
  // percent-encoded dots and slashes
  ['/%2e%2e/outside/secret.txt', 403],
  ['/%2E%2E/%2E%2E/etc/passwd', 403],
  ['/.%2e/outside/secret.txt', 403],
  ['/%2e./outside/secret.txt', 403],
  ['/..%2foutside%2fsecret.txt', 403],
  ['/sub%2f..%2f..%2foutside%2fsecret.txt', 403],
  // backslashes, encoded and raw
  ['/..%5coutside%5csecret.txt', 403],
  ['/sub%5c..%5c.env', 403],
  ['/..\\outside\\secret.txt', 403],
  ['/sub\\..\\.env', 403],
  // NUL
  ['/index.html%00.txt', 400],
  ['/.env%00', 400],
  ['/%00', 400],
  // overlong UTF-8 for '.', '/' and '\'
  ['/%c0%ae%c0%ae/outside/secret.txt', 400],
  ['/%c0%af..%c0%afetc/passwd', 400],
  ['/%e0%80%ae%e0%80%ae/outside/secret.txt', 400],
  ['/..%c1%9coutside%c1%9csecret.txt', 400],
  ['/\xc0\xae\xc0\xae/outside/secret.txt', 400],
  // malformed percent-encoding, invalid UTF-8
  ['/%zz', 400],
  ['/%', 400],
  ['/%e9.txt', 400],
  // dotfiles (ignored: as if absent)
  ['/.env', 404],
  ['/%2eenv', 404],
  ['/sub/.hidden/x.txt', 404],
  // a .. that stays inside the root is resolved (as send): then the dotfile rule answers
  ['/sub/../.env', 404],
  ['/sub/%2e%2e/.env', 404],
  ['/sub/%2e%2e/%2e%2e/outside/secret.txt', 403],
  // symlinks that resolve outside the root
  ['/escape.txt', 403],
  ['/escape-dir/secret.txt', 403],
  // absolute-form target and doubled slashes
  ['http://localhost/../outside/secret.txt', 403],
  ['//etc/passwd', 404],
  // double encoding is one decode only: a literal '%2e%2e' name, which does not exist
  ['/%252e%252e/outside/secret.txt', 404],
];

for (const [target, status] of ATTACKS) {
  test(`refused without leaking: GET ${JSON.stringify(target)} → ${status}`, async (t) => {
    const response = await rawGet(server.port, target);
    t.is(response.status, status);
    for (const secret of SECRETS) t.false(response.text.includes(secret), `leaked ${secret}`);
  });
}

test('a symlink that stays inside the root is served', async (t) => {
  const response = await rawGet(server.port, '/inside-link.txt');
  t.is(response.status, 200);
});

test('relative symlinks: one that stays inside (to a file, through a folder, out and back in) is served, one that leaves is not', async (t) => {
  const outside = tempDir('zs-relative-');
  const root = join(outside, 'root');
  mkdirSync(join(root, 'docs'), { recursive: true });
  writeFileSync(join(root, 'docs', 'page.txt'), 'inside\n');
  writeFileSync(join(outside, 'secret.txt'), 'relative secret\n');
  symlinkSync('docs/page.txt', join(root, 'to-file.txt'));
  symlinkSync('docs', join(root, 'to-folder'));
  symlinkSync('../root/docs/page.txt', join(root, 'out-and-back.txt'));
  symlinkSync('../secret.txt', join(root, 'out.txt'));
  symlinkSync('..', join(root, 'parent'));
  const open = await listen(createStaticServer(root));
  try {
    for (const target of ['/to-file.txt', '/to-folder/page.txt', '/out-and-back.txt']) {
      const response = await rawGet(open.port, target);
      t.is(response.status, 200, target);
      t.true(response.text.endsWith('inside\n'), target);
    }
    for (const target of ['/out.txt', '/parent/secret.txt']) {
      const response = await rawGet(open.port, target);
      t.is(response.status, 403, target);
      t.false(response.text.includes('relative secret'), target);
    }
  } finally {
    await open.close();
  }
});

test('followSymlinks: true serves a symlink that leaves the root (dotfiles and .. still refused)', async (t) => {
  const open = await listen(createStaticServer(site.root, { followSymlinks: true }));
  try {
    const response = await rawGet(open.port, '/escape.txt');
    t.is(response.status, 200);
    t.true(response.text.includes('OUTSIDE-SECRET'));
    t.is((await rawGet(open.port, '/../outside/secret.txt')).status, 403);
    t.is((await rawGet(open.port, '/.env')).status, 404);
  } finally {
    await open.close();
  }
});

test('a root reached through a symlink, repointed at a new release: a link in it that leads into the old release is refused', async (t) => {
  const outside = tempDir('zs-safety-releases-');
  for (const release of ['1', '2']) mkdirSync(join(outside, 'releases', release), { recursive: true });
  writeFileSync(join(outside, 'releases', '1', 'page.txt'), 'release 1\n');
  writeFileSync(join(outside, 'releases', '1', 'secret.txt'), 'OLD RELEASE SECRET\n');
  writeFileSync(join(outside, 'releases', '2', 'page.txt'), 'release 2\n');
  // A link that leaves release 2 (into release 1): outside the root once current points at 2.
  symlinkSync('../1/secret.txt', join(outside, 'releases', '2', 'planted.txt'));
  symlinkSync('releases/1', join(outside, 'current'));
  const { port, close } = await listen(createStaticServer(join(outside, 'current')));
  try {
    t.is((await rawGet(port, '/page.txt')).status, 200, 'the root resolved, through the link, to release 1');
    symlinkSync('releases/2', join(outside, 'current.next'));
    renameSync(join(outside, 'current.next'), join(outside, 'current'));
    const planted = await rawGet(port, '/planted.txt');
    t.is(planted.status, 403);
    t.false(planted.text.includes('SECRET'));
    const page = await rawGet(port, '/page.txt');
    t.is(page.status, 200);
    t.true(page.text.endsWith('\r\n\r\nrelease 2\n'));
  } finally {
    await close();
  }
});

test('a redirect never points off-site: //host-looking paths collapse to one slash', async (t) => {
  const response = await rawGet(server.port, '//sub');
  t.is(response.status, 301);
  t.regex(response.text, /\r\nLocation: \/sub\/\r\n/);
  const backslash = await rawGet(server.port, '/\\/sub');
  t.not(backslash.status, 200);
  t.notRegex(backslash.text, /\r\nLocation: \/[/\\]/);
});

test('under fallthrough the middleware passes attacks on to next() and never serves them', async (t) => {
  const passed: string[] = [];
  const serve = serveStatic(site.root);
  const app = http.createServer((req, res) =>
    serve(req, res, () => {
      passed.push(req.url ?? '');
      res.statusCode = 404;
      res.end('not here');
    }),
  );
  const open = await listen(app);
  try {
    let reached = 0;
    for (const [target] of ATTACKS) {
      const response = await rawGet(open.port, target);
      // Node's own parser already answers 400 to raw bytes it rejects; the rest reach next().
      t.true(response.status === 404 || response.status === 400, `${target}: ${response.status}`);
      if (response.status === 404) reached += 1;
      for (const secret of SECRETS) t.false(response.text.includes(secret), `${target} leaked ${secret}`);
    }
    t.is(passed.length, reached);
    t.true(reached >= ATTACKS.length - 1);
  } finally {
    await open.close();
    serve.close();
  }
});
