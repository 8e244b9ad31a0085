// The request target: its routing path and its Size parameter, in place for plain targets and
// through Boost.URL for any other, with the same result for both.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "api/target.hpp"

namespace imagecpp::api {
namespace {

struct Parsed {
  bool ok = false;
  std::string path;
  std::optional<std::string> size;
  bool operator==(const Parsed&) const = default;
};

Parsed fast(std::string_view target) {
  std::string storage;
  const auto t = parse_target(target, storage);
  return t ? Parsed{true, std::string(t->path), t->size} : Parsed{};
}

Parsed general(std::string_view target) {
  std::string storage;
  const auto t = parse_target_general(target, storage);
  return t ? Parsed{true, std::string(t->path), t->size} : Parsed{};
}

TEST(Target, PlainTargetsSplitInPlace) {
  EXPECT_EQ(fast("/v1/image/abc/jpeg?Size=320"), (Parsed{true, "/v1/image/abc/jpeg", "320"}));
  EXPECT_EQ(fast("/v1/image/abc"), (Parsed{true, "/v1/image/abc", std::nullopt}));
  EXPECT_EQ(fast("/"), (Parsed{true, "/", std::nullopt}));
  EXPECT_EQ(fast("/?size=160"), (Parsed{true, "/", "160"}));
  // "Size" wins over "size" wherever it is; the first of a name wins.
  EXPECT_EQ(fast("/x?size=1&Size=2&Size=3"), (Parsed{true, "/x", "2"}));
  EXPECT_EQ(fast("/x?a=1&&Size&b"), (Parsed{true, "/x", ""}));  // no '=': empty value
  EXPECT_EQ(fast("/x?Size=1=2"), (Parsed{true, "/x", "1=2"}));
  EXPECT_EQ(fast("/x?SizeX=1&xSize=2"), (Parsed{true, "/x", std::nullopt}));
  EXPECT_EQ(fast("/x?a/b?c=d&Size=~"), (Parsed{true, "/x", "~"}));  // '/' and '?' in a query
}

TEST(Target, EncodedTargetsAreDecoded) {
  EXPECT_EQ(fast("/v1/image/%61bc"), (Parsed{true, "/v1/image/abc", std::nullopt}));
  // An encoded slash separates nothing: it stays encoded in the routing path.
  EXPECT_EQ(fast("/v1/image/a%2Fb"), (Parsed{true, "/v1/image/a%2Fb", std::nullopt}));
  EXPECT_EQ(fast("/x?Size=%33%32%30"), (Parsed{true, "/x", "320"}));
  EXPECT_EQ(fast("/x?%53ize=5"), (Parsed{true, "/x", "5"}));
}

TEST(Target, InvalidTargetsAreRefused) {
  for (const char* bad :
       {"", "v1/image", "/a b", "/a%zz", "/a#frag", "http://h/x", "*", "/x?Size=3%", "/\x01"}) {
    EXPECT_FALSE(fast(bad).ok) << bad;
    EXPECT_FALSE(general(bad).ok) << bad;
  }
}

// The shortcut against Boost.URL over random targets of the plain alphabet, weighted towards
// its delimiters and the parameter's names.
TEST(Target, ShortcutAgreesWithBoostUrl) {
  const std::vector<std::string> pieces = {
      "/",   "/", "?", "?", "=", "=",  "&",     "&",    "Size",   "size",   "a",     "Z",     "0",
      "320", "-", ".", "_", "~", "v1", "image", "jpeg", "?Size=", "&Size=", "&size", "?size="};
  std::mt19937 rng(20261130);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> length(0, 12);
  int compared = 0;
  for (int i = 0; i < 50000; ++i) {
    std::string target = "/";
    for (int n = length(rng); n > 0; --n) target += pieces[pick(rng)];
    const Parsed expected = general(target);
    ASSERT_TRUE(expected.ok) << target;  // every one is a valid origin-form
    ASSERT_EQ(fast(target), expected) << target;
    compared += expected.size.has_value();
  }
  EXPECT_GT(compared, 1000);  // the parameter was found often enough to mean something
}

}  // namespace
}  // namespace imagecpp::api
