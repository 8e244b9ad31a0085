#pragma once
// A bounded lane for a kind of slow job inside the worker pool: at most `slots` of them run at
// once, at most `queue_limit` more wait for a slot (without holding a worker), and beyond that
// the caller gets Error(overloaded) at once. So a burst of slow jobs (AVIF encodes) can hold only
// `slots` workers, and the others keep serving the fast ones (JPEG).
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <deque>
#include <mutex>
#include <utility>

#include "core/error.hpp"

namespace imagecpp {

class Gate {
 public:
  // A slot held; released (and handed to the next waiter) when destroyed.
  class Pass {
   public:
    Pass() = default;
    explicit Pass(Gate* gate) : gate_(gate) {}
    Pass(Pass&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    Pass& operator=(Pass&& other) noexcept {
      if (this != &other) {
        release();
        gate_ = std::exchange(other.gate_, nullptr);
      }
      return *this;
    }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    ~Pass() { release(); }

   private:
    void release() {
      if (gate_ != nullptr) std::exchange(gate_, nullptr)->leave();
    }
    Gate* gate_ = nullptr;
  };

  Gate(unsigned slots, unsigned queue_limit)
      : slots_(slots == 0 ? 1 : slots), queue_limit_(queue_limit) {}
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // A slot now, or once one is free (resuming on the caller's executor); Error(overloaded) when
  // the queue is full.
  boost::asio::awaitable<Pass> enter() {
    co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                         void(std::exception_ptr)>(
        [this](auto handler) {
          std::unique_lock lock(mutex_);
          if (running_ < slots_) {
            ++running_;
            lock.unlock();
            resume(make_waiter(std::move(handler)), nullptr);
            return;
          }
          if (waiters_.size() >= queue_limit_) {
            lock.unlock();
            resume(make_waiter(std::move(handler)),
                   std::make_exception_ptr(
                       Error(ErrorCode::overloaded, "slow image work queue is full")));
            return;
          }
          waiters_.push_back(make_waiter(std::move(handler)));
        },
        boost::asio::use_awaitable);
    co_return Pass(this);
  }

  // Jobs holding a slot, and jobs waiting for one.
  std::size_t running() const {
    const std::lock_guard lock(mutex_);
    return running_;
  }
  std::size_t waiting() const {
    const std::lock_guard lock(mutex_);
    return waiters_.size();
  }

 private:
  using Handler = boost::asio::any_completion_handler<void(std::exception_ptr)>;
  struct Waiter {
    Handler handler;
    boost::asio::any_io_executor executor;
  };

  template <class CompletionHandler>
  static Waiter make_waiter(CompletionHandler handler) {
    boost::asio::any_io_executor executor = boost::asio::get_associated_executor(handler);
    return Waiter{Handler(std::move(handler)), std::move(executor)};
  }

  // Never inline: the waiter resumes on its own executor, not inside enter() or leave().
  static void resume(Waiter waiter, std::exception_ptr error) {
    auto executor = waiter.executor;
    boost::asio::post(executor,
                      [handler = std::move(waiter.handler), error = std::move(error)]() mutable {
                        std::move(handler)(error);
                      });
  }

  // The slot passes to the first waiter, if any: the running count does not change then.
  void leave() {
    std::unique_lock lock(mutex_);
    if (waiters_.empty()) {
      --running_;
      return;
    }
    Waiter next = std::move(waiters_.front());
    waiters_.pop_front();
    lock.unlock();
    resume(std::move(next), nullptr);
  }

  const std::size_t slots_;
  const std::size_t queue_limit_;
  mutable std::mutex mutex_;
  std::size_t running_ = 0;
  std::deque<Waiter> waiters_;
};

}  // namespace imagecpp
