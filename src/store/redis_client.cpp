#include "store/redis_client.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "log/escape.hpp"

namespace imagecpp::store {
namespace {

// Either family works with hiredis; IPv4 first, as hiredis itself prefers.
boost::asio::ip::tcp::endpoint pick(const boost::asio::ip::tcp::resolver::results_type& results) {
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) return entry.endpoint();
  }
  return results.begin()->endpoint();
}

using PipelineHandler =
    boost::asio::any_completion_handler<void(std::exception_ptr, std::vector<RedisReply>)>;

// Collects the replies of a pipeline and completes its caller once, after the last one. Each
// command completes on the caller's executor, which may be a multi-threaded pool: the slots are
// written by distinct commands and published by the counter.
class PipelineReplies {
 public:
  PipelineReplies(std::size_t count, PipelineHandler handler)
      : replies_(count), errors_(count), left_(count), handler_(std::move(handler)) {}

  void complete(std::size_t index, std::exception_ptr error, RedisReply reply) {
    errors_[index] = std::move(error);
    replies_[index] = std::move(reply);
    if (left_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    for (std::exception_ptr& e : errors_) {
      if (e) return std::move(handler_)(std::move(e), std::vector<RedisReply>{});
    }
    std::move(handler_)(nullptr, std::move(replies_));
  }

 private:
  std::vector<RedisReply> replies_;
  std::vector<std::exception_ptr> errors_;
  std::atomic<std::size_t> left_;
  PipelineHandler handler_;
};

}  // namespace

RedisClient::RedisClient(RedisClientSettings settings)
    : settings_(std::move(settings)),
      handshake_{settings_.endpoint.user, settings_.endpoint.password, settings_.endpoint.db},
      work_(io_.get_executor()),
      strand_(boost::asio::any_io_executor(io_.get_executor())),
      resolver_(strand_),
      thread_([this] {
        for (;;) {
          try {
            io_.run();
            return;
          } catch (const std::exception& e) {
            spdlog::error("redis: unexpected error on the client thread: {}",
                          log::escape(e.what(), log::kMaxErrorBytes));
          }
        }
      }) {}

RedisClient::~RedisClient() {
  boost::asio::post(strand_, [this] { shutdown(); });
  work_.reset();
  thread_.join();
}

boost::asio::awaitable<RedisReply> RedisClient::command(std::vector<SharedBytes> args) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                     RedisRequest::Signature>(
      [this](auto handler, std::vector<SharedBytes> command_args) {
        const boost::asio::any_io_executor caller =
            boost::asio::get_associated_executor(handler, strand_);
        start(std::move(command_args), RedisRequest::Handler(std::move(handler)), caller);
      },
      boost::asio::use_awaitable, std::move(args));
}

boost::asio::awaitable<std::vector<RedisReply>> RedisClient::pipeline(
    std::vector<std::vector<SharedBytes>> commands) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                     void(std::exception_ptr, std::vector<RedisReply>)>(
      [this](auto handler, std::vector<std::vector<SharedBytes>> all) {
        const boost::asio::any_io_executor caller =
            boost::asio::get_associated_executor(handler, strand_);
        start_all(std::move(all), PipelineHandler(std::move(handler)), caller);
      },
      boost::asio::use_awaitable, std::move(commands));
}

void RedisClient::start_all(std::vector<std::vector<SharedBytes>> commands, PipelineHandler handler,
                            const boost::asio::any_io_executor& caller) {
  if (commands.empty()) {
    boost::asio::post(caller, [h = std::move(handler)]() mutable {
      std::move(h)(nullptr, std::vector<RedisReply>{});
    });
    return;
  }
  auto replies = std::make_shared<PipelineReplies>(commands.size(), std::move(handler));
  std::vector<std::shared_ptr<RedisRequest>> requests;
  requests.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    auto done = [replies, i](std::exception_ptr error, RedisReply reply) {
      replies->complete(i, std::move(error), std::move(reply));
    };
    requests.push_back(std::make_shared<RedisRequest>(
        std::move(commands[i]), RedisRequest::Handler(std::move(done)), caller,
        boost::asio::any_io_executor(strand_)));
  }
  // One strand job submits them all, so hiredis puts them in one output buffer: one write, and
  // Redis answers them together.
  boost::asio::dispatch(strand_, [this, requests = std::move(requests)] {
    for (const auto& request : requests) submit(request);
  });
}

void RedisClient::start(std::vector<SharedBytes> args, RedisRequest::Handler handler,
                        const boost::asio::any_io_executor& caller) {
  auto request = std::make_shared<RedisRequest>(std::move(args), std::move(handler), caller,
                                                boost::asio::any_io_executor(strand_));
  boost::asio::dispatch(strand_, [this, request] { submit(request); });
}

void RedisClient::submit(const std::shared_ptr<RedisRequest>& request) {
  if (closed_) return request->fail("client shut down");
  arm_deadline(request);
  if (link_ && link_->alive()) return link_->send(request);
  if (link_ && !link_->alive() && !resolving_) {
    // Error texts come from the server or from hiredis quoting it: escaped.
    if (up_) {
      spdlog::warn("redis: connection lost: {}",
                   log::escape(link_->last_error(), log::kMaxErrorBytes));
    }
    up_ = false;
    link_.reset();
  }
  if (!resolving_) {
    // Within the backoff after a failed attempt: fail fast rather than try again.
    if (std::chrono::steady_clock::now() < retry_at_) return request->fail(last_error_);
    connect();
  }
  parked_.push_back(request);
}

void RedisClient::arm_deadline(const std::shared_ptr<RedisRequest>& request) {
  request->timer().expires_after(settings_.command_timeout);
  request->timer().async_wait([this, weak = std::weak_ptr<RedisRequest>(request)](
                                  const boost::system::error_code& ec) {
    const auto timed_out = weak.lock();
    if (ec || !timed_out || timed_out->done()) return;
    timed_out->fail("no reply within " + std::to_string(settings_.command_timeout.count()) + " ms");
    // The connection is stuck (or the peer is gone without a word): drop it, so the next
    // command starts afresh instead of queueing behind the unanswered ones.
    if (const auto link = timed_out->link(); link && link == link_) {
      link->close("a command timed out");
    }
  });
}

void RedisClient::connect() {
  resolving_ = true;
  // Name resolution runs on Asio's resolver thread: getaddrinfo never blocks this loop.
  resolver_.async_resolve(settings_.endpoint.host, std::to_string(settings_.endpoint.port),
                          [this](const boost::system::error_code& ec,
                                 const boost::asio::ip::tcp::resolver::results_type& results) {
                            resolved(ec, results);
                          });
}

void RedisClient::resolved(const boost::system::error_code& ec,
                           const boost::asio::ip::tcp::resolver::results_type& results) {
  resolving_ = false;
  if (closed_) return fail_parked("client shut down");
  if (ec || results.empty()) {
    on_ready(false, "cannot resolve " + settings_.endpoint.host + ": " + ec.message());
    return fail_parked(last_error_);
  }
  link_ =
      RedisLink::open(strand_, pick(results), handshake_, settings_.connect_timeout,
                      [this](bool ready, const std::string& detail) { on_ready(ready, detail); });
  // Queued behind AUTH/SELECT on the new connection (or failed at once if it is dead).
  for (const auto& request : std::exchange(parked_, {})) {
    if (!request->done()) link_->send(request);
  }
}

void RedisClient::on_ready(bool ready, const std::string& detail) {
  if (ready) {
    if (!up_) spdlog::info("redis: connected to {}", describe(settings_.endpoint));
    up_ = true;
    warned_ = false;
    backoff_ = std::chrono::milliseconds{0};
    retry_at_ = {};
    return;
  }
  last_error_ = detail;
  backoff_ =
      backoff_.count() == 0 ? settings_.min_backoff : std::min(backoff_ * 2, settings_.max_backoff);
  retry_at_ = std::chrono::steady_clock::now() + backoff_;
  if (up_ || !warned_) {
    spdlog::warn("redis: {} unavailable: {} (retrying on demand, backoff up to {} ms)",
                 describe(settings_.endpoint), log::escape(detail, log::kMaxErrorBytes),
                 settings_.max_backoff.count());
  }
  up_ = false;
  warned_ = true;
}

void RedisClient::fail_parked(const std::string& detail) {
  for (const auto& request : std::exchange(parked_, {})) request->fail(detail);
}

void RedisClient::shutdown() {
  closed_ = true;
  resolver_.cancel();
  fail_parked("client shut down");
  if (link_) link_->close("client shut down");
  link_.reset();
}

}  // namespace imagecpp::store
