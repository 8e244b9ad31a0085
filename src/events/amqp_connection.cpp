#include "events/amqp_connection.hpp"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

namespace imagecpp::events {
namespace {

constexpr amqp_channel_t kChannel = 1;
constexpr int kFrameMax = 131072;
// Heartbeats let a silently dead broker (no FIN, no RST) be noticed within ~2 intervals.
constexpr int kHeartbeatSeconds = 10;

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string text_of(amqp_bytes_t bytes) {
  return std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

std::string describe(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "ok";
    case AMQP_RESPONSE_NONE:
      return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(r.reply.decoded);
        return "connection closed by broker: " + std::to_string(m->reply_code) + " " +
               text_of(m->reply_text);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(r.reply.decoded);
        return "channel closed by broker: " + std::to_string(m->reply_code) + " " +
               text_of(m->reply_text);
      }
      return "broker error";
  }
  return "unknown reply";
}

}  // namespace

AmqpAddress AmqpAddress::parse(std::string_view url) {
  std::string buffer(url);  // amqp_parse_url writes into it and points into it
  amqp_connection_info info{};
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) {
    throw std::invalid_argument("RABBIT_URL is not an amqp:// URL");
  }
  if (info.ssl) throw std::invalid_argument("RABBIT_URL: amqps:// is not supported");
  // "amqp://host/" names the empty vhost by the URI spec, which no broker has: it means "/",
  // as in the peers' configuration files.
  const std::string vhost = *info.vhost != '\0' ? info.vhost : "/";
  return AmqpAddress{info.host, info.port, info.user, info.password, vhost};
}

std::string AmqpAddress::display() const {
  return "amqp://" + host + ":" + std::to_string(port) + (vhost.starts_with('/') ? "" : "/") +
         vhost;
}

void AmqpConnection::Close::operator()(amqp_connection_state_t_* state) const noexcept {
  amqp_destroy_connection(state);  // also closes the socket
}

AmqpConnection::AmqpConnection(const AmqpAddress& address, std::chrono::milliseconds timeout)
    : state_(amqp_new_connection()), timeout_(timeout) {
  if (!state_) throw AmqpError("cannot allocate an AMQP connection");
  amqp_socket_t* socket = amqp_tcp_socket_new(state_.get());  // owned by the connection
  if (socket == nullptr) throw AmqpError("cannot create an AMQP socket");
  timeval tv = to_timeval(timeout);
  const int rc = amqp_socket_open_noblock(socket, address.host.c_str(), address.port, &tv);
  if (rc != AMQP_STATUS_OK) throw AmqpError(std::string("connect: ") + amqp_error_string2(rc));
  amqp_set_handshake_timeout(state_.get(), &tv);
  amqp_set_rpc_timeout(state_.get(), &tv);
  const amqp_rpc_reply_t login =
      amqp_login(state_.get(), address.vhost.c_str(), 0, kFrameMax, kHeartbeatSeconds,
                 AMQP_SASL_METHOD_PLAIN, address.user.c_str(), address.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) throw AmqpError("login: " + describe(login));
  usable_ = true;
  amqp_channel_open(state_.get(), kChannel);
  check_rpc("channel.open");
  channel_open_ = true;
}

AmqpConnection::~AmqpConnection() {
  if (!usable_) return;  // a broken connection gets no polite close: just the socket closed
  if (channel_open_) amqp_channel_close(state_.get(), kChannel, AMQP_REPLY_SUCCESS);
  amqp_connection_close(state_.get(), AMQP_REPLY_SUCCESS);
}

void AmqpConnection::check_rpc(std::string_view what) {
  const amqp_rpc_reply_t reply = amqp_get_rpc_reply(state_.get());
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
  usable_ = false;
  throw AmqpError(std::string(what) + ": " + describe(reply));
}

void AmqpConnection::subscribe_fanout(const std::string& exchange) {
  amqp_connection_state_t s = state_.get();
  const amqp_bytes_t name = amqp_cstring_bytes(exchange.c_str());
  amqp_exchange_declare(s, kChannel, name, amqp_cstring_bytes("fanout"), /*passive=*/0,
                        /*durable=*/0, /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  check_rpc("exchange.declare");
  const amqp_queue_declare_ok_t* declared =
      amqp_queue_declare(s, kChannel, amqp_empty_bytes, /*passive=*/0, /*durable=*/0,
                         /*exclusive=*/1, /*auto_delete=*/0, amqp_empty_table);
  check_rpc("queue.declare");
  const std::string queue = text_of(declared->queue);  // the reply buffer is reused by the next RPC
  const amqp_bytes_t queue_bytes{queue.size(), const_cast<char*>(queue.data())};
  amqp_queue_bind(s, kChannel, queue_bytes, name, amqp_empty_bytes, amqp_empty_table);
  check_rpc("queue.bind");
  amqp_basic_consume(s, kChannel, queue_bytes, amqp_empty_bytes, /*no_local=*/0, /*no_ack=*/1,
                     /*exclusive=*/1, amqp_empty_table);
  check_rpc("basic.consume");
}

void AmqpConnection::fail(const std::string& why) {
  usable_ = false;
  throw AmqpError(why);
}

// Not amqp_consume_message: it reads a whole body into memory before anyone can look at its
// size. Frame by frame, the content header tells the size first.
std::optional<Delivery> AmqpConnection::next(std::chrono::milliseconds wait, std::size_t max_body) {
  amqp_maybe_release_buffers(state_.get());
  amqp_frame_t frame{};
  if (!wait_frame(frame, wait)) return std::nullopt;
  if (frame.frame_type == AMQP_FRAME_METHOD &&
      frame.payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
    return read_content(max_body);  // no-ack consumer: nothing to acknowledge
  }
  handle_other_frame(frame);
  return std::nullopt;
}

// False on a timeout; heartbeats are answered inside rabbitmq-c and never come out here.
bool AmqpConnection::wait_frame(amqp_frame_t& frame, std::chrono::milliseconds wait) {
  timeval tv = to_timeval(wait);
  const int rc = amqp_simple_wait_frame_noblock(state_.get(), &frame, &tv);
  if (rc == AMQP_STATUS_OK) return true;
  if (rc == AMQP_STATUS_TIMEOUT) return false;
  fail(std::string("read frame: ") + amqp_error_string2(rc));
}

// The next frame of a message under way. Anything else, or nothing within the I/O timeout,
// leaves the stream at an unknown place: only a new connection recovers from that.
void AmqpConnection::content_frame(amqp_frame_t& frame, unsigned char type) {
  if (!wait_frame(frame, timeout_)) fail("a message stopped half-way");
  if (frame.frame_type != type || frame.channel != kChannel) {
    fail("unexpected frame type " + std::to_string(frame.frame_type) + " inside a message");
  }
}

Delivery AmqpConnection::read_content(std::size_t max_body) {
  amqp_frame_t frame{};
  content_frame(frame, AMQP_FRAME_HEADER);
  Delivery d;
  d.size = static_cast<std::size_t>(frame.payload.properties.body_size);
  d.oversized = d.size > max_body;
  if (!d.oversized) d.body.reserve(d.size);
  std::size_t received = 0;
  while (received < d.size) {
    content_frame(frame, AMQP_FRAME_BODY);
    const amqp_bytes_t fragment = frame.payload.body_fragment;
    received += fragment.len;
    if (received > d.size) fail("a message body longer than its header said");
    if (!d.oversized) d.body.append(static_cast<const char*>(fragment.bytes), fragment.len);
    // Each frame sits in the connection's pool until released: releasing after every one
    // keeps a skipped 64 MiB body to one frame (frame_max) in memory at any time.
    amqp_maybe_release_buffers(state_.get());
  }
  return d;
}

// A frame other than a delivery: the broker closing the channel or the connection (e.g. on
// shutdown), or cancelling our consumer. Anything else is not ours to handle.
void AmqpConnection::handle_other_frame(const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return;
  switch (frame.payload.method.id) {
    case AMQP_CONNECTION_CLOSE_METHOD: {
      const auto* m = static_cast<const amqp_connection_close_t*>(frame.payload.method.decoded);
      const std::string why = std::to_string(m->reply_code) + " " + text_of(m->reply_text);
      amqp_connection_close_ok_t ok{};
      amqp_send_method(state_.get(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
      fail("connection closed by broker: " + why);
    }
    case AMQP_CHANNEL_CLOSE_METHOD:
      fail("channel closed by broker");
    case AMQP_BASIC_CANCEL_METHOD:
      fail("consumer cancelled by broker");
    default:
      return;
  }
}

}  // namespace imagecpp::events
