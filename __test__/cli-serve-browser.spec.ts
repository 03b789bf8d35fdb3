/**
 * `zerosend serve` in a real browser: headless Chromium (Debian's `chromium`, or the binary named
 * by ZEROSEND_CHROMIUM) loads the listing page and the DOM is checked after load (links there, the
 * hostile name shown as text, nothing injected, no request for it); the links with `#`, `?`, a
 * space and unicode are followed by the browser itself; screenshots in light and dark mode are
 * decoded and their colours checked (the stylesheet applied despite the page's CSP, the icons
 * drawn, the dark scheme followed); and a page on another origin fetches across with a custom
 * header, so that the browser makes its own preflight, with and without `--cors`.
 *
 * `ZEROSEND_UPDATE_SCREENSHOTS=1 npx ava __test__/cli-serve-browser.spec.ts` rewrites
 * docs/listing.png and docs/listing-dark.png (README shows them).
 *
 * Where no Chromium can be run, every test here is skipped, with the reason in its title and on
 * stdout: never silently, and never as a pass.
 */
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

import test from 'ava';

import { ensureBuilt, startServe } from './helpers/cli-process';
import { tempDir } from './helpers/net';
import { serialUnless } from './helpers/skip';

const HOSTILE = '<img src=x onerror=alert(1)>.txt';
/** Names whose links a browser must resolve to the file itself. */
const FOLLOWED = ['hash#tag.txt', 'what?.txt', 'with space.txt', 'café ünï.txt'];

/** The browser's path, or why there is none. */
function findChromium(): { path: string } | { reason: string } {
  const candidates = process.env.ZEROSEND_CHROMIUM ? [process.env.ZEROSEND_CHROMIUM] : ['chromium', 'chromium-browser', 'google-chrome'];
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8', timeout: 30_000 });
    if (probe.status === 0 && /chrom/i.test(probe.stdout)) return { path: candidate };
  }
  return { reason: `no Chromium (tried ${candidates.join(', ')}): apt-get install -y chromium, or set ZEROSEND_CHROMIUM` };
}

const chromium = findChromium();
const skipReason = 'reason' in chromium ? chromium.reason : undefined;
if (skipReason) console.log(`cli-serve-browser: every test skipped: ${skipReason}`);
/** Serial: each Chromium takes most of this machine's two cores while it starts. Skipped, each
 * title carries the reason, which scripts/test.mjs lists in its summary. */
const browserTest = serialUnless(skipReason ?? null);

/** Runs headless Chromium with the flags this closed network needs, in a fresh profile. */
function runChromium(args: string[], timeoutMs = 90_000): Promise<string> {
  if (!('path' in chromium)) throw new Error(skipReason);
  const flags = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${tempDir('zs-chromium-')}`,
  ];
  return new Promise((resolve, reject) => {
    execFile(chromium.path, [...flags, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`chromium ${args.join(' ')}: ${error.message}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

const dumpDom = (url: string): Promise<string> => runChromium(['--dump-dom', url]);

/** The listed rows of a DOM as Chromium serialises it: kind, href, and the shown name as text. */
function rowsOf(dom: string): Array<{ kind: string; href: string; name: string }> {
  const rows = [...dom.matchAll(/<tr class="(\w+)"><td class="name"><a href="([^"]*)">([^<]*)<\/a><\/td>/g)];
  return rows.map(([, kind, href, text]) => ({ kind: kind!, href: href!, name: unescapeHtml(text!) }));
}

function unescapeHtml(text: string): string {
  return text.replace(/&(lt|gt|quot|#39|amp|nbsp);/g, (_, entity: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&', nbsp: '\u00a0' })[entity]!);
}

test.before(async () => {
  await ensureBuilt();
});

browserTest('the listing in Chromium: every entry linked, the hostile name shown as text, nothing injected or fetched', async (t) => {
  const root = tempDir('zs-browser-');
  mkdirSync(join(root, 'folder'));
  writeFileSync(join(root, 'folder', 'inner.txt'), 'inner\n');
  for (const name of [HOSTILE, ...FOLLOWED]) writeFileSync(join(root, name), `contents of ${name.replace(/[<>&]/g, '_')}\n`);
  const { cli, url } = await startServe(root);
  try {
    const dom = await dumpDom(`${url}/`);
    t.regex(dom, /<title>Index of \/<\/title>/);
    t.notRegex(dom, /<img|<script/i, 'no element was made from a name');
    t.notRegex(dom, /<[^<>]*\sonerror=/i, 'no attribute either');
    t.true(dom.includes('&lt;img src=x onerror=alert(1)&gt;.txt'), 'the hostile name is text');
    const rows = rowsOf(dom);
    t.deepEqual(rows.map((row) => row.name).sort(), ['folder/', HOSTILE, ...FOLLOWED].sort());
    for (const row of rows) t.is(row.href, encodeURIComponent(row.name.replace(/\/$/, '')) + (row.kind === 'directory' ? '/' : ''));

    for (const name of FOLLOWED) {
      // The browser resolves the link itself: what it loads must be that file.
      const href = rows.find((row) => row.name === name)!.href;
      const page = await dumpDom(new URL(href, `${url}/`).href);
      t.true(page.includes(`contents of ${name}`), `${name} (${href}):\n${page}`);
    }
    const folder = await dumpDom(new URL(rows.find((row) => row.kind === 'directory')!.href, `${url}/`).href);
    t.deepEqual(rowsOf(folder).map((row) => row.name), ['..', 'inner.txt']);

    await cli.stop();
    t.regex(cli.stdout, / GET \/ 200 \d+ /);
    t.notRegex(cli.stdout, / GET \/x /, 'the browser never asked for the <img> in the name');
  } finally {
    await cli.stop();
  }
});

browserTest('screenshots, light and dark: the stylesheet applies under the CSP, icons drawn, dark scheme followed', async (t) => {
  const root = makeShowcase();
  const { cli, url } = await startServe(root, ['--quiet'], { env: { TZ: 'UTC' } });
  try {
    const dir = tempDir('zs-shots-');
    const shots = { light: join(dir, 'listing.png'), dark: join(dir, 'listing-dark.png') };
    await runChromium(['--hide-scrollbars', '--window-size=1000,700', `--screenshot=${shots.light}`, `${url}/`]);
    await runChromium(['--hide-scrollbars', '--window-size=1000,700', '--force-dark-mode', `--screenshot=${shots.dark}`, `${url}/`]);
    const light = decodePng(readFileSync(shots.light));
    const dark = decodePng(readFileSync(shots.dark));
    for (const image of [light, dark]) t.deepEqual([image.width, image.height], [1000, 700]);

    // Colours of the page's own palette: present only if its stylesheet ran, icons only if the
    // CSP let their data: images load. Default link blue (#0000ee) means no stylesheet.
    t.true(isNear(light.pixel(4, 4), [0xff, 0xff, 0xff]), `light background: ${light.pixel(4, 4).join(',')}`);
    t.true(light.count([0xf6, 0xf8, 0xfa]) > 5000, 'light: the header row');
    t.true(light.count([0x09, 0x69, 0xda]) > 200, 'light: link colour');
    t.true(light.count([0x54, 0xae, 0xff]) > 100, 'light: folder icons');
    t.is(light.count([0x00, 0x00, 0xee]), 0, 'light: no unstyled link');
    t.true(isNear(dark.pixel(4, 4), [0x0d, 0x11, 0x17]), `dark background: ${dark.pixel(4, 4).join(',')}`);
    t.true(dark.count([0x44, 0x93, 0xf8]) > 200, 'dark: link colour and folder icons');
    t.true(dark.count([0x15, 0x1b, 0x23]) > 5000, 'dark: the header row');
    t.is(dark.count([0xff, 0xff, 0xff]), 0, 'dark: nothing left white');
    t.log(`light ${shots.light}, dark ${shots.dark}`);

    if (process.env.ZEROSEND_UPDATE_SCREENSHOTS === '1') {
      const docs = join(__dirname, '..', 'docs');
      mkdirSync(docs, { recursive: true });
      copyFileSync(shots.light, join(docs, 'listing.png'));
      copyFileSync(shots.dark, join(docs, 'listing-dark.png'));
      t.log(`wrote ${join(docs, 'listing.png')} and listing-dark.png`);
    }
  } finally {
    await cli.stop();
  }
});

browserTest('--cors in Chromium: a page on another origin reads a file with a preflighted fetch; without --cors it cannot', async (t) => {
  const pageRoot = tempDir('zs-cors-page-');
  // The page asks for the URL in its fragment, with a custom header: the browser must preflight.
  writeFileSync(
    join(pageRoot, 'index.html'),
    `<!doctype html><pre id="out">pending</pre><script>
fetch(decodeURIComponent(location.hash.slice(1)), { headers: { 'X-Requested-With': 'zerosend-test' } })
  .then((r) => r.text()).then((text) => { document.getElementById('out').textContent = 'read: ' + text; })
  .catch((e) => { document.getElementById('out').textContent = 'refused: ' + e.name; });
</script>\n`,
  );
  const dataRoot = tempDir('zs-cors-data-');
  writeFileSync(join(dataRoot, 'data.json'), '{"from":"the other origin"}\n');
  const page = await startServe(pageRoot, ['--quiet']);
  const open = await startServe(dataRoot, ['--cors']);
  const closed = await startServe(dataRoot);
  try {
    // Other ports are other origins. The virtual time budget keeps the page open until its fetch settles.
    const read = async (dataUrl: string): Promise<string> => {
      const dom = await runChromium(['--virtual-time-budget=15000', '--dump-dom', `${page.url}/#${encodeURIComponent(`${dataUrl}/data.json`)}`]);
      return unescapeHtml(/<pre id="out">([^<]*)<\/pre>/.exec(dom)?.[1] ?? dom);
    };
    t.is(await read(open.url), 'read: {"from":"the other origin"}\n');
    t.is(await read(closed.url), 'refused: TypeError');
    await open.cli.waitFor(/ OPTIONS \/data\.json 204 0 [^]* GET \/data\.json 200 /, 10_000);
    await closed.cli.waitFor(/ OPTIONS \/data\.json 405 /, 10_000);
    t.notRegex(closed.cli.stdout, / GET \/data\.json/, 'without --cors the browser never sent the GET');
  } finally {
    await Promise.all([page.cli.stop(), open.cli.stop(), closed.cli.stop()]);
  }
});

/** A plausible project folder for the screenshots, with fixed dates (shown in UTC). */
function makeShowcase(): string {
  const root = tempDir('zs-showcase-');
  const day = (date: string): Date => new Date(`${date}Z`);
  const folders: Array<[string, Date]> = [
    ['assets', day('2025-03-14T09:26')],
    ['css', day('2025-03-12T17:02')],
    ['images', day('2025-02-27T11:45')],
  ];
  const files: Array<[string, number, Date]> = [
    ['app.js', 734_003, day('2025-03-14T09:26')],
    ['data.json', 12_611, day('2025-03-10T08:15')],
    ['favicon.ico', 15_086, day('2024-11-02T16:40')],
    ['notes & ideas.md', 2_150, day('2025-03-13T22:07')],
    ['photo – café.jpg', 2_517_392, day('2025-01-19T13:33')],
    ['README.md', 4_301, day('2025-03-14T09:30')],
    ['report 2024.pdf', 1_348_211, day('2025-02-03T10:12')],
    ['video.mp4', 51_066_880, day('2024-12-24T18:00')],
  ];
  for (const [name, size, when] of files) {
    writeFileSync(join(root, name), '');
    truncateSync(join(root, name), size);
    utimesSync(join(root, name), when, when);
  }
  for (const [name, when] of folders) {
    mkdirSync(join(root, name));
    utimesSync(join(root, name), when, when);
  }
  return root;
}

type Rgb = [number, number, number];

const isNear = (pixel: Rgb, target: Rgb, tolerance = 6): boolean => pixel.every((value, i) => Math.abs(value - target[i]!) <= tolerance);

/** Enough of PNG to read Chromium's screenshots: 8-bit RGB or RGBA, not interlaced. */
function decodePng(png: Buffer): { width: number; height: number; pixel(x: number, y: number): Rgb; count(target: Rgb): number } {
  if (!png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) throw new Error('not a PNG');
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  for (let offset = 8; offset < png.length; ) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const chunk = png.subarray(offset + 8, offset + 8 + length);
    offset += 12 + length;
    if (type === 'IHDR') {
      width = chunk.readUInt32BE(0);
      height = chunk.readUInt32BE(4);
      const [depth, colour, , , interlace] = chunk.subarray(8, 13);
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) throw new Error(`unexpected PNG format ${depth}/${colour}/${interlace}`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') data.push(chunk);
    else if (type === 'IEND') break;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      const predicted = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter];
      if (predicted === undefined) throw new Error(`unknown PNG filter ${filter}`);
      pixels[y * stride + x] = (value + predicted) & 0xff;
    }
  }
  const pixel = (x: number, y: number): Rgb => {
    const at = y * stride + x * channels;
    return [pixels[at]!, pixels[at + 1]!, pixels[at + 2]!];
  };
  return {
    width,
    height,
    pixel,
    count(target) {
      let n = 0;
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (isNear(pixel(x, y), target)) n++;
      return n;
    },
  };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}
