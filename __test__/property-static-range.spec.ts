/**
 * Properties of the `Range` header (src/http/byte-range.ts): zerosend reads it as `send` does
 * (serve-static, `res.sendFile`: range-parser with overlapping ranges combined), written here as a
 * model with exact (BigInt) arithmetic so that numbers past 2^53 and 2^64 are judged by what the
 * client wrote; then the same headers against the real server, checking status, Content-Range and
 * every body byte, and against serve-static itself, answer for answer.
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

/**
 * What `send` makes of one range-spec for a representation of `size` bytes: the bytes it names,
 * or nothing. Two places where send (range-parser) is stricter than RFC 9110 §14.1.2, and
 * zerosend with it: a suffix longer than the file names nothing (the RFC: the whole file), and
 * `last < first` names nothing (the RFC: ignore the header); a header that names nothing is a 416.
 */
function meaning(spec: Spec, size: bigint): { start: bigint; end: bigint } | undefined {
  let start: bigint;
  let end: bigint;
  switch (spec.kind) {
    case 'from-to':
      [start, end] = [spec.first, spec.last < size - 1n ? spec.last : size - 1n];
      break;
    case 'from':
      [start, end] = [spec.first, size - 1n];
      break;
    case 'suffix':
      [start, end] = [size - spec.length, size - 1n];
      break;
  }
  return start > end || start < 0n ? undefined : { start, end };
}

/** range-parser's `combine`: overlapping or adjacent ranges become one. */
function combined(ranges: { start: bigint; end: bigint }[]): { start: bigint; end: bigint }[] {
  const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: { start: bigint; end: bigint }[] = [];
  for (const range of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && range.start <= last.end + 1n) {
      if (range.end > last.end) last.end = range.end;
    } else out.push({ ...range });
  }
  return out;
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
      unit: fc.constantFrom('bytes', 'bytes', 'Bytes', 'BYTES'),
      specs: fc.array(spec(size), { minLength: 1, maxLength: 3 }),
      zeros: fc.nat(2),
      before: ows,
      after: ows,
      empties: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(2) }),
    })
    .map(({ unit, specs, zeros, before, after, empties }) => {
      const elements = specs.map((s) => render(s, zeros));
      const list = [...Array<string>(empties).fill(''), ...elements].join(`${before},${after}`);
      return { value: `${unit}=${list}`, unit, specs, empties };
    });

const sizes = fc.oneof(fc.nat(10_000), boundaryInteger.filter((n) => n >= 0 && n <= Number.MAX_SAFE_INTEGER));

/** The answer the model gives: another unit or an empty element ignores the header (200). */
function expected(h: { unit: string; specs: Spec[]; empties: number }, size: number): ByteRange {
  if (h.unit !== 'bytes' || h.empties > 0) return { kind: 'whole' };
  const named = h.specs.map((s) => meaning(s, BigInt(size))).filter((r) => r !== undefined);
  if (named.length === 0) return { kind: 'unsatisfiable' };
  const ranges = combined(named);
  // Several disjoint ranges would need multipart/byteranges: the whole file, as send answers.
  if (ranges.length !== 1) return { kind: 'whole' };
  return { kind: 'partial', start: Number(ranges[0]!.start), end: Number(ranges[0]!.end) };
}

test(`a Range header is read as send reads it, at any magnitude (seed ${SEED})`, (t) => {
  fc.assert(
    fc.property(
      sizes.chain((size) => header(size).map((h) => ({ size, h }))),
      ({ size, h }) => {
        const got = parseByteRange(h.value, size);
        const want = expected(h, size);
        // Past 2^53 a double cannot hold every position: compare what the client could have meant.
        return got.kind === want.kind && (got.kind !== 'partial' || (got.start === (want as typeof got).start && got.end === (want as typeof got).end));
      },
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
        const result = expected(h, size);
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
