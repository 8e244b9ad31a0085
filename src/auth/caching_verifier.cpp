#include "auth/caching_verifier.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "core/token.hpp"

namespace imagecpp::auth {

// One of the max_in_flight places for a call to the inner verifier, held for the whole call:
// also when the call throws, or when its coroutine frame is destroyed mid-call (shutdown).
class CachingVerifier::Slot {
 public:
  Slot(std::atomic<std::size_t>& count, std::size_t limit)
      : count_(count), held_(try_take(count, limit)) {}
  ~Slot() {
    if (held_) count_.fetch_sub(1, std::memory_order_relaxed);
  }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

  explicit operator bool() const noexcept { return held_; }

 private:
  // Never lets the count pass the limit, not even for a moment, so that two racing takers
  // cannot refuse each other spuriously the way an increment-then-undo would.
  static bool try_take(std::atomic<std::size_t>& count, std::size_t limit) {
    std::size_t current = count.load(std::memory_order_relaxed);
    do {
      if (current >= limit) return false;
    } while (!count.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
    return true;
  }

  std::atomic<std::size_t>& count_;
  const bool held_;
};

CachingVerifier::CachingVerifier(std::unique_ptr<Verifier> inner, CachingVerifierSettings settings,
                                 TokenCache::Clock clock)
    : inner_(std::move(inner)),
      max_in_flight_(settings.max_in_flight),
      cache_(settings.valid, clock),
      rejected_(settings.rejected, std::move(clock)) {
  if (!inner_) throw std::invalid_argument("CachingVerifier needs an inner verifier");
  if (max_in_flight_ == 0) throw std::invalid_argument("CachingVerifier: max_in_flight is 0");
}

boost::asio::awaitable<User> CachingVerifier::verify(std::string token) {
  std::string key = token_key(token);
  if (auto user = from_cache(key, token)) co_return std::move(*user);
  // The flight is keyed by the hash too: the raw token lives only in the request's own frames.
  // The work captures references only (this frame outlives the flight): GCC 12 destroys a
  // lambda temporary with owning captures inside a co_await expression wrongly.
  co_return co_await flights_.run(key, [this, &key, &token] { return fetch(key, token); });
}

boost::asio::awaitable<User> CachingVerifier::fetch(std::string key, std::string token) {
  // A flight that ended just before we claimed the key has already stored its answer.
  if (auto user = from_cache(key, token)) co_return std::move(*user);
  const std::uint64_t generation = cache_.generation();
  User user = co_await ask_inner(key, std::move(token));
  cache_.insert(key, user, generation);
  co_return user;
}

// Only the leader of a flight gets here, so a token awaited by many requests takes one slot.
boost::asio::awaitable<User> CachingVerifier::ask_inner(const std::string& key, std::string token) {
  const Slot slot(in_flight_, max_in_flight_);
  if (!slot) throw refuse(token);
  stats_.upstream_calls.fetch_add(1, std::memory_order_relaxed);
  try {
    co_return co_await inner_->verify(std::move(token));
  } catch (const Error& e) {
    // A rejection is a verdict and is remembered; anything else (down, overloaded, an answer
    // that made no sense) may be over by the next request and is not.
    if (e.code() == ErrorCode::unauthorized) rejected_.insert(key, User{}, rejected_.generation());
    throw;
  }
}

std::optional<User> CachingVerifier::from_cache(const std::string& key, std::string_view token) {
  if (auto user = cache_.find(key)) {
    stats_.hits.fetch_add(1, std::memory_order_relaxed);
    return user;
  }
  if (rejected_.find(key)) {
    stats_.rejected_hits.fetch_add(1, std::memory_order_relaxed);
    throw Error(ErrorCode::unauthorized, "token " + token::tag(token) + " rejected recently");
  }
  return std::nullopt;
}

// Refusing at once keeps a slow auth service from holding an unbounded number of requests (and
// their bodies) in memory; the client is told to retry (503 with Retry-After).
Error CachingVerifier::refuse(std::string_view token) {
  stats_.refused.fetch_add(1, std::memory_order_relaxed);
  if (const auto held_back = refused_log_.admit()) {
    spdlog::warn("auth service: in-flight limit ({}) reached: token {} refused (503){}",
                 max_in_flight_, token::tag(token), log::held_back_note(*held_back));
  }
  return Error(ErrorCode::overloaded,
               "auth service: in-flight limit reached (token " + token::tag(token) + ")");
}

void CachingVerifier::forget(std::string_view token) {
  if (cache_.erase(token_key(token))) stats_.forgotten.fetch_add(1, std::memory_order_relaxed);
  inner_->forget(token);
}

}  // namespace imagecpp::auth
