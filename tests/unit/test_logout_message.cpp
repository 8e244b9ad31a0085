// parse_logout: both peers' message shapes, the bearer prefix, and everything to drop.
#include <gtest/gtest.h>

#include <string>

#include "events/logout_message.hpp"

namespace imagecpp::events {
namespace {

TEST(ParseLogout, NodeShape) {
  EXPECT_EQ(parse_logout(R"({"type":"logout","message":"bearer eyJhbGc.x.y"})"), "eyJhbGc.x.y");
}

TEST(ParseLogout, GoShapeWithoutType) {
  EXPECT_EQ(parse_logout(
                R"({"correlation_id":"c1","exchange":"","routing_key":"","message":"Bearer abc"})"),
            "abc");
}

TEST(ParseLogout, PrefixInAnyCaseOrNone) {
  EXPECT_EQ(parse_logout(R"({"message":"BEARER abc"})"), "abc");
  EXPECT_EQ(parse_logout(R"({"message":"bEaReR abc"})"), "abc");
  EXPECT_EQ(parse_logout(R"({"message":"abc"})"), "abc");
  EXPECT_EQ(parse_logout(R"({"message":"  Bearer abc \n"})"), "abc");
}

TEST(ParseLogout, OtherTypesAreIgnored) {
  const auto m = read_logout(R"({"type":"login","message":"bearer abc"})");
  EXPECT_EQ(m.kind, LogoutKind::ignored);
  EXPECT_FALSE(parse_logout(R"({"type":"LOGOUT","message":"bearer abc"})"));
}

TEST(ParseLogout, GarbageIsMalformed) {
  for (const std::string body :
       {"", "not json", "[]", "\"bearer abc\"", "{}", "{\"message\":1}", R"({"message":null})",
        R"({"type":1,"message":"abc"})", R"({"message":""})", R"({"message":"bearer "})",
        R"({"message":"a b"})", R"({"message":"a\u0000b"})", R"({"message":"abc"} trailing)",
        "{\"message\":\"abc\""}) {
    EXPECT_EQ(read_logout(body).kind, LogoutKind::malformed) << body;
  }
}

TEST(ParseLogout, BodiesOverTheCapAreDropped) {
  const std::string token(kMaxLogoutBody, 'a');
  EXPECT_FALSE(parse_logout(R"({"message":")" + token + "\"}"));
  const std::string fits(kMaxLogoutBody - 20, 'a');
  EXPECT_EQ(parse_logout(R"({"message":")" + fits + "\"}"), fits);
}

}  // namespace
}  // namespace imagecpp::events
