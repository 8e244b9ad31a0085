#include "http/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "core/ascii.hpp"
#include "http/framing.hpp"
#include "http/inflight_budget.hpp"
#include "http/wire.hpp"

namespace imagecpp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using RequestParser = bhttp::request_parser<bhttp::string_body, FieldsAllocator>;

namespace {

// Answers up to this size are written whole by the first synchronous write nearly always (the
// socket's send buffer takes them): they are not counted against the in-flight budget.
constexpr std::uint64_t kCountedAnswerBytes = std::uint64_t{64} * 1024;

// One accepted connection. Lives as long as its coroutine; the server keeps a reference to
// close it when idle at shutdown. Touched only on its context's thread.
struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  std::string head;   // the answer's header block, written again in place for each answer
  Exchange exchange;  // the current request's, reset for each
  bool idle = true;
  bool closing = false;
};

}  // namespace

struct Server::State : std::enable_shared_from_this<Server::State> {
  State(std::vector<asio::io_context*> contexts, ServerSettings settings, ServerHooks hooks)
      : contexts(std::move(contexts)),
        settings(std::move(settings)),
        hooks(std::move(hooks)),
        budget(this->settings.inflight_budget_bytes) {}
  const std::vector<asio::io_context*> contexts;
  std::size_t next_context = 0;  // the acceptor's: touched only on its thread
  const ServerSettings settings;
  const ServerHooks hooks;
  InflightBudget budget;
  std::optional<tcp::acceptor> acceptor;
  std::atomic<bool> stopping{false};
  mutable std::mutex mutex;
  std::unordered_set<std::shared_ptr<Connection>> connections;

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(std::shared_ptr<Connection> connection);
  asio::awaitable<bool> serve_one(Connection& c, beast::flat_buffer& buffer, bool first);
  asio::awaitable<bool> wait_for_request(Connection& c, beast::flat_buffer& buffer, bool first);
  asio::awaitable<beast::error_code> read_header(Connection& c, beast::flat_buffer& buffer,
                                                 RequestParser& parser);
  asio::awaitable<bool> take_body(Connection& c, beast::flat_buffer& buffer, RequestParser& parser,
                                  std::optional<InflightBudget::Hold>& hold,
                                  std::chrono::steady_clock::time_point start);
  asio::awaitable<bool> read_body(Connection& c, beast::flat_buffer& buffer, RequestParser& parser,
                                  std::chrono::steady_clock::time_point start);
  asio::awaitable<beast::error_code> write(Connection& c, Response& response);
  asio::awaitable<beast::error_code> write_at_min_rate(Connection& c, Outgoing& out);
  Response unavailable(unsigned version) const;
  asio::awaitable<void> send(Connection& c, Response& response, std::string_view method,
                             std::string_view target, const Exchange& exchange,
                             std::chrono::steady_clock::time_point start);
  asio::awaitable<void> send_early(Connection& c, unsigned status, unsigned version,
                                   std::chrono::steady_clock::time_point start);
  void forget(const std::shared_ptr<Connection>& connection);
};

Server::Server(ServerSettings settings, ServerHooks hooks) {
  std::vector<asio::io_context*> contexts;
  for (unsigned i = 0; i < std::max(settings.threads, 1u); ++i) {
    // Concurrency hint 1: one thread runs it, so asio never wakes a second one for an event.
    // Other threads may still post to it (image workers, the store's completions).
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    contexts.push_back(contexts_.back().get());
  }
  state_ = std::make_shared<State>(std::move(contexts), std::move(settings), std::move(hooks));
}

Server::~Server() {
  stop_contexts();
  join();
  // Coroutine frames die with their context and may hold the state past this point. The state's
  // I/O objects must not outlive their own context, so they go now, while every context lives;
  // a connection is then owned by its frame alone and dies with its own context.
  state_->acceptor.reset();
  const std::lock_guard lock(state_->mutex);
  state_->connections.clear();
}

void Server::stop_contexts() {
  idle_guards_.clear();
  for (auto& context : contexts_) context->stop();
}

void Server::start() {
  const auto& s = state_->settings;
  const tcp::endpoint endpoint(asio::ip::make_address(s.address), s.port);
  auto& acceptor = state_->acceptor.emplace(context());
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  bound_port_ = acceptor.local_endpoint().port();
  asio::co_spawn(acceptor.get_executor(), state_->accept_loop(), asio::detached);
  for (auto& c : contexts_) {
    idle_guards_.emplace_back(c->get_executor());
    threads_.emplace_back([&context = *c] { context.run(); });
  }
}

void Server::shutdown(std::chrono::seconds grace, std::function<bool()> busy) {
  if (state_->stopping.exchange(true)) return;
  auto state = state_;
  asio::post(state->acceptor->get_executor(), [state] { state->acceptor->close(); });
  std::vector<std::shared_ptr<Connection>> open;
  {
    const std::lock_guard lock(state->mutex);
    open.assign(state->connections.begin(), state->connections.end());
  }
  // Idle keep-alive connections are closed now; busy ones close after their response.
  for (auto& c : open) {
    asio::post(c->stream.get_executor(), [c] {
      c->closing = true;
      if (c->idle) c->stream.socket().close();
    });
  }
  auto timer = std::make_shared<asio::steady_timer>(context());
  const auto deadline = std::chrono::steady_clock::now() + grace;
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [this, timer, deadline, poll, busy = std::move(busy)] {
    const bool drained = open_connections() == 0 && !(busy && busy());
    if (drained || std::chrono::steady_clock::now() >= deadline) {
      stop_contexts();
      *poll = nullptr;  // break the self-reference
      return;
    }
    timer->expires_after(std::chrono::milliseconds(20));
    timer->async_wait([poll](beast::error_code) {
      if (*poll) (*poll)();
    });
  };
  asio::post(context(), [poll] { (*poll)(); });
}

void Server::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::size_t Server::open_connections() const {
  const std::lock_guard lock(state_->mutex);
  return state_->connections.size();
}

std::uint64_t Server::inflight_bytes() const {
  return state_->budget.used();
}

asio::awaitable<void> Server::State::accept_loop() {
  const auto self = shared_from_this();  // coroutine frames may outlive the Server
  for (;;) {
    beast::error_code ec;
    asio::io_context& home = *contexts[next_context];
    next_context = (next_context + 1) % contexts.size();
    tcp::socket socket =
        co_await acceptor->async_accept(home, asio::redirect_error(asio::use_awaitable, ec));
    if (stopping) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      spdlog::warn("accept failed: {}", ec.message());
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    socket.set_option(tcp::no_delay(true), ec);
    socket.non_blocking(true, ec);  // synchronous writes give up rather than block: see write()
    auto connection = std::make_shared<Connection>(std::move(socket));
    {
      const std::lock_guard lock(mutex);
      if (connections.size() >= settings.max_connections) {
        // Over the limit: refuse at once rather than let a flood of sockets eat memory and fds.
        spdlog::warn("connection limit {} reached: refusing a connection",
                     settings.max_connections);
        connection->stream.socket().close(ec);
        continue;
      }
      connections.insert(connection);
    }
    auto executor = connection->stream.get_executor();
    asio::co_spawn(executor, serve(std::move(connection)), asio::detached);
  }
}

void Server::State::forget(const std::shared_ptr<Connection>& connection) {
  const std::lock_guard lock(mutex);
  connections.erase(connection);
}

asio::awaitable<void> Server::State::serve(std::shared_ptr<Connection> connection) {
  const auto self = shared_from_this();
  beast::flat_buffer buffer;
  try {
    for (bool first = true;; first = false) {
      if (!co_await serve_one(*connection, buffer, first)) break;
    }
  } catch (const std::exception& e) {
    spdlog::debug("connection ended: {}", e.what());
  }
  beast::error_code ec;
  connection->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  connection->stream.close();
  forget(connection);
}

// Waits for the first bytes of the next request: up to the header timeout on a new connection,
// the idle timeout on a kept-alive one. False when the peer left, timed out or we are closing.
asio::awaitable<bool> Server::State::wait_for_request(Connection& c, beast::flat_buffer& buffer,
                                                      bool first) {
  if (buffer.size() > 0) co_return true;
  if (c.closing) co_return false;
  c.idle = true;
  c.stream.expires_after(first ? settings.header_timeout : settings.idle_timeout);
  beast::error_code ec;
  const std::size_t n = co_await c.stream.async_read_some(
      buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
  buffer.commit(n);
  c.idle = false;
  co_return !ec && n > 0;
}

// Parses the header from what is buffered, and reads more only if it is not all there. A request
// that arrived whole (nearly all of them) costs no trip through the event loop.
asio::awaitable<beast::error_code> Server::State::read_header(Connection& c,
                                                              beast::flat_buffer& buffer,
                                                              RequestParser& parser) {
  beast::error_code ec;
  const std::size_t used = parser.put(buffer.data(), ec);
  buffer.consume(used);
  if (parser.is_header_done() || (ec && ec != bhttp::error::need_more)) co_return ec;
  ec = {};
  c.stream.expires_after(settings.header_timeout);
  co_await bhttp::async_read_header(c.stream, buffer, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

namespace {

// Why a request whose header was read cannot be served: nullopt when it can; else the status to
// answer before closing, or 0 to close without an answer (the peer left or timed out).
std::optional<unsigned> refusal(const beast::error_code& ec, const RequestParser& parser,
                                const ServerSettings& settings) {
  if (ec == bhttp::error::header_limit) return 431;
  if (ec == bhttp::error::body_limit) return 413;  // a declared Content-Length over the limit
  if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream) return 0;
  if (ec) return 400;
  if (const unsigned status = framing_error(parser.get()); status != 0) return status;
  if (parser.content_length() && *parser.content_length() > settings.max_body_bytes) return 413;
  return std::nullopt;
}

}  // namespace

// Reads and answers one request. False when the connection must close. Rare paths (refusals, a
// body) are in functions of their own: every object a coroutine keeps across a suspension takes
// room in its frame, and a frame over about 1 KiB is neither recycled by Asio nor served by
// malloc's per-thread cache (it takes the heap's lock, shared by the network threads).
asio::awaitable<bool> Server::State::serve_one(Connection& c, beast::flat_buffer& buffer,
                                               bool first) {
  if (!co_await wait_for_request(c, buffer, first)) co_return false;
  const auto start = std::chrono::steady_clock::now();

  RequestParser parser;
  parser.header_limit(settings.max_header_bytes);
  parser.body_limit(settings.max_body_bytes);
  const beast::error_code ec = co_await read_header(c, buffer, parser);
  if (const std::optional<unsigned> status = refusal(ec, parser, settings)) {
    if (*status != 0) co_await send_early(c, *status, ec ? 11 : parser.get().version(), start);
    co_return false;
  }
  c.exchange.reset();
  std::optional<InflightBudget::Hold> body_hold;
  if (!parser.is_done() && !co_await take_body(c, buffer, parser, body_hold, start)) {
    co_return false;
  }
  c.stream.expires_never();

  Request request = parser.release();
  Response response = co_await hooks.handle(request, c.exchange);
  body_hold.reset();
  bool keep_alive = request.keep_alive() && !c.closing && !stopping;
  // An answer the socket may not take at once is counted while it is sent (its buffer once).
  std::optional<InflightBudget::Hold> answer_hold;
  if (SharedBody::size(response.body()) > kCountedAnswerBytes) {
    answer_hold = budget.hold_answer(response.body());
    if (!answer_hold) {
      response = unavailable(request.version());
      keep_alive = false;
    }
  }
  response.keep_alive(keep_alive);
  co_await send(c, response, request.method_string(), request.target(), c.exchange, start);
  co_return keep_alive;
}

// A body follows the header. The application may answer from the header alone (no token,
// unknown route): the body is then never read, and the connection closes. False when the
// connection must close (an answer, if any, was sent); else the body is in and counted in
// `hold`.
asio::awaitable<bool> Server::State::take_body(Connection& c, beast::flat_buffer& buffer,
                                               RequestParser& parser,
                                               std::optional<InflightBudget::Hold>& hold,
                                               std::chrono::steady_clock::time_point start) {
  if (std::optional<Response> answer = co_await hooks.admit(parser.get(), c.exchange)) {
    answer->keep_alive(false);
    co_await send(c, *answer, parser.get().method_string(), parser.get().target(), c.exchange,
                  start);
    co_return false;
  }
  // Counted before any byte is read: a chunked body, of unknown size, as the largest allowed.
  hold = budget.reserve(parser.content_length().value_or(settings.max_body_bytes));
  if (!hold) {
    Response refused = unavailable(parser.get().version());
    co_await send(c, refused, "-", "-", c.exchange, start);
    co_return false;
  }
  co_return co_await read_body(c, buffer, parser, start);
}

// After the admission: `100 Continue` if asked, then the body under the body timeout. False
// when the connection must close (an answer, if any, was sent).
asio::awaitable<bool> Server::State::read_body(Connection& c, beast::flat_buffer& buffer,
                                               RequestParser& parser,
                                               std::chrono::steady_clock::time_point start) {
  const unsigned version = parser.get().version();
  beast::error_code ec;
  if (ascii::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
    bhttp::response<bhttp::empty_body, Fields> go_on{bhttp::status::continue_, version};
    co_await bhttp::async_write(c.stream, go_on, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
  }
  if (const auto length = parser.content_length(); length && settings.body_padding != 0) {
    // Within max_body_bytes (checked above); Beast's own reserve(length) then keeps this one.
    parser.get().body().reserve(static_cast<std::size_t>(*length) + settings.body_padding);
  }
  c.stream.expires_after(settings.body_timeout);
  co_await bhttp::async_read(c.stream, buffer, parser,
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec == bhttp::error::body_limit) {
    co_await send_early(c, 413, version, start);
    co_return false;
  }
  if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
      ec == bhttp::error::partial_message) {
    co_return false;
  }
  if (ec) {
    co_await send_early(c, 400, version, start);
    co_return false;
  }
  co_return true;
}

Response Server::State::unavailable(unsigned version) const {
  Response response = hooks.early(503, version);
  response.set(bhttp::field::retry_after, "1");
  response.keep_alive(false);
  return response;
}

// Writes what the socket takes at once (a whole small answer, usually), then the rest, if any,
// asynchronously, at no less than the minimum rate.
asio::awaitable<beast::error_code> Server::State::write(Connection& c, Response& response) {
  write_head(response, c.head);
  Outgoing out(c.head, response);
  beast::error_code ec;
  while (!ec && !out.done()) out.consume(c.stream.socket().write_some(out.pending(), ec));
  if (ec != asio::error::would_block) co_return ec;
  co_return co_await write_at_min_rate(c, out);
}

// A client that takes nothing for a whole window, or less than the minimum rate over one, is
// cut: what it makes the server hold is bounded in time by its own pace, not by a fixed timeout
// whatever the answer's size.
asio::awaitable<beast::error_code> Server::State::write_at_min_rate(Connection& c, Outgoing& out) {
  using Clock = std::chrono::steady_clock;
  beast::error_code ec;
  // A cut is an abort (RST): the kernel drops what the client did not take instead of holding
  // its send buffer (megabytes) while it trickles out. Undone once the answer is all handed over,
  // so that a normal close still delivers every byte.
  c.stream.socket().set_option(asio::socket_base::linger(true, 0), ec);
  ec = {};
  auto window_start = Clock::now();
  std::uint64_t window_bytes = 0;
  while (!ec && !out.done()) {
    c.stream.expires_after(settings.send_window);
    const std::size_t sent = co_await c.stream.async_write_some(
        out.pending(), asio::redirect_error(asio::use_awaitable, ec));
    out.consume(sent);
    window_bytes += sent;
    const auto elapsed = Clock::now() - window_start;
    if (ec || elapsed < settings.send_window) continue;
    const double seconds = std::chrono::duration<double>(elapsed).count();
    if (static_cast<double>(window_bytes) < static_cast<double>(settings.min_send_rate) * seconds) {
      ec = beast::error::timeout;
    }
    window_start = Clock::now();
    window_bytes = 0;
  }
  c.stream.expires_never();
  if (!ec) {
    beast::error_code ignored;
    c.stream.socket().set_option(asio::socket_base::linger(false, 0), ignored);
  }
  co_return ec;
}

asio::awaitable<void> Server::State::send(Connection& c, Response& response,
                                          std::string_view method, std::string_view target,
                                          const Exchange& exchange,
                                          std::chrono::steady_clock::time_point start) {
  const unsigned status = response.result_int();
  const std::uint64_t bytes = SharedBody::size(response.body());
  const beast::error_code ec = co_await write(c, response);
  if (hooks.observe) {
    hooks.observe(AccessRecord{method, target, exchange, status, bytes,
                               std::chrono::steady_clock::now() - start});
  }
  if (ec) throw beast::system_error(ec);
}

asio::awaitable<void> Server::State::send_early(Connection& c, unsigned status, unsigned version,
                                                std::chrono::steady_clock::time_point start) {
  Response response = hooks.early(status, version);
  response.keep_alive(false);
  const Exchange exchange{.route = "unparsed", .correlation_id = {}, .user = {}};
  co_await send(c, response, "-", "-", exchange, start);
}

}  // namespace imagecpp::http
