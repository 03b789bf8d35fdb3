/**
 * `zerosend serve --cors`: pages on any origin may read every answer (a front end on :5173 fetching
 * data files from :8080). The header is set on `res` before the static middleware runs, and the
 * response engine keeps headers that do not describe the file, so files, redirects, 304s, 404s
 * and listings all carry it. Preflight requests (`OPTIONS`) are answered here: the static
 * middleware knows only GET and HEAD.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const ALLOWED_METHODS = 'GET, HEAD, OPTIONS';

/**
 * Headers a cross-origin script may read beyond the CORS-safelisted ones (Content-Length,
 * Content-Type, Last-Modified...): what range readers (PDF.js, video players) and caches look at.
 */
const EXPOSED_HEADERS = 'Accept-Ranges, Content-Encoding, Content-Range, ETag';

/** How long a browser may reuse a preflight's answer, in seconds (Chromium caps it at 2 hours). */
const PREFLIGHT_MAX_AGE = '600';

/** Marks `res` as readable from any origin. No credentials: `*` never allows them, by design. */
export function allowAnyOrigin(res: ServerResponse): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
}

/**
 * Answers an `OPTIONS` request: 204 with the methods served and, for a preflight, every header the
 * page asked to send (`Range`, `If-None-Match`, its own). Returns the body bytes sent (none).
 */
export function answerPreflight(req: IncomingMessage, res: ServerResponse): number {
  res.statusCode = 204;
  res.setHeader('Allow', ALLOWED_METHODS);
  res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS);
  const requested = req.headers['access-control-request-headers'];
  if (requested !== undefined && requested.trim() !== '') {
    res.setHeader('Access-Control-Allow-Headers', requested);
    res.setHeader('Vary', 'Access-Control-Request-Headers');
  }
  res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE);
  res.end();
  return 0;
}
