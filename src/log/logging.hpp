#pragma once
// Logging: spdlog, as text or JSON lines, every line with one time format (ISO 8601, UTC,
// milliseconds). Access lines (one per request) go to their own logger so that in JSON mode
// they carry their fields as JSON members.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace imagecpp::log {

enum class Format { text, json };

void setup(Format format, const std::string& level);

// What one access line says about a request. The views are the request's own bytes: they are
// escaped and capped here. Never a token.
struct AccessLine {
  std::string_view method;
  std::string_view target;  // the query string is not logged
  std::string_view route;
  unsigned status = 0;
  std::uint64_t bytes = 0;
  std::chrono::steady_clock::duration duration{};
  std::string_view correlation_id;
  std::string_view user;  // empty unless authenticated
};

void access(const AccessLine& line);

}  // namespace imagecpp::log
