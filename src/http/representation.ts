/**
 * The header values that describe a file version: `ETag` (the `etag` package, as `send` makes
 * it), `Last-Modified`, `Content-Type` (`mime-types`). They depend only on the file's stat and
 * name, so the open-file cache keeps them per entry.
 */
import type { Stats } from 'node:fs';
import * as path from 'node:path';

import etag from 'etag';
import { contentType } from 'mime-types';

/**
 * `"<size>-<mtime ms>"` in hex: `etag`'s tag for a stat, with milliseconds, so a rewrite in the same
 * second changes it. Strong unless asked for weak (send's default is weak; a strong tag lets
 * `If-Range` resume a download, as nginx's does).
 */
export function entityTag(stat: Stats, kind: 'strong' | 'weak'): string {
  return etag(stat, { weak: kind === 'weak' });
}

/** `Last-Modified`: the modification time as an HTTP date (whole seconds). */
export function lastModifiedOf(stat: Stats): string {
  return stat.mtime.toUTCString();
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
