#include <gtest/gtest.h>

#include "api/router.hpp"
#include "api/size.hpp"

namespace imagecpp::api {
namespace {

const std::string kId = "3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c";

TEST(Router, BothFamiliesMapToTheSameRoutes) {
  EXPECT_EQ(match_route("/v1/image").route, Route::upload);
  EXPECT_EQ(match_route("/images/create").route, Route::upload);
  for (const std::string prefix : {"/v1/image/", "/images/"}) {
    const auto image = match_route(prefix + kId);
    EXPECT_EQ(image.route, Route::image) << prefix;
    EXPECT_EQ(image.id, kId);
    const auto jpeg = match_route(prefix + kId + "/jpeg");
    EXPECT_EQ(jpeg.route, Route::image_jpeg) << prefix;
    EXPECT_EQ(jpeg.id, kId);
  }
}

TEST(Router, LabelsAreTemplatesNotIds) {
  EXPECT_EQ(match_route("/v1/image/" + kId).label, "/v1/image/{id}");
  EXPECT_EQ(match_route("/images/" + kId + "/jpeg").label, "/images/{id}/jpeg");
  EXPECT_EQ(match_route("/nope").label, "unmatched");
}

TEST(Router, OpsRoutes) {
  EXPECT_EQ(match_route("/").route, Route::docs);
  EXPECT_EQ(match_route("/docs").route, Route::docs);
  EXPECT_EQ(match_route("/openapi.json").route, Route::openapi);
  EXPECT_EQ(match_route("/healthz").route, Route::healthz);
  EXPECT_EQ(match_route("/readyz").route, Route::readyz);
  EXPECT_EQ(match_route("/metrics").route, Route::metrics);
}

TEST(Router, UnknownPaths) {
  for (const char* path : {"", "/v1", "/v1/image/", "/images/", "/v1/image/a/b",
                           "/v1/image/a/jpeg/x", "/images//jpeg", "/v2/image", "/metrics/x"}) {
    EXPECT_EQ(match_route(path).route, Route::unknown) << path;
  }
}

TEST(Router, FormatRoutesInBothFamilies) {
  struct Expected {
    std::string tail;
    Wanted wanted;
    bool json;
  };
  const Expected cases[] = {
      {"/webp", Wanted::webp, false},       {"/avif", Wanted::avif, false},
      {"/auto", Wanted::negotiated, false}, {"/webp/json", Wanted::webp, true},
      {"/avif/json", Wanted::avif, true},   {"/auto/json", Wanted::negotiated, true}};
  for (const std::string prefix : {"/v1/image/", "/images/"}) {
    for (const Expected& e : cases) {
      const auto m = match_route(prefix + kId + e.tail);
      EXPECT_EQ(m.route, Route::image_as) << prefix << e.tail;
      EXPECT_EQ(m.id, kId);
      EXPECT_EQ(m.wanted, e.wanted) << prefix << e.tail;
      EXPECT_EQ(m.json, e.json) << prefix << e.tail;
      const std::string family = prefix == "/v1/image/" ? "/v1/image/{id}" : "/images/{id}";
      EXPECT_EQ(m.label, family + e.tail);
    }
  }
}

TEST(Router, FormatRouteLookalikesAreUnknown) {
  for (const std::string& path : std::vector<std::string>{
           "/v1/image/" + kId + "/jpeg/json", "/v1/image/" + kId + "/json",
           "/v1/image/" + kId + "/png", "/v1/image/" + kId + "/webp/",
           "/v1/image/" + kId + "/auto/json/x", "/images//webp", "/images//auto/json",
           "/v1/image/a/b/webp", "/v1/image/" + kId + "/WEBP"}) {
    EXPECT_EQ(match_route(path).route, Route::unknown) << path;
  }
  // A segment named like a format is an id (a bad one: 400, as before).
  EXPECT_EQ(match_route("/v1/image/webp").route, Route::image);
  EXPECT_EQ(match_route("/images/auto").id, "auto");
}

TEST(Router, AllowedMethods) {
  EXPECT_EQ(allowed_methods(Route::upload), "POST, OPTIONS");
  EXPECT_EQ(allowed_methods(Route::image), "GET, HEAD, OPTIONS");
}

const std::vector<int> kSizes{160, 320, 640, 800, 1024, 1200};

TEST(Size, AbsentOrEmptyMeansOriginal) {
  for (auto choice :
       {choose_size(std::nullopt, std::nullopt, kSizes), choose_size("", std::nullopt, kSizes),
        choose_size(std::nullopt, "", kSizes)}) {
    EXPECT_TRUE(choice.valid);
    EXPECT_FALSE(choice.size.has_value());
  }
}

TEST(Size, QueryWinsOverHeader) {
  const auto choice = choose_size("320", "640", kSizes);
  ASSERT_TRUE(choice.valid);
  EXPECT_EQ(choice.size, 320);
  EXPECT_EQ(choose_size(std::nullopt, "640", kSizes).size, 640);
  // An empty query still wins: the original, even with a header.
  EXPECT_FALSE(choose_size("", "640", kSizes).size.has_value());
}

TEST(Size, OnlyExactAllowedValues) {
  for (const char* bad : {"100", "0", "0320", "+320", "-320", "320px", " 320", "320 ", "3.2e2",
                          "99999999999", "abc"}) {
    EXPECT_FALSE(choose_size(bad, std::nullopt, kSizes).valid) << bad;
    EXPECT_FALSE(choose_size(std::nullopt, bad, kSizes).valid) << bad;
  }
  for (int size : kSizes) {
    EXPECT_EQ(choose_size(std::to_string(size), std::nullopt, kSizes).size, size);
  }
}

}  // namespace
}  // namespace imagecpp::api
