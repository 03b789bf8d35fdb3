/**
 * Argument validation for `transfer()`: every bad input becomes a Node-style error before
 * anything native runs.
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

/**
 * An option key only zerosend's own static server sets: with `method: 'auto'`, choose for the
 * least CPU per byte in this process rather than for this one transfer's speed — sendfile to
 * every socket peer, local ones too (see `Goal` in crates/zerosend-core/src/auto.rs).
 */
export const FOR_SERVER = Symbol('zerosend.forServer');

/** The validated options, with defaults filled in. */
export interface Settings {
  offset: number;
  length: number | undefined;
  method: Method;
  /** `auto` as a server wants it: see `FOR_SERVER`. */
  forServer: boolean;
  prefix: Uint8Array | undefined;
  onProgress: ((progress: TransferProgress) => void) | undefined;
  signal: AbortSignal | undefined;
}

export type SourceSpec = { kind: 'path'; path: string } | { kind: 'fd'; fd: number; handle?: FileHandle };

export function parseSource(source: unknown): SourceSpec {
  if (typeof source === 'string') {
    if (source.length === 0) {
      throw new ZerosendError(codes.invalidArgValue, 'The "source" argument must be a non-empty path');
    }
    if (source.includes('\u0000')) {
      throw new ZerosendError(codes.invalidArgValue, 'The "source" argument must not contain null bytes');
    }
    return { kind: 'path', path: source };
  }
  if (typeof source === 'number') return { kind: 'fd', fd: parseFd('source', source) };
  if (isFileHandle(source)) {
    if (source.fd < 0) {
      throw new ZerosendError('EBADF', 'EBADF: bad file descriptor, the FileHandle is closed', {
        errno: -9,
        syscall: 'read',
      });
    }
    return { kind: 'fd', fd: source.fd, handle: source };
  }
  throw invalidArgType('source', 'a path string, a file descriptor or a FileHandle', source);
}

export function parseFd(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw outOfRange(name, 'an integer >= 0 && <= 2147483647', value);
  }
  return value;
}

function isFileHandle(value: unknown): value is FileHandle {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as FileHandle).fd === 'number' &&
    typeof (value as FileHandle).stat === 'function' &&
    typeof (value as FileHandle).read === 'function'
  );
}

export function parseOptions(options: unknown): Settings {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const o = options as Record<string, unknown>;
  const method = parseMethod('options.method', o.method);
  return {
    offset: parseByteCount('options.offset', o.offset) ?? 0,
    length: parseByteCount('options.length', o.length),
    method,
    forServer: (options as { [FOR_SERVER]?: unknown })[FOR_SERVER] === true,
    ...parseSharedOptions(o),
  };
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

function parseByteCount(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw outOfRange(name, 'an integer >= 0 && <= 9007199254740991', value);
  }
  return value;
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  );
}
