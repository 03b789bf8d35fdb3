/**
 * The static server's HTTP semantics, checked with curl: GET, HEAD, every range form, 416,
 * 304 by ETag and by date, 412, If-Range, redirects, index files, percent-encoded names,
 * several URLs on one connection, precompressed variants, and the options.
 */
import { readFileSync, renameSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { AUTO_FILE_METHODS, hasNative, nativeTest } from './helpers/native';

import test from 'ava';

import { createStaticServer, transfer, type ServedInfo, type StaticServerOptions } from '../src';
import { collect, loopbackTcpIsPaced, socketPair, tempDir } from './helpers/net';
import { curl, curlRaw, listen, makeSite, rawRequest } from './helpers/static-site';

const site = makeSite();
const data = site.files['data.bin']!;

async function withServer(
  options: StaticServerOptions,
  run: (url: string, served: ServedInfo[]) => Promise<void>,
  root = site.root,
): Promise<void> {
  const served: ServedInfo[] = [];
  const server = createStaticServer(root, { ...options, onServed: (_req, _res, info) => served.push(info) });
  const { url, close } = await listen(server);
  try {
    await run(url, served);
  } finally {
    await close();
  }
}

let base: { url: string; port: number; served: ServedInfo[]; close: () => Promise<void> };
test.before(async () => {
  const served: ServedInfo[] = [];
  const server = createStaticServer(site.root, { onServed: (_req, _res, info) => served.push(info) });
  const { url, port, close } = await listen(server);
  base = { url, port, served, close };
});
test.after.always(() => base.close());

test('GET sends the file whole, with type, length, validators and caching headers', async (t) => {
  const response = await curl(`${base.url}/data.bin`);
  t.is(response.status, 200);
  t.true(response.body.equals(data));
  t.is(response.headers['content-length'], String(data.length));
  t.is(response.headers['content-type'], 'application/octet-stream');
  t.is(response.headers['accept-ranges'], 'bytes');
  t.is(response.headers['cache-control'], 'public, max-age=0');
  t.regex(response.headers.etag ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
  t.truthy(Date.parse(response.headers['last-modified'] ?? ''));
  t.is(response.headers.connection, 'keep-alive');
  t.is(response.headers['transfer-encoding'], undefined);
});

test('a body goes through transfer() (sendfile on Linux); a small file is answered from memory; the log says which', async (t) => {
  const before = base.served.length;
  await curl(`${base.url}/data.bin`);
  await curl(`${base.url}/style.css`);
  const served = base.served.slice(before);
  const large = served.find((entry) => entry.path?.endsWith('data.bin'));
  t.like(large, { status: 200, bytes: data.length });
  t.true(AUTO_FILE_METHODS.includes(large!.method), large!.method);
  const small = served.find((entry) => entry.path?.endsWith('style.css'));
  t.like(small, { status: 200, bytes: site.files['style.css']!.length, method: 'memory' });
});

test('small files from memory: exact, ranges too, never stale after a change; an explicit method is honoured', async (t) => {
  const root = tempDir('zs-static-small-');
  const small = Buffer.from('x'.repeat(3000));
  writeFileSync(join(root, 'small.txt'), small);
  await withServer(
    {},
    async (url, served) => {
      t.deepEqual((await curl(`${url}/small.txt`)).body, small);
      t.deepEqual((await curl('-H', 'Range: bytes=10-19', `${url}/small.txt`)).body, small.subarray(10, 20));
      writeFileSync(join(root, 'small.txt'), 'changed, and shorter');
      t.is((await curl(`${url}/small.txt`)).body.toString(), 'changed, and shorter');
      t.deepEqual(
        served.map((info) => info.method),
        ['memory', 'memory', 'memory'],
      );
    },
    root,
  );
  if (!hasNative) return;
  await withServer(
    { method: 'sendfile' },
    async (url, served) => {
      t.is((await curl(`${url}/small.txt`)).body.toString(), 'changed, and shorter');
      t.is(served[0]?.method, 'sendfile');
    },
    root,
  );
});

nativeTest("the default sends bodies by sendfile even to a client on this machine, where transfer()'s auto would mmap", async (t) => {
  const big = Buffer.alloc(2 * 1024 * 1024, 7);
  const root = tempDir('zs-static-auto-');
  writeFileSync(join(root, 'big.bin'), big);
  writeFileSync(join(root, 'data.bin'), data); // 100 000 bytes: transfer()'s auto would copy over BBR
  await withServer(
    {},
    async (url, served) => {
      t.true((await curl(`${url}/big.bin`)).body.equals(big));
      t.true((await curl(`${url}/data.bin`)).body.equals(data));
      t.deepEqual(
        served.map((info) => info.method),
        ['sendfile', 'sendfile'],
      );
    },
    root,
  );
  // The same file through transfer() to a loopback peer: auto picks for that one transfer's
  // speed, which is mmap where TCP paces loopback sockets itself (BBR).
  const pair = await socketPair();
  const received = collect(pair.server);
  const result = await transfer(join(root, 'big.bin'), pair.client);
  pair.client.end();
  t.is(result.method, loopbackTcpIsPaced() ? 'mmap' : 'sendfile');
  t.true((await received).equals(big));
  pair.close();
});

nativeTest('options.method chooses how bodies go out: every method, whole files and ranges exact', async (t) => {
  for (const method of ['sendfile', 'splice', 'mmap', 'copy'] as const) {
    await withServer({ method }, async (url, served) => {
      t.true((await curl(`${url}/data.bin`)).body.equals(data), method);
      t.true((await curl('-H', 'Range: bytes=10-99999', `${url}/data.bin`)).body.equals(data.subarray(10)), method);
      t.deepEqual(
        served.map((info) => info.method),
        [method, method],
      );
    });
  }
});

test('options.method: an unknown name, or a method this install cannot run, is refused when the middleware is made', (t) => {
  t.throws(() => createStaticServer(site.root, { method: 'fast' as never }), { code: 'ERR_INVALID_ARG_VALUE', message: /options\.method/ });
  if (hasNative) t.notThrows(() => createStaticServer(site.root, { method: 'copy' }));
  else t.throws(() => createStaticServer(site.root, { method: 'copy' }), { code: 'ERR_ZEROSEND_UNSUPPORTED' });
});

test('text types carry a charset', async (t) => {
  t.is((await curl(`${base.url}/style.css`)).headers['content-type'], 'text/css; charset=utf-8');
  t.is((await curl(`${base.url}/index.html`)).headers['content-type'], 'text/html; charset=utf-8');
  t.is((await curl(`${base.url}/app.js`)).headers['content-type'], 'text/javascript; charset=utf-8');
});

test('HEAD has the headers of GET and no body', async (t) => {
  const get = await curl(`${base.url}/data.bin`);
  const head = await curl('-I', `${base.url}/data.bin`);
  t.is(head.status, 200);
  // curl -I writes the headers where the body would go: check the bytes on the wire instead.
  const raw = (await rawRequest(base.port, 'HEAD /data.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toString('latin1');
  t.is(raw.indexOf('\r\n\r\n'), raw.length - 4, 'nothing after the headers');
  for (const name of ['content-length', 'content-type', 'etag', 'last-modified', 'accept-ranges']) {
    t.is(head.headers[name], get.headers[name], name);
  }
});

test('HEAD then GET on the same connection: no body bytes were left in between', async (t) => {
  const out = join(site.root, '..', 'after-head');
  const write = '%{num_connects} %{http_code}\\n';
  const stdout = await curlRaw(['-sS', '-I', '-w', write, `${base.url}/data.bin`, '--next', '-sS', '-w', write, '-o', out, `${base.url}/sub/a.txt`]);
  const lines = stdout.split('\n').filter((line) => /^\d+ \d{3}$/.test(line));
  t.deepEqual(lines, ['1 200', '0 200'], 'the GET reused the HEAD connection');
  t.deepEqual(readFileSync(out), site.files['sub/a.txt']);
});

test('ranges: a-b, a-, -n, an end past the file, overlapping ranges combined (as send)', async (t) => {
  const cases: Array<[string, number, number]> = [
    ['0-9', 0, 9],
    ['100-199', 100, 199],
    ['99990-', 99_990, 99_999],
    ['-100', 99_900, 99_999],
    ['99000-200000', 99_000, 99_999],
    ['0-0', 0, 0],
    ['0-9,5-20', 0, 20],
  ];
  for (const [spec, start, end] of cases) {
    const response = await curl('-H', `Range: bytes=${spec}`, `${base.url}/data.bin`);
    t.is(response.status, 206, spec);
    t.is(response.headers['content-range'], `bytes ${start}-${end}/${data.length}`, spec);
    t.is(response.headers['content-length'], String(end - start + 1), spec);
    t.true(response.body.equals(data.subarray(start, end + 1)), spec);
  }
});

test('curl --range and HEAD with a range agree', async (t) => {
  const response = await curl('--range', '500-1499', `${base.url}/data.bin`);
  t.is(response.status, 206);
  t.true(response.body.equals(data.subarray(500, 1500)));
  const head = await curl('-I', '-H', 'Range: bytes=500-1499', `${base.url}/data.bin`);
  t.is(head.status, 206);
  t.is(head.headers['content-length'], '1000');
  t.is(head.headers['content-range'], 'bytes 500-1499/100000');
});

test('unsatisfiable ranges get 416 with Content-Range: bytes */size', async (t) => {
  // As send (range-parser): a suffix longer than the file and first > last name no bytes either.
  for (const spec of ['100000-', '200000-300000', '-0', '-200000', '5-1']) {
    const response = await curl('-H', `Range: bytes=${spec}`, `${base.url}/data.bin`);
    t.is(response.status, 416, spec);
    t.is(response.headers['content-range'], `bytes */${data.length}`, spec);
  }
  const empty = await curl('-H', 'Range: bytes=0-', `${base.url}/empty.txt`);
  t.is(empty.status, 416);
  t.is(empty.headers['content-range'], 'bytes */0');
});

test('several disjoint ranges, bad syntax or another unit: the whole file with 200', async (t) => {
  for (const header of ['bytes=0-1,5-6', 'bytes=abc', 'items=0-1', 'bytes=-', 'Bytes=0-1']) {
    const response = await curl('-H', `Range: ${header}`, `${base.url}/data.bin`);
    t.is(response.status, 200, header);
    t.true(response.body.equals(data), header);
  }
});

test('If-None-Match with the ETag → 304 without a body; with another tag → 200', async (t) => {
  const { headers } = await curl(`${base.url}/data.bin`);
  const etag = headers.etag!;
  const notModified = await curl('-H', `If-None-Match: ${etag}`, `${base.url}/data.bin`);
  t.is(notModified.status, 304);
  t.is(notModified.body.length, 0);
  t.is(notModified.headers.etag, etag);
  t.is(notModified.headers['content-length'], undefined);
  t.is((await curl('-H', `If-None-Match: "other", ${etag}`, `${base.url}/data.bin`)).status, 304);
  t.is((await curl('-H', `If-None-Match: W/${etag}`, `${base.url}/data.bin`)).status, 304, 'weak comparison');
  t.is((await curl('-H', 'If-None-Match: *', `${base.url}/data.bin`)).status, 304);
  t.is((await curl('-H', 'If-None-Match: "other"', `${base.url}/data.bin`)).status, 200);
});

test('If-Modified-Since → 304 when not modified since, 200 when older; If-None-Match wins over it', async (t) => {
  const { headers } = await curl(`${base.url}/data.bin`);
  const lastModified = headers['last-modified']!;
  const notModified = await curl('-H', `If-Modified-Since: ${lastModified}`, `${base.url}/data.bin`);
  t.is(notModified.status, 304);
  t.is(notModified.body.length, 0);
  // curl's own date condition (-z) sends If-Modified-Since too.
  t.is((await curl('-z', lastModified, `${base.url}/data.bin`)).status, 304);
  const older = new Date(Date.parse(lastModified) - 60_000).toUTCString();
  t.is((await curl('-H', `If-Modified-Since: ${older}`, `${base.url}/data.bin`)).status, 200);
  t.is((await curl('-H', 'If-Modified-Since: not a date', `${base.url}/data.bin`)).status, 200);
  const both = await curl('-H', `If-Modified-Since: ${lastModified}`, '-H', 'If-None-Match: "other"', `${base.url}/data.bin`);
  t.is(both.status, 200);
});

test('If-Match / If-Unmodified-Since that fail → 412', async (t) => {
  const { headers } = await curl(`${base.url}/data.bin`);
  t.is((await curl('-H', 'If-Match: "other"', `${base.url}/data.bin`)).status, 412);
  t.is((await curl('-H', `If-Match: ${headers.etag}`, `${base.url}/data.bin`)).status, 200);
  t.is((await curl('-H', 'If-Match: *', `${base.url}/data.bin`)).status, 200);
  const past = new Date(Date.parse(headers['last-modified']!) - 60_000).toUTCString();
  t.is((await curl('-H', `If-Unmodified-Since: ${past}`, `${base.url}/data.bin`)).status, 412);
  t.is((await curl('-H', `If-Unmodified-Since: ${headers['last-modified']}`, `${base.url}/data.bin`)).status, 200);
});

test('If-Range: the current ETag or date keeps the range, a stale one gets the whole file', async (t) => {
  const { headers } = await curl(`${base.url}/data.bin`);
  const ranged = ['-H', 'Range: bytes=0-99'];
  t.is((await curl(...ranged, '-H', `If-Range: ${headers.etag}`, `${base.url}/data.bin`)).status, 206);
  t.is((await curl(...ranged, '-H', `If-Range: ${headers['last-modified']}`, `${base.url}/data.bin`)).status, 206);
  const stale = await curl(...ranged, '-H', 'If-Range: "stale"', `${base.url}/data.bin`);
  t.is(stale.status, 200);
  t.true(stale.body.equals(data));
  t.is((await curl(...ranged, '-H', `If-Range: W/${headers.etag}`, `${base.url}/data.bin`)).status, 200, 'weak never matches');
  t.is((await curl(...ranged, '-H', 'If-Range: Thu, 01 Jan 2015 00:00:00 GMT', `${base.url}/data.bin`)).status, 200);
});

test('a directory without its slash redirects with 301, keeping the query', async (t) => {
  const response = await curl(`${base.url}/sub`);
  t.is(response.status, 301);
  t.is(response.headers.location, '/sub/');
  t.is((await curl(`${base.url}/sub?x=1`)).headers.location, '/sub/?x=1');
  const followed = await curl('-L', `${base.url}/sub`);
  t.is(followed.status, 200);
  t.deepEqual(followed.body, site.files['sub/index.html']);
});

test('index files: / and /sub/ serve index.html; a folder without one is a 404', async (t) => {
  t.deepEqual((await curl(`${base.url}/`)).body, site.files['index.html']);
  t.deepEqual((await curl(`${base.url}/sub/`)).body, site.files['sub/index.html']);
  t.is((await curl(`${base.url}/noindex/`)).status, 404);
  t.is((await curl(`${base.url}/sub/a.txt/`)).status, 404, 'a file with a trailing slash');
});

test('percent-encoded names are decoded; misses are 404, other methods 405', async (t) => {
  const response = await curl(`${base.url}/hello%20world%20%C3%A9.txt`);
  t.is(response.status, 200);
  t.deepEqual(response.body, site.files['hello world é.txt']);
  t.deepEqual((await curl(`${base.url}/%73ub/a.txt`)).body, site.files['sub/a.txt']);
  t.is((await curl(`${base.url}/missing.txt`)).status, 404);
  const post = await curl('-X', 'POST', `${base.url}/data.bin`);
  t.is(post.status, 405);
  t.is(post.headers.allow, 'GET, HEAD');
});

test('an empty file is a 200 with Content-Length: 0', async (t) => {
  const response = await curl(`${base.url}/empty.txt`);
  t.is(response.status, 200);
  t.is(response.headers['content-length'], '0');
  t.is(response.body.length, 0);
});

test('several URLs on one curl connection are all exact', async (t) => {
  const names = ['data.bin', 'index.html', 'style.css', 'sub/a.txt', 'data.bin', 'empty.txt', 'app.js', 'missing', 'data.bin'];
  const args = ['-sS', '-w', '%{num_connects} %{http_code}\\n'];
  names.forEach((name, i) => args.push('-o', join(site.root, '..', `many-${i}`), `${base.url}/${name}`));
  const lines = (await curlRaw(args)).split('\n').filter((line) => /^\d+ \d{3}$/.test(line));
  t.deepEqual(
    lines,
    names.map((name, i) => `${i === 0 ? 1 : 0} ${name === 'missing' ? 404 : 200}`),
    'one connection for all',
  );
  names.forEach((name, i) => {
    if (name !== 'missing') t.true(readFileSync(join(site.root, '..', `many-${i}`)).equals(site.files[name]!), name);
  });
});

test('precompressed: br, then gzip, by Accept-Encoding, with Vary; identity otherwise', async (t) => {
  await withServer({ precompressed: true }, async (url) => {
    const br = await curl('-H', 'Accept-Encoding: gzip, br', `${url}/app.js`);
    t.is(br.headers['content-encoding'], 'br');
    t.is(br.headers['content-type'], 'text/javascript; charset=utf-8');
    t.is(br.headers.vary, 'Accept-Encoding');
    t.deepEqual(br.body, site.files['app.js.br']);
    const gz = await curl('-H', 'Accept-Encoding: gzip, br;q=0', `${url}/app.js`);
    t.is(gz.headers['content-encoding'], 'gzip');
    t.deepEqual(gz.body, site.files['app.js.gz']);
    t.not(gz.headers.etag, br.headers.etag, 'each variant has its own ETag');
    const plain = await curl(`${url}/app.js`);
    t.is(plain.headers['content-encoding'], undefined);
    t.is(plain.headers.vary, 'Accept-Encoding');
    t.deepEqual(plain.body, site.files['app.js']);
    const decoded = await curl('--compressed', `${url}/app.js`);
    t.deepEqual(decoded.body, site.files['app.js'], 'curl decodes what it asked for');
    const noVariant = await curl('-H', 'Accept-Encoding: br', `${url}/style.css`);
    t.is(noVariant.headers['content-encoding'], undefined);
    t.deepEqual(noVariant.body, site.files['style.css']);
  });
});

test('options: weak etag, maxAge + immutable, no cache-control, no last-modified, no ranges', async (t) => {
  await withServer({ etag: 'weak', maxAge: '1d', immutable: true }, async (url) => {
    const response = await curl(`${url}/data.bin`);
    t.regex(response.headers.etag ?? '', /^W\/"/);
    t.is(response.headers['cache-control'], 'public, max-age=86400, immutable');
    t.is((await curl('-H', `If-None-Match: ${response.headers.etag}`, `${url}/data.bin`)).status, 304);
  });
  await withServer({ etag: false, lastModified: false, cacheControl: false, acceptRanges: false }, async (url) => {
    const response = await curl('-H', 'Range: bytes=0-9', `${url}/data.bin`);
    t.is(response.status, 200);
    t.true(response.body.equals(data));
    for (const name of ['etag', 'last-modified', 'cache-control', 'accept-ranges']) t.is(response.headers[name], undefined, name);
  });
});

test('options: index, redirect, dotfiles, setHeaders', async (t) => {
  await withServer({ index: false, redirect: false }, async (url) => {
    t.is((await curl(`${url}/`)).status, 404);
    t.is((await curl(`${url}/sub`)).status, 404);
  });
  await withServer({ index: ['missing.html', 'a.txt'] }, async (url) => {
    t.deepEqual((await curl(`${url}/sub/`)).body, site.files['sub/a.txt']);
  });
  await withServer({ dotfiles: 'deny' }, async (url) => {
    t.is((await curl(`${url}/.env`)).status, 403);
  });
  await withServer({ dotfiles: 'allow' }, async (url) => {
    t.deepEqual((await curl(`${url}/.env`)).body, site.files['.env']);
    t.deepEqual((await curl(`${url}/sub/.hidden/x.txt`)).body, site.files['sub/.hidden/x.txt']);
  });
  const seen: string[] = [];
  await withServer(
    {
      setHeaders: (res, path, stat) => {
        seen.push(`${path}:${stat.size}`);
        res.setHeader('X-Served-By', 'zerosend');
        res.setHeader('Cache-Control', 'no-store');
      },
    },
    async (url) => {
      const response = await curl(`${url}/style.css`);
      t.is(response.headers['x-served-by'], 'zerosend');
      t.is(response.headers['cache-control'], 'no-store', 'defaults never override setHeaders');
    },
  );
  t.deepEqual(seen, [`${join(site.root, 'style.css')}:${site.files['style.css']!.length}`]);
});

test('the open-file cache never serves a changed, replaced or deleted file', async (t) => {
  const root = makeSite().root;
  const file = join(root, 'changing.txt');
  writeFileSync(file, 'version one\n');
  await withServer({}, async (url) => {
    t.is((await curl(`${url}/changing.txt`)).body.toString(), 'version one\n');
    writeFileSync(file, 'version two, longer\n');
    t.is((await curl(`${url}/changing.txt`)).body.toString(), 'version two, longer\n');
    // Same size, same second: the mtime (ms) and ctime still tell.
    writeFileSync(file, 'version TWO, longer\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    t.is((await curl(`${url}/changing.txt`)).body.toString(), 'version TWO, longer\n');
    writeFileSync(join(root, 'next.txt'), 'replaced by rename\n');
    renameSync(join(root, 'next.txt'), file);
    t.is((await curl(`${url}/changing.txt`)).body.toString(), 'replaced by rename\n');
    truncateSync(file, 3);
    t.is((await curl(`${url}/changing.txt`)).body.toString(), 'rep');
    unlinkSync(file);
    t.is((await curl(`${url}/changing.txt`)).status, 404);
  }, root);
});

test('without the open-file cache everything still works', async (t) => {
  await withServer({ openFileCache: false }, async (url) => {
    t.true((await curl(`${url}/data.bin`)).body.equals(data));
    t.is((await curl('-H', 'Range: bytes=-10', `${url}/data.bin`)).body.length, 10);
  });
});
