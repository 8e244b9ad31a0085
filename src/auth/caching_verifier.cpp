#include "auth/caching_verifier.hpp"

#include <stdexcept>

namespace imagecpp::auth {

CachingVerifier::CachingVerifier(std::unique_ptr<Verifier> inner, TokenCacheSettings settings,
                                 TokenCache::Clock clock)
    : inner_(std::move(inner)), cache_(settings, std::move(clock)) {
  if (!inner_) throw std::invalid_argument("CachingVerifier needs an inner verifier");
}

boost::asio::awaitable<User> CachingVerifier::verify(std::string token) {
  std::string key = token_key(token);
  if (auto user = cache_.find(key)) {
    stats_.hits.fetch_add(1, std::memory_order_relaxed);
    co_return std::move(*user);
  }
  // The flight is keyed by the hash too: the raw token lives only in the request's own frames.
  // The work captures references only (this frame outlives the flight): GCC 12 destroys a
  // lambda temporary with owning captures inside a co_await expression wrongly.
  co_return co_await flights_.run(key, [this, &key, &token] { return fetch(key, token); });
}

boost::asio::awaitable<User> CachingVerifier::fetch(std::string key, std::string token) {
  // A flight that ended just before we claimed the key has already stored its answer.
  if (auto user = cache_.find(key)) {
    stats_.hits.fetch_add(1, std::memory_order_relaxed);
    co_return std::move(*user);
  }
  const std::uint64_t generation = cache_.generation();
  stats_.upstream_calls.fetch_add(1, std::memory_order_relaxed);
  User user = co_await inner_->verify(std::move(token));
  cache_.insert(key, user, generation);
  co_return user;
}

void CachingVerifier::forget(std::string_view token) {
  if (cache_.erase(token_key(token))) stats_.forgotten.fetch_add(1, std::memory_order_relaxed);
  inner_->forget(token);
}

}  // namespace imagecpp::auth
