/**
 * `zerosend/fastify`: a Fastify plugin in the shape of @fastify/static — it serves `root` under
 * `prefix` and decorates `reply.sendFile()` / `reply.download()` — whose bodies go out zero-copy
 * through the same engine as `serveStatic`.
 *
 * How it fits Fastify's lifecycle: `onRequest`/`preHandler` hooks run before (auth can refuse), a
 * miss goes to the app's not-found handler (`reply.callNotFound()`), a refusal (403, 400, 412,
 * 416) to its error handler (`reply.send(err)`), headers set with `reply.header()` go out, and
 * the reply is hijacked only once the file is found — Fastify still runs `onResponse` hooks, with
 * the real status, when the response finishes. `onSend` hooks do not see the body (no payload
 * passes through Fastify: that is the point).
 *
 * @example
 * fastify.register(require('zerosend/fastify'), { root: path.join(__dirname, 'public'), prefix: '/public/' })
 * fastify.get('/report', (req, reply) => reply.download('report.pdf'))
 */
import type { OutgoingHttpHeader, ServerResponse } from 'node:http';
import * as path from 'node:path';

import type { FastifyError, FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';

import { codes, ZerosendError } from '../../errors';
import { endedEarly, planResponse, sendPlanned, type ServedInfo } from '../file-response';
import { findFile, findIndex, representation, type Found } from '../find-file';
import { httpError, type HttpError } from '../http-error';
import { OpenFiles } from '../open-files';
import { clearRepresentation, directoryLocation } from '../plain-response';
import { fileUnder, parseRequestPath } from '../request-path';
import { booleanOption, functionOption, optionsObject, parseResponseOptions, stringList, type ResponseOptions, type ResponseSettings } from '../response-options';
import { answerWithFile, parseSendFileOptions, type OneFileSettings, type SendFileOptions } from '../send-file';

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Answers with the file at `filePath` under `rootPath`, or else under the plugin's roots (tried
     * in order), zero-copy. The plugin's options apply unless `options` overrides them. A missing
     * file goes to the not-found handler, a refusal (403) to the error handler. @fastify/static's
     * signature.
     */
    sendFile(filePath: string, rootPath?: string | SendFileOptions, options?: SendFileOptions): FastifyReply;
    /** `sendFile` with `Content-Disposition: attachment` (`filename`, or the file's own name). */
    download(filePath: string, filename?: string | SendFileOptions, options?: SendFileOptions): FastifyReply;
  }
}

/** @fastify/static's options where the two overlap, plus zerosend's own. */
interface ZerosendFastifyOptions extends ResponseOptions {
  /** The folder (or folders, tried in order) to serve; absolute or relative to the working directory. */
  root?: string | string[];
  /** The URL prefix the files are served under. Default `'/'`. */
  prefix?: string;
  /** Do not add a `/` to `prefix`. Default false. */
  prefixAvoidTrailingSlash?: boolean;
  /** Serve GET/HEAD under `prefix`. Default true; false only decorates the reply. */
  serve?: boolean;
  /** Add `reply.sendFile()` and `reply.download()`. Default true (only one registration may). */
  decorateReply?: boolean;
  /** Index file(s) for a directory. Default `'index.html'`; `false` disables. */
  index?: string | string[] | false;
  /** Clean URLs: `/about` serves `about.html` with `['html']`. Default none. */
  extensions?: string[] | false;
  /**
   * A directory without its trailing `/` redirects (301), the prefix itself included. Default false,
   * as @fastify/static: its index is served.
   */
  redirect?: boolean;
  /** `'allow'` by default, as @fastify/static (`.well-known` works); `'ignore'` or `'deny'` to hide dotfiles. */
  dotfiles?: 'ignore' | 'deny' | 'allow';
  /** Serve `file.br` / `file.gz` to clients that accept them, with `Vary: Accept-Encoding`. Default false. */
  preCompressed?: boolean;
  /**
   * Called as `fn(reply, path, stat)` before the default headers, for the served files and for
   * `reply.sendFile()` (as @fastify/static); what it sets with `reply.header()` wins.
   */
  setHeaders?: (reply: FastifyReply, path: string, stat: import('node:fs').Stats) => void;
  /** Filters what is served: `false` goes to the not-found handler. */
  allowedPath?: (pathName: string, root: string, request: FastifyRequest) => boolean;
  /** Follow symlinks that resolve outside the root. Default false (403). */
  followSymlinks?: boolean;
  /** Route options of the serving route. */
  constraints?: RouteShorthandOptions['constraints'];
  logLevel?: RouteShorthandOptions['logLevel'];
  schemaHide?: boolean;
}

/** Options @fastify/static has that this plugin does not: refused by name rather than ignored (`register()` fails). */
const UNSUPPORTED = ['wildcard', 'list', 'globIgnore', 'serveDotFiles', 'onFile'] as const;

interface PluginSettings extends ResponseSettings {
  roots: string[];
  prefix: string;
  index: string[];
  extensions: string[];
  redirect: boolean;
  precompressed: boolean;
  allowedPath: ZerosendFastifyOptions['allowedPath'];
  replySetHeaders: ZerosendFastifyOptions['setHeaders'];
  /** What `reply.sendFile()` uses when called without options: one per root (one without a root if none). */
  sendFileDefaults: OneFileSettings[];
  /** The plugin's options that `reply.sendFile(path, options)` starts from (as @fastify/static's do). */
  sendFileOptions: Record<string, unknown>;
}

/** The plugin options a `reply.sendFile()` call inherits; its own options win over them. */
const SEND_FILE_OPTIONS = ['dotfiles', 'etag', 'lastModified', 'maxAge', 'maxage', 'immutable', 'cacheControl', 'acceptRanges', 'method', 'followSymlinks', 'index'];

function zerosendFastify(fastify: FastifyInstance, options: ZerosendFastifyOptions, done: (error?: Error) => void): void {
  // A callback plugin that throws is not caught by Fastify's loader (avvio): the exception would end
  // the process. A bad option must fail `register()`/`ready()` instead, as @fastify/static's do.
  try {
    setUp(fastify, options);
  } catch (error) {
    return done(error as Error);
  }
  done();
}

function setUp(fastify: FastifyInstance, options: ZerosendFastifyOptions): void {
  const settings = resolvePluginSettings(options);
  if (options.serve !== false && settings.roots.length === 0) {
    throw new ZerosendError(codes.invalidArgValue, "zerosend/fastify: option 'root' is required to serve files");
  }
  const served = settings.roots.map((root) => new OpenFiles(root, 256, 30_000, !(options.followSymlinks === true)));
  fastify.addHook('onClose', (_instance, closed) => {
    for (const files of served) files.close();
    closed();
  });
  if (options.decorateReply !== false) decorateReply(fastify, settings);
  if (options.serve === false) return;
  const routeOptions = {
    constraints: options.constraints,
    logLevel: options.logLevel,
    // `hide` is read by @fastify/swagger, not by Fastify's schema types.
    schema: { hide: options.schemaHide ?? true } as RouteShorthandOptions['schema'],
    // A route keeps the error handler of the moment it was added; an app that calls
    // `setErrorHandler()` after `await register()` expects it to answer the 403s and 416s too (it
    // does with @fastify/static, whose route asks for the current one the same way).
    errorHandler: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => fastify.errorHandler(error, request, reply),
  };
  // The route's URL up to its `*`, with any prefix Fastify put before the plugin's: read from the
  // first request (`request.routeOptions` builds a new object on every access).
  let routePrefix: string | undefined;
  fastify.route({
    ...routeOptions,
    method: ['GET', 'HEAD'],
    url: `${settings.prefix}*`,
    handler: (request, reply) => serveUrl(request, reply, settings, served, (routePrefix ??= literalPrefix(request))),
  });
  // The prefix is the root directory: without its slash it redirects too (as @fastify/static).
  if (settings.redirect && options.prefix !== undefined && options.prefix !== settings.prefix) {
    fastify.route({
      ...routeOptions,
      method: ['GET', 'HEAD'],
      url: options.prefix,
      handler: (request, reply) => void reply.redirect(directoryLocation(request.raw), 301),
    });
  }
}

function resolvePluginSettings(options: ZerosendFastifyOptions): PluginSettings {
  const o = optionsObject(options);
  for (const name of UNSUPPORTED) {
    // `wildcard: true` and `list: false` only say what this plugin does anyway.
    if (o[name] !== undefined && !(name === 'wildcard' && o[name] === true) && !(name === 'list' && o[name] === false)) {
      throw new ZerosendError(codes.invalidArgValue, `zerosend/fastify: option '${name}' of @fastify/static is not supported`);
    }
  }
  const rootList = o.root === undefined ? [] : Array.isArray(o.root) ? o.root : [o.root];
  for (const root of rootList) {
    if (typeof root !== 'string' || root === '') throw new ZerosendError(codes.invalidArgType, "zerosend/fastify: option 'root' must be a path or an array of paths");
  }
  let prefix = o.prefix ?? '/';
  if (typeof prefix !== 'string' || !prefix.startsWith('/')) throw new ZerosendError(codes.invalidArgValue, "zerosend/fastify: option 'prefix' must start with '/'");
  if (!booleanOption(o, 'prefixAvoidTrailingSlash') && !prefix.endsWith('/')) prefix += '/';
  const shared = parseResponseOptions(o, { dotfiles: 'allow' });
  const roots = (rootList as string[]).map((root) => path.resolve(root));
  const replySetHeaders = functionOption(o, 'setHeaders') as ZerosendFastifyOptions['setHeaders'];
  // Hijacked replies: Fastify's own API never reads the raw response's headers (it sends its own
  // with one writeHead, as a plain whole file's may go out here).
  const responseSettings = { ...shared, setHeaders: undefined, ownsResponse: true };
  const index = stringList(o, 'index', ['index.html']);
  return {
    ...responseSettings,
    roots,
    prefix,
    index,
    extensions: stringList(o, 'extensions', []).map((extension) => extension.replace(/^\./, '')),
    redirect: booleanOption(o, 'redirect') ?? false,
    precompressed: booleanOption(o, 'preCompressed') ?? booleanOption(o, 'precompressed') ?? false,
    allowedPath: functionOption(o, 'allowedPath') as ZerosendFastifyOptions['allowedPath'],
    replySetHeaders,
    sendFileDefaults: (roots.length > 0 ? roots : [undefined]).map((root) => ({
      ...responseSettings,
      root,
      download: false,
      contentType: undefined,
      headers: undefined,
      followSymlinks: booleanOption(o, 'followSymlinks') ?? false,
      index,
      signal: undefined,
    })),
    sendFileOptions: definedOptions(o, SEND_FILE_OPTIONS),
  };
}

/** The options of `o` named in `names` (all of them when `names` is omitted) that have a value. */
function definedOptions(o: Record<string, unknown>, names?: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const name of names ?? Object.keys(o)) if (o[name] !== undefined) picked[name] = o[name];
  return picked;
}

/** The serving route: the URL after the prefix, under each root in turn. */
function serveUrl(request: FastifyRequest, reply: FastifyReply, settings: PluginSettings, served: OpenFiles[], routePrefix: string): void {
  const target = parseRequestPath(pathAfterPrefix(request, routePrefix), { canonical: true });
  if (!target.ok) return void reply.send(httpError(target.status));
  if (target.dotfile && settings.dotfiles !== 'allow') {
    return void (settings.dotfiles === 'deny' ? reply.send(httpError(403)) : reply.callNotFound());
  }
  const pathName = settings.allowedPath ? `/${target.segments.join('/')}${target.trailingSlash && target.segments.length > 0 ? '/' : ''}` : '';
  for (let i = 0; i < settings.roots.length; i++) {
    const root = settings.roots[i]!;
    if (settings.allowedPath && !settings.allowedPath(pathName, root, request)) break;
    const fsPath = fileUnder(root, target.segments);
    const found = findFile(served[i]!, fsPath, target.trailingSlash ? [] : settings.extensions);
    if (found.kind === 'miss') {
      if (found.status === 404) continue;
      return void reply.send(shown(httpError(found.status, found.code === undefined ? undefined : { code: found.code, path: fsPath })));
    }
    if (found.kind === 'directory') {
      if (!target.trailingSlash && settings.redirect) return void reply.redirect(directoryLocation(request.raw), 301);
      // With its `/` and no index to look for: send's 403, which @fastify/static passes on.
      if (target.trailingSlash && settings.index.length === 0) return void reply.send(httpError(403));
      const index = findIndex(served[i]!, fsPath, settings.index);
      if (index.kind === 'miss' && index.status === 404) continue;
      if (!allowedFinal(request, settings, served[i]!, root, pathName, index)) return void reply.callNotFound();
      return serveFound(request, reply, settings, served[i]!, index);
    }
    if (target.trailingSlash) {
      served[i]!.release(found.file);
      continue;
    }
    if (!allowedFinal(request, settings, served[i]!, root, pathName, found)) return void reply.callNotFound();
    return serveFound(request, reply, settings, served[i]!, found);
  }
  reply.callNotFound();
}

/**
 * `allowedPath` is asked again about the file the URL led to when it has another name — a
 * directory's index, a clean URL's `.html` — as @fastify/static asks: a filter that refuses
 * `/private/index.html` must refuse `/private/` too. A refused file is released.
 */
function allowedFinal(request: FastifyRequest, settings: PluginSettings, files: OpenFiles, root: string, pathName: string, found: Found): boolean {
  if (settings.allowedPath === undefined || found.kind !== 'file') return true;
  const finalName = `/${path.relative(root, found.file.path).split(path.sep).join('/')}`;
  if (finalName === pathName) return true;
  let allowed = false;
  try {
    allowed = settings.allowedPath(finalName, root, request);
  } finally {
    // A filter that throws goes to Fastify's error handler; the file must not stay held.
    if (!allowed) files.release(found.file);
  }
  return allowed;
}

function serveFound(request: FastifyRequest, reply: FastifyReply, settings: PluginSettings, files: OpenFiles, found: Found): void {
  if (found.kind !== 'file') return void reply.send(httpError(found.kind === 'miss' ? found.status : 404));
  const original = found.file;
  const { file, encoding, release } = representation(files, original, request.headers['accept-encoding'], settings.precompressed);
  try {
    const answer = planAndSend(reply, settings, { file, typeFrom: original, encoding, varies: settings.precompressed }, settings.replySetHeaders);
    if (answer instanceof Error) {
      release();
      return void reply.send(answer);
    }
    const done = (info: ServedInfo): void => {
      if (endedEarly(info)) files.invalidate(file);
      release();
      logFailure(reply, info);
    };
    // A small file goes out from memory at once: no promise to wait for.
    if (answer instanceof Promise) void answer.then(done);
    else done(answer);
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * Moves what the app set with `reply.header()` onto the raw response, plans, and either hands a
 * refusal back (nothing written: Fastify's error handler answers it) or hijacks the reply and sends
 * (what was sent, or a promise of it while the body is on its way).
 */
function planAndSend(
  reply: FastifyReply,
  settings: ResponseSettings,
  request: Parameters<typeof planResponse>[2],
  replySetHeaders: ZerosendFastifyOptions['setHeaders'],
): HttpError | ServedInfo | Promise<ServedInfo> {
  const res = reply.raw;
  moveReplyHeaders(reply, res);
  const withHooks = replySetHeaders ? { ...settings, setHeaders: replyHook(reply, replySetHeaders) } : settings;
  const plan = planResponse(reply.request.raw, res, request, withHooks);
  if (plan.kind === 'refused') {
    clearReplyRepresentation(reply);
    return httpError(plan.status, undefined, plan.headers);
  }
  reply.hijack();
  return sendPlanned(reply.request.raw, res, plan, request.file, settings);
}

function decorateReply(fastify: FastifyInstance, settings: PluginSettings): void {
  function sendFile(this: FastifyReply, filePath: string, rootPath?: string | SendFileOptions, options?: SendFileOptions): FastifyReply {
    return sendOne(this, settings, filePath, rootPath, options, false);
  }
  function download(this: FastifyReply, filePath: string, filename?: string | SendFileOptions, options?: SendFileOptions): FastifyReply {
    const perCall = typeof filename === 'object' ? filename : options;
    const name = typeof filename === 'string' ? filename : true;
    return sendOne(this, settings, filePath, perCall?.root, perCall, name);
  }
  fastify.decorateReply('sendFile', sendFile);
  fastify.decorateReply('download', download);
}

/**
 * `reply.sendFile()` / `reply.download()`: one file, under the root given for this call, else
 * under each of the plugin's roots in turn (as @fastify/static); the plugin's options unless the
 * call's own override them.
 */
function sendOne(
  reply: FastifyReply,
  settings: PluginSettings,
  filePath: string,
  rootPath: string | SendFileOptions | undefined,
  options: SendFileOptions | undefined,
  download: boolean | string,
): FastifyReply {
  const perCall = typeof rootPath === 'object' && rootPath !== null ? rootPath : options;
  const callRoot = typeof rootPath === 'string' ? rootPath : perCall?.root;
  const plain = perCall === undefined && callRoot === undefined && download === false;
  const candidates: OneFileSettings[] = plain
    ? settings.sendFileDefaults
    : (callRoot !== undefined ? [callRoot] : settings.sendFileDefaults.map((defaults) => defaults.root)).map((root) =>
        parseSendFileOptions(
          { ...settings.sendFileOptions, ...definedOptions(optionsObject(perCall)), root, download },
          { dotfiles: 'allow' },
        ),
      );
  moveReplyHeaders(reply, reply.raw);
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i]!;
    if (candidate.root === undefined && !path.isAbsolute(filePath)) return notFound(reply);
    const oneFile = settings.replySetHeaders ? { ...candidate, setHeaders: replyHook(reply, settings.replySetHeaders) } : candidate;
    let answer = answerWithFile(reply.request.raw, reply.raw, filePath, oneFile, false);
    if (answer instanceof Error && answer.code === 'EISDIR') {
      // A directory, as @fastify/static answers it: named without its `/`, a redirect to the
      // request's URL with one (`redirect: true`) or else its index, as if named with it; named
      // with its `/` but no index to look for, send's 403.
      if (filePath.endsWith('/')) answer = httpError(403);
      else if (settings.redirect) return reply.redirect(directoryLocation(reply.request.raw), 301);
      else answer = answerWithFile(reply.request.raw, reply.raw, `${filePath}/`, oneFile, false);
    }
    if (!(answer instanceof Error)) {
      reply.hijack();
      if (answer instanceof Promise) void answer.then((info) => logFailure(reply, info));
      else logFailure(reply, answer);
      return reply;
    }
    if (answer.status === 404) {
      if (i < candidates.length - 1) continue;
      return notFound(reply);
    }
    clearReplyRepresentation(reply);
    return reply.send(shown(answer));
  }
  return notFound(reply);
}

/**
 * Fastify's default error handler sends an error's `message` whatever its `expose` says; a system
 * error's message names a server path (`EACCES: permission denied, open '/srv/…'`). Such an error
 * reaches Fastify as the plain http error of its status, its `code` kept.
 */
function shown(error: HttpError): HttpError {
  if (error.expose) return error;
  const plain = httpError(error.status, undefined, error.headers);
  if (error.code !== undefined) plain.code = error.code;
  return plain;
}

/** The plugin's `setHeaders(reply, path, stat)` as the engine calls it; what it sets goes out. */
function replyHook(reply: FastifyReply, setHeaders: NonNullable<ZerosendFastifyOptions['setHeaders']>): ResponseSettings['setHeaders'] {
  return (res, file, stat) => {
    setHeaders(reply, file, stat);
    moveReplyHeaders(reply, res);
  };
}

/**
 * Before an error answers instead of the file: the headers that describe the file go, from the raw
 * response and from the reply (Fastify sends the reply's again), so that e.g. a year-long
 * `Cache-Control` from `setHeaders` does not reach a 416. Others (CORS, cookies) stay.
 */
function clearReplyRepresentation(reply: FastifyReply): void {
  clearRepresentation(reply.raw);
  for (const name of Object.keys(reply.getHeaders())) if (!reply.raw.hasHeader(name)) reply.removeHeader(name);
}

function notFound(reply: FastifyReply): FastifyReply {
  reply.callNotFound();
  return reply;
}

/** Headers set with `reply.header()` live on the reply until Fastify sends; we send without it. */
function moveReplyHeaders(reply: FastifyReply, res: ServerResponse): void {
  const headers = replyOwnHeaders(reply) ?? reply.getHeaders();
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) res.setHeader(name, value as OutgoingHttpHeader);
  }
}

/** Fastify's key for the headers a reply holds itself (`Symbol('fastify.reply.headers')`), once found. */
let replyHeadersKey: symbol | undefined;

/**
 * The headers set on the reply itself, without those already on the raw response. `getHeaders()`
 * gives both, in two new objects, on every request (1.8% of a 4 KiB answer's JS-thread samples in
 * `bench/http-profile.mjs --modes=cpu --servers=fastify-zerosend`), and copying the raw
 * response's headers onto itself changes nothing. Fastify does not export its key: it is found by
 * its description, once per Fastify copy; `undefined` (then `getHeaders()`) if a Fastify version
 * keeps the headers elsewhere.
 */
function replyOwnHeaders(reply: FastifyReply): Record<string, unknown> | undefined {
  const record = reply as unknown as Record<symbol, unknown>;
  if (replyHeadersKey === undefined || !isHeaderRecord(record[replyHeadersKey])) {
    replyHeadersKey = Object.getOwnPropertySymbols(reply).find((key) => key.description === 'fastify.reply.headers');
    if (replyHeadersKey === undefined || !isHeaderRecord(record[replyHeadersKey])) return undefined;
  }
  return record[replyHeadersKey] as Record<string, unknown>;
}

const isHeaderRecord = (value: unknown): boolean => typeof value === 'object' && value !== null;

/** The serving route's URL before its `*`. */
function literalPrefix(request: FastifyRequest): string {
  const route = request.routeOptions.url ?? '';
  return route.endsWith('*') ? route.slice(0, -1) : route;
}

/** The URL path after the route's prefix, still percent-encoded (the parser decodes it once). */
function pathAfterPrefix(request: FastifyRequest, literal: string): string {
  const url = request.raw.url ?? '/';
  const end = url.search(/[?#]/);
  const pathname = end === -1 ? url : url.slice(0, end);
  if (!literal.includes(':') && pathname.startsWith(literal)) return `/${pathname.slice(literal.length)}`;
  // A prefix with parameters, or one the client encoded: the router's own reading of the rest.
  const rest = (request.params as Record<string, string | undefined>)['*'] ?? '';
  return `/${rest.split('/').map(encodeURIComponent).join('/')}`;
}

/** A body that did not arrive whole: the connection was closed; Fastify's log hears why. */
function logFailure(reply: FastifyReply, info: ServedInfo): void {
  if (info.error === undefined) return;
  const clientLeft = info.error === codes.socketClosed || info.error === 'EPIPE' || info.error === 'ECONNRESET';
  const message = `zerosend: ${info.path ?? 'the file'} was not sent whole (${info.error} after ${info.bytes} body bytes); the connection was closed`;
  if (clientLeft) reply.log.debug(message);
  else reply.log.warn(message);
}

// eslint-disable-next-line @typescript-eslint/no-namespace
namespace zerosendFastify {
  /** The plugin's options. */
  export type Options = ZerosendFastifyOptions;
  /** The plugin's type, for `register()`. */
  export type Plugin = FastifyPluginCallback<ZerosendFastifyOptions>;
  /** The plugin by name: `const { zerosendFastify } = require('zerosend/fastify')`. */
  export declare const zerosendFastify: Plugin;
}

// Fastify plugins share their decorators with the registering scope when `skip-override` is set
// (what the `fastify-plugin` package does); the metadata names the plugin and its Fastify range.
// `require('zerosend/fastify')` is the plugin itself; `.default` and `.zerosendFastify` name it for
// code compiled from `import plugin from` / `import { zerosendFastify } from` (Babel, TypeScript
// with esModuleInterop), as Fastify's own plugins do. TypeScript without esModuleInterop writes
// `import plugin = require('zerosend/fastify')`; ES modules get esm/fastify.mjs.
Object.assign(zerosendFastify, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'zerosend',
  [Symbol.for('plugin-meta')]: { name: 'zerosend', fastify: '5.x' },
  default: zerosendFastify,
  zerosendFastify,
});

export = zerosendFastify;
