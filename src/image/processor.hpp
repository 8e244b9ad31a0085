#pragma once
// The image work, on libvips. Everything here is CPU-bound and blocking: callers run it on the
// worker pool, never on a network thread. Functions throw imagecpp::Error.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "image/format.hpp"

namespace imagecpp::image {

struct Limits {
  std::uint64_t max_pixels = 50'000'000;  // width x height, checked from the header
  // Frames of an animation (GIF, WebP, APNG) or top-level images of a HEIF/AVIF file, counted from
  // the header: only the first is ever rendered, but decoders index every frame when they open a
  // file, and a few bytes a frame let a small upload declare hundreds of thousands. 500 is 10 s at
  // the fastest frame rate browsers play (50 fps), far beyond any product animation.
  std::uint64_t max_frames = 500;
  // Wall time one render may take before libvips is told to stop (a hostile image that decodes
  // slowly must not hold a worker for ever).
  std::chrono::milliseconds max_render_time{20'000};
  // Pixels of an AVIF output at most (see kMaxWebpSide for why AVIF needs its own bound).
  std::uint64_t max_avif_pixels = 4'000'000;
};

struct ImageInfo {
  Format format;
  Dimensions dimensions;
};

// Sniffs the format and reads width and height from the header without decoding pixels: the
// stored size (before EXIF rotation) of the first frame. Throws Error(bad_input, path "image")
// when the bytes are not an accepted, well-formed image header or exceed the pixel or frame limit.
ImageInfo inspect(std::string_view bytes, const Limits& limits);

struct Rendered {
  std::string jpeg;          // encoded JPEG; empty when `passthrough`
  bool passthrough = false;  // the original JPEG bytes are already the answer
};

struct RenderOptions {
  std::optional<int> box;  // fit inside box x box, never upscale; nullopt = full size
  int quality = 80;
  Format format = Format::jpeg;  // jpeg, webp or avif (render() only; render_jpeg() is JPEG)
  int effort = 4;                // encoder effort: WebP 0..6, AVIF 0..9 (unused for JPEG)
};

// Output beyond these is refused (bad_input) rather than attempted: WebP cannot encode a side over
// 16383 pixels, and an AVIF encode cannot be stopped by the render deadline (libaom runs once the
// pixels are computed, without progress callbacks), so its time is bounded by its pixel count.
inline constexpr int kMaxWebpSide = 16383;

struct Encoded {
  std::string bytes;         // encoded in the requested format; empty when `passthrough`
  bool passthrough = false;  // JPEG only: the original JPEG bytes are already the answer
};

// Makes the JPEG answer for an original: shrink-on-load, EXIF auto-rotation, sRGB, alpha
// flattened on white, metadata stripped, first frame of an animation. When the original is a
// JPEG that already fits and needs no change, returns passthrough instead of re-encoding.
// Throws Error(bad_input) when the original cannot be decoded (truncated data included), and
// Error(internal) for a box below 1 or a quality outside 1..100.
Rendered render_jpeg(std::string_view original, const RenderOptions& options, const Limits& limits);

// The same pipeline for any variant format. WebP and AVIF keep an alpha channel (transparency
// survives); JPEG flattens it on white and may pass through. Limits::max_avif_pixels bounds an
// AVIF output (width x height; over it: bad_input). Throws as render_jpeg(), and Error(internal)
// for a format that is not jpeg, webp or avif or an effort outside the encoder's range.
Encoded render(std::string_view original, const RenderOptions& options, const Limits& limits);

// Once per process, before any other call: starts libvips, turns its operation cache off and
// limits it to the loaders the service accepts.
void init_vips(const char* argv0);

}  // namespace imagecpp::image
