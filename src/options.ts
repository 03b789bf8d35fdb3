/**
 * The option and result types of the public API, and the validators that more than one job
 * shares (a method name, a descriptor, `prefix`/`onProgress`/`signal`). Every bad input becomes a
 * Node-style error before anything native runs.
 */
import type { FileHandle } from 'node:fs/promises';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';

import { codes, describe, invalidArgType, outOfRange, ZerosendError } from './errors';

/** A file to send: a path, a descriptor you keep, or a `FileHandle` you keep. */
export type FileSource = string | number | FileHandle;
/** Where to send it: a connected socket, or a raw descriptor (socket, pipe or file). */
export type Destination = Socket | number | Writable;
/** How the bytes move; `auto` picks the fastest correct path and falls back where needed. */
export type Method = 'auto' | 'sendfile' | 'splice' | 'mmap' | 'copy';

export interface TransferProgress {
  /** Bytes that reached the destination so far, prefix included. */
  bytes: number;
  /** Bytes the transfer sends in all: prefix plus the file range. */
  total: number;
}

export interface TransferOptions {
  /** First byte of the file to send. Default 0; an integer, `0 <= offset <= size`. */
  offset?: number;
  /** How many bytes to send. Default: to the end of the file. */
  length?: number;
  /** Default `'auto'`. An explicit method that cannot serve the destination rejects with
   * `ERR_ZEROSEND_UNSUPPORTED` rather than silently doing something else. */
  method?: Method;
  /** Bytes sent before the file, in the same packets as its first bytes (e.g. HTTP headers). */
  prefix?: Uint8Array;
  /** Called with non-decreasing `bytes`, at most once per 2 MiB sent, and once at the end. */
  onProgress?: (progress: TransferProgress) => void;
  /** Aborting rejects with an `AbortError` carrying `bytes`. */
  signal?: AbortSignal;
}

export interface TransferResult {
  /** Bytes that reached the destination, prefix included. */
  bytes: number;
  /** What moved them. `stream` is Node streams (TLS sockets, non-socket streams, no binding). */
  method: 'sendfile' | 'splice' | 'mmap' | 'copy' | 'stream';
}

/**
 * Every method, in the order of the binding's method codes (`METHOD_CODES` in
 * crates/zerosend-node/src/transfer.rs): `startTransfer()` takes a method as its index here.
 */
export const METHODS: readonly Method[] = ['auto', 'sendfile', 'splice', 'mmap', 'copy'];

export function parseFd(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw outOfRange(name, 'an integer >= 0 && <= 2147483647', value);
  }
  return value;
}

/** A method name; `undefined` means `'auto'`. */
export function parseMethod(name: string, value: unknown): Method {
  const method = value ?? 'auto';
  if (typeof method !== 'string' || !METHODS.includes(method as Method)) {
    throw new ZerosendError(
      codes.invalidArgValue,
      `The property '${name}' must be one of: ${METHODS.map((m) => `'${m}'`).join(', ')}. ${describe(method)}`,
    );
  }
  return method as Method;
}

/** The options every kind of transfer takes: `prefix`, `onProgress`, `signal`. */
export function parseSharedOptions<P>(o: Record<string, unknown>): {
  prefix: Uint8Array | undefined;
  onProgress: ((progress: P) => void) | undefined;
  signal: AbortSignal | undefined;
} {
  if (o.prefix !== undefined && !(o.prefix instanceof Uint8Array)) {
    throw invalidArgType('options.prefix', 'an instance of Buffer or Uint8Array', o.prefix);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw invalidArgType('options.onProgress', 'of type function', o.onProgress);
  }
  if (o.signal !== undefined && !isAbortSignal(o.signal)) {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', o.signal);
  }
  return {
    prefix: o.prefix as Uint8Array | undefined,
    onProgress: o.onProgress as ((progress: P) => void) | undefined,
    signal: o.signal as AbortSignal | undefined,
  };
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  );
}
