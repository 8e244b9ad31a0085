#pragma once
// Every setting of the service, with its default. Loaded from the environment (names compatible
// with the Node and Go peers, IMAGE_* for the rest) and overridden by command-line flags.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace imagecpp::config {

enum class AuthMode { remote, static_tokens };
enum class LogFormat { text, json };

struct Config {
  // HTTP
  std::string bind_address = "0.0.0.0";
  std::uint16_t port = 3001;
  unsigned io_threads = 0;  // 0 = number of cores
  std::size_t max_connections = 10000;
  std::uint64_t max_body_bytes = 16ull << 20;
  std::uint32_t max_header_bytes = 16 * 1024;  // request line and headers together
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds body_timeout{60};
  std::chrono::seconds shutdown_timeout{20};
  std::uint64_t max_inflight_mb = 256;  // bodies being received + answers being sent; 0 = off
  std::uint64_t min_send_rate = 16384;  // bytes/s an answer must be taken at; 0 = stalls only
  std::vector<std::string> cors_origins{"*"};

  // Images
  std::vector<int> sizes{160, 320, 640, 800, 1024, 1200};
  int jpeg_quality = 80;
  std::uint64_t max_pixels = 50'000'000;
  // Frames of an animation (images of a HEIF), counted from the header like max_pixels.
  std::uint64_t max_frames = 500;
  std::chrono::milliseconds max_render_time{20'000};
  unsigned workers = 0;         // 0 = number of cores
  unsigned queue_limit = 64;    // image jobs waiting beyond the workers before 503
  std::uint64_t cache_mb = 64;  // hot variants, originals and JSON answers in memory; 0 = off

  // Storage
  std::filesystem::path data_dir = "./data";
  std::uint64_t lmdb_map_size = 64ull << 30;
  // Redis: chosen when redis_url is set (REDIS_URL), else the embedded LMDB store.
  std::string redis_url;               // host:port, redis://[[user]:pass@]host[:port][/db], host,
                                       // redis+cluster://h1:p1,h2:p2/
  std::uint16_t redis_port = 0;        // REDIS_PORT, for a redis_url without a port; 0 = 6379
  bool redis_write_data_urls = false;  // write data-URL strings, as the peers do
  std::chrono::milliseconds redis_connect_timeout{2000};
  std::chrono::milliseconds redis_command_timeout{2000};
  unsigned redis_wait_replicas = 0;  // replicas that must have a write before its 200 (WAIT)

  // Auth
  AuthMode auth_mode = AuthMode::remote;
  std::string auth_service_url = "http://localhost:3000";
  std::filesystem::path tokens_file;
  bool private_reads = false;
  std::chrono::milliseconds auth_timeout{3000};  // one call to the auth service, all included
  std::chrono::seconds auth_cache_ttl{3600};
  std::uint64_t auth_cache_size = 100'000;
  std::filesystem::path auth_ca_file;  // extra trusted CAs for https; empty = system store only

  // Remote auth limits: a flood of unknown tokens must not become a flood of auth service calls.
  std::uint64_t auth_max_in_flight = 32;       // calls at once; 503 beyond, never a queue
  std::chrono::seconds auth_rejected_ttl{10};  // a rejected token is answered 401 from memory
  std::uint64_t auth_rejected_cache_size = 10'000;

  // Logout broadcast (remote auth mode only)
  std::string rabbit_url = "amqp://localhost";  // empty = no consumer

  // Logs
  LogFormat log_format = LogFormat::text;
  std::string log_level = "info";

  unsigned effective_io_threads() const;
  unsigned effective_workers() const;
};

// Parses the environment and argv. Returns nullopt after printing --help (then `exit_code` is 0)
// or one line about a bad setting on stderr (then it is 2). Never throws for a bad value.
std::optional<Config> load(int argc, char** argv, int& exit_code);

}  // namespace imagecpp::config
