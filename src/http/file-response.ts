/**
 * The one response engine behind every HTTP door (serveStatic, sendFile, the Fastify and Koa
 * adapters): given an open file, it sets the representation headers, evaluates the conditional
 * and range headers, and sends the body — zero-copy, or, for a small file, from the open-file
 * cache's copy in one write with the headers — the same way for all of them. How a path
 * becomes a file, and what a miss does, is each door's business; this file never looks up a path.
 *
 * Two steps, so a door can act on a refusal before anything is written: `planResponse` sets
 * headers on `res` and decides (body, 304, or a 412/416 refusal), `sendPlanned` carries it out.
 */
import type { IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';

import { codes } from '../errors';
import type { Encoding } from './accept-encoding';
import { parseByteRange } from './byte-range';
import { evaluatePreconditions, rangeStillValid } from './conditional';
import { smallFileContent, type OpenFile } from './open-files';
import { sendNotModified } from './plain-response';
import { contentTypeOf, entityTag, lastModifiedOf } from './representation';
import type { ResponseSettings } from './response-options';
import { sendFileBody, type BodyMethod } from './response-body';

export type { BodyMethod } from './response-body';

/** What a door did with one request. */
export interface ServedInfo {
  /** The status code sent. */
  status: number;
  /** Body bytes that reached the client (headers not included). */
  bytes: number;
  /** What moved the body: `sendfile`, `splice`, `mmap`, `copy`, `stream`, `memory` (a small file,
   * headers and body in one write), or `none`. */
  method: BodyMethod;
  /** The file served, when there was one. */
  path?: string;
  /** Set when the body did not arrive whole (client went away, file truncated...): an error code. */
  error?: string;
}

/** One request's file and what it adds to the door's settings. */
export interface FileRequest {
  /** The file to send (a precompressed variant, when `encoding` is set). */
  file: OpenFile;
  /** The name whose extension gives the `Content-Type` (the file asked for, not its `.br`). */
  typeFrom: OpenFile;
  /** The precompressed variant being served. */
  encoding?: Encoding;
  /** The door negotiates precompressed variants: the answer varies on `Accept-Encoding`. */
  varies?: boolean;
  /** Headers to set first (sendFile's `headers`): they win over the defaults. */
  headers?: Readonly<Record<string, OutgoingHttpHeader>>;
  /** Wins over every other source of `Content-Type`. */
  contentType?: string;
  /** A `Content-Disposition` value (downloads). */
  disposition?: string;
}

export type Plan =
  /**
   * Send `length` bytes from `offset` with `status`. The headers are set on `res`, `Content-Length`
   * included — or, with `headers`, not yet: a plain whole file's, to be written by `sendPlanned`.
   */
  | { kind: 'body'; status: number; offset: number; length: number; headers?: PlainHeaders }
  /** 304: the client's copy is current. */
  | { kind: 'not-modified' }
  /** A precondition failed (412) or no requested range can be satisfied (416): nothing sent yet. */
  | { kind: 'refused'; status: 412 | 416; headers?: Record<string, string> };

/**
 * Sets the headers of `request.file` on `res` and decides how to answer; writes nothing.
 *
 * Headers already on `res` win over the defaults (a `Cache-Control` or `Content-Type` the app set).
 * A status other than 200 already on `res` (an app answering 404 with a custom page) is kept:
 * no 304, 412 or 206 is made from it, and the whole file is the body (RFC 9110 §13.2.1: a
 * response that would not be 2xx ignores preconditions; ranges apply to a 200).
 */
export function planResponse(req: IncomingMessage, res: ServerResponse, request: FileRequest, settings: ResponseSettings): Plan {
  const { file } = request;
  const { stat } = file;
  if (settings.ownsResponse && isPlainWholeFile(req, res, request, settings)) {
    return { kind: 'body', status: 200, offset: 0, length: stat.size, headers: plainHeaders(request, settings) };
  }
  settings.setHeaders?.(res, file.path, stat);
  if (request.headers) for (const name in request.headers) res.setHeader(name, request.headers[name]!);
  setDefaultHeaders(res, request, settings);

  const size = stat.size;
  const preset = res.statusCode;
  if (preset !== 200) return bodyPlan(res, preset, 0, size);

  const validators = { etag: headerString(res, 'ETag'), lastModified: headerString(res, 'Last-Modified') };
  const precondition = evaluatePreconditions(req.headers, validators);
  if (precondition === 412) return { kind: 'refused', status: 412 };
  if (precondition === 304) return { kind: 'not-modified' };

  const ranged =
    settings.acceptRanges &&
    req.headers.range !== undefined &&
    rangeStillValid(headerValue(req.headers['if-range']), validators);
  const range = ranged ? parseByteRange(req.headers.range, size) : WHOLE;
  if (range.kind === 'unsatisfiable') {
    return { kind: 'refused', status: 416, headers: { 'Content-Range': `bytes */${size}` } };
  }
  if (range.kind === 'partial') {
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    return bodyPlan(res, 206, range.start, range.end - range.start + 1);
  }
  return bodyPlan(res, 200, 0, size);
}

/**
 * Answers as planned (a `refused` plan is the door's to answer). HEAD and empty bodies end at once;
 * a body goes through `transfer()` and resolves when it is handed to the kernel. Never rejects:
 * a body that could not be sent whole (or was aborted by `signal`) closes the connection and says
 * so in `error`.
 */
export function sendPlanned(
  req: IncomingMessage,
  res: ServerResponse,
  plan: Exclude<Plan, { kind: 'refused' }>,
  file: OpenFile,
  settings: ResponseSettings,
  signal?: AbortSignal,
): ServedInfo | Promise<ServedInfo> {
  if (plan.kind === 'not-modified') return { status: 304, bytes: sendNotModified(res), method: 'none', path: file.path };
  const { status, offset, length, headers } = plan;
  if (req.method === 'HEAD' || length === 0) {
    if (headers !== undefined) setAll(res, headers);
    res.end();
    return { status, bytes: 0, method: 'none', path: file.path };
  }
  // An explicit method is a request for that method; `auto` answers a small file from memory when
  // the response has its connection (a pipelined one still queued behind another takes the path
  // that reports whether its bytes ever left).
  const content = settings.method === 'auto' && res.socket !== null ? smallFileContent(file) : undefined;
  if (content !== undefined) {
    // A plain whole file's headers and body go out as a server answering from memory sends them.
    if (headers !== undefined) res.writeHead(status, headers);
    res.end(length === content.length ? content : content.subarray(offset, offset + length));
    return { status, bytes: length, method: 'memory', path: file.path };
  }
  if (headers !== undefined) setAll(res, headers);
  return sendFileBody(res, file.fd, offset, length, settings.method, signal).then((outcome) => ({ status, path: file.path, ...outcome }));
}

/** send's defaults, each only where nothing set it already; then type, disposition, encoding. */
function setDefaultHeaders(res: ServerResponse, request: FileRequest, settings: ResponseSettings): void {
  const { file, typeFrom } = request;
  if (settings.acceptRanges && !res.hasHeader('Accept-Ranges')) res.setHeader('Accept-Ranges', 'bytes');
  if (settings.cacheControl !== undefined && !res.hasHeader('Cache-Control')) res.setHeader('Cache-Control', settings.cacheControl);
  if (settings.lastModified && !res.hasHeader('Last-Modified')) res.setHeader('Last-Modified', lastModifiedHeader(file));
  if (settings.etag && !res.hasHeader('ETag')) res.setHeader('ETag', etagHeader(file, settings.etag));
  if (request.contentType !== undefined) res.setHeader('Content-Type', request.contentType);
  else if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', contentTypeHeader(typeFrom));
  if (request.disposition !== undefined) res.setHeader('Content-Disposition', request.disposition);
  if (request.varies) addVary(res, 'Accept-Encoding');
  if (request.encoding) res.setHeader('Content-Encoding', request.encoding.name);
}

type PlainHeaders = Readonly<Record<string, string | number>>;

/**
 * Whether nothing can make this answer other than "200, the whole file, the default headers":
 * no hook or header of the door's, no status or header already on `res`, no precondition or range
 * in the request. Such an answer's headers are the same for every request of the same file version
 * through the same door — what `plainHeaders` caches. (On this path, the one most requests take,
 * setting six headers one by one on `res` cost more than the rest of the response together:
 * README, *Against the node:http floor*.)
 */
function isPlainWholeFile(req: IncomingMessage, res: ServerResponse, request: FileRequest, settings: ResponseSettings): boolean {
  const asked = req.headers;
  return (
    settings.setHeaders === undefined &&
    request.headers === undefined &&
    request.contentType === undefined &&
    request.disposition === undefined &&
    request.encoding === undefined &&
    !request.varies &&
    res.statusCode === 200 &&
    asked.range === undefined &&
    asked['if-match'] === undefined &&
    asked['if-none-match'] === undefined &&
    asked['if-modified-since'] === undefined &&
    asked['if-unmodified-since'] === undefined &&
    res.getHeaderNames().length === 0
  );
}

/** The headers `setDefaultHeaders` and `bodyPlan` set on an empty `res` for a whole file, in their order. */
function plainHeaders(request: FileRequest, settings: ResponseSettings): PlainHeaders {
  const { file } = request;
  if (file.plainHeaders?.for === settings) return file.plainHeaders.headers;
  const headers: Record<string, string | number> = {};
  if (settings.acceptRanges) headers['Accept-Ranges'] = 'bytes';
  if (settings.cacheControl !== undefined) headers['Cache-Control'] = settings.cacheControl;
  if (settings.lastModified) headers['Last-Modified'] = lastModifiedHeader(file);
  if (settings.etag) headers.ETag = etagHeader(file, settings.etag);
  headers['Content-Type'] = contentTypeHeader(request.typeFrom);
  headers['Content-Length'] = file.stat.size;
  file.plainHeaders = { for: settings, headers };
  return headers;
}

/** A plain whole file's headers on `res`, for the ways out other than one write from memory. */
function setAll(res: ServerResponse, headers: PlainHeaders): void {
  for (const name in headers) res.setHeader(name, headers[name]!);
}

/** Header values derived from the file version, computed once per open file. */
function lastModifiedHeader(file: OpenFile): string {
  return (file.lastModified ??= lastModifiedOf(file.stat));
}

function etagHeader(file: OpenFile, kind: 'strong' | 'weak'): string {
  // The cached tag was made with the kind of the first door that served this file.
  if (file.etag === undefined || isWeak(file.etag) !== (kind === 'weak')) file.etag = entityTag(file.stat, kind);
  return file.etag;
}

function contentTypeHeader(typeFrom: OpenFile): string {
  return (typeFrom.contentType ??= contentTypeOf(typeFrom.path));
}

function bodyPlan(res: ServerResponse, status: number, offset: number, length: number): Plan {
  res.statusCode = status;
  res.setHeader('Content-Length', length);
  return { kind: 'body', status, offset, length };
}

/** Whether an outcome says the file ended early: the door's cache must forget that version. */
export const endedEarly = (info: ServedInfo): boolean => info.error === codes.shortFile;

/** Adds a field to `Vary`, keeping what other middleware put there (e.g. `Origin`). */
function addVary(res: ServerResponse, field: string): void {
  const current = res.getHeader('Vary');
  if (current === undefined) return void res.setHeader('Vary', field);
  const list = String(current);
  if (!list.split(',').some((item) => item.trim().toLowerCase() === field.toLowerCase() || item.trim() === '*')) {
    res.setHeader('Vary', `${list}, ${field}`);
  }
}

const WHOLE = { kind: 'whole' } as const;
const isWeak = (tag: string): boolean => tag.startsWith('W/');

function headerString(res: ServerResponse, name: string): string | undefined {
  const value = res.getHeader(name);
  return value === undefined ? undefined : String(value);
}

const headerValue = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(', ') : value;
