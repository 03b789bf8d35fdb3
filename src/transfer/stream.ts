/**
 * A transfer through Node streams, for destinations no descriptor path can serve (TLS sockets,
 * other writable streams) and for platforms without the native binding. Same contract as the
 * native path: range rules, short files, progress, abort, `bytes` on errors.
 */
import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';

import { AbortError, codes, socketClosed, ZerosendError } from '../errors';
import type { TransferResult } from '../options';
import type { Settings, SourceSpec } from './settings';
import { ProgressReporter } from './progress';
import { claim, type Claim } from '../socket/write-gate';
import { resolveLength } from './range';

type Write = Claim['write'];

const CHUNK_BYTES = 64 * 1024;
const PROGRESS_BYTES = 2 * 1024 * 1024;

/** Positional reads only: the caller's file position is never moved. */
interface Reader {
  stat(): Promise<fs.Stats>;
  read(buffer: Buffer, position: number): Promise<number>;
  close(): Promise<void>;
}

const fstat = promisify(fs.fstat);
const readAt = promisify(fs.read);

async function openReader(source: SourceSpec): Promise<Reader> {
  if (source.kind === 'path') return handleReader(await open(source.path, 'r'), true);
  if (source.handle) return handleReader(source.handle, false);
  const { fd } = source;
  return {
    stat: () => fstat(fd),
    read: async (buffer, position) => (await readAt(fd, buffer, 0, buffer.length, position)).bytesRead,
    close: async () => {},
  };
}

function handleReader(handle: FileHandle, owned: boolean): Reader {
  return {
    stat: () => handle.stat(),
    read: async (buffer, position) => (await handle.read(buffer, 0, buffer.length, position)).bytesRead,
    close: () => (owned ? handle.close() : Promise.resolve()),
  };
}

/** Must be called synchronously by `transfer()`: the call is the line between earlier and later writes. */
export async function runStream(source: SourceSpec, stream: Writable, settings: Settings): Promise<TransferResult> {
  const claimed = await claim(stream, settings.signal);
  try {
    return await runClaimed(source, stream, claimed.write, settings);
  } finally {
    claimed.release();
  }
}

async function runClaimed(source: SourceSpec, stream: Writable, write: Write, settings: Settings): Promise<TransferResult> {
  const reader = await openReader(source);
  try {
    const stat = await reader.stat();
    if (stat.isDirectory()) {
      throw new ZerosendError('EISDIR', 'EISDIR: illegal operation on a directory, read', { errno: -21, syscall: 'read' });
    }
    if (!stat.isFile()) throw new ZerosendError(codes.invalidArgValue, 'the source must be a regular file');
    const length = resolveLength(stat.size, settings.offset, settings.length);
    return await pump(reader, stream, write, settings, length);
  } finally {
    await reader.close();
  }
}

async function pump(
  reader: Reader,
  stream: Writable,
  write: Write,
  settings: Settings,
  length: number,
): Promise<TransferResult> {
  const { signal, prefix } = settings;
  const writer = new Writer(stream, write, signal);
  const progress = new ProgressReporter(settings.onProgress, undefined, () => writer.fail(undefined), (prefix?.length ?? 0) + length);
  let reported = 0;
  try {
    if (prefix && prefix.length > 0) await writer.write(Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength));
    let position = settings.offset;
    const end = settings.offset + length;
    while (position < end) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, end - position));
      const n = await writer.guard(reader.read(chunk, position));
      if (n === 0) {
        throw new ZerosendError(
          codes.shortFile,
          `the file ended at byte ${position} before the ${end} bytes the transfer needs (truncated while being sent?)`,
        );
      }
      position += n;
      await writer.write(chunk.subarray(0, n));
      if (writer.bytes - reported >= PROGRESS_BYTES) {
        reported = writer.bytes;
        progress.report(reported);
      }
    }
    await writer.flushed();
    progress.finish(writer.bytes);
    return { bytes: writer.bytes, method: 'stream' };
  } catch (error) {
    progress.stop();
    if (progress.error !== undefined) throw progress.error;
    if (typeof error === 'object' && error !== null) (error as { bytes?: number }).bytes = writer.bytes;
    throw error;
  } finally {
    writer.detach();
  }
}

/**
 * Writes with backpressure, and turns the destination closing or erroring, or the signal
 * aborting, into a rejection of whatever is being awaited at the time.
 */
class Writer {
  /** Bytes the destination stream accepted. */
  bytes = 0;
  private failure: unknown;
  private rejectFailed: (error: unknown) => void = () => {};
  /** Rejects with the first failure; raced against every wait. */
  private readonly failed = new Promise<never>((_, reject) => {
    this.rejectFailed = reject;
  });
  private lastWrite: Promise<void> = Promise.resolve();
  private onDrain: (() => void) | undefined;

  constructor(
    private readonly stream: Writable,
    private readonly writeThrough: Write,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.failed.catch(() => {}); // observed through the races below
    stream.on('close', this.onClose);
    stream.on('error', this.onError);
    signal?.addEventListener('abort', this.onAbort);
  }

  private onClose = (): void => this.fail(socketClosed(this.bytes));
  private onError = (error: Error): void => this.fail(error);
  private onAbort = (): void => this.fail(new AbortError(this.bytes, this.signal?.reason));

  fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error ?? new AbortError(this.bytes);
    this.rejectFailed(this.failure);
  }

  detach(): void {
    this.stream.off('close', this.onClose);
    this.stream.off('error', this.onError);
    if (this.onDrain) this.stream.off('drain', this.onDrain);
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  /** Awaits `work`, but gives up as soon as the transfer has failed. */
  guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.failed]);
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    let ok = true;
    this.lastWrite = new Promise<void>((resolve) => {
      ok = this.writeThrough(chunk, (error) => {
        if (error) this.fail(error);
        resolve();
      });
    });
    // Counted once the stream accepted it: it goes out even if the transfer is aborted now.
    this.bytes += chunk.length;
    if (!ok) await this.guard(this.drained());
  }

  /** Resolves once every write has completed. */
  flushed(): Promise<void> {
    return this.guard(this.lastWrite);
  }

  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.onDrain = () => {
        this.onDrain = undefined;
        resolve();
      };
      this.stream.once('drain', this.onDrain);
    });
  }
}
