#pragma once
// The one way a result computed on one thread reaches a coroutine waiting on another.
#include <boost/asio/post.hpp>
#include <exception>
#include <utility>

namespace imagecpp {

// Completes `handler` with (error, value) on `executor`, never inline: the caller resumes on its
// own thread, outside the completer's locks and call stack. Everything is moved into the posted
// function, so the completing thread keeps no reference that it would release after the caller
// has handled it (a release TSan cannot pair with libstdc++'s uninstrumented counts).
template <class Executor, class Handler, class Value>
void hand_back(const Executor& executor, Handler&& handler, std::exception_ptr error,
               Value&& value) {
  boost::asio::post(executor, [handler = std::forward<Handler>(handler), error = std::move(error),
                               value = std::forward<Value>(value)]() mutable {
    std::move(handler)(error, std::move(value));
  });
}

}  // namespace imagecpp
