/**
 * `zerosend send FILE HOST:PORT`: sends a file to a TCP listener (e.g. `nc -l`) with `transfer()`,
 * showing progress — a bar on a terminal, plain lines otherwise — and a summary at the end.
 */
import { statSync } from 'node:fs';
import * as net from 'node:net';

import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';

import { METHODS, type Method, type TransferProgress } from '../options';
import { transfer } from '../transfer/transfer';
import { reportUsageErrors } from './usage';

interface SendOptions {
  method: Method;
}

/** The `send` subcommand, for `program.addCommand()`. */
export function sendCommand(): Command {
  const command = new Command('send')
    .description('send a file to a TCP listener, zero-copy, with progress')
    .argument('<file>', 'the file to send')
    .argument('<host:port>', 'where to connect, e.g. 127.0.0.1:9000 or [::1]:9000', parseAddress)
    // Checked with the command line, before the file is opened or anything connects.
    .addOption(new Option('-m, --method <method>', 'how the bytes go out').choices(METHODS).default('auto'))
    .action((file: string, address: Address, options: SendOptions) => send(file, address, options));
  return reportUsageErrors(command);
}

interface Address {
  host: string;
  port: number;
}

function parseAddress(value: string): Address {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:9000 or [::1]:9000.');
  }
  return { host: match[1] ?? match[2] ?? '', port };
}

async function send(file: string, address: Address, options: SendOptions): Promise<void> {
  const size = statSync(file).size;
  const socket = await connect(address);
  const progress = process.stdout.isTTY ? new ProgressBar(size) : new ProgressLines(size);
  const started = process.hrtime.bigint();
  // Node reports a reset on the socket as an 'error' event; the transfer then rejects with
  // ERR_SOCKET_CLOSED, and the socket's error says why.
  let socketError: Error | undefined;
  socket.on('error', (error) => (socketError ??= error));
  try {
    const result = await transfer(file, socket, { method: options.method, onProgress: (p) => progress.update(p) });
    progress.done();
    await closeGracefully(socket);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(
      `sent ${result.bytes} bytes (${formatBytes(result.bytes)}) in ${seconds.toFixed(3)} s, ` +
        `${formatBytes(result.bytes / Math.max(seconds, 1e-9))}/s, via ${result.method}`,
    );
  } catch (error) {
    progress.done();
    socket.destroy();
    const sent = (error as { bytes?: number }).bytes;
    const why = socketError ? `${(error as Error).message}: ${socketError.message}` : (error as Error).message;
    throw new Error(`${why}${sent === undefined ? '' : ` (after ${sent} bytes)`}`);
  }
}

function connect({ host, port }: Address): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Sends FIN and waits for the listener to close its side, so that the summary is printed only
 * once the peer has everything. Whatever it sends back is read and dropped (unread data would
 * turn our close into a reset that can discard the tail of the file).
 */
function closeGracefully(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.on('error', () => {}); // a reset after FIN changes nothing: every byte was written
    socket.once('close', () => resolve());
    socket.resume();
    socket.end();
  });
}

/** A terminal progress bar. */
class ProgressBar {
  private readonly bar = new SingleBar({
    format: ' {bar} {percentage}% | {sent} of {size} | {speed}/s | ETA {eta_formatted}',
    hideCursor: true,
    stream: process.stdout,
    barsize: 30,
  });
  private readonly started = Date.now();

  constructor(size: number) {
    this.bar.start(size, 0, { sent: formatBytes(0), size: formatBytes(size), speed: formatBytes(0) });
  }

  update({ bytes }: TransferProgress): void {
    const seconds = Math.max((Date.now() - this.started) / 1000, 1e-3);
    this.bar.update(bytes, { sent: formatBytes(bytes), speed: formatBytes(bytes / seconds) });
  }

  done(): void {
    this.bar.stop();
  }
}

/** Progress for logs and pipes: a line per tenth of the file, never more than one per report. */
class ProgressLines {
  private nextTenth = 1;

  constructor(private readonly size: number) {}

  update({ bytes }: TransferProgress): void {
    if (this.size === 0) return;
    const tenth = Math.floor((bytes / this.size) * 10);
    if (tenth < this.nextTenth) return;
    this.nextTenth = tenth + 1;
    console.log(`progress: ${formatBytes(bytes)} of ${formatBytes(this.size)} (${Math.floor((bytes / this.size) * 100)}%)`);
  }

  done(): void {}
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
