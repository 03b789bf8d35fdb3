/**
 * The `Range` request header (RFC 9110 §14): one byte range becomes a 206, an unsatisfiable one a
 * 416, and anything else — no header, another unit, bad syntax, several ranges — the whole file.
 * (Several ranges would need multipart/byteranges, which copies; browsers and download managers
 * ask for one.)
 */

export type ByteRange =
  /** Send the whole file with 200. */
  | { kind: 'whole' }
  /** Send bytes `start..end` (inclusive) with 206. */
  | { kind: 'partial'; start: number; end: number }
  /** 416 with `Content-Range: bytes *\/size`. */
  | { kind: 'unsatisfiable' };

const WHOLE: ByteRange = { kind: 'whole' };
const UNSATISFIABLE: ByteRange = { kind: 'unsatisfiable' };
const RANGE_SPEC = /^(\d*)[ \t]*-[ \t]*(\d*)$/;

export function parseByteRange(header: string | undefined, size: number): ByteRange {
  if (header === undefined) return WHOLE;
  const equals = header.indexOf('=');
  if (equals === -1 || header.slice(0, equals).trim().toLowerCase() !== 'bytes') return WHOLE;
  const specs = header
    .slice(equals + 1)
    .split(',')
    .map((spec) => spec.trim())
    .filter((spec) => spec !== '');
  if (specs.length !== 1) return WHOLE;
  const match = RANGE_SPEC.exec(specs[0]);
  if (!match) return WHOLE;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '') {
    // `-n`: the last n bytes.
    if (last === '') return WHOLE;
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return UNSATISFIABLE;
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return WHOLE; // invalid: ignore the header
  if (start >= size) return UNSATISFIABLE;
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: 'partial', start, end };
}
