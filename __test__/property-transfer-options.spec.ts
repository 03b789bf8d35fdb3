/**
 * Properties of transfer()'s byte arithmetic: which offsets and lengths are accepted (safe
 * non-negative integers only, with values around 2^31, 2^32 and 2^53), and that a real transfer
 * agrees with one model of `offset`/`length`/size, on the native binding and on the stream
 * fallback alike (this file runs in both passes of `npm test`).
 */
import test from 'ava';
import fc from 'fast-check';

import { transfer } from '../src';
import { parseOptions } from '../src/transfer/settings';
import { resolveLength } from '../src/transfer/range';
import { collect, randomFile, socketPair } from './helpers/net';
import { anyByteCount, boundaryInteger, params, SEED } from './helpers/property';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code ?? 'no code';
  }
};

test(`offset and length accept exactly the safe non-negative integers (seed ${SEED})`, (t) => {
  fc.assert(
    fc.property(anyByteCount, fc.constantFrom('offset', 'length'), (value, name) => {
      const code = codeOf(() => parseOptions({ [name]: value }));
      if (Number.isSafeInteger(value) && value >= 0) {
        if (code !== undefined) return false;
        const settings = parseOptions({ [name]: value });
        return settings[name as 'offset' | 'length'] === value;
      }
      return code === 'ERR_OUT_OF_RANGE';
    }),
    params(5000),
  );
  t.pass();
});

test(`byte counts of other types are ERR_INVALID_ARG_TYPE (seed ${SEED})`, (t) => {
  const notANumber = fc.oneof(
    fc.string(),
    fc.bigInt(),
    fc.boolean(),
    fc.constant(null),
    fc.object(),
    fc.array(fc.integer()),
    boundaryInteger.map((n) => String(n)),
  );
  fc.assert(
    fc.property(notANumber, fc.constantFrom('offset', 'length'), (value, name) => {
      return codeOf(() => parseOptions({ [name]: value })) === 'ERR_INVALID_ARG_TYPE';
    }),
    params(2000),
  );
  t.pass();
});

/** The contract, written once: what `transfer()` must do with a file of `size` bytes. */
function model(size: number, offset: number, length: number | undefined): { bytes: number } | { code: string } {
  if (offset > size) return { code: 'ERR_OUT_OF_RANGE' };
  if (length !== undefined && length > size - offset) return { code: 'ERR_ZEROSEND_SHORT_FILE' };
  return { bytes: length ?? size - offset };
}

test(`the stream fallback's range check agrees with the model (seed ${SEED})`, (t) => {
  const size = fc.oneof(fc.nat(10_000), boundaryInteger.filter((n) => n >= 0 && n <= Number.MAX_SAFE_INTEGER));
  const count = fc.oneof(fc.nat(10_000), boundaryInteger.filter((n) => n >= 0 && n <= Number.MAX_SAFE_INTEGER));
  fc.assert(
    fc.property(size, count, fc.option(count, { nil: undefined }), (s, offset, length) => {
      const expected = model(s, offset, length);
      const code = codeOf(() => resolveLength(s, offset, length));
      if ('code' in expected) return code === expected.code;
      return code === undefined && resolveLength(s, offset, length) === expected.bytes;
    }),
    params(5000),
  );
  t.pass();
});

test(`real transfers agree with the model for offsets and lengths near 2^31, 2^32 and 2^53 (seed ${SEED})`, async (t) => {
  const size = 5000;
  const { path, data } = randomFile(size);
  const count = fc.oneof(fc.nat(size + 2), boundaryInteger.filter((n) => n >= 0 && n <= Number.MAX_SAFE_INTEGER));
  const prefix = fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined });
  await fc.assert(
    fc.asyncProperty(count, fc.option(count, { nil: undefined }), prefix, async (offset, length, head) => {
      const pair = await socketPair();
      try {
        const received = collect(pair.server);
        const expected = model(size, offset, length);
        let outcome: { bytes: number } | { code: string };
        try {
          const result = await transfer(path, pair.client, { offset, length, prefix: head });
          outcome = { bytes: result.bytes };
        } catch (error) {
          outcome = { code: (error as { code: string }).code };
        }
        pair.client.end();
        const got = await received;
        if ('code' in expected) {
          // Refused before anything was sent.
          return 'code' in outcome && outcome.code === expected.code && got.length === 0;
        }
        const headBytes = head ? Buffer.from(head) : Buffer.alloc(0);
        const want = Buffer.concat([headBytes, data.subarray(offset, offset + expected.bytes)]);
        return 'bytes' in outcome && outcome.bytes === want.length && got.equals(want);
      } finally {
        pair.close();
      }
    }),
    params(150),
  );
  t.pass();
});
