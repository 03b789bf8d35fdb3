/**
 * Errors as Node reports them: a string `code`, errno details for system errors, and, for a
 * transfer that had started, `bytes` — how many bytes reached the destination.
 */

/** Every error zerosend creates (except cancellation) is a `ZerosendError`. */
export class ZerosendError extends Error {
  /** `ENOENT`, `EPIPE`, `ERR_OUT_OF_RANGE`, `ERR_ZEROSEND_SHORT_FILE`, ... */
  readonly code: string;
  /** Bytes that reached the destination before the failure (transfers that had started). */
  bytes?: number;
  /** For system errors: the negative errno, as Node reports it. */
  errno?: number;
  /** For system errors: the system call that failed. */
  syscall?: string;

  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = nodeErrorName(code);
    this.code = code;
    if (details.bytes !== undefined) this.bytes = details.bytes;
    if (details.errno !== undefined) this.errno = details.errno;
    if (details.syscall !== undefined) this.syscall = details.syscall;
  }
}

export interface ErrorDetails {
  bytes?: number;
  errno?: number;
  syscall?: string;
  cause?: unknown;
}

/** Node names its argument errors by class: `ERR_OUT_OF_RANGE` is a RangeError, etc. */
function nodeErrorName(code: string): string {
  if (code === 'ERR_OUT_OF_RANGE') return 'RangeError';
  if (code === 'ERR_INVALID_ARG_TYPE' || code === 'ERR_INVALID_ARG_VALUE') return 'TypeError';
  return 'Error';
}

/** Cancellation, exactly as Node's own APIs report it: `name` `AbortError`, `code` `ABORT_ERR`. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  /** Bytes that reached the destination before the abort. */
  bytes: number;

  constructor(bytes: number, cause?: unknown) {
    super('The operation was aborted', cause === undefined ? undefined : { cause });
    this.name = 'AbortError';
    this.bytes = bytes;
  }
}

export const codes = {
  invalidArgType: 'ERR_INVALID_ARG_TYPE',
  invalidArgValue: 'ERR_INVALID_ARG_VALUE',
  outOfRange: 'ERR_OUT_OF_RANGE',
  shortFile: 'ERR_ZEROSEND_SHORT_FILE',
  unsupported: 'ERR_ZEROSEND_UNSUPPORTED',
  socketClosed: 'ERR_SOCKET_CLOSED',
} as const;

/** Describes a received value the way Node's argument errors do. */
export function describe(value: unknown): string {
  if (value === null) return 'Received null';
  if (value === undefined) return 'Received undefined';
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `Received an instance of ${name}` : 'Received an object';
  }
  let shown = String(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  if (typeof value === 'string') shown = `'${shown}'`;
  return `Received type ${typeof value} (${shown})`;
}

export function invalidArgType(name: string, expected: string, value: unknown): ZerosendError {
  return new ZerosendError(codes.invalidArgType, `The "${name}" argument must be ${expected}. ${describe(value)}`);
}

export function outOfRange(name: string, range: string, value: unknown): ZerosendError {
  return new ZerosendError(
    codes.outOfRange,
    `The value of "${name}" is out of range. It must be ${range}. Received ${String(value)}`,
  );
}

export function socketClosed(bytes: number): ZerosendError {
  return new ZerosendError(codes.socketClosed, 'The socket was closed before the transfer finished', { bytes });
}
