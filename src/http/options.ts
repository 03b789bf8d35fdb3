/**
 * The options of `serveStatic()` / `createStaticServer()`. Names and defaults follow
 * `serve-static` wherever the two overlap, so an Express app can swap one for the other.
 */
import type { Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';

import { capabilities } from '../binding/capabilities';
import { unsupported } from '../socket/destination';
import { invalidArgType, ZerosendError, codes } from '../errors';
import { parseMethod, type Method, type TransferResult } from '../options';

/** How a response body went out: a `transfer()` method, or `'none'` for bodiless and generated answers. */
export type BodyMethod = TransferResult['method'] | 'none';

/** What the middleware did with one request; handed to `onServed`. */
export interface ServedInfo {
  /** The status code sent. */
  status: number;
  /** Body bytes that reached the client (headers not included). */
  bytes: number;
  /** What moved the body: `sendfile`, `splice`, `mmap`, `copy`, `stream`, or `none`. */
  method: BodyMethod;
  /** The file served, when there was one. */
  path?: string;
  /** Set when the body did not arrive whole (client went away, file truncated...): an error code. */
  error?: string;
}

export interface ServeStaticOptions {
  /** Index file(s) for a directory request ending in `/`. Default `'index.html'`; `false` disables. */
  index?: string | string[] | false;
  /** Paths with a segment starting with `.`: `'ignore'` (default, as if absent), `'deny'` (403), `'allow'`. */
  dotfiles?: 'ignore' | 'deny' | 'allow';
  /**
   * `ETag` from size and mtime. `true` (default) sends a strong tag (as nginx does, so that
   * `If-Range` can resume downloads); `'weak'` sends `W/"..."` (as serve-static does); `false` none.
   */
  etag?: boolean | 'weak' | 'strong';
  /** Send `Last-Modified`. Default true. */
  lastModified?: boolean;
  /** `Cache-Control: max-age`, in milliseconds or a string such as `'1d'`, `'2h'`, `'30s'`. Default 0. */
  maxAge?: number | string;
  /** Add `immutable` to `Cache-Control`. Default false. */
  immutable?: boolean;
  /** Send `Cache-Control` at all. Default true. */
  cacheControl?: boolean;
  /** Honour `Range` and send `Accept-Ranges: bytes`. Default true. */
  acceptRanges?: boolean;
  /** A directory requested without its trailing `/` gets a 301 to `path/`. Default true. */
  redirect?: boolean;
  /**
   * Default true: a miss (and any 4xx) calls `next()`, and other methods than GET/HEAD too.
   * False: the middleware answers 404/403/400/405 itself.
   */
  fallthrough?: boolean;
  /** Called before the headers go out, to add or change them; defaults never override what it set. */
  setHeaders?: (res: ServerResponse, path: string, stat: Stats) => void;
  /**
   * Serve `file.br` / `file.gz` instead of `file` when the client accepts that encoding and the
   * variant exists, with `Vary: Accept-Encoding`. Still zero-copy. Default false.
   */
  precompressed?: boolean;
  /** Follow symlinks that resolve outside the root. Default false: such a symlink is refused (403). */
  followSymlinks?: boolean;
  /**
   * A small cache of open descriptors and their stats (like nginx's `open_file_cache`): each hit is
   * revalidated with one `stat()` of the path, so a changed, replaced or deleted file is never
   * served stale. `{ max }` entries (default 256); `false` opens and closes the file per request.
   */
  openFileCache?: false | { max?: number; idleMs?: number };
  /** Called once per request the middleware answered, e.g. for an access log. */
  onServed?: (req: IncomingMessage, res: ServerResponse, info: ServedInfo) => void;
  /**
   * The `transfer()` method for file bodies. Default `'auto'`, chosen for a server: sendfile to
   * every client, those on this machine included (the least server CPU per byte, as nginx), a
   * copy where sendfile cannot. `'mmap'` moves more bytes per second to a client on this machine
   * (e.g. a local reverse proxy) for large files, at more server CPU per byte and less CPU in
   * that client; see README, *Performance*. TLS connections always use streams.
   */
  method?: Method;
}

/** The options with defaults filled in. */
export interface StaticSettings {
  root: string;
  index: string[];
  dotfiles: 'ignore' | 'deny' | 'allow';
  etag: 'strong' | 'weak' | false;
  lastModified: boolean;
  /** The whole `Cache-Control` value, or undefined for none. */
  cacheControl: string | undefined;
  acceptRanges: boolean;
  redirect: boolean;
  fallthrough: boolean;
  setHeaders: ServeStaticOptions['setHeaders'];
  precompressed: boolean;
  followSymlinks: boolean;
  cacheMax: number;
  cacheIdleMs: number;
  onServed: ServeStaticOptions['onServed'];
  method: Method;
}

const ONE_YEAR_SECONDS = 365 * 24 * 60 * 60;

export function resolveSettings(root: unknown, options: ServeStaticOptions | undefined): StaticSettings {
  if (typeof root !== 'string' || root.length === 0) throw invalidArgType('root', 'a non-empty path string', root);
  const o: ServeStaticOptions = options ?? {};
  if (typeof o !== 'object') throw invalidArgType('options', 'of type object', o);
  for (const name of ['setHeaders', 'onServed'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') {
      throw invalidArgType(`options.${name}`, 'of type function', o[name]);
    }
  }
  const dotfiles = o.dotfiles ?? 'ignore';
  if (!['ignore', 'deny', 'allow'].includes(dotfiles)) {
    throw new ZerosendError(codes.invalidArgValue, `The property 'options.dotfiles' must be 'ignore', 'deny' or 'allow'`);
  }
  const maxAgeSeconds = Math.min(Math.floor(parseDuration(o.maxAge ?? 0) / 1000), ONE_YEAR_SECONDS);
  const cache = o.openFileCache ?? {};
  return {
    root: path.resolve(root),
    index: o.index === false ? [] : Array.isArray(o.index) ? o.index : [o.index ?? 'index.html'],
    dotfiles,
    etag: o.etag === false ? false : o.etag === 'weak' ? 'weak' : 'strong',
    lastModified: o.lastModified !== false,
    cacheControl:
      o.cacheControl === false
        ? undefined
        : `public, max-age=${maxAgeSeconds}${o.immutable ? ', immutable' : ''}`,
    acceptRanges: o.acceptRanges !== false,
    redirect: o.redirect !== false,
    fallthrough: o.fallthrough !== false,
    setHeaders: o.setHeaders,
    precompressed: o.precompressed === true,
    followSymlinks: o.followSymlinks === true,
    cacheMax: cache === false ? 0 : Math.max(0, Math.floor(cache.max ?? 256)),
    cacheIdleMs: cache === false ? 0 : Math.max(1000, cache.idleMs ?? 30_000),
    onServed: o.onServed,
    method: runnable(parseMethod('options.method', o.method)),
  };
}

/** An explicit method this install cannot run would fail every response: refuse it up front. */
function runnable(method: Method): Method {
  if (method === 'auto') return method;
  const can = capabilities();
  if (!can.native) throw unsupported(method, 'the native binding is not available');
  if (method !== 'copy' && !can[method]) throw unsupported(method, `this platform has no ${method}`);
  return method;
}

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_557_600_000,
};

/** Milliseconds from a number or a string such as `'500ms'`, `'30s'`, `'2h'`, `'1d'`, `'1y'`. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)?\s*$/i.exec(value);
    if (match) return Number(match[1]) * UNITS[(match[2] ?? 'ms').toLowerCase()];
  }
  throw new ZerosendError(
    codes.invalidArgValue,
    `The property 'options.maxAge' must be milliseconds >= 0 or a duration such as '1d'. Received ${String(value)}`,
  );
}
