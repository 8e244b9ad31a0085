#include "store/redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <memory>

namespace imagecpp::store {
namespace {

RedisReply copy(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::string;
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::status;
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::error;
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r.integer;
      return out;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.items.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) out.items.push_back(copy(*r.element[i]));
      return out;
    default:
      return out;  // nil
  }
  out.text.assign(r.str, r.len);
  return out;
}

struct ReaderFree {
  void operator()(redisReader* reader) const noexcept { redisReaderFree(reader); }
};
struct ReplyFree {
  void operator()(void* reply) const noexcept { freeReplyObject(reply); }
};

}  // namespace

RedisReply copy_hiredis_reply(const void* hiredis_reply) {
  return copy(*static_cast<const redisReply*>(hiredis_reply));
}

std::optional<RedisReply> parse_resp(std::string_view resp) {
  const std::unique_ptr<redisReader, ReaderFree> reader(redisReaderCreate());
  if (!reader) return std::nullopt;
  if (redisReaderFeed(reader.get(), resp.data(), resp.size()) != REDIS_OK) return std::nullopt;
  void* raw = nullptr;
  if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) return std::nullopt;
  const std::unique_ptr<void, ReplyFree> reply(raw);
  if (!reply) return std::nullopt;
  return copy_hiredis_reply(reply.get());
}

}  // namespace imagecpp::store
