#!/usr/bin/env bash
# The image command: builds the Release binary and a container image of it, from Debian 12's
# packages only, written as a docker-archive that `podman load` and `docker load` take.
#
#   scripts/image.sh        -> build/image/imagecpp.tar (and, beside it, the package lists)
#
# Environment: IMAGE_TAG (default imagecpp:latest), IMAGE_OUT_DIR (default build/image),
# IMAGE_MIRROR and IMAGE_SECURITY_MIRROR (Debian's, by default), IMAGE_DEB_CACHE (downloaded
# packages kept for the next build, default $IMAGE_OUT_DIR/debs), JOBS (default nproc).
#
# How (the README's "Container" section says why):
#   1. the Release binary (tests and benchmark off), stripped;
#   2. its runtime packages, derived from what it loads: ldd's closure of the binary and of the
#      libvips module it needs (HEIF), each library mapped to its package by dpkg
#      (deploy/image/runtime-packages.sh), plus ca-certificates (an https auth service is
#      verified against the system store: data, not a library);
#   3. a root filesystem by mmdebstrap, variant "essential" (no apt, no package lists or caches),
#      with those packages and their dependencies, without documentation (copyright files kept),
#      man pages or translations; /usr merged as in Debian's own images (usr-is-merged: the
#      usrmerge package would bring perl); a non-root user, /data for the embedded store;
#   4. the image by buildah, from scratch: that filesystem as its one layer, the binary as
#      entrypoint, and, in docker's image format, a health check on /healthz.
# Nothing runs inside a container: this machine's sandbox cannot run one.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${IMAGE_TAG:-imagecpp:latest}
OUT_DIR=${IMAGE_OUT_DIR:-build/image}
MIRROR=${IMAGE_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${IMAGE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
JOBS=${JOBS:-$(nproc)}
SUITE=bookworm
USER_ID=10001  # numeric in the image config: an orchestrator sees "not root" without /etc/passwd
BIN=/usr/local/bin/imagecpp

step() { printf '\n== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

./scripts/deps.sh --image
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
DEB_CACHE=${IMAGE_DEB_CACHE:-$OUT_DIR/debs}
mkdir -p "$DEB_CACHE"
work=$(mktemp -d "$OUT_DIR/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

step "Release binary"
cmake -S . -B "$OUT_DIR/release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIMAGECPP_TESTS=OFF \
  -DIMAGECPP_BENCH=OFF >/dev/null
cmake --build "$OUT_DIR/release" -j "$JOBS" --target imagecpp
strip --strip-unneeded -o "$work/imagecpp" "$OUT_DIR/release/imagecpp"

step "runtime packages, from what the binary loads"
# libvips builds its HEIF loader (HEIC and AVIF, both accepted by the service) as a module that
# it opens at start, beside the library itself: ldd of the binary alone does not see it.
libvips=$(ldd "$work/imagecpp" | awk '$1 == "libvips.so.42" { print $3 }')
heif_module=$(compgen -G "$(dirname "$(readlink -f "$libvips")")/vips-modules-*/vips-heif.so" | head -n 1) ||
  { echo "no libvips HEIF module beside $libvips" >&2; exit 1; }
deploy/image/runtime-packages.sh "$work/imagecpp" "$heif_module" >"$OUT_DIR/runtime-packages.txt"
echo "$(wc -l <"$OUT_DIR/runtime-packages.txt") packages: $(paste -sd' ' "$OUT_DIR/runtime-packages.txt")"

step "root filesystem (mmdebstrap, $SUITE)"
# Hooks run outside the root filesystem, which is "$1". The package cache goes in and out with
# mmdebstrap's sync hooks (apt checks every package against the signed index, and the cleanup
# step empties the image's cache after the customize hooks).
mmdebstrap --variant=essential \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --skip=essential/unlink \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in '$DEB_CACHE' /var/cache/apt/archives/" \
  --customize-hook="sync-out /var/cache/apt/archives '$DEB_CACHE'" \
  --include="$(paste -sd, "$OUT_DIR/runtime-packages.txt"),ca-certificates" \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --customize-hook="echo 'imagecpp:x:$USER_ID:$USER_ID:imagecpp:/data:/usr/sbin/nologin' >>\"\$1/etc/passwd\"" \
  --customize-hook="echo 'imagecpp:x:$USER_ID:' >>\"\$1/etc/group\"" \
  --customize-hook="install -d -o $USER_ID -g $USER_ID -m 0750 \"\$1/data\"" \
  --customize-hook="install -m 0755 '$work/imagecpp' \"\$1$BIN\"" \
  --customize-hook="chroot \"\$1\" dpkg-query -W -f='\${Package} \${Version}\n' >'$OUT_DIR/installed-packages.txt'" \
  --customize-hook='rm -rf "$1"/var/log/* "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old "$1"/usr/share/info/*' \
  "$SUITE" - \
  "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
  "deb $SECURITY_MIRROR $SUITE-security main" |
  # An engine gives a container its own /dev: the device nodes mmdebstrap made stay out.
  mmtarfilter --path-exclude='/dev/*' >"$work/rootfs.tar"

step "image (buildah, docker format)"
# A private store, removed on exit: nothing is left in the machine's container storage. vfs
# needs no overlay mount.
buildah_() {
  BUILDAH_FORMAT=docker buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs "$@"
}
version=$(sed -nE 's/^project\(imagecpp VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
ctr=$(buildah_ from scratch)
buildah_ add "$ctr" "$work/rootfs.tar" /
# The health check is bash's /dev/tcp (bash is in every Debian system): no HTTP client to ship.
# It asks the port the service reads from PORT, then SERVER_PORT, as the service does.
health='exec 3<>/dev/tcp/127.0.0.1/${PORT:-${SERVER_PORT:-3001}} && printf "GET /healthz HTTP/1.0\r\n\r\n" >&3 && head -n 1 <&3 | grep -q "^HTTP/1.[01] 200 "'
buildah_ config \
  --entrypoint "[\"$BIN\"]" \
  --user "$USER_ID:$USER_ID" \
  --workingdir /data \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env IMAGE_DATA_DIR=/data \
  --port 3001/tcp \
  --volume /data \
  --stop-signal SIGTERM \
  --healthcheck "CMD /bin/bash -c '$health'" \
  --healthcheck-interval 30s --healthcheck-timeout 5s --healthcheck-start-period 10s \
  --healthcheck-retries 3 \
  --label org.opencontainers.image.title=imagecpp \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.revision="$revision" \
  "$ctr"
# Unnamed in the private store, so that the archive names it once, as $TAG.
image=$(buildah_ commit --format docker --rm --quiet "$ctr")
rm -f "$OUT_DIR/imagecpp.tar"
buildah_ push --quiet "$image" "docker-archive:$OUT_DIR/imagecpp.tar:$TAG"

step "done"
rootfs_bytes=$(tar -tvf "$work/rootfs.tar" | awk '{ s += $3 } END { print s }')
printf 'image:   %s (%s)\n' "$OUT_DIR/imagecpp.tar" "$TAG"
printf 'size:    %s MB archive, %s MB of files in its layer\n' \
  "$(($(stat -c %s "$OUT_DIR/imagecpp.tar") / 1000000))" "$((rootfs_bytes / 1000000))"
printf 'packages: %s derived from the binary, %s installed (%s, %s)\n' \
  "$(wc -l <"$OUT_DIR/runtime-packages.txt")" "$(wc -l <"$OUT_DIR/installed-packages.txt")" \
  "$OUT_DIR/runtime-packages.txt" "$OUT_DIR/installed-packages.txt"
echo "load:    podman load -i $OUT_DIR/imagecpp.tar  (or docker load -i ...)"
