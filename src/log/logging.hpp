#pragma once
// Logging: spdlog, as text or JSON lines. Access lines (one per request) go to their own logger
// so that in JSON mode they carry their fields as JSON members.
#include <string>

#include "config/config.hpp"
#include "http/server.hpp"

namespace imagecpp::log {

void setup(config::LogFormat format, const std::string& level);

// One line per request: method, target path, route, status, bytes, duration, correlation id,
// user id when authenticated. Never a token.
void access(const http::AccessRecord& record);

}  // namespace imagecpp::log
