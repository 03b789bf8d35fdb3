/**
 * The open-file cache skips its per-request `stat()` for a file whose path is watched and trusted
 * (src/http/path-watch.ts, crates/zerosend-core/src/path_watch.rs). Every way a file can change
 * under a server must still be seen by the very next request after the change: each test below
 * asks for the file three times first — the first request opens it, the second watches its path
 * and trusts it, the third is answered without a `stat()` — then changes it and asks again.
 *
 * On the fallback (no binding) nothing is watched and every lookup stats: the same answers.
 * Paths through symlinks (a `current -> releases/N` root) are watched too, the links included.
 *
 * Here a trusted path is asked about through the io_uring change counter (no system call, where
 * the kernel allows it); static-path-watch-ioctl.spec.ts runs every test again with the counter
 * off, each question an `ioctl`.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import test from 'ava';

import { createStaticServer } from '../src';
import { NOT_QUIET, pathUnchanged, trustPath, UNWATCHED, unwatchPath, usesChangeCounter, watchPath } from '../src/http/path-watch';
import { hasNative, nativeTest } from './helpers/native';
import { deadline, delay, tempDir } from './helpers/net';
import { testUnless } from './helpers/skip';
import { curl, listen } from './helpers/static-site';

interface Paths {
  root: string;
  docs: string;
  page: string;
  outside: string;
}

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | undefined>;
}

/**
 * The asking every test here does: three times first (the first request opens the file, the second
 * watches its path and trusts it, the third is answered without a `stat()`), each answer checked
 * by `isFirst`; then each change, `waitMs` later the answer that tells what changed, and two more
 * requests that give the path time to be watched and trusted again. The first answer after each
 * change, and the last answer before the changes (`before`).
 */
async function askAroundChanges<T>(
  ask: () => Promise<T>,
  isFirst: (answer: T) => boolean,
  changes: (() => void | Promise<void>)[],
  waitMs = 0,
): Promise<{ answers: T[]; before: T }> {
  let before: T | undefined;
  for (let i = 0; i < 3; i++) {
    before = await ask();
    if (!isFirst(before)) throw new Error(`request ${i + 1}: ${JSON.stringify(before)}`);
  }
  const answers: T[] = [];
  for (const change of changes) {
    await change();
    if (waitMs > 0) await delay(waitMs);
    answers.push(await ask());
    await ask();
    await ask();
  }
  return { answers, before: before! };
}

/** A site with `root/docs/page.txt`, served; `askAroundChanges` over `changes`. */
async function afterChanges(changes: ((paths: Paths) => void | Promise<void>)[], waitMs = 0): Promise<{ answers: Answer[]; before: Answer }> {
  const outside = tempDir('zs-watch-');
  const root = join(outside, 'site');
  const docs = join(root, 'docs');
  const page = join(docs, 'page.txt');
  mkdirSync(docs, { recursive: true });
  writeFileSync(page, 'version one\n');
  const { url, close } = await listen(createStaticServer(root));
  const ask = async (): Promise<Answer> => {
    const response = await curl(`${url}/docs/page.txt`);
    return { status: response.status, body: response.body.toString(), headers: response.headers };
  };
  const paths = { root, docs, page, outside };
  try {
    return await askAroundChanges(
      ask,
      (answer) => answer.body === 'version one\n',
      changes.map((change) => () => change(paths)),
      waitMs,
    );
  } finally {
    await close();
  }
}

/** `afterChanges` with one change: the answer right after it, and `before`'s headers. */
async function afterChange(change: (paths: Paths) => void): Promise<Answer & { before: Record<string, string | undefined> }> {
  const { answers, before } = await afterChanges([change]);
  return { ...answers[0]!, before: before.headers };
}

test('changed by another process, by the thread pool, and by a worker thread: each next request sees it', async (t) => {
  const { answers } = await afterChanges([
    ({ page }) => void execFileSync('sh', ['-c', 'printf "version two\\n" > "$0"', page]),
    ({ page }) => writeFile(page, 'version three\n'),
    async ({ page }) => {
      const worker = new Worker(`require('node:fs').writeFileSync(${JSON.stringify(page)}, 'version four\\n')`, { eval: true });
      const [code] = await once(worker, 'exit');
      if (code !== 0) throw new Error(`the worker exited with ${code}`);
    },
  ]);
  t.deepEqual(
    answers.map((answer) => answer.body),
    ['version two\n', 'version three\n', 'version four\n'],
  );
});

test('rewritten in place: the next request gets the new bytes', async (t) => {
  const after = await afterChange(({ page }) => writeFileSync(page, 'version two, longer\n'));
  t.is(after.body, 'version two, longer\n');
});

test('rewritten to the same size and touched: new bytes, new Last-Modified and ETag', async (t) => {
  const after = await afterChange(({ page }) => {
    writeFileSync(page, 'version TWO\n', { flag: 'r+' });
    utimesSync(page, new Date(), new Date(Date.now() + 5000));
  });
  t.is(after.body, 'version TWO\n');
  t.not(after.headers['last-modified'], after.before['last-modified']);
  t.not(after.headers.etag, after.before.etag);
});

test('only touched: a new Last-Modified', async (t) => {
  const after = await afterChange(({ page }) => utimesSync(page, new Date(), new Date(Date.now() + 5000)));
  t.is(after.body, 'version one\n');
  t.not(after.headers['last-modified'], after.before['last-modified']);
});

test('replaced by a rename over it (an atomic deploy of one file)', async (t) => {
  const after = await afterChange(({ docs, page }) => {
    writeFileSync(join(docs, 'page.txt.tmp'), 'replaced\n');
    renameSync(join(docs, 'page.txt.tmp'), page);
  });
  t.is(after.body, 'replaced\n');
});

test('truncated', async (t) => {
  const after = await afterChange(({ page }) => truncateSync(page, 3));
  t.is(after.body, 'ver');
});

test('deleted: 404', async (t) => {
  const after = await afterChange(({ page }) => unlinkSync(page));
  t.is(after.status, 404);
});

test('its folder moved away and another put in its place', async (t) => {
  const after = await afterChange(({ root, docs }) => {
    renameSync(docs, join(root, 'docs.old'));
    mkdirSync(docs);
    writeFileSync(join(docs, 'page.txt'), 'new folder\n');
  });
  t.is(after.body, 'new folder\n');
});

test('the served root itself swapped for a new release at the same path', async (t) => {
  const after = await afterChange(({ root, outside }) => {
    mkdirSync(join(outside, 'next', 'docs'), { recursive: true });
    writeFileSync(join(outside, 'next', 'docs', 'page.txt'), 'next release\n');
    renameSync(root, join(outside, 'previous'));
    renameSync(join(outside, 'next'), root);
  });
  t.is(after.body, 'next release\n');
});

test('written through a hard link outside the root', async (t) => {
  const after = await afterChange(({ page, outside }) => {
    // Linking alone changes the file's ctime; the write that follows is what must be seen.
    linkSync(page, join(outside, 'link.txt'));
    writeFileSync(join(outside, 'link.txt'), 'through the link\n', { flag: 'r+' });
  });
  t.is(after.body, 'through the link\n');
});

test('a folder on the way replaced by a symlink to another folder inside the root', async (t) => {
  const after = await afterChange(({ root, docs }) => {
    mkdirSync(join(root, 'v2'));
    writeFileSync(join(root, 'v2', 'page.txt'), 'through the symlink\n');
    renameSync(docs, join(root, 'docs.old'));
    symlinkSync(join(root, 'v2'), docs);
  });
  t.is(after.body, 'through the symlink\n');
});

test('a symlink put on the way to the same file, then a folder above its target swapped: the new file', async (t) => {
  // After the first change the same file is served through the symlink, by names (`releases/a`)
  // that no watch of the page's original path covers; the second changes what they lead to.
  const { answers } = await afterChanges([
    ({ root, docs }) => {
      mkdirSync(join(root, 'releases', 'a'), { recursive: true });
      renameSync(docs, join(root, 'releases', 'a', 'docs'));
      symlinkSync(join(root, 'releases', 'a', 'docs'), docs);
    },
    ({ root }) => {
      renameSync(join(root, 'releases', 'a'), join(root, 'releases', 'old'));
      mkdirSync(join(root, 'releases', 'a', 'docs'), { recursive: true });
      writeFileSync(join(root, 'releases', 'a', 'docs', 'page.txt'), 'version two\n');
    },
  ]);
  t.deepEqual(
    answers.map((answer) => answer.body),
    ['version one\n', 'version two\n'],
  );
});

/**
 * A deploy's layout: `outside/releases/{1,2}/docs/page.txt` and the served root
 * `outside/current -> releases/1` (relative, as `ln -s` makes it); `askAroundChanges` over
 * `changes`, each answer its body (or its status, when not 200).
 */
async function releasesAfterChanges(changes: ((outside: string) => void)[]): Promise<string[]> {
  const outside = tempDir('zs-watch-releases-');
  for (const release of ['1', '2']) {
    mkdirSync(join(outside, 'releases', release, 'docs'), { recursive: true });
    writeFileSync(join(outside, 'releases', release, 'docs', 'page.txt'), `release ${release}\n`);
  }
  symlinkSync('releases/1', join(outside, 'current'));
  const { url, close } = await listen(createStaticServer(join(outside, 'current')));
  const ask = async (): Promise<string> => {
    const response = await curl(`${url}/docs/page.txt`);
    return response.status === 200 ? response.body.toString() : String(response.status);
  };
  try {
    const { answers } = await askAroundChanges(
      ask,
      (answer) => answer === 'release 1\n',
      changes.map((change) => () => change(outside)),
    );
    return answers;
  } finally {
    await close();
  }
}

/** `ln -sfn TARGET outside/current`: a new link renamed over the old one, atomically. */
const pointCurrentAt = (outside: string, target: string): void => {
  symlinkSync(target, join(outside, 'current.tmp'));
  renameSync(join(outside, 'current.tmp'), join(outside, 'current'));
};

test('a symlinked root (current -> releases/1) swapped to another release and back (ln -sfn): each next answer is the release it points to', async (t) => {
  const answers = await releasesAfterChanges([
    (outside) => pointCurrentAt(outside, 'releases/2'),
    (outside) => pointCurrentAt(outside, 'releases/1'),
    (outside) => pointCurrentAt(outside, join(outside, 'releases', '2')),
  ]);
  t.deepEqual(answers, ['release 2\n', 'release 1\n', 'release 2\n']);
});

test('a symlinked root: the release it points to changed under it; a release it does not point to left alone; a link out of it refused at once', async (t) => {
  const answers = await releasesAfterChanges([
    (outside) => writeFileSync(join(outside, 'releases', '2', 'docs', 'page.txt'), 'release 2, changed\n'),
    (outside) => writeFileSync(join(outside, 'releases', '1', 'docs', 'page.txt'), 'release 1, rewritten\n'),
    // The served root is really releases/1: a folder in it turned into a link to releases/2 leads
    // out of the root, and the very next request is refused (the file is opened and checked again).
    (outside) => {
      renameSync(join(outside, 'releases', '1', 'docs'), join(outside, 'releases', '1', 'docs.old'));
      symlinkSync('../2/docs', join(outside, 'releases', '1', 'docs'));
    },
  ]);
  t.deepEqual(answers, ['release 1\n', 'release 1, rewritten\n', '403']);
});

test('a symlinked root flipped between two releases while keep-alive clients ask: every answer is a whole release, and once the flips stop the next answers are the release it points to', async (t) => {
  const outside = tempDir('zs-watch-flips-');
  // Different sizes, so a body from one release with the other's length would show.
  const bodies = ['release one\n', 'release two, a longer body\n'];
  for (const [i, body] of bodies.entries()) {
    mkdirSync(join(outside, 'releases', String(i + 1)), { recursive: true });
    writeFileSync(join(outside, 'releases', String(i + 1), 'page.txt'), body);
  }
  symlinkSync('releases/1', join(outside, 'current'));
  const { url, close } = await listen(createStaticServer(join(outside, 'current')));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const ask = (): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      http
        .get(`${url}/page.txt`, { agent }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        })
        .on('error', reject);
    });
  // Another process flips the link as a deploy does (a new link renamed over it, atomically), as
  // fast as it can, until told to stop; it always ends pointing at release 1.
  const flipper = spawn(
    'bash',
    ['-c', 'n=0; while [ ! -e stop ]; do for r in 2 1; do ln -sfn releases/$r .next && mv -Tf .next current; done; n=$((n+1)); done; echo $n'],
    { cwd: outside, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let flips = '';
  flipper.stdout.on('data', (chunk: Buffer) => (flips += chunk.toString()));
  const flipped = once(flipper, 'close');
  try {
    const seen: string[] = [];
    const clients = [0, 1, 2, 3].map(async () => {
      for (let i = 0; i < 150; i++) {
        const answer = await ask();
        seen.push(answer.status === 200 ? answer.body : `status ${answer.status}`);
      }
    });
    await Promise.all(clients);
    writeFileSync(join(outside, 'stop'), '');
    await flipped;
    t.true(Number(flips) > 5, `the link went back and forth ${flips.trim()} times`);
    t.deepEqual(
      seen.filter((body) => !bodies.includes(body)),
      [],
      'every answer is one release whole',
    );
    t.true(seen.includes(bodies[1]!), 'release 2 was served while the link pointed at it');
    for (let i = 0; i < 5; i++) t.is((await ask()).body, bodies[0], `answer ${i + 1} after the last flip`);
  } finally {
    // Stopped whatever happened above, so that a failure leaves no process flipping.
    writeFileSync(join(outside, 'stop'), '');
    if (flipper.exitCode === null) await Promise.race([flipped, deadline(2000, undefined).then(() => flipper.kill())]);
    agent.destroy();
    await close();
  }
});

const python = spawnSync('python3', ['--version']).error ? 'python3 is not installed (it writes through mmap here)' : null;

testUnless(python)('written through a shared mmap (no inotify event): seen once the second of trust is over', async (t) => {
  const { answers } = await afterChanges([({ page }) => void execFileSync('python3', ['-c', MMAP_WRITE, page, 'VERSION ONE\n'])], 1100);
  t.is(answers[0]!.body, 'VERSION ONE\n');
});

/** Rewrites a file's bytes in place through a shared mapping: `python3 -c MMAP_WRITE file text`. */
const MMAP_WRITE = `
import mmap, sys
with open(sys.argv[1], 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0)
    m[:] = sys.argv[2].encode()
    m.flush()
    m.close()
`;

const asRoot = process.getuid?.() === 0 ? 'running as root, which permissions do not stop' : null;

testUnless(asRoot)('its folder made unreadable: 403', async (t) => {
  let docsPath = '';
  const after = await afterChange(({ docs }) => {
    docsPath = docs;
    chmodSync(docs, 0o000);
  });
  chmodSync(docsPath, 0o755);
  t.is(after.status, 403);
});

nativeTest('a watched path is trusted only from a check after its watches, until a change touches it', (t) => {
  const dir = tempDir('zs-watch-');
  const file = join(dir, 'page.txt');
  writeFileSync(file, 'one');
  writeFileSync(join(dir, 'other.txt'), 'other');
  const id = watchPath(file);
  t.not(id, UNWATCHED);
  const path = { watch: id, quiet: NOT_QUIET };
  t.false(pathUnchanged(path), 'untrusted until checked');
  trustPath(id);
  t.true(pathUnchanged(path));
  t.true(pathUnchanged(path), 'asked again with nothing changed');
  writeFileSync(join(dir, 'other.txt'), 'another name in the same folder');
  t.true(pathUnchanged(path), 'other names do not matter');
  t.true(pathUnchanged(path));
  writeFileSync(file, 'two');
  t.false(pathUnchanged(path));
  unwatchPath(id);
  t.false(pathUnchanged({ watch: id, quiet: NOT_QUIET }), 'an unwatched id is never trusted');
  t.is(watchPath(join(dir, 'missing.txt')), UNWATCHED, 'a path that is not there is not watched');
  t.is(watchPath('relative/page.txt'), UNWATCHED);
});

nativeTest('a path through a symlink is watched, and swapping the link withdraws the trust', (t) => {
  const dir = tempDir('zs-watch-');
  mkdirSync(join(dir, 'a'));
  mkdirSync(join(dir, 'b'));
  writeFileSync(join(dir, 'a', 'page.txt'), 'a');
  writeFileSync(join(dir, 'b', 'page.txt'), 'b');
  symlinkSync('a', join(dir, 'current'));
  const id = watchPath(join(dir, 'current', 'page.txt'));
  t.not(id, UNWATCHED);
  const path = { watch: id, quiet: NOT_QUIET };
  trustPath(id);
  t.true(pathUnchanged(path));
  writeFileSync(join(dir, 'b', 'page.txt'), 'b2');
  t.true(pathUnchanged(path), 'a folder the link does not lead to');
  pointCurrentAt(dir, 'b');
  t.false(pathUnchanged(path));
  unwatchPath(id);
  symlinkSync('loop', join(dir, 'loop'));
  t.is(watchPath(join(dir, 'loop', 'page.txt')), UNWATCHED, 'a symlink loop (ELOOP) is not watched');
});

/** Why this process cannot be expected to read the io_uring counter, or null. */
function noCounterReason(): string | null {
  if (!hasNative) return 'needs the native binding';
  if (process.env.ZEROSEND_IO_URING === '0') return null;
  try {
    const disabled = readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim();
    return disabled === '0' ? null : `io_uring is disabled here (kernel.io_uring_disabled = ${disabled})`;
  } catch {
    return 'no io_uring in this kernel (no kernel.io_uring_disabled)';
  }
}

testUnless(noCounterReason())('a watched path is asked about through the kernel-written counter, unless ZEROSEND_IO_URING=0', (t) => {
  const dir = tempDir('zs-watch-');
  writeFileSync(join(dir, 'page.txt'), 'one');
  t.not(watchPath(join(dir, 'page.txt')), UNWATCHED);
  t.is(usesChangeCounter(), process.env.ZEROSEND_IO_URING !== '0');
});
