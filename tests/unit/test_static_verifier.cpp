#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>

#include "auth/static_verifier.hpp"
#include "core/error.hpp"
#include "run_awaitable.hpp"
#include "temp_dir.hpp"

using imagecpp::Error;
using imagecpp::ErrorCode;
using imagecpp::auth::Credential;
using imagecpp::auth::StaticVerifier;
using imagecpp::auth::User;
using imagecpp::test::run_awaitable;

namespace {

constexpr std::string_view kFile =
    "# demo tokens\n"
    "\n"
    "alpha-token-123 u1 Ada Lovelace\n"
    "  beta\tu2\r\n"
    "gamma u3   Grace  \n";

User verify(StaticVerifier& v, std::string token) {
  return run_awaitable(v.verify(std::move(token)));
}

ErrorCode verify_error(StaticVerifier& v, std::string token) {
  try {
    verify(v, std::move(token));
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "accepted";
  return ErrorCode::internal;
}

std::string parse_error(std::string_view text) {
  try {
    StaticVerifier::parse(text, "tokens.txt");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed";
  return "";
}

}  // namespace

TEST(StaticVerifier, ParsesUsersAndNames) {
  StaticVerifier v = StaticVerifier::parse(kFile, "tokens.txt");
  const User ada = verify(v, "alpha-token-123");
  EXPECT_EQ(ada.id, "u1");
  EXPECT_EQ(ada.name, "Ada Lovelace");
  const User beta = verify(v, "beta");
  EXPECT_EQ(beta.id, "u2");
  EXPECT_EQ(beta.name, "");
  EXPECT_EQ(verify(v, "gamma").name, "Grace");
}

TEST(StaticVerifier, RejectsUnknownPrefixAndExtendedTokens) {
  StaticVerifier v = StaticVerifier::parse(kFile, "tokens.txt");
  for (const char* bad : {"", "alpha", "alpha-token-12", "alpha-token-1234", "Alpha-token-123",
                          "bet", "betaa", "u1", "#"}) {
    EXPECT_EQ(verify_error(v, bad), ErrorCode::unauthorized) << bad;
  }
  EXPECT_EQ(verify_error(v, std::string("beta\0", 5)), ErrorCode::unauthorized);
  EXPECT_EQ(verify_error(v, std::string(10000, 'a')), ErrorCode::unauthorized);
}

TEST(StaticVerifier, ParseErrorsNameTheLineButNotTheToken) {
  const std::string missing_user = parse_error("ok u1\nsecret-lonely-token\n");
  EXPECT_NE(missing_user.find("tokens.txt, line 2"), std::string::npos) << missing_user;
  EXPECT_EQ(missing_user.find("secret-lonely-token"), std::string::npos) << missing_user;

  const std::string duplicate = parse_error("dup u1\n# x\ndup u2\n");
  EXPECT_NE(duplicate.find("line 3"), std::string::npos) << duplicate;
  EXPECT_NE(duplicate.find("duplicate"), std::string::npos) << duplicate;

  EXPECT_NE(parse_error("tok\x01x u1\n").find("line 1"), std::string::npos);
  EXPECT_NE(parse_error("").find("no tokens"), std::string::npos);
  EXPECT_NE(parse_error("# only a comment\n\n").find("no tokens"), std::string::npos);
}

TEST(StaticVerifier, FromFile) {
  const imagecpp::test::TempDir dir;
  const auto path = dir.path() / "tokens.txt";
  std::ofstream(path) << kFile;
  StaticVerifier v = StaticVerifier::from_file(path);
  EXPECT_EQ(verify(v, "gamma").id, "u3");
}

TEST(StaticVerifier, FromFileErrors) {
  const imagecpp::test::TempDir dir;
  const auto missing = dir.path() / "missing.txt";
  try {
    StaticVerifier::from_file(missing);
    ADD_FAILURE() << "opened a missing file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.txt"), std::string::npos) << e.what();
  }
  EXPECT_THROW(StaticVerifier::from_file(dir.path()), std::runtime_error);  // a directory

  const auto bad = dir.path() / "bad.txt";
  std::ofstream(bad) << "lonely\n";
  EXPECT_THROW(StaticVerifier::from_file(bad), std::runtime_error);
}

TEST(StaticVerifier, ConstructorValidates) {
  using Credentials = std::vector<Credential>;
  EXPECT_THROW(StaticVerifier(Credentials{}), std::invalid_argument);
  EXPECT_THROW(StaticVerifier(Credentials{{"", User{"u", ""}}}), std::invalid_argument);
  EXPECT_THROW(StaticVerifier(Credentials{{"a b", User{"u", ""}}}), std::invalid_argument);
  EXPECT_THROW(StaticVerifier(Credentials{{"t", User{"u1", ""}}, {"t", User{"u2", ""}}}),
               std::invalid_argument);
  StaticVerifier v(
      Credentials{{"short", User{"u1", "A"}}, {"a-much-longer-token", User{"u2", "B"}}});
  EXPECT_EQ(verify(v, "short").id, "u1");
  EXPECT_EQ(verify(v, "a-much-longer-token").id, "u2");
  EXPECT_EQ(verify_error(v, "a-much"), ErrorCode::unauthorized);
  EXPECT_EQ(verify_error(v, "shortt"), ErrorCode::unauthorized);
}
