#include "config/config.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <map>
#include <thread>

namespace imagecpp::config {
namespace {

unsigned cores() {
  return std::max(1u, std::thread::hardware_concurrency());
}

// The Go peers read SERVER_PORT, the Node peers PORT: PORT wins when both are set.
void apply_port_env(Config& c) {
  for (const char* name : {"SERVER_PORT", "PORT"}) {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): read once at startup, before any thread exists
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') {
      c.port = static_cast<std::uint16_t>(std::stoul(v));
    }
  }
}

// A positive whole number of the duration's unit (seconds, milliseconds), from a flag or env.
template <class Duration>
CLI::Option* duration_option(CLI::App& app, const std::string& flag, Duration& value,
                             const std::string& env, const std::string& help) {
  return app
      .add_option_function<long>(
          flag, [&value](const long& count) { value = Duration(count); }, help)
      ->envname(env)
      ->default_str(std::to_string(value.count()))
      ->check(CLI::PositiveNumber);
}

void add_http_options(CLI::App& app, Config& c) {
  app.add_option("--port", c.port, "Listening port (env PORT or SERVER_PORT)");
  app.add_option("--bind", c.bind_address, "Listening address")->envname("IMAGE_BIND");
  app.add_option("--io-threads", c.io_threads, "Network threads, 0 = number of cores")
      ->envname("IMAGE_IO_THREADS");
  app.add_option("--max-connections", c.max_connections, "Open client connections at most")
      ->envname("IMAGE_MAX_CONNECTIONS")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-body-bytes", c.max_body_bytes, "Largest request body")
      ->envname("IMAGE_MAX_BODY_BYTES")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-header-bytes", c.max_header_bytes,
                 "Largest request line and headers together (431 above)")
      ->envname("IMAGE_MAX_HEADER_BYTES")
      ->check(CLI::Range(1024u, 1u << 20));
  duration_option(app, "--header-timeout", c.header_timeout, "IMAGE_HEADER_TIMEOUT",
                  "Seconds to read a request's header once it starts");
  duration_option(app, "--idle-timeout", c.idle_timeout, "IMAGE_IDLE_TIMEOUT",
                  "Seconds an idle keep-alive connection stays open");
  duration_option(app, "--body-timeout", c.body_timeout, "IMAGE_BODY_TIMEOUT",
                  "Seconds to receive a request body");
  duration_option(app, "--shutdown-timeout", c.shutdown_timeout, "IMAGE_SHUTDOWN_TIMEOUT",
                  "Seconds in-flight requests get to finish on SIGTERM");
  app.add_option("--max-inflight-mb", c.max_inflight_mb,
                 "MiB of request bodies being received and answers being sent, in all (503 "
                 "above); 0 = unbounded")
      ->envname("IMAGE_MAX_INFLIGHT_MB")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 20));
  app.add_option("--min-send-rate", c.min_send_rate,
                 "Bytes per second a client must take an answer at, over 5 s windows, or be "
                 "cut; 0 = only a stalled client is cut")
      ->envname("IMAGE_MIN_SEND_RATE")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 30));
  app.add_option("--cors-origins", c.cors_origins, "Allowed CORS origins ('*' = any)")
      ->envname("IMAGE_CORS_ORIGINS")
      ->delimiter(',');
}

void add_image_options(CLI::App& app, Config& c) {
  app.add_option("--sizes", c.sizes, "Allowed Size values")
      ->envname("IMAGE_SIZES")
      ->delimiter(',')
      ->check(CLI::Range(1, 10000));
  app.add_option("--jpeg-quality", c.jpeg_quality, "JPEG quality of variants")
      ->envname("IMAGE_JPEG_QUALITY")
      ->check(CLI::Range(1, 100));
  app.add_option("--max-pixels", c.max_pixels, "Largest image, width x height")
      ->envname("IMAGE_MAX_PIXELS")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-frames", c.max_frames, "Most frames of an animated image, from the header")
      ->envname("IMAGE_MAX_FRAMES")
      ->check(CLI::PositiveNumber);
  duration_option(app, "--max-render-ms", c.max_render_time, "IMAGE_MAX_RENDER_MS",
                  "Wall time one image computation may take before it is stopped");
  app.add_option("--workers", c.workers, "Image computations at once, 0 = number of cores")
      ->envname("IMAGE_WORKERS");
  app.add_option("--queue-limit", c.queue_limit, "Image jobs waiting beyond the workers")
      ->envname("IMAGE_QUEUE_LIMIT");
  app.add_option("--cache-mb", c.cache_mb,
                 "Memory for hot variants, originals and JSON answers, MiB (0 = off)")
      ->envname("IMAGE_CACHE_MB")
      ->check(CLI::Range(0, 1 << 20));
}

void add_store_options(CLI::App& app, Config& c) {
  app.add_option("--data-dir", c.data_dir, "Embedded store (LMDB) directory")
      ->envname("IMAGE_DATA_DIR");
  app.add_option("--lmdb-map-size", c.lmdb_map_size, "Largest embedded store, bytes")
      ->envname("IMAGE_LMDB_MAP_SIZE")
      ->check(CLI::PositiveNumber);
}

void add_redis_options(CLI::App& app, Config& c) {
  app.add_option("--redis-url", c.redis_url,
                 "Redis store: host:port, redis://[[user]:password@]host[:port][/db] or host "
                 "(empty = embedded LMDB store)")
      ->envname("REDIS_URL");
  app.add_option("--redis-port", c.redis_port, "Redis port when the URL gives none (6379)")
      ->envname("REDIS_PORT")
      ->check(CLI::Range(1, 65535))
      ->default_str("6379");
  app.add_flag("--redis-write-data-urls", c.redis_write_data_urls,
               "Store data-URL strings like the Node/Go peers (default: raw bytes)")
      ->envname("IMAGE_REDIS_WRITE_DATA_URLS");
  duration_option(app, "--redis-connect-timeout-ms", c.redis_connect_timeout,
                  "IMAGE_REDIS_CONNECT_TIMEOUT_MS", "Milliseconds to connect to Redis (then 503)");
  duration_option(app, "--redis-command-timeout-ms", c.redis_command_timeout,
                  "IMAGE_REDIS_COMMAND_TIMEOUT_MS",
                  "Milliseconds one Redis command may take (then 503)");
}

void add_auth_options(CLI::App& app, Config& c) {
  const std::map<std::string, AuthMode> modes{{"remote", AuthMode::remote},
                                              {"static", AuthMode::static_tokens}};
  app.add_option("--auth-mode", c.auth_mode, "Token check: remote (auth service) or static")
      ->envname("IMAGE_AUTH_MODE")
      ->transform(CLI::CheckedTransformer(modes, CLI::ignore_case))
      ->default_str("remote");
  app.add_option("--auth-service-url", c.auth_service_url, "Auth service base URL")
      ->envname("AUTH_SERVICE_URL");
  app.add_option("--tokens-file", c.tokens_file, "Static mode: lines 'token user_id [name]'")
      ->envname("IMAGE_TOKENS_FILE");
  app.add_flag("--private-reads", c.private_reads, "Reads need a valid token too")
      ->envname("IMAGE_PRIVATE_READS");
}

// Remote auth mode: the auth service call, the token cache and the logout broadcast.
void add_remote_auth_options(CLI::App& app, Config& c) {
  duration_option(app, "--auth-timeout-ms", c.auth_timeout, "IMAGE_AUTH_TIMEOUT_MS",
                  "Milliseconds one auth service call may take (then 503)");
  duration_option(app, "--auth-cache-ttl", c.auth_cache_ttl, "IMAGE_AUTH_CACHE_TTL",
                  "Seconds a verified token stays cached");
  app.add_option("--auth-cache-size", c.auth_cache_size, "Most tokens cached (LRU beyond)")
      ->envname("IMAGE_AUTH_CACHE_SIZE")
      ->check(CLI::PositiveNumber);
  app.add_option("--auth-ca-file", c.auth_ca_file,
                 "Extra trusted CA certificates (PEM) for an https auth service")
      ->envname("IMAGE_AUTH_CA_FILE");
  app.add_option("--rabbit-url", c.rabbit_url,
                 "Logout broadcast broker, amqp://user:pass@host:port/vhost ('' = none)")
      ->envname("RABBIT_URL");
}

// Remote auth mode: what protects the auth service (and us) from floods of unknown tokens.
void add_auth_limit_options(CLI::App& app, Config& c) {
  app.add_option("--auth-max-in-flight", c.auth_max_in_flight,
                 "Auth service calls at once (checks beyond answer 503)")
      ->envname("IMAGE_AUTH_MAX_IN_FLIGHT")
      ->check(CLI::PositiveNumber);
  duration_option(app, "--auth-rejected-ttl", c.auth_rejected_ttl, "IMAGE_AUTH_REJECTED_TTL",
                  "Seconds a token the auth service rejected is answered 401 without asking");
  app.add_option("--auth-rejected-cache-size", c.auth_rejected_cache_size,
                 "Most rejected tokens remembered (LRU beyond)")
      ->envname("IMAGE_AUTH_REJECTED_CACHE_SIZE")
      ->check(CLI::PositiveNumber);
}

void add_log_options(CLI::App& app, Config& c) {
  const std::map<std::string, LogFormat> formats{{"text", LogFormat::text},
                                                 {"json", LogFormat::json}};
  app.add_option("--log-format", c.log_format, "Log lines: text or json")
      ->envname("IMAGE_LOG_FORMAT")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
      ->default_str("text");
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error")
      ->envname("IMAGE_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
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
  apply_port_env(c);
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
    if (c.auth_mode == AuthMode::static_tokens && c.tokens_file.empty()) {
      throw CLI::ValidationError("--tokens-file", "static auth mode needs a tokens file");
    }
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e);
    return std::nullopt;
  }
  return c;
}

}  // namespace imagecpp::config
