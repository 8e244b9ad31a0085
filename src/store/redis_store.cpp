#include "store/redis_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "core/error.hpp"
#include "store/redis_client.hpp"
#include "store/redis_cluster_client.hpp"

namespace imagecpp::store {
namespace {

SharedBytes arg(std::string_view text) {
  return share(std::string(text));
}

// Errors that mean "not now" (LOADING, NOAUTH, OOM, READONLY, MISCONF...) are 503s; a key
// holding another type is foreign data, a 500.
[[noreturn]] void throw_reply_error(const RedisReply& reply, std::string_view command) {
  const ErrorCode code =
      reply.text.starts_with("WRONGTYPE") ? ErrorCode::internal : ErrorCode::unavailable;
  throw Error(code, "redis " + std::string(command) + ": " + reply.text);
}

[[noreturn]] void throw_unexpected(std::string_view command) {
  throw Error(ErrorCode::internal, "redis " + std::string(command) + ": unexpected reply type");
}

// What the first round trip reads of a value: every variant at the usual sizes (a 1200 px JPEG
// at quality 80 is 100-300 KB) takes one round trip. A larger value, an original, takes a
// second, which its own transfer dwarfs (a loopback round trip costs what 20-50 KB of transfer
// does). A value over the limit costs at most this much; reading "up to the limit" at once
// would have cost the limit itself (22 MB, copied three times on its way up from hiredis) on
// every read of it.
constexpr std::size_t kFirstRead = std::size_t{256} << 10;

long long integer_of(const RedisReply& reply, std::string_view command) {
  if (reply.type == RedisReply::Type::integer) return reply.integer;
  if (reply.type == RedisReply::Type::error) throw_reply_error(reply, command);
  throw_unexpected(command);
}

std::string string_of(RedisReply reply, std::string_view command) {
  if (reply.type == RedisReply::Type::string) return std::move(reply.text);
  if (reply.type == RedisReply::Type::error) throw_reply_error(reply, command);
  throw_unexpected(command);
}

void check_set(const RedisReply& reply) {
  if (reply.is_status("OK")) return;
  if (reply.type == RedisReply::Type::error) throw_reply_error(reply, "SET");
  throw_unexpected("SET");
}

// GETRANGE's end is inclusive: asking for `count` bytes from the start.
std::vector<SharedBytes> getrange(const std::string& key, std::size_t count) {
  return {arg("GETRANGE"), arg(key), arg("0"), arg(std::to_string(count - 1))};
}

// One server, or the cluster when seeds are given. Each call makes a client of its own (its
// own connections).
std::unique_ptr<RedisCommands> connect(const RedisConfig& config) {
  if (config.cluster_seeds.empty()) {
    return std::make_unique<RedisClient>(
        RedisClientSettings{.endpoint = config.endpoint,
                            .connect_timeout = config.connect_timeout,
                            .command_timeout = config.command_timeout});
  }
  return std::make_unique<ClusterClient>(
      ClusterClientSettings{.seeds = config.cluster_seeds,
                            .connect_timeout = config.connect_timeout,
                            .command_timeout = config.command_timeout});
}

}  // namespace

RedisStore::RedisStore(RedisConfig config)
    : client_(connect(config)),
      writer_(config.wait_replicas > 0 ? connect(config) : nullptr),
      wait_replicas_(config.wait_replicas),
      // The server gives up waiting at half the command timeout, so that its answer (a count
      // of replicas) comes back before the command's own deadline drops the connection.
      wait_timeout_(std::max(std::chrono::milliseconds{1}, config.command_timeout / 2)),
      write_format_(config.write_format),
      max_value_bytes_(config.max_value_bytes),
      max_stored_bytes_(max_data_url_size(config.max_value_bytes)) {}

boost::asio::awaitable<std::optional<SharedBytes>> RedisStore::get(std::string key) {
  const std::size_t first = std::min(kFirstRead, max_stored_bytes_ + 1);
  // Written together, answered together. EXISTS tells a missing key from an empty string (both
  // have STRLEN 0); STRLEN gives the size before anything large is read; GETRANGE is the value
  // itself when it is small. Named vectors: GCC 12 mishandles braced temporaries in co_await.
  std::vector<std::vector<SharedBytes>> commands{
      {arg("EXISTS"), arg(key)}, {arg("STRLEN"), arg(key)}, getrange(key, first)};
  std::vector<RedisReply> replies = co_await client_->pipeline(std::move(commands));
  if (integer_of(replies[0], "EXISTS") == 0) co_return std::nullopt;
  // WRONGTYPE for a key of another type comes with STRLEN, before any value.
  const auto length = static_cast<std::size_t>(integer_of(replies[1], "STRLEN"));
  check_size(key, length, max_stored_bytes_);
  std::string value = string_of(std::move(replies[2]), "GETRANGE");
  // Fewer bytes than asked for: the whole value. Decided on what came, not on STRLEN, so a
  // value rewritten between the two commands can never be taken for a prefix of itself.
  if (value.size() >= first) value = co_await read_rest(key);
  co_return decode(key, std::move(value));
}

// The whole of a value over the first read: at most one byte past the limit, so a value that
// grew since its STRLEN is still refused without being transferred.
boost::asio::awaitable<std::string> RedisStore::read_rest(const std::string& key) {
  std::vector<SharedBytes> args = getrange(key, max_stored_bytes_ + 1);
  RedisReply reply = co_await client_->command(std::move(args));
  std::string value = string_of(std::move(reply), "GETRANGE");
  check_size(key, value.size(), max_stored_bytes_);
  co_return value;
}

// A value too large to be an image the service accepted is another writer's bug or garbage:
// a 500 for this request, and a line that names it for whoever cleans it up.
void RedisStore::check_size(const std::string& key, std::size_t size, std::size_t limit) const {
  if (size <= limit) return;
  spdlog::warn("redis: value of key {} is {} bytes, over the {}-byte limit: refused", key, size,
               limit);
  throw Error(ErrorCode::internal,
              "redis: value of key " + key + " too large (" + std::to_string(size) + " bytes)");
}

SharedBytes RedisStore::decode(const std::string& key, std::string value) const {
  if (is_data_url(value)) return share(decode_data_url(value));
  check_size(key, value.size(), max_value_bytes_);
  return share(std::move(value));
}

boost::asio::awaitable<void> RedisStore::put(std::string key, SharedBytes value) {
  if (!value) throw Error(ErrorCode::internal, "redis: put of a null value");
  SharedBytes stored =
      write_format_ == ValueFormat::data_url ? share(encode_data_url(*value)) : std::move(value);
  std::vector<SharedBytes> set{arg("SET"), share(std::move(key)), std::move(stored)};
  if (!writer_) {
    const RedisReply reply = co_await client_->command(std::move(set));
    check_set(reply);
    co_return;
  }
  // SET and WAIT together on the writer's connection: WAIT counts the replicas that have every
  // write this connection made, so it must follow the SET on the same one (in a cluster, the
  // same node: the pipeline is routed by the SET's key).
  const std::string key_text = *set[1];
  std::vector<std::vector<SharedBytes>> commands;
  commands.push_back(std::move(set));
  commands.push_back({arg("WAIT"), arg(std::to_string(wait_replicas_)),
                      arg(std::to_string(wait_timeout_.count()))});
  const std::vector<RedisReply> replies = co_await writer_->pipeline(std::move(commands));
  check_set(replies[0]);
  const long long acknowledged = integer_of(replies[1], "WAIT");
  if (acknowledged < static_cast<long long>(wait_replicas_)) {
    // The value stays on the master: a DEL could not be confirmed on the replicas either, and
    // it could remove what another writer stored under the same key meanwhile.
    throw Error(ErrorCode::unavailable,
                "redis: " + key_text + " written, but " + std::to_string(acknowledged) + " of " +
                    std::to_string(wait_replicas_) + " replicas acknowledged it within " +
                    std::to_string(wait_timeout_.count()) + " ms");
  }
}

boost::asio::awaitable<bool> RedisStore::ping() {
  try {
    std::vector<SharedBytes> args{arg("PING")};
    const RedisReply reply = co_await client_->command(std::move(args));
    co_return reply.is_status("PONG");
  } catch (const Error&) {
    co_return false;
  }
}

boost::asio::awaitable<RedisReply> RedisStore::command(std::vector<std::string> args) {
  std::vector<SharedBytes> shared;
  shared.reserve(args.size());
  for (std::string& a : args) shared.push_back(share(std::move(a)));
  co_return co_await client_->command(std::move(shared));
}

}  // namespace imagecpp::store
