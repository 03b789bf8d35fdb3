/**
 * The answer to a directory URL that has no index file, when `listing` is on: the directory's
 * entries as an HTML page, or as JSON for a client that asks for `application/json`
 * (`[{ name, type, size, mtime }]`, the page's order). The static door decides *when* to list
 * (a directory, its trailing slash, no index); this file decides *what* may be listed: nothing
 * whose real path is outside the root, unless symlinks are followed.
 */
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { isInside, readDirectoryEntries, type DirectoryEntry } from './directory-entries';
import type { ServedInfo } from './file-response';
import { LISTING_PAGE_POLICY, renderListingPage } from './listing-page';

export interface ListingSettings {
  root: string;
  dotfiles: 'ignore' | 'deny' | 'allow';
  followSymlinks: boolean;
}

export type ListingOutcome =
  | { kind: 'sent'; info: ServedInfo }
  /** Nothing was written: the door answers its miss (403 outside the root or unreadable, 404 gone). */
  | { kind: 'refused'; status: 403 | 404; code?: string };

export class DirectoryListing {
  constructor(private readonly settings: ListingSettings) {}

  /** Lists `dir`, the directory of the request's decoded `segments` under the root. */
  send(req: IncomingMessage, res: ServerResponse, dir: string, segments: readonly string[]): ListingOutcome {
    let entries: DirectoryEntry[];
    try {
      const confineTo = this.settings.followSymlinks ? undefined : this.realRootPath();
      // A symlink to a folder outside the root (or a path through one) is refused as such a file
      // is: the lookup that found "a directory" followed it.
      if (confineTo !== undefined && !isInside(fs.realpathSync.native(dir), confineTo)) return { kind: 'refused', status: 403 };
      entries = readDirectoryEntries(dir, { dotfiles: this.settings.dotfiles === 'allow', confineTo });
    } catch (error) {
      return refusal(error);
    }
    const json = prefersJson(req.headers.accept);
    // Encoded once: a listing of thousands of entries is a megabyte of text.
    const body = Buffer.from(
      json
        ? JSON.stringify(entries.map(({ name, type, size, mtime }) => ({ name, type, size, mtime: mtime.toISOString() })))
        : renderListingPage({ segments, mountPath: mountPathOf(req), entries }),
    );
    res.statusCode = 200;
    res.setHeader('Content-Type', json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    // The folder changes under the page: always revalidate, and keep the HTML and JSON forms apart.
    res.setHeader('Cache-Control', 'no-cache');
    appendVary(res, 'Accept');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (!json) res.setHeader('Content-Security-Policy', LISTING_PAGE_POLICY);
    res.end(body); // Node sends no body for HEAD; the headers say what GET would send.
    return { kind: 'sent', info: { status: 200, bytes: req.method === 'HEAD' ? 0 : body.length, method: 'none', path: dir } };
  }

  /** Resolved for each listing (a listing costs a readdir and a stat per entry anyway): the root
   * may be a symlink a deploy repoints (`ln -sfn releases/2 current`). */
  private realRootPath(): string {
    return fs.realpathSync.native(this.settings.root);
  }
}

/**
 * JSON when the client ranks `application/json` above HTML: `Accept: application/json` does; a
 * browser's header (HTML first) and curl's (any type) do not. Ties go to HTML.
 */
export function prefersJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let json = 0;
  let html = 0;
  for (const part of accept.split(',')) {
    const [range = '', ...parameters] = part.split(';').map((item) => item.trim().toLowerCase());
    const q = quality(parameters);
    if (range === 'application/json' || range === 'application/*') json = Math.max(json, q);
    if (range === 'text/html' || range === 'text/*' || range === '*/*') html = Math.max(html, q);
  }
  return json > html;
}

function quality(parameters: readonly string[]): number {
  const q = parameters.find((parameter) => parameter.startsWith('q='));
  const value = q === undefined ? 1 : Number(q.slice(2));
  return Number.isFinite(value) ? Math.min(Math.max(value, 0), 1) : 0;
}

/** Express's `req.baseUrl` (`/static` for `app.use('/static', …)`): shown in the page's title. */
function mountPathOf(req: IncomingMessage): string {
  const base = (req as { baseUrl?: unknown }).baseUrl;
  if (typeof base !== 'string') return '';
  try {
    return decodeURIComponent(base);
  } catch {
    return base;
  }
}

function appendVary(res: ServerResponse, field: string): void {
  const current = res.getHeader('Vary');
  res.setHeader('Vary', current === undefined || current === '' ? field : `${String(current)}, ${field}`);
}

function refusal(error: unknown): ListingOutcome {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return { kind: 'refused', status: 403, code };
  // Removed (or replaced by a file) between the lookup and readdir.
  if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'refused', status: 404, code };
  throw error;
}
