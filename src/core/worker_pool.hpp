#pragma once
// A bounded pool for CPU-bound image work. Network threads hand jobs over and await them, so
// a resize never stalls a connection; beyond `threads + queue_limit` jobs in the pool the caller
// gets Error(overloaded) at once instead of a queue that grows without end.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>

#include "core/error.hpp"

namespace imagecpp {

class WorkerPool {
 public:
  WorkerPool(unsigned threads, unsigned queue_limit)
      : pool_(threads), capacity_(threads + queue_limit) {}
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool() { stop(); }

  // Runs `job` on a worker; the awaiting coroutine resumes on its own executor. Exceptions
  // thrown by `job` reach the caller.
  template <class Job>
  boost::asio::awaitable<std::invoke_result_t<Job>> run(Job job) {
    if (pending_.fetch_add(1, std::memory_order_relaxed) >= capacity_) {
      pending_.fetch_sub(1, std::memory_order_relaxed);
      throw Error(ErrorCode::overloaded, "image work queue is full");
    }
    const Release release{pending_};
    co_return co_await boost::asio::co_spawn(
        pool_,
        [job = std::move(job)]() mutable -> boost::asio::awaitable<std::invoke_result_t<Job>> {
          co_return job();
        },
        boost::asio::use_awaitable);
  }

  unsigned pending() const noexcept { return pending_.load(std::memory_order_relaxed); }

  void stop() {
    pool_.stop();
    pool_.join();
  }

 private:
  struct Release {
    std::atomic<unsigned>& count;
    ~Release() { count.fetch_sub(1, std::memory_order_relaxed); }
  };

  boost::asio::thread_pool pool_;
  const unsigned capacity_;
  std::atomic<unsigned> pending_{0};
};

}  // namespace imagecpp
