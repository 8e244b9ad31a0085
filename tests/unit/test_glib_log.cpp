// GLib's and libvips' messages as lines of the service's logger: levels, escaping, throttling,
// both GLib APIs. (tests/integration/test_library_log.py makes libvips warn in the service.)
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "image/glib_log.hpp"

namespace imagecpp::image {
namespace {

using namespace std::chrono_literals;

// Lines of spdlog's default logger, as "level message", for the test's lifetime.
class GlibLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern("%l %v");
    auto logger = std::make_shared<spdlog::logger>("glib-log-test", std::move(sink));
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(std::move(logger));
  }
  void TearDown() override {
    spdlog::set_default_logger(previous_);
    spdlog::drop("glib-log-test");
  }

  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::time_point{} + 1h;
  GlibLog log_{[this] { return now_; }};

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

using Lines = std::vector<std::string>;

TEST(GlibLogLevels, MapToTheLoggersLevels) {
  EXPECT_EQ(level_of(G_LOG_LEVEL_ERROR), spdlog::level::critical);
  EXPECT_EQ(level_of(G_LOG_LEVEL_CRITICAL), spdlog::level::err);
  EXPECT_EQ(level_of(G_LOG_LEVEL_WARNING), spdlog::level::warn);
  EXPECT_EQ(level_of(G_LOG_LEVEL_MESSAGE), spdlog::level::info);
  EXPECT_EQ(level_of(G_LOG_LEVEL_INFO), spdlog::level::debug);
  EXPECT_EQ(level_of(G_LOG_LEVEL_DEBUG), spdlog::level::debug);
  // GLib adds flags to the level bit.
  EXPECT_EQ(level_of(static_cast<GLogLevelFlags>(G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL)),
            spdlog::level::err);
  EXPECT_EQ(level_of(static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_FLAG_RECURSION)),
            spdlog::level::warn);
}

TEST(GlibLogLine, IsTheDomainAndTheMessage) {
  EXPECT_EQ(glib_line("VIPS", "error in tile 0 x 232"), "VIPS: error in tile 0 x 232");
  EXPECT_EQ(glib_line("", "no domain"), "-: no domain");
  EXPECT_EQ(glib_line("GLib-GObject", ""), "GLib-GObject: ");
}

TEST(GlibLogLine, EscapesWhatAMessageQuotes) {
  // A codec may quote bytes of the upload: none may end the line or reach a terminal raw.
  EXPECT_EQ(glib_line("VIPS", "bad chunk \"\x1b[2J\"\n2026-01-01T00:00:00.000Z info forged\xff"),
            "VIPS: bad chunk \"\\x1b[2J\"\\x0a2026-01-01T00:00:00.000Z info forged\\xff");
  EXPECT_EQ(glib_line("VIPS\nforged", "x"), "VIPS\\x0aforged: x");
  const std::string long_message(5000, 'a');
  EXPECT_EQ(glib_line("VIPS", long_message),
            "VIPS: " + std::string(512, 'a') + "...[cut:5000-bytes]");
  const std::string long_domain(100, 'd');
  EXPECT_EQ(glib_line(long_domain, "x"), std::string(64, 'd') + "...[cut:100-bytes]: x");
}

TEST_F(GlibLogTest, AWarningIsAWarningLineOfTheDefaultLogger) {
  log_.write("VIPS", G_LOG_LEVEL_WARNING, "error in tile 0 x 232");
  log_.write("GLib", G_LOG_LEVEL_CRITICAL, "g_object_unref: assertion 'G_IS_OBJECT (object)'");
  EXPECT_EQ(lines(), (Lines{"warning VIPS: error in tile 0 x 232",
                            "error GLib: g_object_unref: assertion 'G_IS_OBJECT (object)'"}));
}

TEST_F(GlibLogTest, LevelsBelowTheLoggersAreDroppedWithoutUsingTheThrottle) {
  log_.write("GLib", G_LOG_LEVEL_DEBUG, "debug 1");
  log_.write("GLib", G_LOG_LEVEL_INFO, "info 1");
  EXPECT_TRUE(lines().empty());
  spdlog::default_logger()->set_level(spdlog::level::debug);
  log_.write("GLib", G_LOG_LEVEL_DEBUG, "debug 2");
  EXPECT_EQ(lines(), (Lines{"debug GLib: debug 2"}));
}

TEST_F(GlibLogTest, OneLineASecondPerLevelThenTheCountHeldBack) {
  for (int i = 0; i < 4; ++i) log_.write("VIPS", G_LOG_LEVEL_WARNING, "error in tile 0 x 8");
  // A flood of warnings does not hold back a line of another level.
  log_.write("GLib", G_LOG_LEVEL_CRITICAL, "a precondition failed");
  now_ += 999ms;
  log_.write("VIPS", G_LOG_LEVEL_WARNING, "error in tile 0 x 16");
  now_ += 1ms;
  log_.write("VIPS", G_LOG_LEVEL_WARNING, "error in tile 0 x 24");
  now_ += 1h;
  log_.write("VIPS", G_LOG_LEVEL_WARNING, "error in tile 0 x 32");
  EXPECT_EQ(lines(),
            (Lines{"warning VIPS: error in tile 0 x 8", "error GLib: a precondition failed",
                   "warning VIPS: error in tile 0 x 24; 4 more since the previous line",
                   "warning VIPS: error in tile 0 x 32"}));
}

TEST_F(GlibLogTest, AStructuredMessageIsReadFromItsFields) {
  const char domain_and_more[] = "GLib-GObjectTRAILING";  // a length, not a NUL, ends it
  const GLogField fields[] = {
      {"PRIORITY", "4", -1},
      {"GLIB_DOMAIN", domain_and_more, 12},
      {"CODE_FILE", nullptr, 0},
      {"MESSAGE", "signal \x1b[31m not found", -1},
  };
  log_.write(G_LOG_LEVEL_WARNING, fields, std::size(fields));
  const GLogField no_domain[] = {{"MESSAGE", "plain", -1}};
  log_.write(G_LOG_LEVEL_CRITICAL, no_domain, std::size(no_domain));
  log_.write(G_LOG_LEVEL_MESSAGE, nullptr, 0);
  EXPECT_EQ(lines(), (Lines{"warning GLib-GObject: signal \\x1b[31m not found", "error -: plain",
                            "info -: "}));
}

TEST(GlibLogRoute, InstallsTheDefaultHandlerOnceAndCanBeCalledAgain) {
  route_glib_logs();
  route_glib_logs();  // GLib aborts when its writer function is set twice: this must not
  GLogFunc installed = g_log_set_default_handler(g_log_default_handler, nullptr);
  g_log_set_default_handler(installed, nullptr);
  EXPECT_NE(installed, &g_log_default_handler);
}

}  // namespace
}  // namespace imagecpp::image
