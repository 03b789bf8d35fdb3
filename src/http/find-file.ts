/**
 * From a file-system path to an open file, as `send` searches: the path itself, then — for a
 * missing name without an extension — the path with each of the `extensions` (clean URLs), for a
 * directory the first of its index files, and for a file its precompressed variant.
 */
import * as path from 'node:path';

import { acceptedEncodings, type Encoding } from './accept-encoding';
import type { OpenFile, OpenFiles } from './open-files';

export type Found =
  | { kind: 'file'; file: OpenFile }
  | { kind: 'directory' }
  /** 404 (absent, not a regular file), 403 (not readable, a symlink out of the root, a path that
   * climbs out) or 400 (a malformed path); `code` is the errno where there was one, for `path`. */
  | { kind: 'miss'; status: 400 | 403 | 404; code?: string; path?: string };

const NOT_FOUND: Found = { kind: 'miss', status: 404 };

/** Every `file` result must be `release()`d on `files`. */
export function findFile(files: OpenFiles, fsPath: string, extensions: readonly string[]): Found {
  const found = files.lookup(fsPath);
  switch (found.kind) {
    case 'file':
    case 'directory':
      return found;
    case 'forbidden':
      return { kind: 'miss', status: 403, code: found.code };
    case 'missing':
      if (extensions.length > 0 && found.code === 'ENOENT' && path.extname(fsPath) === '') {
        return withExtension(files, fsPath, extensions) ?? { kind: 'miss', status: 404, code: found.code };
      }
      return found.code === undefined ? NOT_FOUND : { kind: 'miss', status: 404, code: found.code };
  }
}

/** The first of `fsPath.ext` that is a file; directories and misses are passed over, as send does. */
function withExtension(files: OpenFiles, fsPath: string, extensions: readonly string[]): Found | undefined {
  for (const extension of extensions) {
    const found = files.lookup(`${fsPath}.${extension}`);
    if (found.kind === 'file') return found;
    if (found.kind === 'forbidden') return { kind: 'miss', status: 403, code: found.code };
  }
  return undefined;
}

/** The first index file of `directory` that is a file; a 404 (with the last candidate's errno, as send) when none is. */
export function findIndex(files: OpenFiles, directory: string, names: readonly string[]): Found {
  let miss = NOT_FOUND;
  for (const name of names) {
    const candidate = path.join(directory, name);
    const found = files.lookup(candidate);
    if (found.kind === 'file') return found;
    if (found.kind === 'forbidden') return { kind: 'miss', status: 403, code: found.code, path: candidate };
    miss = found.kind === 'missing' && found.code !== undefined ? { kind: 'miss', status: 404, code: found.code, path: candidate } : NOT_FOUND;
  }
  return miss;
}

/** A found file as a door sends it (`representation`). */
export interface Representation {
  /** What to send: the file found, or its precompressed variant. */
  file: OpenFile;
  /** The variant's encoding, when `file` is one. */
  encoding?: Encoding;
  /**
   * Gives back what the lookups took (the file found, and the variant), exactly once, whatever
   * way the answer goes: a second release could close a descriptor number already reused by
   * another file, a missing one would pin the descriptor for good.
   */
  release(): void;
}

/**
 * `original` as the client will get it: its precompressed variant when `offered` allows one
 * (`true`: any, a list: those, `false`: none) that the client accepts and that exists, else
 * itself. Takes over `original`'s release; if looking for the variant throws (EMFILE),
 * `original` is released before the error goes on.
 */
export function representation(
  files: OpenFiles,
  original: OpenFile,
  acceptEncoding: string | string[] | undefined,
  offered: boolean | readonly Encoding['name'][],
): Representation {
  let variant: { file: OpenFile; encoding: Encoding } | undefined;
  if (offered !== false) {
    try {
      variant = precompressedVariant(files, original, acceptEncoding, offered === true ? undefined : offered);
    } catch (error) {
      files.release(original);
      throw error;
    }
  }
  let released = false;
  return {
    file: variant?.file ?? original,
    encoding: variant?.encoding,
    release: () => {
      if (released) return;
      released = true;
      if (variant !== undefined) files.release(variant.file);
      files.release(original);
    },
  };
}

/**
 * The precompressed variant of `original` (`file.br`, `file.gz`) that the client accepts and that
 * exists, best first; `undefined` when none. A variant returned must be released too.
 */
function precompressedVariant(
  files: OpenFiles,
  original: OpenFile,
  acceptEncoding: string | string[] | undefined,
  offered?: readonly Encoding['name'][],
): { file: OpenFile; encoding: Encoding } | undefined {
  for (const encoding of acceptedEncodings(acceptEncoding)) {
    if (offered !== undefined && !offered.includes(encoding.name)) continue;
    const found = files.lookup(original.path + encoding.suffix);
    if (found.kind === 'file') return { file: found.file, encoding };
  }
  return undefined;
}
