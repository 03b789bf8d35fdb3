/**
 * Conditional requests (RFC 9110 §13): `If-Match` / `If-Unmodified-Since` → 412,
 * `If-None-Match` / `If-Modified-Since` → 304, and `If-Range`, evaluated in the RFC's order.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** The validators of the representation being served (as its response headers carry them). */
export interface Validators {
  /** The `ETag` value, e.g. `"1f-18c3a2"` or `W/"1f-18c3a2"`. */
  etag: string | undefined;
  /** `Last-Modified` in milliseconds since the epoch, whole seconds (HTTP dates have no more). */
  lastModified: number | undefined;
}

/** 0 when the request proceeds, else the status that answers it (304 or 412). */
export function evaluatePreconditions(headers: IncomingHttpHeaders, validators: Validators): 0 | 304 | 412 {
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    if (!matchesAny(ifMatch, validators.etag, true)) return 412;
  } else {
    const since = parseHttpDate(headers['if-unmodified-since']);
    if (since !== undefined && validators.lastModified !== undefined && validators.lastModified > since) return 412;
  }
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (matchesAny(ifNoneMatch, validators.etag, false)) return 304;
  } else {
    const since = parseHttpDate(headers['if-modified-since']);
    if (since !== undefined && validators.lastModified !== undefined && validators.lastModified <= since) return 304;
  }
  return 0;
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
  return date !== undefined && validators.lastModified === date;
}

/** `*` or a comma-separated list of entity tags, compared strongly or weakly with ours. */
function matchesAny(list: string, etag: string | undefined, strong: boolean): boolean {
  // `*` matches any current representation, and there is one: the file exists.
  if (list.trim() === '*') return true;
  if (etag === undefined) return false;
  if (strong && isWeak(etag)) return false;
  const ours = opaque(etag);
  for (const candidate of list.split(',')) {
    const tag = candidate.trim();
    if (tag === '' || (strong && isWeak(tag))) continue;
    if (opaque(tag) === ours) return true;
  }
  return false;
}

const isWeak = (tag: string): boolean => tag.startsWith('W/');
const opaque = (tag: string): string => (isWeak(tag) ? tag.slice(2) : tag);

/** Milliseconds of an HTTP date, or undefined when absent or unparsable (then the header is ignored). */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
