// imagecpp: wires configuration, storage, auth, the image domain and the HTTP server, then runs
// until SIGTERM or SIGINT and drains in-flight requests before exiting 0.
#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <csignal>
#include <memory>

#include "api/api.hpp"
#include "auth/remote_auth.hpp"
#include "auth/static_verifier.hpp"
#include "config/config.hpp"
#include "core/allocator.hpp"
#include "core/bytes_cache.hpp"
#include "core/worker_pool.hpp"
#include "http/server.hpp"
#include "image/image_service.hpp"
#include "image/processor.hpp"
#include "log/logging.hpp"
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
                               .max_in_flight = c.auth_max_in_flight,
                               .rabbit_url = c.rabbit_url});
  return a;
}

void register_samples(metrics::Registry& registry, const image::ImageService& images,
                      const WorkerPool& workers, const BytesCache& cache) {
  registry.add_sample("imagecpp_variants_computed_total", "counter",
                      "Variants (and JPEG conversions) computed and stored.", [&images] {
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
  registry.add_sample(
      "imagecpp_variant_write_failures_total", "counter",
      "Variants whose write behind the answer failed (recomputed when needed).",
      [&images] { return static_cast<double>(images.stats().write_behind_failures.load()); });
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
  Auth auth = make_auth(c);

  boost::asio::thread_pool blocking(2);  // store writes: fsync must not hold a network thread
  auto [store_engine, store_label] = make_store(c, blocking.get_executor());
  store::Store& store = *store_engine;
  WorkerPool workers(c.effective_workers(), c.queue_limit);
  BytesCache cache(c.cache_mb << 20);
  image::ImageService images(
      store, workers, cache,
      image::ServiceSettings{.jpeg_quality = c.jpeg_quality,
                             .limits = {.max_pixels = c.max_pixels,
                                        .max_frames = c.max_frames,
                                        .max_render_time = c.max_render_time}});
  metrics::Registry registry;
  register_samples(registry, images, workers, cache);
  if (auth.remote) auth.remote->register_metrics(registry);
  api::Api api(
      api::ApiSettings{
          .sizes = c.sizes, .private_reads = c.private_reads, .cors_origins = c.cors_origins},
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
                           .min_send_rate = c.min_send_rate},
      http::ServerHooks{
          .handle = [&api](http::Request& req, http::Exchange& ex) { return api.handle(req, ex); },
          .admit = [&api](http::Request& req, http::Exchange& ex) { return api.admit(req, ex); },
          .early = [&api](unsigned status, unsigned version) { return api.early(status, version); },
          .observe =
              [&registry](const http::AccessRecord& r) {
                registry.observe_request(r.exchange.route, r.status, r.duration);
                log::access(r);
              }});
  registry.add_sample("imagecpp_inflight_bytes", "gauge",
                      "Bytes of request bodies being received and answers being sent, counted "
                      "against --max-inflight-mb.",
                      [&server] { return static_cast<double>(server.inflight_bytes()); });
  server.start();
  if (auth.remote) auth.remote->start();  // the logout consumer, on its own thread

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
  if (auth.remote) auth.remote->stop();  // joins the consumer; pooled sockets die before the ioc
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
