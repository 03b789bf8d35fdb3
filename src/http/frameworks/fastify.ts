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
import type { ServerResponse } from 'node:http';
import * as path from 'node:path';

import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';

import { codes, ZerosendError } from '../../errors';
import { endedEarly, planResponse, sendPlanned, type ServedInfo } from '../file-response';
import { findFile, findIndex, precompressedVariant, type Found } from '../find-file';
import { httpError, type HttpError } from '../http-error';
import { OpenFiles } from '../open-files';
import { clearRepresentation, directoryLocation } from '../plain-response';
import { parseRequestPath } from '../request-path';
import { booleanOption, functionOption, optionsObject, parseResponseOptions, stringList, type ResponseOptions, type ResponseSettings } from '../response-options';
import { answerWithFile, parseSendFileOptions, type OneFileSettings, type SendFileOptions } from '../send-file';

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Answers with the file at `filePath` under the plugin's root — or under `rootPath` — zero-copy.
     * A missing file goes to the not-found handler. @fastify/static's signature.
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
  /** A directory without its trailing `/` redirects (301). Default false, as @fastify/static: its index is served. */
  redirect?: boolean;
  /** `'allow'` by default, as @fastify/static (`.well-known` works); `'ignore'` or `'deny'` to hide dotfiles. */
  dotfiles?: 'ignore' | 'deny' | 'allow';
  /** Serve `file.br` / `file.gz` to clients that accept them, with `Vary: Accept-Encoding`. Default false. */
  preCompressed?: boolean;
  /** Called as `fn(reply, path, stat)` before the default headers; what it sets with `reply.header()` wins. */
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

/** Options @fastify/static has that this plugin does not: refused by name rather than ignored. */
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
  /** What `reply.sendFile()` uses when called without options. */
  sendFileDefaults: OneFileSettings;
}

function zerosendFastify(fastify: FastifyInstance, options: ZerosendFastifyOptions, done: (error?: Error) => void): void {
  const settings = resolvePluginSettings(options);
  const served = settings.roots.map((root) => new OpenFiles(root, 256, 30_000, !(options.followSymlinks === true)));
  fastify.addHook('onClose', (_instance, closed) => {
    for (const files of served) files.close();
    closed();
  });
  if (options.decorateReply !== false) decorateReply(fastify, settings);
  if (options.serve !== false) {
    if (settings.roots.length === 0) throw new ZerosendError(codes.invalidArgValue, "zerosend/fastify: option 'root' is required to serve files");
    fastify.route({
      method: ['GET', 'HEAD'],
      url: `${settings.prefix}*`,
      constraints: options.constraints,
      logLevel: options.logLevel,
      // `hide` is read by @fastify/swagger, not by Fastify's schema types.
      schema: { hide: options.schemaHide ?? true } as RouteShorthandOptions['schema'],
      handler: (request, reply) => serveUrl(request, reply, settings, served),
    });
  }
  done();
}

function resolvePluginSettings(options: ZerosendFastifyOptions): PluginSettings {
  const o = optionsObject(options);
  for (const name of UNSUPPORTED) {
    if (o[name] !== undefined && !(name === 'wildcard' && o[name] === true)) {
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
  const responseSettings = { ...shared, setHeaders: undefined };
  return {
    ...responseSettings,
    roots,
    prefix,
    index: stringList(o, 'index', ['index.html']),
    extensions: stringList(o, 'extensions', []).map((extension) => extension.replace(/^\./, '')),
    redirect: booleanOption(o, 'redirect') ?? false,
    precompressed: booleanOption(o, 'preCompressed') ?? booleanOption(o, 'precompressed') ?? false,
    allowedPath: functionOption(o, 'allowedPath') as ZerosendFastifyOptions['allowedPath'],
    replySetHeaders,
    sendFileDefaults: {
      ...responseSettings,
      root: roots[0],
      download: false,
      contentType: undefined,
      headers: undefined,
      followSymlinks: booleanOption(o, 'followSymlinks') ?? false,
      signal: undefined,
    },
  };
}

/** The serving route: the URL after the prefix, under each root in turn. */
function serveUrl(request: FastifyRequest, reply: FastifyReply, settings: PluginSettings, served: OpenFiles[]): void {
  const target = parseRequestPath(pathAfterPrefix(request), { canonical: true });
  if (!target.ok) return void reply.send(httpError(target.status));
  if (target.dotfile && settings.dotfiles !== 'allow') {
    return void (settings.dotfiles === 'deny' ? reply.send(httpError(403)) : reply.callNotFound());
  }
  const pathName = `/${target.segments.join('/')}${target.trailingSlash && target.segments.length > 0 ? '/' : ''}`;
  for (let i = 0; i < settings.roots.length; i++) {
    const root = settings.roots[i]!;
    if (settings.allowedPath && !settings.allowedPath(pathName, root, request)) break;
    const fsPath = path.join(root, ...target.segments);
    const found = findFile(served[i]!, fsPath, target.trailingSlash ? [] : settings.extensions);
    if (found.kind === 'miss') {
      if (found.status === 404) continue;
      return void reply.send(httpError(found.status, found.code === undefined ? undefined : { code: found.code, path: fsPath }));
    }
    if (found.kind === 'directory') {
      if (!target.trailingSlash && settings.redirect) return void reply.redirect(directoryLocation(request.raw), 301);
      const index = findIndex(served[i]!, fsPath, settings.index);
      if (index.kind === 'miss' && index.status === 404) continue;
      return serveFound(request, reply, settings, served[i]!, index);
    }
    if (target.trailingSlash) {
      served[i]!.release(found.file);
      continue;
    }
    return serveFound(request, reply, settings, served[i]!, found);
  }
  reply.callNotFound();
}

function serveFound(request: FastifyRequest, reply: FastifyReply, settings: PluginSettings, files: OpenFiles, found: Found): void {
  if (found.kind !== 'file') return void reply.send(httpError(found.kind === 'miss' ? found.status : 404));
  const original = found.file;
  const variant = settings.precompressed ? precompressedVariant(files, original, request.headers['accept-encoding']) : undefined;
  const file = variant?.file ?? original;
  const encoding = variant?.encoding;
  const release = (): void => {
    files.release(file);
    if (file !== original) files.release(original);
  };
  try {
    const answer = planAndSend(reply, settings, { file, typeFrom: original, encoding, varies: settings.precompressed }, settings.replySetHeaders);
    if (!(answer instanceof Promise)) {
      release();
      return void reply.send(answer);
    }
    void answer.then((info) => {
      if (endedEarly(info)) files.invalidate(file);
      release();
      logFailure(reply, info);
    });
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * Moves what the app set with `reply.header()` onto the raw response, plans, and either hands a
 * refusal back (nothing written: Fastify's error handler answers it) or hijacks the reply and sends.
 */
function planAndSend(
  reply: FastifyReply,
  settings: ResponseSettings,
  request: Parameters<typeof planResponse>[2],
  replySetHeaders: ZerosendFastifyOptions['setHeaders'],
): HttpError | Promise<ServedInfo> {
  const res = reply.raw;
  moveReplyHeaders(reply, res);
  const withHooks = replySetHeaders
    ? { ...settings, setHeaders: (_res: ServerResponse, file: string, stat: import('node:fs').Stats) => (replySetHeaders(reply, file, stat), moveReplyHeaders(reply, res)) }
    : settings;
  const plan = planResponse(reply.request.raw, res, request, withHooks);
  if (plan.kind === 'refused') {
    clearRepresentation(res);
    return httpError(plan.status, undefined, plan.headers);
  }
  reply.hijack();
  return Promise.resolve(sendPlanned(reply.request.raw, res, plan, request.file, settings));
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

/** `reply.sendFile()` / `reply.download()`: one file, the plugin's options unless overridden. */
function sendOne(
  reply: FastifyReply,
  settings: PluginSettings,
  filePath: string,
  rootPath: string | SendFileOptions | undefined,
  options: SendFileOptions | undefined,
  download: boolean | string,
): FastifyReply {
  const perCall = typeof rootPath === 'object' ? rootPath : options;
  const root = typeof rootPath === 'string' ? rootPath : perCall?.root;
  const oneFile =
    perCall === undefined && root === undefined && download === false
      ? settings.sendFileDefaults
      : parseSendFileOptions({ ...perCall, root: root ?? settings.sendFileDefaults.root, download }, settings.sendFileDefaults);
  if (oneFile.root === undefined && !path.isAbsolute(filePath)) return notFound(reply);
  moveReplyHeaders(reply, reply.raw);
  const answer = answerWithFile(reply.request.raw, reply.raw, filePath, oneFile);
  if (!(answer instanceof Promise)) {
    if (answer.status === 404) return notFound(reply);
    clearRepresentation(reply.raw);
    return reply.send(answer);
  }
  reply.hijack();
  void answer.then((info) => logFailure(reply, info));
  return reply;
}

function notFound(reply: FastifyReply): FastifyReply {
  reply.callNotFound();
  return reply;
}

/** Headers set with `reply.header()` live on the reply until Fastify sends; we send without it. */
function moveReplyHeaders(reply: FastifyReply, res: ServerResponse): void {
  const headers = reply.getHeaders();
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) res.setHeader(name, value);
  }
}

/** The URL path after the route's prefix, still percent-encoded (the parser decodes it once). */
function pathAfterPrefix(request: FastifyRequest): string {
  const url = request.raw.url ?? '/';
  const end = url.search(/[?#]/);
  const pathname = end === -1 ? url : url.slice(0, end);
  const route = request.routeOptions.url ?? '';
  const literal = route.endsWith('*') ? route.slice(0, -1) : route;
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
}

// Fastify plugins share their decorators with the registering scope when `skip-override` is set
// (what the `fastify-plugin` package does); the metadata names the plugin and its Fastify range.
// `require('zerosend/fastify')` is the plugin itself; `.default` and `.zerosendFastify` name it for
// `import plugin from` without esModuleInterop, as Fastify's own plugins do.
Object.assign(zerosendFastify, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'zerosend',
  [Symbol.for('plugin-meta')]: { name: 'zerosend', fastify: '5.x' },
  default: zerosendFastify,
  zerosendFastify,
});

export = zerosendFastify;
