/**
 * The request handler of `zerosend serve`: CORS first (so every answer carries it), then the
 * static middleware (files, redirects, listings), then the miss pages (SPA shell, 404.html, the
 * built-in page). Each answered request is reported once to `onServed` (the access log).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { ServedInfo } from '../http/file-response';
import { OWNS_RESPONSE } from '../http/response-options';
import { serveStatic, type ServeStaticOptions } from '../http/serve-static';
import { allowAnyOrigin, answerPreflight } from './cors';
import { MissPages } from './miss-pages';
import type { ServeConfig } from './serve-config';

export type OnServed = (req: IncomingMessage, res: ServerResponse, info: ServedInfo) => void;

export interface ServeHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Closes the descriptors the open-file cache holds. */
  close(): void;
}

export function createServeHandler(config: ServeConfig, onServed: OnServed | undefined): ServeHandler {
  const files = serveStatic(config.root, {
    fallthrough: false, // misses come to `next(err)` with their status, for the miss pages
    maxAge: config.maxAge,
    precompressed: config.precompressed,
    dotfiles: config.dotfiles,
    method: config.method,
    listing: config.listing,
    onServed,
    // The access log reads only `info`: the responses are this command's own.
    [OWNS_RESPONSE]: true,
  } as ServeStaticOptions);
  const misses = new MissPages({ root: config.root, spa: config.spa, dotfiles: config.dotfiles, method: config.method });
  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    if (config.cors) {
      allowAnyOrigin(res);
      if (req.method === 'OPTIONS') {
        // Answered before it is reported: `onServed?.(…)` would skip evaluating its arguments when
        // there is no access log.
        const bytes = answerPreflight(req, res);
        onServed?.(req, res, { status: 204, bytes, method: 'none' });
        return;
      }
    }
    files(req, res, (error) => {
      misses.answer(req, res, error).then(
        (info) => onServed?.(req, res, info),
        (failure: unknown) => {
          // Not expected (the miss pages catch what sendFile throws), but a server must not die of it.
          console.error(`zerosend: ${req.method} ${req.url}: ${failure instanceof Error ? failure.message : String(failure)}`);
          res.destroy();
        },
      );
    });
  }) as ServeHandler;
  handler.close = () => files.close();
  return handler;
}
