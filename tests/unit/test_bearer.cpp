#include <gtest/gtest.h>

#include "auth/bearer.hpp"
#include "core/token.hpp"

using imagecpp::auth::parse_bearer;

TEST(Bearer, AcceptsSchemeInAnyCase) {
  EXPECT_EQ(parse_bearer("Bearer x"), "x");
  EXPECT_EQ(parse_bearer("bearer x"), "x");
  EXPECT_EQ(parse_bearer("BEARER x"), "x");
  EXPECT_EQ(parse_bearer("bEaReR eyJhbGciOi.JIUzI1.NiJ9-_+/="), "eyJhbGciOi.JIUzI1.NiJ9-_+/=");
}

TEST(Bearer, RejectsMalformedHeaders) {
  for (const char* bad : {
           "",
           "Bearer",
           "Bearer ",
           "Bearer  x",
           "Bearer\tx",
           "Basic x",
           "Basic dXNlcjpwYXNz",
           "Bearerx",
           " Bearer x",
           "Bearer x ",
           "Bearer x y",
           "Bearer x\ty",
           "Bearer x\r\n",
           "Token x",
           "Bearer: x",
       }) {
    EXPECT_EQ(parse_bearer(bad), std::nullopt) << '"' << bad << '"';
  }
  EXPECT_EQ(parse_bearer(std::string_view("Bearer x\0y", 10)), std::nullopt);
  EXPECT_EQ(parse_bearer("Bearer x\x7f"), std::nullopt);
}

TEST(Bearer, TokenTagIsShortStableAndDistinct) {
  const std::string tag = imagecpp::token::tag("secret-token");
  EXPECT_EQ(tag.size(), 8u);
  EXPECT_EQ(tag.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(tag, imagecpp::token::tag("secret-token"));
  EXPECT_NE(tag, imagecpp::token::tag("secret-tokem"));
  EXPECT_EQ(tag.find("secret"), std::string::npos);
  EXPECT_EQ(imagecpp::token::tag(""),
            "cbf29ce4");  // FNV-1a 64 offset basis: the hash is the documented one
}
