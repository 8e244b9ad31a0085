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
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <mutex>
#include <optional>
#include <unordered_set>

namespace imagecpp::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using RequestParser = bhttp::request_parser<bhttp::string_body>;

namespace {

// One accepted connection. Lives as long as its coroutine; the server keeps a reference to
// close it when idle at shutdown. Touched only on its context's thread.
struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool idle = true;
  bool closing = false;
};

}  // namespace

struct Server::State : std::enable_shared_from_this<Server::State> {
  explicit State(std::vector<asio::io_context*> contexts) : contexts(std::move(contexts)) {}
  const std::vector<asio::io_context*> contexts;
  std::size_t next_context = 0;  // the acceptor's: touched only on its thread
  ServerSettings settings;
  Handler handler;
  EarlyResponder early;
  AccessObserver observer;
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
  asio::awaitable<beast::error_code> write(Connection& c, Response& response);
  asio::awaitable<void> send(Connection& c, Response response, std::string_view method,
                             std::string_view target, const Exchange& exchange,
                             std::chrono::steady_clock::time_point start);
  asio::awaitable<void> send_early(Connection& c, unsigned status, unsigned version,
                                   std::chrono::steady_clock::time_point start);
  void forget(const std::shared_ptr<Connection>& connection);
};

Server::Server(ServerSettings settings, Handler handler, EarlyResponder early,
               AccessObserver observer) {
  std::vector<asio::io_context*> contexts;
  for (unsigned i = 0; i < std::max(settings.threads, 1u); ++i) {
    // Concurrency hint 1: one thread runs it, so asio never wakes a second one for an event.
    // Other threads may still post to it (image workers, the store's completions).
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    contexts.push_back(contexts_.back().get());
  }
  state_ = std::make_shared<State>(std::move(contexts));
  state_->settings = std::move(settings);
  state_->handler = std::move(handler);
  state_->early = std::move(early);
  state_->observer = std::move(observer);
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

// Reads and answers one request. False when the connection must close.
asio::awaitable<bool> Server::State::serve_one(Connection& c, beast::flat_buffer& buffer,
                                               bool first) {
  if (!co_await wait_for_request(c, buffer, first)) co_return false;
  const auto start = std::chrono::steady_clock::now();

  RequestParser parser;
  parser.header_limit(settings.max_header_bytes);
  parser.body_limit(settings.max_body_bytes);
  beast::error_code ec = co_await read_header(c, buffer, parser);
  if (ec == bhttp::error::header_limit) {
    co_await send_early(c, 431, 11, start);
    co_return false;
  }
  if (ec == bhttp::error::body_limit) {  // a declared Content-Length over the limit
    co_await send_early(c, 413, 11, start);
    co_return false;
  }
  if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream) co_return false;
  if (ec) {
    co_await send_early(c, 400, 11, start);
    co_return false;
  }
  const unsigned version = parser.get().version();
  if (parser.content_length() && *parser.content_length() > settings.max_body_bytes) {
    co_await send_early(c, 413, version, start);
    co_return false;
  }
  if (!parser.is_done()) {  // a body follows
    if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, version};
      co_await bhttp::async_write(c.stream, go_on, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return false;
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
  }
  c.stream.expires_never();

  Request request = parser.release();
  Exchange exchange;
  Response response = co_await handler(request, exchange);
  const bool keep_alive = request.keep_alive() && !c.closing && !stopping;
  response.keep_alive(keep_alive);
  co_await send(c, std::move(response), request.method_string(), request.target(), exchange, start);
  co_return keep_alive;
}

// Writes what the socket takes at once (a whole small answer, usually), then the rest, if any,
// asynchronously under the body timeout.
asio::awaitable<beast::error_code> Server::State::write(Connection& c, Response& response) {
  bhttp::response_serializer<SharedBody> serializer(response);
  beast::error_code ec;
  while (!ec && !serializer.is_done()) bhttp::write_some(c.stream.socket(), serializer, ec);
  if (ec != asio::error::would_block) co_return ec;
  ec = {};
  c.stream.expires_after(settings.body_timeout);
  co_await bhttp::async_write(c.stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
  c.stream.expires_never();
  co_return ec;
}

asio::awaitable<void> Server::State::send(Connection& c, Response response, std::string_view method,
                                          std::string_view target, const Exchange& exchange,
                                          std::chrono::steady_clock::time_point start) {
  const unsigned status = response.result_int();
  const std::uint64_t bytes = SharedBody::size(response.body());
  const beast::error_code ec = co_await write(c, response);
  if (observer) {
    observer(AccessRecord{method, target, exchange, status, bytes,
                          std::chrono::steady_clock::now() - start});
  }
  if (ec) throw beast::system_error(ec);
}

asio::awaitable<void> Server::State::send_early(Connection& c, unsigned status, unsigned version,
                                                std::chrono::steady_clock::time_point start) {
  Response response = early(status, version);
  response.keep_alive(false);
  const Exchange exchange{.route = "unparsed", .correlation_id = {}, .user = {}};
  co_await send(c, std::move(response), "-", "-", exchange, start);
}

}  // namespace imagecpp::http
