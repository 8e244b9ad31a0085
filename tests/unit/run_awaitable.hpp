#pragma once
// Runs coroutine code to completion from a plain test body: a fresh io_context, co_spawn, run,
// then the result (or the exception) of the coroutine.
//
//   auto bytes = run_awaitable(store.get("key"));                     // an awaitable
//   run_awaitable([&]() -> boost::asio::awaitable<void> { ... });     // a coroutine function
//
// Prefer the second form for lambdas with captures: co_spawn keeps the function object alive
// while its coroutine runs, whereas an immediately invoked lambda would die too early.
// Capture by reference (or trivially destructible values): GCC 12 destroys by-value captures
// with destructors (std::string, shared_ptr) twice when the lambda goes through co_spawn.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <utility>

namespace imagecpp::test {

template <typename AwaitableOrFunction>
auto run_awaitable(AwaitableOrFunction&& work) {
  boost::asio::io_context io;
  auto result =
      boost::asio::co_spawn(io, std::forward<AwaitableOrFunction>(work), boost::asio::use_future);
  io.run();
  return result.get();
}

}  // namespace imagecpp::test
