/**
 * From a path to the file it names under a root, by `send`'s rules (what serve-static,
 * `res.sendFile` and @fastify/static apply): percent-decoding for request URLs, dot segments
 * resolved, and a 403 for any path that would climb above the root. Nothing outside the root is
 * ever named: a `..` that stays inside (`/users/../todo.txt`) is resolved, one that climbs out is
 * refused, raw or encoded, with `/` or `\` around it.
 */
import * as path from 'node:path';

export type RequestPath =
  | {
      ok: true;
      /** Decoded segments under the root, without empty, `.` and `..` ones: joined, they are the file. */
      segments: string[];
      /** The path ended in `/` (a directory is wanted: serve its index). */
      trailingSlash: boolean;
      /** Some segment starts with `.` and is not `.` itself (`/.env`, `/a/.git/config`). */
      dotfile: boolean;
    }
  | { ok: false; status: 400 | 403; reason: string };

export interface UrlPathRules {
  /**
   * Refuse (403) every path that is not already canonical — `.`/`..` segments, `//`, `\` — rather
   * than resolving it. For routers that match guards on the raw URL (Fastify's find-my-way): a
   * `/public/../private/x` must not reach what a `/private/*` guard protects. @fastify/static does
   * the same.
   */
  canonical?: boolean;
}


/** send's `UP_PATH_REGEXP`: a `..` segment between `/` or `\` (or the ends). */
const CLIMBS = /(?:^|[\\/])\.\.(?:[\\/]|$)/;

/**
 * The path of a request target (`req.url`: origin-form `/a/b?q`, or absolute-form
 * `http://host/a/b`), under the root.
 *
 * - malformed percent-encoding, invalid or overlong UTF-8, NUL → 400
 * - dot segments are resolved; a path that climbs above the root → 403
 */
export function parseRequestPath(url: string | undefined, rules: UrlPathRules = {}): RequestPath {
  let target = url ?? '/';
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target);
    if (!absolute) return { ok: false, status: 400, reason: 'the request target is not a path' };
    target = target.slice(absolute[0].length) || '/';
    if (target.charCodeAt(0) !== 0x2f) target = `/${target}`;
  }
  const plain = plainPath(target);
  if (plain !== undefined) return plain;
  const end = target.search(/[?#]/);
  const rawPath = end === -1 ? target : target.slice(0, end);

  let decoded: string;
  try {
    // Bytes above 0x7f arrive as latin1 characters: treat them as the UTF-8 bytes they were, so
    // that they get the same validation as their percent-encoded form.
    decoded = decodeURIComponent(/[^\x00-\x7f]/.test(rawPath) ? encodeHighBytes(rawPath) : rawPath);
  } catch {
    return { ok: false, status: 400, reason: 'malformed percent-encoding or UTF-8' };
  }
  if (decoded.includes('\u0000')) return { ok: false, status: 400, reason: 'NUL in the path' };
  if (rules.canonical && (decoded.includes('\\') || path.posix.normalize(decoded) !== decoded)) {
    return { ok: false, status: 403, reason: 'a path that is not canonical' };
  }
  return underRoot(decoded);
}

/**
 * A path an application names (`sendFile(req, res, path, { root })`), taken literally (no
 * percent-decoding: `a%20b.txt` is that name): inside `root` when there is one, else absolute.
 * Without a root, any `..` is refused, as `send` does. `null` when the path is relative and there
 * is no root: that is the caller's mistake, not the client's.
 */
export function parseAppPath(name: string, root: string | undefined): RequestPath | null {
  if (name.includes('\u0000')) return { ok: false, status: 400, reason: 'NUL in the path' };
  if (root !== undefined) return plainAppPath(name) ?? underRoot(name);
  if (!path.isAbsolute(name)) return null;
  if (CLIMBS.test(name)) return { ok: false, status: 403, reason: 'a .. segment' };
  // The segments below the file system's root (`/`; on Windows a drive, `C:\\`, or a UNC share):
  // the file is `fileUnder(fileSystemRoot(name), segments)`.
  const normalized = path.normalize(name);
  const parts = normalized.slice(path.parse(normalized).root.length).split(path.sep);
  return {
    ok: true,
    segments: parts.filter((part) => part !== ''),
    trailingSlash: name.endsWith('/'),
    // As send does without a root: every segment of the absolute path counts.
    dotfile: parts.some(isDotfile),
  };
}

/**
 * The common case, in one pass and at a fraction of the cost of the general one: a path (up to `?`
 * or `#`) of printable ASCII with nothing percent-encoded, no `\\`, `"`, and no segment that is
 * empty or starts with a dot — so nothing to decode, no dot segment, no dotfile. Anything else is
 * `undefined`: the general path decides.
 */
function plainPath(target: string): RequestPath | undefined {
  const segments: string[] = [];
  let start = 1;
  let i = 1;
  for (; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) break;
    if (c === 0x2f /* / */) {
      if (i === start) return undefined; // `//`: an empty segment
      segments.push(target.slice(start, i));
      start = i + 1;
    } else if (c <= 0x20 || c >= 0x7f || c === 0x25 /* % */ || c === 0x5c /* \ */ || c === 0x22 /* " */) {
      return undefined;
    } else if (c === 0x2e /* . */ && i === start) {
      return undefined; // a segment starting with a dot: `.`, `..` or a dotfile
    }
  }
  if (i > start) segments.push(target.slice(start, i));
  return { ok: true, segments, trailingSlash: target.charCodeAt(i - 1) === 0x2f, dotfile: false };
}

/**
 * `underRoot`'s answer for the common app path, in one pass: `report.pdf`, `a/b.txt`, `/a/b/` —
 * no empty segment, none starting with a dot, no `\\` — so nothing to normalise, nothing that
 * climbs, no dotfile. Anything else is `undefined`: `underRoot` decides.
 */
function plainAppPath(name: string): RequestPath | undefined {
  const segments: string[] = [];
  // A leading `/` is the root's own (`sendFile('/a.txt', { root })` is `a.txt` under it).
  let start = name.charCodeAt(0) === 0x2f /* / */ ? 1 : 0;
  for (let i = start; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2f /* / */) {
      if (i === start) return undefined; // `//`: an empty segment
      segments.push(name.slice(start, i));
      start = i + 1;
    } else if (c === 0x5c /* \ */ || (c === 0x2e /* . */ && i === start)) {
      return undefined;
    }
  }
  if (start < name.length) segments.push(name.slice(start));
  if (segments.length === 0) return undefined;
  return { ok: true, segments, trailingSlash: start === name.length, dotfile: false };
}

/**
 * `send` with a root: normalise `./path`, refuse what climbs, the rest are segments under the root.
 * (Exported for the property test that checks `plainAppPath` against it.)
 */
export function underRoot(decoded: string): RequestPath {
  const normalized = path.posix.normalize(`./${decoded}`);
  if (CLIMBS.test(normalized)) return { ok: false, status: 403, reason: 'a path that climbs above the root' };
  const segments = normalized.split('/').filter((part) => part !== '' && part !== '.');
  // `\` separates nothing on POSIX, but it does on Windows and in some proxies: a name behind one
  // that starts with a dot is treated as a dotfile too.
  const dotfile = segments.some((segment) => segment.split('\\').some(isDotfile));
  return { ok: true, segments, trailingSlash: decoded.endsWith('/'), dotfile };
}

const isDotfile = (part: string): boolean => part.length > 1 && part.charCodeAt(0) === 0x2e /* . */;

function encodeHighBytes(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.charCodeAt(0);
    out += code > 0x7f && code <= 0xff ? `%${code.toString(16).toUpperCase()}` : char;
  }
  return out;
}

/** The root of an absolute path: `/`, or on Windows its drive or share (`C:\\`, `\\\\server\\share\\`). */
export const fileSystemRoot = (absolute: string): string => path.parse(path.normalize(absolute)).root;

/** The file `segments` name under `root` (segments hold no `.`, `..` or empty names: concatenating is joining). */
export function fileUnder(root: string, segments: readonly string[]): string {
  if (segments.length === 0) return root;
  return (root.endsWith(path.sep) ? root : root + path.sep) + segments.join(path.sep);
}
