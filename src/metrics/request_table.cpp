#include "metrics/request_table.hpp"

#include <algorithm>
#include <numeric>

namespace imagecpp::metrics {
namespace {

constexpr std::string_view kOtherLabel = "other";

constexpr auto kStatusSlot = [] {
  std::array<std::uint8_t, 600> slot{};
  slot.fill(static_cast<std::uint8_t>(RequestTable::kStatuses.size()));
  for (std::size_t i = 0; i < RequestTable::kStatuses.size(); ++i) {
    slot[RequestTable::kStatuses[i]] = static_cast<std::uint8_t>(i);
  }
  return slot;
}();

void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
  // Relaxed: a count has no ordering to publish, and its shard's writer is (nearly always) this
  // thread alone, so the line stays in this core's cache.
  counter.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace

RequestTable::RequestTable() : shards_(std::make_unique<Shard[]>(kShards)) {
  std::copy(kOtherLabel.begin(), kOtherLabel.end(), labels_[kOther].text.begin());
  labels_[kOther].size = kOtherLabel.size();
}

void RequestTable::observe(std::string_view route, unsigned status,
                           std::chrono::nanoseconds duration) {
  Counters& c = shards_[shard_of_this_thread()].routes[route_index(route)];
  add(c.by_status[status_index(status)], 1);
  add(c.by_bucket[bucket_index(duration)], 1);
  add(c.nanoseconds, static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0)));
}

std::size_t RequestTable::route_index(std::string_view route) {
  const std::size_t known = routes_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < known; ++i) {
    if (labels_[i].view() == route) return i;
  }
  return add_route(route);
}

std::size_t RequestTable::add_route(std::string_view route) {
  if (route.size() > kMaxLabel) return kOther;
  const std::lock_guard lock(adding_);
  const std::size_t known = routes_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < known; ++i) {  // another thread may have added it meanwhile
    if (labels_[i].view() == route) return i;
  }
  if (known == kOther) return kOther;
  std::copy(route.begin(), route.end(), labels_[known].text.begin());
  labels_[known].size = route.size();
  routes_.store(known + 1, std::memory_order_release);
  return known;
}

std::size_t RequestTable::status_index(unsigned status) {
  return status < kStatusSlot.size() ? kStatusSlot[status] : kStatuses.size();
}

std::size_t RequestTable::bucket_index(std::chrono::nanoseconds duration) {
  const double seconds = std::chrono::duration<double>(duration).count();
  return static_cast<std::size_t>(std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds) -
                                  kBuckets.begin());
}

std::size_t RequestTable::shard_of_this_thread() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shard;
}

std::vector<RequestTable::RouteTotals> RequestTable::totals() const {
  const std::size_t known = routes_.load(std::memory_order_acquire);
  std::vector<RouteTotals> out;
  auto sum_route = [&](std::size_t i) {
    RouteTotals t{.label = std::string(labels_[i].view())};
    for (std::size_t s = 0; s < kShards; ++s) {
      const Counters& c = shards_[s].routes[i];
      for (std::size_t k = 0; k < t.by_status.size(); ++k) {
        t.by_status[k] += c.by_status[k].load(std::memory_order_relaxed);
      }
      for (std::size_t k = 0; k < t.by_bucket.size(); ++k) {
        t.by_bucket[k] += c.by_bucket[k].load(std::memory_order_relaxed);
      }
      t.nanoseconds += c.nanoseconds.load(std::memory_order_relaxed);
    }
    return t;
  };
  for (std::size_t i = 0; i < known; ++i) out.push_back(sum_route(i));
  RouteTotals other = sum_route(kOther);
  if (std::accumulate(other.by_status.begin(), other.by_status.end(), std::uint64_t{0}) > 0) {
    out.push_back(std::move(other));
  }
  std::sort(out.begin(), out.end(),
            [](const RouteTotals& a, const RouteTotals& b) { return a.label < b.label; });
  return out;
}

}  // namespace imagecpp::metrics
