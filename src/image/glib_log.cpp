#include "image/glib_log.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <mutex>

#include "log/escape.hpp"

namespace imagecpp::image {
namespace {

constexpr std::size_t kMaxDomainBytes = 64;
constexpr auto kInterval = std::chrono::seconds(1);

GlibLog& process_log() {
  static GlibLog log;
  return log;
}

void on_message(const gchar* domain, GLogLevelFlags flags, const gchar* message,
                gpointer /*user_data*/) {
  process_log().write(domain != nullptr ? domain : "", flags, message != nullptr ? message : "");
}

GLogWriterOutput on_structured(GLogLevelFlags flags, const GLogField* fields, gsize n_fields,
                               gpointer /*user_data*/) {
  process_log().write(flags, fields, n_fields);
  return G_LOG_WRITER_HANDLED;
}

void install() {
  g_log_set_default_handler(on_message, nullptr);
  g_log_set_writer_func(on_structured, nullptr, nullptr);
}

}  // namespace

GlibLog::GlibLog(const log::Throttle::Clock& clock)
    : throttles_{log::Throttle(kInterval, clock), log::Throttle(kInterval, clock),
                 log::Throttle(kInterval, clock), log::Throttle(kInterval, clock),
                 log::Throttle(kInterval, clock), log::Throttle(kInterval, clock),
                 log::Throttle(kInterval, clock)} {}

void GlibLog::write(std::string_view domain, GLogLevelFlags flags,
                    std::string_view message) noexcept {
  try {
    const auto level = level_of(flags);
    const auto logger = spdlog::default_logger();
    if (!logger || !logger->should_log(level)) return;
    const auto held_back = throttles_.at(static_cast<std::size_t>(level)).admit();
    if (!held_back) return;
    logger->log(level, "{}{}", glib_line(domain, message), log::held_back_note(*held_back));
    // GLib aborts the process after a fatal message: the line must be out before.
    if ((flags & G_LOG_FLAG_FATAL) != 0 || level == spdlog::level::critical) logger->flush();
  } catch (...) {
    // A line lost (no memory) is all that is lost: nothing may unwind into GLib's C code.
  }
}

void GlibLog::write(GLogLevelFlags flags, const GLogField* fields, std::size_t n_fields) noexcept {
  std::string_view domain;
  std::string_view message;
  for (std::size_t i = 0; i < n_fields; ++i) {
    const GLogField& field = fields[i];
    if (field.key == nullptr || field.value == nullptr) continue;
    const std::string_view key = field.key;
    if (key != "MESSAGE" && key != "GLIB_DOMAIN") continue;
    const auto* value = static_cast<const char*>(field.value);
    // A negative length means a NUL-terminated string.
    const std::string_view text =
        field.length < 0 ? std::string_view(value)
                         : std::string_view(value, static_cast<std::size_t>(field.length));
    (key == "MESSAGE" ? message : domain) = text;
  }
  write(domain, flags, message);
}

void route_glib_logs() {
  static std::once_flag once;
  std::call_once(once, install);
}

spdlog::level::level_enum level_of(GLogLevelFlags flags) {
  if ((flags & G_LOG_LEVEL_ERROR) != 0) return spdlog::level::critical;
  if ((flags & G_LOG_LEVEL_CRITICAL) != 0) return spdlog::level::err;
  if ((flags & G_LOG_LEVEL_WARNING) != 0) return spdlog::level::warn;
  if ((flags & G_LOG_LEVEL_MESSAGE) != 0) return spdlog::level::info;
  return spdlog::level::debug;
}

std::string glib_line(std::string_view domain, std::string_view message) {
  std::string line = domain.empty() ? std::string("-") : log::escape(domain, kMaxDomainBytes);
  line += ": ";
  line += log::escape(message, log::kMaxErrorBytes);
  return line;
}

}  // namespace imagecpp::image
