/**
 * `serveStatic(root, options)`: a connect/Express middleware serving files from `root`, the body
 * sent by `transfer()` (sendfile or whatever `auto` picks), headers in the same packets.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';

import { codes } from '../errors';
import { acceptedEncodings, type Encoding } from './accept-encoding';
import { parseByteRange } from './byte-range';
import { evaluatePreconditions, parseHttpDate, rangeStillValid } from './conditional';
import { OpenFiles, type OpenFile } from './open-files';
import { resolveSettings, type ServedInfo, type ServeStaticOptions, type StaticSettings } from './options';
import { sendDirectoryRedirect, sendNotModified, sendStatus } from './plain-response';
import { contentTypeOf, entityTag, lastModifiedMs } from './representation';
import { parseRequestPath } from './request-path';
import { sendFileBody } from './response-body';

export type { ServedInfo, ServeStaticOptions, BodyMethod } from './options';

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
 * conditional requests, ETag/Last-Modified and optional precompressed variants. Options follow
 * `serve-static`. Nothing outside `root` is ever served.
 *
 * @example
 * app.use(serveStatic('./public', { maxAge: '1d' }))
 * http.createServer(serveStatic('./public', { fallthrough: false })).listen(8080)
 */
export function serveStatic(root: string, options?: ServeStaticOptions): StaticMiddleware {
  const settings = resolveSettings(root, options);
  const files = new OpenFiles(settings.root, settings.cacheMax, settings.cacheIdleMs, !settings.followSymlinks);
  const server = new StaticHandler(settings, files);
  const middleware = ((req: IncomingMessage, res: ServerResponse, next?: NextFunction) => {
    try {
      server.handle(req, res, next);
    } catch (error) {
      // An unexpected file system error (EMFILE, EIO...): Express shows it, plain http gets a 500.
      if (next) next(error);
      else server.answer(req, res, 500);
    }
  }) as StaticMiddleware;
  middleware.close = () => files.close();
  return middleware;
}

class StaticHandler {
  /** The root with one trailing separator. */
  private readonly rootPrefix: string;

  constructor(
    private readonly settings: StaticSettings,
    private readonly files: OpenFiles,
  ) {
    this.rootPrefix = settings.root.endsWith(path.sep) ? settings.root : settings.root + path.sep;
  }

  handle(req: IncomingMessage, res: ServerResponse, next: NextFunction | undefined): void {
    const { settings } = this;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (settings.fallthrough && next) return next();
      this.answer(req, res, 405, { Allow: 'GET, HEAD' });
      return;
    }
    const target = parseRequestPath(req.url);
    if (!target.ok) return this.miss(req, res, next, target.status);
    if (target.dotfile && settings.dotfiles !== 'allow') {
      return this.miss(req, res, next, settings.dotfiles === 'deny' ? 403 : 404);
    }
    // The segments hold no `..`, `.` or empty names, so concatenating them is joining them.
    const fsPath = target.segments.length === 0 ? settings.root : this.rootPrefix + target.segments.join(path.sep);

    const found = this.files.lookup(fsPath);
    switch (found.kind) {
      case 'missing':
        return this.miss(req, res, next, 404);
      case 'forbidden':
        return this.miss(req, res, next, 403);
      case 'directory':
        if (!target.trailingSlash) {
          if (!settings.redirect) return this.miss(req, res, next, 404);
          this.served(req, res, { status: 301, bytes: sendDirectoryRedirect(req, res), method: 'none' });
          return;
        }
        return this.serveIndex(req, res, next, fsPath);
      case 'file':
        if (target.trailingSlash) {
          this.files.release(found.file);
          return this.miss(req, res, next, 404);
        }
        return this.serveFile(req, res, found.file);
    }
  }

  /** The first index file of the directory that exists. */
  private serveIndex(req: IncomingMessage, res: ServerResponse, next: NextFunction | undefined, directory: string): void {
    for (const name of this.settings.index) {
      const found = this.files.lookup(path.join(directory, name));
      if (found.kind === 'file') return this.serveFile(req, res, found.file);
      if (found.kind === 'forbidden') return this.miss(req, res, next, 403);
    }
    this.miss(req, res, next, 404);
  }

  private serveFile(req: IncomingMessage, res: ServerResponse, original: OpenFile): void {
    const { settings } = this;
    let file = original;
    let encoding: Encoding | undefined;
    if (settings.precompressed) {
      for (const candidate of acceptedEncodings(req.headers['accept-encoding'])) {
        const found = this.files.lookup(original.path + candidate.suffix);
        if (found.kind === 'file') {
          file = found.file;
          encoding = candidate;
          this.files.release(original);
          break;
        }
      }
    }
    // Exactly one release per lookup, whatever path the response takes (a throwing setHeaders or
    // onServed included): a second one could close a descriptor number already reused.
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.files.release(file);
    };
    try {
      this.respondWithFile(req, res, file, original, encoding, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  private respondWithFile(
    req: IncomingMessage,
    res: ServerResponse,
    file: OpenFile,
    original: OpenFile,
    encoding: Encoding | undefined,
    release: () => void,
  ): void {
    const { settings } = this;
    const { stat } = file;
    settings.setHeaders?.(res, file.path, stat);

    if (settings.acceptRanges && !res.hasHeader('Accept-Ranges')) res.setHeader('Accept-Ranges', 'bytes');
    if (settings.cacheControl !== undefined && !res.hasHeader('Cache-Control')) {
      res.setHeader('Cache-Control', settings.cacheControl);
    }
    let lastModified: number | undefined;
    if (settings.lastModified) {
      if (res.hasHeader('Last-Modified')) {
        lastModified = parseHttpDate(String(res.getHeader('Last-Modified')));
      } else {
        lastModified = lastModifiedMs(stat);
        file.lastModified ??= new Date(lastModified).toUTCString();
        res.setHeader('Last-Modified', file.lastModified);
      }
    }
    if (settings.etag && !res.hasHeader('ETag')) {
      file.etag ??= entityTag(stat, settings.etag);
      res.setHeader('ETag', file.etag);
    }
    if (!res.hasHeader('Content-Type')) {
      original.contentType ??= contentTypeOf(original.path);
      res.setHeader('Content-Type', original.contentType);
    }
    if (settings.precompressed) addVary(res, 'Accept-Encoding');
    if (encoding) res.setHeader('Content-Encoding', encoding.name);

    const etag = res.getHeader('ETag');
    const validators = { etag: typeof etag === 'string' ? etag : undefined, lastModified };
    const precondition = evaluatePreconditions(req.headers, validators);
    if (precondition !== 0) {
      release();
      const bytes = precondition === 304 ? sendNotModified(res) : sendStatus(req, res, 412);
      this.served(req, res, { status: precondition, bytes, method: 'none', path: file.path });
      return;
    }

    const size = stat.size;
    const range =
      settings.acceptRanges && req.headers.range !== undefined && rangeStillValid(headerValue(req.headers['if-range']), validators)
        ? parseByteRange(req.headers.range, size)
        : ({ kind: 'whole' } as const);
    if (range.kind === 'unsatisfiable') {
      release();
      const bytes = sendStatus(req, res, 416, { 'Content-Range': `bytes */${size}` });
      this.served(req, res, { status: 416, bytes, method: 'none', path: file.path });
      return;
    }
    let offset = 0;
    let length = size;
    res.statusCode = 200;
    if (range.kind === 'partial') {
      offset = range.start;
      length = range.end - range.start + 1;
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    }
    res.setHeader('Content-Length', length);

    if (req.method === 'HEAD' || length === 0) {
      release();
      res.end();
      this.served(req, res, { status: res.statusCode, bytes: 0, method: 'none', path: file.path });
      return;
    }
    const status = res.statusCode;
    void sendFileBody(res, file.fd, offset, length, this.settings.method).then((outcome) => {
      if (outcome.error === codes.shortFile) this.files.invalidate(file);
      release();
      this.served(req, res, { status, path: file.path, ...outcome });
    });
  }

  private miss(req: IncomingMessage, res: ServerResponse, next: NextFunction | undefined, status: number): void {
    if (this.settings.fallthrough && next) return next();
    this.answer(req, res, status);
  }

  /** Answers with a generated status response. */
  answer(req: IncomingMessage, res: ServerResponse, status: number, headers?: Record<string, string>): void {
    const bytes = sendStatus(req, res, status, headers);
    this.served(req, res, { status, bytes, method: 'none' });
  }

  private served(req: IncomingMessage, res: ServerResponse, info: ServedInfo): void {
    this.settings.onServed?.(req, res, info);
  }
}

/** Adds a field to `Vary`, keeping what other middleware put there (e.g. `Origin`). */
function addVary(res: ServerResponse, field: string): void {
  const current = res.getHeader('Vary');
  if (current === undefined) return void res.setHeader('Vary', field);
  const list = String(current);
  if (!list.split(',').some((item) => item.trim().toLowerCase() === field.toLowerCase() || item.trim() === '*')) {
    res.setHeader('Vary', `${list}, ${field}`);
  }
}

const headerValue = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(', ') : value;
