// The request counters: exact under many threads on one route at once (the network threads'
// case), and bounded whatever labels and statuses arrive.
#include <gtest/gtest.h>

#include <barrier>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "metrics/registry.hpp"
#include "metrics/request_table.hpp"

namespace imagecpp::metrics {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

std::uint64_t count_of(const RequestTable::RouteTotals& t) {
  return std::accumulate(t.by_status.begin(), t.by_status.end(), std::uint64_t{0});
}

const RequestTable::RouteTotals* find(const std::vector<RequestTable::RouteTotals>& all,
                                      std::string_view label) {
  for (const auto& t : all) {
    if (t.label == label) return &t;
  }
  return nullptr;
}

std::size_t slot_of(unsigned status) {
  const auto& s = RequestTable::kStatuses;
  return static_cast<std::size_t>(std::find(s.begin(), s.end(), status) - s.begin());
}

TEST(RequestTable, CountsByStatusBucketAndSum) {
  RequestTable table;
  table.observe("/images/{id}", 200, microseconds(100));
  table.observe("/images/{id}", 200, milliseconds(20));
  table.observe("/images/{id}", 404, milliseconds(3000));
  const auto all = table.totals();
  ASSERT_EQ(all.size(), 1u);
  const auto& t = all[0];
  EXPECT_EQ(t.by_status[slot_of(200)], 2u);
  EXPECT_EQ(t.by_status[slot_of(404)], 1u);
  EXPECT_EQ(t.by_bucket[0], 1u);                              // <= 0.5 ms
  EXPECT_EQ(t.by_bucket[5], 1u);                              // <= 25 ms
  EXPECT_EQ(t.by_bucket[RequestTable::kBuckets.size()], 1u);  // above 2.5 s
  EXPECT_EQ(t.nanoseconds, 100'000u + 20'000'000u + 3'000'000'000u);
}

TEST(RequestTable, RoutesAreSortedAndAStatusOutsideTheTableIsOther) {
  RequestTable table;
  table.observe("/v1/image", 299, microseconds(1));
  table.observe("/healthz", 200, microseconds(1));
  table.observe("/healthz", 0, microseconds(1));
  table.observe("/healthz", 70000, microseconds(1));
  const auto all = table.totals();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].label, "/healthz");
  EXPECT_EQ(all[1].label, "/v1/image");
  EXPECT_EQ(all[0].by_status.back(), 2u);
  EXPECT_EQ(all[1].by_status.back(), 1u);
  EXPECT_EQ(count_of(all[0]), 3u);
}

TEST(RequestTable, LabelsPastTheTableOrTooLongCountAsOther) {
  RequestTable table;
  for (std::size_t i = 0; i < RequestTable::kMaxRoutes + 10; ++i) {
    table.observe("/route/" + std::to_string(i), 200, microseconds(1));
  }
  table.observe(std::string(RequestTable::kMaxLabel + 1, 'x'), 200, microseconds(1));
  const auto all = table.totals();
  ASSERT_EQ(all.size(), RequestTable::kMaxRoutes);  // kMaxRoutes - 1 labels, and "other"
  const auto* other = find(all, "other");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(count_of(*other), 12u);  // 11 labels past the table, one too long
  const std::uint64_t total = std::accumulate(
      all.begin(), all.end(), std::uint64_t{0},
      [](std::uint64_t n, const RequestTable::RouteTotals& t) { return n + count_of(t); });
  EXPECT_EQ(total, RequestTable::kMaxRoutes + 11);
}

// Many threads (more than the shards) on the same routes at the same moment, new labels
// included: every observation is counted exactly once, and each label has one row.
TEST(RequestTable, ManyThreadsOnOneRouteCountExactly) {
  RequestTable table;
  constexpr int kThreads = 12;
  constexpr int kEach = 20000;
  std::barrier start(kThreads);
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&table, &start, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kEach; ++i) {
        table.observe("/images/{id}/jpeg", 200, microseconds(i % 4000));
        if (i % 100 == 0) table.observe("/label/" + std::to_string(i % 7), 304, microseconds(1));
        if (i % 1000 == t) table.observe("/healthz", 200, microseconds(1));
      }
    });
  }
  threads.clear();  // joins
  const auto all = table.totals();
  ASSERT_EQ(all.size(), 9u);  // jpeg, 7 labels, healthz
  const auto* jpeg = find(all, "/images/{id}/jpeg");
  ASSERT_NE(jpeg, nullptr);
  EXPECT_EQ(jpeg->by_status[slot_of(200)], std::uint64_t{kThreads} * kEach);
  EXPECT_EQ(std::accumulate(jpeg->by_bucket.begin(), jpeg->by_bucket.end(), std::uint64_t{0}),
            std::uint64_t{kThreads} * kEach);
  std::uint64_t labelled = 0;
  for (int k = 0; k < 7; ++k) {
    const auto* t = find(all, "/label/" + std::to_string(k));
    ASSERT_NE(t, nullptr) << k;
    labelled += t->by_status[slot_of(304)];
  }
  EXPECT_EQ(labelled, std::uint64_t{kThreads} * (kEach / 100));
  EXPECT_EQ(count_of(*find(all, "/healthz")), std::uint64_t{kThreads} * (kEach / 1000));
}

// A scrape while the network threads count: every figure it shows is one the counters reached
// (monotonic from one scrape to the next), and the last one is exact.
TEST(RequestTable, ScrapesDuringCountingAreMonotonic) {
  Registry registry;
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::atomic<int> running{kThreads};
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) registry.observe_request("/v1/image", 200, microseconds(7));
      running.fetch_sub(1);
    });
  }
  const std::string series = R"(imagecpp_http_requests_total{route="/v1/image",status="200"} )";
  auto scraped = [&] {
    const std::string text = registry.render();
    const auto at = text.find(series);
    return at == std::string::npos ? 0ull : std::stoull(text.substr(at + series.size()));
  };
  unsigned long long last = 0;
  while (running.load() > 0) {
    const unsigned long long now = scraped();
    EXPECT_GE(now, last);
    last = now;
  }
  threads.clear();
  EXPECT_EQ(scraped(), static_cast<unsigned long long>(kThreads) * kEach);
}

}  // namespace
}  // namespace imagecpp::metrics
