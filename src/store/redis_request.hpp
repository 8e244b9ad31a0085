#pragma once
// One command in flight: its arguments, its caller's completion handler and its deadline.
// Created on the caller's thread, then touched only on the connection's strand. Completes
// exactly once: by a reply, by a connection failure, or by its timer, whichever comes first.
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "store/redis_reply.hpp"

namespace imagecpp::store {

class RedisLink;

class RedisRequest {
 public:
  using Signature = void(std::exception_ptr, RedisReply);
  using Handler = boost::asio::any_completion_handler<Signature>;

  // `caller` is where the handler resumes; `strand` runs the timer.
  RedisRequest(std::vector<SharedBytes> args, Handler handler,
               const boost::asio::any_io_executor& caller,
               const boost::asio::any_io_executor& strand);

  // A request is never dropped silently: one destroyed before completing fails its caller.
  ~RedisRequest();
  RedisRequest(const RedisRequest&) = delete;
  RedisRequest& operator=(const RedisRequest&) = delete;

  const std::vector<SharedBytes>& args() const noexcept { return args_; }
  bool done() const noexcept { return !handler_; }

  void succeed(RedisReply reply);
  // Error(unavailable) for the caller; `detail` goes to logs only.
  void fail(const std::string& detail);

  boost::asio::steady_timer& timer() noexcept { return timer_; }

  // The connection the command was written to, so a timeout can drop it.
  void sent_on(std::weak_ptr<RedisLink> link) { link_ = std::move(link); }
  std::shared_ptr<RedisLink> link() const { return link_.lock(); }

 private:
  void finish(std::exception_ptr error, RedisReply reply);

  std::vector<SharedBytes> args_;
  Handler handler_;                      // empty once completed
  boost::asio::any_io_executor caller_;  // tracks work, so the caller's loop keeps running
  boost::asio::steady_timer timer_;
  std::weak_ptr<RedisLink> link_;
};

}  // namespace imagecpp::store
