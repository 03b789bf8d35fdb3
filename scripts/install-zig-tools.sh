#!/bin/sh
# Installs the tools of `npm run build:release`, pinned, into a Python virtual environment of their
# own (no root, nothing system-wide): zig (PyPI's `ziglang` wheel) and cargo-zigbuild (a PyPI
# wheel too, so no compile). Used by .ci/run and .github/workflows/CI.yml; run it by hand once to
# build release binaries locally. Idempotent: with the pins already installed it only checks them.
# Prints the folder that holds them; scripts/build-release.mjs finds that folder by itself.
#
#   sh scripts/install-zig-tools.sh            (ZEROSEND_ZIG_TOOLS=<dir> to install elsewhere)
set -eu

# zig 0.14.1 is also what the workflow's musl builds use (mlugg/setup-zig).
ZIGLANG_VERSION=0.14.1
CARGO_ZIGBUILD_VERSION=0.24.1

dir="${ZEROSEND_ZIG_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/zerosend/zig-tools}"
pins="ziglang==$ZIGLANG_VERSION cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"

fail() {
  echo "install-zig-tools: $*" >&2
  exit 1
}

installed() {
  [ -f "$dir/pins" ] && [ "$(cat "$dir/pins")" = "$pins" ] &&
    "$dir/bin/cargo-zigbuild" --version >/dev/null 2>&1 &&
    "$dir/bin/python3" -m ziglang version >/dev/null 2>&1
}

if ! installed; then
  command -v python3 >/dev/null 2>&1 ||
    fail "python3 is needed (Debian: apt-get install python3 python3-venv)"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  python3 -m venv "$dir" >&2 ||
    fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
  # shellcheck disable=SC2086 # two requirement specifiers
  "$dir/bin/python3" -m pip install --disable-pip-version-check --quiet $pins >&2 ||
    fail "pip install $pins failed (is PyPI reachable?)"
  echo "$pins" >"$dir/pins"
  installed || fail "installed $pins into $dir, but cargo-zigbuild or zig does not run"
fi
echo "$dir/bin"
