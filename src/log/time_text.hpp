#pragma once
// Every log line's time: ISO 8601 in UTC with milliseconds ("2026-11-30T18:45:11.123Z"), what
// spdlog writes for the pattern "%Y-%m-%dT%H:%M:%S.%eZ". Access lines (one a request) write it
// with this: the date and the time of day are formatted once a second per thread, the
// milliseconds from an integer (spdlog's pattern formatter was 4 % of a warm read).
#include <fmt/format.h>

#include <chrono>

namespace imagecpp::log {

void append_time(std::chrono::system_clock::time_point time, fmt::memory_buffer& out);

}  // namespace imagecpp::log
