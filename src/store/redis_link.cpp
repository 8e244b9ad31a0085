#include "store/redis_link.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <utility>
#include <vector>

namespace imagecpp::store {
namespace {

// Reads per readiness event: hiredis reads 16 KiB per call, so a 22 MB value would otherwise
// take ~1400 trips through the reactor. Bounded so one huge reply cannot starve timers.
constexpr int kReadsPerWakeup = 64;

RedisLink* link_of(const redisAsyncContext* ac) noexcept {
  return static_cast<RedisLink*>(ac->data);
}

}  // namespace

std::shared_ptr<RedisLink> RedisLink::open(Strand strand,
                                           const boost::asio::ip::tcp::endpoint& endpoint,
                                           const RedisHandshake& handshake,
                                           std::chrono::milliseconds connect_timeout,
                                           ReadyHandler on_ready) {
  auto link = std::make_shared<RedisLink>(Key{}, std::move(strand), std::move(on_ready));
  link->start(endpoint, handshake, connect_timeout);
  return link;
}

RedisLink::RedisLink(Key, Strand strand, ReadyHandler on_ready)
    : strand_(std::move(strand)), connect_timer_(strand_), on_ready_(std::move(on_ready)) {}

RedisLink::~RedisLink() {
  on_ready_ = nullptr;  // nobody to tell any more
  if (ac_ != nullptr) {
    last_error_ = "connection closed";
    redisAsyncFree(ac_);  // runs every pending callback, then cleanup()
  }
}

void RedisLink::start(const boost::asio::ip::tcp::endpoint& endpoint,
                      const RedisHandshake& handshake, std::chrono::milliseconds connect_timeout) {
  // A non-blocking connect to an address (resolved beforehand, off the loop). The reader's
  // maxbuf stays at its default: in hiredis 0.14 it bounds only the idle buffer kept between
  // replies (not a reply's size), so a 22 MB data-URL value is read whole and its buffer is
  // released once the connection is idle again.
  ac_ = redisAsyncConnect(endpoint.address().to_string().c_str(), endpoint.port());
  if (ac_ == nullptr) return report_ready(false, "cannot allocate a hiredis context");
  if (ac_->c.err != 0) {
    const std::string why = ac_->c.errstr;
    redisAsyncFree(std::exchange(ac_, nullptr));  // no hooks attached yet: nothing calls back
    return report_ready(false, why);
  }
  attach();
  if (ac_ == nullptr) return;
  start_connect_timer(connect_timeout);
  send_handshake(handshake);
  add_write(this);  // the first writable event tells that the TCP connect finished
}

void RedisLink::attach() {
  ac_->data = this;
  ac_->ev.data = this;
  ac_->ev.addRead = &RedisLink::add_read;
  ac_->ev.delRead = &RedisLink::del_read;
  ac_->ev.addWrite = &RedisLink::add_write;
  ac_->ev.delWrite = &RedisLink::del_write;
  ac_->ev.cleanup = &RedisLink::cleanup;
  redisAsyncSetConnectCallback(ac_, &RedisLink::on_connect);
  try {
    socket_.emplace(strand_, ac_->c.fd);
  } catch (const boost::system::system_error& e) {
    close(std::string("cannot watch the socket: ") + e.what());
  }
}

void RedisLink::start_connect_timer(std::chrono::milliseconds timeout) {
  connect_timer_.expires_after(timeout);
  connect_timer_.async_wait(
      [weak = weak_from_this(), timeout](const boost::system::error_code& ec) {
        const auto self = weak.lock();
        if (ec || !self || self->on_ready_ == nullptr) return;
        self->close("no connection within " + std::to_string(timeout.count()) + " ms");
      });
}

void RedisLink::send_handshake(const RedisHandshake& h) {
  int sent = 0;
  if (!h.password.empty() && !h.user.empty()) {
    sent +=
        redisAsyncCommand(ac_, &RedisLink::on_handshake_reply, nullptr, "AUTH %b %b", h.user.data(),
                          h.user.size(), h.password.data(), h.password.size()) == REDIS_OK;
  } else if (!h.password.empty()) {
    sent += redisAsyncCommand(ac_, &RedisLink::on_handshake_reply, nullptr, "AUTH %b",
                              h.password.data(), h.password.size()) == REDIS_OK;
  }
  if (h.db) {
    sent += redisAsyncCommand(ac_, &RedisLink::on_handshake_reply, nullptr, "SELECT %u", *h.db) ==
            REDIS_OK;
  }
  handshake_pending_ = sent;
}

void RedisLink::send(const std::shared_ptr<RedisRequest>& request) {
  if (ac_ == nullptr) return request->fail(error_text());
  request->sent_on(weak_from_this());  // a timeout drops this link, handshake or not
  if (!ready_) return waiting_.push_back(request);
  write(request);
}

void RedisLink::write(const std::shared_ptr<RedisRequest>& request) {
  if (request->done()) return;  // timed out while waiting for the handshake
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(request->args().size());
  lengths.reserve(request->args().size());
  for (const SharedBytes& arg : request->args()) {
    argv.push_back(arg->data());
    lengths.push_back(arg->size());
  }
  // hiredis copies the arguments into its output buffer (binary-safe, like %b).
  const int rc = redisAsyncCommandArgv(ac_, &RedisLink::on_reply, request.get(),
                                       static_cast<int>(argv.size()), argv.data(), lengths.data());
  if (rc != REDIS_OK) return request->fail("cannot queue the command: " + error_text());
  in_flight_.emplace(request.get(), request);
}

void RedisLink::close(const std::string& why) {
  if (ac_ == nullptr) return;
  last_error_ = why;
  redisAsyncFree(ac_);  // pending callbacks get a null reply, then cleanup() runs
}

// hiredis calls these back synchronously from inside redisAsync* calls made on the strand.

void RedisLink::on_connect(const redisAsyncContext* ac, int status) {
  RedisLink* self = link_of(ac);
  if (status != REDIS_OK) {
    self->last_error_ = ac->c.errstr;  // ac->errstr is only set once hiredis disconnects
    return self->report_ready(false, self->last_error_);  // hiredis frees the context next
  }
  self->connected_ = true;
  if (self->handshake_pending_ == 0) self->report_ready(true, {});
}

void RedisLink::on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
  link_of(ac)->replied(static_cast<const RedisRequest*>(privdata), reply);
}

void RedisLink::on_handshake_reply(redisAsyncContext* ac, void* reply, void*) {
  link_of(ac)->handshake_reply(reply);
}

void RedisLink::replied(const RedisRequest* request, const void* reply) {
  auto node = in_flight_.extract(request);
  if (node.empty()) return;
  const std::shared_ptr<RedisRequest>& pending = node.mapped();
  if (reply == nullptr) return pending->fail(error_text());
  pending->succeed(copy_hiredis_reply(reply));
}

void RedisLink::handshake_reply(const void* reply) {
  --handshake_pending_;
  if (reply == nullptr) return report_ready(false, error_text());
  const auto& r = *static_cast<const redisReply*>(reply);
  if (r.type == REDIS_REPLY_ERROR) {
    const std::string why = "handshake refused: " + std::string(r.str, r.len);
    report_ready(false, why);
    // Not from inside a hiredis callback: queue the close on the strand.
    boost::asio::post(strand_, [self = shared_from_this(), why] { self->close(why); });
    return;
  }
  if (handshake_pending_ == 0 && connected_) report_ready(true, {});
}

void RedisLink::cleanup(void* self_ptr) {
  static_cast<RedisLink*>(self_ptr)->detached();
}

// hiredis is about to free the context (it may call this more than once).
void RedisLink::detached() {
  if (ac_ != nullptr && ac_->c.err != 0) last_error_ = ac_->c.errstr;
  if (last_error_.empty()) last_error_ = "connection closed";
  ac_ = nullptr;
  want_read_ = want_write_ = false;
  if (socket_) {
    socket_->release();  // cancels the waits; the fd stays open for hiredis to close
    socket_.reset();
  }
  connect_timer_.cancel();
  for (const auto& request : std::exchange(waiting_, {})) request->fail(last_error_);
  report_ready(false, last_error_);
}

// Inside hiredis callbacks: writing commands from there is allowed (they join the output
// buffer); freeing the context is not, which is why failures only fail the waiting commands.
void RedisLink::report_ready(bool ready, const std::string& detail) {
  if (on_ready_ == nullptr) return;
  connect_timer_.cancel();
  ready_ = ready;
  for (const auto& request : std::exchange(waiting_, {})) {
    if (ready) {
      write(request);
    } else {
      request->fail(detail);
    }
  }
  std::exchange(on_ready_, nullptr)(ready, detail);
}

std::string RedisLink::error_text() const {
  if (ac_ != nullptr && ac_->c.err != 0) return ac_->c.errstr;
  return last_error_.empty() ? "not connected" : last_error_;
}

void RedisLink::add_read(void* self) {
  auto* link = static_cast<RedisLink*>(self);
  link->want_read_ = true;
  link->arm_read();
}

void RedisLink::del_read(void* self) {
  static_cast<RedisLink*>(self)->want_read_ = false;
}

void RedisLink::add_write(void* self) {
  auto* link = static_cast<RedisLink*>(self);
  link->want_write_ = true;
  link->arm_write();
}

void RedisLink::del_write(void* self) {
  static_cast<RedisLink*>(self)->want_write_ = false;
}

// A wait is armed at most once per direction; a wait that completes when hiredis no longer
// wants that direction is simply not renewed.
void RedisLink::arm_read() {
  const auto self = weak_from_this().lock();
  if (!self || !socket_ || !want_read_ || read_armed_) return;
  read_armed_ = true;
  socket_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [self](const boost::system::error_code& ec) { self->readable(ec); });
}

void RedisLink::arm_write() {
  const auto self = weak_from_this().lock();
  if (!self || !socket_ || !want_write_ || write_armed_) return;
  write_armed_ = true;
  socket_->async_wait(boost::asio::posix::stream_descriptor::wait_write,
                      [self](const boost::system::error_code& ec) { self->writable(ec); });
}

void RedisLink::readable(const boost::system::error_code& ec) {
  read_armed_ = false;
  if (ec || ac_ == nullptr) return;
  for (int i = 0; i < kReadsPerWakeup && ac_ != nullptr && want_read_; ++i) {
    redisAsyncHandleRead(ac_);  // may free the context (then detached() ran)
    if (ac_ == nullptr || bytes_readable() == 0) break;
  }
  arm_read();
}

void RedisLink::writable(const boost::system::error_code& ec) {
  write_armed_ = false;
  if (ec || ac_ == nullptr) return;
  if (want_write_) redisAsyncHandleWrite(ac_);  // completes the connect, then flushes
  arm_write();
}

std::size_t RedisLink::bytes_readable() {
  if (!socket_) return 0;
  boost::asio::posix::stream_descriptor::bytes_readable command;
  boost::system::error_code ec;
  socket_->io_control(command, ec);
  return ec ? 0 : command.get();
}

}  // namespace imagecpp::store
