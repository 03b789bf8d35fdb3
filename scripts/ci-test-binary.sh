#!/bin/sh
# Tests one prebuilt binary on the platform it is for (called by .github/workflows/CI.yml, on a
# runner or inside a node:<version> container). Expects the build job's artifact in native/
# (zerosend.<platform>.node, binding.js, binding.d.ts). No Rust here: cargo tests ran where the
# binary was built. Runs the ava suite with the binding and on the stream fallback, then the
# install-as-a-user tests (scripts/test.mjs does all three and prints one closing line).
set -eu
cd "$(dirname "$0")/.."

# curl for the static server tests and the `zerosend serve` smoke test, a C compiler for the
# fault-injection shim (__test__/fault-injection/shim.c, built by the tests), `script`
# (util-linux; Debian has it) for the CLI's progress bar on a terminal.
if [ "$(id -u)" = 0 ]; then
  if command -v apk >/dev/null 2>&1; then
    apk add --no-cache curl gcc musl-dev util-linux >/dev/null
  elif command -v apt-get >/dev/null 2>&1 && ! { command -v curl && command -v gcc; } >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq curl gcc libc6-dev >/dev/null
  fi
fi

node --version
npm ci --no-audit --no-fund
npm run build:ts
# The suite must test the binary, not silently fall back because it failed to load.
node -e "
  const caps = require('./dist').capabilities();
  console.log('capabilities', JSON.stringify(caps));
  if (!caps.native) process.exit(1);
"
ZEROSEND_TEST_SKIP_CARGO=1 npm test
