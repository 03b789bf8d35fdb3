/**
 * The small responses the static server generates itself: errors, 304/412/416 and redirects.
 * They go through Node's `ServerResponse` as usual (Node drops the body of HEAD responses).
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';

/** Headers that describe a body; a 304 must not carry them (it describes the cached one). */
const BODY_HEADERS = ['content-length', 'content-type', 'content-encoding', 'content-range', 'content-language'];

/** Ends the response with `status` and a short text body; returns the body bytes sent. */
export function sendStatus(req: IncomingMessage, res: ServerResponse, status: number, headers?: Record<string, string>): number {
  if (res.headersSent) {
    // Too late to answer: whatever was started cannot be completed honestly.
    res.destroy();
    return 0;
  }
  const body = `${STATUS_CODES[status] ?? 'Error'}\n`;
  res.statusCode = status;
  for (const name of BODY_HEADERS) res.removeHeader(name);
  if (headers) for (const name in headers) res.setHeader(name, headers[name]!);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(body);
  return req.method === 'HEAD' ? 0 : Buffer.byteLength(body);
}

/** 304 Not Modified: the validators and caching headers stay, the body headers go. */
export function sendNotModified(res: ServerResponse): number {
  for (const name of BODY_HEADERS) res.removeHeader(name);
  res.statusCode = 304;
  res.end();
  return 0;
}

/** 301 to the directory's URL with its trailing slash (query kept). */
export function sendDirectoryRedirect(req: IncomingMessage, res: ServerResponse): number {
  const original = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const query = original.search(/[?#]/);
  const pathPart = query === -1 ? original : original.slice(0, query);
  const search = query === -1 ? '' : original.slice(query).replace(/#.*$/, '');
  const location = safeLocation(`${pathPart}/`) + safeLocation(search);
  const body = `Redirecting to ${location}\n`;
  res.statusCode = 301;
  res.setHeader('Location', location);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(body);
  return req.method === 'HEAD' ? 0 : Buffer.byteLength(body);
}

/**
 * A `Location` that stays on this site: leading slashes (and backslashes, which browsers read as
 * slashes) collapse to one, so `//evil.example/` cannot become a protocol-relative URL; anything
 * outside printable ASCII, and `\`, is percent-encoded.
 */
function safeLocation(text: string): string {
  const local = text.startsWith('/') || text.startsWith('\\') ? `/${text.replace(/^[/\\]+/, '')}` : text;
  return local.replace(/[^\x21-\x7e]|\\/g, (char) => {
    const code = char.charCodeAt(0);
    return code <= 0xff ? `%${code.toString(16).toUpperCase().padStart(2, '0')}` : encodeURIComponent(char);
  });
}
