#!/usr/bin/env bash
# The run command: installs what is missing, builds Release, and runs the service on port 3001
# with the embedded store in ./data. Extra arguments go to the service (see --help).
# Without an auth service at hand it uses the static token mode with ./tokens.txt, creating that
# file with one random token the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DIMAGECPP_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target imagecpp

args=()
if [[ -z "${IMAGE_AUTH_MODE:-}" ]]; then
  tokens=${IMAGE_TOKENS_FILE:-./tokens.txt}
  if [[ ! -s "$tokens" ]]; then
    umask 077
    printf '%s demo-user Demo User\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$tokens"
    echo "created $tokens with a random token for user demo-user"
  fi
  args+=(--auth-mode static --tokens-file "$tokens")
fi
exec ./build/release/imagecpp "${args[@]}" "$@"
