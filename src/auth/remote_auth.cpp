#include "auth/remote_auth.hpp"

#include "auth/caching_verifier.hpp"
#include "auth/http_client.hpp"
#include "auth/remote_verifier.hpp"
#include "events/logout_consumer.hpp"

namespace imagecpp::auth {

RemoteAuth::RemoteAuth(const RemoteAuthSettings& s)
    : client_(std::make_shared<HttpClient>(
          s.auth_service_url, HttpClientSettings{.timeout = s.timeout, .ca_file = s.ca_file})),
      verifier_(std::make_unique<CachingVerifier>(
          std::make_unique<RemoteVerifier>(client_),
          TokenCacheSettings{.ttl = s.cache_ttl, .capacity = s.cache_size})) {
  if (!s.rabbit_url.empty()) {
    consumer_ = std::make_unique<events::LogoutConsumer>(
        events::ConsumerSettings{.url = s.rabbit_url}, *verifier_);
  }
}

RemoteAuth::~RemoteAuth() {
  stop();
}

Verifier& RemoteAuth::verifier() {
  return *verifier_;
}

void RemoteAuth::start() {
  if (consumer_) consumer_->start();
}

void RemoteAuth::stop() {
  if (consumer_) consumer_->stop();
  client_->close();
}

void RemoteAuth::register_metrics(metrics::Registry& registry) const {
  const CachingVerifier& v = *verifier_;
  registry.add_sample("imagecpp_auth_cache_hits_total", "counter",
                      "Token checks answered from the cache.",
                      [&v] { return static_cast<double>(v.stats().hits.load()); });
  registry.add_sample("imagecpp_auth_upstream_calls_total", "counter",
                      "Token checks sent to the auth service.",
                      [&v] { return static_cast<double>(v.stats().upstream_calls.load()); });
  registry.add_sample("imagecpp_auth_cache_entries", "gauge", "Tokens in the cache.",
                      [&v] { return static_cast<double>(v.cached()); });
  if (!consumer_) return;
  const events::LogoutConsumer& c = *consumer_;
  registry.add_sample("imagecpp_broker_connected", "gauge",
                      "1 while the logout broadcast consumer is connected to the broker.",
                      [&c] { return c.connected() ? 1.0 : 0.0; });
  registry.add_sample("imagecpp_logouts_applied_total", "counter",
                      "Logout broadcasts applied (token dropped from the cache).",
                      [&c] { return static_cast<double>(c.applied()); });
  registry.add_sample("imagecpp_logout_messages_dropped_total", "counter",
                      "Logout broadcast messages dropped as malformed or oversized.",
                      [&c] { return static_cast<double>(c.dropped()); });
}

}  // namespace imagecpp::auth
