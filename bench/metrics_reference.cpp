// What counting one request costs the network thread, three ways, from 1, 2 and 8 threads at
// once on the same routes (the network threads' case: every warm read of one image hits the
// same series):
//   table       the service's metrics::RequestTable (a shard of relaxed atomics per thread);
//   mutex+maps  the registry it replaced (one mutex, maps by route and status), kept here;
//   prometheus  prometheus-cpp 1.0 (Debian's prometheus-cpp-dev), its counter and histogram,
//               resolved once per route and status ("resolved": the best case) or looked up by
//               labels on each request ("labels": Family::Add, what its API asks for).
// Prints nanoseconds per observation (wall time / observations per thread) and the ratio to
// the table.   metrics_reference [observations per thread]
#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <barrier>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "metrics/request_table.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using imagecpp::metrics::RequestTable;

// The routes and statuses a warm benchmark sends, in turn.
constexpr std::array<std::string_view, 4> kRoutes{"/v1/image/{id}", "/images/{id}/jpeg",
                                                  "/v1/image/{id}/jpeg", "/images/{id}"};
constexpr std::array<unsigned, 2> kStatusesSent{200, 304};

// The registry before the table, as it was (commit 132c2e0), requests and latency only.
class MutexMaps {
 public:
  void observe(std::string_view route, unsigned status, Clock::duration duration) {
    const double seconds = std::chrono::duration<double>(duration).count();
    const auto bucket = static_cast<std::size_t>(
        std::lower_bound(RequestTable::kBuckets.begin(), RequestTable::kBuckets.end(), seconds) -
        RequestTable::kBuckets.begin());
    const std::lock_guard lock(mutex_);
    auto by_route = requests_.find(route);
    if (by_route == requests_.end())
      by_route = requests_.emplace(std::string(route), ByStatus{}).first;
    ++by_route->second[status];
    auto it = latency_.find(route);
    if (it == latency_.end()) it = latency_.emplace(std::string(route), Histogram{}).first;
    if (bucket < it->second.counts.size()) ++it->second.counts[bucket];
    ++it->second.total;
    it->second.sum += seconds;
  }

 private:
  struct Histogram {
    std::array<std::uint64_t, RequestTable::kBuckets.size()> counts{};
    std::uint64_t total = 0;
    double sum = 0;
  };
  using ByStatus = std::map<unsigned, std::uint64_t>;
  std::mutex mutex_;
  std::map<std::string, ByStatus, std::less<>> requests_;
  std::map<std::string, Histogram, std::less<>> latency_;
};

class Prometheus {
 public:
  Prometheus()
      : requests_(prometheus::BuildCounter()
                      .Name("imagecpp_http_requests_total")
                      .Help("HTTP requests answered, by route and status.")
                      .Register(registry_)),
        latency_(prometheus::BuildHistogram()
                     .Name("imagecpp_http_request_duration_seconds")
                     .Help("Time from first byte to response sent.")
                     .Register(registry_)),
        buckets_(RequestTable::kBuckets.begin(), RequestTable::kBuckets.end()) {
    for (std::size_t r = 0; r < kRoutes.size(); ++r) {
      const std::string route(kRoutes[r]);
      histograms_[r] = &latency_.Add({{"route", route}}, buckets_);
      for (std::size_t s = 0; s < kStatusesSent.size(); ++s) {
        counters_[r][s] =
            &requests_.Add({{"route", route}, {"status", std::to_string(kStatusesSent[s])}});
      }
    }
  }
  void observe_resolved(std::size_t route, std::size_t status, Clock::duration duration) {
    counters_[route][status]->Increment();
    histograms_[route]->Observe(std::chrono::duration<double>(duration).count());
  }
  void observe_by_labels(std::string_view route, unsigned status, Clock::duration duration) {
    const std::string r(route);
    requests_.Add({{"route", r}, {"status", std::to_string(status)}}).Increment();
    latency_.Add({{"route", r}}, buckets_).Observe(std::chrono::duration<double>(duration).count());
  }

 private:
  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  const prometheus::Histogram::BucketBoundaries buckets_;
  std::array<std::array<prometheus::Counter*, kStatusesSent.size()>, kRoutes.size()> counters_{};
  std::array<prometheus::Histogram*, kRoutes.size()> histograms_{};
};

// ns per observation per thread: `threads` threads each call observe(i) `n` times at once.
double run(int threads, long n, const std::function<void(long)>& observe) {
  std::barrier start(threads + 1);
  std::vector<std::jthread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      start.arrive_and_wait();
      for (long i = 0; i < n; ++i) observe(i);
    });
  }
  start.arrive_and_wait();
  const auto begin = Clock::now();
  workers.clear();
  return std::chrono::duration<double, std::nano>(Clock::now() - begin).count() /
         static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::stol(argv[1]) : 2'000'000;
  // A warm read's duration, varied so that the histogram's bucket search is not one branch.
  auto duration = [](long i) { return std::chrono::microseconds(20 + (i % 64) * 10); };
  fmt::print("{:<8} {:<22} {:>12} {:>10}\n", "threads", "counter", "ns/request", "vs table");
  for (const int threads : {1, 2, 8}) {
    RequestTable table;
    MutexMaps maps;
    Prometheus prom;
    const double base = run(threads, n, [&](long i) {
      table.observe(kRoutes[i % kRoutes.size()], kStatusesSent[i % 2], duration(i));
    });
    const double mutex = run(threads, n, [&](long i) {
      maps.observe(kRoutes[i % kRoutes.size()], kStatusesSent[i % 2], duration(i));
    });
    const double resolved = run(threads, n, [&](long i) {
      prom.observe_resolved(static_cast<std::size_t>(i) % kRoutes.size(),
                            static_cast<std::size_t>(i % 2), duration(i));
    });
    const double labels = run(threads, n / 10, [&](long i) {
      prom.observe_by_labels(kRoutes[i % kRoutes.size()], kStatusesSent[i % 2], duration(i));
    });
    for (const auto& [name, ns] :
         {std::pair{"table", base}, std::pair{"mutex+maps", mutex},
          std::pair{"prometheus resolved", resolved}, std::pair{"prometheus labels", labels}}) {
      fmt::print("{:<8} {:<22} {:>12.1f} {:>9.2f}x\n", threads, name, ns, ns / base);
    }
  }
}
