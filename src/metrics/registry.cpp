#include "metrics/registry.hpp"

#include <fmt/format.h>

namespace imagecpp::metrics {
namespace {

void render_requests(fmt::memory_buffer& out, const std::vector<RequestTable::RouteTotals>& all) {
  auto it = std::back_inserter(out);
  fmt::format_to(
      it, "# HELP imagecpp_http_requests_total HTTP requests answered, by route and status.\n");
  fmt::format_to(it, "# TYPE imagecpp_http_requests_total counter\n");
  for (const auto& route : all) {
    for (std::size_t i = 0; i < route.by_status.size(); ++i) {
      if (route.by_status[i] == 0) continue;
      if (i < RequestTable::kStatuses.size()) {
        fmt::format_to(it, "imagecpp_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                       route.label, RequestTable::kStatuses[i], route.by_status[i]);
      } else {
        fmt::format_to(it, "imagecpp_http_requests_total{{route=\"{}\",status=\"other\"}} {}\n",
                       route.label, route.by_status[i]);
      }
    }
  }
}

void render_latency(fmt::memory_buffer& out, const std::vector<RequestTable::RouteTotals>& all) {
  auto it = std::back_inserter(out);
  fmt::format_to(
      it, "# HELP imagecpp_http_request_duration_seconds Time from first byte to response sent.\n");
  fmt::format_to(it, "# TYPE imagecpp_http_request_duration_seconds histogram\n");
  for (const auto& route : all) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < RequestTable::kBuckets.size(); ++i) {
      cumulative += route.by_bucket[i];
      fmt::format_to(it,
                     "imagecpp_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                     route.label, RequestTable::kBuckets[i], cumulative);
    }
    cumulative += route.by_bucket.back();
    fmt::format_to(it,
                   "imagecpp_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                   route.label, cumulative);
    fmt::format_to(it, "imagecpp_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n",
                   route.label, static_cast<double>(route.nanoseconds) / 1e9);
    fmt::format_to(it, "imagecpp_http_request_duration_seconds_count{{route=\"{}\"}} {}\n",
                   route.label, cumulative);
  }
}

}  // namespace

void Registry::add_sample(std::string name, std::string type, std::string help,
                          std::function<double()> read) {
  const std::lock_guard lock(samples_mutex_);
  samples_.push_back({std::move(name), std::move(type), std::move(help), std::move(read)});
}

std::string Registry::render() const {
  fmt::memory_buffer out;
  const std::vector<RequestTable::RouteTotals> all = requests_.totals();
  render_requests(out, all);
  render_latency(out, all);
  auto it = std::back_inserter(out);
  const std::lock_guard lock(samples_mutex_);
  for (const auto& s : samples_) {
    fmt::format_to(it, "# HELP {} {}\n# TYPE {} {}\n{} {}\n", s.name, s.help, s.name, s.type,
                   s.name, s.read());
  }
  return fmt::to_string(out);
}

}  // namespace imagecpp::metrics
