/**
 * The HTML page of a directory listing: a breadcrumb title, a table of entries (name, size,
 * modified), a count. One inline stylesheet, light and dark by `prefers-color-scheme`; no script,
 * no external asset (the icons are SVG data URIs inside the stylesheet), so the page carries a
 * Content-Security-Policy that allows exactly that stylesheet and nothing else.
 *
 * Every name is HTML-escaped where it is shown and percent-encoded (`encodeURIComponent`) where it
 * is linked: links are relative to the directory's URL, which ends in `/`, so a name with a space,
 * `#`, `?`, `%` or `:` links to itself and the page works wherever a router mounted it.
 */
import { createHash } from 'node:crypto';

import escapeHtml from 'escape-html';

import type { DirectoryEntry } from './directory-entries';

export interface ListingPage {
  /** The decoded path segments of the directory below the served root (empty at the root). */
  segments: readonly string[];
  /** Where a router mounted the server (`/static`), shown before the path; `''` when not mounted. */
  mountPath: string;
  entries: readonly DirectoryEntry[];
}

/** The page's HTML. */
export function renderListingPage(page: ListingPage): string {
  const { segments, mountPath, entries } = page;
  const shownPath = `${mountPath}/${segments.map((segment) => `${segment}/`).join('')}`;
  const rows = entries.map(entryRow);
  if (segments.length > 0) rows.unshift(PARENT_ROW);
  if (entries.length === 0) rows.push('<tr><td class="empty" colspan="3">This folder is empty.</td></tr>');
  return (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n<meta name="color-scheme" content="light dark">\n' +
    `<title>Index of ${escapeHtml(shownPath)}</title>\n<style>${STYLESHEET}</style>\n</head>\n<body>\n<main>\n` +
    `<h1><span class="lead">Index of</span> ${breadcrumbs(segments, mountPath)}</h1>\n` +
    '<table>\n<thead><tr><th class="name">Name</th><th class="size">Size</th><th class="time">Modified</th></tr></thead>\n' +
    `<tbody>\n${rows.join('\n')}\n</tbody>\n</table>\n` +
    `<footer>${summary(entries)}</footer>\n</main>\n</body>\n</html>\n`
  );
}

/** Sizes as people read them: `777 B`, then KiB, MiB, GiB with one decimal (`1.5 KiB`). */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  // Move up while the rounded figure would read 1024.0 or more (1 048 575 B is 1.0 MiB, not 1024.0 KiB).
  while (unit < SIZE_UNITS.length - 1 && Number(value.toFixed(1)) >= 1024) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${SIZE_UNITS[unit]}`;
}

/** An absolute date in the server's time zone, to the minute: `2021-06-01 12:00` (as `ls -l --time-style`). */
export function formatModified(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}`;
}

const SIZE_UNITS = ['KiB', 'MiB', 'GiB'];

function entryRow(entry: DirectoryEntry): string {
  const directory = entry.type === 'directory';
  const href = encodeURIComponent(entry.name) + (directory ? '/' : '');
  const text = escapeHtml(entry.name) + (directory ? '/' : '');
  const size = entry.size === null ? '—' : formatSize(entry.size);
  return (
    `<tr class="${entry.type}"><td class="name"><a href="${href}">${text}</a></td>` +
    `<td class="size">${size}</td>` +
    `<td class="time"><time datetime="${entry.mtime.toISOString()}">${formatModified(entry.mtime)}</time></td></tr>`
  );
}

const PARENT_ROW = '<tr class="parent"><td class="name"><a href="../">..</a></td><td class="size"></td><td class="time"></td></tr>';

/** `/ sub/ deeper/`, each ancestor a relative link (`../../`), the directory itself plain text. */
function breadcrumbs(segments: readonly string[], mountPath: string): string {
  const crumbs = [`${escapeHtml(mountPath)}/`, ...segments.map((segment) => `${escapeHtml(segment)}/`)];
  return crumbs
    .map((crumb, i) => {
      const up = crumbs.length - 1 - i;
      return up === 0 ? `<span class="here">${crumb}</span>` : `<a href="${'../'.repeat(up)}">${crumb}</a>`;
    })
    .join('');
}

function summary(entries: readonly DirectoryEntry[]): string {
  const folders = entries.filter((entry) => entry.type === 'directory').length;
  const files = entries.length - folders;
  const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${count(folders, 'folder')}, ${count(files, 'file')} · served by zerosend`;
}

/** An SVG as a CSS `url()`: percent-encoded, so no quote or `#` in it ends the value early. */
const svg = (body: string, paint: string): string =>
  `url("data:image/svg+xml,${encodeURIComponent(`<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16' ${paint}>${body}</svg>`)}")`;

const FOLDER_ICON = svg("<path d='M1 3.5A1.5 1.5 0 0 1 2.5 2h3.4l1.6 1.6h6A1.5 1.5 0 0 1 15 5.1v7.4a1.5 1.5 0 0 1-1.5 1.5h-11A1.5 1.5 0 0 1 1 12.5z'/>", '');
const FILE_ICON = svg(
  "<path d='M4 1.5h5.2l3.3 3.3v9.2a.5.5 0 0 1-.5.5H4a.5.5 0 0 1-.5-.5V2a.5.5 0 0 1 .5-.5zM9 1.5V5h3.5'/>",
  "fill='none' stroke='black' stroke-width='1.2' stroke-linejoin='round'",
);
const PARENT_ICON = svg("<path d='M8 13V3M3.5 7.5 8 3l4.5 4.5'/>", "fill='none' stroke='black' stroke-width='1.6' stroke-linecap='round' stroke-linejoin='round'");

/** Colours after GitHub's Primer palettes: legible in both schemes, links obviously links. */
const STYLESHEET = [
  ':root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--row:#f6f8fa;--link:#0969da;--folder:#54aeff;--file:#818b98}',
  '@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#f0f6fc;--muted:#9198a1;--line:#3d444d;--row:#151b23;--link:#4493f8;--folder:#4493f8;--file:#9198a1}}',
  'html{background:var(--bg);color:var(--fg)}',
  'body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Helvetica Neue",Arial,sans-serif}',
  'main{max-width:980px;margin:0 auto;padding:28px 24px 40px}',
  'h1{margin:0 0 18px;font-size:22px;font-weight:600;overflow-wrap:anywhere}',
  'h1 .lead{color:var(--muted);font-weight:400}',
  'a{color:var(--link);text-decoration:none}',
  'a:hover{text-decoration:underline}',
  'a:focus-visible{outline:2px solid var(--link);outline-offset:2px;border-radius:3px}',
  'table{width:100%;border-collapse:separate;border-spacing:0;border:1px solid var(--line);border-radius:8px;overflow:hidden}',
  'th{padding:9px 16px;text-align:left;font-size:13px;font-weight:600;color:var(--muted);background:var(--row);border-bottom:1px solid var(--line)}',
  'td{padding:7px 16px;border-top:1px solid var(--line)}',
  'tbody tr:first-child td{border-top:0}',
  'tbody tr:hover td{background:var(--row)}',
  'td.name{width:100%;overflow-wrap:anywhere}',
  // A block-level flex box: an inline one takes its baseline from the icon and rides above the other cells' text.
  'td.name a{display:flex;align-items:center;gap:10px}',
  'td.name a::before{content:"";flex:none;width:16px;height:16px;background:var(--file);-webkit-mask:var(--icon) center/contain no-repeat;mask:var(--icon) center/contain no-repeat}',
  `.file{--icon:${FILE_ICON}}`,
  `.directory{--icon:${FOLDER_ICON}}`,
  `.parent{--icon:${PARENT_ICON}}`,
  '.directory td.name a::before{background:var(--folder)}',
  '.directory td.name a{font-weight:600}',
  '.size,.time{white-space:nowrap;color:var(--muted);font-size:14px;font-variant-numeric:tabular-nums}',
  '.size{text-align:right}',
  'td.empty{color:var(--muted);text-align:center;padding:24px}',
  'footer{margin-top:14px;font-size:13px;color:var(--muted)}',
  '@media (max-width:640px){main{padding:16px 10px}th,td{padding-left:10px;padding-right:10px}.time{display:none}}',
].join('\n');

/**
 * The page's Content-Security-Policy: its own stylesheet (by hash) and the icons in it, nothing
 * else — no script can run even if a name slipped through escaping, and nothing is fetched.
 */
export const LISTING_PAGE_POLICY =
  `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLESHEET).digest('base64')}'; ` +
  "img-src data:; base-uri 'none'; form-action 'none'";
