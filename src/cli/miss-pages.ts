/**
 * What `zerosend serve` answers when the static middleware found nothing to send (it calls
 * `next(err)`, `fallthrough: false`):
 *
 * 1. `--spa`: a 404 for a GET/HEAD whose last path segment has no dot (`/users/42`, not
 *    `/app.js`) is a client-side route: root's `index.html`, 200. A missing asset stays a 404, so
 *    a typo in a script's URL is not answered with HTML.
 * 2. A `404.html` at the root is the body of every 404 (status kept), as on GitHub Pages or Netlify.
 * 3. Otherwise the built-in page of the status (and a 500 is reported on stderr).
 *
 * Files go out through `sendFile` with `{ root }`: the same engine, zero-copy, confined to the root.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';

import type { ServedInfo } from '../http/file-response';
import { sendError } from '../http/plain-response';
import { parseRequestPath } from '../http/request-path';
import { sendFile, type SendFileOptions } from '../http/send-file';

export interface MissSettings {
  root: string;
  spa: boolean;
  dotfiles: SendFileOptions['dotfiles'];
  method: SendFileOptions['method'];
}

export class MissPages {
  /** For both pages: revalidated on every use (`max-age=0`, whatever `--max-age` says), since a
   * route's app shell must not outlive a deploy and a 404 must not be cached by heuristics. */
  private readonly fileOptions: SendFileOptions;

  constructor(private readonly settings: MissSettings) {
    this.fileOptions = { root: settings.root, dotfiles: settings.dotfiles, method: settings.method };
  }

  /** Answers `req` after the middleware's `next(error)`; resolves what was sent. */
  async answer(req: IncomingMessage, res: ServerResponse, error: unknown): Promise<ServedInfo> {
    const status = statusOf(error);
    if (status === 500) console.error(`zerosend: ${req.method} ${req.url}: ${error instanceof Error ? error.message : String(error)}`);
    if (status === 404) {
      if (this.settings.spa && isClientRoute(req.url)) {
        const shell = await this.trySend(req, res, 'index.html');
        if (shell !== undefined) return shell;
      }
      res.statusCode = 404; // kept by the engine: the page is the body of a 404, never a 304 or 206
      const page = await this.trySend(req, res, '404.html');
      if (page !== undefined) return page;
    }
    return { status, bytes: sendError(req, res, status, headersOf(error)), method: 'none' };
  }

  /** The file's answer, or `undefined` when there is no such file (nothing was written then). */
  private async trySend(req: IncomingMessage, res: ServerResponse, name: string): Promise<ServedInfo | undefined> {
    try {
      const { status, bytes, method } = await sendFile(req, res, name, this.fileOptions);
      return { status, bytes, method, path: path.join(this.settings.root, name) };
    } catch (error) {
      if (!res.headersSent) return undefined;
      // The body broke off (client gone): the connection is closed; the log says so.
      const { bytes, code } = error as { bytes?: number; code?: string };
      return { status: res.statusCode, bytes: bytes ?? 0, method: 'none', path: path.join(this.settings.root, name), error: code ?? 'ERROR' };
    }
  }
}

/** A path that names a route, not a file: its last segment (decoded) has no dot. */
function isClientRoute(url: string | undefined): boolean {
  const target = parseRequestPath(url);
  if (!target.ok) return false;
  const last = target.segments[target.segments.length - 1] ?? '';
  return !last.includes('.');
}

/** The status an http-errors error carries; `next()` with nothing is a 404; anything else is the server's fault. */
function statusOf(error: unknown): number {
  if (error === undefined) return 404;
  const status = (error as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

/** Headers the error asks for (a 416's `Content-Range`). */
function headersOf(error: unknown): Record<string, string> | undefined {
  return (error as { headers?: Record<string, string> } | undefined)?.headers;
}
