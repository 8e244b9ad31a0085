#include "log/logging.hpp"

#include <fmt/compile.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string_view>

#include "log/escape.hpp"
#include "log/line_batches.hpp"
#include "log/time_text.hpp"

namespace imagecpp::log {
namespace {

Format g_format = Format::text;
constexpr std::size_t kMaxMessageBytes = std::size_t{64} * 1024;
// Every line's time, text or JSON, main or access.
constexpr const char* kTimePattern = "%Y-%m-%dT%H:%M:%S.%eZ";

// The outside values of an access line, escaped and capped (see escape.hpp). The views are the
// request's own bytes when nothing needed escaping (no copy), else the escaped text held here.
struct AccessFields {
  AccessFields(const AccessLine& r, Spaces spaces) {
    // The path only: query strings may carry anything a client put there.
    const std::string_view raw_path = r.target.substr(0, r.target.find('?'));
    method = escape_view(r.method, kMaxMethodBytes, spaces, storage[0]);
    path = escape_view(raw_path, kMaxPathBytes, spaces, storage[1]);
    correlation_id = escape_view(r.correlation_id, kMaxCorrelationBytes, spaces, storage[2]);
    user = escape_view(r.user, kMaxUserBytes, spaces, storage[3]);
  }
  AccessFields(const AccessFields&) = delete;
  AccessFields& operator=(const AccessFields&) = delete;

  std::array<std::string, 4> storage;
  std::string_view method;
  std::string_view path;
  std::string_view correlation_id;
  std::string_view user;
};

// {"time":...,"level":...,"msg":...} with the message escaped as a JSON string.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    boost::json::object line;
    line["time"] = time_.format(msg);
    line["level"] = std::string_view(spdlog::level::to_string_view(msg.level).data(),
                                     spdlog::level::to_string_view(msg.level).size());
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    // boost::json copies bytes of 0x80 and above as they are: a message holding invalid UTF-8
    // (a value some call site did not escape) would make the line invalid JSON.
    if (is_valid_utf8(payload)) {
      line["msg"] = payload;
    } else {
      line["msg"] = escape(payload, kMaxMessageBytes);
    }
    const std::string text = boost::json::serialize(line) + "\n";
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }

 private:
  struct Time {
    spdlog::pattern_formatter formatter{kTimePattern, spdlog::pattern_time_type::utc, ""};
    std::string format(const spdlog::details::log_msg& msg) {
      spdlog::memory_buf_t buf;
      formatter.format(msg, buf);
      return std::string(buf.data(), buf.size());
    }
  } time_;
};

// Access lines, a batch per network thread (line_batches.hpp). A batch goes to stdio's buffer
// whole; stdout is written when that buffer fills, on the periodic flush, and on every line of
// the main logger, which writes the pending batches first.
constexpr std::size_t kAccessBatchBytes = std::size_t{32} * 1024;
std::shared_ptr<LineBatches> g_access_batches;  // set once by setup(), before any thread

void write_stdout(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

// Both loggers write stdout. The access logger's lines join the calling thread's batch (access()
// appends its lines there directly, without spdlog); the main logger's are each written at once
// (as spdlog's stdout sink does), after the access lines gathered so far.
class StdoutSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  enum class Lines { batched, at_once };
  StdoutSink(std::shared_ptr<LineBatches> batches, Lines lines)
      : batches_(std::move(batches)), lines_(lines) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    const std::string_view text(line.data(), line.size());
    if (lines_ == Lines::batched) {
      batches_->append(text);
      return;
    }
    batches_->flush();
    write_stdout(text);
    std::fflush(stdout);
  }
  void flush_() override {
    batches_->flush();
    std::fflush(stdout);
  }

 private:
  std::shared_ptr<LineBatches> batches_;
  Lines lines_;
};

}  // namespace

void setup(Format format, const std::string& level) {
  g_format = format;
  // Batches of access lines rather than one write each when stdout is a file or a pipe (a
  // terminal keeps line buffering). Must precede any output on stdout.
  // (glibc ignores the size unless given the buffer.)
  static std::array<char, std::size_t{64} * 1024> stdout_buffer;
  if (isatty(STDOUT_FILENO) == 0) {
    std::setvbuf(stdout, stdout_buffer.data(), _IOFBF, stdout_buffer.size());
  }
  g_access_batches = std::make_shared<LineBatches>(kAccessBatchBytes, write_stdout);
  using Lines = StdoutSink::Lines;
  auto main = std::make_shared<spdlog::logger>(
      "imagecpp", std::make_shared<StdoutSink>(g_access_batches, Lines::at_once));
  auto access = std::make_shared<spdlog::logger>(
      "access", std::make_shared<StdoutSink>(g_access_batches, Lines::batched));
  const std::string time = kTimePattern;
  if (format == Format::json) {
    main->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    main->set_pattern(time + " %l %v", spdlog::pattern_time_type::utc);
  }
  access->set_pattern("%v");  // access() writes its whole line (time first) to the batches
  main->set_level(spdlog::level::from_str(level));
  access->set_level(spdlog::level::info);
  main->flush_on(spdlog::level::info);
  // Access lines are flushed once a second (and on warnings), in batches.
  access->flush_on(spdlog::level::warn);
  spdlog::flush_every(std::chrono::seconds(1));
  spdlog::register_logger(access);
  spdlog::set_default_logger(main);
}

void access(const AccessLine& r) {
  LineBatches* const batches = g_access_batches.get();
  if (batches == nullptr) return;  // no setup(): no log
  if (g_format == Format::json) {
    const double ms = std::chrono::duration<double, std::milli>(r.duration).count();
    // JSON delimits its strings itself: spaces may stay.
    const AccessFields f(r, Spaces::keep);
    boost::json::object line{{"method", f.method},
                             {"path", f.path},
                             {"route", r.route},
                             {"status", r.status},
                             {"bytes", r.bytes},
                             {"duration_ms", ms},
                             {"correlation_id", f.correlation_id}};
    if (!f.user.empty()) line["user"] = f.user;
    // The time first, as on every other JSON line; then the members after the object's brace.
    const std::string members = boost::json::serialize(line);
    fmt::memory_buffer text;
    text.append(std::string_view(R"({"time":")"));
    append_time(std::chrono::system_clock::now(), text);
    text.append(std::string_view(R"(",)"));
    text.append(std::string_view(members).substr(1));
    text.push_back('\n');
    batches->append(std::string_view(text.data(), text.size()));
    return;
  }
  // Space-separated fields: a space inside a value is escaped too, or it would start a field.
  const AccessFields f(r, Spaces::escape);
  // One line per request: its format is compiled, not parsed each time, and the duration is
  // written from integers (hundredths of a millisecond, rounded half up) rather than as a double.
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(r.duration).count();
  const std::uint64_t hundredths = ns > 0 ? (static_cast<std::uint64_t>(ns) + 5000) / 10000 : 0;
  fmt::memory_buffer line;
  append_time(std::chrono::system_clock::now(), line);
  fmt::format_to(fmt::appender(line),
                 FMT_COMPILE(" access {} {} route={} status={} bytes={} duration_ms={}.{:02} "
                             "correlation_id={}"),
                 f.method, f.path, r.route, r.status, r.bytes, hundredths / 100, hundredths % 100,
                 f.correlation_id);
  if (!f.user.empty()) fmt::format_to(fmt::appender(line), FMT_COMPILE(" user={}"), f.user);
  line.push_back('\n');
  batches->append(std::string_view(line.data(), line.size()));
}

}  // namespace imagecpp::log
