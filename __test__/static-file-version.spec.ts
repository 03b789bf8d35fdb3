/**
 * The open-file cache's per-request check (src/http/file-version.ts): what `probe` says of a path
 * must be what `fs.statSync` says of it, kinds, versions and errors alike — natively (the
 * binding's `statVersion`) and on the fallback, where it is `fs.statSync` itself.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';

import { isProbedVersion, probe } from '../src/http/file-version';
import { hasNative } from './helpers/native';
import { tempDir } from './helpers/net';

const EXPECTED = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP', 'EACCES', 'EPERM']);
const via = hasNative ? 'native statVersion' : 'fs.statSync';

test(`kinds, and the version of each as fs.statSync reads it (${via})`, (t) => {
  const dir = tempDir('zs-version-');
  const file = join(dir, 'a.txt');
  writeFileSync(file, 'hello');
  mkdirSync(join(dir, 'sub'));
  symlinkSync(file, join(dir, 'link'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  const named = (name: string): string => join(dir, name);

  t.is(probe(file, EXPECTED), 'file');
  t.true(isProbedVersion(statSync(file)));
  t.is(probe(named('link'), EXPECTED), 'file', 'symlinks are followed');
  t.true(isProbedVersion(statSync(file)));
  t.is(probe(named('sub'), EXPECTED), 'directory');
  t.is(probe(named('fifo'), EXPECTED), 'other');
  t.is(probe('/dev/null', EXPECTED), 'other');

  // What an open descriptor's fstat says (what the cache keeps) against the path, probed again.
  const fd = openSync(file, 'r');
  const opened = fstatSync(fd);
  closeSync(fd);
  probe(file, EXPECTED);
  t.true(isProbedVersion(opened));
  probe(named('sub'), EXPECTED);
  t.false(isProbedVersion(opened), 'another file is another version');
});

test(`a file rewritten, touched or replaced is another version (${via})`, (t) => {
  const dir = tempDir('zs-version-');
  const file = join(dir, 'a.txt');
  writeFileSync(file, 'one');
  const first = statSync(file);
  probe(file, EXPECTED);
  t.true(isProbedVersion(first));

  writeFileSync(file, 'two', { flag: 'r+' }); // same size, same inode
  utimesSync(file, first.atime, new Date(first.mtimeMs + 1500));
  probe(file, EXPECTED);
  t.false(isProbedVersion(first), 'rewritten in place, mtime moved');
  const second = statSync(file);
  t.true(isProbedVersion(second));

  writeFileSync(join(dir, 'next'), 'two');
  renameSync(join(dir, 'next'), file);
  probe(file, EXPECTED);
  t.false(isProbedVersion(second), 'replaced by rename');
  t.true(isProbedVersion(statSync(file)));
});

test(`errors: the expected ones by name, any other thrown as fs.statSync throws it (${via})`, (t) => {
  const dir = tempDir('zs-version-');
  const file = join(dir, 'a.txt');
  writeFileSync(file, 'hello');
  symlinkSync('loop', join(dir, 'loop'));
  t.deepEqual(probe(join(dir, 'nope'), EXPECTED), { code: 'ENOENT' });
  t.deepEqual(probe(join(file, 'below'), EXPECTED), { code: 'ENOTDIR' });
  t.deepEqual(probe(join(dir, 'loop'), EXPECTED), { code: 'ELOOP' });
  t.deepEqual(probe(`/${'a'.repeat(300)}`, EXPECTED), { code: 'ENAMETOOLONG' }, 'a name over 255 bytes');
  t.deepEqual(probe(`/${'a/'.repeat(3000)}`, EXPECTED), { code: 'ENAMETOOLONG' }, 'a path over PATH_MAX');

  const unexpected = new Set(['EACCES']);
  const thrown = t.throws(() => probe(join(file, 'below'), unexpected));
  const fromNode = t.throws(() => statSync(join(file, 'below')));
  t.like(thrown, { code: 'ENOTDIR', syscall: fromNode?.['syscall' as keyof Error], path: join(file, 'below') });
  t.is(thrown?.message, fromNode?.message);
});
