/**
 * The `Range` request header, read by `range-parser` exactly as `send` reads it (serve-static,
 * `res.sendFile`): a header that starts with `bytes=` and names one satisfiable range (several that
 * overlap or touch are combined into one) is a 206; one whose ranges are all unsatisfiable is a 416;
 * anything else — no header, another unit, bad syntax, several disjoint ranges — is the whole file.
 * (Several ranges would need multipart/byteranges, which copies; browsers and download managers
 * ask for one.)
 */
import parseRange from 'range-parser';

export type ByteRange =
  /** Send the whole file with 200. */
  | { kind: 'whole' }
  /** Send bytes `start..end` (inclusive) with 206. */
  | { kind: 'partial'; start: number; end: number }
  /** 416 with `Content-Range: bytes *\/size`. */
  | { kind: 'unsatisfiable' };

const WHOLE: ByteRange = { kind: 'whole' };
const UNSATISFIABLE: ByteRange = { kind: 'unsatisfiable' };
/** send's `BYTES_RANGE_REGEXP`: other units are ignored. */
const BYTES = /^ *bytes=/;

export function parseByteRange(header: string | undefined, size: number): ByteRange {
  if (header === undefined || !BYTES.test(header)) return WHOLE;
  const ranges = parseRange(size, header, { combine: true });
  if (ranges === -1) return UNSATISFIABLE;
  if (ranges === -2 || ranges.length !== 1) return WHOLE;
  const { start, end } = ranges[0]!;
  return { kind: 'partial', start, end };
}
