/**
 * HTTP errors as the peers make them: `http-errors` objects (`status`, `statusCode`, `expose`,
 * names such as `NotFoundError`), so that Express's final handler, Koa's `ctx.onerror` and
 * Fastify's error handler render them as they render their own. When a system error is the cause
 * (`ENOENT`, `EACCES`...), that error itself is returned with the status added, as `send` does:
 * `code` keeps the errno, and `expose` is false (its message names a server path).
 */
import createError from 'http-errors';

/** What zerosend's HTTP doors reject with or hand to `next()`. */
export interface HttpError extends Error {
  status: number;
  statusCode: number;
  /** Whether the message may be shown to the client. */
  expose: boolean;
  /** The errno name, when a system call said so. */
  code?: string;
  /** Headers the error response should carry (a 416's `Content-Range`). */
  headers?: Record<string, string>;
}

export function httpError(status: number, cause?: { code?: string; syscall?: string; path?: string }, headers?: Record<string, string>): HttpError {
  const error = (cause?.code === undefined ? createError(status) : createError(status, systemError(cause), { expose: false })) as HttpError;
  if (headers !== undefined) error.headers = headers;
  return error;
}

/** A Node-style system error for a code that came back without its Error (a cached lookup). */
function systemError(cause: { code?: string; syscall?: string; path?: string }): NodeJS.ErrnoException {
  if (cause instanceof Error) return cause;
  const syscall = cause.syscall ?? 'stat';
  const where = cause.path === undefined ? '' : ` '${cause.path}'`;
  const error: NodeJS.ErrnoException = new Error(`${cause.code}: ${describeCode(cause.code!)}, ${syscall}${where}`);
  error.code = cause.code;
  error.syscall = syscall;
  if (cause.path !== undefined) error.path = cause.path;
  return error;
}

const DESCRIPTIONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'illegal operation on a directory',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links encountered',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

const describeCode = (code: string): string => DESCRIPTIONS[code] ?? 'system error';
