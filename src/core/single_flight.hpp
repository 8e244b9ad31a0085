#pragma once
// Concurrent requests for the same missing thing share one computation: the first caller for a
// key runs the work, later callers for that key wait for its result (or its exception).
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "core/hand_back.hpp"

namespace imagecpp {

template <class T>
class SingleFlight {
 public:
  // `work` is a callable returning awaitable<T>; it runs at most once at a time per key.
  template <class Work>
  boost::asio::awaitable<T> run(const std::string& key, Work work) {
    for (;;) {
      if (claim(key)) co_return co_await lead(key, work);
      // A nullopt means the flight ended before we joined it: try again (the work itself is
      // expected to find the now-stored result).
      std::optional<T> shared = co_await join(key);
      if (shared) co_return std::move(*shared);
    }
  }

  std::size_t in_flight() const {
    const std::lock_guard lock(mutex_);
    return flights_.size();
  }

 private:
  using Signature = void(std::exception_ptr, std::optional<T>);
  using Handler = boost::asio::any_completion_handler<Signature>;
  struct Waiter {
    Handler handler;
    boost::asio::any_io_executor executor;  // where the waiting coroutine resumes
  };

  bool claim(const std::string& key) {
    const std::lock_guard lock(mutex_);
    return flights_.try_emplace(key).second;
  }

  // Ends a flight exactly once: when the work returned or threw, or, if the leader's frame is
  // destroyed while suspended (its loop torn down), from the destructor, so that no waiter is
  // left waiting and the key can fly again.
  class Landing {
   public:
    Landing(SingleFlight& owner, const std::string& key) : owner_(owner), key_(key) {}
    Landing(const Landing&) = delete;
    Landing& operator=(const Landing&) = delete;
    ~Landing() {
      if (!landed_) {
        land(std::make_exception_ptr(std::runtime_error("single flight abandoned")), std::nullopt);
      }
    }

    void land(std::exception_ptr error, const std::optional<T>& result) {
      landed_ = true;
      std::vector<Waiter> waiters;
      {
        const std::lock_guard lock(owner_.mutex_);
        auto node = owner_.flights_.extract(key_);
        if (!node.empty()) waiters = std::move(node.mapped());
      }
      for (auto& waiter : waiters) complete(std::move(waiter), own_copy(error), result);
    }

   private:
    SingleFlight& owner_;
    const std::string& key_;
    bool landed_ = false;
  };

  template <class Work>
  boost::asio::awaitable<T> lead(const std::string& key, Work& work) {
    Landing landing(*this, key);
    std::exception_ptr error;
    std::optional<T> result;
    try {
      result.emplace(co_await work());
    } catch (...) {
      error = std::current_exception();
    }
    landing.land(error, result);
    if (error) std::rethrow_exception(error);
    co_return std::move(*result);
  }

  boost::asio::awaitable<std::optional<T>> join(const std::string& key) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, Signature>(
        [this, &key](auto handler) {
          std::unique_lock lock(mutex_);
          const auto it = flights_.find(key);
          if (it == flights_.end()) {
            lock.unlock();
            complete(make_waiter(std::move(handler)), nullptr, std::nullopt);
            return;
          }
          it->second.push_back(make_waiter(std::move(handler)));
        },
        boost::asio::use_awaitable);
  }

  // Each waiter resumes on its own thread with its own copy of the error: one exception object
  // caught on several threads at once is shared state (its reference count is not visible to
  // TSan, and a handler may change what it caught). Errors of other types, rare, are shared.
  static std::exception_ptr own_copy(const std::exception_ptr& error) {
    if (!error) return nullptr;
    try {
      std::rethrow_exception(error);
    } catch (const Error& e) {
      return std::make_exception_ptr(e);
    } catch (...) {
      return error;
    }
  }

  template <class CompletionHandler>
  static Waiter make_waiter(CompletionHandler handler) {
    boost::asio::any_io_executor executor = boost::asio::get_associated_executor(handler);
    return Waiter{Handler(std::move(handler)), std::move(executor)};
  }

  // Resumes a waiter on its own executor, never inline on the leader's thread.
  static void complete(Waiter waiter, std::exception_ptr error, std::optional<T> result) {
    hand_back(waiter.executor, std::move(waiter.handler), std::move(error), std::move(result));
  }

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<Waiter>> flights_;
};

}  // namespace imagecpp
