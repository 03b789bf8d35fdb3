/**
 * From a request target to path segments under the root, refusing everything that could climb out
 * of it. The rules are strict rather than clever: a request that needs any of them is an attack or
 * a broken client, never a browser (browsers remove dot segments and percent-encode the rest).
 */

export type RequestPath =
  | {
      ok: true;
      /** Decoded segments, without empty and `.` segments: joined under the root, they are the file. */
      segments: string[];
      /** The path ended in `/` (a directory is wanted: serve its index). */
      trailingSlash: boolean;
      /** Some segment starts with `.` (`/.env`, `/.git/config`). */
      dotfile: boolean;
      /** The path as the client sent it, still encoded, without the query: for redirects. */
      rawPath: string;
    }
  | { ok: false; status: 400 | 403; reason: string };

/**
 * A path with none of these characters, and no segment starting with `.` (no `/.`), needs no
 * decoding and no further checks: `..` and dotfiles both start a segment with a dot.
 */
const NEEDS_DECODING = /[\x00-\x20"#%\\\x7f-\uffff]/;

/** Both separators count when looking for `..`: `\` is one on Windows and in some proxies. */
const SEPARATORS = /[\\/]/;

/**
 * Parses `req.url` (origin-form `/a/b?q`, or absolute-form `http://host/a/b`).
 *
 * - malformed percent-encoding, invalid or overlong UTF-8, NUL → 400
 * - a `..` segment, raw or encoded, between `/` or `\` → 403 (it is never resolved)
 */
export function parseRequestPath(url: string | undefined): RequestPath {
  let target = url ?? '/';
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target);
    if (!absolute) return { ok: false, status: 400, reason: 'the request target is not a path' };
    target = target.slice(absolute[0].length) || '/';
    if (target.charCodeAt(0) !== 0x2f) target = `/${target}`;
  }
  const end = target.search(/[?#]/);
  const rawPath = end === -1 ? target : target.slice(0, end);
  if (!NEEDS_DECODING.test(rawPath) && !rawPath.includes('/.')) {
    // The common case, at a fraction of the cost: nothing encoded, no dot segment, no dotfile.
    const segments = rawPath.split('/').filter((part) => part !== '');
    return { ok: true, segments, trailingSlash: rawPath.endsWith('/'), dotfile: false, rawPath };
  }

  let decoded: string;
  try {
    // Bytes above 0x7f arrive as latin1 characters: treat them as the UTF-8 bytes they were, so
    // that they get the same validation as their percent-encoded form.
    decoded = decodeURIComponent(/[^\x00-\x7f]/.test(rawPath) ? encodeHighBytes(rawPath) : rawPath);
  } catch {
    return { ok: false, status: 400, reason: 'malformed percent-encoding or UTF-8' };
  }
  if (decoded.includes('\u0000')) return { ok: false, status: 400, reason: 'NUL in the path' };

  const segments: string[] = [];
  let dotfile = false;
  for (const part of decoded.split(SEPARATORS)) {
    if (part === '..') return { ok: false, status: 403, reason: 'a .. segment' };
    if (part.charCodeAt(0) === 0x2e /* . */ && part !== '.') dotfile = true;
  }
  // Only `/` separates directories on POSIX: a `\` stays part of the name (checked above).
  for (const part of decoded.split('/')) {
    if (part !== '' && part !== '.') segments.push(part);
  }
  return { ok: true, segments, trailingSlash: decoded.endsWith('/'), dotfile, rawPath };
}

function encodeHighBytes(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.charCodeAt(0);
    out += code > 0x7f && code <= 0xff ? `%${code.toString(16).toUpperCase()}` : char;
  }
  return out;
}
