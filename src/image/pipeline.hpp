#pragma once
// The two halves of a variant, shared by render() and the benchmark's format measurements
// (bench/format_reference.cpp measures exactly what the service encodes): the pixels, fitted and
// converted, then their encoding.
#include <optional>
#include <string>
#include <string_view>
#include <vips/vips8>

#include "image/format.hpp"

namespace imagecpp::image::detail {

// Shrink-on-load into box x box (never upscaled; nullopt = full size), EXIF auto-rotation, first
// frame, 8-bit sRGB. With `keep_alpha`, an alpha channel stays (4 bands, or 3 without one); else
// transparency is flattened on white (3 bands). `has_profile`: the original carries an ICC
// profile, transformed to sRGB. Lazy: `original` must outlive the image.
vips::VImage variant_pixels(std::string_view original, std::optional<int> box, bool keep_alpha,
                            bool has_profile);

struct Encoding {
  Format format = Format::jpeg;  // jpeg, webp or avif
  int quality = 80;              // 1..100
  int effort = 4;                // WebP 0..6, AVIF 0..9; unused for JPEG
};

// Encodes with metadata stripped. Throws vips::VError when libvips fails, Error(internal) for
// settings out of range.
std::string encode(const vips::VImage& image, const Encoding& encoding);

}  // namespace imagecpp::image::detail
