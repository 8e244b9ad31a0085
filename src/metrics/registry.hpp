#pragma once
// Process metrics in Prometheus text format: requests by route and status, a latency histogram
// by route, and gauges/counters read from the rest of the service at scrape time.
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imagecpp::metrics {

class Registry {
 public:
  void observe_request(std::string_view route, unsigned status,
                       std::chrono::steady_clock::duration duration);

  // A value read at each scrape (counter or gauge), e.g. variants computed, queue depth.
  void add_sample(std::string name, std::string type, std::string help,
                  std::function<double()> read);

  std::string render() const;

 private:
  static constexpr std::array<double, 12> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> counts{};  // per bucket, not cumulative
    std::uint64_t total = 0;
    double sum = 0;
  };
  struct Sample {
    std::string name, type, help;
    std::function<double()> read;
  };

  mutable std::mutex mutex_;
  using ByStatus = std::map<unsigned, std::uint64_t>;
  std::map<std::string, ByStatus, std::less<>> requests_;  // route -> status -> count
  std::map<std::string, Histogram, std::less<>> latency_;
  std::vector<Sample> samples_;
};

}  // namespace imagecpp::metrics
