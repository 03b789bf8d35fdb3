/**
 * `serveStatic(root, options)`: a connect/Express middleware serving files from `root` — serve-static
 * as a drop-in, with the body sent by `transfer()` (sendfile or whatever `auto` picks) and the
 * headers in the same packets.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';

import type { Encoding } from './accept-encoding';
import { DirectoryListing } from './directory-listing';
import { endedEarly, planResponse, sendPlanned, type ServedInfo } from './file-response';
import { findFile, findIndex, representation, type Found } from './find-file';
import { httpError } from './http-error';
import { OpenFiles, type OpenFile } from './open-files';
import { sendDirectoryRedirect, sendError, sendMethodNotAllowed } from './plain-response';
import { parseRequestPath } from './request-path';
import { resolveSettings, type ServeStaticOptions, type StaticSettings } from './static-options';

export type { ServeStaticOptions } from './static-options';
export type { BodyMethod, ServedInfo } from './file-response';

/** `next` as connect and Express call it. */
export type NextFunction = (error?: unknown) => void;

/** The middleware; `close()` closes the descriptors its open-file cache holds. */
export interface StaticMiddleware {
  (req: IncomingMessage, res: ServerResponse, next?: NextFunction): void;
  /** Closes cached descriptors (those in use close when their transfer ends). Optional: the cache
   * never keeps the process alive, and closes idle entries by itself. */
  close(): void;
}

/**
 * A connect/Express middleware serving the files under `root` for GET and HEAD, with ranges,
 * conditional requests, ETag/Last-Modified and optional precompressed variants. Options and
 * behaviour follow serve-static: misses call `next()` (with `fallthrough: false`, `next(err)` with
 * an http-errors error); without `next` it answers them itself. Nothing outside `root` is ever
 * served.
 *
 * @example
 * app.use('/static', serveStatic('./public', { maxAge: '1d', extensions: ['html'] }))
 * http.createServer(serveStatic('./public', { fallthrough: false })).listen(8080)
 */
export function serveStatic(root: string, options?: ServeStaticOptions): StaticMiddleware {
  const settings = resolveSettings(root, options);
  const files = new OpenFiles(settings.root, settings.cacheMax, settings.cacheIdleMs, !settings.followSymlinks);
  const handler = new StaticHandler(settings, files);
  const middleware = ((req: IncomingMessage, res: ServerResponse, next?: NextFunction) => {
    try {
      handler.handle(req, res, next);
    } catch (error) {
      // An unexpected file system error (EMFILE, EIO...), or a throwing setHeaders: nothing is
      // sent yet (onServed's errors never arrive here), so Express shows it, plain http gets a 500.
      if (next) next(error);
      else handler.answer(req, res, 500);
    }
  }) as StaticMiddleware;
  middleware.close = () => files.close();
  return middleware;
}

class StaticHandler {
  /** The root with one trailing separator. */
  private readonly rootPrefix: string;
  private readonly listing: DirectoryListing | undefined;

  constructor(
    private readonly settings: StaticSettings,
    private readonly files: OpenFiles,
  ) {
    this.rootPrefix = settings.root.endsWith(path.sep) ? settings.root : settings.root + path.sep;
    this.listing = settings.listing ? new DirectoryListing(settings) : undefined;
  }

  handle(req: IncomingMessage, res: ServerResponse, next: NextFunction | undefined): void {
    const { settings } = this;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (settings.fallthrough && next) return next();
      this.served(req, res, { status: 405, bytes: sendMethodNotAllowed(res), method: 'none' });
      return;
    }
    const target = parseRequestPath(req.url);
    if (!target.ok) return this.miss(req, res, next, target.status);
    if (target.dotfile && settings.dotfiles !== 'allow') {
      return this.miss(req, res, next, settings.dotfiles === 'deny' ? 403 : 404);
    }
    const fsPath = target.segments.length === 0 ? settings.root : this.rootPrefix + target.segments.join(path.sep);
    // Mounted by a router (`app.use('/static', …)`), `/static` arrives as `/`: the slash is not the
    // client's, so a directory there is redirected to `/static/` and a file root is served.
    const trailingSlash = target.trailingSlash && !(target.segments.length === 0 && mountedWithoutSlash(req));

    const found = findFile(this.files, fsPath, trailingSlash ? NO_EXTENSIONS : settings.extensions);
    switch (found.kind) {
      case 'miss':
        return this.miss(req, res, next, found.status, found.code, fsPath);
      case 'directory': {
        if (!trailingSlash) {
          if (!settings.redirect) return this.miss(req, res, next, 404);
          this.served(req, res, { status: 301, bytes: sendDirectoryRedirect(req, res), method: 'none' });
          return;
        }
        const index = findIndex(this.files, fsPath, settings.index);
        if (this.listing && index.kind === 'miss' && index.status === 404) return this.list(this.listing, req, res, next, fsPath, target.segments);
        return this.serveFound(req, res, next, index, fsPath);
      }
      case 'file':
        if (trailingSlash) {
          this.files.release(found.file);
          return this.miss(req, res, next, 404, 'ENOTDIR', fsPath);
        }
        return this.serveFile(req, res, next, found.file);
    }
  }

  private serveFound(req: IncomingMessage, res: ServerResponse, next: NextFunction | undefined, found: Found, fsPath: string): void {
    if (found.kind === 'file') return this.serveFile(req, res, next, found.file);
    if (found.kind === 'miss') return this.miss(req, res, next, found.status, found.code, found.path ?? fsPath);
    this.miss(req, res, next, 404);
  }

  /** A directory with no index file, `listing` on. */
  private list(listing: DirectoryListing, req: IncomingMessage, res: ServerResponse, next: NextFunction | undefined, fsPath: string, segments: string[]): void {
    const outcome = listing.send(req, res, fsPath, segments);
    if (outcome.kind === 'refused') return this.miss(req, res, next, outcome.status, outcome.code, fsPath);
    this.served(req, res, outcome.info);
  }

  private serveFile(req: IncomingMessage, res: ServerResponse, next: NextFunction | undefined, original: OpenFile): void {
    const { file, encoding, release } = representation(this.files, original, req.headers['accept-encoding'], this.settings.precompressed);
    try {
      this.respond(req, res, next, file, original, encoding, release);
    } catch (error) {
      // A throwing setHeaders, say: nothing was sent, and the file must not stay held.
      release();
      throw error;
    }
  }

  private respond(
    req: IncomingMessage,
    res: ServerResponse,
    next: NextFunction | undefined,
    file: OpenFile,
    original: OpenFile,
    encoding: Encoding | undefined,
    release: () => void,
  ): void {
    const { settings } = this;
    const plan = planResponse(req, res, { file, typeFrom: original, encoding, varies: settings.precompressed }, settings);
    if (plan.kind === 'refused') {
      release();
      // As serve-static: once the file is found, its errors go to the app's error handler.
      if (next) return next(httpError(plan.status, undefined, plan.headers));
      const bytes = sendError(req, res, plan.status, plan.headers);
      this.served(req, res, { status: plan.status, bytes, method: 'none', path: file.path });
      return;
    }
    const sent = sendPlanned(req, res, plan, file, settings);
    if (!(sent instanceof Promise)) {
      release();
      this.served(req, res, sent);
      return;
    }
    void sent.then((info) => {
      if (endedEarly(info)) this.files.invalidate(file);
      release();
      this.served(req, res, info);
    });
  }

  /**
   * A request this middleware cannot answer with a file. As serve-static: with `fallthrough`,
   * `next()` (the next middleware may have it); without, `next(err)`; with no `next`, an answer.
   */
  private miss(
    req: IncomingMessage,
    res: ServerResponse,
    next: NextFunction | undefined,
    status: 400 | 403 | 404,
    code?: string,
    fsPath?: string,
  ): void {
    if (next) return next(this.settings.fallthrough ? undefined : httpError(status, code === undefined ? undefined : { code, path: fsPath }));
    this.answer(req, res, status);
  }

  /** Answers with a generated status page. */
  answer(req: IncomingMessage, res: ServerResponse, status: number): void {
    this.served(req, res, { status, bytes: sendError(req, res, status), method: 'none' });
  }

  /**
   * Reports an answered request. The answer is out, so an `onServed` that throws can change
   * nothing about it: its error becomes a process warning, never a second answer on the same
   * response, nor an unhandled rejection (a body sent asynchronously reports from a promise).
   */
  private served(req: IncomingMessage, res: ServerResponse, info: ServedInfo): void {
    const { onServed } = this.settings;
    if (onServed === undefined) return;
    try {
      onServed(req, res, info);
    } catch (error) {
      process.emitWarning(`serveStatic: onServed threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, {
        code: 'ZEROSEND_ON_SERVED',
      });
    }
  }
}

const NO_EXTENSIONS: readonly string[] = [];

/** serve-static's rule: `req.url` is `/` but the URL the client sent does not end in `/`. */
function mountedWithoutSlash(req: IncomingMessage): boolean {
  const original = (req as { originalUrl?: string }).originalUrl;
  if (original === undefined || original === req.url) return false;
  const end = original.search(/[?#]/);
  return !(end === -1 ? original : original.slice(0, end)).endsWith('/');
}
