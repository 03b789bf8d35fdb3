/**
 * `sendFile(req, res, path, options)`: one request answered with one file — a download behind a
 * login, a generated report, a video with `Range` — through the same engine as `serveStatic`, so
 * the body goes out zero-copy. The door Express's `res.sendFile`/`res.download`, Fastify's
 * `reply.sendFile` and Koa's `send` lead to.
 */
import type { IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';
import * as path from 'node:path';

import { create as contentDisposition } from 'content-disposition';

import { AbortError, codes, describe, invalidArgType, ZerosendError } from '../errors';
import { endedEarly, planResponse, sendPlanned, type Plan, type ServedInfo } from './file-response';
import { findFile, findIndex } from './find-file';
import { httpError, type HttpError } from './http-error';
import { sharedOpenFiles, type OpenFiles } from './open-files';
import { sendError } from './plain-response';
import { fileSystemRoot, fileUnder, parseAppPath } from './request-path';
import { booleanOption, optionsObject, parseResponseOptions, stringList, type ResponseOptions, type ResponseSettings } from './response-options';

export interface SendFileOptions extends ResponseOptions {
  /**
   * The folder `path` is inside: `path` is then URL-style (`/` separated) and `..` can never climb
   * out of it (403); a symlink that leads out of it is refused unless `followSymlinks`. Without a
   * root, `path` must be absolute.
   */
  root?: string;
  /**
   * `Content-Disposition: attachment`, with the file's name, or this name (RFC 6266: an ASCII
   * `filename="…"` and `filename*=UTF-8''…` when the name needs it).
   */
  download?: boolean | string;
  /** The `Content-Type`; wins over everything. Default: a type already set on `res`, else by extension. */
  contentType?: string;
  /** Headers to send; they win over the defaults (and over what `res` had). */
  headers?: Readonly<Record<string, string | number | readonly string[]>>;
  /** With `root`: follow symlinks that resolve outside it. Default false (403). */
  followSymlinks?: boolean;
  /**
   * For a `path` ending in `/` that names a directory: the index file(s) to answer with, the first
   * that is a file (as send: `res.sendFile('docs/')` serves `docs/index.html`). Default
   * `'index.html'`; `false` for none. A directory named without its `/` is a 404 (`EISDIR`).
   */
  index?: string | string[] | false;
  /** Aborting stops the body (the connection is closed) or, before it starts, rejects at once. */
  signal?: AbortSignal;
}

export interface SendFileResult {
  /** The status sent: 200, 206, 304, 412, 416, or the status the app had set. */
  status: number;
  /** Body bytes that reached the client (0 for HEAD, 304 and the like). */
  bytes: number;
  /** What moved the body: `sendfile`, `splice`, `mmap`, `copy`, `stream`, `memory` (a small file), or `none`. */
  method: ServedInfo['method'];
}

/** `sendFile`'s options, validated; what the framework adapters build too. */
export interface OneFileSettings extends ResponseSettings {
  root: string | undefined;
  download: boolean | string;
  contentType: string | undefined;
  headers: Record<string, OutgoingHttpHeader> | undefined;
  followSymlinks: boolean;
  /** Index files for a directory named with its trailing `/`; empty for none. */
  index: readonly string[];
  signal: AbortSignal | undefined;
}

/**
 * Answers `req` with the file at `path` (inside `options.root`, or absolute): 200, 206/416 for
 * `Range`, 304/412 for conditional requests, no body for HEAD. Headers set on `res` before the
 * call go out (a `Cache-Control` or `Content-Type` set there wins over the defaults), and a status
 * other than 200 set there is kept (a custom 404 page). Works on Express's `res`.
 *
 * Resolves once the whole response is handed to the kernel. Rejects *before anything is written*
 * (`res.headersSent` still false: the app may still answer) with an error whose `status` and
 * `statusCode` are 404 (missing, not a file, ignored dotfile), 403 (denied dotfile, outside the
 * root, not readable) or 400 (a NUL in the path), `code` keeping the errno where there is one.
 * Rejects *after* the headers went out (client gone, file truncated) with the error's `code` and
 * `bytes` (body bytes sent); the connection is then closed.
 *
 * @example
 * app.get('/reports/:id', async (req, res, next) => {
 *   await sendFile(req, res, `${req.params.id}.pdf`, { root: './reports', download: true }).catch(next);
 * });
 */
export async function sendFile(req: IncomingMessage, res: ServerResponse, path: string, options?: SendFileOptions): Promise<SendFileResult> {
  checkExchange(req, res);
  if (typeof path !== 'string' || path === '') throw invalidArgType('path', 'a non-empty string', path);
  const settings = parseSendFileOptions(optionsObject(options));
  if (settings.signal?.aborted) throw new AbortError(0, settings.signal.reason);
  const answer = answerWithFile(req, res, path, settings);
  if (answer instanceof Error) throw answer;
  const { status, bytes, method, error } = await answer;
  if (error !== undefined) throw bodyFailure(error, bytes, settings.signal);
  return { status, bytes, method };
}

/** Validates `sendFile`'s options (also the per-call options of the framework adapters). */
export function parseSendFileOptions(o: Record<string, unknown>, defaults: Partial<OneFileSettings> = {}): OneFileSettings {
  const root = o.root ?? defaults.root;
  if (root !== undefined && (typeof root !== 'string' || root === '')) throw invalidArgType('options.root', 'a non-empty string', root);
  const download = o.download ?? false;
  if (typeof download !== 'boolean' && typeof download !== 'string') throw invalidArgType('options.download', 'a boolean or a file name', download);
  if (o.contentType !== undefined && typeof o.contentType !== 'string') throw invalidArgType('options.contentType', 'of type string', o.contentType);
  const headers = o.headers === undefined ? undefined : optionsObject(o.headers, 'options.headers');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', o.signal);
  return {
    ...parseResponseOptions(o, defaults),
    root: root === undefined ? undefined : resolvedRoot(root),
    download,
    contentType: o.contentType as string | undefined,
    headers: headers as Record<string, OutgoingHttpHeader> | undefined,
    followSymlinks: booleanOption(o, 'followSymlinks') ?? defaults.followSymlinks ?? false,
    index: stringList(o, 'index', [...(defaults.index ?? DEFAULT_INDEX)]),
    signal: o.signal as AbortSignal | undefined,
  };
}

/**
 * The engine's single-file door: an `HttpError` when the file cannot be sent (nothing was written,
 * so the caller decides: reject, `callNotFound()`, throw to Koa), else what was sent — or, while a
 * body is still on its way, a promise of it. A failed precondition or range (412/416) is answered
 * here, as a response — unless `refusalsAnswered` is false: then it comes back as an error too
 * (Fastify's error handler answers those of its serving route, and of `reply.sendFile()` alike).
 */
export function answerWithFile(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  settings: OneFileSettings,
  refusalsAnswered = true,
): HttpError | ServedInfo | Promise<ServedInfo> {
  const target = parseAppPath(name, settings.root);
  if (target === null) {
    throw new ZerosendError(codes.invalidArgValue, `The "path" argument must be absolute, or options.root must be given. ${describe(name)}`);
  }
  if (!target.ok) return httpError(target.status);
  if (target.dotfile && settings.dotfiles !== 'allow') return httpError(settings.dotfiles === 'deny' ? 403 : 404);
  const files = filesFor(settings);
  const fsPath = fileUnder(settings.root ?? fileSystemRoot(name), target.segments);
  const found = findFile(files, fsPath, NO_EXTENSIONS);
  if (found.kind === 'miss') return httpError(found.status, found.code === undefined ? undefined : { code: found.code, path: fsPath });
  if (found.kind === 'directory' && !(target.trailingSlash && settings.index.length > 0)) {
    // send's answer to a directory named without its `/`, or with no index to serve. The adapters
    // read the code: @fastify/static's reply.sendFile redirects or tries the `/` form.
    return httpError(404, { code: 'EISDIR', syscall: 'read', path: fsPath });
  }
  if (found.kind === 'file' && target.trailingSlash) {
    files.release(found.file);
    return httpError(404, { code: 'ENOTDIR', path: fsPath });
  }
  const indexed = found.kind === 'directory' ? findIndex(files, fsPath, settings.index) : found;
  if (indexed.kind !== 'file') {
    const miss = indexed.kind === 'miss' && indexed.code !== undefined ? { code: indexed.code, path: indexed.path } : undefined;
    return httpError(indexed.kind === 'miss' ? indexed.status : 404, miss);
  }
  const { file } = indexed;
  // Until the plan is carried out, an error gives the file back; after, `done` does.
  let outcome: Refused | ServedInfo | Promise<ServedInfo>;
  try {
    if (res.headersSent) throw headersSent();
    const download = settings.download;
    const plan = planResponse(
      req,
      res,
      {
        file,
        typeFrom: file,
        headers: settings.headers,
        contentType: settings.contentType,
        disposition: download === false ? undefined : contentDisposition(download === true ? path.basename(fsPath) : download),
      },
      settings,
    );
    outcome = plan.kind === 'refused' ? plan : sendPlanned(req, res, plan, file, settings, settings.signal);
  } catch (error) {
    files.release(file);
    throw error;
  }
  const done = (info: ServedInfo): ServedInfo => {
    if (endedEarly(info)) files.invalidate(file);
    files.release(file);
    return info;
  };
  if (outcome instanceof Promise) return outcome.then(done);
  if (!('kind' in outcome)) return done(outcome);
  files.release(file);
  if (!refusalsAnswered) return httpError(outcome.status, undefined, outcome.headers);
  return { status: outcome.status, bytes: sendError(req, res, outcome.status, outcome.headers), method: 'none', path: file.path };
}

type Refused = Extract<Plan, { kind: 'refused' }>;

function filesFor(settings: OneFileSettings): OpenFiles {
  const confine = settings.root !== undefined && !settings.followSymlinks;
  return sharedOpenFiles(settings.root ?? '/', confine);
}

/** Refuses, up front, what is not an HTTP exchange: a mistake in the app, not the client's. */
export function checkExchange(req: IncomingMessage, res: ServerResponse): void {
  if (typeof req !== 'object' || req === null || typeof req.headers !== 'object' || typeof req.method !== 'string') {
    throw invalidArgType('req', 'an http.IncomingMessage', req);
  }
  if (typeof res !== 'object' || res === null || typeof res.setHeader !== 'function' || typeof res.end !== 'function') {
    throw invalidArgType('res', 'an http.ServerResponse', res);
  }
  if (res.headersSent) throw headersSent();
}

const headersSent = (): ZerosendError =>
  new ZerosendError('ERR_HTTP_HEADERS_SENT', 'Cannot send a file: the response headers were already sent');

/** The error of a body that did not arrive whole: the client went away, the file was truncated, an abort. */
export function bodyFailure(code: string, bytes: number, signal: AbortSignal | undefined): Error {
  if (code === 'ABORT_ERR') return new AbortError(bytes, signal?.reason);
  const messages: Record<string, string> = {
    [codes.shortFile]: 'the file ended before its length (truncated while it was being sent?); the connection was closed',
    [codes.socketClosed]: 'the connection closed before the whole file was sent',
  };
  return new ZerosendError(code, messages[code] ?? `${code}: the file could not be sent whole; the connection was closed`, { bytes });
}

const NO_EXTENSIONS: readonly string[] = [];
/** send's default index. */
const DEFAULT_INDEX: readonly string[] = ['index.html'];

/** Absolute roots, as `path.resolve` gives them: an app passes the same few on every call. */
const resolvedRoots = new Map<string, string>();

function resolvedRoot(root: string): string {
  // A relative root depends on the working directory, which may change: resolved every time.
  if (!path.isAbsolute(root)) return path.resolve(root);
  let resolved = resolvedRoots.get(root);
  if (resolved === undefined) {
    resolved = path.resolve(root);
    if (resolvedRoots.size < 256) resolvedRoots.set(root, resolved);
  }
  return resolved;
}
