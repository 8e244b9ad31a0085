#pragma once
// What inspect() learns, kept for render_jpeg(): the lazily opened libvips image (no pixel is
// decoded until one is asked for) and whether a JPEG may pass through untouched.
#include <string_view>
#include <vips/vips8>

#include "image/processor.hpp"

namespace imagecpp::image::detail {

struct Header {
  ImageInfo info;
  vips::VImage image;  // borrows the bytes given to read_header()
  bool plain_jpeg = false;
};

// Probes the container header, enforces the limits, then has libvips read the header too.
// Throws Error(bad_input) on anything unsupported, malformed or too large.
Header read_header(std::string_view bytes, const Limits& limits);

}  // namespace imagecpp::image::detail
