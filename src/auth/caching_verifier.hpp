#pragma once
// A Verifier decorator: answers from the token cache when it can, otherwise asks the inner
// verifier (the auth service) once per token however many requests wait for it, and caches
// valid tokens only. Rejections and "auth service down" are never cached.
#include <atomic>
#include <cstdint>
#include <memory>

#include "auth/token_cache.hpp"
#include "auth/verifier.hpp"
#include "core/single_flight.hpp"

namespace imagecpp::auth {

class CachingVerifier : public Verifier {
 public:
  struct Stats {
    std::atomic<std::uint64_t> hits{0};
    std::atomic<std::uint64_t> upstream_calls{0};  // verifications asked of the inner verifier
    std::atomic<std::uint64_t> forgotten{0};       // cached tokens dropped by forget()
  };

  CachingVerifier(std::unique_ptr<Verifier> inner, TokenCacheSettings settings,
                  TokenCache::Clock clock = {});

  boost::asio::awaitable<User> verify(std::string token) override;

  // Drops the token from the cache at once; thread-safe (called from the logout consumer).
  void forget(std::string_view token) override;

  const Stats& stats() const noexcept { return stats_; }
  std::size_t cached() const { return cache_.size(); }

 private:
  boost::asio::awaitable<User> fetch(std::string key, std::string token);

  const std::unique_ptr<Verifier> inner_;
  TokenCache cache_;
  SingleFlight<User> flights_;
  Stats stats_;
};

}  // namespace imagecpp::auth
