#pragma once
// Work too long for a network thread (a copy or an encoding of megabytes) moved to a pool for
// the time it runs: the awaiting coroutine resumes on its own executor with the job's result.
// Unlike WorkerPool::run there is no bound and no lowered priority: the job is as short as a
// request's own work, only too long to hold a thread that serves other connections meanwhile.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/hand_back.hpp"

namespace imagecpp {

// Runs `job` on `executor`; the caller resumes on its own executor, never on the pool's thread.
// An exception thrown by `job` reaches the caller. `job` may refer to the caller's locals: the
// caller stays suspended until the job has returned and been destroyed. As for any callable
// handed to a coroutine function, name it first, then move it in (docs/DEVELOPING.md).
template <class Job>
boost::asio::awaitable<std::invoke_result_t<Job&>> run_on(boost::asio::any_io_executor executor,
                                                          Job job) {
  using Result = std::invoke_result_t<Job&>;
  // The completion carries a value even with an exception: an empty one.
  static_assert(std::is_default_constructible_v<Result>, "run_on needs a default Result");
  // The initiation captures nothing: what it needs comes as arguments (GCC 12 destroys a
  // capturing closure made inside a co_await expression twice).
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                     void(std::exception_ptr, Result)>(
      [](auto handler, boost::asio::any_io_executor pool, Job work) {
        boost::asio::any_io_executor resume = boost::asio::get_associated_executor(handler);
        // The job lives in an optional so that it is destroyed before the caller resumes: the
        // pool thread keeps nothing of it (not even a moved-from shell) past the hand-back.
        boost::asio::post(
            pool, [handler = std::move(handler), job = std::optional<Job>(std::move(work)),
                   resume = std::move(resume)]() mutable {
              std::exception_ptr error;
              Result value{};
              try {
                value = (*job)();
              } catch (...) {
                error = std::current_exception();
              }
              job.reset();
              hand_back(resume, std::move(handler), std::move(error), std::move(value));
            });
      },
      boost::asio::use_awaitable, std::move(executor), std::move(job));
}

}  // namespace imagecpp
