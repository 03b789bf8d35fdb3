/**
 * `transfer()`'s arguments, validated: the source and the options with defaults filled in.
 */
import type { FileHandle } from 'node:fs/promises';

import { codes, invalidArgType, outOfRange, ZerosendError } from '../errors';
import { parseFd, parseMethod, parseSharedOptions, type Method, type TransferProgress } from '../options';

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
  const offset = parseByteCount('options.offset', o.offset) ?? 0;
  const length = parseByteCount('options.length', o.length);
  return {
    offset,
    length,
    method: parseMethod('options.method', o.method),
    forServer: (options as { [FOR_SERVER]?: unknown })[FOR_SERVER] === true,
    ...parseSharedOptions(o),
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

