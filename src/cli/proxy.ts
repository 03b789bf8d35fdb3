/**
 * `zerosend proxy --listen [HOST:]PORT --to HOST:PORT`: a TCP proxy built on `proxy()`. Every
 * accepted connection is relayed, both ways, to the upstream (over splice(2) where the OS has
 * it); one log line per connection; totals on exit; SIGINT/SIGTERM stop accepting and give open
 * connections `--grace` seconds to finish.
 */
import * as net from 'node:net';

import { Command, InvalidArgumentError } from 'commander';

import { capabilities } from '../binding/capabilities';
import { proxy, type ProxyError } from '../relay/proxy';
import { reportUsageErrors } from './usage';

interface Address {
  host: string | undefined;
  port: number;
}

interface ProxyCommandOptions {
  listen: Address;
  to: Address & { host: string };
  grace: number;
  connectTimeout: number;
  quiet?: boolean;
}

/** The `zerosend proxy` command, for `program.addCommand()`. */
export function proxyCommand(): Command {
  const command = new Command('proxy')
    .description(
      'Relay every TCP connection accepted on --listen to --to, both ways. On Linux the bytes move ' +
        'socket → pipe → socket with splice(2) and never enter JavaScript; elsewhere through Node streams.',
    )
    .requiredOption(
      '-l, --listen <[host:]port>',
      'where to accept connections; without a host, on every interface (e.g. 8080, 127.0.0.1:8080, [::1]:8080)',
      (value: string) => parseAddress(value, false),
    )
    .requiredOption(
      '-t, --to <host:port>',
      'the upstream server each connection is relayed to (e.g. 127.0.0.1:3000)',
      (value: string) => parseAddress(value, true),
    )
    .option(
      '--grace <seconds>',
      'on SIGINT/SIGTERM, how long open connections may take to finish before they are cut',
      parseSeconds,
      10,
    )
    .option('--connect-timeout <seconds>', 'give up on an upstream that has not accepted within this time', parseSeconds, 10)
    .option('-q, --quiet', 'no log line per connection (totals are still printed on exit)')
    .addHelpText(
      'after',
      '\nEach connection logs one line when it ends:\n' +
        '  <time> peer=<client ip:port> up=<bytes client→upstream> down=<bytes upstream→client> ms=<duration> end=<how>\n' +
        'where <how> is closed, refused, unreachable, reset, cut (at shutdown) or another error code.\n' +
        'The first SIGINT/SIGTERM stops accepting; a second one cuts open connections at once.',
    )
    .action((options: ProxyCommandOptions) => runProxy(options));
  return reportUsageErrors(command);
}

function parseAddress(value: string, hostRequired: true): Address & { host: string };
function parseAddress(value: string, hostRequired: false): Address;
function parseAddress(value: string, hostRequired: boolean): Address {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? (hostRequired ? null : /^()()(\d+)$/.exec(value));
  const host = match ? match[1] || match[2] || undefined : undefined;
  const port = match ? Number(match[3]) : NaN;
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535 || (hostRequired && (!host || port === 0))) {
    throw new InvalidArgumentError(hostRequired ? 'expected HOST:PORT, e.g. 127.0.0.1:3000' : 'expected [HOST:]PORT, e.g. 8080');
  }
  return { host, port };
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) throw new InvalidArgumentError('expected a number of seconds >= 0');
  return seconds;
}

function formatAddress(host: string | undefined, port: number | undefined): string {
  if (host === undefined) return `*:${port}`;
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** How a connection ended, in one word, for the log. */
function howItEnded(error: unknown): string {
  const failure = error as Partial<ProxyError> & { name?: string };
  if (failure.name === 'AbortError') return 'cut';
  switch (failure.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unreachable';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    default:
      return failure.code ?? 'error';
  }
}

async function runProxy(options: ProxyCommandOptions): Promise<void> {
  const upstream = formatAddress(options.to.host, options.to.port);
  const open = new Set<AbortController>();
  const totals = { connections: 0, failed: 0, up: 0, down: 0 };
  const started = Date.now();
  const log = (line: string): void => {
    if (!options.quiet) process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  };

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    totals.connections += 1;
    const since = process.hrtime.bigint();
    const peer = formatAddress(client.remoteAddress, client.remotePort);
    const controller = new AbortController();
    open.add(controller);
    const to = net.connect({ host: options.to.host, port: options.to.port, allowHalfOpen: true });
    if (options.connectTimeout > 0) {
      to.setTimeout(options.connectTimeout * 1000, () => {
        const error = Object.assign(new Error(`connect ETIMEDOUT ${upstream}`), { code: 'ETIMEDOUT' });
        to.destroy(error);
      });
      to.once('connect', () => to.setTimeout(0));
    }
    const finish = (up: number, down: number, how: string, detail?: string): void => {
      open.delete(controller);
      totals.up += up;
      totals.down += down;
      const ms = Number((process.hrtime.bigint() - since) / 1_000_000n);
      log(`peer=${peer} up=${up} down=${down} ms=${ms} end=${how}${detail ? ` error="${detail}"` : ''}`);
      if (open.size === 0) closing?.();
    };
    proxy(client, to, { signal: controller.signal }).then(
      ({ aToB, bToA }) => finish(aToB, bToA, 'closed'),
      (error: ProxyError) => {
        totals.failed += 1;
        const how = howItEnded(error);
        const detail =
          how === 'refused'
            ? `upstream ${upstream} refused the connection (ECONNREFUSED): is it running?`
            : how === 'cut'
              ? 'cut at shutdown'
              : error.message;
        finish(error.aToB ?? 0, error.bToA ?? 0, how, detail);
      },
    );
  });

  let closing: (() => void) | undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.listen.host, port: options.listen.port }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot listen on ${formatAddress(options.listen.host, options.listen.port)}: ${error.message}`);
  });
  const bound = server.address() as net.AddressInfo;
  const mode = capabilities().splice ? 'splice' : 'Node streams';
  process.stdout.write(
    `zerosend proxy: listening on ${formatAddress(bound.address, bound.port)}, relaying to ${upstream} (${mode})\n`,
  );

  await new Promise<void>((resolve) => {
    let signals = 0;
    let cutTimer: NodeJS.Timeout | undefined;
    const cutAll = (): void => {
      for (const controller of open) controller.abort();
    };
    const done = (): void => {
      if (cutTimer) clearTimeout(cutTimer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) return cutAll();
      process.stdout.write(
        `zerosend proxy: ${signal}: no longer accepting; ${open.size} open connection(s) get ${options.grace} s to finish\n`,
      );
      let serverClosed = false;
      closing = () => {
        if (serverClosed && open.size === 0) done();
      };
      server.close(() => {
        serverClosed = true;
        closing?.();
      });
      cutTimer = setTimeout(cutAll, options.grace * 1000);
      cutTimer.unref();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `zerosend proxy: ${totals.connections} connection(s), ${totals.failed} failed, ` +
      `${totals.up} bytes up, ${totals.down} bytes down, in ${seconds} s\n`,
  );
}
