/**
 * Properties of the URL-path → file-path mapping (src/http/request-path.ts, joined under the
 * root as serve-static.ts does): no generated request target ever names a file outside the root —
 * dot segments raw, percent-encoded, double-encoded, overlong UTF-8, backslashes, NULs, absolute
 * form — first on the pure function, then against a real server over raw TCP (so no client
 * normalises the target), whose root holds a symlink to a secret beside it.
 */
import { once } from 'node:events';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import test from 'ava';
import fc from 'fast-check';

import { createStaticServer } from '../src';
import { parseAppPath, parseRequestPath, underRoot } from '../src/http/request-path';
import { tempDir } from './helpers/net';
import { params, SEED } from './helpers/property';

/** Pieces attackers and broken clients put in paths. */
const PIECES = [
  '..', '.', '...', '%2e%2e', '%2E%2e', '.%2e', '%2e.', '%2e', '%252e%252e', '%c0%ae%c0%ae', '%c0%af', '%e0%80%ae',
  '%2f', '%2F', '%5c', '%5C', '\\', '..\\', '..%2f', '..%5c', '%00', '%', '%zz', '%e9', '%C3%A9', 'é', '~', ';',
  '?x=../..', '#..', 'a', 'b.txt', 'sub', 'link', 'secret.txt', 'www', '.hidden', '', '/',
];

const joiner = fc.constantFrom('/', '/', '//', '\\', '/./', '%2f');
const segments = fc.array(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PIECES) }, { weight: 2, arbitrary: fc.constantFrom('a', 'sub', 'b.txt', 'link', 'secret.txt') }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) }), {
  minLength: 1,
  maxLength: 8,
});
/** A request target: origin-form (`/a/b`), absolute-form (`http://h/a`), or anything at all. */
const target = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(segments, fc.array(joiner, { minLength: 8, maxLength: 8 })).map(([parts, joins]) => '/' + parts.map((p, i) => p + (i < parts.length - 1 ? joins[i] : '')).join('')) },
  { weight: 1, arbitrary: segments.map((parts) => `http://example.com/${parts.join('/')}`) },
  { weight: 1, arbitrary: fc.string() },
);

const ROOT = path.resolve('/srv/www');

test(`a parsed path always maps inside the root (seed ${SEED})`, (t) => {
  fc.assert(
    fc.property(target, (url) => {
      const parsed = parseRequestPath(url);
      if (!parsed.ok) return parsed.status === 400 || parsed.status === 403;
      for (const segment of parsed.segments) {
        if (segment === '' || segment === '.' || segment === '..') return false;
        if (segment.includes('/') || segment.includes('\0')) return false;
      }
      // As serve-static.ts joins it; resolve() would agree (no segment is absolute).
      const joined = path.join(ROOT, ...parsed.segments);
      const resolved = path.resolve(ROOT, ...parsed.segments);
      const inside = (p: string) => p === ROOT || p.startsWith(ROOT + path.sep);
      return joined === resolved && inside(joined);
    }),
    params(50_000),
  );
  t.pass();
});

/** Sends one raw request and returns the whole response (the server closes the connection). */
function rawRequest(port: number, requestTarget: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks)) : reject(e)));
    socket.end(Buffer.from(`GET ${requestTarget} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n`, 'latin1'));
  });
}

test(`no request target reaches a file outside the root over HTTP (seed ${SEED})`, async (t) => {
  const base = tempDir('zs-prop-path-');
  const root = path.join(base, 'www');
  const marker = `SECRET-${SEED}-${Math.random()}`;
  mkdirSync(path.join(root, 'sub'), { recursive: true });
  mkdirSync(path.join(base, 'private'));
  writeFileSync(path.join(base, 'secret.txt'), marker);
  writeFileSync(path.join(base, 'private', 'secret.txt'), marker);
  writeFileSync(path.join(root, 'a'), 'public a');
  writeFileSync(path.join(root, 'sub', 'b.txt'), 'public b');
  // A symlink inside the root to a folder outside it: refused by default (followSymlinks: false).
  symlinkSync(path.join(base, 'private'), path.join(root, 'link'));
  const server = createStaticServer(root);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const statuses: Record<string, number> = {};
  try {
    // Request targets must not contain what ends the request line (space, CR, LF).
    const wire = target.filter((url) => !/[\s]/.test(url) && url.length > 0).map((url) => url.replace(/[^\x21-\xff]/g, ''));
    await fc.assert(
      fc.asyncProperty(wire, async (url) => {
        const response = await rawRequest(port, url);
        const status = response.subarray(9, 12).toString() || 'closed';
        statuses[status] = (statuses[status] ?? 0) + 1;
        return !response.includes(marker);
      }),
      params(400),
    );
    // The secret is there to be found: through the symlink with followSymlinks it would be.
    const direct = await rawRequest(port, '/link/secret.txt');
    t.true(direct.toString().startsWith('HTTP/1.1 403'), direct.toString().split('\r\n')[0]);
  } finally {
    server.close();
  }
  t.log(`statuses of the generated requests: ${JSON.stringify(statuses)}`);
  // The run reached the file lookup, not only the parsers in front of it.
  t.true((statuses['404'] ?? 0) + (statuses['200'] ?? 0) + (statuses['403'] ?? 0) > 0);
});

test(`an app path (sendFile with a root) parses as send's normalisation does, fast path or not (seed ${SEED})`, (t) => {
  const piece = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('a', 'b.txt', 'sub', 'é', 'a b', '%2e%2e', '?x', '#y', 'x.') },
    { weight: 2, arbitrary: fc.constantFrom('.', '..', '...', '.hidden', '', '\\', '..\\', 'a\\.b') },
    { weight: 1, arbitrary: fc.string({ maxLength: 4 }) },
  );
  const name = fc.tuple(fc.boolean(), fc.array(piece, { minLength: 1, maxLength: 6 }), fc.boolean()).map(
    ([leading, parts, trailing]) => (leading ? '/' : '') + parts.join('/') + (trailing ? '/' : ''),
  );
  fc.assert(
    fc.property(name, (text) => {
      if (text.includes('\0')) return true;
      t.deepEqual(parseAppPath(text, ROOT), underRoot(text), JSON.stringify(text));
      return true;
    }),
    params(20_000),
  );
});
