#pragma once
// For the stress tests: loops run as the server runs its network threads (one io_context per
// thread), and values that say which key they were stored under.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace imagecpp::test {

class Loops {
 public:
  explicit Loops(int count) {
    for (int i = 0; i < count; ++i) {
      contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    }
  }
  boost::asio::io_context& operator[](std::size_t i) { return *contexts_[i % contexts_.size()]; }

  // Runs every loop on its own thread until all the work spawned on them is done.
  void run() {
    std::vector<std::thread> threads;
    for (auto& c : contexts_) threads.emplace_back([&c] { c->run(); });
    for (auto& t : threads) t.join();
  }

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
};

// "<key>#<version>#" padded to `size` bytes.
inline std::string keyed_value(const std::string& key, std::size_t size, unsigned version) {
  std::string value = key + "#" + std::to_string(version) + "#";
  value.resize(std::max(size, value.size()), static_cast<char>('a' + version % 26));
  return value;
}

inline bool belongs_to(const std::string& value, const std::string& key) {
  return value.starts_with(key + "#");
}

}  // namespace imagecpp::test
