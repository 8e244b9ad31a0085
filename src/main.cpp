// imagecpp: wires configuration, storage, auth, the image domain and the HTTP server, then runs
// until SIGTERM or SIGINT and drains in-flight requests before exiting 0.
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <csignal>
#include <cstdint>
#include <limits>
#include <memory>

#include "api/api.hpp"
#include "api/image_payload.hpp"
#include "auth/remote_auth.hpp"
#include "auth/static_verifier.hpp"
#include "config/config.hpp"
#include "core/allocator.hpp"
#include "core/bytes_cache.hpp"
#include "core/heap_trimmer.hpp"
#include "core/worker_pool.hpp"
#include "events/logout_consumer.hpp"
#include "http/server.hpp"
#include "image/image_service.hpp"
#include "image/processor.hpp"
#include "log/logging.hpp"
#include "metrics/process_memory.hpp"
#include "metrics/registry.hpp"
#include "store/lmdb_store.hpp"
#include "store/redis_store.hpp"
#include "store/redis_url.hpp"

namespace {

using namespace imagecpp;

// Static mode: a tokens file. Remote mode: the auth service behind a token cache that the
// logout broadcast prunes.
struct Auth {
  std::unique_ptr<auth::StaticVerifier> static_tokens;
  std::unique_ptr<auth::RemoteAuth> remote;

  auth::Verifier& verifier() {
    return remote ? remote->verifier() : static_cast<auth::Verifier&>(*static_tokens);
  }
};

Auth make_auth(const config::Config& c) {
  Auth a;
  if (c.auth_mode == config::AuthMode::static_tokens) {
    a.static_tokens =
        std::make_unique<auth::StaticVerifier>(auth::StaticVerifier::from_file(c.tokens_file));
    return a;
  }
  a.remote = std::make_unique<auth::RemoteAuth>(
      auth::RemoteAuthSettings{.auth_service_url = c.auth_service_url,
                               .timeout = c.auth_timeout,
                               .ca_file = c.auth_ca_file.string(),
                               .cache_ttl = c.auth_cache_ttl,
                               .cache_size = c.auth_cache_size,
                               .rejected_ttl = c.auth_rejected_ttl,
                               .rejected_cache_size = c.auth_rejected_cache_size,
                               .max_in_flight = c.auth_max_in_flight});
  return a;
}

// Remote mode with a broker: the logout broadcast makes the token cache forget a token at once.
std::unique_ptr<events::LogoutConsumer> make_logout_consumer(const config::Config& c, Auth& a) {
  if (!a.remote || c.rabbit_url.empty()) return nullptr;
  auth::Verifier& verifier = a.verifier();
  return std::make_unique<events::LogoutConsumer>(
      events::ConsumerSettings{.url = c.rabbit_url},
      [&verifier](std::string_view token) { verifier.forget(token); });
}

// The service's own memory apart from the store's mapped pages (RssFile, which grows with the
// LMDB file and is reclaimable page cache), and the heap's share of it. Only registered where
// /proc gives the fields, so a dashboard never reads a false zero.
void register_memory_samples(metrics::Registry& registry, const HeapTrimmer& trimmer) {
  if (metrics::read_resident_memory()) {
    // NaN, should /proc stop answering, is valid exposition and no false zero.
    const auto rss = [](std::uint64_t metrics::ResidentMemory::*field) {
      return [field] {
        const auto memory = metrics::read_resident_memory();
        return memory ? static_cast<double>((*memory).*field)
                      : std::numeric_limits<double>::quiet_NaN();
      };
    };
    registry.add_sample(
        "imagecpp_memory_rss_anon_bytes", "gauge",
        "Resident anonymous memory (RssAnon): heap, stacks, image buffers. Alarm on this one.",
        rss(&metrics::ResidentMemory::anon_bytes));
    registry.add_sample(
        "imagecpp_memory_rss_file_bytes", "gauge",
        "Resident file-backed memory (RssFile): mostly the LMDB map's pages, reclaimable cache.",
        rss(&metrics::ResidentMemory::file_bytes));
  }
  registry.add_sample("imagecpp_heap_in_use_bytes", "gauge",
                      "Bytes malloc has handed out and not yet taken back (mallinfo2).",
                      [] { return static_cast<double>(metrics::read_heap_memory().in_use_bytes); });
  registry.add_sample(
      "imagecpp_heap_retained_bytes", "gauge",
      "Free bytes malloc keeps from the kernel for reuse (mallinfo2; some may be released).",
      [] { return static_cast<double>(metrics::read_heap_memory().retained_bytes); });
  const auto& trims = trimmer.stats();
  const auto count = [](const std::atomic<std::uint64_t>& value, double unit = 1) {
    return [&value, unit] { return static_cast<double>(value.load()) * unit; };
  };
  registry.add_sample("imagecpp_heap_trims_total", "counter",
                      "Times free heap pages were given back to the kernel (--heap-trim-*).",
                      count(trims.trims));
  registry.add_sample("imagecpp_heap_trim_released_bytes_total", "counter",
                      "Resident memory the heap trims gave back (RssAnon less heap in use, "
                      "before and after each).",
                      count(trims.released_bytes));
  registry.add_sample("imagecpp_heap_trim_seconds_total", "counter",
                      "Time spent in heap trims, each holding malloc's lock.",
                      count(trims.trim_ns, 1e-9));
  registry.add_sample("imagecpp_heap_trim_seconds_max", "gauge",
                      "The longest heap trim so far: the longest any allocation waited for one.",
                      count(trims.longest_trim_ns, 1e-9));
}

void register_samples(metrics::Registry& registry, const image::ImageService& images,
                      const WorkerPool& workers, const BytesCache& cache,
                      const HeapTrimmer& trimmer) {
  registry.add_sample("imagecpp_variants_computed_total", "counter",
                      "Variants and conversions computed and stored, every format.", [&images] {
                        return static_cast<double>(images.stats().variants_computed.load());
                      });
  registry.add_sample("imagecpp_uploads_total", "counter", "Images stored.",
                      [&images] { return static_cast<double>(images.stats().uploads.load()); });
  registry.add_sample("imagecpp_image_jobs_pending", "gauge",
                      "Image jobs running or queued on the worker pool.",
                      [&workers] { return static_cast<double>(workers.pending()); });
  registry.add_sample("imagecpp_cache_hits_total", "counter",
                      "Reads answered from the in-memory cache.",
                      [&cache] { return static_cast<double>(cache.stats().hits); });
  registry.add_sample("imagecpp_cache_misses_total", "counter",
                      "Reads the in-memory cache could not answer.",
                      [&cache] { return static_cast<double>(cache.stats().misses); });
  registry.add_sample("imagecpp_cache_shared_hits_total", "counter",
                      "Reads of a value too large to cache, shared with a response holding it.",
                      [&cache] { return static_cast<double>(cache.stats().shared_hits); });
  registry.add_sample("imagecpp_cache_bytes", "gauge", "Bytes held by the in-memory cache.",
                      [&cache] { return static_cast<double>(cache.stats().bytes); });
  registry.add_sample("imagecpp_variant_writes_pending", "gauge",
                      "Variants answered and still being written to the store.",
                      [&images] { return static_cast<double>(images.writes_pending()); });
  registry.add_sample("imagecpp_webp_variants_computed_total", "counter",
                      "WebP variants (and conversions) computed and stored.", [&images] {
                        return static_cast<double>(images.stats().webp_computed.load());
                      });
  registry.add_sample("imagecpp_avif_variants_computed_total", "counter",
                      "AVIF variants (and conversions) computed and stored.", [&images] {
                        return static_cast<double>(images.stats().avif_computed.load());
                      });
  registry.add_sample("imagecpp_avif_jobs_running", "gauge",
                      "AVIF computations holding one of their slots.",
                      [&images] { return static_cast<double>(images.avif_running()); });
  registry.add_sample("imagecpp_avif_jobs_waiting", "gauge",
                      "AVIF computations waiting for a slot.",
                      [&images] { return static_cast<double>(images.avif_waiting()); });
  registry.add_sample(
      "imagecpp_variant_write_failures_total", "counter",
      "Variants whose write behind the answer failed (recomputed when needed).",
      [&images] { return static_cast<double>(images.stats().write_behind_failures.load()); });
  registry.add_sample(
      "imagecpp_variant_writes_waited_total", "counter",
      "Variants whose request waited for their write: the writes behind answers held as many "
      "bytes as the cache (--cache-mb) may.",
      [&images] { return static_cast<double>(images.stats().writes_waited.load()); });
  register_memory_samples(registry, trimmer);
}

// The storage engine: Redis when REDIS_URL is set (production, shared with the peers), else
// the embedded LMDB store. Returns the engine and a label for the startup log. Neither engine
// reads a value larger than the largest upload: no original can be, so such a value is another
// writer's bug or garbage, and reading it whole would cost its size in memory.
std::pair<std::unique_ptr<store::Store>, std::string> make_store(
    const config::Config& c, boost::asio::any_io_executor blocking) {
  const auto max_value_bytes = static_cast<std::size_t>(c.max_body_bytes);
  if (c.redis_url.empty()) {
    return {
        std::make_unique<store::LmdbStore>(
            store::LmdbConfig{
                .dir = c.data_dir, .map_size = c.lmdb_map_size, .max_value_bytes = max_value_bytes},
            std::move(blocking)),
        "lmdb " + c.data_dir.string()};
  }
  const auto port = c.redis_port != 0 ? std::optional<std::uint16_t>(c.redis_port) : std::nullopt;
  const bool cluster = store::is_cluster_url(c.redis_url);
  store::RedisConfig redis{
      .endpoint = cluster ? store::RedisEndpoint{} : store::parse_redis_url(c.redis_url, port),
      .cluster_seeds = cluster ? store::parse_redis_cluster_url(c.redis_url, port)
                               : std::vector<store::RedisEndpoint>{},
      .write_format =
          c.redis_write_data_urls ? store::ValueFormat::data_url : store::ValueFormat::raw,
      .media_type_of = image::media_type_of,
      .connect_timeout = c.redis_connect_timeout,
      .command_timeout = c.redis_command_timeout,
      .max_value_bytes = max_value_bytes,
      .wait_replicas = c.redis_wait_replicas};
  std::string label =
      "redis " +
      (cluster ? store::describe(redis.cluster_seeds) : store::describe(redis.endpoint)) +
      (c.redis_write_data_urls ? " writing data URLs" : " writing raw bytes") +
      (c.redis_wait_replicas > 0
           ? ", " + std::to_string(c.redis_wait_replicas) + " replica(s) per write"
           : std::string());
  return {std::make_unique<store::RedisStore>(std::move(redis)), std::move(label)};
}

int run(const config::Config& c, const char* argv0) {
  image::init_vips(argv0);
  HeapTrimmer trimmer(
      HeapTrimSettings{.interval = c.heap_trim_interval, .above_bytes = c.heap_trim_above_mb << 20},
      metrics::resident_unused_heap);
  Auth auth = make_auth(c);
  const auto logouts = make_logout_consumer(c, auth);

  // Store writes (fsync) and the copies and encodings of large images: none may hold a network
  // thread.
  boost::asio::thread_pool blocking(2);
  auto [store_engine, store_label] = make_store(c, blocking.get_executor());
  store::Store& store = *store_engine;
  WorkerPool workers(c.effective_workers(), c.queue_limit);
  BytesCache cache(c.cache_mb << 20);
  image::ImageService images(
      store, workers, cache,
      image::ServiceSettings{.jpeg_quality = c.jpeg_quality,
                             .limits = {.max_pixels = c.max_pixels,
                                        .max_frames = c.max_frames,
                                        .max_render_time = c.max_render_time,
                                        .max_avif_pixels = c.avif_max_pixels},
                             .webp_quality = c.webp_quality,
                             .webp_effort = c.webp_effort,
                             .avif_quality = c.avif_quality,
                             .avif_effort = c.avif_effort,
                             .avif_slots = c.effective_avif_workers(),
                             .avif_queue_limit = c.avif_queue_limit});
  metrics::Registry registry;
  register_samples(registry, images, workers, cache, trimmer);
  if (auth.remote) auth.remote->register_metrics(registry);
  if (logouts) logouts->register_metrics(registry);
  std::function<bool()> broker_connected;
  if (logouts) broker_connected = [&consumer = *logouts] { return consumer.connected(); };
  api::Api api(api::ApiSettings{.sizes = c.sizes,
                                .private_reads = c.private_reads,
                                .cors_origins = c.cors_origins,
                                .broker_connected = std::move(broker_connected),
                                .max_avif_pixels = c.avif_max_pixels,
                                .offload = blocking.get_executor()},
               images, cache, auth.verifier(), store, registry);

  http::Server server(
      http::ServerSettings{.address = c.bind_address,
                           .port = c.port,
                           .threads = c.effective_io_threads(),
                           .max_connections = c.max_connections,
                           .max_body_bytes = c.max_body_bytes,
                           .max_header_bytes = c.max_header_bytes,
                           .header_timeout = c.header_timeout,
                           .idle_timeout = c.idle_timeout,
                           .body_timeout = c.body_timeout,
                           .inflight_budget_bytes = c.max_inflight_mb << 20,
                           .min_send_rate = c.min_send_rate,
                           .body_padding = api::kJsonPadding},
      http::ServerHooks{
          .handle = [&api](http::Request& req, http::Exchange& ex) { return api.handle(req, ex); },
          .admit = [&api](http::Request& req, http::Exchange& ex) { return api.admit(req, ex); },
          .early = [&api](unsigned status, unsigned version) { return api.early(status, version); },
          .observe =
              [&registry](const http::AccessRecord& r) {
                registry.observe_request(r.exchange.route, r.status, r.duration);
                log::access(log::AccessLine{.method = r.method,
                                            .target = r.target,
                                            .route = r.exchange.route,
                                            .status = r.status,
                                            .bytes = r.bytes,
                                            .duration = r.duration,
                                            .correlation_id = r.exchange.correlation_id,
                                            .user = r.exchange.user});
              }});
  registry.add_sample("imagecpp_inflight_bytes", "gauge",
                      "Bytes of request bodies being received and answers being sent, counted "
                      "against --max-inflight-mb.",
                      [&server] { return static_cast<double>(server.inflight_bytes()); });
  server.start();
  if (logouts) logouts->start();  // on its own thread

  boost::asio::signal_set signals(server.context(), SIGTERM, SIGINT);
  signals.async_wait([&server, &c, &images](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: draining (up to {} s)", signal, c.shutdown_timeout.count());
    server.shutdown(c.shutdown_timeout, [&images] { return images.writes_pending() > 0; });
  });
  spdlog::info(
      "imagecpp listening on http://{}:{} (store: {}, auth: {}, {} io threads, {} "
      "image workers)",
      c.bind_address, server.port(), store_label,
      c.auth_mode == config::AuthMode::static_tokens ? "static" : "remote",
      c.effective_io_threads(), c.effective_workers());
  server.join();
  // Drained: from here on a second SIGTERM (a supervisor repeating itself) must not turn exit 0
  // into a death by signal during the teardown. The signal_set puts back the default action when
  // its registrations go, so they go now, and the signals are ignored right after.
  signals.clear();
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  if (logouts) logouts->stop();
  if (auth.remote) auth.remote->stop();  // pooled sockets die before the io_context
  workers.stop();
  blocking.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  imagecpp::tune_allocator();
  int exit_code = 0;
  const auto config = imagecpp::config::load(argc, argv, exit_code);
  if (!config) return exit_code;
  imagecpp::log::setup(config->log_format, config->log_level);
  try {
    return run(*config, argv[0]);
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
}
