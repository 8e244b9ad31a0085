// The compute limit of a cold variant: the service's libvips pipeline (src/image/render.cpp)
// run in-process on bytes already in memory, one libvips thread, no operation cache.
// Usage: vips_reference BOX QUALITY ITERATIONS FILE...
//   Prints one line per file: "<file> box=<box> median_ms=<m> min_ms=<a> max_ms=<b> out_bytes=<n>",
//   after one untimed warm-up run per file.
// Or:    vips_reference --serve QUALITY
//   Reads lines "BOX FILE" on stdin and answers each with the milliseconds of one run, so that
//   bench/client.py can interleave reference runs with the service's cold requests (a shared,
//   noisy machine then weighs on both alike).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>
#include <vips/vips8>

namespace {

std::string slurp(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Same steps and options as render_jpeg: thumbnail_buffer (shrink-on-load, never upscale,
// sRGB export only for a tagged image), then 8-bit 3-band sRGB flattened on white, then
// jpegsave_buffer with Q, strip and optimize_coding. Returns the JPEG size.
std::size_t render(const std::string& bytes, int box, int quality, bool has_profile) {
  VipsBlob* blob = vips_blob_new(nullptr, bytes.data(), bytes.size());
  vips::VOption* options = vips::VImage::option()
                               ->set("height", box)
                               ->set("size", VIPS_SIZE_DOWN)
                               ->set("option_string", "fail_on=truncated");
  if (has_profile) options->set("export_profile", "srgb");
  vips::VImage image = vips::VImage::thumbnail_buffer(blob, box, options);
  if (image.interpretation() != VIPS_INTERPRETATION_sRGB || image.format() != VIPS_FORMAT_UCHAR)
    image = image.colourspace(VIPS_INTERPRETATION_sRGB);
  if (image.has_alpha())
    image = image.flatten(vips::VImage::option()->set("background", std::vector<double>{255.0}));
  if (image.format() != VIPS_FORMAT_UCHAR) image = image.cast(VIPS_FORMAT_UCHAR);
  if (image.bands() > 3) image = image.extract_band(0, vips::VImage::option()->set("n", 3));
  VipsBlob* out = image.jpegsave_buffer(
      vips::VImage::option()->set("Q", quality)->set("strip", true)->set("optimize_coding", true));
  const VipsArea* area = VIPS_AREA(out);
  const std::string jpeg(static_cast<const char*>(area->data), area->length);  // as the service
  vips_area_unref(VIPS_AREA(out));
  vips_area_unref(VIPS_AREA(blob));
  return jpeg.size();
}

double time_ms(const std::string& bytes, int box, int quality, bool has_profile) {
  const auto start = std::chrono::steady_clock::now();
  render(bytes, box, quality, has_profile);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

bool has_icc(const std::string& bytes) {
  return vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "")
             .get_typeof(VIPS_META_ICC_NAME) != 0;
}

int serve(int quality) {
  std::string path;
  std::string bytes;
  bool has_profile = false;
  char line[4096];
  while (std::fgets(line, sizeof line, stdin) != nullptr) {
    char file[4096];
    int box = 0;
    if (std::sscanf(line, "%d %4095s", &box, file) != 2 || box < 1) {
      std::fprintf(stderr, "vips_reference: expected 'BOX FILE', got %s", line);
      return 2;
    }
    if (path != file) {
      path = file;
      bytes = slurp(file);
      has_profile = has_icc(bytes);
    }
    std::printf("%.3f\n", time_ms(bytes, box, quality, has_profile));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--serve") {
    if (VIPS_INIT(argv[0]) != 0) vips_error_exit(nullptr);
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    try {
      return serve(std::atoi(argv[2]));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vips_reference: %s %s\n", e.what(), vips_error_buffer());
      return 1;
    }
  }
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s BOX QUALITY ITERATIONS FILE... | --serve QUALITY\n", argv[0]);
    return 2;
  }
  if (VIPS_INIT(argv[0]) != 0) vips_error_exit(nullptr);
  vips_concurrency_set(1);
  vips_cache_set_max(0);
  const int box = std::atoi(argv[1]);
  const int quality = std::atoi(argv[2]);
  const int iterations = std::max(1, std::atoi(argv[3]));
  try {
    for (int f = 4; f < argc; ++f) {
      const std::string bytes = slurp(argv[f]);
      const bool has_profile = has_icc(bytes);
      const std::size_t out_bytes = render(bytes, box, quality, has_profile);  // warm-up
      std::vector<double> ms;
      for (int i = 0; i < iterations; ++i) ms.push_back(time_ms(bytes, box, quality, has_profile));
      std::sort(ms.begin(), ms.end());
      const std::size_t n = ms.size();
      const double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
      std::printf("%s box=%d median_ms=%.3f min_ms=%.3f max_ms=%.3f out_bytes=%zu\n", argv[f], box,
                  median, ms.front(), ms.back(), out_bytes);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vips_reference: %s %s\n", e.what(), vips_error_buffer());
    return 1;
  }
  vips_shutdown();
  return 0;
}
