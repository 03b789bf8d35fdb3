/**
 * The header values that describe a file version: `ETag`, `Last-Modified`, `Content-Type`.
 * They depend only on the file's stat and name, so the open-file cache keeps them per entry.
 */
import type { Stats } from 'node:fs';
import * as path from 'node:path';

import { contentType } from 'mime-types';

/** `"<size>-<mtime ms>"` in hex, as nginx does (with milliseconds, so a same-second rewrite changes it). */
export function entityTag(stat: Stats, kind: 'strong' | 'weak'): string {
  const tag = `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
  return kind === 'weak' ? `W/${tag}` : tag;
}

/** The modification time as HTTP dates have it: whole seconds. */
export function lastModifiedMs(stat: Stats): number {
  return Math.floor(stat.mtimeMs / 1000) * 1000;
}

const contentTypes = new Map<string, string>();

/** `Content-Type` from the extension (`mime-types`, with a charset for text); octet-stream if unknown. */
export function contentTypeOf(fileName: string): string {
  const extension = path.extname(fileName).toLowerCase();
  let type = contentTypes.get(extension);
  if (type === undefined) {
    type = (extension !== '' && contentType(extension)) || 'application/octet-stream';
    if (contentTypes.size < 1000) contentTypes.set(extension, type);
  }
  return type;
}
