#!/usr/bin/env bash
# Installs the Debian packages imagecpp needs to build, run and test.
# Idempotent: only asks apt when something is missing.
#
#   scripts/deps.sh [--test] [--image] [package ...]
#       build packages; --test adds the test packages, --image the container image tools
#       (scripts/image.sh); and any package named (the benchmark's and the soak's)
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config
  libvips-dev libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libhiredis-dev librabbitmq-dev liblmdb-dev libsimdjson-dev
  libspdlog-dev libfmt-dev libcli11-dev
  libssl-dev
)
test_pkgs=(
  libgtest-dev libgmock-dev curl python3
  redis-server rabbitmq-server amqp-tools haproxy
  openssl
  clang libclang-rt-14-dev
  libsixel-examples libsdl2-image-tests
  chromium chromium-driver python3-selenium
  libvips-tools
  clang-format clang-tidy
  prometheus-cpp-dev  # the benchmark's metrics reference (bench/metrics_reference.cpp)
)
# Only scripts/image.sh and its test stage: a root filesystem from Debian's packages, made into an
# image without running a container; podman and docker (its daemon runs containers here, podman
# cannot) take the archive in the test, docker-compose checks deploy/compose.yaml.
image_pkgs=(mmdebstrap buildah podman docker.io docker-compose)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${test_pkgs[@]}")
  shift
fi
if [[ "${1:-}" == "--image" ]]; then
  want+=("${image_pkgs[@]}")
  shift
fi
want+=("$@")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
