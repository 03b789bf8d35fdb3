/**
 * The small responses the HTTP doors generate themselves — error pages, 304, redirects, 405 — in
 * the form `send` and serve-static give them (a minimal HTML page with
 * `Content-Security-Policy: default-src 'none'` and `X-Content-Type-Options: nosniff`). They go
 * through Node's `ServerResponse` as usual (Node drops the body of HEAD responses).
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';

import encodeUrl from 'encodeurl';
import escapeHtml from 'escape-html';

/** Headers that describe a body; a 304 must not carry them (it describes the cached one). */
const BODY_HEADERS = ['content-length', 'content-type', 'content-encoding', 'content-range', 'content-language'];

/**
 * Headers that describe the file a door was about to send: an error page must not carry them (a
 * year-long `Cache-Control` on a 412 would be cached). `send` clears every header; headers that do
 * not describe a file (CORS, cookies) stay here, so that `--cors` reaches error pages too.
 */
const REPRESENTATION_HEADERS = [...BODY_HEADERS, 'content-disposition', 'etag', 'last-modified', 'accept-ranges', 'cache-control', 'vary'];

/**
 * Ends the response with `status` and send's small HTML page; returns the body bytes sent. The
 * representation headers are removed; `headers` are added (a 416's `Content-Range`).
 */
export function sendError(req: IncomingMessage, res: ServerResponse, status: number, headers?: Record<string, string>): number {
  if (res.headersSent) {
    // Too late to answer: whatever was started cannot be completed honestly.
    res.destroy();
    return 0;
  }
  clearRepresentation(res);
  const body = htmlDocument('Error', escapeHtml(STATUS_CODES[status] ?? String(status)));
  res.statusCode = status;
  if (headers) for (const name in headers) res.setHeader(name, headers[name]!);
  return endWithHtml(req, res, body);
}

/** Removes the headers that describe a file, before something else answers on `res`. */
export function clearRepresentation(res: ServerResponse): void {
  for (const name of REPRESENTATION_HEADERS) res.removeHeader(name);
}

/** 304 Not Modified: the validators and caching headers stay, the body headers go. */
export function sendNotModified(res: ServerResponse): number {
  for (const name of BODY_HEADERS) res.removeHeader(name);
  res.statusCode = 304;
  res.end();
  return 0;
}

/** 405 as serve-static answers it without `fallthrough`: `Allow`, and no body. */
export function sendMethodNotAllowed(res: ServerResponse): number {
  res.statusCode = 405;
  res.setHeader('Allow', 'GET, HEAD');
  res.setHeader('Content-Length', '0');
  res.end();
  return 0;
}

/**
 * 301 to the directory's URL with its trailing slash, as serve-static makes it: from
 * `req.originalUrl` when a router mounted the middleware (`app.use('/static', …)`), query kept,
 * leading slashes collapsed into one (so `//evil.example/` cannot become a protocol-relative URL),
 * and the result percent-encoded by `encodeurl`.
 */
export function sendDirectoryRedirect(req: IncomingMessage, res: ServerResponse): number {
  const location = directoryLocation(req);
  res.statusCode = 301;
  res.setHeader('Location', location);
  return endWithHtml(req, res, htmlDocument('Redirecting', `Redirecting to ${escapeHtml(location)}`));
}

/** Where a directory requested without its trailing slash lives: the URL the client sent, plus `/`. */
export function directoryLocation(req: IncomingMessage): string {
  const original = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const end = original.search(/[?#]/);
  const pathPart = end === -1 ? original : original.slice(0, end);
  const search = end === -1 ? '' : original.slice(end).replace(/#.*$/, '');
  // Already ending in `/` (reply.sendFile('dir') under such a URL): kept, as @fastify/static does.
  const withSlash = pathPart.endsWith('/') ? pathPart : `${pathPart}/`;
  return encodeUrl(collapseLeadingSlashes(withSlash) + search);
}

function endWithHtml(req: IncomingMessage, res: ServerResponse, body: string): number {
  const length = Buffer.byteLength(body);
  res.setHeader('Content-Type', 'text/html; charset=UTF-8');
  res.setHeader('Content-Length', length);
  res.setHeader('Content-Security-Policy', "default-src 'none'");
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(body);
  return req.method === 'HEAD' ? 0 : length;
}

/** send's page: a title and one preformatted line, nothing to load. */
function htmlDocument(title: string, body: string): string {
  return (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    `<title>${title}</title>\n</head>\n<body>\n<pre>${body}</pre>\n</body>\n</html>\n`
  );
}

const collapseLeadingSlashes = (text: string): string => text.replace(/^[/\\]{2,}/, '/');
