#include "metrics/registry.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace imagecpp::metrics {

void Registry::observe_request(std::string_view route, unsigned status,
                               std::chrono::steady_clock::duration duration) {
  const double seconds = std::chrono::duration<double>(duration).count();
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds) - kBuckets.begin());
  const std::lock_guard lock(mutex_);
  // Heterogeneous lookups: a route's strings are allocated once, not per request.
  auto by_route = requests_.find(route);
  if (by_route == requests_.end())
    by_route = requests_.emplace(std::string(route), ByStatus{}).first;
  ++by_route->second[status];
  auto it = latency_.find(route);
  if (it == latency_.end()) it = latency_.emplace(std::string(route), Histogram{}).first;
  Histogram& h = it->second;
  if (bucket < h.counts.size()) ++h.counts[bucket];
  ++h.total;
  h.sum += seconds;
}

void Registry::add_sample(std::string name, std::string type, std::string help,
                          std::function<double()> read) {
  const std::lock_guard lock(mutex_);
  samples_.push_back({std::move(name), std::move(type), std::move(help), std::move(read)});
}

std::string Registry::render() const {
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  const std::lock_guard lock(mutex_);
  fmt::format_to(
      it, "# HELP imagecpp_http_requests_total HTTP requests answered, by route and status.\n");
  fmt::format_to(it, "# TYPE imagecpp_http_requests_total counter\n");
  for (const auto& [route, by_status] : requests_) {
    for (const auto& [status, count] : by_status) {
      fmt::format_to(it, "imagecpp_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", route,
                     status, count);
    }
  }
  fmt::format_to(
      it, "# HELP imagecpp_http_request_duration_seconds Time from first byte to response sent.\n");
  fmt::format_to(it, "# TYPE imagecpp_http_request_duration_seconds histogram\n");
  for (const auto& [route, h] : latency_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.counts[i];
      fmt::format_to(it,
                     "imagecpp_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                     route, kBuckets[i], cumulative);
    }
    fmt::format_to(it,
                   "imagecpp_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                   route, h.total);
    fmt::format_to(it, "imagecpp_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", route,
                   h.sum);
    fmt::format_to(it, "imagecpp_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", route,
                   h.total);
  }
  for (const auto& s : samples_) {
    fmt::format_to(it, "# HELP {} {}\n# TYPE {} {}\n{} {}\n", s.name, s.help, s.name, s.type,
                   s.name, s.read());
  }
  return fmt::to_string(out);
}

}  // namespace imagecpp::metrics
