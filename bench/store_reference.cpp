// The least an upload costs besides the store itself: the service's own base64 decoder run on
// the data URL payload of a file, and (with a directory) a durable LMDB write of the raw bytes
// with the same environment flags as the embedded store (one put + commit, fsync included).
// Usage: store_reference FILE ITERATIONS [LMDB_DIR]
// Prints "decode_us median=<m> min=<a> max=<b> bytes=<n>" and, with LMDB_DIR,
// "lmdb_put_us median=<m> min=<a> max=<b> bytes=<n>".
#include <lmdb.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/base64.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::string slurp(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) throw std::runtime_error(std::string(what) + ": " + mdb_strerror(rc));
}

void print(const char* name, std::vector<double> us, std::size_t bytes) {
  std::sort(us.begin(), us.end());
  const std::size_t n = us.size();
  const double median = n % 2 ? us[n / 2] : (us[n / 2 - 1] + us[n / 2]) / 2;
  std::printf("%s median=%.1f min=%.1f max=%.1f bytes=%zu\n", name, median, us.front(), us.back(),
              bytes);
}

template <class Work>
std::vector<double> time_us(int iterations, Work&& work) {
  work(-1);  // warm-up
  std::vector<double> us;
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    work(i);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  return us;
}

void lmdb_writes(const char* dir, const std::string& bytes, int iterations) {
  MDB_env* env = nullptr;
  check(mdb_env_create(&env), "env_create");
  check(mdb_env_set_mapsize(env, std::size_t{64} << 30), "set_mapsize");
  check(mdb_env_open(env, dir, MDB_NOTLS, 0640), "env_open");  // as src/store/lmdb_store.cpp
  MDB_dbi dbi = 0;
  {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env, nullptr, 0, &txn), "txn_begin");
    check(mdb_dbi_open(txn, nullptr, 0, &dbi), "dbi_open");
    check(mdb_txn_commit(txn), "commit");
  }
  const auto us = time_us(iterations, [&](int i) {
    // Fresh 36-character keys, like the service's UUIDs.
    char key[40];
    std::snprintf(key, sizeof key, "00000000-0000-4000-8000-%012d", i + 1);
    MDB_val k{36, key};
    MDB_val v{bytes.size(), const_cast<char*>(bytes.data())};
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env, nullptr, 0, &txn), "txn_begin");
    check(mdb_put(txn, dbi, &k, &v, 0), "put");
    check(mdb_txn_commit(txn), "commit");
  });
  mdb_env_close(env);
  print("lmdb_put_us", us, bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s FILE ITERATIONS [LMDB_DIR]\n", argv[0]);
    return 2;
  }
  try {
    const std::string bytes = slurp(argv[1]);
    const int iterations = std::max(1, std::atoi(argv[2]));
    const std::string encoded = imagecpp::base64::encode(bytes);
    std::size_t decoded_size = 0;
    const auto decode = time_us(iterations, [&](int) {
      const auto decoded = imagecpp::base64::decode(encoded);
      if (!decoded || decoded->size() != bytes.size()) throw std::runtime_error("decode failed");
      decoded_size = decoded->size();
    });
    print("decode_us", decode, decoded_size);
    if (argc > 3) lmdb_writes(argv[3], bytes, iterations);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_reference: %s\n", e.what());
    return 1;
  }
  return 0;
}
