#pragma once
// Helpers shared by the image tests: libvips start-up and checks on decoded output.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>
#include <vips/vips8>

#include "core/error.hpp"
#include "image/processor.hpp"

namespace imagecpp::test {

// The render deadline is wall time, and a test's verdict must not depend on how busy the machine
// is: image work runs on niced threads (WorkerPool), which a loaded machine starves, and a
// sanitizer multiplies its CPU time (the TSan stage once took 24 s over a 20 s deadline). Every
// test renders with this, an hour the CTest timeout ends first, except the deadline's own test.
inline constexpr std::chrono::milliseconds kNoRenderDeadline = std::chrono::hours(1);
inline constexpr image::Limits kLimits{.max_render_time = kNoRenderDeadline};

class VipsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { image::init_vips("unit_tests"); }
};

// Decoded into memory, so the image no longer depends on `encoded` staying alive.
inline vips::VImage decode(const std::string& encoded) {
  return vips::VImage::new_from_buffer(encoded.data(), encoded.size(), "").copy_memory();
}

inline std::vector<double> mean_per_band(const vips::VImage& image) {
  std::vector<double> means;
  for (int band = 0; band < image.bands(); ++band) means.push_back(image.extract_band(band).avg());
  return means;
}

// Runs `work` and returns the bad_input message it throws; fails the test if it throws nothing
// or anything else.
template <class Work>
std::string bad_input_message(Work&& work) {
  try {
    work();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::bad_input) << error.what();
    if (error.fields().size() != 1) return "<no field>";
    EXPECT_EQ(error.fields()[0].path, "image");
    return error.fields()[0].message;
  }
  ADD_FAILURE() << "no Error thrown";
  return {};
}

}  // namespace imagecpp::test
