#pragma once
// Remote auth mode, assembled: the auth service client, the verifier that asks it and the token
// cache in front of it (which the logout broadcast consumer prunes, wired in main).
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "auth/verifier.hpp"
#include "metrics/registry.hpp"

namespace imagecpp::auth {

class CachingVerifier;
class HttpClient;
class RemoteVerifier;

struct RemoteAuthSettings {
  std::string auth_service_url = "http://localhost:3000";
  std::chrono::milliseconds timeout{3000};
  std::string ca_file;
  std::chrono::seconds cache_ttl{3600};
  std::size_t cache_size = 100'000;
  std::chrono::seconds rejected_ttl{10};
  std::size_t rejected_cache_size = 10'000;
  std::size_t max_in_flight = 32;  // calls to the auth service at once (503 beyond)
};

class RemoteAuth {
 public:
  // Validates the URL (throws std::invalid_argument); connects to nothing yet.
  explicit RemoteAuth(const RemoteAuthSettings& settings);
  ~RemoteAuth();
  RemoteAuth(const RemoteAuth&) = delete;
  RemoteAuth& operator=(const RemoteAuth&) = delete;

  Verifier& verifier();
  void register_metrics(metrics::Registry& registry) const;

  // Drops pooled auth service connections. Call after the HTTP threads have ended: the pooled
  // sockets belong to the HTTP server's io_context.
  void stop();

 private:
  void register_limit_metrics(metrics::Registry& registry) const;

  std::shared_ptr<HttpClient> client_;
  RemoteVerifier* remote_ = nullptr;  // owned by verifier_ (read for its metrics)
  std::unique_ptr<CachingVerifier> verifier_;
};

}  // namespace imagecpp::auth
