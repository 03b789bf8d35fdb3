/**
 * `zerosend serve [DIR]`: serves a folder over HTTP, bodies through sendfile, with an access log
 * line per request and `--workers N` processes through `node:cluster`. SIGINT/SIGTERM stop
 * accepting, let responses in flight finish (up to a grace period), then exit.
 */
import cluster, { type Worker } from 'node:cluster';
import { statSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

import { Command, InvalidArgumentError, Option } from 'commander';

import { METHODS, type Method } from '../options';

import { serveStatic } from '../http/serve-static';
import type { ServedInfo } from '../http/file-response';

interface ServeOptions {
  port: number;
  host: string;
  workers: number;
  quiet?: boolean;
  maxAge: string;
  precompressed?: boolean;
  dotfiles: 'ignore' | 'deny' | 'allow';
  grace: number;
  method: Method;
}

/** The `serve` subcommand, for `program.addCommand()`. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('serve a folder over HTTP, file bodies sent with sendfile (zero-copy)')
    .argument('[dir]', 'the folder to serve', '.')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', integer('port', 0, 65535), 8080)
    .option('-H, --host <host>', 'address to listen on', '127.0.0.1')
    .option('-w, --workers <n>', 'processes serving the same port (node:cluster)', integer('workers', 1, 1024), 1)
    .option('-q, --quiet', 'no access log')
    .option('--max-age <duration>', "Cache-Control max-age, e.g. '1h', '1d'", '0')
    .option('--precompressed', 'serve file.br / file.gz to clients that accept them')
    .option('--dotfiles <policy>', "'ignore' (404), 'deny' (403) or 'allow'", 'ignore')
    .addOption(
      new Option('--method <method>', "how file bodies go out: 'auto' is sendfile (copy where it cannot); 'mmap' is faster to a proxy on this machine, for more CPU")
        .choices(METHODS)
        .default('auto'),
    )
    .option('--grace <ms>', 'on SIGINT/SIGTERM, how long responses in flight may take', integer('grace', 0, 3_600_000), 10_000)
    .action((dir: string, options: ServeOptions) => serve(dir, options));
}

function integer(name: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`--${name} must be an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

function serve(dir: string, options: ServeOptions): void {
  const root = path.resolve(dir);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${root} is not a directory`);
  if (options.workers > 1 && cluster.isPrimary) runPrimary(root, options);
  else runServer(root, options);
}

/** One serving process: the only one, or a cluster worker. */
function runServer(root: string, options: ServeOptions): void {
  const log = options.quiet ? undefined : new AccessLog();
  const started = new WeakMap<http.IncomingMessage, bigint>();
  const handler = serveStatic(root, {
    fallthrough: false,
    maxAge: options.maxAge,
    precompressed: options.precompressed === true,
    dotfiles: options.dotfiles,
    method: options.method,
    onServed: log ? (req, _res, info) => log.write(req, info, started.get(req)) : undefined,
  });
  const server = http.createServer((req, res) => {
    if (log) started.set(req, process.hrtime.bigint());
    handler(req, res);
  });
  server.on('close', () => handler.close());
  server.on('error', (error) => {
    console.error(`zerosend: ${error.message}`);
    process.exit(1);
  });
  server.listen(options.port, options.host, () => {
    if (cluster.isWorker) return; // the primary announces the cluster
    console.log(`zerosend: serving ${root} at ${urlOf(server.address() as AddressInfo)}`);
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
    }, options.grace);
    force.unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (cluster.isWorker) process.on('message', (message) => message === 'zerosend:stop' && stop());
}

/** The cluster primary: forks the workers, replaces crashed ones, stops them all on a signal. */
function runPrimary(root: string, options: ServeOptions): void {
  let stopping = false;
  const listening = new Set<Worker>();
  for (let i = 0; i < options.workers; i++) cluster.fork();
  cluster.on('listening', (worker, address) => {
    listening.add(worker);
    if (listening.size !== 1) return;
    const where = urlOf({ address: address.address ?? options.host, port: address.port, family: '' });
    console.log(`zerosend: serving ${root} at ${where} with ${options.workers} workers`);
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

function urlOf(address: AddressInfo): string {
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/**
 * One line per request: time, client, method, path, status, body bytes, milliseconds, and what
 * sent the body (sendfile, splice, mmap, copy, stream, or none). Lines are written once per
 * event-loop turn, not once per request: stdout to a pipe or file is a synchronous write.
 */
class AccessLog {
  private lines: string[] = [];
  private scheduled = false;

  write(req: http.IncomingMessage, info: ServedInfo, start: bigint | undefined): void {
    const ms = start === undefined ? 0 : Number(process.hrtime.bigint() - start) / 1e6;
    const error = info.error === undefined ? '' : ` ${info.error}`;
    this.lines.push(
      `${new Date().toISOString()} ${req.socket.remoteAddress ?? '-'} ${req.method} ${req.url} ` +
        `${info.status} ${info.bytes} ${ms.toFixed(1)}ms ${info.method}${error}\n`,
    );
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    process.stdout.write(this.lines.join(''));
    this.lines = [];
  }
}
