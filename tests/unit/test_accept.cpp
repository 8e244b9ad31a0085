// Negotiating a variant's format from Accept: real clients' headers, q-values, exclusions,
// wildcards, and hostile values (bounded, never an error).
#include <gtest/gtest.h>

#include <string>

#include "api/accept.hpp"

namespace imagecpp::api {
namespace {

using image::Format;

struct Case {
  const char* client;
  const char* accept;
  Format expected;
};

// What each client sends for an <img> (browsers) or by default (tools).
const Case kClients[] = {
    {"Chrome 120+ / Edge", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
     Format::avif},
    {"Firefox 121+", "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
     Format::avif},
    {"Firefox 65-92", "image/webp,*/*", Format::webp},
    {"Safari 17",
     "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,"
     "image/svg+xml,image/*;q=0.8,*/*;q=0.5",
     Format::avif},
    {"Safari 14-16.3", "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5",
     Format::webp},
    {"Safari 13", "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5", Format::jpeg},
    {"curl", "*/*", Format::jpeg},
    {"Python requests", "*/*", Format::jpeg},
    {"Googlebot (Chromium renderer)",
     "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/"
     "*;q=0.8,application/signed-exchange;v=b3;q=0.7",
     Format::avif},
    {"Java HttpURLConnection", "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2",
     Format::jpeg},
    {"no Accept", "", Format::jpeg},
};

TEST(Accept, RealClients) {
  for (const Case& c : kClients) EXPECT_EQ(negotiate_format(c.accept), c.expected) << c.client;
}

TEST(Accept, ZeroExcludes) {
  EXPECT_EQ(negotiate_format("image/avif;q=0,image/webp,*/*"), Format::webp);
  EXPECT_EQ(negotiate_format("image/avif,image/webp;q=0"), Format::avif);
  EXPECT_EQ(negotiate_format("image/avif;q=0,image/webp;q=0,*/*"), Format::jpeg);
  EXPECT_EQ(negotiate_format("image/webp,image/jpeg;q=0"), Format::webp);
  EXPECT_EQ(negotiate_format("image/avif;q=0.0,image/webp;q=0.000,image/*"), Format::jpeg);
  // The exact type wins over a wildcard, whatever their order or weights.
  EXPECT_EQ(parse_accept("image/jpeg;q=0,image/*").jpeg, 0);
  EXPECT_EQ(parse_accept("*/*;q=0,image/*;q=0.3").jpeg, 300);
}

TEST(Accept, NothingAcceptableStillGetsJpeg) {
  for (const char* accept :
       {"image/*;q=0", "*/*;q=0", "image/jpeg;q=0", "text/html", "application/json", "image/png"}) {
    const FormatWeights w = parse_accept(accept);
    EXPECT_EQ(w.jpeg, 0) << accept;
    EXPECT_EQ(negotiate_format(accept), Format::jpeg) << accept;
  }
}

TEST(Accept, HigherQualityWins) {
  EXPECT_EQ(negotiate_format("image/webp;q=0.9,image/avif;q=0.5,*/*;q=0.1"), Format::webp);
  EXPECT_EQ(negotiate_format("image/webp;q=0.9,image/avif;q=0.5,*/*"), Format::jpeg);
  EXPECT_EQ(negotiate_format("image/jpeg,image/webp;q=0.99"), Format::jpeg);
  EXPECT_EQ(negotiate_format("image/avif;q=0.001,image/webp;q=0.002"), Format::webp);
}

TEST(Accept, TiesGoToTheSmallerEncoding) {
  EXPECT_EQ(choose_format({.avif = 500, .webp = 500, .jpeg = 500}), Format::avif);
  EXPECT_EQ(choose_format({.avif = 0, .webp = 500, .jpeg = 500}), Format::webp);
  EXPECT_EQ(choose_format({.avif = 0, .webp = 0, .jpeg = 0}), Format::jpeg);
  EXPECT_EQ(choose_format({.avif = 1, .webp = 0, .jpeg = 0}), Format::avif);
}

TEST(Accept, WildcardsGrantOnlyJpeg) {
  const FormatWeights any = parse_accept("*/*");
  EXPECT_EQ(any.avif, 0);
  EXPECT_EQ(any.webp, 0);
  EXPECT_EQ(any.jpeg, 1000);
  const FormatWeights images = parse_accept("image/*;q=0.7");
  EXPECT_EQ(images.avif, 0);
  EXPECT_EQ(images.jpeg, 700);
}

TEST(Accept, SyntaxVariants) {
  EXPECT_EQ(negotiate_format("IMAGE/AVIF"), Format::avif);
  EXPECT_EQ(negotiate_format(" image/webp ; Q=0.5 , */*;q=0.1 "), Format::webp);
  EXPECT_EQ(negotiate_format("\timage/webp\t;\tq=1"), Format::webp);
  EXPECT_EQ(negotiate_format(",,,image/webp,,"), Format::webp);
  EXPECT_EQ(parse_accept("image/avif;q=1.000").avif, 1000);
  EXPECT_EQ(parse_accept("image/avif;q=0.5;ext=1").avif, 500);  // extensions follow q
  EXPECT_EQ(parse_accept("image/avif;level=2;q=0.25").avif, 250);
  // A comma inside a quoted parameter does not end the entry.
  EXPECT_EQ(parse_accept(R"(image/avif;x="a,image/webp";q=0.4)").avif, 400);
  EXPECT_EQ(parse_accept(R"(image/avif;x="a,image/webp";q=0.4)").webp, 0);
  EXPECT_EQ(parse_accept(R"(image/avif;x="a\",b";q=0.3,image/webp)").avif, 300);
  // The first of two equally specific ranges counts.
  EXPECT_EQ(parse_accept("image/webp;q=0.2,image/webp;q=0.9").webp, 200);
}

TEST(Accept, MalformedEntriesAreSkipped) {
  for (const char* bad :
       {"image/avif;q=2", "image/avif;q=1.001", "image/avif;q=abc", "image/avif;q=0.1234",
        "image/avif;q=", "image/avif;q", "image/avif;q=-1", "image/avif;q=.5", "image /avif",
        "image/av if", "*/avif", "avif", "/avif", "image/", "image/avif;=1", "image/avif;q=0.5x"}) {
    EXPECT_EQ(parse_accept(bad).avif, 0) << bad;
    EXPECT_EQ(parse_accept(std::string(bad) + ",image/webp").webp, 1000) << bad;
  }
}

TEST(Accept, HostileValuesAreBounded) {
  // Entries past the first kMaxAcceptEntries are not read.
  std::string many;
  for (std::size_t i = 0; i < kMaxAcceptEntries; ++i) many += "text/plain,";
  EXPECT_EQ(negotiate_format(many + "image/avif"), Format::jpeg);
  EXPECT_EQ(negotiate_format("image/avif," + many), Format::avif);
  // Nor bytes past kMaxAcceptBytes.
  const std::string padding(kMaxAcceptBytes, ' ');
  EXPECT_EQ(negotiate_format(padding + ",image/avif"), Format::jpeg);
  EXPECT_EQ(negotiate_format("image/avif," + padding), Format::avif);
  // Unbalanced quotes, control bytes, NULs, a megabyte of commas: an answer, never a crash.
  EXPECT_EQ(negotiate_format(R"(image/avif;x="unterminated,image/webp)"), Format::avif);
  EXPECT_EQ(negotiate_format(std::string("image/webp\0,image/avif", 22)), Format::avif);
  EXPECT_EQ(negotiate_format(std::string(1 << 20, ',')), Format::jpeg);
  EXPECT_EQ(negotiate_format(std::string(1 << 20, '"')), Format::jpeg);
  EXPECT_EQ(negotiate_format("\x01\x02\xff\xfe/\x80"), Format::jpeg);
}

}  // namespace
}  // namespace imagecpp::api
