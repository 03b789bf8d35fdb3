/**
 * Properties of the `Range` header (src/http/byte-range.ts) against RFC 9110 §14, written as
 * a model with exact (BigInt) arithmetic so that numbers past 2^53 and 2^64 are judged by what the
 * client wrote, not by what a double rounds them to; then the same headers against the real
 * server, checking status, Content-Range and every body byte.
 */
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import test from 'ava';
import fc from 'fast-check';

import { createStaticServer } from '../src';
import { parseByteRange, type ByteRange } from '../src/http/byte-range';
import { randomFile, tempDir } from './helpers/net';
import { boundaryInteger, params, SEED } from './helpers/property';

type Spec =
  | { kind: 'from-to'; first: bigint; last: bigint }
  | { kind: 'from'; first: bigint }
  | { kind: 'suffix'; length: bigint };

/** What the RFC makes of one range-spec for a representation of `size` bytes. */
type Meaning =
  | { kind: 'partial'; start: bigint; end: bigint }
  | { kind: 'unsatisfiable' }
  /** `last < first`: the server may ignore the header (200) or reject it (416), never 206. */
  | { kind: 'invalid' };

function meaning(spec: Spec, size: bigint): Meaning {
  switch (spec.kind) {
    case 'from-to':
      if (spec.last < spec.first) return { kind: 'invalid' };
      if (spec.first >= size) return { kind: 'unsatisfiable' };
      return { kind: 'partial', start: spec.first, end: spec.last < size - 1n ? spec.last : size - 1n };
    case 'from':
      if (spec.first >= size) return { kind: 'unsatisfiable' };
      return { kind: 'partial', start: spec.first, end: size - 1n };
    case 'suffix':
      if (spec.length === 0n || size === 0n) return { kind: 'unsatisfiable' };
      return { kind: 'partial', start: spec.length >= size ? 0n : size - spec.length, end: size - 1n };
  }
}

/** Byte positions: small, near the file size, near 2^31/2^32/2^53, and past 2^64. */
const position = (size: number): fc.Arbitrary<bigint> =>
  fc.oneof(
    fc.bigInt({ min: 0n, max: 64n }),
    fc.integer({ min: -3, max: 3 }).map((d) => BigInt(Math.max(0, size + d))),
    boundaryInteger.filter((n) => n >= 0).map(BigInt),
    fc.bigInt({ min: 0n, max: 10n ** 30n }),
  );

const spec = (size: number): fc.Arbitrary<Spec> =>
  fc.oneof(
    fc.tuple(position(size), position(size)).map(([first, last]): Spec => ({ kind: 'from-to', first, last })),
    position(size).map((first): Spec => ({ kind: 'from', first })),
    position(size).map((length): Spec => ({ kind: 'suffix', length })),
  );

/** Optional whitespace (RFC 9110 OWS) and leading zeros, as clients may send them. */
const ows = fc.constantFrom('', ' ', '\t', '  ');
const digits = (n: bigint, zeros: number) => '0'.repeat(zeros) + n.toString();

function render(s: Spec, zeros: number): string {
  switch (s.kind) {
    case 'from-to':
      return `${digits(s.first, zeros)}-${digits(s.last, zeros)}`;
    case 'from':
      return `${digits(s.first, zeros)}-`;
    case 'suffix':
      return `-${digits(s.length, zeros)}`;
  }
}

/** A whole `Range` value: a unit in any case, then specs as a list (empty elements allowed). */
const header = (size: number) =>
  fc
    .record({
      unit: fc.constantFrom('bytes', 'Bytes', 'BYTES'),
      specs: fc.array(spec(size), { minLength: 1, maxLength: 3 }),
      zeros: fc.nat(2),
      before: ows,
      after: ows,
      empties: fc.nat(2),
    })
    .map(({ unit, specs, zeros, before, after, empties }) => {
      const elements = specs.map((s) => render(s, zeros));
      const list = [...Array<string>(empties).fill(''), ...elements].join(`${before},${after}`);
      return { value: `${unit}=${list}`, specs };
    });

const sizes = fc.oneof(fc.nat(10_000), boundaryInteger.filter((n) => n >= 0 && n <= Number.MAX_SAFE_INTEGER));

/** Whether `result` is an answer the RFC allows for these specs (one spec; several: the whole file). */
function allowed(result: ByteRange, specs: Spec[], size: number): boolean {
  if (specs.length !== 1) return result.kind === 'whole'; // multipart is not offered: documented
  const m = meaning(specs[0], BigInt(size));
  if (m.kind === 'invalid') return result.kind === 'whole' || result.kind === 'unsatisfiable';
  if (m.kind === 'unsatisfiable') return result.kind === 'unsatisfiable';
  return result.kind === 'partial' && BigInt(result.start) === m.start && BigInt(result.end) === m.end;
}

test(`one range is served exactly as RFC 9110 says, at any magnitude (seed ${SEED})`, (t) => {
  fc.assert(
    fc.property(
      sizes.chain((size) => header(size).map((h) => ({ size, h }))),
      ({ size, h }) => allowed(parseByteRange(h.value, size), h.specs, size),
    ),
    params(20_000),
  );
  t.pass();
});

test(`whatever the header, a partial range lies inside the file (seed ${SEED})`, (t) => {
  const noise = fc.oneof(
    fc.string(),
    fc.string({ unit: fc.constantFrom(...'bytes=0123456789-, \t'.split('')) }).map((s) => `bytes=${s}`),
  );
  fc.assert(
    fc.property(noise, sizes, (value, size) => {
      const result = parseByteRange(value, size);
      if (result.kind !== 'partial') return true;
      return (
        Number.isSafeInteger(result.start) &&
        Number.isSafeInteger(result.end) &&
        result.start >= 0 &&
        result.start <= result.end &&
        result.end < size
      );
    }),
    params(20_000),
  );
  t.pass();
});

test(`the server answers ranges with the right status, Content-Range and bytes (seed ${SEED})`, async (t) => {
  const root = tempDir('zs-prop-range-');
  const size = 70_001;
  const { data, path } = randomFile(size, root);
  const name = path.slice(root.length + 1);
  const server = createStaticServer(root);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const { port } = server.address() as AddressInfo;
  const get = (range: string) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: `/${name}`, headers: { range }, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        })
        .on('error', reject);
    });
  try {
    await fc.assert(
      fc.asyncProperty(header(size), async (h) => {
        const res = await get(h.value);
        const result = parseByteRange(h.value, size);
        if (!allowed(result, h.specs, size)) return false;
        switch (result.kind) {
          case 'whole':
            return res.status === 200 && res.body.equals(data);
          case 'unsatisfiable':
            return res.status === 416 && res.headers['content-range'] === `bytes */${size}`;
          case 'partial':
            return (
              res.status === 206 &&
              res.headers['content-range'] === `bytes ${result.start}-${result.end}/${size}` &&
              Number(res.headers['content-length']) === result.end - result.start + 1 &&
              res.body.equals(data.subarray(result.start, result.end + 1))
            );
        }
      }),
      params(150),
    );
  } finally {
    agent.destroy();
    server.close();
  }
  t.pass();
});
