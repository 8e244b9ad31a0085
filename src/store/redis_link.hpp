#pragma once
// One hiredis async connection driven by Asio: the socket hiredis opened is wrapped in a
// posix::stream_descriptor, and hiredis' read/write interest becomes async_wait on a strand.
// hiredis parses RESP and queues callbacks, so any number of commands are in flight on the
// one connection (pipelining); Asio only says when the socket is ready.
//
// Commands wait in the link until the handshake (AUTH, SELECT) has succeeded: pipelined behind
// a failed SELECT they would silently run against database 0.
//
// Ownership: the link owns its redisAsyncContext until hiredis frees it. hiredis frees a
// context by itself on a connection error (EOF, refused, reset) and calls our cleanup hook
// first; the hook forgets the pointer and hands the descriptor back (the fd is hiredis' to
// close). Otherwise the link frees it in close() or its destructor. Either way every command
// still queued in hiredis gets its callback (with a null reply) before the context is gone.
// Handlers of pending waits hold a shared_ptr to the link, so it outlives them.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/redis_request.hpp"

struct redisAsyncContext;  // from <hiredis/async.h>, kept out of this header

namespace imagecpp::store {

// Commands sent first on every connection, before any other.
struct RedisHandshake {
  std::string user;            // AUTH user password, when both are given
  std::string password;        // AUTH password
  std::optional<unsigned> db;  // SELECT db
};

class RedisLink : public std::enable_shared_from_this<RedisLink> {
  struct Key {};  // make_shared only through open()

 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  // Called once, on the strand: true when connected and the handshake succeeded, false with
  // the reason when the connection failed or timed out first.
  using ReadyHandler = std::function<void(bool ready, const std::string& detail)>;

  // Starts connecting; commands may be sent at once (they wait for the handshake).
  // Never throws: a link that could not even start is returned dead.
  static std::shared_ptr<RedisLink> open(Strand strand,
                                         const boost::asio::ip::tcp::endpoint& endpoint,
                                         const RedisHandshake& handshake,
                                         std::chrono::milliseconds connect_timeout,
                                         ReadyHandler on_ready);

  RedisLink(Key, Strand strand, ReadyHandler on_ready);
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // True while hiredis holds the connection (connecting, handshaking or ready).
  bool alive() const noexcept { return ac_ != nullptr; }

  // Why the connection failed or closed, for logs and errors.
  std::string last_error() const { return error_text(); }

  // Writes the command, holds it until the handshake is done, or fails it at once when the
  // link is dead. On the strand.
  void send(const std::shared_ptr<RedisRequest>& request);

  // Drops the connection; every command in flight fails with `why`. On the strand, never from
  // inside a hiredis callback.
  void close(const std::string& why);

 private:
  // hiredis callbacks and event hooks (C function pointers).
  static void on_connect(const redisAsyncContext* ac, int status);
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_handshake_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void add_read(void* self);
  static void del_read(void* self);
  static void add_write(void* self);
  static void del_write(void* self);
  static void cleanup(void* self);

  void start(const boost::asio::ip::tcp::endpoint& endpoint, const RedisHandshake& handshake,
             std::chrono::milliseconds connect_timeout);
  void attach();
  void start_connect_timer(std::chrono::milliseconds timeout);
  void send_handshake(const RedisHandshake& handshake);
  void handshake_reply(const void* reply);
  void write(const std::shared_ptr<RedisRequest>& request);
  void replied(const RedisRequest* request, const void* reply);
  void detached();
  void report_ready(bool ready, const std::string& detail);
  std::string error_text() const;

  void arm_read();
  void arm_write();
  void readable(const boost::system::error_code& ec);
  void writable(const boost::system::error_code& ec);
  std::size_t bytes_readable();

  Strand strand_;
  redisAsyncContext* ac_ = nullptr;  // owned; null once hiredis freed it (see above)
  std::optional<boost::asio::posix::stream_descriptor> socket_;  // views hiredis' fd
  boost::asio::steady_timer connect_timer_;
  ReadyHandler on_ready_;  // empty once called
  bool connected_ = false;
  bool ready_ = false;  // connected and handshaken: commands go straight to hiredis
  int handshake_pending_ = 0;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
  std::string last_error_;
  std::vector<std::shared_ptr<RedisRequest>> waiting_;  // for the handshake
  std::unordered_map<const RedisRequest*, std::shared_ptr<RedisRequest>> in_flight_;
};

}  // namespace imagecpp::store
