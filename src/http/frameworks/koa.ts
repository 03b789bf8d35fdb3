/**
 * `zerosend/koa`: `serve(root, options)` in the shape of koa-static and `send(ctx, path, options)`
 * in the shape of koa-send, whose bodies go out zero-copy through the same engine as
 * `serveStatic`. Beyond koa-send they answer `Range` (206/416) and conditional requests (304/412)
 * and send an `ETag`.
 *
 * A file is written straight to `ctx.res` (`ctx.respond = false`), and the middleware resolves once
 * the response is handed to the kernel, so `ctx.status` is what was sent when logging middleware
 * looks after `await next()`. Headers set with `ctx.set()` before go out; a status the app set
 * explicitly (`ctx.status = 404` for a custom error page) is kept.
 *
 * @example
 * const { serve, send } = require('zerosend/koa');
 * app.use(serve('./public'));
 * router.get('/download/:name', (ctx) => send(ctx, ctx.params.name, { root: './files', download: true }));
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';

import { create as contentDisposition } from 'content-disposition';

import { codes, invalidArgType, ZerosendError } from '../../errors';
import type { Encoding } from '../accept-encoding';
import { endedEarly, planResponse, sendPlanned, type FileRequest, type ServedInfo } from '../file-response';
import { findFile, findIndex, representation, type Found } from '../find-file';
import { httpError } from '../http-error';
import { OpenFiles, sharedOpenFiles } from '../open-files';
import { sendError } from '../plain-response';
import { fileUnder, parseAppPath, parseRequestPath, type RequestPath } from '../request-path';
import { booleanOption, optionsObject, parseResponseOptions, stringList, type ResponseOptions, type ResponseSettings } from '../response-options';
import { bodyFailure } from '../send-file';

/** What the adapter uses of a Koa context (Koa 2 and 3 contexts have it). */
export interface KoaContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  url: string;
  /** Set to false once this adapter writes the response itself. */
  respond?: boolean;
  status: number;
  body?: unknown;
  response: object;
}

export type KoaNext = () => Promise<unknown>;

/** koa-send's options where the two overlap, plus zerosend's own. */
export interface KoaSendOptions extends ResponseOptions {
  /** The folder the path is inside; `..` never climbs out of it (403). Default: the working directory. */
  root?: string;
  /** Index file for a path ending in `/` (and, with `format`, for a directory). koa-send: none; serve(): `'index.html'`. */
  index?: string | false;
  /** A directory requested without its `/` serves its index. Default true. */
  format?: boolean;
  /** Serve dotfiles (koa-send's name; `dotfiles: 'allow'`). Default false (a 404). */
  hidden?: boolean;
  /** koa-send's spelling of `maxAge`. */
  maxage?: number | string;
  /** Try these extensions for a path without one (`['html']`). Default none. */
  extensions?: string[] | false;
  /** Serve `file.br` to clients that accept brotli, when it exists. Default true, as koa-send. */
  brotli?: boolean;
  /** Serve `file.gz` to clients that accept gzip, when it exists. Default true, as koa-send. */
  gzip?: boolean;
  /** `Content-Disposition: attachment` with the file's name, or this name. */
  download?: boolean | string;
  /** Follow symlinks that resolve outside `root`. Default false (403). */
  followSymlinks?: boolean;
  /** Called as `fn(res, path, stat)` before the default headers; what it sets wins. */
  setHeaders?: ResponseSettings['setHeaders'];
}

export interface KoaServeOptions extends Omit<KoaSendOptions, 'root' | 'download'> {
  /** Let downstream middleware answer first; serve only if none did. Default false. */
  defer?: boolean;
}

interface KoaSettings extends ResponseSettings {
  root: string;
  index: string | undefined;
  format: boolean;
  extensions: string[];
  /** The precompressed variants to look for (koa-send's `brotli` and `gzip`). */
  encodings: Encoding['name'][];
  download: boolean | string;
  followSymlinks: boolean;
  defer: boolean;
}

/**
 * koa-static: GET and HEAD requests for files under `root` are answered; a miss calls `next()`
 * (and a request outside the root is a 403 for Koa's error handling).
 */
export function serve(root: string, options?: KoaServeOptions): (ctx: KoaContext, next: KoaNext) => Promise<void> {
  if (typeof root !== 'string' || root === '') throw invalidArgType('root', 'a non-empty path string', root);
  const o = optionsObject(options);
  // koa-static's default index, unless turned off with `false`.
  const settings = koaSettings({ ...o, index: o.index ?? 'index.html', root });
  const files = new OpenFiles(settings.root, 256, 30_000, !settings.followSymlinks);
  const tryServe = async (ctx: KoaContext): Promise<boolean> => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return false;
    const found = locate(files, settings, parseRequestPath(ctx.url));
    if (found.kind === 'miss' && found.status === 404) return false;
    await respond(ctx, files, settings, found);
    return true;
  };
  if (settings.defer) {
    return async (ctx, next) => {
      await next();
      if (ctx.body != null || ctx.status !== 404) return;
      await tryServe(ctx);
    };
  }
  return async (ctx, next) => {
    if (!(await tryServe(ctx))) await next();
  };
}

/**
 * koa-send: answers with the file at `path` (percent-decoded, as `ctx.path` is) inside
 * `options.root`; resolves with the file's path once the response is handed to the kernel. A miss
 * throws an http-errors 404 (a dotfile too, unless `hidden`), a path outside the root a 403, for
 * Koa's error handling. A failure after the headers went out (client gone, file truncated)
 * rejects with its `code` and `bytes`, the connection closed.
 */
export async function send(ctx: KoaContext, path: string, options?: KoaSendOptions): Promise<string> {
  if (typeof ctx !== 'object' || ctx === null || typeof ctx.res !== 'object') throw invalidArgType('ctx', 'a Koa context', ctx);
  if (typeof path !== 'string' || path === '') throw invalidArgType('path', 'a non-empty string', path);
  const settings = koaSettings(optionsObject(options));
  const files = sharedOpenFiles(settings.root, !settings.followSymlinks);
  let name: string;
  try {
    name = decodeURIComponent(path);
  } catch {
    throw httpError(400);
  }
  // With a root, a path is never rejected as relative: parseAppPath returns a result.
  const found = locate(files, settings, parseAppPath(name, settings.root)!);
  if (found.kind !== 'file') throw httpError(found.kind === 'miss' ? found.status : 404, found.kind === 'miss' && found.code ? { code: found.code } : undefined);
  const filePath = found.file.path;
  const info = await respond(ctx, files, settings, found);
  if (info.error !== undefined) throw bodyFailure(info.error, info.bytes, undefined);
  return filePath;
}

/** koa-send's search: the path, its extensions, a directory's index (with a `/`, or with `format`). */
function locate(files: OpenFiles, settings: KoaSettings, target: RequestPath): Found {
  if (!target.ok) return { kind: 'miss', status: target.status };
  if (target.dotfile && settings.dotfiles !== 'allow') return { kind: 'miss', status: settings.dotfiles === 'deny' ? 403 : 404 };
  const fsPath = fileUnder(settings.root, target.segments);
  const indexes = settings.index === undefined ? [] : [settings.index];
  if (target.trailingSlash) return findIndex(files, fsPath, indexes);
  const found = findFile(files, fsPath, settings.extensions);
  if (found.kind !== 'directory') return found;
  return settings.format ? findIndex(files, fsPath, indexes) : { kind: 'miss', status: 404 };
}

/** Writes the found file to `ctx.res`, as Koa would have, and resolves when it is sent. */
async function respond(ctx: KoaContext, files: OpenFiles, settings: KoaSettings, found: Found): Promise<ServedInfo> {
  if (found.kind !== 'file') throw httpError(found.kind === 'miss' ? found.status : 404);
  const { req, res } = ctx;
  const original = found.file;
  const offered = settings.encodings.length > 0 && settings.encodings;
  const { file, encoding, release } = representation(files, original, req.headers['accept-encoding'], offered);
  let info: ServedInfo;
  try {
    // Koa starts every response at 404; a status the app did not set is not a custom page.
    if (!(ctx.response as { _explicitStatus?: boolean })._explicitStatus) res.statusCode = 200;
    const request: FileRequest = {
      file,
      typeFrom: original,
      encoding,
      varies: settings.encodings.length > 0,
      disposition: disposition(settings, original.path),
    };
    const plan = planResponse(req, res, request, settings);
    ctx.respond = false;
    info =
      plan.kind === 'refused'
        ? { status: plan.status, bytes: sendError(req, res, plan.status, plan.headers), method: 'none', path: file.path }
        : await sendPlanned(req, res, plan, file, settings);
  } catch (error) {
    release();
    throw error;
  }
  if (endedEarly(info)) files.invalidate(file);
  release();
  return info;
}

function disposition(settings: KoaSettings, filePath: string): string | undefined {
  if (settings.download === false) return undefined;
  return contentDisposition(settings.download === true ? path.basename(filePath) : settings.download);
}

function koaSettings(o: Record<string, unknown>): KoaSettings {
  const root = o.root ?? '';
  if (typeof root !== 'string') throw invalidArgType('options.root', 'a path string', root);
  const index = o.index;
  if (index !== undefined && index !== false && (typeof index !== 'string' || index === '')) {
    throw invalidArgType('options.index', 'a file name or false', index);
  }
  const hidden = booleanOption(o, 'hidden');
  if (hidden !== undefined && o.dotfiles !== undefined) {
    throw new ZerosendError(codes.invalidArgValue, "Give either 'options.hidden' (koa-send's name) or 'options.dotfiles', not both");
  }
  const download = o.download ?? false;
  if (typeof download !== 'boolean' && typeof download !== 'string') throw invalidArgType('options.download', 'a boolean or a file name', download);
  const brotli = booleanOption(o, 'brotli') ?? true;
  const gzip = booleanOption(o, 'gzip') ?? true;
  return {
    ...parseResponseOptions(o, { dotfiles: hidden ? 'allow' : 'ignore' }),
    root: path.resolve(root),
    index: typeof index === 'string' ? index : undefined,
    format: booleanOption(o, 'format') ?? true,
    extensions: stringList(o, 'extensions', []).map((extension) => extension.replace(/^\./, '')),
    encodings: [...(brotli ? (['br'] as const) : []), ...(gzip ? (['gzip'] as const) : [])],
    download,
    followSymlinks: booleanOption(o, 'followSymlinks') ?? false,
    defer: booleanOption(o, 'defer') ?? false,
  };
}
