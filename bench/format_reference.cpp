// The formats group of the benchmark (bench/formats.py): encodes one photo's variant pixels, made
// exactly as the service makes them (image::detail::variant_pixels, shrink-on-load included), in
// each format and setting asked, with the service's own encoder calls, times the encode alone
// (the pixels are computed into memory first, once), decodes the result and measures its SSIM
// against those pixels: the original downscaled with the same resize.
// Usage: format_reference FILE BOX OUTDIR ITERATIONS SPEC...
//   SPEC is FORMAT:QUALITY[:EFFORT] (jpeg:80, webp:80:4, avif:60:4). Writes OUTDIR/ref.png (the
//   variant's pixels, lossless) and OUTDIR/FORMAT-qQUALITY-eEFFORT.FORMAT, and prints one line
//   per SPEC: "FORMAT QUALITY EFFORT BYTES MEDIAN_MS MIN_MS SSIM WIDTH HEIGHT CPU_MS": wall time
//   of an encode (median, min), and its CPU time (median, all threads of the process: what a
//   busy machine does not inflate; encoders may use more than one thread).
//
// SSIM is computed here with libvips, as scikit-image's structural_similarity() does by default
// (Wang et al. 2004; 7x7 uniform window, K1 0.01, K2 0.03, data range 255, sample covariance,
// the mean over the window-valid region and over the R, G, B bands): Debian 12's
// python3-skimage cannot be installed beside libboost1.81-dev (python3-scipy needs
// python3-pythran, which needs libboost1.74-dev).
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "image/pipeline.hpp"
#include "image/processor.hpp"

namespace {

using imagecpp::image::Format;
using imagecpp::image::detail::Encoding;

std::string slurp(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spill(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

Encoding parse_spec(const std::string& spec) {
  const auto first = spec.find(':');
  if (first == std::string::npos) throw std::runtime_error("bad spec " + spec);
  const std::string format = spec.substr(0, first);
  Encoding encoding;
  encoding.format = format == "jpeg"   ? Format::jpeg
                    : format == "webp" ? Format::webp
                    : format == "avif" ? Format::avif
                                       : throw std::runtime_error("bad format " + format);
  const auto second = spec.find(':', first + 1);
  encoding.quality = std::atoi(spec.substr(first + 1, second - first - 1).c_str());
  if (second != std::string::npos) encoding.effort = std::atoi(spec.substr(second + 1).c_str());
  return encoding;
}

double cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

vips::VImage as_double(const vips::VImage& image) {
  return image.extract_band(0, vips::VImage::option()->set("n", 3)).cast(VIPS_FORMAT_DOUBLE);
}

double ssim(const vips::VImage& reference, const vips::VImage& decoded) {
  constexpr int kWindow = 7;
  constexpr double kSamples = kWindow * kWindow;
  // A uniform window: every weight 1/49 (the matrix's scale stays 1).
  std::vector<double> weights(kWindow * kWindow, 1.0 / kSamples);
  const vips::VImage mask =
      vips::VImage::new_matrix(kWindow, kWindow, weights.data(), kWindow * kWindow);
  const auto mean = [&](const vips::VImage& image) {
    return image.conv(mask, vips::VImage::option()->set("precision", VIPS_PRECISION_FLOAT));
  };
  const vips::VImage x = as_double(reference);
  const vips::VImage y = as_double(decoded);
  const vips::VImage ux = mean(x);
  const vips::VImage uy = mean(y);
  const double unbiased = kSamples / (kSamples - 1);
  const vips::VImage vx = (mean(x * x) - ux * ux) * unbiased;
  const vips::VImage vy = (mean(y * y) - uy * uy) * unbiased;
  const vips::VImage vxy = (mean(x * y) - ux * uy) * unbiased;
  const double c1 = (0.01 * 255) * (0.01 * 255);
  const double c2 = (0.03 * 255) * (0.03 * 255);
  const vips::VImage map =
      ((ux * uy * 2 + c1) * (vxy * 2 + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  const int pad = (kWindow - 1) / 2;
  return map.crop(pad, pad, map.width() - 2 * pad, map.height() - 2 * pad).avg();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s FILE BOX OUTDIR ITERATIONS SPEC...\n", argv[0]);
    return 2;
  }
  // Library warnings go through spdlog (image/glib_log): to stderr here, since stdout is the
  // rows bench/formats.py parses.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("format_reference"));
  imagecpp::image::init_vips(argv[0]);
  try {
    const std::string original = slurp(argv[1]);
    const int box = std::atoi(argv[2]);
    const std::string outdir = argv[3];
    const int iterations = std::max(1, std::atoi(argv[4]));
    const bool has_profile = vips::VImage::new_from_buffer(original.data(), original.size(), "")
                                 .get_typeof(VIPS_META_ICC_NAME) != 0;
    // The benchmark photos have no alpha: the pixels are those of every format's variant.
    const vips::VImage pixels =
        imagecpp::image::detail::variant_pixels(original, box, false, has_profile).copy_memory();
    pixels.pngsave((outdir + "/ref.png").c_str());
    for (int i = 5; i < argc; ++i) {
      const Encoding encoding = parse_spec(argv[i]);
      std::string encoded = imagecpp::image::detail::encode(pixels, encoding);  // warm-up
      std::vector<double> ms;
      std::vector<double> cpu;
      for (int n = 0; n < iterations; ++n) {
        const double cpu_start = cpu_ms();
        const auto start = std::chrono::steady_clock::now();
        encoded = imagecpp::image::detail::encode(pixels, encoding);
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count());
        cpu.push_back(cpu_ms() - cpu_start);
      }
      std::sort(ms.begin(), ms.end());
      std::sort(cpu.begin(), cpu.end());
      const std::string name = std::string(imagecpp::image::name(encoding.format));
      const std::string file = outdir + "/" + name + "-q" + std::to_string(encoding.quality) +
                               "-e" + std::to_string(encoding.effort) + "." + name;
      spill(file, encoded);
      const vips::VImage decoded =
          vips::VImage::new_from_buffer(encoded.data(), encoded.size(), "").copy_memory();
      if (decoded.width() != pixels.width() || decoded.height() != pixels.height())
        throw std::runtime_error("decoded " + name + " has other dimensions");
      std::printf("%s %d %d %zu %.3f %.3f %.5f %d %d %.3f\n", name.c_str(), encoding.quality,
                  encoding.effort, encoded.size(), ms[ms.size() / 2], ms.front(),
                  ssim(pixels, decoded), pixels.width(), pixels.height(), cpu[cpu.size() / 2]);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "format_reference: %s %s\n", e.what(), vips_error_buffer());
    return 1;
  }
  return 0;
}
