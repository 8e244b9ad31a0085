#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/number.hpp"

namespace {

using imagecpp::config::NumberRange;
using imagecpp::config::parse_number;

constexpr NumberRange kAny{0, std::numeric_limits<std::uint64_t>::max()};
constexpr NumberRange kPort{1, 65535};

TEST(ParseNumber, AcceptsPlainDecimalDigits) {
  EXPECT_EQ(parse_number("0", kAny), 0u);
  EXPECT_EQ(parse_number("3001", kAny), 3001u);
  EXPECT_EQ(parse_number("007", kAny), 7u);  // leading zeros are decimal, not octal
  EXPECT_EQ(parse_number("010", kAny), 10u);
}

TEST(ParseNumber, RefusesEveryOtherForm) {
  for (const char*
           text : {"",    " ",   "abc",   "-1",    "+1",      "-0",    " 1",   "1 ",
                   "\t1", "1\n", "1.5",   "1e3",   "1,000",   "1_000", "0x10", "0X10",
                   "0b1", "1k",  "12abc", "abc12", "\xd9\xa1" /* ARABIC-INDIC DIGIT ONE */}) {
    EXPECT_FALSE(parse_number(text, kAny).has_value()) << '"' << text << '"';
  }
  EXPECT_FALSE(parse_number(std::string_view("1\0", 2), kAny).has_value());
}

TEST(ParseNumber, RangeBoundsAreInclusive) {
  EXPECT_FALSE(parse_number("0", kPort).has_value());
  EXPECT_EQ(parse_number("1", kPort), 1u);
  EXPECT_EQ(parse_number("65535", kPort), 65535u);
  EXPECT_FALSE(parse_number("65536", kPort).has_value());
  EXPECT_FALSE(parse_number("70000", kPort).has_value());  // not 70000 mod 65536 = 4464
  EXPECT_EQ(parse_number("5", NumberRange{5, 5}), 5u);
  EXPECT_FALSE(parse_number("4", NumberRange{5, 5}).has_value());
}

TEST(ParseNumber, RefusesWhatDoesNotFit64Bits) {
  EXPECT_EQ(parse_number("18446744073709551615", kAny), std::numeric_limits<std::uint64_t>::max());
  EXPECT_FALSE(parse_number("18446744073709551616", kAny).has_value());
  EXPECT_FALSE(parse_number("99999999999999999999999999", kAny).has_value());
  EXPECT_EQ(parse_number("000000000000000000000000042", kAny), 42u);
}

TEST(ParseNumber, DescribesItsRange) {
  EXPECT_EQ(imagecpp::config::describe(kPort), "1..65535");
}

// load() with an argv and a clean environment for the variables it reads.
class ConfigLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"PORT", "SERVER_PORT", "IMAGE_CACHE_MB", "IMAGE_SIZES",
                             "IMAGE_AUTH_MODE", "IMAGE_HEADER_TIMEOUT", "REDIS_PORT"}) {
      unsetenv(name);
    }
  }
  void TearDown() override { SetUp(); }

  struct Outcome {
    std::optional<imagecpp::config::Config> config;
    int exit_code = -1;
    std::string err;
  };

  static Outcome load(std::vector<std::string> args) {
    args.insert(args.begin(), "imagecpp");
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    Outcome out;
    ::testing::internal::CaptureStderr();
    out.config = imagecpp::config::load(static_cast<int>(argv.size()), argv.data(), out.exit_code);
    out.err = ::testing::internal::GetCapturedStderr();
    return out;
  }

  static void ExpectRefused(const Outcome& out, const std::string& names,
                            const std::string& range) {
    EXPECT_FALSE(out.config.has_value());
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_NE(out.err.find(names), std::string::npos) << out.err;
    EXPECT_NE(out.err.find(range), std::string::npos) << out.err;
    EXPECT_EQ(std::count(out.err.begin(), out.err.end(), '\n'), 1) << out.err;
  }
};

TEST_F(ConfigLoad, DefaultsWithoutSettings) {
  const auto out = load({});
  ASSERT_TRUE(out.config.has_value()) << out.err;
  EXPECT_EQ(out.config->port, 3001);
  EXPECT_EQ(out.config->header_timeout, std::chrono::seconds(10));
}

TEST_F(ConfigLoad, FlagsAndEnvironmentGoThroughTheStrictParser) {
  setenv("IMAGE_HEADER_TIMEOUT", "7", 1);
  auto out = load({"--port", "65535", "--max-render-ms", "1", "--sizes", "100,0200"});
  ASSERT_TRUE(out.config.has_value()) << out.err;
  EXPECT_EQ(out.config->port, 65535);
  EXPECT_EQ(out.config->header_timeout, std::chrono::seconds(7));
  EXPECT_EQ(out.config->max_render_time, std::chrono::milliseconds(1));
  EXPECT_EQ(out.config->sizes, (std::vector<int>{100, 200}));

  ExpectRefused(load({"--port", "70000"}), "--port (env PORT)", "0..65535");
  ExpectRefused(load({"--port", "-1"}), "--port (env PORT)", "0..65535");
  ExpectRefused(load({"--header-timeout", "0x10"}), "IMAGE_HEADER_TIMEOUT", "1..3600");
  ExpectRefused(load({"--sizes", "160,abc"}), "--sizes (env IMAGE_SIZES)", "1..10000");
  ExpectRefused(load({"--sizes", "160,"}), "--sizes (env IMAGE_SIZES)", "1..10000");
  ExpectRefused(load({"--sizes", "160,,320"}), "--sizes (env IMAGE_SIZES)", "1..10000");
  ExpectRefused(load({"--sizes", ""}), "--sizes (env IMAGE_SIZES)", "1..10000");
  setenv("IMAGE_CACHE_MB", "99999999999999999999", 1);
  ExpectRefused(load({}), "--cache-mb (env IMAGE_CACHE_MB)", "0..1048576");
}

TEST_F(ConfigLoad, PortFromEitherVariablePortWinsFlagWinsOverBoth) {
  setenv("SERVER_PORT", "4000", 1);
  EXPECT_EQ(load({}).config->port, 4000);
  setenv("PORT", "5000", 1);
  EXPECT_EQ(load({}).config->port, 5000);
  EXPECT_EQ(load({"--port", "6000"}).config->port, 6000);
  EXPECT_EQ(load({"--port", "0"}).config->port, 0);  // any free port, named at startup
  setenv("PORT", "abc", 1);
  ExpectRefused(load({}), "--port (env PORT)", "0..65535");
  unsetenv("PORT");
  setenv("SERVER_PORT", "70000", 1);
  ExpectRefused(load({}), "--port (env SERVER_PORT)", "0..65535");
}

TEST_F(ConfigLoad, ChoicesAreCheckedWithTheirNames) {
  auto out = load({"--log-format", "JSON", "--log-level", "Warn"});
  ASSERT_TRUE(out.config.has_value()) << out.err;
  EXPECT_EQ(out.config->log_format, imagecpp::config::LogFormat::json);
  EXPECT_EQ(out.config->log_level, "warn");
  ExpectRefused(load({"--log-level", "verbose"}), "--log-level (env IMAGE_LOG_LEVEL)",
                "trace, debug, info, warn, error, critical, off");
  ExpectRefused(load({"--log-format", "xml"}), "IMAGE_LOG_FORMAT", "text, json");
  setenv("IMAGE_AUTH_MODE", "none", 1);
  ExpectRefused(load({}), "--auth-mode (env IMAGE_AUTH_MODE)", "remote, static");
}

TEST_F(ConfigLoad, TheBadValueIsEchoedEscapedOnOneLine) {
  const auto out = load({"--port", "1\n\x1b[2J"});
  ExpectRefused(out, "--port", "0..65535");
  EXPECT_EQ(out.err.find('\x1b'), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("1\\x0a\\x1b[2J"), std::string::npos) << out.err;
}

TEST_F(ConfigLoad, OtherUsageErrorsExit2Too) {
  ExpectRefused(load({"--no-such-flag"}), "--no-such-flag", "");
  ExpectRefused(load({"--auth-mode", "static"}), "--tokens-file", "");
}

}  // namespace
