#include "auth/remote_auth.hpp"

#include "auth/caching_verifier.hpp"
#include "auth/http_client.hpp"
#include "auth/remote_verifier.hpp"

namespace imagecpp::auth {

namespace {

CachingVerifierSettings caching_settings(const RemoteAuthSettings& s) {
  return CachingVerifierSettings{
      .valid = {.ttl = s.cache_ttl, .capacity = s.cache_size},
      .rejected = {.ttl = s.rejected_ttl, .capacity = s.rejected_cache_size},
      .max_in_flight = s.max_in_flight};
}

}  // namespace

RemoteAuth::RemoteAuth(const RemoteAuthSettings& s)
    : client_(std::make_shared<HttpClient>(
          s.auth_service_url, HttpClientSettings{.timeout = s.timeout, .ca_file = s.ca_file})) {
  auto remote = std::make_unique<RemoteVerifier>(client_);
  remote_ = remote.get();
  verifier_ = std::make_unique<CachingVerifier>(std::move(remote), caching_settings(s));
}

RemoteAuth::~RemoteAuth() {
  stop();
}

Verifier& RemoteAuth::verifier() {
  return *verifier_;
}

void RemoteAuth::stop() {
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
  register_limit_metrics(registry);
}

// The rejected-token cache, the in-flight limit and the answers that were not a user.
void RemoteAuth::register_limit_metrics(metrics::Registry& registry) const {
  const CachingVerifier& v = *verifier_;
  const RemoteVerifier& r = *remote_;
  registry.add_sample("imagecpp_auth_rejected_cache_hits_total", "counter",
                      "Token checks answered 401 from the cache of recent rejections.",
                      [&v] { return static_cast<double>(v.stats().rejected_hits.load()); });
  registry.add_sample("imagecpp_auth_rejected_cache_entries", "gauge",
                      "Recently rejected tokens in the cache.",
                      [&v] { return static_cast<double>(v.rejected_cached()); });
  registry.add_sample("imagecpp_auth_upstream_in_flight", "gauge",
                      "Token checks waiting for the auth service now.",
                      [&v] { return static_cast<double>(v.in_flight()); });
  registry.add_sample("imagecpp_auth_upstream_refused_total", "counter",
                      "Token checks answered 503 because the auth service calls in flight were "
                      "at their limit.",
                      [&v] { return static_cast<double>(v.stats().refused.load()); });
  registry.add_sample("imagecpp_auth_invalid_answers_total", "counter",
                      "Auth service 200 answers without a usable user (answered 503).",
                      [&r] { return static_cast<double>(r.invalid_answers()); });
}

}  // namespace imagecpp::auth
