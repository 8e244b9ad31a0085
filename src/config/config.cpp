#include "config/config.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <type_traits>
#include <utility>

#include "config/number.hpp"
#include "log/escape.hpp"

namespace imagecpp::config {
namespace {

unsigned cores() {
  return std::max(1u, std::thread::hardware_concurrency());
}

// A bad setting. Not a CLI::ValidationError: CLI11 catches those from a validator and puts the
// option's name in front of the message, which already names it.
class BadSetting : public CLI::ParseError {
 public:
  explicit BadSetting(std::string message)
      : CLI::ParseError("BadSetting", std::move(message), kUsageExit) {}

  static constexpr int kUsageExit = 2;
};

// A bad value's one line names the setting both ways it can be given and what it accepts.
[[noreturn]] void refuse(const std::string& flag, const std::string& env, std::string_view given,
                         const std::string& accepted) {
  const std::string where = env.empty() ? flag : flag + " (env " + env + ")";
  // The value is echoed escaped: it may hold anything, a terminal escape included.
  throw BadSetting(where + " must be " + accepted + ", not '" + log::escape(given, 64) + "'");
}

// The count type of a numeric setting: the integer itself, or a duration's number of units.
template <class T>
struct CountOf {
  using type = T;
};
template <class Rep, class Period>
struct CountOf<std::chrono::duration<Rep, Period>> {
  using type = Rep;
};
template <class T>
using Count = typename CountOf<T>::type;

// A setting's range, in its own type: a bound that does not fit the setting does not compile.
// Bounds are never negative.
template <class T>
struct Bounds {
  Count<T> min;
  Count<T> max;

  NumberRange range() const {
    static_assert(std::is_integral_v<Count<T>>);
    return {static_cast<std::uint64_t>(min), static_cast<std::uint64_t>(max)};
  }
};

std::string whole_number_in(NumberRange range) {
  return "a whole number in " + describe(range);
}

// The one path of every numeric setting: strict digits, then the setting's range.
template <class T>
T parse_setting(std::string_view text, const Bounds<T>& bounds, const std::string& flag,
                const std::string& env) {
  const auto number = parse_number(text, bounds.range());
  if (!number) refuse(flag, env, text, whole_number_in(bounds.range()));
  return T(static_cast<Count<T>>(*number));
}

template <class T>
std::string count_text(const T& value) {
  if constexpr (std::is_integral_v<T>) {
    return std::to_string(value);
  } else {
    return std::to_string(value.count());
  }
}

// A numeric setting (an integer, or a duration counted in its unit) from `flag` or `env`.
template <class T>
CLI::Option* number_option(CLI::App& app, const std::string& flag, T& value, const std::string& env,
                           Bounds<T> bounds, const std::string& help) {
  auto parse = [&value, bounds, flag, env](const std::string& text) {
    value = parse_setting(text, bounds, flag, env);
  };
  CLI::Option* option = app.add_option_function<std::string>(
                               flag, parse, help + " [" + describe(bounds.range()) + "]")
                            ->default_str(count_text(value))
                            ->type_name("NUMBER");
  if (!env.empty()) option->envname(env);
  return option;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// One of a fixed set of names (any letter case), from `flag` or `env`.
template <class T>
CLI::Option* choice_option(CLI::App& app, const std::string& flag, T& value, const std::string& env,
                           std::vector<std::pair<std::string, T>> choices,
                           const std::string& help) {
  std::string names;
  for (const auto& choice : choices) names += (names.empty() ? "" : ", ") + choice.first;
  auto parse = [&value, choices, names, flag, env](const std::string& text) {
    const std::string lower = lowercase(text);
    const auto it = std::find_if(choices.begin(), choices.end(),
                                 [&lower](const auto& choice) { return choice.first == lower; });
    if (it == choices.end()) refuse(flag, env, text, "one of " + names);
    value = it->second;
  };
  return app.add_option_function<std::string>(flag, parse, help + " [" + names + "]")
      ->envname(env)
      ->type_name("NAME");
}

// An on/off flag: given alone on the command line, or with a yes/no word (flag or env).
CLI::Option* switch_option(CLI::App& app, const std::string& flag, bool& value,
                           const std::string& env, const std::string& help) {
  static const std::vector<std::string> words{"true", "false", "yes", "no", "on", "off", "1", "0"};
  auto check = [flag, env](const std::string& text) {
    if (std::find(words.begin(), words.end(), lowercase(text)) == words.end()) {
      refuse(flag, env, text, "one of true, false, yes, no, on, off, 1, 0");
    }
    return std::string();
  };
  return app.add_flag(flag, value, help)->envname(env)->check(CLI::Validator(check, "BOOL"));
}

constexpr Bounds<std::uint16_t> kPortBounds{1, 65535};
// Durations stay far below what a deadline (now + duration, in nanoseconds) can hold.
constexpr std::int64_t kDay = 24 * 3600;
constexpr std::int64_t kTenMinutesMs = 600'000;

// The Go peers read SERVER_PORT, the Node peers PORT (--port's own variable): SERVER_PORT
// counts only when neither --port nor PORT is given.
void apply_server_port_env(Config& c) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once at startup, before any thread exists
  if (const char* v = std::getenv("SERVER_PORT"); v != nullptr && *v != '\0') {
    c.port = parse_setting(v, kPortBounds, "--port", "SERVER_PORT");
  }
}

void add_http_options(CLI::App& app, Config& c) {
  number_option(app, "--port", c.port, "PORT", kPortBounds,
                "Listening port (env PORT or SERVER_PORT)");
  app.add_option("--bind", c.bind_address, "Listening address")->envname("IMAGE_BIND");
  number_option(app, "--io-threads", c.io_threads, "IMAGE_IO_THREADS", {0, 256},
                "Network threads, 0 = number of cores");
  number_option(app, "--max-connections", c.max_connections, "IMAGE_MAX_CONNECTIONS",
                {1, 1'000'000}, "Open client connections at most");
  number_option(app, "--max-body-bytes", c.max_body_bytes, "IMAGE_MAX_BODY_BYTES", {1, 1ull << 30},
                "Largest request body");
  number_option(app, "--max-header-bytes", c.max_header_bytes, "IMAGE_MAX_HEADER_BYTES",
                {1024, 1u << 20}, "Largest request line and headers together (431 above)");
  number_option(app, "--header-timeout", c.header_timeout, "IMAGE_HEADER_TIMEOUT", {1, 3600},
                "Seconds to read a request's header once it starts");
  number_option(app, "--idle-timeout", c.idle_timeout, "IMAGE_IDLE_TIMEOUT", {1, kDay},
                "Seconds an idle keep-alive connection stays open");
  number_option(app, "--body-timeout", c.body_timeout, "IMAGE_BODY_TIMEOUT", {1, kDay},
                "Seconds to receive a request body");
  number_option(app, "--shutdown-timeout", c.shutdown_timeout, "IMAGE_SHUTDOWN_TIMEOUT", {1, 3600},
                "Seconds in-flight requests get to finish on SIGTERM");
  number_option(app, "--max-inflight-mb", c.max_inflight_mb, "IMAGE_MAX_INFLIGHT_MB", {0, 1u << 20},
                "MiB of request bodies being received and answers being sent, in all (503 "
                "above); 0 = unbounded");
  number_option(app, "--min-send-rate", c.min_send_rate, "IMAGE_MIN_SEND_RATE", {0, 1u << 30},
                "Bytes per second a client must take an answer at, over 5 s windows, or be cut; "
                "0 = only a stalled client is cut");
  app.add_option("--cors-origins", c.cors_origins, "Allowed CORS origins ('*' = any)")
      ->envname("IMAGE_CORS_ORIGINS")
      ->delimiter(',');
}

// The allowed Size values: a comma-separated list, each item through the numeric path. Split
// here, not by CLI11, which drops empty items ("160,,320", "160,") that are typing mistakes.
void add_sizes_option(CLI::App& app, Config& c) {
  constexpr Bounds<int> bounds{1, 10'000};
  auto parse = [&c, bounds](const std::string& list) {
    std::vector<int> sizes;
    std::string_view rest = list;
    for (;;) {
      const auto comma = rest.find(',');
      sizes.push_back(parse_setting(rest.substr(0, comma), bounds, "--sizes", "IMAGE_SIZES"));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    c.sizes = std::move(sizes);
  };
  std::string shown;
  for (const int size : c.sizes) shown += (shown.empty() ? "" : ",") + std::to_string(size);
  app.add_option_function<std::string>(
         "--sizes", parse,
         "Allowed Size values, comma-separated [each " + describe(bounds.range()) + "]")
      ->envname("IMAGE_SIZES")
      ->default_str(shown)
      ->type_name("NUMBER,...");
}

void add_image_options(CLI::App& app, Config& c) {
  add_sizes_option(app, c);
  number_option(app, "--jpeg-quality", c.jpeg_quality, "IMAGE_JPEG_QUALITY", {1, 100},
                "JPEG quality of variants");
  number_option(app, "--max-pixels", c.max_pixels, "IMAGE_MAX_PIXELS", {1, 1'000'000'000},
                "Largest image, width x height");
  number_option(app, "--max-frames", c.max_frames, "IMAGE_MAX_FRAMES", {1, 100'000},
                "Most frames of an animated image, from the header");
  number_option(app, "--max-render-ms", c.max_render_time, "IMAGE_MAX_RENDER_MS", {1, 3'600'000},
                "Wall time one image computation may take before it is stopped, milliseconds");
  number_option(app, "--workers", c.workers, "IMAGE_WORKERS", {0, 1024},
                "Image computations at once, 0 = number of cores");
  number_option(app, "--queue-limit", c.queue_limit, "IMAGE_QUEUE_LIMIT", {0, 100'000},
                "Image jobs waiting beyond the workers");
  number_option(app, "--cache-mb", c.cache_mb, "IMAGE_CACHE_MB", {0, 1u << 20},
                "Memory for hot variants, originals and JSON answers, MiB (0 = off)");
}

void add_store_options(CLI::App& app, Config& c) {
  app.add_option("--data-dir", c.data_dir, "Embedded store (LMDB) directory")
      ->envname("IMAGE_DATA_DIR");
  number_option(app, "--lmdb-map-size", c.lmdb_map_size, "IMAGE_LMDB_MAP_SIZE",
                {1ull << 20, 1ull << 44}, "Largest embedded store, bytes");
}

void add_redis_options(CLI::App& app, Config& c) {
  app.add_option("--redis-url", c.redis_url,
                 "Redis store: host:port, redis://[[user]:password@]host[:port][/db] or host; "
                 "a Redis Cluster: redis+cluster://[[user]:password@]host1:port1,host2:port2/ "
                 "(empty = embedded LMDB store)")
      ->envname("REDIS_URL");
  number_option(app, "--redis-port", c.redis_port, "REDIS_PORT", kPortBounds,
                "Redis port when the URL gives none")
      ->default_str("6379");
  switch_option(app, "--redis-write-data-urls", c.redis_write_data_urls,
                "IMAGE_REDIS_WRITE_DATA_URLS",
                "Store data-URL strings like the Node/Go peers (default: raw bytes)");
  number_option(app, "--redis-connect-timeout-ms", c.redis_connect_timeout,
                "IMAGE_REDIS_CONNECT_TIMEOUT_MS", {1, kTenMinutesMs},
                "Milliseconds to connect to Redis (then 503)");
  number_option(app, "--redis-command-timeout-ms", c.redis_command_timeout,
                "IMAGE_REDIS_COMMAND_TIMEOUT_MS", {1, kTenMinutesMs},
                "Milliseconds one Redis command may take (then 503)");
  number_option(app, "--redis-wait-replicas", c.redis_wait_replicas, "IMAGE_REDIS_WAIT_REPLICAS",
                {0, 100},
                "Replicas that must have each write before it is acknowledged (WAIT; then 503)");
}

void add_auth_options(CLI::App& app, Config& c) {
  choice_option(app, "--auth-mode", c.auth_mode, "IMAGE_AUTH_MODE",
                {{"remote", AuthMode::remote}, {"static", AuthMode::static_tokens}},
                "Token check: remote (auth service) or static")
      ->default_str("remote");
  app.add_option("--auth-service-url", c.auth_service_url, "Auth service base URL")
      ->envname("AUTH_SERVICE_URL");
  app.add_option("--tokens-file", c.tokens_file, "Static mode: lines 'token user_id [name]'")
      ->envname("IMAGE_TOKENS_FILE");
  switch_option(app, "--private-reads", c.private_reads, "IMAGE_PRIVATE_READS",
                "Reads need a valid token too");
}

// Remote auth mode: the auth service call, the token cache and the logout broadcast.
void add_remote_auth_options(CLI::App& app, Config& c) {
  number_option(app, "--auth-timeout-ms", c.auth_timeout, "IMAGE_AUTH_TIMEOUT_MS",
                {1, kTenMinutesMs}, "Milliseconds one auth service call may take (then 503)");
  number_option(app, "--auth-cache-ttl", c.auth_cache_ttl, "IMAGE_AUTH_CACHE_TTL", {1, 30 * kDay},
                "Seconds a verified token stays cached");
  number_option(app, "--auth-cache-size", c.auth_cache_size, "IMAGE_AUTH_CACHE_SIZE",
                {1, 100'000'000}, "Most tokens cached (LRU beyond)");
  app.add_option("--auth-ca-file", c.auth_ca_file,
                 "Extra trusted CA certificates (PEM) for an https auth service")
      ->envname("IMAGE_AUTH_CA_FILE");
  app.add_option("--rabbit-url", c.rabbit_url,
                 "Logout broadcast broker, amqp://user:pass@host:port/vhost ('' = none)")
      ->envname("RABBIT_URL");
}

// Remote auth mode: what protects the auth service (and us) from floods of unknown tokens.
void add_auth_limit_options(CLI::App& app, Config& c) {
  number_option(app, "--auth-max-in-flight", c.auth_max_in_flight, "IMAGE_AUTH_MAX_IN_FLIGHT",
                {1, 100'000}, "Auth service calls at once (checks beyond answer 503)");
  number_option(app, "--auth-rejected-ttl", c.auth_rejected_ttl, "IMAGE_AUTH_REJECTED_TTL",
                {1, kDay},
                "Seconds a token the auth service rejected is answered 401 without asking");
  number_option(app, "--auth-rejected-cache-size", c.auth_rejected_cache_size,
                "IMAGE_AUTH_REJECTED_CACHE_SIZE", {1, 100'000'000},
                "Most rejected tokens remembered (LRU beyond)");
}

void add_log_options(CLI::App& app, Config& c) {
  choice_option(app, "--log-format", c.log_format, "IMAGE_LOG_FORMAT",
                {{"text", LogFormat::text}, {"json", LogFormat::json}}, "Log lines: text or json")
      ->default_str("text");
  std::vector<std::pair<std::string, std::string>> levels;
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    levels.emplace_back(level, level);
  }
  choice_option(app, "--log-level", c.log_level, "IMAGE_LOG_LEVEL", std::move(levels),
                "Least severe level logged")
      ->default_str(c.log_level);
}

// A usage error: one line on stderr and exit status 2 (the usual one for a usage error), for
// every bad setting alike (CLI11's own codes, 105 to 115, say nothing more to a supervisor).
std::optional<Config> refused(const CLI::ParseError& e, int& exit_code) {
  // Ours echo the value escaped already; CLI11's own (an unknown flag) quote argv as it is.
  const bool escaped = dynamic_cast<const BadSetting*>(&e) != nullptr;
  std::cerr << "imagecpp: bad setting: " << (escaped ? e.what() : log::escape(e.what(), 1024))
            << " (see --help)\n";
  exit_code = 2;
  return std::nullopt;
}

}  // namespace

unsigned Config::effective_io_threads() const {
  return io_threads ? io_threads : cores();
}
unsigned Config::effective_workers() const {
  return workers ? workers : cores();
}

std::optional<Config> load(int argc, char** argv, int& exit_code) {
  Config c;
  CLI::App app{"imagecpp: stores product images and serves them resized"};
  app.option_defaults()->always_capture_default();
  add_http_options(app, c);
  add_image_options(app, c);
  add_store_options(app, c);
  add_redis_options(app, c);
  add_auth_options(app, c);
  add_remote_auth_options(app, c);
  add_auth_limit_options(app, c);
  add_log_options(app, c);
  try {
    app.parse(argc, argv);
    if (app.get_option("--port")->count() == 0) apply_server_port_env(c);
    if (c.auth_mode == AuthMode::static_tokens && c.tokens_file.empty()) {
      throw CLI::ValidationError("--tokens-file", "static auth mode needs a tokens file");
    }
  } catch (const CLI::Success& e) {  // --help
    exit_code = app.exit(e);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    return refused(e, exit_code);
  }
  return c;
}

}  // namespace imagecpp::config
