#pragma once
// Requests answered, by route and status, and their latency histogram by route: counted on
// every request without a lock. Each thread adds to a shard of its own (relaxed atomics in
// memory no other thread writes, so the network threads never contend for a cache line); a
// scrape sums the shards. Measured against a mutex over maps and prometheus-cpp 1.0 (whose
// histogram takes a mutex per observation): bench/metrics_reference.cpp, docs/BENCHMARK.md.
//
// Everything is fixed in size at construction: routes are a closed set of labels written in the
// code (a client's path never becomes one: unknown paths are "unmatched"), and statuses the
// standard codes. A label past kMaxRoutes, or longer than kMaxLabel, counts as "other"; so does
// a status outside the table.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace imagecpp::metrics {

class RequestTable {
 public:
  static constexpr std::size_t kMaxRoutes = 48;
  static constexpr std::size_t kMaxLabel = 47;
  static constexpr std::array<double, 12> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};
  // The registered HTTP status codes (RFC 9110 and the common extensions), and 599 (a network
  // timeout, as some proxies report it).
  static constexpr std::array<std::uint16_t, 63> kStatuses{
      100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301,
      302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409,
      410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428,
      429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511, 599};

  RequestTable();

  void observe(std::string_view route, unsigned status, std::chrono::nanoseconds duration);

  // What a scrape shows of one route (the shards summed).
  struct RouteTotals {
    std::string label;
    std::array<std::uint64_t, kStatuses.size() + 1> by_status{};  // the last: any other status
    std::array<std::uint64_t, kBuckets.size() + 1> by_bucket{};   // the last: above every bound
    std::uint64_t nanoseconds = 0;
  };
  // Every route seen so far, sorted by label.
  std::vector<RouteTotals> totals() const;

 private:
  static constexpr std::size_t kShards = 8;
  static constexpr std::size_t kOther = kMaxRoutes - 1;  // the row of labels past the table
  struct Counters {
    std::array<std::atomic<std::uint64_t>, kStatuses.size() + 1> by_status{};
    std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> by_bucket{};
    std::atomic<std::uint64_t> nanoseconds{0};
  };
  struct alignas(64) Shard {
    std::array<Counters, kMaxRoutes> routes{};
  };
  struct Label {
    std::array<char, kMaxLabel> text{};
    std::size_t size = 0;
    std::string_view view() const { return {text.data(), size}; }
  };

  std::size_t route_index(std::string_view route);
  std::size_t add_route(std::string_view route);
  static std::size_t status_index(unsigned status);
  static std::size_t bucket_index(std::chrono::nanoseconds duration);
  static std::size_t shard_of_this_thread();

  // Labels are written once, under the mutex, before `routes_` is raised past them (release):
  // a reader that saw the count (acquire) reads them without a lock.
  std::array<Label, kMaxRoutes> labels_{};
  std::atomic<std::size_t> routes_{0};
  std::mutex adding_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace imagecpp::metrics
