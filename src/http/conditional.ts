/**
 * Conditional requests (RFC 9110 §13): `If-Match` / `If-Unmodified-Since` → 412,
 * `If-None-Match` / `If-Modified-Since` → 304 (decided by `fresh`, as `send` decides it: a request
 * with `Cache-Control: no-cache` is never answered from cache), and `If-Range`, in the RFC's order.
 */
import type { IncomingHttpHeaders } from 'node:http';

import fresh from 'fresh';

/** The validators of the representation being served, as its response headers carry them. */
export interface Validators {
  /** The `ETag` value, e.g. `"1f-18c3a2"` or `W/"1f-18c3a2"`. */
  etag: string | undefined;
  /** The `Last-Modified` value (an HTTP date: whole seconds). */
  lastModified: string | undefined;
}

/** 0 when the request proceeds, else the status that answers it (304 or 412). */
export function evaluatePreconditions(headers: IncomingHttpHeaders, validators: Validators): 0 | 304 | 412 {
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    // Strong comparison (RFC 9110 §13.1.1): a weak tag cannot promise the bytes are the same.
    if (!matchesStrongly(ifMatch, validators.etag)) return 412;
  } else if (headers['if-unmodified-since'] !== undefined) {
    const since = parseHttpDate(headers['if-unmodified-since']);
    const modified = parseHttpDate(validators.lastModified);
    if (since !== undefined && modified !== undefined && modified > since) return 412;
  }
  return fresh(headers, { etag: validators.etag, 'last-modified': validators.lastModified }) ? 304 : 0;
}

/**
 * Whether a `Range` may be honoured: no `If-Range`, or one naming the current representation —
 * by a strong ETag (strong comparison: a weak tag never matches) or by its exact `Last-Modified`.
 */
export function rangeStillValid(ifRange: string | undefined, validators: Validators): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) {
    return validators.etag !== undefined && !isWeak(value) && !isWeak(validators.etag) && value === validators.etag;
  }
  const date = parseHttpDate(value);
  return date !== undefined && parseHttpDate(validators.lastModified) === date;
}

/** `*` (there is a current representation: the file exists), or a listed tag equal to ours, strongly. */
function matchesStrongly(list: string, etag: string | undefined): boolean {
  if (list.trim() === '*') return true;
  if (etag === undefined || isWeak(etag)) return false;
  return list.split(',').some((candidate) => candidate.trim() === etag);
}

const isWeak = (tag: string): boolean => tag.startsWith('W/');

/** Milliseconds of an HTTP date, or undefined when absent or unparsable (then the header is ignored). */
function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
