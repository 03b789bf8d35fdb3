/**
 * `zerosend serve`'s flags, checked once before anything listens or forks: a bad value is a
 * `UsageError` — one line on stderr and exit code 2, as for commander's own parse errors — not a
 * stack trace, and not one failure per cluster worker.
 */
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { createSecureContext } from 'node:tls';

import type { Method } from '../options';

import { parseResponseOptions } from '../http/response-options';

/** What commander hands the action. */
export interface ServeFlags {
  port: number;
  host: string;
  workers: number;
  quiet?: boolean;
  maxAge: string;
  precompressed?: boolean;
  dotfiles: 'ignore' | 'deny' | 'allow';
  grace: number;
  method: Method;
  listing: boolean;
  spa?: boolean;
  cors?: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

/** The flags, checked, with the folder resolved and the TLS files read. */
export interface ServeConfig extends Required<Omit<ServeFlags, 'tlsCert' | 'tlsKey'>> {
  root: string;
  tls: { cert: Buffer; key: Buffer } | undefined;
}

/** A mistake in the command line: the message says what to change. */
export class UsageError extends Error {}

export function resolveServeConfig(dir: string, flags: ServeFlags): ServeConfig {
  const root = path.resolve(dir);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`${root} is not a directory: give the folder to serve (zerosend serve DIR)`);
  }
  checkResponseOptions(flags);
  const { tlsCert, tlsKey, ...rest } = flags;
  return {
    ...rest,
    quiet: flags.quiet === true,
    precompressed: flags.precompressed === true,
    spa: flags.spa === true,
    cors: flags.cors === true,
    root,
    tls: readTls(tlsCert, tlsKey),
  };
}

/**
 * What the static middleware would refuse when each process creates it — an explicit `--method`
 * this install cannot run (no native binding, no splice) — refused here, once, before any fork.
 */
function checkResponseOptions(flags: ServeFlags): void {
  try {
    parseResponseOptions({ method: flags.method, maxAge: flags.maxAge, dotfiles: flags.dotfiles });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Both files or neither; each readable; together a certificate and its key, as OpenSSL sees them. */
function readTls(certFile: string | undefined, keyFile: string | undefined): ServeConfig['tls'] {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    const [given, missing] = certFile === undefined ? ['--tls-key', '--tls-cert'] : ['--tls-cert', '--tls-key'];
    throw new UsageError(`${given} needs ${missing} too: give both PEM files for HTTPS, or neither for HTTP`);
  }
  const tls = { cert: readPem('--tls-cert', certFile), key: readPem('--tls-key', keyFile) };
  try {
    createSecureContext(tls);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      `--tls-cert ${certFile} and --tls-key ${keyFile} are not a PEM certificate and its private key (${reason}); ` +
        'a pair for testing: openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out cert.pem',
    );
  }
  return tls;
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UsageError(`${flag} ${file}: cannot read it (${code}); give the path of a PEM file`);
  }
}
