/** `createStaticServer(root, options)`: an `http.Server` that serves a folder and nothing else. */
import * as http from 'node:http';

import { OWNS_RESPONSE } from './response-options';
import type { ServeStaticOptions } from './static-options';
import { serveStatic } from './serve-static';

export interface StaticServerOptions extends Omit<ServeStaticOptions, 'fallthrough'> {
  /** Passed to `http.createServer()` (e.g. `keepAliveTimeout`, `maxHeaderSize`). */
  http?: http.ServerOptions;
}

/**
 * An `http.Server` serving the files under `root`: 404 for misses, 405 for methods other than
 * GET and HEAD. Call `listen()` on it. Closing the server closes the descriptors it cached.
 *
 * @example
 * createStaticServer('./public', { maxAge: '1h' }).listen(8080)
 */
export function createStaticServer(root: string, options?: StaticServerOptions): http.Server {
  const { http: serverOptions, ...staticOptions } = options ?? {};
  // Nothing but this server holds its responses, unless the app asked to see them in `onServed`.
  const serve = serveStatic(root, { ...staticOptions, fallthrough: false, [OWNS_RESPONSE]: staticOptions.onServed === undefined } as ServeStaticOptions);
  const server = http.createServer(serverOptions ?? {}, (req, res) => serve(req, res));
  server.on('close', () => serve.close());
  return server;
}
