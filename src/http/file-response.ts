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
  /** Send `length` bytes from `offset` with `status` (headers are set, `Content-Length` included). */
  | { kind: 'body'; status: number; offset: number; length: number }
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
  const { status, offset, length } = plan;
  if (req.method === 'HEAD' || length === 0) {
    res.end();
    return { status, bytes: 0, method: 'none', path: file.path };
  }
  // An explicit method is a request for that method; `auto` answers a small file from memory when
  // the response has its connection (a pipelined one still queued behind another takes the path
  // that reports whether its bytes ever left).
  const content = settings.method === 'auto' && res.socket !== null ? smallFileContent(file) : undefined;
  if (content !== undefined) {
    res.end(length === content.length ? content : content.subarray(offset, offset + length));
    return { status, bytes: length, method: 'memory', path: file.path };
  }
  return sendFileBody(res, file.fd, offset, length, settings.method, signal).then((outcome) => ({ status, path: file.path, ...outcome }));
}

/** send's defaults, each only where nothing set it already; then type, disposition, encoding. */
function setDefaultHeaders(res: ServerResponse, request: FileRequest, settings: ResponseSettings): void {
  const { file, typeFrom } = request;
  if (settings.acceptRanges && !res.hasHeader('Accept-Ranges')) res.setHeader('Accept-Ranges', 'bytes');
  if (settings.cacheControl !== undefined && !res.hasHeader('Cache-Control')) res.setHeader('Cache-Control', settings.cacheControl);
  if (settings.lastModified && !res.hasHeader('Last-Modified')) {
    file.lastModified ??= lastModifiedOf(file.stat);
    res.setHeader('Last-Modified', file.lastModified);
  }
  if (settings.etag && !res.hasHeader('ETag')) {
    // The cached tag was made with the kind of the first door that served this file.
    if (file.etag === undefined || isWeak(file.etag) !== (settings.etag === 'weak')) file.etag = entityTag(file.stat, settings.etag);
    res.setHeader('ETag', file.etag);
  }
  if (request.contentType !== undefined) res.setHeader('Content-Type', request.contentType);
  else if (!res.hasHeader('Content-Type')) {
    typeFrom.contentType ??= contentTypeOf(typeFrom.path);
    res.setHeader('Content-Type', typeFrom.contentType);
  }
  if (request.disposition !== undefined) res.setHeader('Content-Disposition', request.disposition);
  if (request.varies) addVary(res, 'Accept-Encoding');
  if (request.encoding) res.setHeader('Content-Encoding', request.encoding.name);
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
