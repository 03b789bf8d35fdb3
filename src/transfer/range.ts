import { codes, outOfRange, ZerosendError } from '../errors';

/**
 * The file bytes `[offset, offset + length)` of a file of `size` bytes, by the same rules as the
 * native side: an offset past the end is out of range; a length past the end is a short file.
 */
export function resolveLength(size: number, offset: number, length: number | undefined): number {
  if (offset > size) throw outOfRange('options.offset', `>= 0 && <= ${size} (the file size)`, offset);
  const available = size - offset;
  if (length === undefined) return available;
  if (length > available) {
    throw new ZerosendError(
      codes.shortFile,
      `the file ended at byte ${size} before the ${offset + length} bytes the transfer needs`,
    );
  }
  return length;
}
