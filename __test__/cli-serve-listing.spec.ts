/**
 * The directory listing of `zerosend serve`, through the real CLI process and curl: what a folder
 * without index.html answers (HTML and JSON, GET and HEAD), how names are escaped and linked
 * (every link fetched), what is hidden, that nothing outside the root is ever listed. Then the
 * library's `listing` option, off by default. (5 000 entries: cli-serve-scale.spec.ts.)
 */
import { mkdirSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';

import test from 'ava';
import express from 'express';

import { createStaticServer, serveStatic } from '../src';
import { ensureBuilt, startServe } from './helpers/cli-process';
import { tempDir } from './helpers/net';
import { curl, errorPage, listen, rawGet, rawRequest } from './helpers/static-site';

const HOSTILE = '<img src=x onerror=alert(1)>.txt';
/** Names a link must survive: space, unicode, `#`, `?`, `%`, `&` and quotes, the hostile one. */
const AWKWARD = ['with space.txt', 'café ünï.txt', 'hash#tag.txt', 'what?.txt', '100%.txt', 'a&b "q\'.txt', HOSTILE];
/** Every listed entry's mtime. */
const WHEN = new Date('2021-06-01T12:00:00Z');
const OUTSIDE_MARKER = 'outside-only-name';
/** Large files, as holes: their sizes without their bytes. */
const SPARSE: Record<string, number> = { 'mib.bin': 5.5 * 1024 * 1024, 'gib.bin': 1.5 * 1024 * 1024 * 1024 };

interface ListingSite {
  root: string;
  files: Record<string, Buffer>;
}

/**
 * ```
 * outside/outside-only-name.txt        must never appear in any answer
 * root/alpha/ Beta/ sub/deeper/ withindex/index.html .git/
 * root/tiny.txt (777 B) kib.bin (1.5 KiB) mib.bin (5.5 MiB, sparse) gib.bin (1.5 GiB, sparse)
 * root/file2.txt file10.txt .env, and the AWKWARD names
 * root/inside-link.txt → tiny.txt, inside-dir → sub/           listed
 * root/out-file.txt → outside/…, out-dir → outside/, broken.txt → nowhere   hidden
 * ```
 */
function makeListingSite(): ListingSite {
  const base = tempDir('zs-listing-');
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  const dirs = ['alpha', 'Beta', 'sub/deeper', 'withindex', '.git'];
  for (const dir of [outside, ...dirs.map((dir) => join(root, dir))]) mkdirSync(dir, { recursive: true });
  const files: Record<string, Buffer> = {
    'tiny.txt': Buffer.alloc(777, 'x'),
    'kib.bin': Buffer.alloc(1536, 1),
    'file2.txt': Buffer.from('two\n'),
    'file10.txt': Buffer.from('ten\n'),
    '.env': Buffer.from('SECRET=dotfile\n'),
    '.git/config': Buffer.from('[core]\n'),
    'sub/a.txt': Buffer.from('sub a\n'),
    'sub/deeper/b.txt': Buffer.from('deeper b\n'),
    'withindex/index.html': Buffer.from('<h1>withindex index</h1>\n'),
  };
  for (const name of AWKWARD) files[name] = Buffer.from(`the file named ${name}\n`);
  for (const [name, data] of Object.entries(files)) writeFileSync(join(root, name), data);
  for (const [name, size] of Object.entries(SPARSE)) {
    writeFileSync(join(root, name), '');
    truncateSync(join(root, name), size);
  }
  writeFileSync(join(outside, `${OUTSIDE_MARKER}.txt`), 'OUTSIDE-SECRET\n');
  symlinkSync(join(root, 'tiny.txt'), join(root, 'inside-link.txt'));
  symlinkSync(join(root, 'sub'), join(root, 'inside-dir'));
  symlinkSync(join(outside, `${OUTSIDE_MARKER}.txt`), join(root, 'out-file.txt'));
  symlinkSync(outside, join(root, 'out-dir'));
  symlinkSync(join(root, 'nowhere'), join(root, 'broken.txt'));
  // Children first: creating an entry changes its folder's mtime.
  const everything = [...Object.keys(files), ...Object.keys(SPARSE), ...dirs, 'sub', `../outside/${OUTSIDE_MARKER}.txt`, '../outside', '.'];
  for (const name of everything) utimesSync(join(root, name), WHEN, WHEN);
  return { root, files };
}

interface Row {
  kind: string;
  href: string;
  /** The shown name, unescaped. */
  name: string;
  size: string;
  datetime: string | undefined;
  time: string | undefined;
}

const ROW =
  /<tr class="(\w+)"><td class="name"><a href="([^"]*)">([^<]*)<\/a><\/td><td class="size">([^<]*)<\/td><td class="time">(?:<time datetime="([^"]*)">([^<]*)<\/time>)?<\/td><\/tr>/g;

function rowsOf(html: string): Row[] {
  return [...html.matchAll(ROW)].map(([, kind, href, text, size, datetime, time]) => ({
    kind: kind!,
    href: href!,
    name: unescapeHtml(text!),
    size: size!,
    datetime,
    time,
  }));
}

function unescapeHtml(text: string): string {
  return text.replace(/&(lt|gt|quot|#39|amp);/g, (_, entity: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[entity]!);
}

const tableRows = (html: string): number => html.match(/<tr class="/g)?.length ?? 0;

const site = makeListingSite();

test.before(async () => {
  await ensureBuilt();
});

test('a folder without index.html is listed: folders first, natural order, sizes, local dates, no parent at the root', async (t) => {
  // The page shows the server's local time; JSON and the <time> element carry UTC.
  const { cli, url } = await startServe(site.root, ['--quiet'], { env: { TZ: 'Asia/Tokyo' } });
  try {
    const page = await curl(`${url}/`);
    t.is(page.status, 200);
    t.is(page.headers['content-type'], 'text/html; charset=utf-8');
    t.is(page.headers['cache-control'], 'no-cache');
    t.is(page.headers.vary, 'Accept');
    t.regex(page.headers['content-security-policy'] ?? '', /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'/);
    const html = page.body.toString('utf8');
    t.regex(html, /<title>Index of \/<\/title>/);
    t.notRegex(html, /<script|<link|<img|@import|url\((?!"data:)/i, 'nothing external, no script');
    t.is((html.match(/<style>/g) ?? []).length, 1, 'one inline stylesheet');
    t.regex(html, /prefers-color-scheme:\s*dark/);

    const rows = rowsOf(html);
    t.is(rows.length, tableRows(html), 'every row parsed');
    t.deepEqual(
      rows.map((row) => row.name),
      [
        'alpha/', 'Beta/', 'inside-dir/', 'sub/', 'withindex/',
        HOSTILE, '100%.txt', 'a&b "q\'.txt', 'café ünï.txt', 'file2.txt', 'file10.txt', 'gib.bin', 'hash#tag.txt',
        'inside-link.txt', 'kib.bin', 'mib.bin', 'tiny.txt', 'what?.txt', 'with space.txt',
      ],
      'folders, then files; case-insensitive, file2 before file10; hidden: dotfiles, links out of the root, a broken link',
    );
    const size = (name: string): string | undefined => rows.find((row) => row.name === name)?.size;
    t.is(size('tiny.txt'), '777 B');
    t.is(size('inside-link.txt'), '777 B', 'a link inside the root is listed as its target');
    t.is(size('kib.bin'), '1.5 KiB');
    t.is(size('mib.bin'), '5.5 MiB');
    t.is(size('gib.bin'), '1.5 GiB');
    t.is(size('alpha/'), '—');
    for (const row of rows) {
      t.is(row.time, '2021-06-01 21:00', `${row.name}: local time (TZ=Asia/Tokyo)`);
      t.is(row.datetime, WHEN.toISOString());
    }
    t.false(rows.some((row) => row.kind === 'parent'), 'no parent link at the root');
    t.regex(html, /<footer>5 folders, 14 files/);
  } finally {
    await cli.stop();
  }
});

test('below the root: a parent link first, breadcrumbs to each ancestor; an empty folder says so', async (t) => {
  const { cli, url } = await startServe(site.root, ['--quiet']);
  try {
    const html = (await curl(`${url}/sub/deeper/`)).body.toString('utf8');
    t.regex(html, /<title>Index of \/sub\/deeper\/<\/title>/);
    t.regex(html, /<h1>.*<a href="\.\.\/\.\.\/">\/<\/a><a href="\.\.\/">sub\/<\/a><span class="here">deeper\/<\/span><\/h1>/);
    const rows = rowsOf(html);
    t.deepEqual(rows.map((row) => [row.kind, row.href, row.name]), [['parent', '../', '..'], ['file', 'b.txt', 'b.txt']]);
    t.is((await curl(new URL('../', `${url}/sub/deeper/`).href)).body.toString().match(/<title>(.*)<\/title>/)?.[1], 'Index of /sub/');
    const empty = (await curl(`${url}/alpha/`)).body.toString('utf8');
    t.regex(empty, /This folder is empty\./);
    t.regex(empty, /<footer>0 folders, 0 files/);
  } finally {
    await cli.stop();
  }
});

test('names are escaped as text and percent-encoded as links: every link, fetched with curl, returns its file', async (t) => {
  const { cli, url } = await startServe(site.root, ['--quiet']);
  try {
    const html = (await curl(`${url}/`)).body.toString('utf8');
    t.false(html.includes('<img'), 'the hostile name is not markup');
    t.true(html.includes('&lt;img src=x onerror=alert(1)&gt;.txt'));
    t.true(html.includes('a&amp;b &quot;q&#39;.txt'));
    const rows = rowsOf(html);
    for (const name of AWKWARD) {
      const row = rows.find((candidate) => candidate.name === name);
      if (!row) {
        t.fail(`${name} is not listed`);
        continue;
      }
      t.is(row.href, encodeURIComponent(name));
    }
    await Promise.all(
      rows.map(async (row) => {
        // As a browser resolves the relative link against the page's URL.
        const target = new URL(row.href, `${url}/`).href;
        // The sparse files are checked by HEAD: 1.5 GiB through curl would fill the disk for nothing.
        const response = await curl('-g', ...(SPARSE[row.name] === undefined ? [] : ['-I']), target);
        if (SPARSE[row.name] !== undefined) t.is(response.headers['content-length'], String(SPARSE[row.name]));
        t.is(response.status, 200, `${row.name} → ${target}`);
        const file = site.files[row.name];
        if (file) t.true(response.body.equals(file), `${row.name}: its own bytes`);
        if (row.name === 'inside-link.txt') t.true(response.body.equals(site.files['tiny.txt']!));
        if (row.kind === 'directory') t.regex(response.body.toString(), /Index of|withindex index/);
      }),
    );
    t.is(rows.filter((row) => site.files[row.name] !== undefined).length, AWKWARD.length + 4, 'the files were checked byte for byte');
  } finally {
    await cli.stop();
  }
});

test('Accept: application/json gets the same entries in the same order: bare names, type, size, ISO mtime', async (t) => {
  const { cli, url } = await startServe(site.root, ['--quiet']);
  try {
    const response = await curl('-H', 'Accept: application/json', `${url}/`);
    t.is(response.status, 200);
    t.is(response.headers['content-type'], 'application/json; charset=utf-8');
    t.is(response.headers.vary, 'Accept');
    const entries = JSON.parse(response.body.toString('utf8')) as Array<Record<string, unknown>>;
    const html = (await curl(`${url}/`)).body.toString('utf8');
    t.deepEqual(
      entries.map((entry) => entry.name),
      rowsOf(html).map((row) => row.name.replace(/\/$/, '')),
    );
    for (const entry of entries) t.deepEqual(Object.keys(entry), ['name', 'type', 'size', 'mtime']);
    t.deepEqual(entries.find((entry) => entry.name === 'tiny.txt'), { name: 'tiny.txt', type: 'file', size: 777, mtime: '2021-06-01T12:00:00.000Z' });
    t.deepEqual(entries.find((entry) => entry.name === 'alpha'), { name: 'alpha', type: 'directory', size: null, mtime: '2021-06-01T12:00:00.000Z' });
    t.is(entries.find((entry) => entry.name === HOSTILE)?.type, 'file', 'names as they are, unescaped');

    const browser = await curl('-H', 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', `${url}/sub/`);
    t.is(browser.headers['content-type'], 'text/html; charset=utf-8', "a browser's Accept gets the page");
    const ranked = await curl('-H', 'Accept: text/html;q=0.5, application/json', `${url}/sub/`);
    t.is(ranked.headers['content-type'], 'application/json; charset=utf-8', 'the higher quality wins');
    t.deepEqual(JSON.parse(ranked.body.toString()), [
      { name: 'deeper', type: 'directory', size: null, mtime: WHEN.toISOString() },
      { name: 'a.txt', type: 'file', size: 6, mtime: WHEN.toISOString() },
    ]);
  } finally {
    await cli.stop();
  }
});

test("HEAD of a listing: GET's headers, Content-Length included, and no body", async (t) => {
  const { cli, url, port } = await startServe(site.root);
  try {
    for (const accept of ['text/html', 'application/json']) {
      const get = await curl('-H', `Accept: ${accept}`, `${url}/`);
      const head = (await rawRequest(port, `HEAD / HTTP/1.1\r\nHost: x\r\nAccept: ${accept}\r\nConnection: close\r\n\r\n`)).toString('latin1');
      const [headers = '', body] = head.split('\r\n\r\n');
      t.regex(headers, /^HTTP\/1\.1 200 OK/);
      t.regex(headers, new RegExp(`\\r\\nContent-Length: ${get.body.length}\\r\\n`, 'i'));
      t.regex(headers, new RegExp(`\\r\\nContent-Type: ${accept.replace('/', '\\/')}; charset=utf-8\\r\\n`, 'i'));
      t.is(body, '', 'nothing after the headers');
    }
    await cli.waitFor(/ HEAD \/ 200 0 \d+\.\dms none$/m, 10_000);
  } finally {
    await cli.stop();
  }
});

test('only a folder URL with its slash and no index file lists; --no-listing turns listings off', async (t) => {
  const { cli, url } = await startServe(site.root, ['--quiet']);
  try {
    const redirect = await curl(`${url}/sub`);
    t.is(redirect.status, 301, 'without the slash: still a redirect');
    t.is(redirect.headers.location, '/sub/');
    t.deepEqual((await curl(`${url}/withindex/`)).body, site.files['withindex/index.html'], 'an index file wins');
    t.is((await curl(`${url}/tiny.txt/`)).status, 404, 'a file with a slash is not a folder');
  } finally {
    await cli.stop();
  }
  const off = await startServe(site.root, ['--quiet', '--no-listing']);
  try {
    for (const path of ['/', '/sub/']) {
      const response = await curl(`${off.url}${path}`);
      t.is(response.status, 404, path);
      t.deepEqual(response.body, errorPage('Not Found'));
    }
    t.deepEqual((await curl(`${off.url}/withindex/`)).body, site.files['withindex/index.html']);
  } finally {
    await off.cli.stop();
  }
});

test('dotfiles: hidden from listings unless --dotfiles allow; a dot-folder itself follows the policy', async (t) => {
  const names = async (url: string): Promise<string[]> => rowsOf((await curl(`${url}/`)).body.toString('utf8')).map((row) => row.name);
  for (const [policy, folderStatus] of [['ignore', 404], ['deny', 403]] as const) {
    const { cli, url } = await startServe(site.root, ['--quiet', '--dotfiles', policy]);
    try {
      const listed = await names(url);
      t.false(listed.some((name) => name.startsWith('.')), `${policy}: ${listed.join(', ')}`);
      t.is((await curl(`${url}/.git/`)).status, folderStatus);
    } finally {
      await cli.stop();
    }
  }
  const { cli, url } = await startServe(site.root, ['--quiet', '--dotfiles', 'allow']);
  try {
    const listed = await names(url);
    t.true(listed.includes('.git/') && listed.includes('.env'), listed.join(', '));
    t.deepEqual((await curl(`${url}/.env`)).body, site.files['.env']);
    t.deepEqual(rowsOf((await curl(`${url}/.git/`)).body.toString()).map((row) => row.name), ['..', 'config']);
  } finally {
    await cli.stop();
  }
});

test('traversal: no request lists or reveals anything outside the root (.., encoded, through symlinks)', async (t) => {
  const { cli, url, port } = await startServe(site.root, ['--quiet', '--dotfiles', 'allow']);
  try {
    const attempts = [
      '/../', '/..', '/%2e%2e/', '/%2E%2E%2F', '/..%2f', '/..%5c', '/sub/../../', '/sub/%2e%2e/%2e%2e/', '/sub/..%2f..%2f',
      '/out-dir/', '/out-dir/../out-dir/', '/out-dir%2f', '//out-dir/', '/inside-dir/../out-dir/', '/out-dir/.', '/out-file.txt',
      `/out-dir/${OUTSIDE_MARKER}.txt`, 'http://localhost/../', '/./out-dir/', '/sub/..\\..\\',
    ];
    for (const target of attempts) {
      for (const accept of ['text/html', 'application/json']) {
        const response = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nAccept: ${accept}\r\nConnection: close\r\n\r\n`);
        const text = response.toString('latin1');
        t.false(text.includes(OUTSIDE_MARKER) || text.includes('OUTSIDE-SECRET'), `${target} (${accept}):\n${text}`);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
        // What a 200 may be: root's own listing, when the dots resolve back inside.
        if (status === 200) t.regex(text, /Index of \/<\/title>|"name":"alpha"/, target);
        else t.true([301, 400, 403, 404].includes(status), `${target}: ${status}`);
      }
    }
    t.is((await rawGet(port, '/out-dir/')).status, 403, 'a symlinked folder outside the root is refused, as such a file is');
    t.is((await rawGet(port, '/../')).status, 403);
    const root = rowsOf((await curl(`${url}/`)).body.toString('utf8')).map((row) => row.name);
    for (const hidden of ['out-dir/', 'out-file.txt', 'broken.txt']) t.false(root.includes(hidden), hidden);
    t.deepEqual(rowsOf((await curl(`${url}/inside-dir/`)).body.toString()).map((row) => row.name), ['..', 'deeper/', 'a.txt'], 'a link to a folder inside is listed and followed');
  } finally {
    await cli.stop();
  }
});

test('serveStatic / createStaticServer: listing off by default, on with listing: true; under an Express mount, links stay relative', async (t) => {
  const plain = await listen(createStaticServer(site.root));
  try {
    t.is((await curl(`${plain.url}/sub/`)).status, 404, 'off by default, as in serve-static');
  } finally {
    await plain.close();
  }
  const listing = await listen(createStaticServer(site.root, { listing: true }));
  try {
    t.deepEqual(rowsOf((await curl(`${listing.url}/sub/`)).body.toString()).map((row) => row.name), ['..', 'deeper/', 'a.txt']);
  } finally {
    await listing.close();
  }
  const app = express();
  app.use('/static', serveStatic(site.root, { listing: true }));
  const mounted = await listen(http.createServer(app));
  try {
    const pageUrl = `${mounted.url}/static/sub/`;
    const html = (await curl(pageUrl)).body.toString('utf8');
    t.regex(html, /<title>Index of \/static\/sub\/<\/title>/);
    const file = rowsOf(html).find((row) => row.name === 'a.txt')!;
    t.deepEqual((await curl(new URL(file.href, pageUrl).href)).body, site.files['sub/a.txt']);
  } finally {
    await mounted.close();
  }
});
