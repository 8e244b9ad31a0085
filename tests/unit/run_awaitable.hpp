#pragma once
// Runs coroutine code to completion from a plain test body: a fresh io_context, co_spawn, run,
// then the result (or the exception) of the coroutine.
//
//   auto bytes = run_awaitable(store.get("key"));                     // an awaitable
//   run_awaitable([&]() -> boost::asio::awaitable<void> { ... });     // a coroutine function
//
// Prefer the second form for lambdas with captures: co_spawn keeps the function object alive
// while its coroutine runs, whereas an immediately invoked lambda would die too early. Inside
// the coroutine, never write a capturing lambda temporary in a co_await expression (GCC 12
// destroys its captures twice: docs/DEVELOPING.md, test_coroutine_forms.cpp).
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
