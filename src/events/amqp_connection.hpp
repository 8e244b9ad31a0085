#pragma once
// One AMQP 0-9-1 connection (rabbitmq-c) with channel 1 open, as an RAII object: the
// constructor connects and logs in, the destructor closes what is open and frees the state.
// Blocking calls, each bounded by a timeout: it lives on the consumer's own thread.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct amqp_connection_state_t_;
struct amqp_frame_t_;

namespace imagecpp::events {

// A failure of the connection (refused, lost, closed by the broker, a refused declaration).
class AmqpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// amqp://[user[:password]@]host[:port][/vhost]; throws std::invalid_argument otherwise.
struct AmqpAddress {
  std::string host = "localhost";
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";

  static AmqpAddress parse(std::string_view url);
  std::string display() const;  // for logs: no password
};

struct Delivery {
  std::string body;        // empty when oversized
  std::size_t size = 0;    // the body's real size
  bool oversized = false;  // over the caller's limit: not copied
};

class AmqpConnection {
 public:
  AmqpConnection(const AmqpAddress& address, std::chrono::milliseconds timeout);
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  // Declares `exchange` as a fanout (durable false, auto-delete false: as the peers do, or the
  // broker refuses it), binds an exclusive server-named queue to it and consumes with no-ack.
  void subscribe_fanout(const std::string& exchange);

  // The next message, or nullopt when none came within `wait`. Read frame by frame: a body over
  // `max_body` is skipped as it arrives (one frame in memory at a time), never accumulated.
  // Throws AmqpError when the connection is lost or closed, or a message stops half-way.
  std::optional<Delivery> next(std::chrono::milliseconds wait, std::size_t max_body);

 private:
  struct Close {
    void operator()(amqp_connection_state_t_* state) const noexcept;
  };
  void check_rpc(std::string_view what);
  bool wait_frame(amqp_frame_t_& frame, std::chrono::milliseconds wait);
  void content_frame(amqp_frame_t_& frame, unsigned char type);
  Delivery read_content(std::size_t max_body);
  void handle_other_frame(const amqp_frame_t_& frame);
  [[noreturn]] void fail(const std::string& why);

  std::unique_ptr<amqp_connection_state_t_, Close> state_;
  std::chrono::milliseconds timeout_;  // for each frame of a message once it has begun
  bool channel_open_ = false;
  bool usable_ = false;  // false once an error was seen: no polite close on a broken socket
};

}  // namespace imagecpp::events
