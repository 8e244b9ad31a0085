#pragma once
// A bounded pool for CPU-bound image work. Network threads hand jobs over and await them, so
// a resize never stalls a connection; beyond `threads + queue_limit` jobs in the pool the caller
// gets Error(overloaded) at once instead of a queue that grows without end.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <optional>
#include <type_traits>

#include "core/error.hpp"
#include "core/hand_back.hpp"
#include "core/thread_priority.hpp"

namespace imagecpp {

class WorkerPool {
 public:
  static constexpr int kWorkerNiceness = 10;

  WorkerPool(unsigned threads, unsigned queue_limit)
      : pool_(threads), capacity_(threads + queue_limit) {}
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool() { stop(); }

  // Runs `job` on a worker; the awaiting coroutine resumes on its own executor. Exceptions
  // thrown by `job` reach the caller.
  template <class Job>
  boost::asio::awaitable<std::invoke_result_t<Job>> run(Job job) {
    using Result = std::invoke_result_t<Job>;
    if (!take_place()) throw Error(ErrorCode::overloaded, "image work queue is full");
    const Release release{pending_};
    // A plain handler hand-off: no coroutine frame per job.
    std::optional<Result> result =
        co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                             void(std::exception_ptr, std::optional<Result>)>(
            [this](auto handler, Job job) {
              boost::asio::any_io_executor resume = boost::asio::get_associated_executor(handler);
              boost::asio::post(pool_, [handler = std::move(handler), job = std::move(job),
                                        resume = std::move(resume)]() mutable {
                // A resize yields the core to a network thread that wakes up: a warm read
                // must not wait behind one (libvips' own workers inherit this).
                lower_thread_priority_once(kWorkerNiceness);
                std::exception_ptr error;
                std::optional<Result> value;
                try {
                  value.emplace(job());
                } catch (...) {
                  error = std::current_exception();
                }
                hand_back(resume, std::move(handler), std::move(error), std::move(value));
              });
            },
            boost::asio::use_awaitable, std::move(job));
    co_return std::move(*result);
  }

  unsigned pending() const noexcept { return pending_.load(std::memory_order_relaxed); }

  void stop() {
    pool_.stop();
    pool_.join();
  }

 private:
  // Never lets the count pass the capacity, not even for a moment (an increment-then-undo would
  // show callers, and the pending gauge, one job more than can be admitted).
  bool take_place() noexcept {
    unsigned current = pending_.load(std::memory_order_relaxed);
    do {
      if (current >= capacity_) return false;
    } while (!pending_.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
    return true;
  }

  struct Release {
    std::atomic<unsigned>& count;
    ~Release() { count.fetch_sub(1, std::memory_order_relaxed); }
  };

  boost::asio::thread_pool pool_;
  const unsigned capacity_;
  std::atomic<unsigned> pending_{0};
};

}  // namespace imagecpp
