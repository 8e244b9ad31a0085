#pragma once
// Process metrics in Prometheus text format: requests by route and status, a latency histogram
// by route (counted without a lock: request_table.hpp), and gauges/counters read from the rest
// of the service at scrape time.
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/request_table.hpp"

namespace imagecpp::metrics {

class Registry {
 public:
  void observe_request(std::string_view route, unsigned status,
                       std::chrono::steady_clock::duration duration) {
    requests_.observe(route, status, duration);
  }

  // A value read at each scrape (counter or gauge), e.g. variants computed, queue depth.
  void add_sample(std::string name, std::string type, std::string help,
                  std::function<double()> read);

  std::string render() const;

 private:
  struct Sample {
    std::string name, type, help;
    std::function<double()> read;
  };

  RequestTable requests_;
  mutable std::mutex samples_mutex_;  // registration at start-up, reads at scrapes
  std::vector<Sample> samples_;
};

}  // namespace imagecpp::metrics
