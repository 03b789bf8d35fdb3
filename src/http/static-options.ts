/**
 * The options of `serveStatic()` / `createStaticServer()`: the shared response options plus how a
 * URL finds its file. Names and defaults follow serve-static wherever the two overlap, so an
 * Express app can swap one for the other.
 */
import type { Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';

import { codes, ZerosendError } from '../errors';
import type { ServedInfo } from './file-response';
import {
  booleanOption,
  functionOption,
  optionsObject,
  parseResponseOptions,
  stringList,
  type ResponseOptions,
  type ResponseSettings,
} from './response-options';

export interface ServeStaticOptions extends ResponseOptions {
  /** Index file(s) for a directory request ending in `/`. Default `'index.html'`; `false` disables. */
  index?: string | string[] | false;
  /**
   * Clean URLs: when a path without an extension is not found, try it with each of these
   * extensions (`['html', 'htm']`: `/about` serves `about.html`). Default none.
   */
  extensions?: string[] | false;
  /** A directory requested without its trailing `/` gets a 301 to `path/`. Default true. */
  redirect?: boolean;
  /**
   * A directory URL with its trailing `/` and no index file answers a listing of the directory:
   * an HTML page, or JSON for `Accept: application/json` (see `directory-listing.ts`). Default
   * false, as in serve-static; `zerosend serve` turns it on.
   */
  listing?: boolean;
  /**
   * Default true: a miss (404, 403, 400) calls `next()`, and other methods than GET/HEAD too.
   * False: they go to `next(err)` as http-errors (`status`, `statusCode`, `expose`; names such as
   * `NotFoundError`), for the app's error handler; without `next`, the middleware answers them.
   */
  fallthrough?: boolean;
  /** Called before the default headers are set, to add or change them; defaults never override what it set. */
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
   * revalidated — with one `stat()` of the path, or, on Linux, by an inotify watch on the file and
   * the folders on its way that reports no change (and a `stat()` at least once a second) — so a
   * changed, replaced or deleted file is never served stale. `{ max }` entries (default 256);
   * `false` opens and closes the file per request.
   */
  openFileCache?: false | { max?: number; idleMs?: number };
  /** Called once per request the middleware answered, e.g. for an access log. The answer is out
   * by then: an error it throws becomes a process warning (code `ZEROSEND_ON_SERVED`). */
  onServed?: (req: IncomingMessage, res: ServerResponse, info: ServedInfo) => void;
}

/** The options with defaults filled in. */
export interface StaticSettings extends ResponseSettings {
  root: string;
  index: string[];
  /** Without their leading dot: `path + '.' + extension`. */
  extensions: string[];
  redirect: boolean;
  listing: boolean;
  fallthrough: boolean;
  precompressed: boolean;
  followSymlinks: boolean;
  cacheMax: number;
  cacheIdleMs: number;
  onServed: ServeStaticOptions['onServed'];
}

/** Validates `serveStatic(root, options)`; the messages for `root` are serve-static's own. */
export function resolveSettings(root: unknown, options: ServeStaticOptions | undefined): StaticSettings {
  if (root === undefined || root === null || root === '') throw new ZerosendError(codes.invalidArgType, 'root path required');
  if (typeof root !== 'string') throw new ZerosendError(codes.invalidArgType, 'root path must be a string');
  const o = optionsObject(options);
  const cache = o.openFileCache ?? {};
  if (cache !== false && (typeof cache !== 'object' || cache === null)) {
    throw new ZerosendError(codes.invalidArgType, `The "options.openFileCache" property must be false or an object`);
  }
  const { max, idleMs } = cache === false ? { max: 0, idleMs: 0 } : (cache as { max?: unknown; idleMs?: unknown });
  return {
    ...parseResponseOptions(o),
    root: path.resolve(root),
    index: stringList(o, 'index', ['index.html']),
    extensions: stringList(o, 'extensions', []).map((extension) => extension.replace(/^\./, '')),
    redirect: booleanOption(o, 'redirect') ?? true,
    listing: booleanOption(o, 'listing') ?? false,
    fallthrough: booleanOption(o, 'fallthrough') ?? true,
    precompressed: booleanOption(o, 'precompressed') ?? false,
    followSymlinks: booleanOption(o, 'followSymlinks') ?? false,
    cacheMax: cache === false ? 0 : Math.max(0, Math.floor(count(max, 'max') ?? 256)),
    cacheIdleMs: cache === false ? 0 : Math.max(1000, count(idleMs, 'idleMs') ?? 30_000),
    onServed: functionOption(o, 'onServed') as ServeStaticOptions['onServed'],
  };
}

function count(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value >= 0)) {
    throw new ZerosendError(codes.invalidArgValue, `The property 'options.openFileCache.${name}' must be a number >= 0. Received ${String(value)}`);
  }
  return value;
}
