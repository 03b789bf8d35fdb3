/**
 * The static server's parsers on their own: request paths, byte ranges, conditional headers,
 * Accept-Encoding. (The HTTP behaviour they produce is tested end to end with curl elsewhere.)
 */
import test from 'ava';

import { acceptedEncodings } from '../src/http/accept-encoding';
import { parseByteRange } from '../src/http/byte-range';
import { evaluatePreconditions, rangeStillValid } from '../src/http/conditional';
import { parseMaxAge } from '../src/http/response-options';
import { parseRequestPath } from '../src/http/request-path';

test('request paths: segments decoded, empty and . dropped, .. resolved inside the root, query and fragment cut', (t) => {
  t.like(parseRequestPath('/a/./b//c%20d.txt?x=../y#z'), { ok: true, segments: ['a', 'b', 'c d.txt'], trailingSlash: false, dotfile: false });
  t.like(parseRequestPath('/users/../todo.txt'), { ok: true, segments: ['todo.txt'] }, 'as send: a .. that stays inside');
  t.like(parseRequestPath('/a/%2e%2e/b'), { ok: true, segments: ['b'] });
  t.like(parseRequestPath('/sub/../.env'), { ok: true, segments: ['.env'], dotfile: true });
  t.like(parseRequestPath('/dir/'), { ok: true, segments: ['dir'], trailingSlash: true });
  t.like(parseRequestPath('/'), { ok: true, segments: [], trailingSlash: true });
  t.like(parseRequestPath(undefined), { ok: true, segments: [] });
  t.like(parseRequestPath('http://example.com/a/b?q'), { ok: true, segments: ['a', 'b'] });
  t.like(parseRequestPath('https://example.com'), { ok: true, segments: [] });
  t.like(parseRequestPath('/a%5cb.txt'), { ok: true, segments: ['a\\b.txt'] }, 'a backslash stays in the name');
});

test('request paths: raw bytes above 0x7f are validated as the UTF-8 they were', (t) => {
  const raw = Buffer.from('/é.txt', 'utf8').toString('latin1');
  t.like(parseRequestPath(raw), { ok: true, segments: ['é.txt'] });
  t.like(parseRequestPath('/\xc0\xae\xc0\xae/x'), { ok: false, status: 400 });
  t.like(parseRequestPath('/\xe9.txt'), { ok: false, status: 400 });
});

test('request paths: refusals', (t) => {
  for (const path of ['/..', '/a/../..', '/%2e%2e', '/..%2f', '/..%5cx', '/a\\..\\b', '/.%2E/x', '/a/..%2f..%2fb']) {
    t.like(parseRequestPath(path), { ok: false, status: 403 }, path);
  }
  for (const path of ['/a/../b', '/a/./b', '//a', '/a%5cb']) {
    t.like(parseRequestPath(path, { canonical: true }), { ok: false, status: 403 }, `canonical: ${path}`);
  }
  t.like(parseRequestPath('/a/b.txt', { canonical: true }), { ok: true, segments: ['a', 'b.txt'] });
  for (const path of ['/%00', '/a%00b', '/%zz', '/%', '/%c0%ae', '/%ed%a0%80', 'relative/path', '*']) {
    t.like(parseRequestPath(path), { ok: false, status: 400 }, path);
  }
  for (const path of ['/.env', '/a/.git/config', '/a%5c.hidden']) {
    t.like(parseRequestPath(path), { ok: true, dotfile: true }, path);
  }
});

test('byte ranges, as send reads them (range-parser)', (t) => {
  t.deepEqual(parseByteRange(undefined, 10), { kind: 'whole' });
  t.deepEqual(parseByteRange('bytes=0-4', 10), { kind: 'partial', start: 0, end: 4 });
  t.deepEqual(parseByteRange('bytes=5-', 10), { kind: 'partial', start: 5, end: 9 });
  t.deepEqual(parseByteRange('bytes=-3', 10), { kind: 'partial', start: 7, end: 9 });
  t.deepEqual(parseByteRange('bytes=8-100', 10), { kind: 'partial', start: 8, end: 9 });
  t.deepEqual(parseByteRange('bytes= 1 - 2 , ', 10), { kind: 'whole' }, 'an empty spec is bad syntax');
  t.deepEqual(parseByteRange('bytes=0-1,2-4', 10), { kind: 'partial', start: 0, end: 4 }, 'adjacent ranges are combined');
  t.deepEqual(parseByteRange('bytes=10-', 10), { kind: 'unsatisfiable' });
  t.deepEqual(parseByteRange('bytes=-0', 10), { kind: 'unsatisfiable' });
  t.deepEqual(parseByteRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  t.deepEqual(parseByteRange('bytes=-5', 0), { kind: 'unsatisfiable' });
  t.deepEqual(parseByteRange('bytes=-30', 10), { kind: 'unsatisfiable' }, 'send: a suffix longer than the file');
  t.deepEqual(parseByteRange('bytes=4-2', 10), { kind: 'unsatisfiable' }, 'send: first > last');
  t.deepEqual(parseByteRange('bytes=99999999999999999999-', 10), { kind: 'unsatisfiable' });
  for (const header of ['bytes=0-1,3-4', 'bytes=-', 'bytes=a-b', 'items=0-1', 'bytes', 'bytes=1-2-3', ' Bytes=1-2']) {
    t.deepEqual(parseByteRange(header, 10), { kind: 'whole' }, header);
  }
});

test('preconditions in the order of RFC 9110 §13.2.2', (t) => {
  const validators = { etag: '"abc"', lastModified: 'Wed, 01 Jan 2025 00:00:00 GMT' };
  const later = 'Thu, 02 Jan 2025 00:00:00 GMT';
  const earlier = 'Tue, 31 Dec 2024 00:00:00 GMT';
  t.is(evaluatePreconditions({}, validators), 0);
  t.is(evaluatePreconditions({ 'if-match': '"x", "abc"' }, validators), 0);
  t.is(evaluatePreconditions({ 'if-match': '"x"' }, validators), 412);
  t.is(evaluatePreconditions({ 'if-match': 'W/"abc"' }, validators), 412, 'If-Match compares strongly');
  t.is(evaluatePreconditions({ 'if-unmodified-since': earlier }, validators), 412);
  t.is(evaluatePreconditions({ 'if-match': '"abc"', 'if-unmodified-since': earlier }, validators), 0, 'If-Match wins');
  t.is(evaluatePreconditions({ 'if-none-match': 'W/"abc"' }, validators), 304, 'If-None-Match compares weakly');
  t.is(evaluatePreconditions({ 'if-modified-since': later }, validators), 304);
  t.is(evaluatePreconditions({ 'if-modified-since': earlier }, validators), 0);
  t.is(evaluatePreconditions({ 'if-none-match': '"x"', 'if-modified-since': later }, validators), 0, 'If-None-Match wins');
  t.is(evaluatePreconditions({ 'if-match': '"x"', 'if-none-match': '"abc"' }, validators), 412, '412 before 304');
  t.is(evaluatePreconditions({ 'if-match': '*' }, { etag: undefined, lastModified: undefined }), 0);
  t.is(evaluatePreconditions({ 'if-none-match': '"abc"', 'cache-control': 'no-cache' }, validators), 0, 'fresh: an end-to-end reload');
});

test('If-Range', (t) => {
  const validators = { etag: '"abc"', lastModified: 'Wed, 01 Jan 2025 00:00:00 GMT' };
  t.true(rangeStillValid(undefined, validators));
  t.true(rangeStillValid('"abc"', validators));
  t.false(rangeStillValid('"abd"', validators));
  t.false(rangeStillValid('W/"abc"', validators));
  t.false(rangeStillValid('"abc"', { etag: 'W/"abc"', lastModified: undefined }));
  t.true(rangeStillValid('Wed, 01 Jan 2025 00:00:00 GMT', validators));
  t.false(rangeStillValid('Wed, 01 Jan 2025 00:00:01 GMT', validators));
  t.false(rangeStillValid('garbage', validators));
});

test('Accept-Encoding', (t) => {
  const names = (header: string | undefined): string[] => acceptedEncodings(header).map((e) => e.name);
  t.deepEqual(names(undefined), []);
  t.deepEqual(names('gzip, deflate, br'), ['br', 'gzip']);
  t.deepEqual(names('gzip'), ['gzip']);
  t.deepEqual(names('br;q=0, gzip;q=0.5'), ['gzip']);
  t.deepEqual(names('*'), ['br', 'gzip']);
  t.deepEqual(names('*;q=0, gzip'), ['gzip']);
  t.deepEqual(names('identity'), []);
  t.deepEqual(names('x-gzip'), ['gzip']);
  t.deepEqual(names('gzip;q=0.9, br;q=0.5'), ['gzip', 'br'], "the client's preference first");
});

test('maxAge durations (ms, as send), capped at a year', (t) => {
  t.is(parseMaxAge(1500), 1500);
  t.is(parseMaxAge('2s'), 2000);
  t.is(parseMaxAge('1d'), 86_400_000);
  t.is(parseMaxAge('1.5h'), 5_400_000);
  t.is(parseMaxAge('2 days'), 172_800_000);
  t.is(parseMaxAge('250'), 250);
  t.is(parseMaxAge(Infinity), 365 * 86_400_000);
  t.is(parseMaxAge('10y'), 365 * 86_400_000);
  t.throws(() => parseMaxAge('soon'), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => parseMaxAge(-1), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => parseMaxAge(Number.NaN), { code: 'ERR_INVALID_ARG_VALUE' });
});
