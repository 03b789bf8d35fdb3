/**
 * The options every HTTP door shares — `serveStatic`, `sendFile`, the Fastify and Koa adapters:
 * how a file is represented (validators, caching, ranges, dotfiles) and how its body moves. Names
 * and defaults follow `send` (serve-static, `res.sendFile`) wherever they overlap, so an app can
 * swap one for the other. Validated once, when a middleware is made or a call is made: a bad
 * value is an `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`, never a surprise per request.
 */
import type { Stats } from 'node:fs';
import type { ServerResponse } from 'node:http';

import ms from 'ms';

import { capabilities } from '../binding/capabilities';
import { codes, describe, invalidArgType, ZerosendError } from '../errors';
import { parseMethod, type Method } from '../options';
import { unsupported } from '../socket/destination';

export interface ResponseOptions {
  /** Paths with a segment starting with `.`: `'ignore'` (default, as if absent: 404), `'deny'` (403), `'allow'`. */
  dotfiles?: 'ignore' | 'deny' | 'allow';
  /**
   * `ETag` from size and mtime. `true` (default) sends a strong tag (as nginx does, so that
   * `If-Range` can resume downloads); `'weak'` sends `W/"..."` (as `send` does); `false` none.
   */
  etag?: boolean | 'weak' | 'strong';
  /** Send `Last-Modified`. Default true. */
  lastModified?: boolean;
  /**
   * `Cache-Control: public, max-age`, in milliseconds or a string such as `'1d'`, `'2h'`, `'30s'`
   * (the `ms` package, as `send`); capped at one year (`Infinity` is a year). Default 0.
   */
  maxAge?: number | string;
  /** Add `immutable` to `Cache-Control`. Default false. */
  immutable?: boolean;
  /** Send `Cache-Control` at all. Default true. A `Cache-Control` already set on the response wins. */
  cacheControl?: boolean;
  /** Honour `Range` and send `Accept-Ranges: bytes`. Default true. */
  acceptRanges?: boolean;
  /**
   * The `transfer()` method for file bodies. Default `'auto'`, chosen for a server: sendfile to
   * every client, those on this machine included (the least server CPU per byte, as nginx), a
   * copy where sendfile cannot. `'mmap'` moves more bytes per second to a client on this machine
   * (e.g. a local reverse proxy) for large files, at more server CPU per byte. TLS connections
   * always use streams.
   */
  method?: Method;
}

/** The shared options with defaults filled in. */
export interface ResponseSettings {
  dotfiles: 'ignore' | 'deny' | 'allow';
  etag: 'strong' | 'weak' | false;
  lastModified: boolean;
  /** The whole `Cache-Control` value, or undefined for none. */
  cacheControl: string | undefined;
  acceptRanges: boolean;
  method: Method;
  /** Called before the default headers are set; what it sets wins (serveStatic's `setHeaders`). */
  setHeaders: ((res: ServerResponse, path: string, stat: Stats) => void) | undefined;
  /**
   * Only the door reads `res` after the answer (`createStaticServer` without `onServed`, `zerosend
   * serve`, the Fastify adapter's hijacked reply): a plain whole-file answer's headers may then go
   * out in one `writeHead()` from an object cached with the file, instead of one `setHeader()`
   * each — where `getHeader()` would no longer find them, which a logger holding the same `res`
   * may rely on (morgan's `:res[content-length]`, Koa's `ctx.length`). See `file-response.ts`.
   */
  ownsResponse?: boolean;
}

/**
 * The internal option key by which a door that owns its responses says so (see
 * `ResponseSettings.ownsResponse`); not part of any public options type.
 */
export const OWNS_RESPONSE = Symbol('zerosend.ownsResponse');

const ONE_YEAR_MS = 365 * 24 * 60 * 60 * 1000;

/** Validates the shared options of `o` (an options object of any door). */
export function parseResponseOptions(o: Record<string, unknown>, defaults: Partial<ResponseSettings> = {}): ResponseSettings {
  const maxAge = parseMaxAge(o.maxAge ?? o.maxage ?? 0);
  const cacheControl = booleanOption(o, 'cacheControl') ?? true;
  return {
    dotfiles: oneOf(o, 'dotfiles', ['ignore', 'deny', 'allow'] as const) ?? defaults.dotfiles ?? 'ignore',
    etag: parseEtag(o.etag),
    lastModified: booleanOption(o, 'lastModified') ?? true,
    cacheControl: cacheControl
      ? `public, max-age=${Math.floor(maxAge / 1000)}${booleanOption(o, 'immutable') ? ', immutable' : ''}`
      : undefined,
    acceptRanges: booleanOption(o, 'acceptRanges') ?? true,
    method: runnable(parseMethod('options.method', o.method)),
    setHeaders: functionOption(o, 'setHeaders') as ResponseSettings['setHeaders'],
    ownsResponse: (o as { [OWNS_RESPONSE]?: unknown })[OWNS_RESPONSE] === true,
  };
}

/** An options argument: `undefined`/`null` are no options; anything else must be an object. */
export function optionsObject(options: unknown, name = 'options'): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) throw invalidArgType(name, 'of type object', options);
  return options as Record<string, unknown>;
}

export function booleanOption(o: Record<string, unknown>, name: string): boolean | undefined {
  const value = o[name];
  if (value !== undefined && typeof value !== 'boolean') throw invalidArgType(`options.${name}`, 'of type boolean', value);
  return value as boolean | undefined;
}

export function functionOption(o: Record<string, unknown>, name: string): ((...args: never[]) => unknown) | undefined {
  const value = o[name];
  if (value !== undefined && typeof value !== 'function') throw invalidArgType(`options.${name}`, 'of type function', value);
  return value as ((...args: never[]) => unknown) | undefined;
}

export function oneOf<T extends string>(o: Record<string, unknown>, name: string, allowed: readonly T[]): T | undefined {
  const value = o[name];
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) {
    throw new ZerosendError(
      codes.invalidArgValue,
      `The property 'options.${name}' must be one of: ${allowed.map((a) => `'${a}'`).join(', ')}. ${describe(value)}`,
    );
  }
  return value as T;
}

/** A list of strings (serve-static's `index`, `extensions`); `false` is an empty list. */
export function stringList(o: Record<string, unknown>, name: string, fallback: string[]): string[] {
  const value = o[name];
  if (value === undefined) return fallback;
  if (value === false) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const item of list) {
    if (typeof item !== 'string' || item === '') {
      throw invalidArgType(`options.${name}`, 'a string, an array of non-empty strings, or false', value);
    }
  }
  return list as string[];
}

function parseEtag(value: unknown): ResponseSettings['etag'] {
  if (value === undefined || value === true || value === 'strong') return 'strong';
  if (value === 'weak') return 'weak';
  if (value === false) return false;
  throw new ZerosendError(
    codes.invalidArgValue,
    `The property 'options.etag' must be one of: true, false, 'strong', 'weak'. ${describe(value)}`,
  );
}

/**
 * Milliseconds from a number or an `ms` string (`'500ms'`, `'30s'`, `'2h'`, `'1d'`, `'1y'`),
 * capped at one year as `send` caps it (`Infinity` included).
 */
export function parseMaxAge(value: unknown): number {
  const milliseconds = typeof value === 'string' ? ms(value as ms.StringValue) : value;
  if (typeof milliseconds !== 'number' || Number.isNaN(milliseconds) || milliseconds < 0) {
    throw new ZerosendError(
      codes.invalidArgValue,
      `The property 'options.maxAge' must be milliseconds >= 0 or a duration such as '1d'. ${describe(value)}`,
    );
  }
  return Math.min(milliseconds, ONE_YEAR_MS);
}

/** An explicit method this install cannot run would fail every response: refuse it up front. */
function runnable(method: Method): Method {
  if (method === 'auto') return method;
  const can = capabilities();
  if (!can.native) throw unsupported(method, 'the native binding is not available');
  if (method !== 'copy' && !can[method]) throw unsupported(method, `this platform has no ${method}`);
  return method;
}
