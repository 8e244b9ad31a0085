#include "store/redis_request.hpp"

#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <utility>

#include "core/error.hpp"
#include "core/hand_back.hpp"

namespace imagecpp::store {

RedisRequest::RedisRequest(std::vector<SharedBytes> args, Handler handler,
                           const boost::asio::any_io_executor& caller,
                           const boost::asio::any_io_executor& strand)
    : args_(std::move(args)),
      handler_(std::move(handler)),
      caller_(boost::asio::prefer(caller, boost::asio::execution::outstanding_work.tracked)),
      timer_(strand) {}

RedisRequest::~RedisRequest() {
  fail("request dropped");
}

void RedisRequest::succeed(RedisReply reply) {
  finish(nullptr, std::move(reply));
}

void RedisRequest::fail(const std::string& detail) {
  finish(std::make_exception_ptr(Error(ErrorCode::unavailable, "redis: " + detail)), {});
}

void RedisRequest::finish(std::exception_ptr error, RedisReply reply) {
  if (done()) return;
  timer_.cancel();
  // Never inline: the caller resumes on its own executor, outside hiredis.
  hand_back(caller_, std::exchange(handler_, nullptr), std::move(error), std::move(reply));
  caller_ = {};
}

}  // namespace imagecpp::store
