// Where work leaves the network thread (issue 15): for N from 4 KiB to 16 MiB, what the service
// does on a network thread with an image of N bytes, against what moving that work to a pool
// costs, all in one process:
//   (a) json: the JSON answer of N bytes (the service's own image_json: base64 and the JSON
//       around it, into a fresh buffer as the service allocates it);
//   (b) copy: an LMDB read of N bytes copied out of the map, as LmdbStore::get does it (read
//       transaction, mdb_get, copy into a shared buffer; same environment flags), warm map;
//   (c) handoff: run_on (core/offload.hpp) with an empty job: posted to a 2-thread pool from a
//       coroutine on its own io_context thread, resumed there. Printed as the round trip's wall
//       time (what a request waits) and the network thread's CPU time per hand-off (what its
//       other connections wait).
// The ratio is work / hand-off round trip; the service's thresholds are the smallest N from
// which every larger N's median work is at least kFactor round trips.
// Usage: offthread_reference LMDB_DIR [ITERATIONS]   (LMDB_DIR: an empty scratch directory)
#include <lmdb.h>
#include <time.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/image_json.hpp"
#include "core/allocator.hpp"
#include "core/offload.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kFactor = 10;

void check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) throw std::runtime_error(std::string(what) + ": " + mdb_strerror(rc));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <class Work>
double median_us(int iterations, Work&& work) {
  work();  // warm-up
  std::vector<double> us;
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    work();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  return median(std::move(us));
}

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

struct Handoff {
  double median_us = 0;
  double cpu_us = 0;  // the caller's thread, per hand-off
};

Handoff measure_handoff(int iterations) {
  boost::asio::io_context io(1);  // as a network thread: its own io_context
  boost::asio::thread_pool pool(2);
  Handoff result;
  auto loop = [&]() -> boost::asio::awaitable<void> {
    std::vector<double> us;
    double cpu = 0;
    for (int i = -10; i < iterations; ++i) {  // ten warm-ups
      const double cpu_start = thread_cpu_us();
      const auto start = Clock::now();
      auto job = [] { return 1; };
      const int got = co_await imagecpp::run_on(pool.get_executor(), std::move(job));
      if (got != 1) throw std::runtime_error("hand-off lost its result");
      if (i < 0) continue;
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      cpu += thread_cpu_us() - cpu_start;
    }
    result = {median(std::move(us)), cpu / iterations};
  };
  boost::asio::co_spawn(io, std::move(loop), boost::asio::detached);
  io.run();
  pool.join();
  return result;
}

class Env {
 public:
  explicit Env(const char* dir) {
    check(mdb_env_create(&env_), "env_create");
    check(mdb_env_set_mapsize(env_, std::size_t{1} << 30), "set_mapsize");
    check(mdb_env_open(env_, dir, MDB_NOTLS, 0640), "env_open");  // as src/store/lmdb_store.cpp
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, 0, &txn), "txn_begin");
    check(mdb_dbi_open(txn, nullptr, 0, &dbi_), "dbi_open");
    check(mdb_txn_commit(txn), "commit");
  }
  ~Env() { mdb_env_close(env_); }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  void put(const std::string& key, const std::string& value) {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, 0, &txn), "txn_begin");
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    check(mdb_put(txn, dbi_, &k, &v, 0), "put");
    check(mdb_txn_commit(txn), "commit");
  }

  // LmdbStore::read's steps.
  imagecpp::SharedBytes get(const std::string& key) {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "txn_begin");
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{};
    const int rc = mdb_get(txn, dbi_, &k, &v);
    if (rc != MDB_SUCCESS) {
      mdb_txn_abort(txn);
      check(rc, "get");
    }
    auto bytes = imagecpp::share(std::string(static_cast<const char*>(v.mv_data), v.mv_size));
    mdb_txn_abort(txn);
    return bytes;
  }

 private:
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
};

std::string random_bytes(std::size_t n) {
  std::mt19937_64 rng(n);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

std::string kib(std::size_t n) {
  return n >= (1 << 20) ? std::to_string(n >> 20) + " MiB" : std::to_string(n >> 10) + " KiB";
}

}  // namespace

int main(int argc, char** argv) {
  imagecpp::tune_allocator();  // the service's malloc settings: large buffers are mapped
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s LMDB_DIR [ITERATIONS]\n", argv[0]);
    return 2;
  }
  try {
    const int iterations = argc > 2 ? std::max(5, std::atoi(argv[2])) : 200;
    Env env(argv[1]);
    const Handoff before = measure_handoff(iterations * 10);
    std::vector<std::size_t> sizes;
    for (std::size_t n = 4 << 10; n <= (16 << 20); n *= 2) sizes.push_back(n);
    struct Row {
      std::size_t n;
      double json_us;
      double copy_us;
    };
    std::vector<Row> rows;
    const std::string id = "3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c";
    for (const std::size_t n : sizes) {
      // As many runs as the largest take in about the time of `iterations` of 64 KiB.
      const int runs = static_cast<int>(
          std::clamp<std::size_t>(iterations * (std::size_t{64} << 10) / n, 5, iterations));
      const imagecpp::image::Image image{imagecpp::share(random_bytes(n)),
                                         imagecpp::image::Format::jpeg};
      std::size_t sink = 0;
      const double json =
          median_us(runs, [&] { sink += imagecpp::api::image_json(id, image).size(); });
      const std::string key = id + "-" + std::to_string(n);
      env.put(key, *image.bytes);
      const double copy = median_us(runs, [&] { sink += env.get(key)->size(); });
      if (sink == 0) throw std::runtime_error("nothing measured");
      rows.push_back({n, json, copy});
    }
    const Handoff after = measure_handoff(iterations * 10);
    const double handoff = std::max(before.median_us, after.median_us);
    std::printf("handoff_us median=%.1f (before %.1f, after) cpu_us=%.1f (before %.1f, after)\n",
                after.median_us, before.median_us, after.cpu_us, before.cpu_us);
    std::printf("%10s %12s %8s %12s %8s\n", "bytes", "json_us", "ratio", "copy_us", "ratio");
    for (const Row& r : rows) {
      std::printf("%10s %12.1f %8.1f %12.1f %8.1f\n", kib(r.n).c_str(), r.json_us,
                  r.json_us / handoff, r.copy_us, r.copy_us / handoff);
    }
    // The smallest N from which every larger one costs at least kFactor hand-offs.
    auto threshold = [&](double Row::*field) {
      std::size_t from = 0;
      for (auto it = rows.rbegin(); it != rows.rend() && (*it).*field >= kFactor * handoff; ++it) {
        from = it->n;
      }
      return from;
    };
    std::printf("threshold (work >= %.0fx the slower hand-off, %.1f us): json %s, copy %s\n",
                kFactor, handoff, kib(threshold(&Row::json_us)).c_str(),
                kib(threshold(&Row::copy_us)).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "offthread_reference: %s\n", e.what());
    return 1;
  }
  return 0;
}
