#include "store/redis_store.hpp"

#include <utility>

#include "core/error.hpp"

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

}  // namespace

RedisStore::RedisStore(RedisConfig config)
    : client_(RedisClientSettings{.endpoint = std::move(config.endpoint),
                                  .connect_timeout = config.connect_timeout,
                                  .command_timeout = config.command_timeout}),
      write_format_(config.write_format) {}

boost::asio::awaitable<std::optional<SharedBytes>> RedisStore::get(std::string key) {
  // Named vectors, not braced lists inside co_await: GCC 12 mishandles those temporaries.
  std::vector<SharedBytes> args{arg("GET"), share(std::move(key))};
  RedisReply reply = co_await client_.command(std::move(args));
  switch (reply.type) {
    case RedisReply::Type::nil:
      co_return std::nullopt;
    case RedisReply::Type::string:
      if (is_data_url(reply.text)) co_return share(decode_data_url(reply.text));
      co_return share(std::move(reply.text));
    case RedisReply::Type::error:
      throw_reply_error(reply, "GET");
    default:
      throw_unexpected("GET");
  }
}

boost::asio::awaitable<void> RedisStore::put(std::string key, SharedBytes value) {
  if (!value) throw Error(ErrorCode::internal, "redis: put of a null value");
  SharedBytes stored =
      write_format_ == ValueFormat::data_url ? share(encode_data_url(*value)) : std::move(value);
  std::vector<SharedBytes> args{arg("SET"), share(std::move(key)), std::move(stored)};
  const RedisReply reply = co_await client_.command(std::move(args));
  if (reply.is_status("OK")) co_return;
  if (reply.type == RedisReply::Type::error) throw_reply_error(reply, "SET");
  throw_unexpected("SET");
}

boost::asio::awaitable<bool> RedisStore::ping() {
  try {
    std::vector<SharedBytes> args{arg("PING")};
    const RedisReply reply = co_await client_.command(std::move(args));
    co_return reply.is_status("PONG");
  } catch (const Error&) {
    co_return false;
  }
}

boost::asio::awaitable<RedisReply> RedisStore::command(std::vector<std::string> args) {
  std::vector<SharedBytes> shared;
  shared.reserve(args.size());
  for (std::string& a : args) shared.push_back(share(std::move(a)));
  co_return co_await client_.command(std::move(shared));
}

}  // namespace imagecpp::store
