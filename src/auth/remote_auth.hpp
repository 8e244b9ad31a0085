#pragma once
// Remote auth mode, assembled: the auth service client, the verifier that asks it, the token
// cache in front of it, and the logout broadcast consumer that prunes that cache.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "auth/verifier.hpp"
#include "metrics/registry.hpp"

namespace imagecpp::events {
class LogoutConsumer;
}

namespace imagecpp::auth {

class CachingVerifier;
class HttpClient;

struct RemoteAuthSettings {
  std::string auth_service_url = "http://localhost:3000";
  std::chrono::milliseconds timeout{3000};
  std::string ca_file;
  std::chrono::seconds cache_ttl{3600};
  std::size_t cache_size = 100'000;
  std::string rabbit_url = "amqp://localhost";  // empty: no logout consumer
};

class RemoteAuth {
 public:
  // Validates both URLs (throws std::invalid_argument); connects to nothing yet.
  explicit RemoteAuth(const RemoteAuthSettings& settings);
  ~RemoteAuth();
  RemoteAuth(const RemoteAuth&) = delete;
  RemoteAuth& operator=(const RemoteAuth&) = delete;

  Verifier& verifier();
  void register_metrics(metrics::Registry& registry) const;

  // Starts the logout consumer thread.
  void start();
  // Joins the consumer and drops pooled auth service connections. Call after the HTTP threads
  // have ended: the pooled sockets belong to the HTTP server's io_context.
  void stop();

 private:
  std::shared_ptr<HttpClient> client_;
  std::unique_ptr<CachingVerifier> verifier_;
  std::unique_ptr<events::LogoutConsumer> consumer_;
};

}  // namespace imagecpp::auth
