#pragma once
// The memory that clients make the server hold, bounded process-wide: request bodies being
// received (by their declared size, before any byte is read) and answers being sent to clients
// that do not take them at once. An answer's buffer counts once however many clients are sent
// it: the buffers are shared, so counting each response would refuse readers of one popular
// image for memory that is not used. Beyond the budget, the request is answered 503.
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "core/bytes.hpp"

namespace imagecpp::http {

class InflightBudget {
 public:
  // Released on destruction; movable, not copyable.
  class Hold {
   public:
    Hold() = default;
    Hold(Hold&& other) noexcept
        : budget_(std::exchange(other.budget_, nullptr)),
          bytes_(other.bytes_),
          buffer_(std::exchange(other.buffer_, nullptr)) {}
    Hold& operator=(Hold&& other) noexcept {
      if (this != &other) {
        release();
        budget_ = std::exchange(other.budget_, nullptr);
        bytes_ = other.bytes_;
        buffer_ = std::exchange(other.buffer_, nullptr);
      }
      return *this;
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    ~Hold() { release(); }

   private:
    friend class InflightBudget;
    Hold(InflightBudget* budget, std::uint64_t bytes, const void* buffer)
        : budget_(budget), bytes_(bytes), buffer_(buffer) {}
    void release() {
      if (budget_ != nullptr) std::exchange(budget_, nullptr)->release(bytes_, buffer_);
    }

    InflightBudget* budget_ = nullptr;
    std::uint64_t bytes_ = 0;
    const void* buffer_ = nullptr;  // an answer's buffer, or null for a body
  };

  // `limit` bytes in all; 0 = no limit.
  explicit InflightBudget(std::uint64_t limit) : limit_(limit) {}
  InflightBudget(const InflightBudget&) = delete;
  InflightBudget& operator=(const InflightBudget&) = delete;

  // For a request body of `bytes`; nullopt when it does not fit.
  std::optional<Hold> reserve(std::uint64_t bytes) {
    const std::lock_guard lock(mutex_);
    if (!fits(bytes)) return std::nullopt;
    used_ += bytes;
    return Hold(this, bytes, nullptr);
  }

  // For an answer's buffer while it is being sent; a buffer already being sent to another
  // client costs nothing more. nullopt when it does not fit.
  std::optional<Hold> hold_answer(const SharedBytes& buffer) {
    const std::uint64_t bytes = buffer ? buffer->size() : 0;
    const std::lock_guard lock(mutex_);
    auto [it, first] = answers_.try_emplace(buffer.get(), 0);
    if (first && !fits(bytes)) {
      answers_.erase(it);
      return std::nullopt;
    }
    if (first) used_ += bytes;
    ++it->second;
    return Hold(this, bytes, buffer.get());
  }

  std::uint64_t used() const {
    const std::lock_guard lock(mutex_);
    return used_;
  }
  std::uint64_t limit() const noexcept { return limit_; }

 private:
  bool fits(std::uint64_t bytes) const noexcept {
    return limit_ == 0 || (bytes <= limit_ && used_ <= limit_ - bytes);
  }

  void release(std::uint64_t bytes, const void* buffer) {
    const std::lock_guard lock(mutex_);
    if (buffer != nullptr) {
      const auto it = answers_.find(buffer);
      if (--it->second > 0) return;  // still being sent to another client
      answers_.erase(it);
    }
    used_ -= bytes;
  }

  const std::uint64_t limit_;
  mutable std::mutex mutex_;
  std::uint64_t used_ = 0;
  // Buffers being sent, by address (alive while counted: each response sending it holds it).
  std::unordered_map<const void*, std::uint32_t> answers_;
};

}  // namespace imagecpp::http
