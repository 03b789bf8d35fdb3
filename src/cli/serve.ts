/**
 * `zerosend serve [DIR]`: serves a folder over HTTP or HTTPS, bodies through sendfile, with an
 * access log line per request and `--workers N` processes through `node:cluster`. A folder without
 * index.html is listed; `--spa`, `--cors` and a root `404.html` do what front-end work needs.
 * SIGINT/SIGTERM stop accepting, let responses in flight finish (up to a grace period), then exit.
 */
import cluster, { type Worker } from 'node:cluster';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

import { Command, InvalidArgumentError, Option } from 'commander';

import { METHODS } from '../options';

import { parseMaxAge } from '../http/response-options';
import { AccessLog } from './access-log';
import { resolveServeConfig, UsageError, type ServeConfig, type ServeFlags } from './serve-config';
import { createServeHandler } from './serve-handler';
import { reportUsageErrors, USAGE_EXIT_CODE } from './usage';

/** The `serve` subcommand, for `program.addCommand()`. */
export function serveCommand(): Command {
  const command = new Command('serve')
    .description('serve a folder over HTTP(S), file bodies sent with sendfile (zero-copy); folders without index.html are listed')
    .argument('[dir]', 'the folder to serve', '.')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', integer('port', 0, 65535), 8080)
    .option('-H, --host <host>', "address to listen on ('0.0.0.0' or '::': every interface)", '127.0.0.1')
    .option('--no-listing', 'answer 404 for a folder without index.html instead of listing it')
    .option('--spa', 'single-page app: a missing path whose last segment has no dot (/users/42) gets index.html, 200')
    .option('--cors', 'let pages on any origin read every answer (Access-Control-Allow-Origin: *); answer preflight OPTIONS')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key)')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('-w, --workers <n>', 'processes serving the same port (node:cluster)', integer('workers', 1, 1024), 1)
    .option('-q, --quiet', 'no access log')
    .option('--max-age <duration>', "Cache-Control max-age of files, e.g. '1h', '1d'", duration, '0')
    .option('--precompressed', 'serve file.br / file.gz to clients that accept them')
    .addOption(new Option('--dotfiles <policy>', 'names starting with a dot: hidden (404), denied (403) or served').choices(DOTFILES).default('ignore'))
    .addOption(
      new Option('--method <method>', "how file bodies go out: 'auto' is sendfile (copy where it cannot); 'mmap' is faster to a proxy on this machine, for more CPU")
        .choices(METHODS)
        .default('auto'),
    )
    .option('--grace <ms>', 'on SIGINT/SIGTERM, how long responses in flight may take', integer('grace', 0, 3_600_000), 10_000)
    .addHelpText('after', HELP_AFTER)
    .action((dir: string, flags: ServeFlags) => {
      const config = checkedConfig(dir, flags);
      if (config) serve(config);
    });
  return reportUsageErrors(command);
}

/** The flags checked; on a command-line mistake, its one line on stderr, exit code 2, and nothing. */
function checkedConfig(dir: string, flags: ServeFlags): ServeConfig | undefined {
  try {
    return resolveServeConfig(dir, flags);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`zerosend: ${error.message}`);
    process.exitCode = USAGE_EXIT_CODE;
    return undefined;
  }
}

const DOTFILES = ['ignore', 'deny', 'allow'];

const HELP_AFTER = `
A folder URL ending in / without index.html answers a listing (HTML, or JSON for
Accept: application/json). A 404.html at the root of DIR is the body of every 404.
Bad flag values exit with code 2.

Examples:
  zerosend serve ./public                       http://127.0.0.1:8080, folders listed
  zerosend serve dist --spa --port 3000         a built single-page app
  zerosend serve data --cors --host 0.0.0.0     files for pages on other origins, every interface
  zerosend serve . --tls-cert cert.pem --tls-key key.pem
`;

function integer(name: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`--${name} must be an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

function duration(value: string): string {
  try {
    parseMaxAge(value);
  } catch {
    throw new InvalidArgumentError("--max-age must be milliseconds or a duration such as '30s', '1h', '1d'.");
  }
  return value;
}

function serve(config: ServeConfig): void {
  if (config.workers > 1 && cluster.isPrimary) runPrimary(config);
  else runServer(config);
}

/** One serving process: the only one, or a cluster worker. */
function runServer(config: ServeConfig): void {
  const log = config.quiet ? undefined : new AccessLog();
  const started = new WeakMap<http.IncomingMessage, bigint>();
  const handler = createServeHandler(config, log ? (req, _res, info) => log.write(req, info, started.get(req)) : undefined);
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (log) started.set(req, process.hrtime.bigint());
    handler(req, res);
  };
  // Over TLS, bodies go through Node streams: transfer()'s auto route falls back for TLS sockets.
  const server = config.tls ? https.createServer(config.tls, listener) : http.createServer(listener);
  server.on('close', () => handler.close());
  server.on('error', (error: NodeJS.ErrnoException) => {
    console.error(`zerosend: ${error.message}${listenHint(error.code)}`);
    process.exit(1);
  });
  server.listen(config.port, config.host, () => {
    if (cluster.isWorker) return; // the primary announces the cluster
    console.log(`zerosend: serving ${config.root} at ${urlOf(server.address() as AddressInfo, config)}`);
  });

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Stop accepting; idle keep-alive connections close now, busy ones when their response ends.
    server.close(() => {
      log?.flush();
      if (cluster.isWorker) cluster.worker?.disconnect();
    });
    server.closeIdleConnections();
    // Node closes a keep-alive connection after the response that ends while the server is closing
    // only when asked: check again as responses finish.
    const idleCheck = setInterval(() => server.closeIdleConnections(), 100);
    idleCheck.unref();
    const force = setTimeout(() => {
      log?.flush();
      server.closeAllConnections();
    }, config.grace);
    force.unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (cluster.isWorker) process.on('message', (message) => message === 'zerosend:stop' && stop());
}

/** The cluster primary: forks the workers, replaces crashed ones, stops them all on a signal. */
function runPrimary(config: ServeConfig): void {
  let stopping = false;
  const listening = new Set<Worker>();
  for (let i = 0; i < config.workers; i++) cluster.fork();
  cluster.on('listening', (worker, address) => {
    listening.add(worker);
    if (listening.size !== 1) return;
    const where = urlOf({ address: address.address ?? config.host, port: address.port, family: '' }, config);
    console.log(`zerosend: serving ${config.root} at ${where} with ${config.workers} workers`);
  });
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.send('zerosend:stop');
  };
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    if (!listening.has(worker)) {
      // It never got to serve (port taken, bad folder...): another would fail the same way.
      console.error(`zerosend: worker ${worker.process.pid} failed to start (${signal ?? code})`);
      process.exitCode = 1;
      stop();
      return;
    }
    listening.delete(worker);
    console.error(`zerosend: worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    cluster.fork();
  });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function urlOf(address: AddressInfo, config: ServeConfig): string {
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  return `${config.tls ? 'https' : 'http'}://${host}:${address.port}`;
}

/** What to do about a failure to listen. */
function listenHint(code: string | undefined): string {
  switch (code) {
    case 'EADDRINUSE':
      return ': another program has this port; choose another with --port (0: any free port)';
    case 'EACCES':
      return ': ports below 1024 need privileges; choose --port 1024 or above';
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return ": --host must be an address of this machine ('127.0.0.1', '0.0.0.0', '::')";
    default:
      return '';
  }
}
