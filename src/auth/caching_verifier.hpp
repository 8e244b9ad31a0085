#pragma once
// A Verifier decorator in front of the auth service: answers from the token cache when it can,
// otherwise asks the inner verifier once per token however many requests wait for it. Valid
// tokens are cached for long, rejected ones briefly (so that a client retrying a bad token does
// not reach the auth service each time); "auth service down" is never cached. Calls to the
// inner verifier are bounded: beyond the limit a check fails at once as overloaded (503) rather
// than piling more work on a slow auth service.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/token_cache.hpp"
#include "auth/verifier.hpp"
#include "core/error.hpp"
#include "core/single_flight.hpp"
#include "log/throttle.hpp"

namespace imagecpp::auth {

struct CachingVerifierSettings {
  TokenCacheSettings valid;  // verified tokens
  // Tokens the auth service rejected (401, 403, 404): short, since they are not revocations
  // but plain misses, and bounded on their own so that junk tokens never evict valid ones.
  TokenCacheSettings rejected{.ttl = std::chrono::seconds(10), .capacity = 10'000};
  std::size_t max_in_flight = 32;  // calls to the inner verifier at once
};

class CachingVerifier : public Verifier {
 public:
  struct Stats {
    std::atomic<std::uint64_t> hits{0};
    std::atomic<std::uint64_t> rejected_hits{0};   // rejections answered from the cache
    std::atomic<std::uint64_t> upstream_calls{0};  // verifications asked of the inner verifier
    std::atomic<std::uint64_t> refused{0};         // checks refused for the in-flight limit
    std::atomic<std::uint64_t> forgotten{0};       // cached tokens dropped by forget()
  };

  CachingVerifier(std::unique_ptr<Verifier> inner, CachingVerifierSettings settings,
                  TokenCache::Clock clock = {});

  boost::asio::awaitable<User> verify(std::string token) override;

  // Drops the token from the cache at once; thread-safe (called from the logout consumer).
  // A remembered rejection stays: a logged-out token is no more valid than a rejected one.
  void forget(std::string_view token) override;

  const Stats& stats() const noexcept { return stats_; }
  std::size_t cached() const { return cache_.size(); }
  std::size_t rejected_cached() const { return rejected_.size(); }
  std::size_t in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }

 private:
  class Slot;

  boost::asio::awaitable<User> fetch(std::string key, std::string token);
  boost::asio::awaitable<User> ask_inner(const std::string& key, std::string token);
  // The user of a cached valid token; throws unauthorized for a remembered rejection; nullopt
  // when the inner verifier must be asked.
  std::optional<User> from_cache(const std::string& key, std::string_view token);
  Error refuse(std::string_view token);

  const std::unique_ptr<Verifier> inner_;
  const std::size_t max_in_flight_;
  TokenCache cache_;
  TokenCache rejected_;  // the stored User is empty: only the key's presence matters
  SingleFlight<User> flights_;
  std::atomic<std::size_t> in_flight_{0};
  log::Throttle refused_log_{std::chrono::seconds(10)};
  Stats stats_;
};

}  // namespace imagecpp::auth
