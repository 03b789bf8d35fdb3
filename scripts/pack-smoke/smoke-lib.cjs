// The smoke test a user's first program amounts to, run inside a freshly installed temp project
// (scripts/pack-test.mjs copies this folder there). Given the zerosend module as that project
// loaded it (through `require` or `import`), it sends a file with a prefix over TCP loopback and
// checks every byte by sha256. Prints one JSON line; exits non-zero with a reason on any mismatch.
'use strict';
const { createHash, randomBytes } = require('node:crypto');
const { mkdtempSync, rmSync, writeFileSync, existsSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { dirname, join, sep } = require('node:path');

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Collects everything the peer of `client` receives until `client` ends. */
async function loopbackPair() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const received = new Promise((resolve, reject) => {
    server.once('connection', (peer) => {
      const chunks = [];
      peer.on('data', (c) => chunks.push(c));
      peer.on('end', () => resolve(Buffer.concat(chunks)));
      peer.on('error', reject);
    });
  });
  const client = net.connect(server.address().port, '127.0.0.1');
  await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
  return { client, received, close: () => server.close() };
}

async function runSmoke(zerosend, flavour) {
  const expectNative = process.env.EXPECT_NATIVE === '1';
  const platformDir = process.env.PLATFORM_DIR || '';

  // Loaded from this project's node_modules, not from the repository it was packed from.
  const entry = require.resolve('zerosend', { paths: [process.cwd()] });
  check(entry.startsWith(join(process.cwd(), 'node_modules') + sep), `zerosend resolved outside the project: ${entry}`);
  const pkgDir = dirname(require.resolve('zerosend/package.json', { paths: [process.cwd()] }));
  check(
    !existsSync(join(pkgDir, 'native', `zerosend.${platformDir}.node`)),
    'the main package carries a local .node build: the platform package is not what loaded',
  );

  const caps = zerosend.capabilities();
  check(caps.native === expectNative, `capabilities().native is ${caps.native}, expected ${expectNative}`);
  check(typeof zerosend.transfer === 'function', 'transfer is not exported');
  check(typeof zerosend.ZerosendError === 'function', 'ZerosendError is not exported');

  const dir = mkdtempSync(join(tmpdir(), 'zerosend-smoke-'));
  try {
    // Larger than the first synchronous step (2 MiB), so the parked, asynchronous path runs too.
    const data = randomBytes(3 * 1024 * 1024 + 4321);
    const path = join(dir, 'payload.bin');
    writeFileSync(path, data);
    const prefix = Buffer.from('zerosend smoke prefix\n');

    const pair = await loopbackPair();
    const result = await zerosend.transfer(path, pair.client, { prefix });
    pair.client.end();
    const received = await pair.received;
    pair.close();

    const expected = Buffer.concat([prefix, data]);
    check(result.bytes === expected.length, `transfer() reported ${result.bytes} bytes, sent ${expected.length}`);
    check(received.length === expected.length, `peer received ${received.length} bytes of ${expected.length}`);
    check(sha256(received) === sha256(expected), 'sha256 of the received bytes differs');
    if (expectNative) check(result.method !== 'stream', `native install used method ${result.method}`);
    else check(result.method === 'stream', `fallback install used method ${result.method}`);

    console.log(
      JSON.stringify({ flavour, native: caps.native, method: result.method, bytes: result.bytes, sha256: sha256(received) }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { runSmoke };
