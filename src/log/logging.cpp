#include "log/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace imagecpp::log {
namespace {

config::LogFormat g_format = config::LogFormat::text;

// {"time":...,"level":...,"msg":...} with the message escaped as a JSON string.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    boost::json::object line;
    line["time"] = time_.format(msg);
    line["level"] = std::string_view(spdlog::level::to_string_view(msg.level).data(),
                                     spdlog::level::to_string_view(msg.level).size());
    line["msg"] = std::string_view(msg.payload.data(), msg.payload.size());
    const std::string text = boost::json::serialize(line) + "\n";
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }

 private:
  struct Time {
    spdlog::pattern_formatter formatter{"%Y-%m-%dT%H:%M:%S.%e%z", spdlog::pattern_time_type::utc,
                                        ""};
    std::string format(const spdlog::details::log_msg& msg) {
      spdlog::memory_buf_t buf;
      formatter.format(msg, buf);
      return std::string(buf.data(), buf.size());
    }
  } time_;
};

std::shared_ptr<spdlog::logger> make_logger(const std::string& name) {
  auto logger =
      std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stdout_sink_mt>());
  return logger;
}

}  // namespace

void setup(config::LogFormat format, const std::string& level) {
  g_format = format;
  auto main = make_logger("imagecpp");
  auto access = make_logger("access");
  if (format == config::LogFormat::json) {
    main->set_formatter(std::make_unique<JsonFormatter>());
    access->set_pattern("%v", spdlog::pattern_time_type::utc);
  } else {
    main->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    access->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ access %v", spdlog::pattern_time_type::utc);
  }
  main->set_level(spdlog::level::from_str(level));
  access->set_level(spdlog::level::info);
  main->flush_on(spdlog::level::info);
  // One write(2) per request costs more than the request itself on a warm read: access lines
  // are flushed once a second (and on warnings), in batches.
  access->flush_on(spdlog::level::warn);
  spdlog::flush_every(std::chrono::seconds(1));
  spdlog::register_logger(access);
  spdlog::set_default_logger(main);
}

void access(const http::AccessRecord& r) {
  static const auto logger = spdlog::get("access");
  if (!logger) return;
  const double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  // The path only: query strings may carry anything a client put there.
  const std::string_view path = r.target.substr(0, r.target.find('?'));
  if (g_format == config::LogFormat::json) {
    boost::json::object line{{"time", static_cast<double>(std::time(nullptr))},
                             {"method", r.method},
                             {"path", path},
                             {"route", r.exchange.route},
                             {"status", r.status},
                             {"bytes", r.bytes},
                             {"duration_ms", ms},
                             {"correlation_id", r.exchange.correlation_id}};
    if (!r.exchange.user.empty()) line["user"] = r.exchange.user;
    logger->info(boost::json::serialize(line));
    return;
  }
  logger->info("{} {} route={} status={} bytes={} duration_ms={:.2f} correlation_id={}{}{}",
               r.method, path, r.exchange.route, r.status, r.bytes, ms, r.exchange.correlation_id,
               r.exchange.user.empty() ? "" : " user=", r.exchange.user);
}

}  // namespace imagecpp::log
