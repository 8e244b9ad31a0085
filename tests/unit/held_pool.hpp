#pragma once
// A one-thread pool held busy on request: a job posted to it after hold() cannot run before
// release(). A test tells work done on the caller's thread from work handed to the pool by
// whether it finishes while the pool is held, with no clock involved.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <future>

namespace imagecpp::test {

class HeldPool {
 public:
  HeldPool() = default;
  HeldPool(const HeldPool&) = delete;
  HeldPool& operator=(const HeldPool&) = delete;
  ~HeldPool() {
    release();
    pool_.join();
  }

  boost::asio::any_io_executor executor() { return pool_.get_executor(); }

  // Once: the pool's thread waits for release() before any job posted after this.
  void hold() {
    boost::asio::post(pool_, [held = released_promise_.get_future()] { held.wait(); });
  }

  void release() {
    if (!released_) released_promise_.set_value();
    released_ = true;
  }

 private:
  boost::asio::thread_pool pool_{1};
  std::promise<void> released_promise_;
  bool released_ = false;
};

template <class T>
bool ready(const std::future<T>& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

}  // namespace imagecpp::test
