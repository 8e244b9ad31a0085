#!/usr/bin/env bash
# CI's container stage: builds the image with scripts/image.sh, then runs tests/image/test_image.py
# on the archive it wrote (its root filesystem run with chroot, as root: see that file).
#
#   tests/image/run.sh            build, then test
#   tests/image/run.sh --no-build test the archive already at $IMAGECPP_IMAGE (default
#                                 build/image/imagecpp.tar)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

./scripts/deps.sh --test --image
if [[ "${1:-}" != "--no-build" ]]; then
  ./scripts/image.sh
fi
cd tests/image
IMAGECPP_IMAGE=${IMAGECPP_IMAGE:-$ROOT/build/image/imagecpp.tar} \
  IMAGECPP_TEST_IMAGES=$ROOT/tests/images \
  /usr/bin/python3 -m unittest -v test_image
