#pragma once
// Upper bounds on wall time (a timeout that must fire soon enough, a fast failure) are checked in
// plain builds only. A sanitizer build runs several times slower, and a loaded machine starves
// threads (the image workers are niced): there such a bound says nothing about the code and must
// not decide a verdict. The behaviour around it (the error, the recovery) is checked in every
// build.
#include <gtest/gtest.h>

namespace imagecpp::test {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif
#else
inline constexpr bool kSanitizerBuild = false;
#endif

}  // namespace imagecpp::test

// EXPECT_LT(took, bound), in plain builds only; a message can follow with <<, as for EXPECT_LT.
// (The switch keeps a caller's `else` from binding to the if, as in GoogleTest's own macros.)
#define EXPECT_WALL_TIME_BELOW(took, bound)  \
  switch (0)                                 \
  case 0:                                    \
  default:                                   \
    if (::imagecpp::test::kSanitizerBuild) { \
    } else                                   \
      EXPECT_LT(took, bound)
