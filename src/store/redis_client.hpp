#pragma once
// A Redis client for the store: one pipelined connection (see redis_link.hpp) on its own
// one-thread event loop, with a deadline on every command, reconnection on demand and a
// backoff between failed attempts.
//
// Why a loop of its own rather than the HTTP loops: the store is built before the HTTP server
// (which owns its io_context), hiredis state must stay on one strand, and this way a burst of
// CPU work on the HTTP threads (base64 of 16 MB answers) never delays Redis replies, nor the
// reverse. Callers on any executor co_await command(); they resume on their own executor.
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/bytes.hpp"
#include "store/redis_commands.hpp"
#include "store/redis_link.hpp"
#include "store/redis_reply.hpp"
#include "store/redis_url.hpp"

namespace imagecpp::store {

struct RedisClientSettings {
  RedisEndpoint endpoint;
  std::chrono::milliseconds connect_timeout{2000};  // TCP connect plus AUTH/SELECT
  std::chrono::milliseconds command_timeout{2000};  // from the call to the reply
  // After a failed connection attempt, commands fail at once (no new attempt) for a backoff
  // that doubles from min to max, so a down Redis is not hammered; a success resets it.
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{1000};
};

class RedisClient : public RedisCommands {
 public:
  // Starts the client's thread; connects lazily, on the first command.
  explicit RedisClient(RedisClientSettings settings);
  // Fails whatever is pending, closes the connection and joins the thread.
  ~RedisClient() override;
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // See RedisCommands: every command goes to the one server.
  boost::asio::awaitable<RedisReply> command(std::vector<SharedBytes> args) override;
  boost::asio::awaitable<std::vector<RedisReply>> pipeline(
      std::vector<std::vector<SharedBytes>> commands) override;

  const RedisClientSettings& settings() const noexcept { return settings_; }

 private:
  using Strand = RedisLink::Strand;

  void start(std::vector<SharedBytes> args, RedisRequest::Handler handler,
             const boost::asio::any_io_executor& caller);
  void start_all(
      std::vector<std::vector<SharedBytes>> commands,
      boost::asio::any_completion_handler<void(std::exception_ptr, std::vector<RedisReply>)>
          handler,
      const boost::asio::any_io_executor& caller);
  void submit(const std::shared_ptr<RedisRequest>& request);
  void arm_deadline(const std::shared_ptr<RedisRequest>& request);
  void connect();
  void resolved(const boost::system::error_code& ec,
                const boost::asio::ip::tcp::resolver::results_type& results);
  void on_ready(bool ready, const std::string& detail);
  void fail_parked(const std::string& detail);
  void shutdown();

  const RedisClientSettings settings_;
  const RedisHandshake handshake_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  Strand strand_;
  boost::asio::ip::tcp::resolver resolver_;

  // Touched only on the strand.
  std::shared_ptr<RedisLink> link_;
  std::vector<std::shared_ptr<RedisRequest>> parked_;  // waiting for the name to resolve
  bool resolving_ = false;
  bool closed_ = false;
  bool up_ = false;      // connected and handshaken: log only the changes
  bool warned_ = false;  // a failure was logged since the last success
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point retry_at_{};
  std::string last_error_;

  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace imagecpp::store
