#pragma once
// libvips and GLib report through GLib's logging ("VIPS-WARNING **: 12:42:10.720: error in tile
// 0 x 232" on stderr by default, in a format and time of their own). These messages go to the
// service's logger instead: the same text or JSON lines with the same time, the text escaped
// like every other outside value (a codec may quote bytes of an upload), and throttled, because
// a damaged upload makes a codec warn on every read of it, several lines a read.
#include <glib.h>
#include <spdlog/common.h>

#include <array>
#include <string>
#include <string_view>

#include "log/throttle.hpp"

namespace imagecpp::image {

// What GLib's messages become: lines of spdlog's default logger, at most one a second for each
// level (so that a flood of codec warnings cannot hide a GLib critical), the next line saying
// how many were held back. Thread-safe; never throws (it is called from C code).
class GlibLog {
 public:
  // `clock` is injectable for tests; the default is the steady clock.
  explicit GlibLog(const log::Throttle::Clock& clock = {});

  // A message of GLib's classic API (g_log, g_warning...), what libvips and GLib call.
  void write(std::string_view domain, GLogLevelFlags flags, std::string_view message) noexcept;
  // A message of GLib's structured API (g_log_structured): its MESSAGE and GLIB_DOMAIN fields.
  void write(GLogLevelFlags flags, const GLogField* fields, std::size_t n_fields) noexcept;

 private:
  std::array<log::Throttle, spdlog::level::n_levels> throttles_;
};

// Sends GLib's messages, classic and structured, to one process-wide GlibLog. Once per process
// (later calls do nothing); call it before VIPS_INIT so that nothing libvips says at start-up
// goes around the logger.
void route_glib_logs();

// The logger's level for a GLib level. GLib's own writer drops debug and info messages unless
// G_MESSAGES_DEBUG asks for them: both are debug lines here. A message is info, a warning a
// warning, a critical (a library's failed precondition) an error, an error (after which GLib
// aborts) critical.
spdlog::level::level_enum level_of(GLogLevelFlags flags);

// "domain: message", both escaped and capped (log/escape.hpp); "-" for no domain.
std::string glib_line(std::string_view domain, std::string_view message);

}  // namespace imagecpp::image
