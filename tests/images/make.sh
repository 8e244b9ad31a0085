#!/bin/sh
# Makes, once, the test images no Debian package ships, from the real photo in libsixel-examples.
# The outputs are committed; run this again only to change them.
# Needs: apt-get install libsixel-examples libvips-tools libimage-exiftool-perl
set -eu

src=/usr/share/doc/libsixel-examples/examples/images
out=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# CMYK JPEG without an ICC profile: libvips must fall back to its built-in CMYK profile.
vips icc_export "$src/snake.jpg" "$tmp/cmyk.v" --output-profile cmyk
vips jpegsave "$tmp/cmyk.v" "$out/cmyk.jpg" --strip

# EXIF orientation 6 (display = stored turned 90 degrees clockwise). A red 60x60 block marks the
# displayed top-left corner; stored, it sits at the bottom-left.
vips black "$tmp/black.v" 60 60 --bands 3
vips linear "$tmp/black.v" "$tmp/red.v" "1 1 1" "255 0 0" --uchar
vips insert "$src/snake.jpg" "$tmp/red.v" "$tmp/marked.v" 0 0
vips rot "$tmp/marked.v" "$tmp/stored.v" d270
vips jpegsave "$tmp/stored.v" "$out/orientation6.jpg" --strip
exiftool -q -n -overwrite_original -Orientation=6 "$out/orientation6.jpg"

# RGBA PNG, 200x150, fully transparent in its top-left 80x60 corner.
vips shrink "$src/snake.png" "$tmp/small.v" 3 3
vips black "$tmp/hole.v" 80 60
vips black "$tmp/zero.v" 200 150
vips linear "$tmp/zero.v" "$tmp/opaque.v" 1 255 --uchar
vips insert "$tmp/opaque.v" "$tmp/hole.v" "$tmp/mask.v" 0 0
vips bandjoin "$tmp/small.v $tmp/mask.v" "$tmp/rgba.v"
vips pngsave "$tmp/rgba.v" "$out/alpha.png" --compression 9

# Animated GIF, three 160x120 frames: red, the photo, blue.
vips black "$tmp/frame.v" 160 120 --bands 3
vips linear "$tmp/frame.v" "$tmp/f1.v" "1 1 1" "230 20 20" --uchar
vips thumbnail "$src/snake.jpg" "$tmp/f2.v" 160 --height 120 --crop centre
vips linear "$tmp/frame.v" "$tmp/f3.v" "1 1 1" "20 20 230" --uchar
vips join "$tmp/f1.v" "$tmp/f2.v" "$tmp/f12.v" vertical
vips join "$tmp/f12.v" "$tmp/f3.v" "$tmp/strip.v" vertical
vips gifsave "$tmp/strip.v" "$out/animated.gif" --page-height 120

# JPEG carrying an ICC profile, EXIF with GPS position, and XMP: must never pass through.
vips thumbnail "$src/egret.jpg" "$tmp/egret.v" 300
vips jpegsave "$tmp/egret.v" "$out/metadata.jpg" --profile srgb
exiftool -q -overwrite_original -Make=TestCam -Model=T1 -GPSLatitude=48.8584 \
  -GPSLatitudeRef=N -GPSLongitude=2.2945 -GPSLongitudeRef=E -XMP:Creator=Tester \
  "$out/metadata.jpg"

# JPEG tagged with a Display P3 profile: the same numbers mean other colours than in sRGB.
vips icc_transform "$src/snake.jpg" "$tmp/p3.v" p3
vips jpegsave "$tmp/p3.v" "$out/display-p3.jpg"

# HEIC (HEVC in HEIF): no package ships one.
vips heifsave "$src/snake.jpg" "$out/snake.heic" --compression hevc --Q 40

# WebP with alpha (lossy colour, lossless alpha), 200x150: the same transparent corner.
vips webpsave "$out/alpha.png" "$out/alpha.webp" --Q 90 --strip
